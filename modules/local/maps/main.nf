process P2G_MAPS {
    tag "$meta.id"
    label 'process_low'

    input:
    tuple val(meta), path(result), path(rescaled), path(folds)

    output:
    tuple val(meta), path("figures")          , emit: maps
    tuple val(meta), path("figures/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('matplotlib'), eval('python -c "import matplotlib; print(matplotlib.__version__)"'), emit: versions_matplotlib, topic: versions

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
    """

    stub:
    """
    mkdir -p figures/genes
    touch figures/overview.png figures/maps.json figures/step.json
    """
}
