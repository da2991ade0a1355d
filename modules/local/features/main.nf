process P2G_FEATURES {
    tag "${meta.copy ? "${meta.id} copy ${meta.copy}" : meta.id}"
    label 'process_high'
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(rescaled), path(mask)
    path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("features")          , emit: features
    tuple val(meta), path("features/step.json"), emit: stamp
    path "versions.yml"                         , emit: versions

    script:
    def args = task.ext.args ?: ''
    def checkpoints = weights ? "--weights ${weights}" : ''
    def copy = meta.copy ? "--augment-copy ${meta.copy}" : ''
    """
    p2g-features \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out features \\
        --device ${params.device} \\
        --threads ${task.cpus} \\
        ${checkpoints} \\
        ${copy} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        torch: \$(python -c 'import torch; print(torch.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p features
    touch features/features.npy features/features.json features/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
