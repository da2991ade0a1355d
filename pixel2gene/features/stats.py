"""Per-channel statistics of a feature map over tissue, and standardising features with them."""
import numpy as np

from ..io.memmaps import release_pages

ROWS = 64


def tissue_statistics(features: np.ndarray, mask: np.ndarray):
    """Mean and standard deviation of each channel over tissue, streamed by rows."""
    c = features.shape[2]
    n, s1, s2 = 0, np.zeros(c), np.zeros(c)
    for i0 in range(0, features.shape[0], ROWS):
        rows = np.asarray(features[i0:i0 + ROWS][mask[i0:i0 + ROWS]], dtype=np.float64)
        n += rows.shape[0]
        s1 += rows.sum(0)
        s2 += (rows ** 2).sum(0)
        release_pages(features)
    mean = s1 / max(n, 1)
    std = np.sqrt(np.maximum(s2 / max(n, 1) - mean ** 2, 0))
    return mean.astype(np.float32), std.astype(np.float32)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, np.float32) - mean) / np.maximum(std, 1e-6)).astype(np.float32)
