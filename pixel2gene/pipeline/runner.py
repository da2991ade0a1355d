"""The whole chain on one machine, without Nextflow: p2g-run.

It calls the same step functions as the bin/ tools, so a local run and a
pipeline run produce the same files. Intermediate results live under
OUTDIR/work/ and are reused when a run is repeated; each prediction sample's
results land in OUTDIR/<sample>/.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from .. import __version__
from ..errors import InputError
from ..io.outputs import write_json
from ..io.sample import locate, locate_truth
from ..steps import combine, evaluate, export, features, folds, genes, mask, maps, predict, report, rescale
from ..steps import train as training
from .progress import say


@dataclass
class Args:
    train: List[str] = field(metadata=dict(nargs="+", help="prefix of a measured sample to learn from (repeatable)"))
    predict: List[str] = field(metadata=dict(nargs="+", help="prefix of a sample to predict (repeatable); "
                                                             "a training sample here is enhanced"))
    outdir: str = field(metadata=dict(help="results go to OUTDIR/<sample>/, intermediates to OUTDIR/work/"))
    device: str = field(default="cpu", metadata=dict(help="cpu, cuda or cuda:N"))
    encoder: str = field(default=features.DEFAULT_ENCODER, metadata=dict(help="histology encoder"))
    weights: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="checkpoints the encoder needs (hipt: vit256_small_dino.pth vit4k_xs_dino.pth)"))
    shift_average: bool = field(default=False, metadata=dict(help="hipt: average 16 shifted runs (16x slower)"))
    random_init: bool = field(default=False, metadata=dict(
        help="encoder with random weights instead of checkpoints (tests and benchmarks only)"))
    n_genes: int = field(default=1000, metadata=dict(help="predict the N genes with the highest total count"))
    gene_list: Optional[str] = field(default=None, metadata=dict(help="file with genes to predict, one per line"))
    n_folds: int = field(default=10, metadata=dict(help="spatial folds, one model each"))
    epochs: int = field(default=training.DEFAULT_EPOCHS, metadata=dict(help="training epochs per fold"))
    qc: str = field(default="auto", metadata=dict(choices=["auto", "on", "off"], help="low-count bin QC"))
    seed: int = field(default=0, metadata=dict(help="random seed (a CPU run repeats exactly)"))
    threads: int = field(default=0, metadata=dict(help="CPU threads for torch (0 = all cores)"))
    truth: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="SAMPLE=PREFIX: measured truth (cnts + locs-raw) to score a predicted sample against"))
    map_genes: List[str] = field(default_factory=list, metadata=dict(nargs="*", help="genes to draw as maps"))
    map_top: int = field(default=12, metadata=dict(help="also draw the N genes with the highest training counts"))


class Timer:
    def __init__(self):
        self.steps = []

    def run(self, label, fn, *a):
        t0 = time.time()
        result = fn(*a)
        self.steps.append({"step": label, "seconds": round(time.time() - t0, 2)})
        return result


def _samples(prefixes, need_counts):
    out = {}
    for p in prefixes:
        files = locate(p, need_counts=need_counts)
        if files.name in out and out[files.name].prefix != files.prefix:
            raise InputError(p, f"sample name '{files.name}' is used by two prefixes",
                             "give each sample a distinct folder or prefix")
        out[files.name] = files
    return out


def _truths(entries, preds):
    out = {}
    for entry in entries:
        name, sep, prefix = entry.partition("=")
        if not sep or not prefix:
            raise InputError("--truth", f"'{entry}' is not SAMPLE=PREFIX", "write e.g. --truth C3=data/C3/truth/")
        if name not in preds:
            raise InputError("--truth", f"'{name}' is not a predicted sample", "name a sample given with --predict")
        out[name] = locate_truth(prefix)
    return out


def _results(step, args, name, w, outdir, model_dir, truth, trained):
    """What a user opens: the .h5ad, the maps and, where truth exists, the accuracy tables (returned)."""
    result = str(outdir / name)
    evals = []
    step(f"export {name}", export.run, export.Args(result=result, rescaled=str(w / "rescale"),
                                                   out=str(outdir / f"{name}.h5ad")))
    step(f"maps {name}", maps.run, maps.Args(result=result, rescaled=str(w / "rescale"),
                                             out=str(outdir / "figures" / name),
                                             folds=str(w / "folds") if trained else None,
                                             genes=args.map_genes, top=args.map_top))
    if trained:
        step(f"evaluate {name} (held-out folds)", evaluate.run, evaluate.Args(
            rescaled=str(w / "rescale"), mask=str(w / "mask"), out=str(outdir / "evaluation" / f"{name}.held-out"),
            folds=str(w / "folds"), model=[str(model_dir)], device=args.device))
        evals.append(outdir / "evaluation" / f"{name}.held-out")
    if truth:
        step(f"evaluate {name} (truth)", evaluate.run, evaluate.Args(
            rescaled=str(w / "rescale"), mask=str(w / "mask"), out=str(outdir / "evaluation" / f"{name}.truth"),
            result=result, truth_counts=str(truth.counts), truth_locs=str(truth.locs),
            truth_diameter_um=truth.diameter_um or 0.0))
        evals.append(outdir / "evaluation" / f"{name}.truth")
    return evals


def run(args: Args) -> Path:
    t0 = time.time()
    outdir = Path(args.outdir)
    work = outdir / "work"
    trains = _samples(args.train, need_counts=True)
    preds = _samples(args.predict, need_counts=False)
    for name, f in preds.items():
        if name in trains and trains[name].prefix != f.prefix:
            raise InputError(f.prefix, f"sample name '{name}' is also a different training sample",
                             "rename one of the folders")
    every = {**preds, **trains}
    truths = _truths(args.truth, preds)
    timer = Timer()
    n_steps = (3 * len(every) + 1 + len(trains) + 1 + 5 * len(preds)
               + len(truths) + len([n for n in preds if n in trains]))
    k = [0]

    def step(label, fn, a):
        k[0] += 1
        say(f"step {k[0]}/{n_steps}: {label}")
        return timer.run(label, fn, a)

    dirs = {}
    for name, f in every.items():
        w = work / name
        step(f"rescale {name}", rescale.run, rescale.Args(prefix=f.prefix, out=str(w / "rescale"),
                                                            train=name in trains))
        step(f"mask {name}", mask.run, mask.Args(rescaled=str(w / "rescale"), out=str(w / "mask")))
        step(f"features {name}", features.run, features.Args(
            rescaled=str(w / "rescale"), mask=str(w / "mask"), out=str(w / f"features-{args.encoder}"),
            encoder=args.encoder, device=args.device, threads=args.threads, weights=args.weights,
            shift_average=args.shift_average, random_init=args.random_init))
        dirs[name] = w
    step("genes", genes.run, genes.Args(counts=[str(f.counts) for f in trains.values()], out=str(work / "genes"),
                                        n_genes=args.n_genes, gene_list=args.gene_list))
    for name in trains:
        w = dirs[name]
        step(f"folds {name}", folds.run, folds.Args(
            rescaled=str(w / "rescale"), mask=str(w / "mask"), features=str(w / f"features-{args.encoder}"),
            genes=str(work / "genes"), out=str(w / "folds"), n_folds=args.n_folds, qc=args.qc, seed=args.seed))
    model_dir = work / "model"
    step("train", training.run, training.Args(data=[str(dirs[n] / "folds") for n in trains], out=str(model_dir),
                                         epochs=args.epochs, seed=args.seed, device=args.device,
                                         threads=args.threads))
    evals_of = {}
    for name in preds:
        w = dirs[name]
        step(f"predict {name}", predict.run, predict.Args(
            features=str(w / f"features-{args.encoder}"), mask=str(w / "mask"), model=[str(model_dir)],
            out=str(w / "pred"), device=args.device, threads=args.threads))
        step(f"combine {name}", combine.run, combine.Args(pred=[str(w / "pred")], rescaled=str(w / "rescale"),
                                                            mask=str(w / "mask"), out=str(outdir / name)))
        evals_of[name] = _results(step, args, name, w, outdir, model_dir, truths.get(name), name in trains)
    write_json(outdir / "run.json", {"version": __version__, "args": vars(args), "steps": timer.steps,
                                     "seconds": round(time.time() - t0, 2),
                                     "outputs": {n: str(outdir / n) for n in preds}})
    for name in preds:  # last, so the reports carry the whole run's record
        w = dirs[name]
        stamped = [w / "rescale", w / "mask", w / f"features-{args.encoder}"] + \
            ([w / "folds"] if name in trains else []) + [model_dir, w / "pred", outdir / name,
                                                        outdir / "figures" / name]
        evals = evals_of[name]  # this run's only: an older run's truth must not reappear
        step(f"report {name}", report.run, report.Args(
            result=str(outdir / name), out=str(outdir / f"{name}.html"), maps=str(outdir / "figures" / name),
            evaluation=[str(e) for e in evals], model=[str(model_dir)], steps=[str(d) for d in stamped + evals],
            params=str(outdir / "run.json")))
    say(f"done in {time.time() - t0:.0f} s: " + ", ".join(str(outdir / n) for n in preds))
    return outdir
