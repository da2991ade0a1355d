process P2G_TRAIN {
    tag "folds ${folds}"
    label 'process_medium'
    label 'process_gpu'

    input:
    path(trainsets, stageAs: 'data??/*')
    val(folds)
    val(device)

    output:
    tuple val(folds), path("trained")          , emit: trained
    tuple val(folds), path("trained/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('torch'), eval('python -c "import torch; print(torch.__version__)"'), emit: versions_torch, topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    p2g-train \\
        --trainset ${trainsets} \\
        --out trained \\
        --folds ${folds} \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p trained
    touch trained/trained.json trained/step.json
    """
}
