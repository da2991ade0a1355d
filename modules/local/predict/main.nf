process P2G_PREDICT {
    tag "$meta.id"
    label 'process_medium'
    label 'process_gpu'

    input:
    tuple val(meta), path(features), path(mask), path(model)
    val(device)

    output:
    tuple val(meta), path("pred")          , emit: pred
    tuple val(meta), path("pred/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('torch'), eval('python -c "import torch; print(torch.__version__)"'), emit: versions_torch, topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    p2g-predict \\
        --features ${features} \\
        --mask ${mask} \\
        --model ${model} \\
        --out pred \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p pred
    touch pred/pred-sum.npy pred/pred.json pred/step.json
    """
}
