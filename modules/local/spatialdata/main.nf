process P2G_SPATIALDATA {
    tag "$meta.id"
    label 'process_medium'

    input:
    // he_raw: the sample's he-raw, first (and a .mrxs slide's data folder); linked: the targets of an imported he-raw's
    // links, staged so a container can follow them; domains and cells: NO_DOMAINS / NO_CELLS when there are none
    tuple val(meta), path(result), path(rescaled), path(domains), path(cells), path(he_raw, stageAs: 'he-raw/*', arity: '1..2'), path(linked, stageAs: 'linked/*')

    output:
    tuple val(meta), path("*.zarr"), emit: zarr
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions
    tuple val("${task.process}"), val('spatialdata'), eval('python -c "import spatialdata; print(spatialdata.__version__)"'), emit: versions_spatialdata, topic: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def tissue = domains.name != 'NO_DOMAINS' ? "--tissue-domains ${domains}" : ''
    def segmented = cells.name != 'NO_CELLS' ? "--cells ${cells}" : ''
    """
    p2g-spatialdata \\
        --result ${result} \\
        --rescaled ${rescaled} \\
        --he-raw ${he_raw[0]} \\
        --out ${prefix}.zarr \\
        ${tissue} \\
        ${segmented} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}.zarr
    touch ${prefix}.zarr/zarr.json
    """
}
