"""All folds over all tissue superpixels, in large chunks, summed into a gene-major memmap.

Chunks of whole grid rows are read from the feature map on a thread while the
device runs every fold model on the previous chunk, and the fold sums are
written, transposed to gene-major, behind it. The chunks on the CPU are the
same as always (at least CHUNK superpixels of whole rows), so CPU results do
not depend on this plumbing.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..image.superpixels import row_starts
from ..io.memmaps import PageReleaser
from ..io.prefetch import prefetch
from ..features.writer import BackgroundWriter, HostCopy
from ..errors import InputError
from ..model import ridge
from ..artifacts.model import ModelSet
from ..model.checkpoint import mlp_weight
from ..model.mlp import StackedMLP, gene_span
from ..model.novelty import NoveltyModel

CHUNK = 8192       # superpixels per forward pass on the CPU
GPU_CHUNK = 65536  # at most, on a GPU
# the (folds, chunk, genes) float32 output may take this much (smaller chunks for many genes)
OUTPUT_BYTES = {"cpu": 2 ** 29, "cuda": 2 ** 31}


class Ensemble:
    """All fold models at once: standardised features (n, C) -> counts per superpixel (models, n, G).

    Fold model i is a_i * MLP_i + (1 - a_i) * ridge, with a_i its checkpoint's `blend.mlp` (1: the MLP
    alone). The ridge part is the ridge fitted on all training bins,
    or, with `held_out`, fold i's own ridge, fitted without the fold's bins, so held-out scores stay honest.
    """

    def __init__(self, models: ModelSet, device="cpu", held_out: bool = False):
        self.device = torch.device(device)
        self.weights = [mlp_weight(s) for s in models.states]
        with_mlp = [i for i, w in enumerate(self.weights) if w > 0]
        self.mlp_of = {i: j for j, i in enumerate(with_mlp)}
        self.net = (StackedMLP.from_states([models.states[i] for i in with_mlp]).to(self.device).eval()
                    if with_mlp else None)
        self.span = torch.from_numpy(gene_span(models.gene_min, models.gene_max)).to(self.device)
        self.low = torch.from_numpy(models.gene_min.astype(np.float32)).to(self.device)
        self.held_out = held_out
        need = [i for i, w in enumerate(self.weights) if w < 1]
        on_dev = lambda st: {k: st[k].to(self.device) for k in ("ridge.weight", "ridge.bias")}
        if held_out:
            self.ridges = {i: on_dev(models.states[i]) for i in need}
        elif need:
            if models.ridge is None:
                raise InputError("--model", "the fold models blend in a ridge but ridge.pt is missing",
                                 "give the whole directory p2g-select wrote")
            self.ridge = on_dev(models.ridge)

    @property
    def n_models(self):
        return len(self.weights)

    def _mlp(self, x):
        y = self.net(x.expand(self.net.n_models, -1, -1))
        return y.mul_(self.span).add_(self.low).clamp_(min=0)  # counts cannot be negative after unscaling

    @torch.no_grad()
    def __call__(self, x) -> torch.Tensor:
        x = torch.as_tensor(x).to(self.device)
        if all(w == 1 for w in self.weights):
            return self._mlp(x)
        y = self._mlp(x) if self.net is not None else None
        shared = None if self.held_out else ridge.apply(x, self.ridge)  # some weight is below 1 here
        out = []
        for i, w in enumerate(self.weights):
            part = y[self.mlp_of[i]] * w if w > 0 else 0
            if w < 1:
                part = part + (1 - w) * (ridge.apply(x, self.ridges[i]) if self.held_out else shared)
            out.append(part)
        return torch.stack(out)

    @torch.no_grad()
    def sum(self, x) -> torch.Tensor:
        """(n, G): the sum over the fold models (what p2g-predict writes), the ridge evaluated once."""
        x = torch.as_tensor(x).to(self.device)
        if self.held_out:
            return self(x).sum(0)
        if all(w == 1 for w in self.weights):
            return self._mlp(x).sum(0)
        total = None
        if self.net is not None:
            a = torch.tensor([self.weights[i] for i in self.mlp_of], device=self.device)
            total = self._mlp(x).mul_(a[:, None, None]).sum(0)
        r = ridge.apply(x, self.ridge).mul_(sum(1 - w for w in self.weights))
        return r if total is None else total.add_(r)


def standardise_on(device, x16: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """float16 (n, C) features -> standardised float32 on `device`; the same float32 operations as
    features.stats.standardise, so CPU results are unchanged, and half the bytes cross to a GPU."""
    return x16.to(device, non_blocking=True).float().sub_(mean).div_(std)


def chunk_size(device: torch.device, n_models: int, n_genes: int) -> int:
    most = GPU_CHUNK if device.type == "cuda" else CHUNK
    fits = OUTPUT_BYTES["cuda" if device.type == "cuda" else "cpu"] // (4 * n_models * max(n_genes, 1))
    return max(256, min(most, fits))


def row_chunks(mask: np.ndarray, chunk: int):
    """(first row, end row, n) of runs of whole grid rows holding at least `chunk` tissue superpixels each."""
    counts = mask.sum(1)
    rows = np.flatnonzero(counts)
    out, start, n = [], None, 0
    for i in rows:
        start = i if start is None else start
        n += int(counts[i])
        if n >= chunk or i == rows[-1]:
            out.append((int(start), int(i) + 1, n))
            start, n = None, 0
    return out


# Where tissue is novel, how the prediction leans on the colour ridge: not at all up to the held-out training
# tissue's 99th-percentile distance (novelty ratio 1), then linearly, wholly from 1.5 times that distance on,
# where tissue is clearly outside all the training showed. Fixed before any expression was scored with it
# (docs/method.md, "Unfamiliar tissue"); bench/tissue_holdout.py measures it.
FULL_FALLBACK_RATIO = 1.5


def fallback_weight(ratio: np.ndarray) -> np.ndarray:
    return np.clip((ratio - 1) / (FULL_FALLBACK_RATIO - 1), 0, 1).astype(np.float32)


@dataclass
class Familiarity:
    """What prediction needs to say how familiar each superpixel's tissue is, and to lean on what transfers
    where it is not: the novelty model, the training sets' feature statistics (novelty and the colour ridge
    read features standardised with them), the colour ridge (None: nothing to lean on), and the outputs."""
    novelty: NoveltyModel
    mean: np.ndarray
    std: np.ndarray
    colour: Optional[dict]
    lean: bool
    quantile: np.ndarray      # (n_tissue,) out (assess_novelty): novelty quantile of each superpixel
    weight: np.ndarray        # (n_tissue,) out (predict_sum): the colour ridge's share of its prediction
    ratio: Optional[np.ndarray] = None  # (n_tissue,) out (assess_novelty): its distance over the novel one


# The section's own statistics are meant to absorb a stain or scanner shift, measured on tissue like the
# training tissue; a section of mostly fat would otherwise shift every familiar superpixel by what fat looks
# like. So they are taken over the familiar tissue (novelty ratio <= 1), unless under this share of it is
# familiar (then a shift is as likely as other tissue, and all of it is used, as before). Fixed a priori.
MIN_FAMILIAR = 0.25


def assess_novelty(features, familiarity: Familiarity, device="cpu", chunk: int = CHUNK):
    """Fill familiarity.quantile and .ratio for every tissue superpixel of `features` (n_tissue, C), standardised
    with the training sets' statistics, and return (mean, std, share familiar) of the familiar superpixels'
    features (ratio <= 1; float64 sums), all in one read of the features. None when nothing is novel (the
    section's statistics are then exactly those p2g-features wrote) or under MIN_FAMILIAR is familiar."""
    dev = torch.device(device)
    mean = torch.from_numpy(np.asarray(familiarity.mean, np.float32)).to(dev)
    std = torch.from_numpy(_std(familiarity.std)).to(dev)
    familiarity.ratio = np.empty(len(features), np.float32)
    n, s1, s2 = 0, 0.0, 0.0
    for s in range(0, len(features), chunk):
        x = np.array(features[s:s + chunk])
        z = standardise_on(dev, torch.from_numpy(x), mean, std)
        familiarity.quantile[s:s + len(x)], familiarity.ratio[s:s + len(x)] = familiarity.novelty.score(z)
        rows = x[familiarity.ratio[s:s + len(x)] <= 1].astype(np.float64)
        n, s1, s2 = n + len(rows), s1 + rows.sum(0), s2 + (rows * rows).sum(0)
    share = n / len(features) if len(features) else 1.0
    if share == 1.0 or share < MIN_FAMILIAR:
        return None
    centre = s1 / n
    return centre.astype(np.float32), np.sqrt(np.maximum(s2 / n - centre ** 2, 0)).astype(np.float32), share


def _std(std) -> np.ndarray:
    return np.maximum(np.asarray(std, np.float32), np.float32(1e-6))


def predict_sum(features, mask, mean, std, models: ModelSet, out: np.ndarray, device="cpu", progress=None,
                familiarity: Optional[Familiarity] = None):
    """`features` (n_tissue, C): the tissue superpixels of `mask` in row-major order (artifacts/features.py).
    out (G, n_tissue) receives the sum over folds of counts per superpixel; with `familiarity` (its novelty
    assessed by assess_novelty), where tissue is novel and familiarity.lean, the colour ridge's share."""
    ensemble = Ensemble(models, device)
    dev = ensemble.device
    mean_t = torch.from_numpy(np.asarray(mean, np.float32)).to(dev)
    std_t = torch.from_numpy(_std(std)).to(dev)
    fam = familiarity
    if fam is not None:
        fam_mean, fam_std = torch.from_numpy(np.asarray(fam.mean, np.float32)).to(dev), torch.from_numpy(
            _std(fam.std)).to(dev)
        colour = {k: v.to(dev) for k, v in fam.colour.items()} if fam.colour is not None else None
    chunks = row_chunks(mask, chunk_size(dev, ensemble.n_models, len(models.genes)))
    total = int(mask.sum())
    release = PageReleaser(features)
    starts = row_starts(mask)

    def read(span):  # the tissue superpixels of whole grid rows: one contiguous block of the memmap
        r0, r1, _ = span
        x = torch.from_numpy(np.array(features[starts[r0]:starts[r1]]))  # a copy: read here, on the prefetch thread
        return x.pin_memory() if dev.type == "cuda" else x

    def write(start, sums: HostCopy):  # (G, n): gene-major like the memmap
        y = sums.numpy()
        out[:, start:start + y.shape[1]] = y
        release()

    done = 0
    with BackgroundWriter() as writer:
        for (_, _, n), x16 in zip(chunks, prefetch(read, chunks, workers=1, depth=2)):
            y = ensemble.sum(standardise_on(dev, x16, mean_t, std_t))
            if fam is not None:  # its novelty was assessed before (assess_novelty)
                ratio = fam.ratio[done:done + n]
                w = fallback_weight(ratio) if fam.lean and colour is not None else np.zeros_like(ratio)
                fam.weight[done:done + n] = w
                if w.any():
                    zt = standardise_on(dev, x16, fam_mean, fam_std)
                    w_t = torch.from_numpy(w).to(dev)[:, None]
                    y = y.mul_(1 - w_t).add_(ridge.apply(zt, colour).mul_(w_t * ensemble.n_models))
            y = y.T
            # a GPU transposes in no time, and rows then copy whole; the CPU leaves it to the writer thread
            writer.submit(write, done, HostCopy(y.contiguous() if dev.type == "cuda" else y))
            done += n
            if progress:
                progress(done, total)
    return ensemble.n_models
