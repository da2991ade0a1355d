"""Training set of one measured sample: bins -> superpixel disks, QC, spatial folds."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pandas as pd

from ..errors import InputError
from ..features.store import standardise
from ..image import SUPERPIXEL
from ..io.counts import open_counts
from ..io.memmaps import release_pages
from ..genes.names import NAMES, read_gene_names, write_gene_names
from ..io.outputs import load_npy, read_json, write_json
from ..tool.progress import say
from ..tool.reuse import StepOutput, finished, input_stamp
from ..qc.bins import qc_keep
from ..qc.folds import BLOCK_UM, block_folds
from ..qc.placement import swapped_xy
from ..image.disks import gather_disks

QC_AUTO_MAX_DIAMETER = 2 * SUPERPIXEL  # bins/cells up to 16 µm get QC; spots do not


@dataclass
class Args:
    rescaled: str = field(metadata=dict(upstream="rescale", help="output directory of p2g-rescale (a measured sample)"))
    mask: str = field(metadata=dict(upstream="mask", help="output directory of p2g-mask"))
    features: str = field(metadata=dict(upstream="features", help="output directory of p2g-features"))
    genes: str = field(metadata=dict(upstream="genes", help="output directory of p2g-genes"))
    out: str = field(metadata=dict(role="runtime", help="output directory of this step"))
    n_folds: int = field(default=10, metadata=dict(help="number of spatial folds (one model each)"))
    qc: Literal["auto", "on", "off"] = field(default="auto", metadata=dict(
        help="drop low-count bins per histology cluster (auto: on for bins/cells up to 16 µm)"))
    block_um: float = field(default=BLOCK_UM, metadata=dict(
        help="side of the square spatial blocks that form the folds, in µm (halved, down to 8 superpixels, "
             "when the bins fill fewer blocks than folds)"))
    seed: int = field(default=0, metadata=dict(help="seed for clustering and fold assignment"))
    counts: Optional[str] = field(default=None, metadata=dict(
        role="file", help="counts table (default: the one p2g-rescale validated, as recorded in sample.json)"))


CHUNK_VALUES = 1 << 25  # values per chunk when writing the training arrays (64-128 MB)


def write_disk_features(path: Path, flat: np.ndarray, disk_index: np.ndarray) -> None:
    """(bins, K, C) float16 features of each bin's superpixels (zeros where padded), by chunks of bins."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16,
                                    shape=disk_index.shape + (flat.shape[1],))
    step = max(1, CHUNK_VALUES // (disk_index.shape[1] * flat.shape[1]))
    for s in range(0, len(disk_index), step):
        index = disk_index[s:s + step]
        chunk = np.asarray(flat[np.maximum(index, 0)], np.float16)
        chunk[index < 0] = 0
        out[s:s + step] = chunk
        release_pages(out)
        release_pages(flat)
    del out


def write_density(path: Path, y, n_superpixels: np.ndarray) -> None:
    """(bins, G) float32 counts per tissue superpixel from sparse counts, densified a chunk at a time."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=y.shape)
    step = max(1, CHUNK_VALUES // max(1, y.shape[1]))
    for s in range(0, y.shape[0], step):
        out[s:s + step] = y[s:s + step].toarray() / n_superpixels[s:s + step, None]
        release_pages(out)
    del out


def run(args: Args) -> Path:
    out = Path(args.out)
    params = input_stamp(args)
    sample = read_json(Path(args.rescaled) / "sample.json")
    if finished(out, params, "folds"):
        say(f"folds {sample['name']}: reusing {out}")
        return out
    if not sample["measured"]:
        raise InputError(sample["prefix"], "sample has no counts",
                         "give a measured sample (cnts + locs-raw) for training")
    if args.n_folds < 1:
        raise InputError("--n-folds", f"{args.n_folds} folds", "use 1 or more folds")
    if not args.block_um > 0:
        raise InputError("--block-um", f"a block side of {args.block_um} µm", "give a positive side, e.g. 512")
    genes = read_gene_names(Path(args.genes) / NAMES)
    counts_path = args.counts or sample["files"]["counts"]
    locs = pd.read_parquet(Path(args.rescaled) / "locs.parquet")
    with open_counts(counts_path) as counts:
        measured = set(counts.genes)
        missing = [g for g in genes if g not in measured]
        if missing:
            raise InputError(counts_path, f"{len(missing)} selected genes are not measured "
                             f"(first: {missing[0]})", "select genes from all training samples together")
        # only the selected genes, sparse; totals over all genes for QC
        y, totals = counts.take(locs.index, genes)
    mask = load_npy(Path(args.mask) / "mask.npy")
    feats = load_npy(Path(args.features) / "features.npy", mmap=True)
    mean = load_npy(Path(args.features) / "channel-mean.npy")
    std = load_npy(Path(args.features) / "channel-std.npy")

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
    flat = feats.reshape(-1, feats.shape[2])
    anchor = flat[index[on_tissue, 0]]  # one tissue superpixel of each bin, for its histology cluster
    release_pages(feats)  # the gather touched most of the feature map: do not keep it resident
    use_qc = args.qc == "on" or (args.qc == "auto" and sample["diameter_px"] <= QC_AUTO_MAX_DIAMETER)
    keep = on_tissue.copy()
    cluster = np.full(len(locs), -1)
    if use_qc:
        k, cl = qc_keep(anchor, totals[on_tissue], seed=args.seed,
                        prepare=lambda rows: standardise(rows, mean, std))  # by chunks: HD has ~600k bins
        keep[on_tissue] = k
        cluster[on_tissue] = cl
    folds, block_um = block_folds(locs[["x", "y"]].to_numpy(), args.n_folds, float(sample["pixel_size"]),
                                  args.block_um, seed=args.seed)

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
    info = read_json(Path(args.features) / "features.json")
    with StepOutput(out, params, "folds") as tmp:
        bins.to_parquet(tmp / "bins.parquet")
        write_disk_features(tmp / "disk-features.npy", flat, disk_index)
        np.save(tmp / "disk-valid.npy", valid, allow_pickle=False)
        # counts per tissue superpixel of the bin
        write_density(tmp / "density.npy", y[sel], n_tissue[sel])
        np.save(tmp / "fold.npy", folds[sel], allow_pickle=False)
        np.save(tmp / "channel-mean.npy", mean, allow_pickle=False)
        np.save(tmp / "channel-std.npy", std, allow_pickle=False)
        write_gene_names(tmp, genes)
        write_json(tmp / "trainset.json", {
            "sample": sample["name"], "n_bins": int(len(locs)), "n_train": int(len(sel)),
            "n_folds": args.n_folds, "block_um": block_um, "qc": bool(use_qc), "diameter_px": sample["diameter_px"],
            "encoder": info["encoder"], "n_channels": int(feats.shape[2]), "channels": info.get("channels")})
    return out
