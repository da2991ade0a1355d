"""Per-gene superpixel maps from tissue-ordered predictions."""
import re
from pathlib import Path

import numpy as np

from ..io.outputs import load_npy, read_json

UNSAFE = re.compile(r"[/\\\x00]")


def gene_filename(gene: str) -> str:
    """Gene names become file names; only path separators are replaced."""
    name = UNSAFE.sub("_", gene)
    return "_" + name if name in (".", "..") else name


def open_partials(pred_dirs):
    """The (G, n_tissue) partial sums of several predict outputs, as memmaps, and the model count."""
    parts = [load_npy(Path(d) / "pred-sum.npy", mmap=True) for d in pred_dirs]
    n_models = sum(read_json(Path(d) / "pred.json")["n_models"] for d in pred_dirs)
    return parts, n_models


def write_gene_maps(out_dir: Path, genes, parts, n_models: int, mask: np.ndarray, progress=None):
    """One map per gene; each gene's row is read from every partial, never all genes at once."""
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = np.full(mask.shape, np.nan, np.float32)
    for g, gene in enumerate(genes):
        grid[mask] = sum(np.asarray(p[g], np.float32) for p in parts) / n_models
        np.save(out_dir / f"{gene_filename(gene)}.npy", grid, allow_pickle=False)
        if progress:
            progress(g + 1, len(genes))
