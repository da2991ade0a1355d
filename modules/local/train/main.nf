process P2G_TRAIN {
    tag "folds ${folds}"
    label 'process_medium'
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    path(trainsets, stageAs: 'data??/*')
    val(folds)

    output:
    tuple val(folds), path("trained")          , emit: trained
    tuple val(folds), path("trained/step.json"), emit: stamp
    path "versions.yml"                         , emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    p2g-train \\
        --trainset ${trainsets} \\
        --out trained \\
        --folds ${folds} \\
        --device ${params.device} \\
        --threads ${task.cpus} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        torch: \$(python -c 'import torch; print(torch.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p trained
    touch trained/trained.json trained/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
