"""Bins -> superpixel disks, vectorised for Visium HD scale: the same members as the per-bin definition."""
import numpy as np
import pytest

from pixel2gene.image import SUPERPIXEL
from pixel2gene.image.disks import gather_disks


def disk_members(x: float, y: float, diameter_px: float, grid_shape):
    """(rows, cols) of superpixels whose centres lie within the disk.

    A disk smaller than one superpixel (e.g. an 8 µm bin) still owns the
    superpixel under its centre, so every bin maps to at least one.
    """
    r = diameter_px / 2
    i0, i1 = max(0, int((y - r) // SUPERPIXEL)), min(grid_shape[0], int((y + r) // SUPERPIXEL) + 2)
    j0, j1 = max(0, int((x - r) // SUPERPIXEL)), min(grid_shape[1], int((x + r) // SUPERPIXEL) + 2)
    ii, jj = np.mgrid[i0:max(i0, i1), j0:max(j0, j1)]  # empty when the disk lies off the grid
    inside = ((ii + 0.5) * SUPERPIXEL - y) ** 2 + ((jj + 0.5) * SUPERPIXEL - x) ** 2 <= r * r
    if not inside.any():
        ci, cj = int(y // SUPERPIXEL), int(x // SUPERPIXEL)
        if 0 <= ci < grid_shape[0] and 0 <= cj < grid_shape[1]:
            return np.array([ci]), np.array([cj])
    return ii[inside], jj[inside]


def gather_bin_by_bin(xy, diameter_px, mask):
    """The definition: disk_members for each bin, tissue members kept in order, -1 padded."""
    rows = []
    for x, y in xy:
        ii, jj = disk_members(x, y, diameter_px, mask.shape)
        tissue = mask[ii, jj]
        rows.append((np.ravel_multi_index((ii[tissue], jj[tissue]), mask.shape), len(ii)))
    index = np.full((len(rows), max(1, max(len(r[0]) for r in rows))), -1, np.int64)
    for n, (flat, _) in enumerate(rows):
        index[n, :len(flat)] = flat
    return index, np.array([len(r[0]) for r in rows]), np.array([r[1] for r in rows])


@pytest.mark.parametrize("diameter_px", [4.0, 8.0, 16.0, 17.3, 32.0, 55.0, 110.0, 200.0])
def test_vectorised_disks_match_the_definition(diameter_px):
    rng = np.random.default_rng(int(diameter_px * 10))
    mask = rng.random((30, 41)) > 0.3
    xy = np.stack([rng.uniform(-80, 41 * 16 + 80, 400), rng.uniform(-80, 30 * 16 + 80, 400)], 1)
    xy[:40] = np.round(xy[:40] / 8) * 8  # exactly on superpixel centres and edges
    fast = gather_disks(xy, diameter_px, mask, chunk_cells=997)  # many uneven chunks
    for a, b in zip(fast, gather_bin_by_bin(xy, diameter_px, mask)):
        assert a.dtype == np.int64 and np.array_equal(a, b)


def test_bins_off_the_grid_have_no_members():
    """A disk wholly off the grid used to crash disk_members (negative mgrid range)."""
    mask = np.ones((4, 4), bool)
    ii, jj = disk_members(-100.0, 30.0, 4.0, mask.shape)
    assert len(ii) == 0 and len(jj) == 0
    index, n_tissue, n_disk = gather_disks(np.array([[-100.0, 30.0], [24.0, 24.0]]), 4.0, mask)
    assert n_tissue.tolist() == [0, 1] and n_disk.tolist() == [0, 1] and index[0, 0] == -1
