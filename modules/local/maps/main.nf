process P2G_MAPS {
    tag "$meta.id"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(result), path(rescaled), path(folds)

    output:
    tuple val(meta), path("figures"), emit: maps
    path "versions.yml"             , emit: versions

    script:
    def qc = folds.name != 'NO_FOLDS' ? "--folds ${folds}" : ''
    def genes = params.map_genes ? "--genes ${params.map_genes.tokenize(',').join(' ')}" : ''
    """
    p2g-maps \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --out figures \\
        --top ${params.map_top} \\
        ${genes} \\
        ${qc}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        matplotlib: \$(python -c 'import importlib.metadata as m; print(m.version("matplotlib"))')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p figures/genes
    touch figures/overview.png figures/maps.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
