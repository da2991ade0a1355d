"""The whole chain on one machine, without Nextflow: p2g-run.

It calls the same step functions as the bin/ tools, so a local run and a
pipeline run produce the same files. Intermediate results live under
OUTDIR/work/ and are reused when a run is repeated; each prediction sample's
results land in OUTDIR/<sample>/.
"""
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List, Optional

from .. import __version__
from ..artifacts.base import read_stamp
from ..artifacts.files import RunRecord
from ..artifacts.genes import Genes
from ..errors import InputError
from ..io.sample import locate, locate_truth
from ..steps import combine, evaluate, export, features, folds, genes, mask, maps, predict, report, rescale
from ..steps import train as training
from ..tool.device import DEVICE_HELP, describe, resolve_device
from ..tool.progress import say
from .layout import Layout, check_outdir, remove_work


@dataclass
class Args:
    train: List[str] = field(metadata=dict(nargs="+", help="prefix of a measured sample to learn from (repeatable)"))
    predict: List[str] = field(metadata=dict(nargs="+", help="prefix of a sample to predict (repeatable); "
                                                             "a training sample here is enhanced"))
    outdir: str = field(metadata=dict(help="results go to OUTDIR/<sample>/, intermediates to OUTDIR/work/"))
    device: str = field(default="auto", metadata=dict(help=DEVICE_HELP))
    encoder: str = field(default=features.DEFAULT_ENCODER, metadata=dict(
        choices=features.list_encoders(), help="histology encoder (docs/encoders.md)"))
    weights: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="checkpoints the encoder needs (hipt: vit256_small_dino.pth vit4k_xs_dino.pth)"))
    shift_average: bool = field(default=False, metadata=dict(help="hipt: average 16 shifted runs (16x slower)"))
    random_init: bool = field(default=False, metadata=dict(
        help="encoder with random weights instead of checkpoints (tests and benchmarks only)"))
    pale_tissue: bool = field(default=True, metadata=dict(
        help="detected tissue masks also keep pale tissue touching clearly stained tissue (--no-pale-tissue: "
             "only clearly stained tissue)"))
    context: str = field(default=features.DEFAULT_CONTEXT, metadata=dict(
        choices=list(features.CONTEXT_CHOICES), help="effnet: context passes beside the 1 µm/px one (µm per "
                                                     "network pixel), or none"))
    stain: str = field(default=features.DEFAULT_STAIN, metadata=dict(
        choices=list(features.STAIN_METHODS), help="stain normalisation of every slide before the encoder: none, "
                                                   "or macenko (one fixed reference H&E); bench/stain_shift.py"))
    augment: int = field(default=0, metadata=dict(
        help="colour augmentation: train also on N seeded stain/scanner-shifted copies of each training sample "
             "(features per copy; bench/stain_shift.py measures it)"))
    standardise: str = field(default="section", metadata=dict(
        choices=["section", "training"],
        help="standardise a predicted section's features with its own statistics (the method) or the training "
             "sets' (bench/stain_shift.py measures both)"))
    n_genes: int = field(default=1000, metadata=dict(help="predict the N genes with the highest total count"))
    min_count: float = field(default=genes.DEFAULT_MIN_COUNT, metadata=dict(
        help="leave out genes whose total count over the training samples is not above this"))
    gene_list: Optional[str] = field(default=None, metadata=dict(help="file with genes to predict, one per line"))
    n_folds: int = field(default=10, metadata=dict(help="spatial folds, one model each"))
    fold_block_um: float = field(default=folds.BLOCK_UM, metadata=dict(
        help="side of the spatial blocks that form the folds, in µm"))
    epochs: int = field(default=training.DEFAULT_EPOCHS, metadata=dict(
        help="training epochs per fold (with --select auto the most: the epoch kept is chosen by CV)"))
    select: str = field(default="auto", metadata=dict(
        choices=["auto", "mlp", "ridge"],
        help="fold models: auto (ridge, MLP or a blend, whichever scores best by spatial CV on the training "
             "bins), mlp, or ridge"))
    qc: str = field(default="auto", metadata=dict(choices=["auto", "on", "off"], help="low-count bin QC"))
    seed: int = field(default=0, metadata=dict(help="random seed (a CPU run repeats exactly)"))
    threads: int = field(default=0, metadata=dict(help="CPU threads for every step (0 = all cores)"))
    truth: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="SAMPLE=PREFIX: measured truth (cnts + locs-raw) to score a predicted sample against"))
    mask: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="SAMPLE=FILE: your own tissue mask for a sample (.png/.tif/.npy, nonzero = tissue)"))
    map_genes: List[str] = field(default_factory=list, metadata=dict(nargs="*", help="genes to draw as maps"))
    map_top: int = field(default=12, metadata=dict(help="also draw the N genes with the highest training counts"))
    keep_work: bool = field(default=True, metadata=dict(
        help="keep OUTDIR/work/ (rescaled images, features, models) so that a re-run reuses finished steps; "
             "--no-keep-work deletes this run's intermediates at the end"))


class Timer:
    def __init__(self):
        self.steps = []

    def run(self, label, fn, a):
        t0 = time.time()
        before = read_stamp(a.out)
        result = fn(a)
        reused = before is not None and before == read_stamp(a.out)
        self.steps.append({"step": label, "seconds": round(time.time() - t0, 2), "reused": reused})
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


def _per_sample(entries, option, form, example, samples, given_with):
    """SAMPLE=VALUE options as a dict; each SAMPLE must be one of `samples`."""
    out = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep or not value:
            raise InputError(option, f"'{entry}' is not {form}", f"write e.g. {option} {example}")
        if name not in samples:
            raise InputError(option, f"'{name}' is not a sample given with {given_with}",
                             f"name a sample given with {given_with}")
        out[name] = value
    return out


def _truths(entries, preds):
    return {name: locate_truth(prefix)
            for name, prefix in _per_sample(entries, "--truth", "SAMPLE=PREFIX", "C3=data/C3/truth/", preds,
                                                 "--predict").items()}


def _results(step, args, name, lay, truth, trained):
    """What a user opens: the .h5ad, the maps and, where truth exists, the accuracy tables (returned)."""
    result = str(lay.result(name))
    evals = []
    step(f"export {name}", export.run, export.Args(result=result, rescaled=str(lay.rescale(name)),
                                                   out=str(lay.h5ad(name))))
    step(f"maps {name}", maps.run, maps.Args(result=result, rescaled=str(lay.rescale(name)),
                                             out=str(lay.figures(name)),
                                             folds=str(lay.folds(name)) if trained else None,
                                             genes=args.map_genes, top=args.map_top))
    if trained and args.n_folds > 1:  # one fold holds nothing out
        step(f"evaluate {name} (held-out folds)", evaluate.run, evaluate.Args(
            rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)), out=str(lay.evaluation(name, "held-out")),
            folds=str(lay.folds(name)), model=[str(lay.model)], device=args.device))
        evals.append(lay.evaluation(name, "held-out"))
    if truth:
        step(f"evaluate {name} (truth)", evaluate.run, evaluate.Args(
            rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)), out=str(lay.evaluation(name, "truth")),
            result=result, truth_counts=str(truth.counts), truth_locs=str(truth.locs),
            truth_diameter_um=truth.diameter_um or 0.0))
        evals.append(lay.evaluation(name, "truth"))
    return evals


def _inputs(args, every, truths, masks):
    """Every path the run reads, so that no output can land on one."""
    paths = [Path(f.prefix) for f in every.values() if f.prefix.endswith("/")]
    for f in every.values():
        paths += [p for p in (f.image, f.counts, f.locs, f.pixel_size_raw, f.pixel_size, f.radius) if p and p.exists()]
    for t in truths.values():
        paths += [t.counts, t.locs]
    return paths + [Path(m) for m in masks.values()] + [Path(w) for w in args.weights] + \
        ([Path(args.gene_list)] if args.gene_list else [])


def _check_options(args: Args) -> None:
    """Options that would only fail late (after rescaling a slide, or after training) fail first."""
    from ..features import list_encoders
    if args.encoder not in list_encoders():
        raise InputError("--encoder", f"unknown encoder '{args.encoder}'",
                         f"choose one of {', '.join(list_encoders())}")
    if args.stain not in features.STAIN_METHODS:
        raise InputError("--stain", f"unknown stain normalisation '{args.stain}'",
                         f"choose one of {', '.join(features.STAIN_METHODS)}")
    for option, value, least in (("--epochs", args.epochs, 1), ("--n-genes", args.n_genes, 1),
                                 ("--n-folds", args.n_folds, 1), ("--map-top", args.map_top, 0),
                                 ("--threads", args.threads, 0), ("--augment", args.augment, 0)):
        if value < least:
            raise InputError(option, f"{value} is too small", f"give {option} {least} or more")
    if not args.fold_block_um > 0:
        raise InputError("--fold-block-um", f"a block side of {args.fold_block_um} µm",
                         "give a positive side, e.g. 512")
    if args.select == "ridge" and args.n_folds < 2:
        raise InputError("--select", "ridge chooses its penalty by spatial CV, and one fold holds nothing out",
                         "use --n-folds 2 or more, or --select mlp")
    for option, paths in (("--gene-list", [args.gene_list] if args.gene_list else []), ("--weights", args.weights)):
        for p in paths:
            if not Path(p).is_file():
                raise InputError(p, "file is missing", f"give {option} an existing file")


def _check_map_genes(args: Args, chosen: Genes) -> None:
    selected = set(chosen.names.read())
    unknown = [g for g in args.map_genes if g not in selected]
    if unknown:
        raise InputError("--map-genes", f"gene '{unknown[0]}' is not among the {len(selected)} genes to predict",
                         f"name genes from {chosen.names.path}, or add them with --gene-list")


def run(args: Args) -> Path:
    t0 = time.time()
    _check_options(args)
    given, args = args, replace(args, device=resolve_device(args.device))
    trains = _samples(args.train, need_counts=True)
    preds = _samples(args.predict, need_counts=False)
    for name, f in preds.items():
        if name in trains and trains[name].prefix != f.prefix:
            raise InputError(f.prefix, f"sample name '{name}' is also a different training sample",
                             "rename one of the folders")
    every = {**preds, **trains}
    truths = _truths(args.truth, preds)
    masks = _per_sample(args.mask, "--mask", "SAMPLE=FILE", "C3=data/C3-mask.png", every,
                        "--train or --predict")
    lay = Layout(args.outdir, args.encoder, args.augment)
    check_outdir(lay, _inputs(args, every, truths, masks), every, trains, preds, truths)
    say(f"device: {describe(args.device)}" + (" (chosen by --device auto)" if given.device == "auto" else ""))
    timer = Timer()
    n_steps = (3 * len(every) + 1 + len(trains) * (1 + 2 * args.augment) + 1 + 5 * len(preds)
               + len(truths) + (len([n for n in preds if n in trains]) if args.n_folds > 1 else 0))
    k = [0]

    def step(label, fn, a):
        k[0] += 1
        say(f"step {k[0]}/{n_steps}: {label}")
        return timer.run(label, fn, a)

    for name, f in every.items():
        step(f"rescale {name}", rescale.run, rescale.Args(prefix=f.prefix, out=str(lay.rescale(name)),
                                                            train=name in trains, threads=args.threads))
        step(f"mask {name}", mask.run, mask.Args(rescaled=str(lay.rescale(name)), out=str(lay.mask(name)),
                                                 mask=masks.get(name), pale_tissue=args.pale_tissue,
                                                 threads=args.threads))
        step(f"features {name}", features.run, features.Args(
            rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)), out=str(lay.features(name)),
            encoder=args.encoder, device=args.device, threads=args.threads, weights=args.weights,
            shift_average=args.shift_average, random_init=args.random_init, stain=args.stain,
            context=args.context))
    for name in trains:
        for copy in lay.copies()[1:]:
            step(f"features {name} (augmented copy {copy})", features.run, features.Args(
                rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)), out=str(lay.features(name, copy)),
                encoder=args.encoder, device=args.device, threads=args.threads, weights=args.weights,
                shift_average=args.shift_average, random_init=args.random_init, stain=args.stain,
                context=args.context, augment=copy))
    chosen = step("genes", genes.run, genes.Args(counts=[str(f.counts) for f in trains.values()], out=str(lay.genes),
                                                 n_genes=args.n_genes, min_count=args.min_count,
                                                 gene_list=args.gene_list))
    _check_map_genes(args, chosen)
    for name in trains:
        for copy in lay.copies():  # a copy's bins keep the sample's spatial folds: CV never sees a bin twice
            step(f"folds {name}" + (f" (augmented copy {copy})" if copy else ""), folds.run, folds.Args(
                rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)), features=str(lay.features(name, copy)),
                genes=str(lay.genes), out=str(lay.folds(name, copy)), n_folds=args.n_folds, qc=args.qc,
                block_um=args.fold_block_um, seed=args.seed))
    trainsets = [str(lay.folds(n, k)) for n in trains for k in lay.copies()]
    step("train", training.run, training.Args(data=trainsets, out=str(lay.model),
                                         epochs=args.epochs, seed=args.seed, select=args.select,
                                         device=args.device,
                                         threads=args.threads))
    evals_of = {}
    for name in preds:
        step(f"predict {name}", predict.run, predict.Args(
            features=str(lay.features(name)), mask=str(lay.mask(name)), model=[str(lay.model)],
            out=str(lay.pred(name)), standardise=args.standardise, device=args.device, threads=args.threads))
        step(f"combine {name}", combine.run, combine.Args(pred=[str(lay.pred(name))], rescaled=str(lay.rescale(name)),
                                                            mask=str(lay.mask(name)), out=str(lay.result(name)),
                                                            threads=args.threads))
        evals_of[name] = _results(step, args, name, lay, truths.get(name), name in trains)
    RunRecord(lay.run_json).write({"version": __version__, "args": vars(given), "device": describe(args.device),
                                   "steps": timer.steps, "seconds": round(time.time() - t0, 2),
                                   "outputs": {n: str(lay.result(n)) for n in preds}})
    training_steps = [d for n in trains for d in (lay.rescale(n), lay.mask(n))
                      + tuple(p for k in lay.copies() for p in (lay.features(n, k), lay.folds(n, k)))]
    for name in preds:  # last, so the reports carry the whole run's record
        own = [lay.rescale(name), lay.mask(name), lay.features(name)] if name not in trains else []
        evals = evals_of[name]  # this run's only: an older run's truth must not reappear
        stamped = own + training_steps + [lay.genes, lay.model, lay.pred(name), lay.result(name),
                                          lay.figures(name)] + evals
        step(f"report {name}", report.run, report.Args(
            result=str(lay.result(name)), out=str(lay.html(name)), maps=str(lay.figures(name)),
            evaluation=[str(e) for e in evals], model=[str(lay.model)], steps=[str(d) for d in stamped],
            params=str(lay.run_json)))
    if not args.keep_work:
        removed = remove_work(lay, every, trains, preds, truths)
        say(f"--no-keep-work: removed {removed / 2**20:.0f} MiB of intermediates from {lay.work}")
    say(f"done in {time.time() - t0:.0f} s: " + ", ".join(str(lay.result(n)) for n in preds))
    return lay.outdir
