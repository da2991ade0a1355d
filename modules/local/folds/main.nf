process P2G_FOLDS {
    tag "${meta.copy ? "${meta.id} copy ${meta.copy}" : meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(rescaled), path(mask), path(features), path(counts)
    path(genes)

    output:
    tuple val(meta), path("folds")          , emit: trainset
    tuple val(meta), path("folds/step.json"), emit: stamp
    path "versions.yml"                      , emit: versions

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
        --n-folds ${params.n_folds} \\
        --fold-block-um ${params.fold_block_um} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p folds
    touch folds/trainset.json folds/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
