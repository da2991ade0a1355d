"""QC of small bins: within each histology cluster, drop the lowest-count bins.

A bin whose total count is at or below its cluster's 30th percentile is more
likely a capture failure than biology (the cluster says what tissue it is);
dropped bins stay out of training and are exactly what enhancement fills.
"""
import numpy as np

from .kmeans import kmeans


def pca(x: np.ndarray, n: int, seed: int = 0, prepare=None, chunk: int = 65536) -> np.ndarray:
    """Rows of `x` projected on their top `n` principal axes (fitted on up to 20k rows), chunk by chunk.

    `prepare` maps a chunk of rows to float32 features (e.g. standardises float16 features), so a
    Visium HD section's ~600k x C anchors never exist as float32 or centred copies all at once.
    """
    prepare = prepare or (lambda rows: np.asarray(rows, np.float32))
    total = np.zeros(x.shape[1], np.float64)
    for s in range(0, len(x), chunk):
        total += prepare(x[s:s + chunk]).sum(0, dtype=np.float64)
    mean = (total / max(len(x), 1)).astype(np.float32)
    rng = np.random.default_rng(seed)
    fit = prepare(x[rng.choice(len(x), min(len(x), 20000), replace=False)]) - mean
    _, _, vt = np.linalg.svd(fit, full_matrices=False)
    axes = vt[:n].T
    out = np.empty((len(x), axes.shape[1]), np.float32)
    for s in range(0, len(x), chunk):
        out[s:s + chunk] = (prepare(x[s:s + chunk]) - mean) @ axes
    return out


def qc_keep(features: np.ndarray, totals: np.ndarray, n_clusters: int = 15,
            quantile: float = 0.30, seed: int = 0, prepare=None):
    """features: (n, C) bin features (standardised, or made so by `prepare` chunk-wise);
    returns (keep bool, cluster int)."""
    z = pca(features, min(32, features.shape[1]), seed, prepare)
    _, cluster = kmeans(z, n_clusters, seed=seed)
    keep = np.ones(len(totals), bool)
    for c in np.unique(cluster):
        members = cluster == c
        cut = np.quantile(totals[members], quantile)
        keep[members] = totals[members] > cut
    return keep, cluster
