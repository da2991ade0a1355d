"""Write a sample's predictions as an AnnData .h5ad for scanpy and squidpy."""
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from .. import __version__
from ..errors import InputError
from ..figures.thumbnail import thumbnail
from ..image import SUPERPIXEL
from ..genes.names import NAMES, read_gene_names
from ..io.outputs import atomic_file, load_npy, read_json
from ..io.counts import open_counts
from ..tool.progress import Progress, say
from ..tool.reuse import check_file_replaceable, input_stamp


@dataclass
class Args:
    result: str = field(metadata=dict(upstream="combine", help="the sample's p2g-combine output"))
    rescaled: str = field(metadata=dict(upstream="rescale", help="output directory of p2g-rescale for this sample"))
    out: str = field(metadata=dict(role="runtime", help="the .h5ad file to write"))
    counts: Optional[str] = field(default=None, metadata=dict(
        role="file", help="measured counts to join (default: the sample's own, when it was measured)"))
    thumbnail_px: int = field(default=2000, metadata=dict(
        help="longest side of the H&E image stored for scanpy.pl.spatial (0: none)"))


def _measured(args: Args, rescaled: Path, sample: dict, genes):
    """(sparse counts: measured bins x the predicted genes they measure, bin ids, those genes, the bins'
    rescaled x/y, their diameter in rescaled pixels), or None for an unmeasured sample."""
    path = args.counts or (sample["files"].get("counts") if sample["measured"] else None)
    if not path:
        return None
    if not (rescaled / "locs.parquet").is_file():
        raise InputError(rescaled, "no bin locations for the measured counts",
                         "run p2g-rescale with --train for a measured sample")
    if not Path(path).is_file():
        raise InputError(path, "measured counts are missing", "give the counts table with --counts")
    locs = pd.read_parquet(rescaled / "locs.parquet")
    with open_counts(path) as counts:
        ids = locs.index.intersection(counts.ids, sort=False)
        measured = set(counts.genes)
        have = [g for g in genes if g in measured]
        values, _ = counts.take(ids, have)  # only the predicted genes, sparse
    return values, ids, have, locs.loc[ids, ["x", "y"]].to_numpy(), sample["diameter_px"]


def _uns(sample: dict, meta: dict) -> dict:
    pred = meta["prediction"][0] if meta.get("prediction") else {}
    return {"pixel2gene": {
        "sample": sample["name"], "version": __version__,
        "pixel_size_um": sample["pixel_size"], "pixel_size_raw_um": sample["pixel_size_raw"],
        "superpixel_px": SUPERPIXEL, "superpixel_um": SUPERPIXEL * sample["pixel_size"],
        "spatial_units": "pixels of he-raw (x = column, y = row)",
        "X_units": meta.get("units", "counts per superpixel"),
        "encoder": pred.get("encoder", {}).get("name", "unknown"), "n_models": meta.get("n_models", 0),
        # nested run parameters as JSON text: h5ad stores no None values and no ragged lists
        "run_json": json.dumps({"encoder": pred.get("encoder"), "training": pred.get("training"),
                                "versions": meta.get("versions")}, default=str),
    }}


def run(args: Args) -> Path:
    from ..export.anndata import write_h5ad  # anndata is imported only by the steps that need it
    out, result, rescaled = Path(args.out), Path(args.result), Path(args.rescaled)
    if out.suffix != ".h5ad":
        raise InputError(out, "output is not an .h5ad file", "name the output file NAME.h5ad")
    input_stamp(args)  # not reused (one file), but its inputs are checked the same way
    check_file_replaceable(out)
    t0 = time.time()
    sample = read_json(rescaled / "sample.json")
    meta = read_json(result / "metadata.json")
    if meta["sample"]["name"] != sample["name"]:
        raise InputError(rescaled, f"rescaled sample '{sample['name']}' is not the result's "
                         f"'{meta['sample']['name']}'", "give the p2g-rescale output of the same sample")
    genes = read_gene_names(result / NAMES)
    mask = load_npy(result / "mask.npy")
    thumb, factor = (None, 1)
    if args.thumbnail_px > 0:
        thumb, factor = thumbnail(load_npy(rescaled / "image.npy", mmap=True), sample["shape"], args.thumbnail_px,
                                  min_factor=math.ceil(sample["scale"]))  # never finer than he-raw itself
    measured = _measured(args, rescaled, sample, genes)
    say(f"export {sample['name']}: {int(mask.sum())} superpixels x {len(genes)} genes -> {out}"
        + (" (with measured counts)" if measured else ""))
    with atomic_file(out) as tmp:
        write_h5ad(tmp, result, genes, mask, sample["scale"], _uns(sample, meta), thumb, factor, measured,
                   Progress(f"export {sample['name']}"))
    say(f"export {sample['name']}: done in {time.time() - t0:.0f} s")
    return out
