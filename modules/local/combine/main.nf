process P2G_COMBINE {
    tag "$meta.id"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(preds, stageAs: 'pred??/*'), path(rescaled), path(mask)

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    path "versions.yml"                , emit: versions

    script:
    """
    p2g-combine \\
        --pred ${preds} \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out ${meta.id}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ${meta.id}/cnts-super
    touch ${meta.id}/gene-names.txt ${meta.id}/metadata.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
