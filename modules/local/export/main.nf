process P2G_EXPORT {
    tag "$meta.id"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(result), path(rescaled), path(counts)

    output:
    tuple val(meta), path("${meta.id}.h5ad"), emit: h5ad
    path "versions.yml"                     , emit: versions

    script:
    def args = task.ext.args ?: ''
    def measured = counts.name != 'NO_FILE' ? "--counts ${counts}" : ''
    """
    p2g-export \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --out ${meta.id}.h5ad \\
        ${measured} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        anndata: \$(python -c 'import importlib.metadata as m; print(m.version("anndata"))')
    END_VERSIONS
    """

    stub:
    """
    touch ${meta.id}.h5ad
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
