process P2G_RESCALE {
    tag "$meta.id"
    label 'process_medium'

    input:
    // linked: targets of links among the files (an imported he-raw), staged so a container can follow them
    tuple val(meta), path(files, stageAs: 'sample/*'), path(linked, stageAs: 'linked/*')

    output:
    tuple val(meta), path("rescale")          , emit: rescaled
    tuple val(meta), path("rescale/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    def measured = meta.train ? '--measured' : ''
    """
    p2g-rescale \\
        --prefix sample/${meta.stem} \\
        --name ${meta.id} \\
        --out rescale \\
        --threads ${task.cpus} \\
        ${measured} \\
        ${args}
    """

    stub:
    """
    mkdir -p rescale
    touch rescale/image.npy rescale/sample.json rescale/step.json
    """
}
