"""QC of small bins: within each histology cluster, drop the lowest-count bins.

A bin whose total count is at or below its cluster's 30th percentile is more
likely a capture failure than biology (the cluster says what tissue it is);
dropped bins stay out of training and are exactly what enhancement fills.
"""
import numpy as np

from .kmeans import kmeans


def pca(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    x = x - x.mean(0)
    rng = np.random.default_rng(seed)
    fit = x[rng.choice(len(x), min(len(x), 20000), replace=False)]
    _, _, vt = np.linalg.svd(fit, full_matrices=False)
    return x @ vt[:n].T


def qc_keep(features: np.ndarray, totals: np.ndarray, n_clusters: int = 15,
            quantile: float = 0.30, seed: int = 0):
    """features: (n, C) standardised bin features; returns (keep bool, cluster int)."""
    z = pca(features, min(32, features.shape[1]), seed)
    _, cluster = kmeans(z, n_clusters, seed=seed)
    keep = np.ones(len(totals), bool)
    for c in np.unique(cluster):
        members = cluster == c
        cut = np.quantile(totals[members], quantile)
        keep[members] = totals[members] > cut
    return keep, cluster
