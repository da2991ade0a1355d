process P2G_TRAIN {
    tag "folds ${folds}"
    label 'process_medium'
    label 'process_gpu'
    container "${params.container_gpu}"

    input:
    path(trainsets, stageAs: 'data??/*')
    val(folds)

    output:
    path "model"       , emit: model
    path "versions.yml", emit: versions

    script:
    def device = params.use_gpu ? 'cuda' : 'cpu'
    """
    p2g-train \\
        --data ${trainsets} \\
        --out model \\
        --folds ${folds} \\
        --epochs ${params.epochs} \\
        --seed ${params.seed} \\
        --device ${device} \\
        --threads ${task.cpus}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        pixel2gene: \$(python -c 'import pixel2gene; print(pixel2gene.__version__)')
        torch: \$(python -c 'import torch; print(torch.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p model
    touch model/model.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
