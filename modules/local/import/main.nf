process P2G_IMPORT {
    tag "$meta.id $meta.format"
    label 'process_medium'

    input:
    // image: the H&E, with a MIRAX slide's (.mrxs) data folder beside it
    tuple val(meta), path(inputs, stageAs: 'staged??/*', arity: '1..*'), val(relpaths), path(image, stageAs: 'image/*', arity: '1..2'), path(alignment, stageAs: 'alignment/*')

    output:
    tuple val(meta), path("imported/*"), emit: files
    tuple val("${task.process}"), val('pixel2gene'), eval('python -c "import pixel2gene; print(pixel2gene.__version__)"'), emit: versions_pixel2gene, topic: versions

    script:
    def args = task.ext.args ?: ''
    // hires/lowres: the image inside spatial/; otherwise the full-resolution H&E that was staged
    def he = meta.image in ['hires', 'lowres'] ? meta.image : image[0]
    def source = meta.format == 'xenium' ? "--he-image ${image[0]} --alignment ${alignment}" : "--image ${he}"
    def bins = meta.format == 'visium-hd' ? "--bin-size ${meta.bin_size ?: 8}" : ''
    // Only the files p2g-import reads are staged (lib/TenxInputs.groovy), each in its own stagedNN/ folder so
    // that equal names cannot collide; outs/ is rebuilt from links to them at the places relpaths names.
    // Relative links hold wherever a container mounts the work folder.
    def links = (0..<relpaths.size()).collect { i ->
        def link = "outs/${relpaths[i]}"
        def up = '../' * link.count('/')
        "mkdir -p '${link.replaceFirst('/[^/]*$', '')}' && ln -s '${up}${inputs[i]}' '${link}'"
    }.join('\n    ')
    """
    ${links}

    p2g-import ${meta.format} \\
        outs \\
        ${bins} \\
        ${source} \\
        --out imported/ \\
        ${args}
    """

    stub:
    """
    mkdir -p imported
    touch imported/cnts.h5ad imported/locs-raw.parquet imported/he-raw.tif imported/radius-raw.txt imported/pixel-size-raw.txt
    """
}
