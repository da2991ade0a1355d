/*
 * The Pixel2Gene workflow: 10x output imported where given, per-sample preparation, one
 * gene selection, a scatter of training tasks over folds gathered into one choice of the
 * model's form (P2G_SELECT), every prediction sample predicted with all folds and combined;
 * then per sample an .h5ad, PNG maps, accuracy where truth exists and an HTML report.
 *
 * Every list gathered from several tasks is sorted (by sample id, fold or step), so a
 * run builds the same inputs whatever order its tasks finish in, and -resume holds.
 */
include { P2G_IMPORT   } from '../modules/local/import/main'
include { P2G_RESCALE  } from '../modules/local/rescale/main'
include { P2G_MASK     } from '../modules/local/mask/main'
include { P2G_FEATURES } from '../modules/local/features/main'
include { P2G_GENES    } from '../modules/local/genes/main'
include { P2G_FOLDS    } from '../modules/local/folds/main'
include { P2G_TRAIN    } from '../modules/local/train/main'
include { P2G_SELECT   } from '../modules/local/select/main'
include { P2G_PREDICT  } from '../modules/local/predict/main'
include { P2G_COMBINE  } from '../modules/local/combine/main'
include { P2G_DOMAINS  } from '../modules/local/domains/main'
include { P2G_CELLS    } from '../modules/local/cells/main'
include { P2G_SPATIALDATA } from '../modules/local/spatialdata/main'
include { P2G_EXPORT   } from '../modules/local/export/main'
include { P2G_MAPS     } from '../modules/local/maps/main'
include { P2G_EVALUATE } from '../modules/local/evaluate/main'
include { P2G_REPORT   } from '../modules/local/report/main'

// Counts file names in the seed layout (cnts.h5ad: sparse, as p2g-import writes it).
def countsNames(String stem) {
    ['cnts.h5ad', 'cnts.parquet', 'cnts.tsv', 'cnts.tsv.gz'].collect { name -> "${stem}${name}".toString() }
}

def locsNames(String stem) {
    ['locs-raw.parquet', 'locs-raw.tsv', 'locs-raw.tsv.gz'].collect { name -> "${stem}${name}".toString() }
}

// The first file with one of these names (Strings, not GStrings: `in` compares with equals()).
def firstNamed(List found, List names) {
    names.findResult { name -> found.find { f -> f.name == name } }
}

// The files of a seed-layout sample: every file whose path starts with its prefix, and the data folder of a
// MIRAX slide (he-raw.mrxs reads he-raw/ beside it).
def sampleFiles(Map meta) {
    def found = files("${meta.prefix}*", type: 'file')
    if (!found) {
        error("Samplesheet: no files match prefix '${meta.prefix}' of sample '${meta.id}'")
    }
    (found + slideData(found)).sort { f -> f.name }
}

// The data folders of the MIRAX slides among `paths` that exist (Staging.slideFolders), as files to stage.
def slideData(List paths) {
    Staging.slideFolders(paths).collect { folder -> file(folder) }.findAll { folder -> folder.isDirectory() }
}

def countsFile(Map meta, List found) {
    def counts = firstNamed(found, countsNames(meta.stem))
    if (!counts) {
        error("Sample '${meta.id}' is for training but ${meta.prefix} has no ${meta.stem}cnts.h5ad, cnts.parquet or cnts.tsv")
    }
    counts
}

// A truth prefix holds cnts.* and locs-raw.* of bins measured on the section (radius-raw.txt optional).
def truthFiles(Map meta) {
    def found = files("${meta.truth}*", type: 'file')
    def stem = Samplesheet.stem(meta.truth)
    def counts = firstNamed(found, countsNames(stem))
    def locs = firstNamed(found, locsNames(stem))
    if (!counts || !locs) {
        error("Samplesheet: truth '${meta.truth}' of sample '${meta.id}' needs ${stem}cnts.tsv and ${stem}locs-raw.tsv")
    }
    def radius = firstNamed(found, ["${stem}radius-raw.txt".toString()])
    [counts, locs, radius ? radius.text.trim() : '0']
}

// Vendor output for p2g-import: the files of the outs folder it reads and their places there (issue #27 A6: not
// the whole folder, whose BAMs and transcripts run to tens of GB), and the H&E (a MIRAX slide with its data
// folder) and alignment files when named.
def importInputs(Map meta, noImage, noAlignment) {
    def outs = file(meta.prefix, checkIfExists: true)
    def relpaths = TenxInputs.paths(meta.format, meta.prefix, meta.bin_size, meta.image, { path -> file(path).exists() })
    def image = meta.image in Samplesheet.COARSE_IMAGES ? noImage : file(meta.image, checkIfExists: true)
    def alignment = meta.alignment ? file(meta.alignment, checkIfExists: true) : noAlignment
    [importMeta(meta), relpaths.collect { rel -> outs.resolve(rel) }, relpaths, [image] + slideData([image]), alignment]
}

// What a sample's tasks are keyed on (issue #27 B2): a task's hash covers its meta, so a predict row or a truth
// prefix added for a sample that already trained must not reach its rescale, mask, features, folds or
// training tasks. The rest of the sheet's description is looked up by id where the workflow routes on it.
def taskMeta(Map sample) {
    [id: sample.id, prefix: sample.prefix, stem: sample.stem, train: sample.train]
}

// p2g-import's own settings besides the task's meta.
def importMeta(Map sample) {
    taskMeta(sample) + [format: sample.format, image: sample.image, bin_size: sample.bin_size]
}

// p2g-cells' inputs: the segmentation (with experiment.xenium beside Xenium boundaries, for their pixel size)
// and, for Xenium boundaries, the sample's H&E alignment.
def cellsInputs(Map meta, result, rescaled, Map sample, noAlignment) {
    def segmentation = file(sample.segmentation, checkIfExists: true)
    def xenium = Samplesheet.isXeniumBoundaries(sample.segmentation)
    def files = xenium ? [segmentation, file(Samplesheet.xeniumExperiment(sample.segmentation), checkIfExists: true)] : [segmentation]
    def alignment = xenium ? file(sample.alignment, checkIfExists: true) : noAlignment
    [meta, result, rescaled, files, segmentation.name, alignment]
}

// The sample's he-raw for a task that reads it again (p2g-spatialdata): the image, a MIRAX slide's data folder
// (already among a seed sample's files) and the targets of an imported he-raw's links.
def heRawInputs(Map meta, List found) {
    def image = firstNamed(found, Staging.heRawNames(meta.stem))
    def folders = Staging.slideFolders([image])
    def staged = [image] + found.findAll { f -> f.toString() in folders }
    [meta.id, staged, Staging.linkTargets(staged)]
}

// A step of a training sample's colour-augmented copy is named after the copy: folds-aug1, ...
def copyName(String step, Map meta) {
    meta.copy ? "${step}-aug${meta.copy}".toString() : step
}

workflow PIXEL2GENE {
    take:
    samples  // channel: one meta map per sample (lib/Samplesheet.groovy), in sample id order

    main:
    no_mask = file("${projectDir}/assets/NO_MASK")
    no_gene_list = file("${projectDir}/assets/NO_GENE_LIST")
    no_file = file("${projectDir}/assets/NO_FILE")
    no_folds = file("${projectDir}/assets/NO_FOLDS")
    no_truth_counts = file("${projectDir}/assets/NO_TRUTH_COUNTS")
    no_truth_locs = file("${projectDir}/assets/NO_TRUTH_LOCS")
    no_image = file("${projectDir}/assets/NO_IMAGE")
    no_alignment = file("${projectDir}/assets/NO_ALIGNMENT")
    no_domains = file("${projectDir}/assets/NO_DOMAINS")
    no_cells = file("${projectDir}/assets/NO_CELLS")
    fold_groups = Folds.groups(params.n_folds, params.folds_per_task)

    // 10x output (visium, visium-hd, xenium) becomes a seed-layout folder first.
    P2G_IMPORT(
        samples.filter { meta -> meta.format != 'seed' }
            .map { meta -> importInputs(meta, no_image, no_alignment) }
    )
    ch_about = samples.map { sample -> [sample.id, sample] }  // the sheet's whole description, by id
    ch_samples = samples
        .filter { sample -> sample.format == 'seed' }
        .map { sample -> [taskMeta(sample), sampleFiles(sample)] }
        .mix(P2G_IMPORT.out.files.map { meta, found -> [taskMeta(meta), found.toSorted { f -> f.name }] })

    P2G_RESCALE(ch_samples.map { meta, found -> [meta, found, Staging.linkTargets(found)] })

    ch_mask_in = P2G_RESCALE.out.rescaled
        .map { meta, dir -> [meta.id, meta, dir] }
        .join(ch_about)
        .map { id, meta, dir, sample -> [meta, dir, sample.mask ? file(sample.mask, checkIfExists: true) : no_mask] }
    P2G_MASK(ch_mask_in)

    ch_prepared = P2G_RESCALE.out.rescaled.join(P2G_MASK.out.mask)
    encoder_weights = params.encoder_weights
        ? params.encoder_weights.tokenize(',').collect { name -> file(name.trim(), checkIfExists: true) }
        : []
    // Colour augmentation: params.augment seeded stain/scanner-shifted copies of every training
    // sample (meta.copy = 1..N) go through the same feature and fold steps as the sample itself.
    // The count as a number: from the command line it is a string, and '0' is true in Groovy.
    n_copies = params.augment ? Folds.count(params.augment) : 0
    copies = n_copies > 0 ? 1..n_copies : []
    ch_copies = ch_prepared
        .filter { meta, rescaled, mask -> meta.train }
        .flatMap { meta, rescaled, mask -> copies.collect { copy -> [meta + [copy: copy], rescaled, mask] } }
    P2G_FEATURES(ch_prepared.mix(ch_copies), encoder_weights, params.device)
    ch_features = P2G_FEATURES.out.features.filter { meta, features -> !meta.copy }

    ch_train_counts = ch_samples
        .filter { meta, found -> meta.train }
        .map { meta, found -> [meta, countsFile(meta, found)] }
    P2G_GENES(
        ch_train_counts
            .toSortedList { a, b -> a[0].id <=> b[0].id }
            .map { items -> items.collect { item -> item[1] } },
        params.gene_list ? file(params.gene_list, checkIfExists: true) : no_gene_list
    )

    ch_training = ch_prepared.join(ch_train_counts)
    ch_copies_folds_in = P2G_FEATURES.out.features
        .filter { meta, features -> meta.copy }
        .map { meta, features -> [meta.id, meta, features] }
        .combine(ch_training.map { meta, rescaled, mask, counts -> [meta.id, rescaled, mask, counts] }, by: 0)
        .map { id, meta, features, rescaled, mask, counts -> [meta, rescaled, mask, features, counts] }
    ch_folds_in = ch_training
        .join(ch_features)
        .map { meta, rescaled, mask, counts, features -> [meta, rescaled, mask, features, counts] }
        .mix(ch_copies_folds_in)
    P2G_FOLDS(ch_folds_in, P2G_GENES.out.genes, params.n_folds, params.fold_block_um)

    // Scatter: each training task fits a group of folds on every training set (samples and their copies).
    ch_trainsets = P2G_FOLDS.out.trainset
        .toSortedList { a, b -> a[0].id <=> b[0].id ?: (a[0].copy ?: 0) <=> (b[0].copy ?: 0) }
        .map { items -> items.collect { item -> item[1] } }
    P2G_TRAIN(ch_trainsets, channel.fromList(fold_groups), params.device)

    // Gather: the model's form is chosen once, from every task's folds, so the maps do not depend on the grouping.
    ch_trained = P2G_TRAIN.out.trained
        .toSortedList { a, b -> Folds.compare(a[0], b[0]) }
        .map { items -> items.collect { item -> item[1] } }
    P2G_SELECT(ch_trainsets, ch_trained)
    ch_models = P2G_SELECT.out.model.map { model -> [model] }

    // Every prediction sample with the model of all folds.
    ch_predict_in = ch_prepared
        .join(ch_features)
        .map { meta, rescaled, mask, features -> [meta.id, meta, features, mask] }
        .join(ch_about)
        .filter { id, meta, features, mask, sample -> sample.predict }
        .combine(P2G_SELECT.out.model)
        .map { id, meta, features, mask, sample, model -> [meta, features, mask, model] }
    P2G_PREDICT(ch_predict_in, params.device)

    ch_combine_in = P2G_PREDICT.out.pred
        .map { meta, pred -> [meta, [pred]] }
        .join(ch_prepared)
    P2G_COMBINE(ch_combine_in)

    // Results people open: AnnData, maps, accuracy, report.
    ch_counts_any = ch_samples
        .map { meta, found -> [meta, firstNamed(found, countsNames(meta.stem)) ?: no_file] }
    ch_result = P2G_COMBINE.out.results.join(ch_prepared)

    // Tissue domains of every predicted sample (--domains 0: none); the number as a number, as for --augment.
    P2G_DOMAINS(Folds.count(params.domains) > 0
        ? ch_result.map { meta, result, rescaled, mask -> [meta, result, rescaled] }
        : channel.empty())
    ch_domains = Folds.count(params.domains) > 0
        ? P2G_DOMAINS.out.domains
        : ch_result.map { meta, result, rescaled, mask -> [meta, no_domains] }
    ch_domain_files = Folds.count(params.domains) > 0
        ? P2G_DOMAINS.out.summary.map { meta, record, genes, picture, stamp -> [meta.id, [record, genes, picture, stamp]] }
        : P2G_COMBINE.out.stamp.map { meta, stamp -> [meta.id, [no_domains]] }  // the report stages small files only

    // Predicted expression summed into the user's cells, for samples with a segmentation.
    P2G_CELLS(
        ch_result
            .map { meta, result, rescaled, mask -> [meta.id, meta, result, rescaled] }
            .join(ch_about)
            .filter { id, meta, result, rescaled, sample -> sample.segmentation }
            .map { id, meta, result, rescaled, sample -> cellsInputs(meta, result, rescaled, sample, no_alignment) }
    )

    // One SpatialData store per predicted sample (--spatialdata), in the image that holds the spatialdata extra.
    ch_cells_by_id = P2G_CELLS.out.cells.map { meta, dir -> [meta.id, dir] }
    P2G_SPATIALDATA(params.spatialdata.toString().toBoolean()
        ? ch_result.join(ch_domains)
            .map { meta, result, rescaled, mask, domains -> [meta.id, meta, result, rescaled, domains] }
            .join(ch_cells_by_id, remainder: true)
            .join(ch_samples.map { meta, found -> heRawInputs(meta, found) })
            .map { id, meta, result, rescaled, domains, cells, he_raw, linked ->
                [meta, result, rescaled, domains, cells ?: no_cells, he_raw, linked] }
        : channel.empty())

    P2G_EXPORT(
        ch_result.join(ch_counts_any).join(ch_domains)
            .map { meta, result, rescaled, mask, counts, domains -> [meta, result, rescaled, counts, domains] }
    )

    ch_folds_of = P2G_FOLDS.out.trainset.filter { meta, folds -> !meta.copy }
    ch_maps_in = ch_result
        .filter { meta, result, rescaled, mask -> meta.train }
        .join(ch_folds_of)
        .mix(ch_result.filter { meta, result, rescaled, mask -> !meta.train }
            .map { meta, result, rescaled, mask -> [meta, result, rescaled, mask, no_folds] })
        .map { meta, result, rescaled, mask, folds -> [meta, result, rescaled, folds] }
    P2G_MAPS(ch_maps_in)

    // Held-out folds of each enhanced training sample, and measured truth where the sheet gives it.
    ch_eval_heldout = ch_result
        .join(ch_folds_of)
        .combine(ch_models.map { models -> [models] })
        .map { meta, result, rescaled, mask, folds, models ->
            [meta + [truth_kind: 'held-out'], rescaled, mask, no_file, no_truth_counts, no_truth_locs, folds, models] }
    ch_eval_truth = ch_result
        .map { meta, result, rescaled, mask -> [meta.id, meta, result, rescaled, mask] }
        .join(ch_about)
        .filter { id, meta, result, rescaled, mask, sample -> sample.truth }
        .map { id, meta, result, rescaled, mask, sample ->
            def truth = truthFiles(sample)
            [meta + [truth_kind: 'truth', truth_diameter_um: truth[2]], rescaled, mask, result, truth[0], truth[1], no_folds, []] }
    P2G_EVALUATE(ch_eval_heldout.mix(ch_eval_truth))

    // The report reads small files only: the result's metadata and mask, the maps, the
    // evaluations, the models' training curves and every step's step.json (for timings).
    ch_evals = P2G_EVALUATE.out.evaluation
        .map { meta, dir -> [meta.id, [meta.truth_kind, dir]] }
        .groupTuple()
        .map { id, items -> [id, items.toSorted { a, b -> a[0] <=> b[0] }.collect { item -> item[1] }] }
    ch_shared_stamps = P2G_GENES.out.stamp
        .map { stamp -> ['genes', stamp] }
        .mix(P2G_TRAIN.out.stamp.map { folds, stamp -> ["train-${folds}".toString(), stamp] })
        .mix(P2G_SELECT.out.stamp.map { stamp -> ['select', stamp] })
        .toSortedList { a, b -> a[0] <=> b[0] }
    ch_sample_stamps = P2G_RESCALE.out.stamp.map { meta, stamp -> [meta.id, ['rescale', stamp]] }
        .mix(
            P2G_MASK.out.stamp.map { meta, stamp -> [meta.id, ['mask', stamp]] },
            P2G_FEATURES.out.stamp.map { meta, stamp -> [meta.id, [copyName('features', meta), stamp]] },
            P2G_FOLDS.out.stamp.map { meta, stamp -> [meta.id, [copyName('folds', meta), stamp]] },
            P2G_PREDICT.out.stamp.map { meta, stamp -> [meta.id, ['predict', stamp]] },
            P2G_COMBINE.out.stamp.map { meta, stamp -> [meta.id, ['combine', stamp]] },
            P2G_MAPS.out.stamp.map { meta, stamp -> [meta.id, ['maps', stamp]] },
            P2G_DOMAINS.out.stamp.map { meta, stamp -> [meta.id, ['domains', stamp]] },
            P2G_CELLS.out.stamp.map { meta, stamp -> [meta.id, ['cells', stamp]] },
            P2G_EVALUATE.out.stamp.map { meta, stamp -> [meta.id, ["evaluate-${meta.truth_kind}".toString(), stamp]] }
        )
        .groupTuple()
        .map { id, steps -> [id, steps.toSorted { a, b -> a[0] <=> b[0] }] }
    ch_report_in = P2G_COMBINE.out.summary
        .join(P2G_MAPS.out.maps)
        .map { meta, metadata, mask, skill, maps -> [meta.id, meta, [metadata, mask, skill], maps] }
        .join(ch_sample_stamps)
        .join(ch_evals, remainder: true)
        .join(ch_domain_files)
        .combine(ch_shared_stamps.map { stamps -> [stamps] })
        .map { id, meta, summary, maps, own, evals, domains, shared ->
            def steps = (own + shared).toSorted { a, b -> a[0] <=> b[0] }
            [meta, summary, maps, evals ?: [], steps.collect { step -> step[0] }, steps.collect { step -> step[1] }, domains] }
    ch_curves = P2G_SELECT.out.summary.map { summary -> [summary] }
    // The run's parameters, without the launch timestamp that would re-run every report on -resume.
    ch_params = channel.of(groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(
            params.findAll { name, value -> name != 'trace_report_suffix' })))
        .collectFile(name: 'parameters.json', sort: true)
    P2G_REPORT(ch_report_in, ch_curves, ch_params.first())

    // Every task reports (process, tool, version) on the `versions` topic; one YAML block per process.
    ch_versions = channel.topic('versions')
        .unique()
        .map { process, tool, version -> [process.tokenize(':').last(), "    ${tool}: ${version}".toString()] }
        .groupTuple()
        .map { process, tools -> "${process}:\n${tools.toSorted().join('\n')}\n".toString() }
    ch_versions
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true)

    emit:
    results  = P2G_COMBINE.out.results
    domains  = P2G_DOMAINS.out.domains
    cells    = P2G_CELLS.out.cells
    zarr     = P2G_SPATIALDATA.out.zarr
    h5ad     = P2G_EXPORT.out.h5ad
    reports  = P2G_REPORT.out.report
    versions = ch_versions
}
