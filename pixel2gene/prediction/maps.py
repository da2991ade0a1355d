"""Per-gene superpixel maps from tissue-ordered predictions."""
from pathlib import Path

import numpy as np

from ..io.outputs import load_npy, read_json
from ..io.prefetch import prefetch, resolve_threads


def open_partials(pred_dirs):
    """The (G, n_tissue) partial sums of several predict outputs, as memmaps, and the model count."""
    parts = [load_npy(Path(d) / "pred-sum.npy", mmap=True) for d in pred_dirs]
    n_models = sum(read_json(Path(d) / "pred.json")["n_models"] for d in pred_dirs)
    return parts, n_models


def write_gene_maps(out_dir: Path, genes, files, parts, n_models: int, mask: np.ndarray, progress=None,
                    threads: int = 0):
    """One map per gene (file stem from `files`), written on `threads` threads (0 = all cores); each gene's
    row is read from every partial, never all genes at once, and scattered onto the grid by precomputed indices."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tissue = np.flatnonzero(mask.ravel())

    def write(g):
        grid = np.full(mask.size, np.nan, np.float32)
        grid[tissue] = sum(np.asarray(p[g], np.float32) for p in parts) / n_models
        np.save(out_dir / f"{files[genes[g]]}.npy", grid.reshape(mask.shape), allow_pickle=False)

    n = resolve_threads(threads)
    for g, _ in enumerate(prefetch(write, range(len(genes)), workers=n if n > 1 else 0)):
        if progress:
            progress(g + 1, len(genes))
