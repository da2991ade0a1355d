"""How unlike the training tissue a superpixel is: its distance to the training superpixels, as a quantile.

A superpixel's features (standardised with the training sets' statistics, so a section of other tissue is
not re-centred onto the training one) are projected on the training superpixels' first principal axes, and
the distance from its features to that projection is one more coordinate: tissue unlike the training tissue
often differs most where the training tissue does not vary (another organ's tissue, projected alone, sat
among the breast superpixels; with its distance to their axes 82 % of it stood out). Its novelty distance is
the distance to its K-th nearest training superpixel in that space. The distances that held-out
spatial blocks of the training section itself have (each fold's superpixels against the other folds' of the
same section) are the yardstick: a superpixel's novelty is the share of them it exceeds (0.5: as familiar as
a typical unseen block of the training section), and `ratio` is its distance over their 99th percentile
(above 1: farther from the training tissue than 99 % of held-out training tissue).

With several training sections, each keeps its own reference sample and its blocks are held out against its
own other blocks only. Against all sections, a block of one section found its twin in the next consecutive
section (fold blocks are drawn per section, so the same region falls in different folds): the yardstick
shrank to the distance between near-identical sections, and tissue of the same kind that merely looked off
read as novel (a six-cluster hold-out on C4: 13 % of a held-out cluster novel with C2 training, 39 % with C2
and C3 pooled, 28 % with each section its own yardstick; docs/benchmarks.md).

All settings are fixed a priori: cheap enough to score every superpixel of a section in seconds on a CPU.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

AXES = 16             # principal axes kept: colour, texture and context directions of most of the variance
REFERENCE = 10_000    # training superpixels of each section kept as the reference (a seeded sample)
NEIGHBOUR = 5         # the K-th nearest: one stray look-alike does not make tissue familiar
NOVEL_QUANTILE = 0.99  # the held-out distance quantile past which a superpixel counts as novel
CHUNK = 8192          # superpixels per distance block


@dataclass
class NoveltyModel:
    mean: np.ndarray          # (C,) float32: centre of the reference features
    axes: np.ndarray          # (AXES, C) float32: principal axes
    reference: np.ndarray     # (m, AXES + 1) float32: projected reference superpixels
    calibration: np.ndarray   # (n,) float32: sorted held-out distances

    @property
    def novel_distance(self) -> float:
        return float(np.quantile(self.calibration, NOVEL_QUANTILE))

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """(n, C) standardised features -> (n, AXES + 1): their coordinates on the axes and their distance to them."""
        return project(z, torch.as_tensor(self.mean, device=z.device), torch.as_tensor(self.axes, device=z.device))

    def distances(self, z: torch.Tensor) -> torch.Tensor:
        """(n,) distance of each superpixel to its K-th nearest reference superpixel."""
        return kth_distance(self.project(z), torch.as_tensor(self.reference, device=z.device), NEIGHBOUR)

    def score(self, z: torch.Tensor):
        """(quantile, ratio) of each superpixel: the share of held-out training distances below its own, and its
        distance over the held-out 99th percentile."""
        d = self.distances(z).cpu().numpy()
        quantile = np.searchsorted(self.calibration, d, side="right") / len(self.calibration)
        return quantile.astype(np.float32), (d / max(self.novel_distance, 1e-6)).astype(np.float32)


def project(z: torch.Tensor, mean: torch.Tensor, axes: torch.Tensor) -> torch.Tensor:
    centred = z - mean
    coords = centred @ axes.T
    off_axes = ((centred * centred).sum(1) - (coords * coords).sum(1)).clamp_(min=0).sqrt_()
    return torch.cat([coords, off_axes[:, None]], 1)


def kth_distance(x: torch.Tensor, ref: torch.Tensor, k: int, skip_self: bool = False) -> torch.Tensor:
    """(n,) Euclidean distance from each row of x to its k-th nearest row of ref, by blocks of rows."""
    out = []
    k = min(k + int(skip_self), len(ref))
    for s in range(0, len(x), CHUNK):
        d = torch.cdist(x[s:s + CHUNK], ref)
        out.append(d.topk(k, dim=1, largest=False).values[:, -1])
    return torch.cat(out) if out else torch.zeros(0)


def fit(features: np.ndarray, valid: np.ndarray, fold: np.ndarray, seed: int = 0,
        section: Optional[np.ndarray] = None) -> NoveltyModel:
    """The novelty model of training sets: `features` (bins, K, C) standardised, `valid` (bins, K) their real
    superpixels, `fold` (bins,) each bin's spatial fold, `section` (bins,) which training section each bin is
    of (None: one section)."""
    section = np.zeros(len(fold), np.int64) if section is None else np.asarray(section)
    bins, slot = reference_sample(valid, section, seed)
    x = torch.from_numpy(np.asarray(features[bins, slot], np.float32))
    mean = x.mean(0)
    _, _, vt = torch.linalg.svd(x - mean, full_matrices=False)
    axes = vt[:AXES]
    projected = project(x, mean, axes)
    calibration = np.sort(held_out_distances(projected, np.asarray(fold)[bins], section[bins]).numpy())
    return NoveltyModel(mean.numpy().astype(np.float32), axes.numpy().astype(np.float32),
                        projected.numpy().astype(np.float32), calibration.astype(np.float32))


def reference_sample(valid: np.ndarray, section: np.ndarray, seed: int):
    """(bins, slots) of the reference superpixels: up to REFERENCE of each section's, a seeded sample."""
    bins, slot = np.nonzero(valid)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xfa7]))
    keep = []
    for s in np.unique(section):
        own = np.flatnonzero(section[bins] == s)
        keep.append(own if len(own) <= REFERENCE else np.sort(rng.choice(own, REFERENCE, replace=False)))
    keep = np.concatenate(keep)
    return bins[keep], slot[keep]


def held_out_distances(projected: torch.Tensor, folds: np.ndarray, sections: np.ndarray) -> torch.Tensor:
    """Each section's blocks against its own other blocks' superpixels: an unseen block's distances."""
    out = []
    for s in np.unique(sections):
        mine = sections == s
        own_folds = np.unique(folds[mine])
        if len(own_folds) == 1:  # one fold: each superpixel against the section's others
            rows = projected[torch.from_numpy(mine)]
            out.append(kth_distance(rows, rows, NEIGHBOUR, skip_self=True))
            continue
        for f in own_folds:
            held = torch.from_numpy(mine & (folds == f))
            rest = torch.from_numpy(mine & (folds != f))
            out.append(kth_distance(projected[held], projected[rest], NEIGHBOUR))
    return torch.cat(out)
