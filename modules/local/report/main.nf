process P2G_REPORT {
    tag "$meta.id"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(summary, stageAs: 'result/*'), path(maps), path(evaluations, stageAs: 'evaluation??/*', arity: '0..*'), val(step_labels), path(stamps, stageAs: 'stamp??/*', arity: '1..*')
    path(curves, stageAs: 'model??/*', arity: '1..*')
    path(params_json)

    output:
    tuple val(meta), path("${meta.id}.html"), emit: report
    path "versions.yml"                     , emit: versions

    script:
    def args = task.ext.args ?: ''
    // steps/<label>/step.json: the report names each step after the folder that holds its stamp
    def link = [step_labels, stamps].transpose()
        .collect { label, stamp -> "mkdir -p 'steps/${label}' && ln -s '../../${stamp}' 'steps/${label}/step.json'" }
        .join('\n    ')
    """
    ${link}
    p2g-report \\
        --result result \\
        --maps ${maps} \\
        --evaluation ${evaluations} \\
        --model model*/ \\
        --steps steps/*/step.json \\
        --params ${params_json} \\
        --out ${meta.id}.html \\
        ${args}

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
