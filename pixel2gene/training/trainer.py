"""Train one MLP per fold, all folds at once, on superpixel-disk means.

The loss is the squared error between the mean prediction over a bin's
tissue superpixels and the bin's scaled counts per superpixel. For a spot
with ~100 superpixels, each step averages a random subset of them: an
unbiased estimate of the disk mean at a fraction of the cost.

Each fold is its own experiment: its own random streams (initial weights,
bins and superpixels drawn), its own batch size, learning rate and number
of steps from its own training set. Folds that share a batch size are
stacked into one batched model; a fold that has done its steps stops
changing. So a fold's model is the same whether it is trained alone or
beside any other folds (bit for bit on the CPU).
"""
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..model.mlp import StackedMLP, gene_span
from .data import TrainData
from .optim import StackedAdam

N_EVAL_POINTS = 20
# Fractions of the run at which every fold's weights are kept, so that the number of epochs can be chosen
# afterwards by the folds' out-of-fold scores (training/select.py) without a second pass. Fixed a priori.
CHECKPOINTS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
# Decoupled weight decay of the fold MLPs: chosen by spatial CV on HER2ST C2 from 0, 0.1, 1 and 10
# (docs/benchmarks.md, "Context passes and weight decay by CV on C2").
DEFAULT_WEIGHT_DECAY = 10.0


@dataclass
class TrainConfig:
    """The training settings; their defaults are p2g-train's (steps/train.py reads them from here)."""
    epochs: int = 100           # the most: with --select auto the epoch kept is chosen by CV
    batch: int = 0              # 0: default_batch(n) of each fold
    lr: float = 0.0             # 0: default_lr(n) of each fold
    superpixels_per_bin: int = 16  # a bin's disk mean is estimated from this many of its superpixels per step
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    seed: int = 0
    eval_every: int = 0          # steps between validation points (0: 20 per fold)
    checkpoints: Tuple[float, ...] = CHECKPOINTS  # fractions of the run whose weights are kept


@dataclass
class TrainResult:
    states: List[dict]
    folds: List[int]
    gene_min: np.ndarray
    gene_max: np.ndarray
    curves: dict = field(default_factory=dict)
    seconds: float = 0.0
    config: dict = field(default_factory=dict)
    snapshots: Dict[float, List[dict]] = field(default_factory=dict)  # epoch -> states (fold order); last = states
    fold_curves: Dict[int, dict] = field(default_factory=dict)  # fold -> its own curve (merge_curves joins them)

    def states_at(self, epoch: Optional[float]) -> List[dict]:
        """The fold states kept at `epoch` (None: the last). An epoch that was not kept is an error, not
        the last weights: a model saved under the wrong epoch would be silently not the one chosen."""
        if epoch is None:
            return self.states
        if epoch not in self.snapshots:
            raise KeyError(f"no weights kept at epoch {epoch:g}; kept: {sorted(self.snapshots)}")
        return self.snapshots[epoch]

    @property
    def last_epoch(self) -> Optional[float]:
        return max(self.snapshots) if self.snapshots else None


@dataclass
class FoldPlan:
    fold: int
    train: torch.Tensor   # bin indices it learns from
    val: torch.Tensor     # bin indices it is validated on
    batch: int
    lr: float
    steps: int
    seed: int
    eval_steps: List[int]
    keep_steps: Dict[int, List[float]] = field(default_factory=dict)  # step -> epochs whose weights it is


def scaled_targets(density: np.ndarray, gene_min: np.ndarray, gene_max: np.ndarray,
                   chunk: int = 1 << 14) -> np.ndarray:
    """(density - min) / span as float32, by row chunks: whole-array arithmetic would hold two more
    bins x genes temporaries (1.6 GB each for a Visium HD section's 400k bins x 1000 genes)."""
    span = gene_span(gene_min, gene_max)
    out = np.empty(density.shape, np.float32)
    for s in range(0, len(density), chunk):
        np.divide(density[s:s + chunk] - gene_min, span, out=out[s:s + chunk])
    return out


def default_lr(n_bins: int) -> float:
    """The reference's schedule by data size, but 3e-4 for small sets, where the batch is larger (below)."""
    return 3e-4 if n_bins < 10_000 else (1e-5 if n_bins <= 500_000 else 1e-6)


def default_batch(n_bins: int) -> int:
    """min(128, n/16) as in the reference, but at least 32 bins (tiny batches of spot data only make CPU
    steps slower, docs/benchmarks.md), rounded down to a power of two so that folds of similar size
    share a batch size and train in one stack."""
    b = int(max(32, min(128, n_bins // 16)))
    return 1 << (b.bit_length() - 1)


def fold_seed(seed: int, fold: int) -> int:
    """A well-mixed seed for one fold's streams, from the run's seed and the fold number only."""
    return int(np.random.SeedSequence([seed, fold]).generate_state(1, np.uint64)[0] >> 1)


def plan_folds(data: TrainData, folds: List[int], cfg: TrainConfig, device) -> List[FoldPlan]:
    fold = torch.from_numpy(np.asarray(data.fold)).to(device)
    plans = []
    for f in folds:
        train = torch.nonzero(fold != f).ravel() if data.n_folds > 1 else torch.arange(len(fold), device=device)
        n = len(train)
        batch = cfg.batch or default_batch(n)
        steps = max(1, cfg.epochs * math.ceil(n / batch))
        every = cfg.eval_every or max(1, steps // N_EVAL_POINTS)
        evals = sorted(set(range(every, steps + 1, every)) | {steps})
        plans.append(FoldPlan(f, train, torch.nonzero(fold == f).ravel(), batch, cfg.lr or default_lr(n),
                              steps, fold_seed(cfg.seed, f), evals, keep_steps(cfg, steps)))
    return plans


def checkpoint_epochs(cfg: TrainConfig) -> List[float]:
    """The epochs whose weights are kept (the last is always cfg.epochs)."""
    return sorted({round(fr * cfg.epochs, 3) for fr in cfg.checkpoints if 0 < fr < 1} | {float(cfg.epochs)})


def keep_steps(cfg: TrainConfig, steps: int) -> Dict[int, List[float]]:
    """step -> the checkpoint epochs that fall on it (short runs put several on one step)."""
    out = {}
    for e in checkpoint_epochs(cfg):
        out.setdefault(min(steps, max(1, round(e / cfg.epochs * steps))), []).append(e)
    return out


def train_folds(data: TrainData, folds: List[int], cfg: TrainConfig, device: str = "cpu",
                progress: Optional[Callable] = None) -> TrainResult:
    t0 = time.time()
    dev = torch.device(device)
    gene_min = data.density.min(0)
    gene_max = data.density.max(0)
    tensors = dict(target=torch.from_numpy(scaled_targets(data.density, gene_min, gene_max)).to(dev),
                   x=torch.from_numpy(data.features).to(dev), valid=torch.from_numpy(data.valid).to(dev))
    tensors["n_valid"] = tensors["valid"].sum(1)
    plans = plan_folds(data, folds, cfg, dev)
    groups = {}
    for p in plans:  # folds of one batch size form one stack
        groups.setdefault(p.batch, []).append(p)
    total, done = sum(p.steps for p in plans), [0]

    def tick(n):
        done[0] += n
        if progress:
            progress(done[0], total)

    states, curves, kept = {}, {}, {}
    for group in groups.values():
        for p, state, curve, snaps in zip(group, *_train_stack(group, tensors, cfg, dev, tick)):
            states[p.fold], curves[p.fold], kept[p.fold] = state, curve, snaps
    config = dict(vars(cfg), checkpoints=list(cfg.checkpoints),
                  superpixels_per_bin=min(cfg.superpixels_per_bin, data.features.shape[1]),
                  per_fold={p.fold: dict(batch=p.batch, lr=p.lr, steps=p.steps, seed=p.seed) for p in plans})
    epochs = checkpoint_epochs(cfg)
    snapshots = {e: [kept[f].get(e, states[f]) for f in folds] for e in epochs}
    return TrainResult([states[f] for f in folds], list(folds), gene_min, gene_max,
                       merge_curves([curves[f] for f in folds]), time.time() - t0, config, snapshots,
                       {f: curves[f] for f in folds})


def _train_stack(plans: List[FoldPlan], t: dict, cfg: TrainConfig, dev, tick):
    """One batched model for folds of one batch size; returns (states, curves, kept weights by epoch) in plan
    order."""
    m, batch = len(plans), plans[0].batch
    n, k, c = t["x"].shape
    s = min(cfg.superpixels_per_bin, k)
    init = [torch.Generator().manual_seed(p.seed) for p in plans]  # CPU: the same weights on any device
    draw = [torch.Generator(device=dev).manual_seed(p.seed + 1) for p in plans]
    model = StackedMLP(m, c, t["target"].shape[1], generators=init).to(dev)
    opt = StackedAdam(list(model.parameters()), lr=[p.lr for p in plans], weight_decay=cfg.weight_decay)
    last = torch.tensor([p.steps for p in plans], device=dev)
    first_end = min(p.steps for p in plans)
    curves = [{"epoch": [], "train": [], "val": []} for _ in plans]
    kept = [{} for _ in plans]
    running = torch.zeros(m, device=dev)
    since = [0] * m
    for step in range(1, max(p.steps for p in plans) + 1):
        bins = torch.stack([p.train[torch.randint(len(p.train), (batch,), generator=g, device=dev)]
                            for p, g in zip(plans, draw)])
        u = torch.stack([torch.rand((batch, s), generator=g, device=dev) for g in draw])
        pos = (u * t["n_valid"][bins][..., None]).long()
        x = t["x"][bins[..., None], pos].float().view(m, batch * s, c)
        pred = model(x).view(m, batch, s, -1).mean(2)
        loss = ((pred - t["target"][bins]) ** 2).mean(dim=(1, 2))
        opt.zero_grad()
        loss.sum().backward()
        active = step <= last
        opt.step(active, step, all_active=step <= first_end)
        running += torch.where(active, loss.detach(), torch.zeros_like(running))
        tick(int(sum(step <= p.steps for p in plans)))
        for i, p in enumerate(plans):
            if step in p.keep_steps and step < p.steps:  # the last step's weights are the final state
                state = model.model_state(i)
                kept[i].update((e, state) for e in p.keep_steps[step])
        due = [i for i, p in enumerate(plans) if step in p.eval_steps]
        for i in range(m):
            since[i] += step <= plans[i].steps
        if due:  # evaluation points are the only host synchronisations
            val = _validate(model, t, [plans[i].val if i in due else None for i in range(m)])
            train_loss = (running / torch.tensor([max(1, v) for v in since], device=dev)).cpu().tolist()
            for i in due:
                curves[i]["epoch"].append(round(step / plans[i].steps * cfg.epochs, 3))
                curves[i]["train"].append(train_loss[i])
                curves[i]["val"].append(val[i])
                running[i] = 0
                since[i] = 0
    return [model.model_state(i) for i in range(m)], curves, kept


def merge_curves(curves: List[dict]) -> dict:
    """Per-fold curves on one axis of epochs (rows: evaluation points, columns: folds)."""
    points = sorted({e for c in curves for e in c["epoch"]})

    def at(c, key, e):
        return c[key][c["epoch"].index(e)] if e in c["epoch"] else None

    return {"epoch": points, "train": [[at(c, "train", e) for c in curves] for e in points],
            "val": [[at(c, "val", e) for c in curves] for e in points]}


VAL_CHUNK = 1 << 13  # held-out bins per forward pass when scoring a fold


@torch.no_grad()
def _validate(model, t, val_sets, chunk: int = VAL_CHUNK):
    """Mean squared error of each fold's model on its held-out bins, by chunks of bins: a fold of a
    Visium HD section holds ~100k bins, whose float32 features and 1000-gene outputs at once take GBs."""
    out = []
    for m, idx in enumerate(val_sets):
        if idx is None or len(idx) == 0:
            out.append(None)
            continue
        total = 0.0
        for s in range(0, len(idx), chunk):
            part = idx[s:s + chunk]
            x = t["x"][part].float()  # (b, K, C)
            w = t["valid"][part].float()
            pred = model(x.reshape(1, -1, x.shape[-1]), model=m).view(len(part), x.shape[1], -1)
            mean = (pred * w[..., None]).sum(1) / w.sum(1, keepdim=True)
            total += float(((mean - t["target"][part]) ** 2).sum(dtype=torch.float64))
        out.append(total / (len(idx) * t["target"].shape[1]))
    return out
