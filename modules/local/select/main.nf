process P2G_SELECT {
    tag "all folds"
    label 'process_medium'

    input:
    path(trainsets, stageAs: 'data??/*')
    path(trained, stageAs: 'trained??/*')

    output:
    path("model")           , emit: model
    path("model/model.json"), emit: summary
    path("model/step.json") , emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('torch'), eval('python -c "import torch; print(torch.__version__)"'), emit: versions_torch, topic: versions

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
    """

    stub:
    """
    mkdir -p model
    touch model/model.json model/step.json
    """
}
