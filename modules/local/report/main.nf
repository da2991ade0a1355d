process P2G_REPORT {
    tag "$meta.id"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(result), path(maps), path(evaluations, stageAs: 'evaluation??/*'), path(steps, stageAs: 'step??/*')
    path(models, stageAs: 'model??/*')
    path(params_json)

    output:
    tuple val(meta), path("${meta.id}.html"), emit: report
    path "versions.yml"                     , emit: versions

    script:
    """
    p2g-report \\
        --result ${result} \\
        --maps ${maps} \\
        --evaluation ${evaluations} \\
        --model ${models} \\
        --steps ${steps} \\
        --params ${params_json} \\
        --out ${meta.id}.html

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
    END_VERSIONS
    """

    stub:
    """
    touch ${meta.id}.html
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
