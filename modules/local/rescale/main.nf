process P2G_RESCALE {
    tag "$meta.id"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(files, stageAs: 'sample/*')

    output:
    tuple val(meta), path("rescale"), emit: rescaled
    path "versions.yml"             , emit: versions

    script:
    def train = meta.train ? '--train' : ''
    """
    p2g-rescale \\
        --prefix sample/${meta.stem} \\
        --out rescale \\
        ${train}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p rescale
    touch rescale/image.npy rescale/sample.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
