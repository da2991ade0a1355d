"""Held-out accuracy on a training sample: each bin predicted by the fold model that never saw it."""
import numpy as np
import torch

from ..artifacts.model import ModelSet
from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..features.stats import standardise
from ..image.disks import gather_disks
from ..io.memmaps import release_pages
from ..prediction.predict import Ensemble
from .truth import Bins

CHUNK = 4096  # superpixels per forward pass, across all fold models


def out_of_fold(trainset: TrainingSet, models: ModelSet, mask: np.ndarray, device="cpu"):
    """(Bins with measured counts, (n, G) out-of-fold predicted counts) for the bins a model held out."""
    info = trainset.record.read()
    genes = trainset.genes.read()
    if genes != models.genes:
        raise InputError(trainset.path, "the models predict other genes than this training set holds",
                         "evaluate with the models trained on this p2g-folds output")
    if info["n_folds"] < 2:
        raise InputError(trainset.path, "one fold holds nothing out", "train with --n-folds 2 or more to evaluate")
    bins = trainset.bins.read()
    kept = bins[bins["keep"]]
    fold = trainset.fold.read()
    model_of = {f: m for m, f in enumerate(models.folds)}
    held = np.array([f in model_of for f in fold])
    if not held.any():
        raise InputError(trainset.path, "none of the given models belongs to a fold of this sample",
                         "give the p2g-train outputs trained on this sample")
    feats = trainset.disk_features.read(mmap=True)
    valid = trainset.disk_valid.read()
    density = trainset.density.read(mmap=True)
    mean, std = trainset.channel_stats()
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
