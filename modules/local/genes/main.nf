process P2G_GENES {
    tag "genes"
    label 'process_low'

    input:
    path(counts, stageAs: 'counts??/*')
    path(gene_list)

    output:
    path "genes"          , emit: genes
    path "genes/step.json", emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    def list = gene_list.name != 'NO_GENE_LIST' ? "--gene-list ${gene_list}" : ''
    """
    p2g-genes \\
        --counts ${counts} \\
        --out genes \\
        ${list} \\
        ${args}
    """

    stub:
    """
    mkdir -p genes
    touch genes/gene-names.txt genes/step.json
    """
}
