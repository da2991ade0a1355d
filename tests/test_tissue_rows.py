"""Features are kept for tissue superpixels only, in row-major order: the copy from the encoders' grid, the
statistics taken on the way, and the two look-ups that replace grid indexing (issue #31)."""
import numpy as np

from pixel2gene.features.stats import gather_tissue_rows
from pixel2gene.image.superpixels import row_starts, tissue_index


def grid_and_mask(seed=0, shape=(150, 37, 5)):
    rng = np.random.default_rng(seed)
    grid = rng.normal(0, 3, shape).astype(np.float16)
    mask = rng.random(shape[:2]) < 0.3
    mask[70:80] = False  # a band without tissue across a strip boundary (strips of 64 rows)
    return grid, mask


def test_tissue_rows_are_the_grids_tissue_in_row_major_order_with_its_statistics():
    grid, mask = grid_and_mask()
    out = np.zeros((int(mask.sum()), grid.shape[2]), np.float16)
    mean, std = gather_tissue_rows(grid, mask, out)
    assert np.array_equal(out, grid[mask])
    wide = grid[mask].astype(np.float64)
    assert np.allclose(mean, wide.mean(0), rtol=1e-6) and np.allclose(std, wide.std(0), rtol=1e-5)
    assert mean.dtype == std.dtype == np.float32


def test_whole_grid_rows_are_one_block_of_tissue_rows():
    grid, mask = grid_and_mask(1)
    rows, starts = grid[mask], row_starts(mask)
    assert starts[0] == 0 and starts[-1] == mask.sum() and len(starts) == mask.shape[0] + 1
    for r0, r1 in [(0, 1), (3, 64), (70, 80), (64, 150), (0, 150)]:
        assert np.array_equal(rows[starts[r0]:starts[r1]], grid[r0:r1][mask[r0:r1]])


def test_grid_positions_map_to_their_tissue_rows_and_padding_stays_padding():
    grid, mask = grid_and_mask(2)
    flat = np.flatnonzero(mask.ravel())
    cells = np.array([[flat[0], flat[5], -1], [flat[-1], -1, -1]])
    index = tissue_index(mask, cells)
    assert index.tolist() == [[0, 5, -1], [len(flat) - 1, -1, -1]]
    assert np.array_equal(grid[mask][index[0, :2]], grid.reshape(-1, grid.shape[2])[cells[0, :2]])
