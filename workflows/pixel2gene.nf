/*
 * The Pixel2Gene workflow: per-sample preparation, one gene selection, a
 * scatter of training tasks over folds, every prediction sample predicted by
 * every fold model, gathered per sample and combined.
 */
include { P2G_RESCALE  } from '../modules/local/rescale/main'
include { P2G_MASK     } from '../modules/local/mask/main'
include { P2G_FEATURES } from '../modules/local/features/main'
include { P2G_GENES    } from '../modules/local/genes/main'
include { P2G_FOLDS    } from '../modules/local/folds/main'
include { P2G_TRAIN    } from '../modules/local/train/main'
include { P2G_PREDICT  } from '../modules/local/predict/main'
include { P2G_COMBINE  } from '../modules/local/combine/main'

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
    [id: id, prefix: prefix, stem: stem, train: 'train' in roles, predict: 'predict' in roles,
     mask: masks ? masks[0] : null]
}

def sampleFiles(Map meta) {
    def found = files("${meta.prefix}*", type: 'file')
    if (!found) {
        error "Samplesheet: no files match prefix '${meta.prefix}' of sample '${meta.id}'"
    }
    found
}

def countsFile(Map meta, List found) {
    def counts = found.find { it.name == "${meta.stem}cnts.parquet" || it.name == "${meta.stem}cnts.tsv" || it.name == "${meta.stem}cnts.tsv.gz" }
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
    P2G_FEATURES(ch_prepared)
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

    ch_versions
        .unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info")

    emit:
    results  = P2G_COMBINE.out.results
    versions = ch_versions
}
