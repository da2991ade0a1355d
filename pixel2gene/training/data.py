"""Training sets from p2g-folds outputs, standardised and merged across samples."""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..features.stats import standardise
from ..io.memmaps import release_pages


@dataclass
class TrainData:
    features: np.ndarray  # (n, K, C) float16, standardised, padded
    valid: np.ndarray     # (n, K) bool
    density: np.ndarray   # (n, G) float32 counts per superpixel
    fold: np.ndarray      # (n,) int
    genes: List[str]
    n_folds: int
    samples: List[str]
    channels: List[str]   # feature channel names
    section: Optional[np.ndarray] = None  # (n,) int: which training set each bin is of (None: one set)


def standardise_f16(x, mean, std):
    out = np.empty(x.shape, np.float16)
    for s in range(0, len(x), 1024):  # chunks: never a float32 copy of the whole set
        out[s:s + 1024] = standardise(x[s:s + 1024], mean, std)
        if s % (64 * 1024) == 0:
            release_pages(x)  # read pages of the memory-mapped input would otherwise stay resident
    release_pages(x)
    return out


def _join(arrays):
    """One array from the samples' arrays; a single sample's is used as is (a Visium HD section's features
    and counts are GBs: a copy doubles the step's memory)."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _pad(a, k):
    return a if a.shape[1] == k else np.pad(a, ((0, 0), (0, k - a.shape[1])) + ((0, 0),) * (a.ndim - 2))


def pooled_channel_stats(sets: List[TrainingSet]):
    """(mean, std) of the training sets' feature channels, each set weighing the same: what
    `p2g-predict --standardise training` standardises a new section with instead of its own statistics."""
    means = [s.mean.read().astype(np.float64) for s in sets]
    stds = [s.std.read().astype(np.float64) for s in sets]
    mean = np.mean(means, 0)
    second = np.mean([s * s + m * m for m, s in zip(means, stds)], 0)
    return mean.astype(np.float32), np.sqrt(np.maximum(second - mean * mean, 0)).astype(np.float32)


def load_trainsets(sets: List[TrainingSet]) -> TrainData:
    parts, genes, n_folds, meta = [], None, None, []
    for ts in sets:
        info = ts.record.read()
        g = ts.genes.read()
        if genes is not None and g != genes:
            raise InputError(ts.path, "gene list differs from the other training sets",
                             "build all with one p2g-genes output")
        if n_folds is not None and info["n_folds"] != n_folds:
            raise InputError(ts.path, "fold count differs from the other training sets", "use one --n-folds for all")
        if meta and info["channels"] != meta[0]["channels"]:
            raise InputError(ts.path, "training sets have different feature channels",
                             "use one encoder for all samples")
        genes, n_folds = g, info["n_folds"]
        parts.append((standardise_f16(ts.disk_features.read(mmap=True), *ts.channel_stats()),
                      ts.disk_valid.read(), ts.density.read(), ts.fold.read()))
        meta.append(info)
    k = max(p[0].shape[1] for p in parts)
    feats = _join([_pad(p[0], k) for p in parts])
    valid = _join([_pad(p[1], k) for p in parts])
    section = np.repeat(np.arange(len(parts)), [len(p[3]) for p in parts]) if len(parts) > 1 else None
    return TrainData(feats, valid, _join([p[2] for p in parts]), _join([p[3] for p in parts]), genes, n_folds,
                     [m["sample"] for m in meta], list(meta[0]["channels"]), section)
