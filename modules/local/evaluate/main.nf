process P2G_EVALUATE {
    tag "$meta.id $meta.truth_kind"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(rescaled), path(mask), path(result), path(truth_counts), path(truth_locs), path(folds), path(models, stageAs: 'model??/*')

    output:
    tuple val(meta), path("${meta.id}.${meta.truth_kind}")          , emit: evaluation
    tuple val(meta), path("${meta.id}.${meta.truth_kind}/step.json"), emit: stamp
    path "versions.yml"                                              , emit: versions

    script:
    def args = task.ext.args ?: ''
    def truth = meta.truth_kind == 'truth'
        ? "--result ${result} --truth-counts ${truth_counts} --truth-locs ${truth_locs} --truth-diameter-um ${meta.truth_diameter_um ?: 0}"
        : "--trainset ${folds} --model ${models}"
    """
    p2g-evaluate \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out ${meta.id}.${meta.truth_kind} \\
        ${truth} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ${meta.id}.${meta.truth_kind}
    touch ${meta.id}.${meta.truth_kind}/metrics.tsv ${meta.id}.${meta.truth_kind}/summary.json ${meta.id}.${meta.truth_kind}/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
