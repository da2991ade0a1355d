"""Training sets from p2g-folds outputs, standardised and merged across samples."""
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import InputError
from ..genes.names import NAMES, read_gene_names
from ..features.store import standardise
from ..io.memmaps import release_pages
from ..io.outputs import load_npy, read_json


@dataclass
class TrainData:
    features: np.ndarray  # (n, K, C) float16, standardised, padded
    valid: np.ndarray     # (n, K) bool
    density: np.ndarray   # (n, G) float32 counts per superpixel
    fold: np.ndarray      # (n,) int
    genes: List[str]
    n_folds: int
    samples: List[str]
    channels: Optional[List[str]] = None  # feature channel names (None: a trainset from before they were kept)


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


def pooled_channel_stats(dirs):
    """(mean, std) of the training sets' feature channels, each set weighing the same: what
    `p2g-predict --standardise training` standardises a new section with instead of its own statistics."""
    means = [load_npy(Path(d) / "channel-mean.npy").astype(np.float64) for d in dirs]
    stds = [load_npy(Path(d) / "channel-std.npy").astype(np.float64) for d in dirs]
    mean = np.mean(means, 0)
    second = np.mean([s * s + m * m for m, s in zip(means, stds)], 0)
    return mean.astype(np.float32), np.sqrt(np.maximum(second - mean * mean, 0)).astype(np.float32)


def load_trainsets(dirs) -> TrainData:
    parts, genes, n_folds, meta = [], None, None, []
    for d in map(Path, dirs):
        if not (d / "trainset.json").is_file():
            raise InputError(d, "not a p2g-folds output", "give the directory written by p2g-folds")
        info = read_json(d / "trainset.json")
        g = read_gene_names(d / NAMES)
        if genes is not None and g != genes:
            raise InputError(d, "gene list differs from the other training sets", "build all with one p2g-genes output")
        if n_folds is not None and info["n_folds"] != n_folds:
            raise InputError(d, "fold count differs from the other training sets", "use one --n-folds for all")
        genes, n_folds = g, info["n_folds"]
        x = load_npy(d / "disk-features.npy", mmap=True)
        parts.append((standardise_f16(x, load_npy(d / "channel-mean.npy"), load_npy(d / "channel-std.npy")),
                      load_npy(d / "disk-valid.npy"), load_npy(d / "density.npy"), load_npy(d / "fold.npy")))
        meta.append(info)
    channels = {p[0].shape[2] for p in parts}
    if len(channels) > 1:
        raise InputError(dirs[0], "training sets have different feature channels", "use one encoder for all samples")
    k = max(p[0].shape[1] for p in parts)
    feats = _join([_pad(p[0], k) for p in parts])
    valid = _join([_pad(p[1], k) for p in parts])
    names = {tuple(m.get("channels") or ()) for m in meta}
    channel_names = list(names.pop()) if len(names) == 1 and () not in names else None
    return TrainData(feats, valid, _join([p[2] for p in parts]), _join([p[3] for p in parts]), genes, n_folds,
                     [m["sample"] for m in meta], channel_names)
