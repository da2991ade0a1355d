/*
 * The files of a 10x output that p2g-import reads (issue #27 A6). P2G_IMPORT stages only these:
 * a whole Space Ranger outs/ or Xenium bundle holds BAMs, transcripts and morphology stacks,
 * tens of GB that AWS Batch and Google Batch would copy for every import.
 *
 * The same choices as the importers' own file finders (pixel2gene/importers/: locate_spots,
 * hd_image_folder, xenium_files); tests/test_import_inputs.py holds this list equal to
 * `p2g-import ... --list-inputs` on real and synthetic outputs. Plain Groovy: exists(path)
 * answers from Nextflow's file systems (local, s3://, gs://, az://), so tests need no Nextflow.
 */
class TenxInputs {

    static final List<String> FORMATS = ['visium', 'visium-hd', 'xenium']
    static final List<String> COARSE = ['hires', 'lowres']
    static final List<String> POSITIONS = ['tissue_positions.parquet', 'tissue_positions.csv', 'tissue_positions_list.csv']
    static final List<String> MATRICES = ['filtered_feature_bc_matrix.h5', 'filtered_feature_bc_matrix',
                                          'raw_feature_bc_matrix.h5', 'raw_feature_bc_matrix']
    static final List<String> MTX = ['matrix.mtx.gz', 'matrix.mtx']
    static final List<String> CELL_TABLES = ['cells.parquet', 'cells.csv.gz', 'cells.csv']
    static final List<String> CELL_MATRICES = ['cell_feature_matrix.h5', 'cell_feature_matrix']

    /*
     * The paths, relative to the folder `outs` and sorted, that `p2g-import <format>` reads with this
     * bin size (visium-hd) and image (hires, lowres or a full-resolution H&E elsewhere).
     */
    static List<String> paths(String format, String outs, Object binSize, String image, Closure exists) {
        def found = find(format, outs, binSize, image, exists)
        if (found.missing) {
            throw new IllegalArgumentException("the ${format} output ${outs} has ${found.missing}")
        }
        found.paths
    }

    // One line per 10x sample whose output lacks a file p2g-import needs: found at launch, not in a task.
    static List<String> missing(List<Map> samples, Closure exists) {
        samples.findAll { Map s -> s.format in FORMATS }.collect { Map s ->
            def found = find(s.format, s.prefix, s.bin_size, s.image, exists)
            found.missing ? "sample '${s.id}': the ${s.format} output ${s.prefix} has ${found.missing}".toString() : null
        }.findAll { line -> line }
    }

    private static Map find(String format, String outs, Object binSize, String image, Closure exists) {
        def root = outs.endsWith('/') ? outs : outs + '/'
        def has = { String rel -> present(rel) { String p -> exists(root + p) as boolean } }
        def want = format == 'xenium'
            ? [required: [['experiment.xenium'], CELL_TABLES, CELL_MATRICES], optional: []]
            : spaceRanger(format, binSize, image, has)
        pick(want, has)
    }

    // A matrix folder counts only when it holds matrix.mtx(.gz), as tenx_matrix.is_matrix asks.
    private static boolean present(String rel, Closure exists) {
        rel.endsWith('_matrix') ? MTX.any { m -> exists(rel + '/' + m) } : exists(rel)
    }

    /*
     * Visium and Visium HD: each required group is the names tried in turn, the first present one read.
     * The hires/lowres PNGs beside a full-resolution H&E are read only to name the mistake of giving
     * one of them as that H&E, so they are optional.
     */
    private static Map spaceRanger(String format, Object binSize, String image, Closure has) {
        def top = has('outs') ? 'outs/' : ''  // outs/ or the folder above it (spaceranger.outs_folder)
        def folder = format == 'visium-hd' ? top + 'binned_outputs/' + binFolder(binSize) + '/' : top
        def spatial = folder + 'spatial/'
        def images = format == 'visium-hd' ? hdImageFolder(top, spatial, image, has) : spatial
        def coarse = image in COARSE
        def required = [[spatial + 'scalefactors_json.json'], POSITIONS.collect { n -> spatial + n }]
        if (coarse) {
            required << [png(images, image)]
        }
        required << MATRICES.collect { n -> folder + n }
        [required: required, optional: coarse ? [] : COARSE.collect { c -> png(images, c) }]
    }

    // visium_hd.hd_image_folder: beside the bin size's positions when the chosen image is there, else outs/spatial/.
    private static String hdImageFolder(String top, String spatial, String image, Closure has) {
        if (image in COARSE && has(png(spatial, image))) {
            return spatial
        }
        has(top + 'spatial') ? top + 'spatial/' : spatial
    }

    private static String binFolder(Object binSize) {
        String.format('square_%03dum', (binSize ?: 8).toString().toInteger())
    }

    private static String png(String folder, String which) {
        folder + 'tissue_' + which + '_image.png'
    }

    // The first present name of each required group and every present optional path, sorted; else what is missing.
    private static Map pick(Map want, Closure has) {
        def paths = []
        for (List<String> group : want.required) {
            def first = group.find { rel -> has(rel) }
            if (!first) {
                return [paths: [], missing: group.size() == 1 ? 'no ' + group[0] : 'none of ' + group.join(', ')]
            }
            paths << first
        }
        [paths: (paths + want.optional.findAll { rel -> has(rel) }).sort(), missing: null]
    }
}
