"""Which superpixels a bin/spot covers: those whose centres fall inside its disk.

A disk smaller than one superpixel (an 8 µm bin) still owns the superpixel under its centre, so every bin
on the grid maps to at least one.
"""
import numpy as np

from . import SUPERPIXEL


def gather_disks(xy: np.ndarray, diameter_px: float, mask: np.ndarray, chunk_cells: int = 1 << 22):
    """Tissue superpixels of every bin as a padded index table.

    Returns (index (n, K) int64 of flat grid positions, -1 padded; n_tissue (n,); n_disk (n,)).
    The same members, in the same order, as the per-bin definition (tests/test_disks.py), but vectorised over
    chunks of bins: a Visium HD section has ~600k bins, which a per-bin Python loop would take minutes over.
    """
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    h, w = mask.shape
    r = diameter_px / 2
    span = int(2 * r // SUPERPIXEL) + 3  # window rows/cols that hold every centre within r of the bin
    di, dj = (a.ravel().astype(np.float64) for a in np.mgrid[0:span, 0:span])  # row-major, as defined
    step = max(1, chunk_cells // (span * span))
    parts = [_gather_chunk(xy[s:s + step], r, di, dj, mask) for s in range(0, len(xy), step)]
    k = max([1] + [p[0].shape[1] for p in parts])
    index = np.full((len(xy), k), -1, np.int64)
    s = 0
    for part, _, _ in parts:
        index[s:s + len(part), :part.shape[1]] = part
        s += len(part)
    n_tissue = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    n_disk = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int64)
    return index, n_tissue, n_disk


def _gather_chunk(xy, r, di, dj, mask):
    h, w = mask.shape
    x, y = xy[:, :1], xy[:, 1:]
    ii = np.floor((y - r) / SUPERPIXEL) + di[None, :]
    jj = np.floor((x - r) / SUPERPIXEL) + dj[None, :]
    in_grid = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
    inside = in_grid & (((ii + 0.5) * SUPERPIXEL - y) ** 2 + ((jj + 0.5) * SUPERPIXEL - x) ** 2 <= r * r)
    # a disk smaller than a superpixel that holds no centre owns the superpixel under its own centre
    ci, cj = np.floor(y[:, 0] / SUPERPIXEL), np.floor(x[:, 0] / SUPERPIXEL)
    alone = ~inside.any(1) & (ci >= 0) & (ci < h) & (cj >= 0) & (cj < w)
    first = np.zeros(inside.shape, bool)
    first[:, 0] = alone
    ii[alone, 0], jj[alone, 0] = ci[alone], cj[alone]
    member = inside | first
    flat = np.where(member, ii * w + jj, 0).astype(np.int64)
    tissue = member & mask.ravel()[flat]
    n_tissue = tissue.sum(1)
    out = np.full((len(xy), max(1, int(n_tissue.max(initial=0)))), -1, np.int64)
    rows, cols = np.nonzero(tissue)
    out[rows, np.cumsum(tissue, 1)[rows, cols] - 1] = flat[rows, cols]
    return out, n_tissue.astype(np.int64), member.sum(1).astype(np.int64)
