process P2G_MAPS {
    tag "$meta.id"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(result), path(rescaled), path(folds)

    output:
    tuple val(meta), path("figures")          , emit: maps
    tuple val(meta), path("figures/step.json"), emit: stamp
    path "versions.yml"                        , emit: versions

    script:
    def args = task.ext.args ?: ''
    def qc = folds.name != 'NO_FOLDS' ? "--trainset ${folds}" : ''
    """
    p2g-maps \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --out figures \\
        ${qc} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        matplotlib: \$(python -c 'import importlib.metadata as m; print(m.version("matplotlib"))')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p figures/genes
    touch figures/overview.png figures/maps.json figures/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
