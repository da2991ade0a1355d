"""Train the fold models, one per fold (all folds of the task at once), and choose their form by CV.

`--select auto` (the default) trains the fold MLPs and the fold ridges and keeps whichever of ridge,
MLP and their blends scores best out of fold (training/select.py), with the MLPs' weights from the epoch
that scores best out of fold (--epochs is the most it trains); `mlp` and `ridge` fix the form.
"""
from dataclasses import dataclass, field
import time
from typing import List

import numpy as np
import torch

from .. import __version__
from ..artifacts.model import Model
from ..artifacts.trainset import TrainingSet
from ..choices import Select
from ..errors import InputError
from ..model.mlp import DEPTH, HIDDEN
from ..tool.device import resolve_device
from ..tool.options import device_field, out_field, threads_field, upstream_field
from ..tool.progress import Progress, say
from ..tool.stamps import start
from ..training.data import load_trainsets, pooled_channel_stats
from ..model.novelty import fit as fit_novelty
from ..training.select import colour_fallback, scored_rows, select_model
from ..training.skill import gene_skill, skill_table, summary
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
                                      "CV on the training bins), mlp, or ridge (penalty by CV)"))
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


def run(args: Args) -> Model:
    out, params, done = start(Model, args)
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
    say(f"train: {len(folds)} fold model(s) on {len(data.fold)} bins x {len(data.genes)} genes, "
        f"{data.features.shape[2]} features, {device}, --select {args.select}")
    if args.select == Select.RIDGE and data.n_folds < 2:
        raise InputError("--select", "ridge chooses its penalty by spatial CV, and one fold holds nothing out",
                         "use --n-folds 2 or more, or --select mlp")
    result = None
    if args.select != Select.RIDGE:
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
    skill = gene_skill(data, chosen, result, scored_rows(data, folds, args.seed))
    novelty, fallback = fit_novelty(data.features, data.valid, data.fold, args.seed), colour_fallback(data, args.seed)
    if skill is not None:
        overall = summary(skill_table(data.genes, skill))
        say(f"train: {overall['skilful_genes']} of {overall['genes']} genes skilful out of fold (composition r "
            f">= {overall['skilful_r_threshold']}), median composition r {overall['median_cv_r_composition']}")
    seconds = (result.seconds if result else 0.0) + chosen.record["seconds"]
    with Model.create(out, params) as folder:
        for f in folds:
            folder.save_fold(f, chosen.fold_state(f, mlp_states.get(f)))
        if chosen.full_ridge is not None:
            folder.save_full_ridge(chosen.full_ridge)
        folder.gene_min.write(gene_min, np.float32)
        folder.gene_max.write(gene_max, np.float32)
        folder.write_channel_stats(*pooled_channel_stats(sets))  # for p2g-predict --standardise training
        if skill is not None:
            folder.skill.write(skill)
        folder.write_novelty(novelty)
        if fallback is not None:
            folder.save_colour_ridge(fallback)
        folder.record.write({
            "folds": folds, "n_folds": data.n_folds, "genes": data.genes, "samples": data.samples,
            "fold_block_um": sorted({ts.record.read()["block_um"] for ts in sets}),
            "n_features": int(data.features.shape[2]), "hidden": HIDDEN, "depth": DEPTH,
            "target": "counts per tissue superpixel, min-max scaled per gene (MLP); counts per superpixel (ridge)",
            "selection": chosen.record, "skill": overall if skill is not None else None,
            "config": dict(result.config if result else {}, select=args.select),
            "curves": result.curves if result else {}, "seconds": round(seconds, 2),
            "device": device, "torch": torch.__version__, "version": __version__})
    return Model(out)
