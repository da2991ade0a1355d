"""Which superpixels a bin/spot covers: those whose centres fall inside its disk."""
import numpy as np

from ..image import SUPERPIXEL


def disk_members(x: float, y: float, diameter_px: float, grid_shape):
    """(rows, cols) of superpixels whose centres lie within the disk.

    A disk smaller than one superpixel (e.g. an 8 µm bin) still owns the
    superpixel under its centre, so every bin maps to at least one.
    """
    r = diameter_px / 2
    i0, i1 = max(0, int((y - r) // SUPERPIXEL)), min(grid_shape[0], int((y + r) // SUPERPIXEL) + 2)
    j0, j1 = max(0, int((x - r) // SUPERPIXEL)), min(grid_shape[1], int((x + r) // SUPERPIXEL) + 2)
    ii, jj = np.mgrid[i0:i1, j0:j1]
    inside = ((ii + 0.5) * SUPERPIXEL - y) ** 2 + ((jj + 0.5) * SUPERPIXEL - x) ** 2 <= r * r
    if not inside.any():
        ci, cj = int(y // SUPERPIXEL), int(x // SUPERPIXEL)
        if 0 <= ci < grid_shape[0] and 0 <= cj < grid_shape[1]:
            return np.array([ci]), np.array([cj])
    return ii[inside], jj[inside]


def gather_disks(xy: np.ndarray, diameter_px: float, mask: np.ndarray):
    """Tissue superpixels of every bin as a padded index table.

    Returns (index (n, K) int64 of flat grid positions, -1 padded; n_tissue (n,); n_disk (n,)).
    """
    rows = []
    for x, y in xy:
        ii, jj = disk_members(x, y, diameter_px, mask.shape)
        tissue = mask[ii, jj]
        rows.append((np.ravel_multi_index((ii[tissue], jj[tissue]), mask.shape), len(ii)))
    k = max(1, max(len(r[0]) for r in rows))
    index = np.full((len(rows), k), -1, np.int64)
    for n, (flat, _) in enumerate(rows):
        index[n, :len(flat)] = flat
    n_tissue = np.array([len(r[0]) for r in rows], np.int64)
    n_disk = np.array([r[1] for r in rows], np.int64)
    return index, n_tissue, n_disk
