"""The whole chain on one machine, without Nextflow: p2g-run.

It calls the same step functions as the bin/ tools, so a local run and a
pipeline run produce the same files. Intermediate results live under
OUTDIR/work/ and are reused when a run is repeated; each prediction sample's
results land in OUTDIR/<sample>/.

Its options are its own (samples, outdir, per-sample files) plus every option
of the steps it calls, taken from their Args (tool/options.py compose): a new
step option is a p2g-run option without being written here.
"""
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List

from .. import __version__
from ..artifacts.base import read_stamp
from ..artifacts.files import RunRecord
from ..artifacts.genes import Genes
from ..artifacts.result import Result
from ..choices import Select
from ..errors import InputError
from ..features import check_settings, preflight
from ..io.sample import locate, locate_truth
from ..io.segmentation import segmentation_kind
from ..steps import cells, combine, domains, evaluate, export, features, folds, genes, mask, maps, predict, report
from ..steps import rescale, select
from ..steps import spatialdata as sdata_step
from ..steps import train as training
from ..steps.domains import DEFAULT_DOMAINS
from ..tool.device import describe, resolve_device
from ..tool.options import check, compose, device_field, values_for
from ..tool.progress import say
from .layout import Layout, check_outdir, remove_work
from .lock import run_lock

STEPS = (rescale, mask, features, genes, folds, training, select, predict, combine, domains, export, maps, evaluate,
         cells, report)
# step options the runner sets for each sample or call itself: not options of the run
PER_CALL = {"measured", "name", "mask_file", "augment_copy", "counts", "folds", "truth_counts", "truth_locs",
            "truth_diameter_um", "steps", "params", "segmentation", "alignment"}


@dataclass
class RunArgs:
    """The runner's own options; the steps' are added below."""
    train: List[str] = field(metadata=dict(nargs="+", help="prefix of a measured sample to learn from (repeatable)"))
    predict: List[str] = field(metadata=dict(nargs="+", help="prefix of a sample to predict (repeatable); "
                                                             "a training sample here is enhanced"))
    outdir: str = field(metadata=dict(help="results go to OUTDIR/<sample>/, intermediates to OUTDIR/work/"))
    device: str = device_field()
    threads: int = field(default=0, metadata=dict(least=0, help="CPU threads for every step (0 = all cores)"))
    seed: int = field(default=0, metadata=dict(help="random seed (a CPU run repeats exactly)"))
    augment: int = field(default=0, metadata=dict(
        least=0, help="colour augmentation: train also on N seeded stain/scanner-shifted copies of each training "
                      "sample (features per copy; bench/stain_shift.py measures it)"))
    truth: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="SAMPLE=PREFIX: measured truth (cnts + locs-raw) to score a predicted sample against"))
    mask_file: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", renamed_from="--mask",
        help="SAMPLE=FILE: your own tissue mask for a sample (.png/.tif/.npy, nonzero = tissue)"))
    cells: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="SAMPLE=FILE: a cell segmentation of a predicted sample, in he-raw pixels (label image "
                        ".tif/.png/.npy, GeoJSON, or Xenium's cell_boundaries.parquet for a sample p2g-import xenium "
                        "wrote): its predictions summed per cell into OUTDIR/cells/SAMPLE/cells.h5ad"))
    domains: int = field(default=DEFAULT_DOMAINS, metadata=dict(
        least=0, most=40, help="number of tissue domains per predicted sample (PCA + k-means of the predictions; "
                               "in the .h5ad's obs['domain'], OUTDIR/domains/SAMPLE/ and the report); 0: none"))
    spatialdata: bool = field(default=False, metadata=dict(
        help="also write OUTDIR/SAMPLE.zarr per predicted sample: a SpatialData store of the H&E, superpixels, "
             "cells and predictions (needs pip install 'pixel2gene[spatialdata]')"))
    keep_work: bool = field(default=True, metadata=dict(
        help="keep OUTDIR/work/ (rescaled images, features, models) so that a re-run reuses finished steps; "
             "--no-keep-work deletes this run's intermediates at the end"))


Args = compose("Args", RunArgs, *(s.Args for s in STEPS), exclude=PER_CALL, module=__name__)


def step_args(step, args, **given):
    """The step's Args: the run's value of each of its options, and what the runner gives this call."""
    return step.Args(**{**values_for(step.Args, args, exclude=PER_CALL), **given})


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


def _results(step, args, name, lay, truth, trained, segmentation):
    """What a user opens: the domains, the .h5ad, the maps, the cells and, where truth exists, the accuracy
    tables (returned)."""
    result, rescaled, tissue = str(lay.result(name)), str(lay.rescale(name)), str(lay.mask(name))
    evals = []
    if args.domains:
        step(f"domains {name}", domains.run, step_args(domains, args, result=result, rescaled=rescaled,
                                                       out=str(lay.domains(name))))
    step(f"export {name}", export.run, step_args(export, args, result=result, rescaled=rescaled,
                                                 out=str(lay.h5ad(name)),
                                                 tissue_domains=str(lay.domains(name)) if args.domains else None))
    step(f"maps {name}", maps.run, step_args(maps, args, result=result, rescaled=rescaled, out=str(lay.figures(name)),
                                             trainset=str(lay.folds(name)) if trained else None))
    if trained and args.n_folds > 1:  # one fold holds nothing out
        step(f"evaluate {name} (held-out folds)", evaluate.run, step_args(
            evaluate, args, rescaled=rescaled, mask=tissue, out=str(lay.evaluation(name, "held-out")),
            trainset=str(lay.folds(name)), model=[str(lay.model)]))
        evals.append(lay.evaluation(name, "held-out"))
    if truth:
        step(f"evaluate {name} (truth)", evaluate.run, step_args(
            evaluate, args, rescaled=rescaled, mask=tissue, out=str(lay.evaluation(name, "truth")),
            result=result, truth_counts=str(truth.counts), truth_locs=str(truth.locs),
            truth_diameter_um=truth.diameter_um or 0.0))
        evals.append(lay.evaluation(name, "truth"))
    if segmentation:
        step(f"cells {name}", cells.run, step_args(cells, args, result=result, rescaled=rescaled,
                                                   segmentation=segmentation, out=str(lay.cells(name))))
    if args.spatialdata:  # last: it reads the domains and cells
        step(f"spatialdata {name}", sdata_step.run, step_args(
            sdata_step, args, result=result, rescaled=rescaled, out=str(lay.zarr(name)),
            tissue_domains=str(lay.domains(name)) if args.domains else None,
            cells=str(lay.cells(name)) if segmentation else None))
    return evals


def _inputs(args, every, truths, masks, segmentations):
    """Every path the run reads, so that no output can land on one."""
    paths = [Path(f.prefix) for f in every.values() if f.prefix.endswith("/")]
    for f in every.values():
        paths += [p for p in (f.image, f.counts, f.locs, f.pixel_size_raw, f.pixel_size, f.radius) if p and p.exists()]
    for t in truths.values():
        paths += [t.counts, t.locs]
    return paths + [Path(m) for m in (*masks.values(), *segmentations.values())] + [Path(w) for w in args.weights] + \
        ([Path(args.gene_list)] if args.gene_list else [])


def _check_options(args: Args) -> None:
    """Every option by its declaration, and what only fails together, before any step: options that would
    only fail late (after rescaling a slide, or after training) fail first."""
    check(args)
    check_settings(args.encoder, features.encoder_settings(args))
    preflight(args.encoder, features.encoder_settings(args))
    training.check_rates(args)
    if args.select == Select.RIDGE and args.n_folds < 2:
        raise InputError("--select", "ridge chooses its penalty by spatial CV, and one fold holds nothing out",
                         "use --n-folds 2 or more, or --select mlp")


def _check_map_genes(args: Args, chosen: Genes) -> None:
    selected = set(chosen.names.read())
    unknown = [g for g in args.map_genes if g not in selected]
    if unknown:
        raise InputError("--map-genes", f"gene '{unknown[0]}' is not among the {len(selected)} genes to predict",
                         f"name genes from {chosen.names.path}, or add them with --gene-list")


def run(args: Args) -> Path:
    t0 = time.time()
    _check_options(args)
    if args.spatialdata:
        sdata_step.require()  # a missing extra fails now, not after training
    given, args = args, replace(args, device=resolve_device(args.device))
    trains = _samples(args.train, need_counts=True)
    preds = _samples(args.predict, need_counts=False)
    for name, f in preds.items():
        if name in trains and trains[name].prefix != f.prefix:
            raise InputError(f.prefix, f"sample name '{name}' is also a different training sample",
                             "rename one of the folders")
    every = {**preds, **trains}
    truths = _truths(args.truth, preds)
    masks = _per_sample(args.mask_file, "--mask-file", "SAMPLE=FILE", "C3=data/C3-mask.png", every,
                        "--train or --predict")
    segmentations = _per_sample(args.cells, "--cells", "SAMPLE=FILE", "C3=data/C3-cells.geojson", preds, "--predict")
    for name, path in segmentations.items():
        segmentation_kind(path)  # an unknown kind fails now, not after training
        if not Path(path).is_file():
            raise InputError(path, "segmentation file is missing", f"give --cells {name}=FILE an existing file")
    lay = Layout(args.outdir, args.encoder, args.augment, args.domains > 0, segmentations, args.spatialdata)
    check_outdir(lay, _inputs(args, every, truths, masks, segmentations), every, trains, preds, truths)
    with run_lock(lay.outdir):
        return _run_steps(given, args, t0, lay, trains, preds, every, truths, masks, segmentations)


def _run_steps(given, args: Args, t0: float, lay: Layout, trains, preds, every, truths, masks,
               segmentations) -> Path:
    say(f"device: {describe(args.device)}" + (" (chosen by --device auto)" if given.device == "auto" else ""))
    timer = Timer()
    n_steps = (3 * len(every) + 1 + len(trains) * (1 + 2 * args.augment) + 2 + (5 + (args.domains > 0)) * len(preds)
               + len(truths) + (len([n for n in preds if n in trains]) if args.n_folds > 1 else 0)
               + len(segmentations) + (len(preds) if args.spatialdata else 0))
    k = [0]

    def step(label, fn, a):
        k[0] += 1
        say(f"step {k[0]}/{n_steps}: {label}")
        return timer.run(label, fn, a)

    for name, f in every.items():
        rescaled, tissue = str(lay.rescale(name)), str(lay.mask(name))
        step(f"rescale {name}", rescale.run, step_args(rescale, args, prefix=f.prefix, out=rescaled,
                                                       measured=name in trains))
        step(f"mask {name}", mask.run, step_args(mask, args, rescaled=rescaled, out=tissue,
                                                 mask_file=masks.get(name)))
        for copy in lay.copies() if name in trains else [0]:  # colour-augmented copies train beside the sample
            step(f"features {name}" + (f" (augmented copy {copy})" if copy else ""), features.run, step_args(
                features, args, rescaled=rescaled, mask=tissue, out=str(lay.features(name, copy)), augment_copy=copy))
    chosen = step("genes", genes.run, step_args(genes, args, counts=[str(f.counts) for f in trains.values()],
                                                out=str(lay.genes)))
    _check_map_genes(args, chosen)
    for name in trains:
        for copy in lay.copies():  # a copy's bins keep the sample's spatial folds: CV never sees a bin twice
            step(f"folds {name}" + (f" (augmented copy {copy})" if copy else ""), folds.run, step_args(
                folds, args, rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)),
                features=str(lay.features(name, copy)), genes=str(lay.genes), out=str(lay.folds(name, copy))))
    trainsets = [str(lay.folds(n, k)) for n in trains for k in lay.copies()]
    step("train", training.run, step_args(training, args, trainset=trainsets, out=str(lay.trained)))
    step("select", select.run, step_args(select, args, trainset=trainsets, trained=[str(lay.trained)],
                                         out=str(lay.model)))
    evals_of = {}
    for name in preds:
        step(f"predict {name}", predict.run, step_args(predict, args, features=str(lay.features(name)),
                                                       mask=str(lay.mask(name)), model=[str(lay.model)],
                                                       out=str(lay.pred(name))))
        step(f"combine {name}", combine.run, step_args(combine, args, pred=[str(lay.pred(name))],
                                                       rescaled=str(lay.rescale(name)), mask=str(lay.mask(name)),
                                                       out=str(lay.result(name))))
        evals_of[name] = _results(step, args, name, lay, truths.get(name), name in trains, segmentations.get(name))
    warned = {n: Result(lay.result(n)).record.read().get("warnings", []) for n in preds}
    RunRecord(lay.run_json).write({"version": __version__, "args": vars(given), "device": describe(args.device),
                                   "steps": timer.steps, "seconds": round(time.time() - t0, 2),
                                   "outputs": {n: str(lay.result(n)) for n in preds}, "warnings": warned})
    training_steps = [d for n in trains for d in (lay.rescale(n), lay.mask(n))
                      + tuple(p for k in lay.copies() for p in (lay.features(n, k), lay.folds(n, k)))]
    for name in preds:  # last, so the reports carry the whole run's record
        own = [lay.rescale(name), lay.mask(name), lay.features(name)] if name not in trains else []
        evals = evals_of[name]  # this run's only: an older run's truth must not reappear
        extra = ([lay.domains(name)] if args.domains else []) + ([lay.cells(name)] if name in segmentations else [])
        stamped = own + training_steps + [lay.genes, lay.trained, lay.model, lay.pred(name), lay.result(name),
                                          lay.figures(name)] + extra + evals
        step(f"report {name}", report.run, step_args(
            report, args, result=str(lay.result(name)), out=str(lay.html(name)), maps=str(lay.figures(name)),
            evaluation=[str(e) for e in evals], model=[str(lay.model)], steps=[str(d) for d in stamped],
            params=str(lay.run_json), tissue_domains=str(lay.domains(name)) if args.domains else None))
    if not args.keep_work:
        removed = remove_work(lay, every, trains, preds, truths)
        say(f"--no-keep-work: removed {removed / 2**20:.0f} MiB of intermediates from {lay.work}")
    say(f"done in {time.time() - t0:.0f} s: " + ", ".join(str(lay.result(n)) for n in preds))
    for name, sentences in warned.items():  # last, where they are read: the maps are written, but with these
        for sentence in sentences:
            say(f"warning: {name}: {sentence}")
    return lay.outdir
