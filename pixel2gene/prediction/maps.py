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


def mean_over_folds(pred_dirs):
    """Sum the (G, n_tissue) partial sums of several predict outputs; returns (sums, n_models)."""
    total, n = None, 0
    for d in map(Path, pred_dirs):
        part = load_npy(d / "pred-sum.npy", mmap=True)
        n += read_json(d / "pred.json")["n_models"]
        total = np.array(part) if total is None else total + part
    return total, n


def write_gene_maps(out_dir: Path, genes, sums, n_models: int, mask: np.ndarray, progress=None):
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = np.full(mask.shape, np.nan, np.float32)
    for g, gene in enumerate(genes):
        grid[mask] = sums[g] / n_models
        np.save(out_dir / f"{gene_filename(gene)}.npy", grid, allow_pickle=False)
        if progress:
            progress(g + 1, len(genes))
