process P2G_COMBINE {
    tag "$meta.id"
    label 'process_medium'

    input:
    tuple val(meta), path(preds, stageAs: 'pred??/*'), path(rescaled), path(mask)

    output:
    tuple val(meta), path("result")                                          , emit: results
    tuple val(meta), path("result/metadata.json"), path("result/mask.npy"), path("result/skill.tsv"), emit: summary
    tuple val(meta), path("result/step.json")                                , emit: stamp
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    // a fixed name: an output named after the sample could collide with an input (a sample called "mask")
    def args = task.ext.args ?: ''
    """
    p2g-combine \\
        --pred ${preds} \\
        --rescaled ${rescaled} \\
        --mask ${mask} \\
        --out result \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p result/cnts-super
    touch result/gene-names.txt result/metadata.json result/mask.npy result/skill.tsv result/step.json
    """
}
