"""Choose the model's form once, from every fold of every training task: ridge, MLP or a blend, the colour
ridge's share and the MLPs' epoch, by spatial CV on the training bins (training/select.py); then write the
model prediction uses, with each gene's out-of-fold skill and the novelty model.

Every p2g-train task trained some folds; the choice here sees them all, so the model, and the maps, are
the same however the folds were grouped into tasks.
"""
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch

from .. import __version__
from ..artifacts.model import Model
from ..artifacts.trained import TrainedFolds
from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..model.mlp import DEPTH, HIDDEN
from ..model.novelty import fit as fit_novelty
from ..tool.options import out_field, threads_field, upstream_field
from ..tool.progress import say
from ..tool.stamps import start
from ..training.data import TrainData, load_trainsets, pooled_channel_stats
from ..training.select import colour_fallback, scored_rows, select_model
from ..training.skill import gene_skill, skill_table, summary
from ..training.trainer import TrainResult, merge_curves

SAME = ("genes", "n_folds", "samples", "select", "seed", "epochs")  # what every task of one run shares


@dataclass
class Args:
    trainset: List[str] = upstream_field(TrainingSet, "(the training sets p2g-train read, in the same order)",
                                         nargs="+")
    trained: List[str] = upstream_field(TrainedFolds, "(every training task of the run)", nargs="+")
    out: str = out_field()
    threads: int = threads_field()


def check_tasks(tasks: List[TrainedFolds], data: TrainData) -> List[dict]:
    """The tasks' records, once they are checked to be folds of one run on these training sets."""
    records = [t.record.read() for t in tasks]
    first = records[0]
    for task, rec in zip(tasks, records):
        differs = [k for k in SAME if rec[k] != first[k]]
        if differs:
            raise InputError(task.path, f"was trained with another {differs[0]} than {tasks[0].path}",
                             "give the p2g-train outputs of one run")
        if rec["genes"] != data.genes or rec["samples"] != data.samples:
            raise InputError(task.path, "was trained on other training sets than those given",
                             "give --trainset the p2g-folds outputs p2g-train read, in the same order")
    folds = [f for rec in records for f in rec["folds"]]
    if len(set(folds)) != len(folds):
        dup = next(f for f in folds if folds.count(f) > 1)
        raise InputError(tasks[0].path, f"fold {dup} was trained by two of the given tasks",
                         "give each p2g-train output once")
    return records


def gather(tasks: List[TrainedFolds], records: List[dict]) -> TrainResult:
    """Every task's fold MLPs, at every kept epoch, as one training result in fold order."""
    owner = {f: (t, rec) for t, rec in zip(tasks, records) for f in rec["folds"]}
    folds = sorted(owner)
    epochs = records[0]["epochs"]
    snapshots = {e: [owner[f][0].load_mlp(f, e) for f in folds] for e in epochs}
    curves = {f: owner[f][1]["fold_curves"][str(f)] for f in folds}
    per_fold = {k: v for rec in records for k, v in rec["config"]["per_fold"].items()}
    config = dict(records[0]["config"], per_fold=per_fold)
    return TrainResult(snapshots[epochs[-1]], folds, tasks[0].gene_min.read(), tasks[0].gene_max.read(),
                       merge_curves([curves[f] for f in folds]), sum(rec["seconds"] for rec in records), config,
                       snapshots, curves)


def run(args: Args) -> Model:
    out, params, done = start(Model, args)
    if done:
        return done
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = [TrainingSet(d) for d in args.trainset]
    data = load_trainsets(sets)
    tasks = [TrainedFolds.open(p, "--trained") for p in args.trained]
    records = check_tasks(tasks, data)
    info = records[0]  # what every task shares (SAME)
    folds = sorted(f for rec in records for f in rec["folds"])
    mlp: Optional[TrainResult] = gather(tasks, records) if info["epochs"] else None
    t0 = time.time()
    say(f"select: the form of {len(folds)} fold model(s) by spatial CV, --select {info['select']}")
    chosen = select_model(data, folds, info["select"], mlp, info["seed"], say)
    chosen.record["seconds"] = round(time.time() - t0, 2)
    mlp_states = dict(zip(mlp.folds, mlp.states_at(chosen.mlp_epoch))) if mlp else {}
    skill = gene_skill(data, chosen, mlp, scored_rows(data, folds, info["seed"]))
    novelty, fallback = fit_novelty(data.features, data.valid, data.fold, info["seed"], data.section), \
        colour_fallback(data, info["seed"])
    overall = summary(skill_table(data.genes, skill)) if skill is not None else None
    if overall:
        say(f"select: {overall['skilful_genes']} of {overall['genes']} genes skilful out of fold (composition r "
            f">= {overall['skilful_r_threshold']}), median composition r {overall['median_cv_r_composition']}")
    with Model.create(out, params) as folder:
        for f in folds:
            folder.save_fold(f, chosen.fold_state(f, mlp_states.get(f)))
        if chosen.full_ridge is not None:
            folder.save_full_ridge(chosen.full_ridge)
        folder.gene_min.write(tasks[0].gene_min.read(), np.float32)
        folder.gene_max.write(tasks[0].gene_max.read(), np.float32)
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
            "selection": chosen.record, "skill": overall,
            "config": dict(mlp.config if mlp else {}, select=info["select"]),
            "curves": mlp.curves if mlp else {}, "seconds": round((mlp.seconds if mlp else 0.0)
                                                                  + chosen.record["seconds"], 2),
            "training_tasks": len(tasks), "device": records[0]["device"],  # the training's; selection runs on the CPU
            "torch": torch.__version__, "version": __version__})
    return Model(out)
