process P2G_REPORT {
    tag "$meta.id"
    label 'process_low'

    input:
    tuple val(meta), path(summary, stageAs: 'result/*'), path(maps), path(evaluations, stageAs: 'evaluation??/*', arity: '0..*'), val(step_labels), path(stamps, stageAs: 'stamp??/*', arity: '1..*'), path(domains, stageAs: 'domains/*', arity: '1..*')
    path(curves, stageAs: 'model??/*', arity: '1..*')
    path(params_json)

    output:
    tuple val(meta), path("*.html"), emit: report
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    // the domains' small files, or assets/NO_DOMAINS when the run made none
    def tissue = domains*.name.contains('domains.json') ? '--tissue-domains domains' : ''
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
        --out ${prefix}.html \\
        ${tissue} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.html
    """
}
