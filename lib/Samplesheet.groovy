/*
 * Samplesheet rows -> one description (meta map) per sample.
 *
 * Plain Groovy without Nextflow classes, so that tests/nextflow/lib_call.groovy can
 * unit-test it with the Groovy jar alone; the pipeline passes in what needs Nextflow's
 * file systems (whether a path is a directory) as a closure.
 *
 * Paths in the sheet are read relative to the sheet's own location, as a URI: a sheet
 * at s3://bucket/runs/samplesheet.csv with prefix data/C2/ means s3://bucket/runs/data/C2/.
 */
class Samplesheet {

    static final List<String> ROLES = ['train', 'predict']
    static final List<String> FORMATS = ['seed', 'visium', 'visium-hd', 'xenium']
    static final List<String> COARSE_IMAGES = ['hires', 'lowres']
    // Names the pipeline publishes beside the samples' results in --outdir.
    static final List<String> RESERVED = ['figures', 'evaluation', 'qc', 'pipeline_info', 'domains', 'cells']
    static final String ID_PATTERN = /[A-Za-z0-9][A-Za-z0-9._-]*/

    // 's3://', 'gs://', 'az://', 'file:', 'https://' ...
    private static final String SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/

    static boolean isAbsolute(String path) {
        path.startsWith('/') || path.startsWith('~') || (path =~ SCHEME).find()
    }

    // 's3://bucket/a/b' -> ['s3://bucket', '/a/b']; '/a/b' -> ['', '/a/b']; 'a/b' -> ['', 'a/b'].
    private static List<String> splitRoot(String location) {
        def m = location =~ /^([A-Za-z][A-Za-z0-9+.-]*:(?:\/\/[^\/]*)?)(.*)$/
        m.find() ? [m.group(1), m.group(2)] : ['', location]
    }

    // The folder holding a file, ending in '/': 's3://b/runs/sheet.csv' -> 's3://b/runs/'.
    static String folderOf(String location) {
        def (root, path) = splitRoot(location)
        def cut = path.lastIndexOf('/')
        root + (cut >= 0 ? path.substring(0, cut + 1) : '')
    }

    /*
     * `path` as written in the sheet, resolved against the sheet's location (a local path or
     * a URI). Absolute paths and URIs are returned unchanged. '.' and '..' are folded; a
     * trailing '/' (a folder prefix) is kept.
     */
    static String resolve(String path, String sheet) {
        if (isAbsolute(path)) {
            return path
        }
        def (root, folder) = splitRoot(folderOf(sheet))
        def parts = []
        def absolute = folder.startsWith('/') || root
        (folder + path).split('/').each { part ->
            if (part == '' || part == '.') {
                return
            }
            if (part == '..') {
                if (parts && parts[-1] != '..') {
                    parts.remove(parts.size() - 1)
                } else if (absolute) {
                    throw new IllegalArgumentException("'${path}' climbs above the root of ${sheet}")
                } else {
                    parts << part
                }
                return
            }
            parts << part
        }
        def joined = parts.join('/')
        if (!joined) {
            return root + (absolute ? '/' : './')
        }
        def trailing = (path.endsWith('/') || path.endsWith('/.') || path == '.') ? '/' : ''
        root + (absolute ? '/' : '') + joined + trailing
    }

    // An existing directory named without its trailing '/' is a folder prefix too.
    static String asFolderPrefix(String prefix, boolean isDirectory) {
        (isDirectory && !prefix.endsWith('/')) ? prefix + '/' : prefix
    }

    // The part of the file names that the prefix fixes: '' for a folder, 'C2-' for data/C2-.
    static String stem(String prefix) {
        prefix.endsWith('/') ? '' : prefix.substring(prefix.lastIndexOf('/') + 1)
    }

    // A sheet cell: nf-schema gives [] for an empty cell, a CSV reader ''; both mean "not given".
    static String cell(Object value) {
        if (value == null || value == [] || value.toString().trim() == '') {
            return null
        }
        value.toString().trim()
    }

    static String idProblem(String id) {
        if (!id) {
            return 'a row has no sample name'
        }
        if (!(id ==~ ID_PATTERN)) {
            return "sample name '${id}' may hold only letters, digits, '.', '_' and '-' and must start with a letter or digit"
        }
        if (id in RESERVED) {
            return "sample name '${id}' is used by the pipeline's own results (${RESERVED.join(', ')}); rename the sample"
        }
        null
    }

    /*
     * rows: maps with the sheet's columns (sample, role, prefix, mask, truth, format, image,
     * alignment, bin_size, segmentation). sheet: the sheet's location. isDirectory: whether a resolved
     * path is an existing directory. Returns [samples: [meta, ...] sorted by id, errors: [...]];
     * samples is empty when there is any error.
     */
    static Map read(List<Map> rows, String sheet, Closure isDirectory) {
        def errors = []
        def byId = new TreeMap<String, List<Map>>()
        rows.eachWithIndex { Map row, int i ->
            def id = cell(row.sample)
            def problem = idProblem(id)
            if (problem) {
                errors << "row ${i + 2}: ${problem}"
                return
            }
            byId.computeIfAbsent(id) { [] } << row
        }
        def samples = []
        byId.each { String id, List<Map> group ->
            def sample = describe(id, group, sheet, isDirectory, errors)
            if (sample) {
                samples << sample
            }
        }
        if (!errors && !samples.any { s -> s.train }) {
            errors << 'no sample has role train: the models need at least one measured sample to learn from'
        }
        if (!errors && !samples.any { s -> s.predict }) {
            errors << 'no sample has role predict: list the samples to predict (a training sample too, to enhance it)'
        }
        [samples: errors ? [] : samples, errors: errors]
    }

    // One column's single value over a sample's rows (null when no row gives one).
    private static String single(String id, List<Map> group, String column, List errors, Closure normalise = { v -> v }) {
        def values = group.collect { row -> cell(row[column]) }.findAll { v -> v != null }.collect(normalise).unique()
        if (values.size() > 1) {
            errors << "sample '${id}' has different ${column} values ${values}; give one per sample"
        }
        values ? values[0] : null
    }

    private static Map describe(String id, List<Map> group, String sheet, Closure isDirectory, List errors) {
        def before = errors.size()
        def roles = group.collect { row -> cell(row.role) }
        roles.findAll { role -> !(role in ROLES) }.each { role ->
            errors << "sample '${id}' has role '${role}'; use ${ROLES.join(' or ')}"
        }
        roles.countBy { role -> role }.findAll { role, n -> n > 1 }.each { role, n ->
            errors << "sample '${id}' is listed ${n} times as ${role}; list it once per role"
        }
        def resolveIn = { String p ->
            try {
                return resolve(p, sheet)
            } catch (IllegalArgumentException e) {
                errors << "sample '${id}': ${e.message}"
                return p
            }
        }
        def folderIn = { String p -> asFolderPrefix(p, isDirectory(p) as boolean) }
        def format = single(id, group, 'format', errors) ?: 'seed'
        if (!(format in FORMATS)) {
            errors << "sample '${id}' has format '${format}'; use one of ${FORMATS.join(', ')}"
        }
        def prefix = single(id, group, 'prefix', errors) { p -> folderIn(resolveIn(p)) }
        if (!prefix) {
            errors << "sample '${id}' has no prefix"
        }
        def vendor = format != 'seed'
        if (vendor && prefix && !prefix.endsWith('/')) {
            errors << "sample '${id}': ${format} output '${prefix}' is not a folder; give the ${format == 'xenium' ? 'Xenium output' : 'Space Ranger outs/'} folder"
        }
        def image = single(id, group, 'image', errors) { v -> v in COARSE_IMAGES ? v : resolveIn(v) }
        def alignment = single(id, group, 'alignment', errors, resolveIn)
        def binSize = single(id, group, 'bin_size', errors)
        if (format in FORMATS) {
            checkVendorColumns(id, format, image, alignment, binSize, errors)
        }
        def truth = single(id, group, 'truth', errors) { p -> folderIn(resolveIn(p)) }
        if (truth && !('predict' in roles)) {
            errors << "sample '${id}' has a truth prefix but no predict row; truth scores a prediction"
        }
        def mask = single(id, group, 'mask', errors, resolveIn)
        def segmentation = single(id, group, 'segmentation', errors, resolveIn)
        if (segmentation && !('predict' in roles)) {
            errors << "sample '${id}' has a segmentation but no predict row; its cells are summed from the prediction"
        }
        if (isXeniumBoundaries(segmentation) && format != 'xenium') {
            errors << "sample '${id}': Xenium cell boundaries (${segmentation}) are placed on the H&E through the xenium sample's alignment; give the sample as format xenium, or its cells as a label image or GeoJSON"
        }
        if (errors.size() > before) {
            return null
        }
        [id: id, prefix: prefix, stem: vendor ? '' : stem(prefix), format: format,
         train: 'train' in roles, predict: 'predict' in roles, mask: mask, truth: truth,
         image: image, alignment: alignment, bin_size: binSize ? binSize.toInteger() : null,
         segmentation: segmentation]
    }

    // A segmentation given as Xenium's cell boundaries (p2g-cells' XENIUM_SUFFIXES), not a label image or GeoJSON.
    static boolean isXeniumBoundaries(String segmentation) {
        segmentation ? segmentation ==~ /.*\.(parquet|csv|csv\.gz)$/ : false
    }

    // Xenium's experiment.xenium beside its cell boundaries: p2g-cells reads the pixel size there.
    static String xeniumExperiment(String boundaries) {
        boundaries.substring(0, boundaries.lastIndexOf('/') + 1) + 'experiment.xenium'
    }

    /*
     * The paths a checked sheet names that do not exist, one line each: a prefix that no file
     * starts with, a missing 10x folder, mask, truth, image or alignment. exists(path) and
     * anyFile(prefix) answer from Nextflow's file systems (local, s3://, gs://, az://).
     */
    static List<String> missing(List<Map> samples, Closure exists, Closure anyFile) {
        def problems = []
        samples.each { Map s ->
            if (s.format == 'seed' && !anyFile(s.prefix)) {
                problems << "sample '${s.id}': no file starts with prefix ${s.prefix}"
            }
            if (s.format != 'seed' && !exists(s.prefix)) {
                problems << "sample '${s.id}': the ${s.format} output folder ${s.prefix} does not exist"
            }
            if (s.truth && !anyFile(s.truth)) {
                problems << "sample '${s.id}': no file starts with truth prefix ${s.truth}"
            }
            ['mask', 'alignment', 'segmentation'].findAll { k -> s[k] && !exists(s[k]) }.each { k ->
                problems << "sample '${s.id}': ${k} ${s[k]} does not exist"
            }
            if (isXeniumBoundaries(s.segmentation) && !exists(xeniumExperiment(s.segmentation))) {
                problems << "sample '${s.id}': Xenium cell boundaries need ${xeniumExperiment(s.segmentation)} beside them (its pixel size)"
            }
            if (s.image && !(s.image in COARSE_IMAGES) && !exists(s.image)) {
                problems << "sample '${s.id}': image ${s.image} does not exist"
            }
        }
        problems
    }

    private static void checkVendorColumns(String id, String format, String image, String alignment, String binSize, List errors) {
        if (format == 'seed') {
            ['image': image, 'alignment': alignment, 'bin_size': binSize].findAll { k, v -> v }.each { k, v ->
                errors << "sample '${id}' has ${k} '${v}' but format seed; ${k} is for imported 10x data (set format)"
            }
            return
        }
        if (!image) {
            errors << "sample '${id}' (${format}) needs an image: the full-resolution H&E" +
                (format == 'xenium' ? '' : ", or hires/lowres for the image in spatial/")
        }
        if (format == 'xenium' && image in COARSE_IMAGES) {
            errors << "sample '${id}' (xenium) needs the H&E image file, not '${image}'"
        }
        if (format == 'xenium' && !alignment) {
            errors << "sample '${id}' (xenium) needs an alignment: the he_imagealignment.csv of its H&E"
        }
        if (format != 'xenium' && alignment) {
            errors << "sample '${id}' (${format}) has an alignment; only xenium uses one"
        }
        if (binSize && format != 'visium-hd') {
            errors << "sample '${id}' (${format}) has a bin_size; only visium-hd uses one"
        }
        if (binSize && !(binSize ==~ /[1-9][0-9]*/)) {
            errors << "sample '${id}' has bin_size '${binSize}'; give the bin size in µm (e.g. 8)"
        }
    }
}
