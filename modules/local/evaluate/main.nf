process P2G_EVALUATE {
    tag "$meta.id $meta.truth_kind"
    label 'process_low'

    input:
    tuple val(meta), path(rescaled), path(mask), path(result), path(truth_counts), path(truth_locs), path(folds), path(models, stageAs: 'model??/*')

    output:
    tuple val(meta), path("*.${meta.truth_kind}")          , emit: evaluation
    tuple val(meta), path("*.${meta.truth_kind}/step.json"), emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def truth = meta.truth_kind == 'truth'
        ? "--result ${result} --truth-counts ${truth_counts} --truth-locs ${truth_locs} --truth-diameter-um ${meta.truth_diameter_um ?: 0}"
        : "--trainset ${folds} --model ${models}"
    """
    p2g-evaluate \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out ${prefix}.${meta.truth_kind} \\
        ${truth} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}.${meta.truth_kind}
    touch ${prefix}.${meta.truth_kind}/metrics.tsv ${prefix}.${meta.truth_kind}/summary.json ${prefix}.${meta.truth_kind}/step.json
    """
}
