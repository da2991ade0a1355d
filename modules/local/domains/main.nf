process P2G_DOMAINS {
    tag "$meta.id"
    label 'process_medium'

    input:
    tuple val(meta), path(result), path(rescaled)

    output:
    tuple val(meta), path("domains")                                                                 , emit: domains
    tuple val(meta), path("domains/domains.json"), path("domains/top-genes.tsv"), path("domains/domains.png"), path("domains/step.json"), emit: summary
    tuple val(meta), path("domains/step.json")                                                       , emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('matplotlib'), eval('python -c "import matplotlib; print(matplotlib.__version__)"'), emit: versions_matplotlib, topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    p2g-domains \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --out domains \\
        ${args}
    """

    stub:
    """
    mkdir -p domains
    touch domains/domains.npy domains/domains.json domains/top-genes.tsv domains/domains.png domains/step.json
    """
}
