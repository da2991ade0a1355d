process P2G_FEATURES {
    tag "${meta.copy ? "${meta.id} copy ${meta.copy}" : meta.id}"
    label 'process_high'
    label 'process_gpu'

    input:
    tuple val(meta), path(rescaled), path(mask)
    path(weights, stageAs: 'weights/*')
    val(device)

    output:
    tuple val(meta), path("features")          , emit: features
    tuple val(meta), path("features/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('torch'), eval('python -c "import torch; print(torch.__version__)"'), emit: versions_torch, topic: versions

    script:
    def args = task.ext.args ?: ''
    def checkpoints = weights ? "--weights ${weights}" : ''
    def copy = meta.copy ? "--augment-copy ${meta.copy}" : ''
    """
    p2g-features \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out features \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${checkpoints} \\
        ${copy} \\
        ${args}
    """

    stub:
    """
    mkdir -p features
    touch features/features.npy features/features.json features/step.json
    """
}
