"""The tissue superpixels of a feature map with their per-channel statistics, and standardising features with them."""
import numpy as np

from ..io.memmaps import release_pages

ROWS = 64


def gather_tissue_rows(grid: np.ndarray, mask: np.ndarray, out: np.ndarray):
    """Copy the tissue superpixels of the (H, W, C) `grid` into `out` (tissue superpixels, C), in row-major
    order, strip by strip, and return each channel's mean and standard deviation over them (float64 sums)."""
    c = grid.shape[2]
    n, s1, s2 = 0, np.zeros(c), np.zeros(c)
    for i0 in range(0, grid.shape[0], ROWS):
        rows = np.asarray(grid[i0:i0 + ROWS][mask[i0:i0 + ROWS]])
        out[n:n + len(rows)] = rows
        wide = rows.astype(np.float64)
        n += rows.shape[0]
        s1 += wide.sum(0)
        s2 += (wide ** 2).sum(0)
        release_pages(grid)
        release_pages(out)
    mean = s1 / max(n, 1)
    std = np.sqrt(np.maximum(s2 / max(n, 1) - mean ** 2, 0))
    return mean.astype(np.float32), std.astype(np.float32)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, np.float32) - mean) / np.maximum(std, 1e-6)).astype(np.float32)
