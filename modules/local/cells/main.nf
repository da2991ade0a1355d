process P2G_CELLS {
    tag "$meta.id"
    label 'process_medium'

    input:
    // segmentation: the cells file, and for Xenium boundaries the experiment.xenium beside it (its pixel size)
    tuple val(meta), path(result), path(rescaled), path(segmentation, stageAs: 'segmentation/*', arity: '1..2'), val(cells_file), path(alignment, stageAs: 'alignment/*')

    output:
    tuple val(meta), path("cells")          , emit: cells
    tuple val(meta), path("cells/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('anndata'), eval('python -c "import anndata; print(anndata.__version__)"'), emit: versions_anndata, topic: versions

    script:
    def args = task.ext.args ?: ''
    def placed = alignment.name != 'NO_ALIGNMENT' ? "--alignment ${alignment}" : ''
    """
    p2g-cells \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --segmentation segmentation/${cells_file} \\
        --out cells \\
        ${placed} \\
        ${args}
    """

    stub:
    """
    mkdir -p cells
    touch cells/cells.h5ad cells/cells.json cells/step.json
    """
}
