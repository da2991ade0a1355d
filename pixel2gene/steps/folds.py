"""Training set of one measured sample: bins -> superpixel disks, QC, spatial folds."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pandas as pd

from ..errors import InputError
from ..features.store import standardise
from ..image import SUPERPIXEL
from ..io.outputs import load_npy, read_json, write_json
from ..io.tables import read_counts
from ..pipeline.progress import say
from ..pipeline.reuse import StepOutput, finished
from ..qc.bins import qc_keep
from ..qc.folds import block_folds
from ..training.disks import gather_disks

QC_AUTO_MAX_DIAMETER = 2 * SUPERPIXEL  # bins/cells up to 16 µm get QC; spots do not


@dataclass
class Args:
    rescaled: str = field(metadata=dict(help="output directory of p2g-rescale (a measured sample)"))
    mask: str = field(metadata=dict(help="output directory of p2g-mask"))
    features: str = field(metadata=dict(help="output directory of p2g-features"))
    genes: str = field(metadata=dict(help="output directory of p2g-genes"))
    out: str = field(metadata=dict(help="output directory of this step"))
    n_folds: int = field(default=10, metadata=dict(help="number of spatial folds (one model each)"))
    qc: Literal["auto", "on", "off"] = field(default="auto", metadata=dict(
        help="drop low-count bins per histology cluster (auto: on for bins/cells up to 16 µm)"))
    seed: int = field(default=0, metadata=dict(help="seed for clustering and fold assignment"))
    counts: Optional[str] = field(default=None, metadata=dict(
        help="counts table (default: the one p2g-rescale validated, as recorded in sample.json)"))


def run(args: Args) -> Path:
    out = Path(args.out)
    sample = read_json(Path(args.rescaled) / "sample.json")
    params = {k: (str(Path(v).resolve()) if k in ("rescaled", "mask", "features", "genes", "counts") and v else v)
              for k, v in vars(args).items() if k != "out"}
    if finished(out, params):
        say(f"folds {sample['name']}: reusing {out}")
        return out
    if not sample["measured"]:
        raise InputError(sample["prefix"], "sample has no counts", "give a measured sample (cnts + locs-raw) for training")
    if args.n_folds < 1:
        raise InputError("--n-folds", f"{args.n_folds} folds", "use 1 or more folds")
    genes = (Path(args.genes) / "gene-names.txt").read_text().split()
    counts_path = args.counts or sample["files"]["counts"]
    counts = read_counts(counts_path)
    missing = [g for g in genes if g not in counts.columns]
    if missing:
        raise InputError(counts_path, f"{len(missing)} selected genes are not measured "
                         f"(first: {missing[0]})", "select genes from all training samples together")
    locs = pd.read_parquet(Path(args.rescaled) / "locs.parquet")
    mask = load_npy(Path(args.mask) / "mask.npy")
    feats = load_npy(Path(args.features) / "features.npy", mmap=True)
    mean = load_npy(Path(args.features) / "channel-mean.npy")
    std = load_npy(Path(args.features) / "channel-std.npy")

    index, n_tissue, n_disk = gather_disks(locs[["x", "y"]].to_numpy(), sample["diameter_px"], mask)
    on_tissue = n_tissue > 0
    if not on_tissue.any():
        raise InputError(sample["files"]["locs"], "no bin falls on detected tissue",
                         "check locs-raw x/y (x = column) and pixel-size-raw.txt, or give --mask")
    y = counts.loc[locs.index, genes].to_numpy(np.float32)
    totals = counts.loc[locs.index].to_numpy(np.float32).sum(1)
    flat = feats.reshape(-1, feats.shape[2])
    anchor = flat[index[on_tissue, 0]]  # one tissue superpixel of each bin, for its histology cluster
    use_qc = args.qc == "on" or (args.qc == "auto" and sample["diameter_px"] <= QC_AUTO_MAX_DIAMETER)
    keep = on_tissue.copy()
    cluster = np.full(len(locs), -1)
    if use_qc:
        k, cl = qc_keep(standardise(anchor, mean, std), totals[on_tissue], seed=args.seed)
        keep[on_tissue] = k
        cluster[on_tissue] = cl
    folds = block_folds(locs[["x", "y"]].to_numpy(), args.n_folds, seed=args.seed)

    sel = np.flatnonzero(keep)
    disk_index = index[sel]
    k_max = int(max(1, n_tissue[sel].max()))
    disk_index = disk_index[:, :k_max]
    disk_feats = np.zeros(disk_index.shape + (feats.shape[2],), np.float16)
    valid = disk_index >= 0
    disk_feats[valid] = flat[disk_index[valid]]
    density = y[sel] / n_tissue[sel, None]  # counts per tissue superpixel of the bin

    bins = pd.DataFrame({"x": locs.x, "y": locs.y, "fold": folds, "on_tissue": on_tissue, "keep": keep,
                         "cluster": cluster, "n_superpixels": n_tissue, "n_disk": n_disk,
                         "total_count": totals}, index=locs.index)
    say(f"folds {sample['name']}: {int(keep.sum())} of {len(locs)} bins train "
        f"({int((~on_tissue).sum())} off tissue, {int((on_tissue & ~keep).sum())} dropped by QC), "
        f"{args.n_folds} folds, up to {k_max} superpixels per bin")
    with StepOutput(out, params, "folds") as tmp:
        bins.to_parquet(tmp / "bins.parquet")
        np.save(tmp / "disk-features.npy", disk_feats, allow_pickle=False)
        np.save(tmp / "disk-valid.npy", valid, allow_pickle=False)
        np.save(tmp / "density.npy", density.astype(np.float32), allow_pickle=False)
        np.save(tmp / "fold.npy", folds[sel], allow_pickle=False)
        np.save(tmp / "channel-mean.npy", mean, allow_pickle=False)
        np.save(tmp / "channel-std.npy", std, allow_pickle=False)
        (tmp / "gene-names.txt").write_text("\n".join(genes) + "\n")
        write_json(tmp / "trainset.json", {
            "sample": sample["name"], "n_bins": int(len(locs)), "n_train": int(len(sel)),
            "n_folds": args.n_folds, "qc": bool(use_qc), "diameter_px": sample["diameter_px"],
            "encoder": read_json(Path(args.features) / "features.json")["encoder"],
            "n_channels": int(feats.shape[2])})
    return out
