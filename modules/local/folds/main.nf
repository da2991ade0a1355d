process P2G_FOLDS {
    tag "${meta.copy ? "${meta.id} copy ${meta.copy}" : meta.id}"
    label 'process_medium'

    input:
    tuple val(meta), path(rescaled), path(mask), path(features), path(counts)
    path(genes)
    val(n_folds)
    val(fold_block_um)

    output:
    tuple val(meta), path("folds")          , emit: trainset
    tuple val(meta), path("folds/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    p2g-folds \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --features ${features} \\
        --genes ${genes} \\
        --counts ${counts} \\
        --out folds \\
        --n-folds ${n_folds} \\
        --fold-block-um ${fold_block_um} \\
        ${args}
    """

    stub:
    """
    mkdir -p folds
    touch folds/trainset.json folds/step.json
    """
}
