"""Training set of one measured sample: bins -> superpixel disks, QC, spatial folds."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from ..artifacts.features import Features
from ..artifacts.genes import Genes
from ..artifacts.mask import Mask
from ..artifacts.rescaled import Rescaled
from ..artifacts.trainset import TrainingSet
from ..choices import BinQC
from ..errors import InputError
from ..features.stats import standardise
from ..image import SUPERPIXEL
from ..image.disks import gather_disks
from ..image.superpixels import tissue_index
from ..io.counts import open_counts
from ..io.memmaps import release_pages
from ..qc.bins import qc_keep
from ..qc.folds import BLOCK_UM, block_folds
from ..qc.placement import swapped_xy
from ..tool.progress import say
from ..tool.options import out_field, upstream_field
from ..tool.stamps import start

QC_AUTO_MAX_DIAMETER = 2 * SUPERPIXEL  # bins/cells up to 16 µm get QC; spots do not


@dataclass
class Args:
    rescaled: str = upstream_field(Rescaled, "(a measured sample)")
    mask: str = upstream_field(Mask)
    features: str = upstream_field(Features)
    genes: str = upstream_field(Genes)
    out: str = out_field()
    n_folds: int = field(default=10, metadata=dict(least=1, help="spatial folds, one model each"))
    qc: str = field(default=BinQC.AUTO.value, metadata=dict(
        choices=BinQC.values(), help="drop low-count bins per histology cluster (auto: on for bins/cells up to "
                                     "16 µm)"))
    fold_block_um: float = field(default=BLOCK_UM, metadata=dict(
        above=0, renamed_from="--block-um",
        help="side of the square spatial blocks that form the folds, in µm (halved, down to 8 superpixels, "
             "when the bins fill fewer blocks than folds: the report gives the side used)"))
    seed: int = field(default=0, metadata=dict(help="seed for clustering and fold assignment"))
    counts: Optional[str] = field(default=None, metadata=dict(
        role="file", help="counts table (default: the one p2g-rescale validated, as recorded in sample.json)"))


def run(args: Args) -> TrainingSet:
    out, params, done = start(TrainingSet, args)
    if done:
        return done
    rescaled, features = Rescaled(args.rescaled), Features(args.features)
    sample = rescaled.sample
    if not sample["measured"]:
        raise InputError(sample["prefix"], "sample has no counts",
                         "give a measured sample (cnts + locs-raw) for training")
    genes = Genes(args.genes).names.read()
    counts_path = args.counts or sample["files"]["counts"]
    locs = rescaled.locs.read()
    with open_counts(counts_path) as counts:
        measured = set(counts.genes)
        missing = [g for g in genes if g not in measured]
        if missing:
            raise InputError(counts_path, f"{len(missing)} selected genes are not measured "
                             f"(first: {missing[0]})", "select genes from all training samples together")
        # only the selected genes, sparse; totals over all genes for QC
        y, totals = counts.take(locs.index, genes)
    mask = Mask(args.mask).tissue.read()
    feats = features.tissue_rows(mask)  # (tissue superpixels, C)
    mean, std = features.channel_stats()

    xy = locs[["x", "y"]].to_numpy()
    swapped = swapped_xy(xy, mask)
    if swapped:
        say(f"warning: {sample['files']['locs']}: {100 * swapped[0]:.0f}% of the bins lie on tissue, but "
            f"{100 * swapped[1]:.0f}% would with x and y swapped; check that x is the image column and y the row")
    index, n_tissue, n_disk = gather_disks(xy, sample["diameter_px"], mask)
    on_tissue = n_tissue > 0
    if not on_tissue.any():
        raise InputError(sample["files"]["locs"], "no bin falls on the tissue mask",
                         "check locs-raw x/y (x = image column) and pixel-size-raw.txt, or give your own mask "
                         "(p2g-mask --mask FILE; p2g-run --mask SAMPLE=FILE)")
    index = tissue_index(mask, index)  # grid positions -> rows of the tissue features
    anchor = feats[index[on_tissue, 0]]  # one tissue superpixel of each bin, for its histology cluster
    release_pages(feats)  # the gather touched most of the feature map: do not keep it resident
    use_qc = args.qc == BinQC.ON or (args.qc == BinQC.AUTO and sample["diameter_px"] <= QC_AUTO_MAX_DIAMETER)
    keep = on_tissue.copy()
    cluster = np.full(len(locs), -1)
    if use_qc:
        k, cl = qc_keep(anchor, totals[on_tissue], seed=args.seed,
                        prepare=lambda rows: standardise(rows, mean, std))  # by chunks: HD has ~600k bins
        keep[on_tissue] = k
        cluster[on_tissue] = cl
    folds, block_um = block_folds(locs[["x", "y"]].to_numpy(), args.n_folds, float(sample["pixel_size"]),
                                  args.fold_block_um, seed=args.seed)

    sel = np.flatnonzero(keep)
    disk_index = index[sel]
    k_max = int(max(1, n_tissue[sel].max()))
    disk_index = disk_index[:, :k_max]
    valid = disk_index >= 0

    bins = pd.DataFrame({"x": locs.x, "y": locs.y, "fold": folds, "on_tissue": on_tissue, "keep": keep,
                         "cluster": cluster, "n_superpixels": n_tissue, "n_disk": n_disk,
                         "total_count": totals}, index=locs.index)
    say(f"folds {sample['name']}: {int(keep.sum())} of {len(locs)} bins train "
        f"({int((~on_tissue).sum())} off tissue, {int((on_tissue & ~keep).sum())} dropped by QC), "
        f"{args.n_folds} folds of {block_um:g} µm blocks, up to {k_max} superpixels per bin")
    info = features.record.read()
    with TrainingSet.create(out, params) as folder:
        folder.bins.write(bins)
        folder.write_disk_features(feats, disk_index)
        folder.disk_valid.write(valid)
        folder.write_density(y[sel], n_tissue[sel])
        folder.fold.write(folds[sel])
        folder.write_channel_stats(mean, std)
        folder.genes.write(genes)
        folder.record.write({
            "sample": sample["name"], "n_bins": int(len(locs)), "n_train": int(len(sel)),
            "n_folds": args.n_folds, "block_um": block_um, "qc": bool(use_qc), "diameter_px": sample["diameter_px"],
            "encoder": info["encoder"], "n_channels": int(feats.shape[1]), "channels": info["channels"]})
    return TrainingSet(out)
