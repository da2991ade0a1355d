process P2G_MASK {
    tag "$meta.id"
    label 'process_low'

    input:
    tuple val(meta), path(rescaled), path(user_mask)

    output:
    tuple val(meta), path("mask")          , emit: mask
    tuple val(meta), path("mask/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    def mask = user_mask.name != 'NO_MASK' ? "--mask-file ${user_mask}" : ''
    """
    p2g-mask \\
        --rescaled ${rescaled} \\
        --out mask \\
        --threads ${task.cpus} \\
        ${mask} \\
        ${args}
    """

    stub:
    """
    mkdir -p mask
    touch mask/mask.npy mask/mask.png mask/step.json
    """
}
