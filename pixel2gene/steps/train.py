"""Train the fold MLPs of a task (some or all folds, at once), keeping each at the epochs p2g-select chooses from.

The model's form (ridge, MLP or a blend, the colour share and the epoch kept) is chosen afterwards by
p2g-select, from the out-of-fold scores of every fold of every task (training/select.py): a task holding
only some folds must not choose it, or the maps would depend on how folds were grouped into tasks.
`--select ridge` trains nothing here (the ridge is fitted in closed form by p2g-select).
"""
from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch

from .. import __version__
from ..artifacts.trained import TrainedFolds
from ..artifacts.trainset import TrainingSet
from ..choices import Select
from ..errors import InputError
from ..tool.device import resolve_device
from ..tool.options import device_field, out_field, threads_field, upstream_field
from ..tool.progress import Progress, say
from ..tool.stamps import start
from ..training.data import load_trainsets
from ..training.trainer import TrainConfig, train_folds

DEFAULT = TrainConfig()  # the training settings' defaults, declared once (training/trainer.py)
MAX_WEIGHT_DECAY = 100.0  # ten times the CV-chosen default: beyond it a step wipes the weights at usual rates


@dataclass
class Args:
    trainset: List[str] = upstream_field(TrainingSet, "(one per training sample)", nargs="+", renamed_from="--data")
    out: str = out_field()
    folds: str = field(default="all", metadata=dict(help="folds to train here: 'all' or a list like 0,1,2"))
    epochs: int = field(default=DEFAULT.epochs, metadata=dict(
        least=1, help="training epochs per fold; with --select auto the most: the epoch kept is chosen by CV"))
    batch: int = field(default=DEFAULT.batch, metadata=dict(least=0, help="bins per step (0: min(128, max(32, n/16)))"))
    lr: float = field(default=DEFAULT.lr, metadata=dict(least=0, help="Adam learning rate (0: by number of bins)"))
    weight_decay: float = field(default=DEFAULT.weight_decay, metadata=dict(
        least=0, most=MAX_WEIGHT_DECAY,
        help="decoupled (AdamW) weight decay of the MLPs: weights shrink by lr x this per step"))
    superpixels_per_bin: int = field(default=DEFAULT.superpixels_per_bin, metadata=dict(
        least=1, help="superpixels sampled from each bin's disk per step"))
    seed: int = field(default=DEFAULT.seed, metadata=dict(help="random seed (a CPU run repeats exactly)"))
    select: str = field(default=Select.AUTO.value, metadata=dict(
        choices=Select.values(), help="fold models: auto (ridge, MLP or a blend, whichever scores best by spatial "
                                      "CV on the training bins), mlp, or ridge (penalty by CV); p2g-select "
                                      "chooses, from every task's folds"))
    device: str = device_field()
    threads: int = threads_field()


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


def check_rates(args) -> None:
    """Decay and learning rate together: a step must not shrink the weights by all they are."""
    if args.lr * args.weight_decay >= 1:
        raise InputError("--weight-decay", f"{args.weight_decay} with --lr {args.lr} wipes the weights every step",
                         "give a decay below 1 / --lr")


def run(args: Args) -> TrainedFolds:
    out, params, done = start(TrainedFolds, args)
    if done:
        return done
    check_rates(args)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [TrainingSet(d) for d in args.trainset]
    data = load_trainsets(sets)
    folds = parse_folds(args.folds, data.n_folds)
    cfg = TrainConfig(epochs=args.epochs, batch=args.batch, lr=args.lr,
                      superpixels_per_bin=args.superpixels_per_bin, seed=args.seed,
                      weight_decay=args.weight_decay)
    if args.select == Select.RIDGE and data.n_folds < 2:
        raise InputError("--select", "ridge chooses its penalty by spatial CV, and one fold holds nothing out",
                         "use --n-folds 2 or more, or --select mlp")
    result = None
    if args.select != Select.RIDGE:
        say(f"train: {len(folds)} fold MLP(s) on {len(data.fold)} bins x {len(data.genes)} genes, "
            f"{data.features.shape[2]} features, {device}")
        result = train_folds(data, folds, cfg, device, Progress("train"))
        final_val = result.curves["val"][-1]
        say(f"train: MLPs done in {result.seconds:.0f} s; validation loss per fold "
            + " ".join("-" if v is None else f"{v:.4f}" for v in final_val))
    epochs = sorted(result.snapshots) if result else []
    with TrainedFolds.create(out, params) as folder:
        for e in epochs:
            for f, state in zip(result.folds, result.snapshots[e]):
                folder.save_mlp(f, e, state)
        folder.gene_min.write(result.gene_min if result else data.density.min(0), np.float32)
        folder.gene_max.write(result.gene_max if result else data.density.max(0), np.float32)
        folder.record.write({
            "folds": folds, "n_folds": data.n_folds, "genes": data.genes, "samples": data.samples,
            "select": args.select, "seed": args.seed, "epochs": epochs,
            "fold_curves": {str(f): c for f, c in result.fold_curves.items()} if result else {},
            "config": result.config if result else {}, "seconds": round(result.seconds, 2) if result else 0.0,
            "device": device, "torch": torch.__version__, "version": __version__})
    return TrainedFolds(out)
