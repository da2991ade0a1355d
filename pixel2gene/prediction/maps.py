"""Per-gene superpixel maps from tissue-ordered predictions."""
import numpy as np

from ..artifacts.base import Npy
from ..artifacts.result import Result
from ..io.prefetch import prefetch, resolve_threads


def on_grid(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-tissue-superpixel values (row-major, as every prediction) as a float32 grid, NaN off tissue."""
    grid = np.full(mask.shape, np.nan, np.float32)
    grid[mask] = values
    return grid


def write_gene_maps(result: Result, genes, parts, n_models: int, mask: np.ndarray, progress=None,
                    threads: int = 0):
    """One float32 map per gene into `result` (NaN off tissue) from the (G, n_tissue) partial sums `parts`
    of `n_models` models, written on `threads` threads (0 = all cores); each gene's row is read from every
    partial, never all genes at once, and scattered onto the grid by precomputed indices."""
    result.start_maps(genes)
    tissue = np.flatnonzero(mask.ravel())

    def write(g):
        grid = np.full(mask.size, np.nan, np.float32)
        grid[tissue] = sum(np.asarray(p[g], np.float32) for p in parts) / n_models
        Npy.at(result.map_file(genes[g]), result.STEP).write(grid.reshape(mask.shape))

    n = resolve_threads(threads)
    for g, _ in enumerate(prefetch(write, range(len(genes)), workers=n if n > 1 else 0)):
        if progress:
            progress(g + 1, len(genes))
