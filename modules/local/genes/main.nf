process P2G_GENES {
    tag "genes"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    path(counts, stageAs: 'counts??/*')
    path(gene_list)

    output:
    path "genes"          , emit: genes
    path "genes/step.json", emit: stamp
    path "versions.yml"   , emit: versions

    script:
    def args = task.ext.args ?: ''
    def list = gene_list.name != 'NO_GENE_LIST' ? "--gene-list ${gene_list}" : ''
    """
    p2g-genes \\
        --counts ${counts} \\
        --out genes \\
        ${list} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p genes
    touch genes/gene-names.txt genes/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
