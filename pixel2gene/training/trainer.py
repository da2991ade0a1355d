"""Train one MLP per fold, all folds at once, on superpixel-disk means.

The loss is the squared error between the mean prediction over a bin's
tissue superpixels and the bin's scaled counts per superpixel. For a spot
with ~100 superpixels, each step averages a random subset of them: an
unbiased estimate of the disk mean at a fraction of the cost.
"""
import math
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np
import torch

from ..model.mlp import StackedMLP
from .data import TrainData


@dataclass
class TrainConfig:
    epochs: int = 100
    batch: int = 0              # 0: default_batch(n)
    lr: float = 0.0             # 0: default_lr(n)
    superpixels_per_bin: int = 16
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 0          # steps between validation points (0: 20 per run)


@dataclass
class TrainResult:
    states: List[dict]
    folds: List[int]
    gene_min: np.ndarray
    gene_max: np.ndarray
    curves: dict = field(default_factory=dict)
    seconds: float = 0.0
    config: dict = field(default_factory=dict)


def gene_span(gene_min: np.ndarray, gene_max: np.ndarray) -> np.ndarray:
    """Per-gene scale of the min-max targets (1 for genes that never vary)."""
    return np.where(gene_max > gene_min, gene_max - gene_min, 1.0).astype(np.float32)


def default_lr(n_bins: int) -> float:
    """The reference's schedule by data size, but 3e-4 for small sets, where the batch is larger (below)."""
    return 3e-4 if n_bins < 10_000 else (1e-5 if n_bins <= 500_000 else 1e-6)


def default_batch(n_bins: int) -> int:
    """min(128, n/16) as in the reference, but at least 32 bins: tiny batches of
    spot data only make CPU steps slower (measured on HER2ST, docs/benchmarks.md)."""
    return int(max(32, min(128, n_bins // 16)))


def seed_everything(seed: int):
    torch.manual_seed(seed)
    np.random.seed(seed)


def train_folds(data: TrainData, folds: List[int], cfg: TrainConfig, device: str = "cpu",
                progress: Optional[Callable] = None) -> TrainResult:
    t0 = time.time()
    seed_everything(cfg.seed)
    dev = torch.device(device)
    n, k, c = data.features.shape
    gene_min = data.density.min(0)
    gene_max = data.density.max(0)
    target = torch.from_numpy((data.density - gene_min) / gene_span(gene_min, gene_max)).to(dev)
    x_all = torch.from_numpy(data.features).to(dev)
    valid = torch.from_numpy(data.valid).to(dev)
    n_valid = valid.sum(1)
    fold = torch.from_numpy(data.fold).to(dev)
    train_sets = [torch.nonzero(fold != f).ravel() if data.n_folds > 1 else torch.arange(n, device=dev)
                  for f in folds]
    val_sets = [torch.nonzero(fold == f).ravel() for f in folds]
    n_train = min(len(t) for t in train_sets)
    batch = cfg.batch or default_batch(n_train)
    lr = cfg.lr or default_lr(n_train)
    s = min(cfg.superpixels_per_bin, k)
    steps = max(1, cfg.epochs * math.ceil(n_train / batch))
    eval_every = cfg.eval_every or max(1, steps // 20)

    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    model = StackedMLP(len(folds), c, target.shape[1]).to(dev)  # built on the CPU: same weights on any device
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    curves = {"step": [], "train": [], "val": []}
    running = torch.zeros(len(folds), device=dev)
    for step in range(1, steps + 1):
        bins = torch.stack([t[torch.randint(len(t), (batch,), generator=gen, device=dev)] for t in train_sets])
        pos = (torch.rand((len(folds), batch, s), generator=gen, device=dev) * n_valid[bins][..., None]).long()
        x = x_all[bins[..., None], pos].float().view(len(folds), batch * s, c)
        pred = model(x).view(len(folds), batch, s, -1).mean(2)
        loss = ((pred - target[bins]) ** 2).mean(dim=(1, 2))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        running += loss.detach()
        if step % eval_every == 0 or step == steps:
            curves["step"].append(step)
            curves["train"].append((running / eval_every).cpu().tolist())
            curves["val"].append(_validate(model, x_all, valid, target, val_sets))
            running.zero_()
            if progress:
                progress(step, steps)
    states = [model.model_state(m) for m in range(len(folds))]
    config = dict(vars(cfg), batch=batch, lr=lr, steps=steps, superpixels_per_bin=s)
    return TrainResult(states, list(folds), gene_min, gene_max, curves, time.time() - t0, config)


@torch.no_grad()
def _validate(model, x_all, valid, target, val_sets):
    out = []
    for m, idx in enumerate(val_sets):
        if len(idx) == 0:
            out.append(None)
            continue
        x = x_all[idx].float()  # (b, K, C)
        w = valid[idx].float()
        pred = model(x.reshape(1, -1, x.shape[-1]), model=m).view(len(idx), x.shape[1], -1)
        mean = (pred * w[..., None]).sum(1) / w.sum(1, keepdim=True)
        out.append(float(((mean - target[idx]) ** 2).mean()))
    return out

