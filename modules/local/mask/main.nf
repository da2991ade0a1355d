process P2G_MASK {
    tag "$meta.id"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(rescaled), path(user_mask)

    output:
    tuple val(meta), path("mask")          , emit: mask
    tuple val(meta), path("mask/step.json"), emit: stamp
    path "versions.yml"                     , emit: versions

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

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p mask
    touch mask/mask.npy mask/mask.png mask/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
