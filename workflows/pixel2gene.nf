/*
 * The Pixel2Gene workflow: per-sample preparation, one gene selection, a
 * scatter of training tasks over folds, every prediction sample predicted by
 * every fold model, gathered per sample and combined; then per sample an
 * .h5ad, PNG maps, accuracy where truth exists and an HTML report.
 */
include { P2G_RESCALE  } from '../modules/local/rescale/main'
include { P2G_MASK     } from '../modules/local/mask/main'
include { P2G_FEATURES } from '../modules/local/features/main'
include { P2G_GENES    } from '../modules/local/genes/main'
include { P2G_FOLDS    } from '../modules/local/folds/main'
include { P2G_TRAIN    } from '../modules/local/train/main'
include { P2G_PREDICT  } from '../modules/local/predict/main'
include { P2G_COMBINE  } from '../modules/local/combine/main'
include { P2G_EXPORT   } from '../modules/local/export/main'
include { P2G_MAPS     } from '../modules/local/maps/main'
include { P2G_EVALUATE } from '../modules/local/evaluate/main'
include { P2G_REPORT   } from '../modules/local/report/main'

// Relative prefixes are read relative to the samplesheet's folder.
def resolvePrefix(String prefix, String base) {
    (prefix.startsWith('/') || prefix.contains('://')) ? prefix : "${base}/${prefix}"
}

// One meta map per sample; a sample listed as train and predict is enhanced.
def sampleMeta(String id, List rows, String base) {
    def prefixes = rows.collect { resolvePrefix(it.prefix, base) }.unique()
    if (prefixes.size() != 1) {
        error "Samplesheet: sample '${id}' has different prefixes ${prefixes}; use one prefix per sample"
    }
    def roles = rows.collect { it.role }
    def bad = roles.findAll { !(it in ['train', 'predict']) }
    if (bad) {
        error "Samplesheet: sample '${id}' has role '${bad[0]}'; use train or predict"
    }
    def prefix = prefixes[0]
    def stem = prefix.endsWith('/') ? '' : prefix.tokenize('/').last()
    def masks = rows.collect { it.mask ?: '' }.findAll { it }.collect { resolvePrefix(it, base) }
    def truths = rows.collect { it.truth ?: '' }.findAll { it }.collect { resolvePrefix(it, base) }
    [id: id, prefix: prefix, stem: stem, train: 'train' in roles, predict: 'predict' in roles,
     mask: masks ? masks[0] : null, truth: truths ? truths[0] : null]
}

// The first file with one of these names (GStrings made Strings: `in` compares with equals()).
def firstNamed(List found, List names) {
    def wanted = names.collect { it.toString() }
    found.find { it.name in wanted }
}

// A truth prefix holds cnts.* and locs-raw.* of bins measured on the section (radius-raw.txt optional).
def truthFiles(Map meta) {
    def found = files("${meta.truth}*", type: 'file')
    def stem = meta.truth.endsWith('/') ? '' : meta.truth.tokenize('/').last()
    def counts = firstNamed(found, ["${stem}cnts.tsv", "${stem}cnts.tsv.gz", "${stem}cnts.parquet"])
    def locs = firstNamed(found, ["${stem}locs-raw.tsv", "${stem}locs-raw.tsv.gz", "${stem}locs-raw.parquet"])
    if (!counts || !locs) {
        error "Samplesheet: truth '${meta.truth}' of sample '${meta.id}' needs ${stem}cnts.tsv and ${stem}locs-raw.tsv"
    }
    def radius = firstNamed(found, ["${stem}radius-raw.txt"])
    [counts, locs, radius ? radius.text.trim() : '0']
}

def sampleFiles(Map meta) {
    def found = files("${meta.prefix}*", type: 'file')
    if (!found) {
        error "Samplesheet: no files match prefix '${meta.prefix}' of sample '${meta.id}'"
    }
    found
}

def findCounts(Map meta, List found) {
    firstNamed(found, ["${meta.stem}cnts.parquet", "${meta.stem}cnts.tsv", "${meta.stem}cnts.tsv.gz"])
}

def countsFile(Map meta, List found) {
    def counts = findCounts(meta, found)
    if (!counts) {
        error "Sample '${meta.id}' is for training but has no ${meta.stem}cnts.tsv or cnts.parquet"
    }
    counts
}

def foldGroups(int nFolds, int perTask) {
    (0..<nFolds).collate(perTask).collect { it.join(',') }
}

workflow PIXEL2GENE {
    take:
    samplesheet

    main:
    ch_versions = Channel.empty()
    no_mask = file("${projectDir}/assets/NO_MASK")
    no_gene_list = file("${projectDir}/assets/NO_GENE_LIST")

    sheet_dir = file(samplesheet).parent.toString()
    ch_samples = Channel.fromPath(samplesheet, checkIfExists: true)
        .splitCsv(header: true, strip: true)
        .map { row -> [row.sample, row] }
        .groupTuple()
        .map { id, rows -> sampleMeta(id, rows, sheet_dir) }
        .map { meta -> [meta, sampleFiles(meta)] }

    P2G_RESCALE(ch_samples)
    ch_versions = ch_versions.mix(P2G_RESCALE.out.versions.first())

    ch_mask_in = P2G_RESCALE.out.rescaled
        .map { meta, dir -> [meta, dir, meta.mask ? file(meta.mask, checkIfExists: true) : no_mask] }
    P2G_MASK(ch_mask_in)
    ch_versions = ch_versions.mix(P2G_MASK.out.versions.first())

    ch_prepared = P2G_RESCALE.out.rescaled.join(P2G_MASK.out.mask)
    encoder_weights = params.encoder_weights
        ? params.encoder_weights.tokenize(',').collect { file(it.trim(), checkIfExists: true) }
        : []
    P2G_FEATURES(ch_prepared, encoder_weights)
    ch_versions = ch_versions.mix(P2G_FEATURES.out.versions.first())

    ch_train_counts = ch_samples
        .filter { meta, found -> meta.train }
        .map { meta, found -> [meta, countsFile(meta, found)] }
    P2G_GENES(
        ch_train_counts.map { meta, counts -> counts }.collect(),
        params.gene_list ? file(params.gene_list, checkIfExists: true) : no_gene_list
    )
    ch_versions = ch_versions.mix(P2G_GENES.out.versions)

    ch_folds_in = ch_prepared
        .join(P2G_FEATURES.out.features)
        .join(ch_train_counts)
    P2G_FOLDS(ch_folds_in, P2G_GENES.out.genes)
    ch_versions = ch_versions.mix(P2G_FOLDS.out.versions.first())

    // Scatter: each training task fits a group of folds on every training sample.
    ch_trainsets = P2G_FOLDS.out.trainset.map { meta, dir -> dir }.collect()
    ch_fold_groups = Channel.fromList(foldGroups(params.n_folds as int, params.folds_per_task as int))
    P2G_TRAIN(ch_trainsets.first(), ch_fold_groups)
    ch_versions = ch_versions.mix(P2G_TRAIN.out.versions.first())

    // Every prediction sample with every training task's models, gathered per sample to combine.
    n_groups = foldGroups(params.n_folds as int, params.folds_per_task as int).size()
    ch_predict_in = ch_prepared
        .join(P2G_FEATURES.out.features)
        .filter { meta, rescaled, mask, features -> meta.predict }
        .combine(P2G_TRAIN.out.model)
        .map { meta, rescaled, mask, features, model -> [meta, features, mask, model] }
    P2G_PREDICT(ch_predict_in)
    ch_versions = ch_versions.mix(P2G_PREDICT.out.versions.first())

    ch_combine_in = P2G_PREDICT.out.pred
        .groupTuple(size: n_groups)
        .join(ch_prepared)
    P2G_COMBINE(ch_combine_in)
    ch_versions = ch_versions.mix(P2G_COMBINE.out.versions.first())

    // Results people open: AnnData, maps, accuracy, report.
    no_file = file("${projectDir}/assets/NO_FILE")
    no_folds = file("${projectDir}/assets/NO_FOLDS")
    no_truth_counts = file("${projectDir}/assets/NO_TRUTH_COUNTS")
    no_truth_locs = file("${projectDir}/assets/NO_TRUTH_LOCS")
    ch_counts_any = ch_samples
        .map { meta, found -> [meta, findCounts(meta, found) ?: no_file] }
    ch_result = P2G_COMBINE.out.results.join(ch_prepared)
    P2G_EXPORT(ch_result.join(ch_counts_any).map { meta, result, rescaled, mask, counts -> [meta, result, rescaled, counts] })
    ch_versions = ch_versions.mix(P2G_EXPORT.out.versions.first())

    ch_folds_of = P2G_FOLDS.out.trainset
    ch_maps_in = ch_result
        .filter { meta, result, rescaled, mask -> meta.train }
        .join(ch_folds_of)
        .mix(ch_result.filter { meta, result, rescaled, mask -> !meta.train }.map { it + [no_folds] })
        .map { meta, result, rescaled, mask, folds -> [meta, result, rescaled, folds] }
    P2G_MAPS(ch_maps_in)
    ch_versions = ch_versions.mix(P2G_MAPS.out.versions.first())

    ch_models = P2G_TRAIN.out.model.collect()
    ch_eval_heldout = ch_result
        .join(ch_folds_of)
        .combine(ch_models.map { models -> [models] })
        .map { meta, result, rescaled, mask, folds, models ->
            [meta + [truth_kind: 'held-out'], rescaled, mask, result, no_truth_counts, no_truth_locs, folds, models] }
    ch_eval_truth = ch_result
        .filter { meta, result, rescaled, mask -> meta.truth }
        .map { meta, result, rescaled, mask ->
            def truth = truthFiles(meta)
            [meta + [truth_kind: 'truth', truth_diameter_um: truth[2]], rescaled, mask, result, truth[0], truth[1], no_folds, []] }
    P2G_EVALUATE(ch_eval_heldout.mix(ch_eval_truth))
    ch_versions = ch_versions.mix(P2G_EVALUATE.out.versions.first())

    // The report waits for everything of its sample; samples without truth get an empty evaluation list.
    ch_evals = P2G_EVALUATE.out.evaluation
        .map { meta, dir -> [meta.id, dir] }
        .groupTuple()
    ch_preds_by_id = P2G_PREDICT.out.pred
        .map { meta, dir -> [meta.id, dir] }
        .groupTuple()
    ch_report_in = ch_result
        .join(P2G_MAPS.out.maps)
        .map { meta, result, rescaled, mask, maps -> [meta.id, meta, result, maps, [rescaled, mask]] }
        .join(ch_preds_by_id)
        .join(ch_evals, remainder: true)
        .map { id, meta, result, maps, prepared, preds, evals ->
            [meta, result, maps, evals ?: [], prepared + preds + [result, maps] + (evals ?: [])] }
    ch_params = Channel.of(groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(params)))
        .collectFile(name: 'parameters.json')
    P2G_REPORT(ch_report_in, ch_models, ch_params.first())
    ch_versions = ch_versions.mix(P2G_REPORT.out.versions.first())

    ch_versions
        .unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info")

    emit:
    results  = P2G_COMBINE.out.results
    h5ad     = P2G_EXPORT.out.h5ad
    reports  = P2G_REPORT.out.report
    versions = ch_versions
}
