"""Score predictions against measured truth: per-gene metrics TSV and a summary.

Two kinds of truth: a file of bins/spots measured on this section (e.g. a
held-out block, or a reference assay on the same slide), or the training
sample's own bins, each predicted by the fold model that held it out.
"""
import time
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..artifacts.evaluation import Evaluation
from ..artifacts.mask import Mask
from ..artifacts.model import Model, ModelSet
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result
from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..evaluation.crossval import out_of_fold
from ..evaluation.report import TOP, evaluate, summarise
from ..evaluation.truth import load_truth, predicted_bin_counts, restrict
from ..tool.device import resolve_device
from ..tool.options import device_field, out_field, upstream_field
from ..tool.progress import say
from ..tool.stamps import start


@dataclass
class Args:
    rescaled: str = upstream_field(Rescaled, "for this sample")
    mask: str = upstream_field(Mask, "for this sample")
    out: str = out_field("output directory: metrics.tsv and summary.json")
    result: Optional[str] = upstream_field(Result, "(the sample's results; needed with --truth-counts)", default=None)
    truth_counts: Optional[str] = field(default=None, metadata=dict(
        role="file", help="measured counts of bins/spots on this section (rows bins, columns genes)"))
    truth_locs: Optional[str] = field(default=None, metadata=dict(
        role="file", help="their centres in pixels of he-raw (columns x, y)"))
    truth_diameter_um: float = field(default=0.0, metadata=dict(
        help="their diameter in µm (0: the sample's radius-raw.txt)"))
    trainset: Optional[str] = upstream_field(
        TrainingSet, "for this training sample: score each bin with the model that held it out", default=None,
        renamed_from="--folds")
    model: List[str] = upstream_field(Model, "(with --trainset)", nargs="*")
    device: str = device_field()


def _mode(args: Args) -> str:
    if args.truth_counts or args.truth_locs:
        if not (args.truth_counts and args.truth_locs and args.result):
            raise InputError("--truth-counts", "a truth file needs its counts, its locations and the prediction",
                             "give --truth-counts, --truth-locs and --result together")
        if args.trainset:
            raise InputError("--trainset", "two kinds of truth at once", "run p2g-evaluate once for each")
        return "truth-file"
    if args.trainset:
        if not args.model:
            raise InputError("--trainset", "held-out scoring needs the fold models", "give --model DIR (p2g-select output)")
        return "held-out-folds"
    raise InputError("--truth-counts", "no truth given", "give --truth-counts/--truth-locs, or --trainset with --model")


def _truth_file(args: Args, sample: dict, mask: np.ndarray):
    diameter_um = args.truth_diameter_um or sample["diameter_um"]
    if not diameter_um or diameter_um <= 0:
        raise InputError(args.truth_locs, "the truth bins' size is unknown",
                         "write their diameter in µm into radius-raw.txt beside the truth counts (p2g-run "
                         "--truth) or give p2g-evaluate --truth-diameter-um")
    result = Result(args.result)
    genes = result.genes.read()
    bins = load_truth(args.truth_counts, args.truth_locs, sample["scale"], diameter_um / sample["pixel_size"],
                      mask, sample["raw_shape"], genes)
    common = [g for g in genes if g in set(bins.genes)]
    if not common:
        raise InputError(args.truth_counts, "no predicted gene is in the truth table",
                         "give truth counts with gene names as columns")
    bins = restrict(bins, common)
    return bins, predicted_bin_counts(result, common, bins)


def run(args: Args) -> Evaluation:
    out, params, done = start(Evaluation, args)
    if done:
        return done
    device = resolve_device(args.device)
    mode = _mode(args)
    t0 = time.time()
    sample = Rescaled(args.rescaled).sample
    mask = Mask(args.mask).tissue.read()
    if mode == "truth-file":
        bins, pred = _truth_file(args, sample, mask)
    else:
        bins, pred = out_of_fold(TrainingSet(args.trainset), ModelSet([Model(m) for m in args.model]), mask, device)
    table = evaluate(bins, pred, mask.shape)
    summary = {"sample": sample["name"], "truth": mode, **summarise(table, len(bins.ids)),
               "device": device if mode == "held-out-folds" else None,
               "seconds": round(time.time() - t0, 2)}
    top = summary[f"mean_top{TOP}"]
    say(f"evaluate {sample['name']} ({mode}, {len(bins.ids)} bins, {len(table)} genes): top-{summary['n_top']} mean "
        f"Pearson {top['pearson']}, Spearman {top['spearman']}, SSIM {top['ssim']}")
    with Evaluation.create(out, params) as folder:
        folder.metrics.write(table)
        folder.summary.write(summary)
    return Evaluation(out)
