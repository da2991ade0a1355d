process P2G_EXPORT {
    tag "$meta.id"
    label 'process_medium'

    input:
    tuple val(meta), path(result), path(rescaled), path(counts), path(domains)

    output:
    tuple val(meta), path("*.h5ad"), emit: h5ad
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('anndata'), eval('python -c "import anndata; print(anndata.__version__)"'), emit: versions_anndata, topic: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def measured = counts.name != 'NO_FILE' ? "--counts ${counts}" : ''
    def tissue = domains.name != 'NO_DOMAINS' ? "--tissue-domains ${domains}" : ''
    """
    p2g-export \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --out ${prefix}.h5ad \\
        ${measured} \\
        ${tissue} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.h5ad
    """
}
