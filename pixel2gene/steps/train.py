"""Train the fold models, one per fold (all folds of the task at once), and choose their form by CV.

`--select auto` (the default) trains the fold MLPs and the fold ridges and keeps whichever of ridge,
MLP and their blends scores best out of fold (training/select.py), with the MLPs' weights from the epoch
that scores best out of fold (--epochs is the most it trains); `mlp` and `ridge` fix the form.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Literal

import time

import numpy as np
import torch

from .. import __version__
from ..artifacts.model import Model
from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..model.mlp import DEPTH, HIDDEN
from ..tool.device import DEVICE_HELP, resolve_device
from ..tool.progress import Progress, say
from ..tool.stamps import input_stamp
from ..training.data import load_trainsets, pooled_channel_stats
from ..training.select import select_model
from ..training.trainer import DEFAULT_WEIGHT_DECAY, TrainConfig, train_folds

DEFAULT_EPOCHS = 100


@dataclass
class Args:
    data: List[str] = field(metadata=dict(nargs="+", upstream=TrainingSet,
                                          help="output directories of p2g-folds (training samples)"))
    out: str = field(metadata=dict(role="runtime", help="output directory of this step"))
    folds: str = field(default="all", metadata=dict(help="folds to train here: 'all' or a list like 0,1,2"))
    epochs: int = field(default=DEFAULT_EPOCHS, metadata=dict(
        help="passes over the training bins; with --select auto the most: the epoch kept is chosen by CV"))
    batch: int = field(default=0, metadata=dict(help="bins per step (0: min(128, max(32, n/16)))"))
    lr: float = field(default=0.0, metadata=dict(help="Adam learning rate (0: by number of bins)"))
    weight_decay: float = field(default=DEFAULT_WEIGHT_DECAY, metadata=dict(
        help="decoupled (AdamW) weight decay of the MLPs: weights shrink by lr x this per step"))
    superpixels_per_bin: int = field(default=16, metadata=dict(
        help="superpixels sampled from each bin's disk per step"))
    seed: int = field(default=0, metadata=dict(help="random seed (a CPU run repeats exactly)"))
    select: Literal["auto", "mlp", "ridge"] = field(default="auto", metadata=dict(
        help="fold models: auto (ridge, MLP or a blend, whichever scores best by spatial CV on the training "
             "bins), mlp, or ridge (penalty by CV)"))
    device: str = field(default="auto", metadata=dict(role="runtime", help=DEVICE_HELP))
    threads: int = field(default=0, metadata=dict(role="runtime", help="CPU threads for torch (0 = all cores)"))


def parse_folds(text: str, n_folds: int) -> List[int]:
    if text == "all":
        return list(range(n_folds))
    try:
        folds = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise InputError("--folds", f"'{text}' is not a list of fold numbers", "write e.g. 0,1,2 or all") from None
    bad = [f for f in folds if not 0 <= f < n_folds]
    if bad or not folds:
        raise InputError("--folds", f"fold {bad[0] if bad else '(none)'} does not exist",
                         f"choose folds from 0 to {n_folds - 1}")
    return folds


def run(args: Args) -> Model:
    out = Path(args.out)
    params = input_stamp(args)
    device = resolve_device(args.device)
    if Model.is_finished(out, params):
        say(f"train: reusing {out}")
        return Model(out)
    if args.epochs < 1:
        raise InputError("--epochs", f"{args.epochs} epochs would train nothing", "give --epochs 1 or more")
    if not 0 <= args.weight_decay <= 100 or args.lr * args.weight_decay >= 1:
        raise InputError("--weight-decay", f"{args.weight_decay} is negative or so large that a step would "
                         "wipe the weights", "give a decay from 0 to 100 (and below 1 / --lr)")
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [TrainingSet(d) for d in args.data]
    data = load_trainsets(sets)
    folds = parse_folds(args.folds, data.n_folds)
    cfg = TrainConfig(epochs=args.epochs, batch=args.batch, lr=args.lr,
                      superpixels_per_bin=args.superpixels_per_bin, seed=args.seed,
                      weight_decay=args.weight_decay)
    say(f"train: {len(folds)} fold model(s) on {len(data.fold)} bins x {len(data.genes)} genes, "
        f"{data.features.shape[2]} features, {device}, --select {args.select}")
    if args.select == "ridge" and data.n_folds < 2:
        raise InputError("--select", "ridge chooses its penalty by spatial CV, and one fold holds nothing out",
                         "use --n-folds 2 or more, or --select mlp")
    result = None
    if args.select != "ridge":
        result = train_folds(data, folds, cfg, device, Progress("train"))
        final_val = result.curves["val"][-1]
        say(f"train: MLPs done in {result.seconds:.0f} s; validation loss per fold "
            + " ".join("-" if v is None else f"{v:.4f}" for v in final_val))
    t0 = time.time()
    chosen = select_model(data, folds, args.select, result, args.seed, say)
    chosen.record["seconds"] = round(time.time() - t0, 2)
    gene_min = result.gene_min if result else data.density.min(0)
    gene_max = result.gene_max if result else data.density.max(0)
    mlp_states = dict(zip(result.folds, result.states_at(chosen.mlp_epoch))) if result else {}
    seconds = (result.seconds if result else 0.0) + chosen.record["seconds"]
    with Model.create(out, params) as folder:
        for f in folds:
            folder.save_fold(f, chosen.fold_state(f, mlp_states.get(f)))
        if chosen.full_ridge is not None:
            folder.save_full_ridge(chosen.full_ridge)
        folder.gene_min.write(gene_min, np.float32)
        folder.gene_max.write(gene_max, np.float32)
        folder.write_channel_stats(*pooled_channel_stats(sets))  # for p2g-predict --standardise training
        folder.record.write({
            "folds": folds, "n_folds": data.n_folds, "genes": data.genes, "samples": data.samples,
            "n_features": int(data.features.shape[2]), "hidden": HIDDEN, "depth": DEPTH,
            "target": "counts per tissue superpixel, min-max scaled per gene (MLP); counts per superpixel (ridge)",
            "selection": chosen.record,
            "config": dict(result.config if result else {}, select=args.select),
            "curves": result.curves if result else {}, "seconds": round(seconds, 2),
            "device": device, "torch": torch.__version__, "version": __version__})
    return Model(out)
