process P2G_FEATURES {
    tag "$meta.id"
    label 'process_high'
    label 'process_gpu'
    container "${params.container_gpu}"

    input:
    tuple val(meta), path(rescaled), path(mask)
    path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("features"), emit: features
    path "versions.yml"              , emit: versions

    script:
    def device = params.use_gpu ? 'cuda' : 'cpu'
    def checkpoints = weights ? "--weights ${weights}" : ''
    def shifts = params.shift_average ? '--shift-average' : ''
    """
    p2g-features \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out features \\
        --encoder ${params.encoder} \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${checkpoints} \\
        ${shifts}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        torch: \$(python -c 'import torch; print(torch.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p features
    touch features/features.npy features/features.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
