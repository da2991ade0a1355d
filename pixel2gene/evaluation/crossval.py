"""Held-out accuracy on a training sample: each bin predicted by the fold model that never saw it."""
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..genes.names import NAMES, read_gene_names
from ..features.store import standardise
from ..io.memmaps import release_pages
from ..io.outputs import load_npy, read_json
from ..model.checkpoint import ModelSet
from ..prediction.predict import Ensemble
from ..image.disks import gather_disks
from .truth import Bins

CHUNK = 4096  # superpixels per forward pass, across all fold models


def out_of_fold(folds_dir, models: ModelSet, mask: np.ndarray, device="cpu"):
    """(Bins with measured counts, (n, G) out-of-fold predicted counts) for the bins a model held out."""
    folds_dir = Path(folds_dir)
    if not (folds_dir / "trainset.json").is_file():
        raise InputError(folds_dir, "not a p2g-folds output", "give the directory p2g-folds wrote for this sample")
    info = read_json(folds_dir / "trainset.json")
    genes = read_gene_names(folds_dir / NAMES)
    if genes != models.genes:
        raise InputError(folds_dir, "the models predict other genes than this training set holds",
                         "evaluate with the models trained on this p2g-folds output")
    if info["n_folds"] < 2:
        raise InputError(folds_dir, "one fold holds nothing out", "train with --n-folds 2 or more to evaluate")
    bins = pd.read_parquet(folds_dir / "bins.parquet")
    kept = bins[bins["keep"]]
    fold = load_npy(folds_dir / "fold.npy")
    model_of = {f: m for m, f in enumerate(models.folds)}
    held = np.array([f in model_of for f in fold])
    if not held.any():
        raise InputError(folds_dir, "none of the given models belongs to a fold of this sample",
                         "give the p2g-train outputs trained on this sample")
    feats = load_npy(folds_dir / "disk-features.npy", mmap=True)
    valid = load_npy(folds_dir / "disk-valid.npy")
    density = load_npy(folds_dir / "density.npy", mmap=True)
    mean, std = load_npy(folds_dir / "channel-mean.npy"), load_npy(folds_dir / "channel-std.npy")
    rows = np.flatnonzero(held)
    pred = _predict_bins(feats, valid, rows, np.array([model_of[f] for f in fold[rows]]), mean, std, models, device)
    n_sp = kept["n_superpixels"].to_numpy()[rows]
    truth = np.empty((len(rows), density.shape[1]), np.float32)  # float32 and by chunks: ~600k HD bins
    for s in range(0, len(rows), CHUNK):
        truth[s:s + CHUNK] = density[rows[s:s + CHUNK]] * n_sp[s:s + CHUNK, None].astype(np.float32)
        release_pages(density)
    index, _, _ = gather_disks(kept[["x", "y"]].to_numpy(np.float64)[rows], info["diameter_px"], mask)
    return Bins(kept.index[rows], truth, genes, index), pred


def _predict_bins(feats, valid, rows, which, mean, std, models, device):
    ensemble = Ensemble(models, device, held_out=True)  # each fold's ridge too was fitted without the fold
    k = feats.shape[1]
    step = max(1, CHUNK // k)
    out = np.zeros((len(rows), len(models.genes)), np.float32)
    for s in range(0, len(rows), step):
        r = rows[s:s + step]
        y = ensemble(standardise(np.asarray(feats[r]).reshape(-1, feats.shape[2]), mean, std))
        y = y.view(ensemble.n_models, len(r), k, -1) * torch.from_numpy(valid[r]).to(y.device)[None, :, :, None]
        sums = y.sum(2)  # (models, bins, genes): each bin's predicted counts under every model
        pick = torch.from_numpy(which[s:s + step]).to(y.device)
        out[s:s + len(r)] = sums[pick, torch.arange(len(r), device=y.device)].cpu().numpy()
    return out
