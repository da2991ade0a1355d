process P2G_PREDICT {
    tag "$meta.id"
    label 'process_medium'
    label 'process_gpu'
    container "${params.container_gpu}"

    input:
    tuple val(meta), path(features), path(mask), path(model, stageAs: 'model??/*')

    output:
    tuple val(meta), path("pred"), emit: pred
    path "versions.yml"          , emit: versions

    script:
    def device = params.use_gpu ? 'cuda' : 'cpu'
    """
    p2g-predict \\
        --features ${features} \\
        --mask ${mask} \\
        --model ${model} \\
        --out pred \\
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
    mkdir -p pred
    touch pred/pred-sum.npy pred/pred.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
