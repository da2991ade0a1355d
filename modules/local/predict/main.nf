process P2G_PREDICT {
    tag "$meta.id"
    label 'process_medium'
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(features), path(mask), path(model)

    output:
    tuple val(meta), path("pred")          , emit: pred
    tuple val(meta), path("pred/step.json"), emit: stamp
    path "versions.yml"                     , emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    p2g-predict \\
        --features ${features} \\
        --mask ${mask} \\
        --model ${model} \\
        --out pred \\
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
    mkdir -p pred
    touch pred/pred-sum.npy pred/pred.json pred/step.json
    echo '"${task.process}": {pixel2gene: stub}' > versions.yml
    """
}
