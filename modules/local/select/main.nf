process P2G_SELECT {
    tag "all folds"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    path(trainsets, stageAs: 'data??/*')
    path(trained, stageAs: 'trained??/*')

    output:
    path("model")           , emit: model
    path("model/model.json"), emit: summary
    path("model/step.json") , emit: stamp
    path "versions.yml"     , emit: versions

    script:
    // every training task's folds at once: the form chosen here does not depend on --folds_per_task
    def args = task.ext.args ?: ''
    """
    p2g-select \\
        --trainset ${trainsets} \\
        --trained ${trained} \\
        --out model \\
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
    mkdir -p model
    touch model/model.json model/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
