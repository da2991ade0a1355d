"""Sum a sample's predicted maps into the cells of a segmentation the user brings: a cells x genes .h5ad."""
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..artifacts.cells import Cells
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result, check_same_sample
from ..errors import InputError
from ..figures.thumbnail import thumbnail
from ..image import SUPERPIXEL
from ..image.cells import SUB, label_coverage, polygon_coverage
from ..importers.prefix import RECORD
from ..importers.xenium import EXPERIMENT, boundaries_on_he, experiment_beside
from ..io.outputs import read_json
from ..io.plausible import check_free_space
from ..io.segmentation import KINDS, read_geojson, read_label_image, segmentation_kind
from ..tool.options import out_field, upstream_field
from ..tool.progress import Progress, say
from ..tool.stamps import start

MOST_OUTSIDE = 0.5  # more cells than this off the image: the segmentation is in another frame, not a few strays
WHY_DROPPED = {"dropped_empty": "they hold no pixel centre of the counting grid (smaller than a pixel)",
               "dropped_outside_image": "their centre lies off the he-raw image"}


@dataclass
class Args:
    result: str = upstream_field(Result, "(the sample's results)")
    rescaled: str = upstream_field(Rescaled, "for this sample")
    segmentation: str = field(metadata=dict(role="file", help=(
        f"the cells, in pixels of he-raw: {KINDS} (µm, placed through --alignment or the sample's Xenium import)")))
    out: str = out_field("output directory: cells.h5ad (cells x genes) and cells.json")
    alignment: Optional[str] = field(default=None, metadata=dict(role="file", help=(
        "Xenium boundaries only: the *_he_imagealignment.csv of this H&E (default: the matrix p2g-import xenium "
        "recorded for the sample; the pixel size comes from experiment.xenium beside the boundaries file)")))
    split_multipolygons: bool = field(default=False, metadata=dict(help=(
        "GeoJSON only: each part of a MultiPolygon is a cell of its own (CellViT groups all cells of a type into "
        "one MultiPolygon); by default a feature is one cell")))
    thumbnail_px: int = field(default=2000, metadata=dict(
        least=0, help="longest side of the H&E image stored for scanpy.pl.spatial (0: none)"))


def _import_record_path(sample: dict) -> Path:
    prefix = sample.get("prefix", "")
    folder = Path(prefix) if prefix.endswith(("/", os.sep)) else Path(prefix).parent
    return folder / RECORD


def _import_record(sample: dict) -> Optional[dict]:
    path = _import_record_path(sample)
    return read_json(path) if path.is_file() else None


def implied_files(args: Args) -> dict:
    """Files Xenium boundaries are placed with that no option names: experiment.xenium beside them (with
    --alignment), or the sample's import record (without); a re-import or another run's file re-runs the step."""
    try:
        kind = segmentation_kind(args.segmentation)
    except InputError:
        return {}  # the step itself says what is wrong with the file
    if kind != "xenium":
        return {}
    if args.alignment:
        return {EXPERIMENT: experiment_beside(args.segmentation)}
    return {RECORD: _import_record_path(Rescaled(args.rescaled).sample)}


def _coverage(args: Args, sample: dict, mask):
    """(coverage, the cells' ids, their classes or None, the number of cells the file holds)."""
    kind = segmentation_kind(args.segmentation)
    raw_shape = sample["raw_shape"]
    if kind == "labels":
        labels = read_label_image(args.segmentation, raw_shape)
        coverage = label_coverage(labels, sample["scale"], sample["pixel_size_raw"], mask)
        if coverage is None:
            raise InputError(args.segmentation, "holds no cells (every pixel is 0)",
                             "give the label image of this section's segmentation, 0 for no cell")
        return kind, coverage, [str(k) for k in coverage.keys], None
    if kind == "geojson":
        polys = read_geojson(args.segmentation, args.split_multipolygons)
    else:
        polys = boundaries_on_he(args.segmentation, args.alignment, None if args.alignment else
                                 _import_record(sample))
    _check_frame(args, kind, polys, raw_shape)
    return kind, polygon_coverage(polys, sample["scale"], sample["pixel_size"], mask), polys.ids, polys.classes


def _check_frame(args: Args, kind: str, polys, raw_shape) -> None:
    """Most cells must lie on the image: otherwise the polygons are in another frame (µm, a crop, a level)."""
    cell = np.repeat(polys.ring_cell, np.diff(polys.ring_start))
    n = np.bincount(cell, minlength=len(polys.ids))
    centre = np.stack([np.bincount(cell, polys.xy[:, k], len(polys.ids)) / n for k in range(2)], 1)
    outside = ~_on_image(centre, raw_shape)
    if outside.mean() > MOST_OUTSIDE:
        fix = ("check --alignment: it must be the matrix of this H&E and this Xenium run" if kind == "xenium" else
               "export the cells in pixel coordinates of the full-resolution image that he-raw is")
        raise InputError(args.segmentation, f"{int(outside.sum())} of {len(outside)} cells lie outside the "
                         f"{raw_shape[1]}x{raw_shape[0]} px he-raw image", fix)


def _on_image(xy, raw_shape):
    return (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < raw_shape[1]) & (xy[:, 1] < raw_shape[0])


def _kept(coverage, ids, classes, raw_shape):
    """Cells with at least one counting pixel and their centre on the image; the others are reported."""
    empty = coverage.n_pixels <= 0
    outside = ~empty & ~_on_image(np.nan_to_num(coverage.centroid, nan=-1), raw_shape)
    keep = np.flatnonzero(~empty & ~outside)
    coverage.pixels, coverage.n_pixels, coverage.centroid = (coverage.pixels[keep], coverage.n_pixels[keep],
                                                             coverage.centroid[keep])
    ids = [ids[k] for k in keep]
    classes = [classes[k] for k in keep] if classes is not None else None
    return coverage, ids, classes, {"dropped_empty": int(empty.sum()), "dropped_outside_image": int(outside.sum())}


def run(args: Args) -> Cells:
    from ..export.anndata import sample_uns  # anndata is imported only by the steps that need it
    from ..export.cells import X_UNITS, cell_table, cell_weights, cells_spatial, cells_uns, write_cells_h5ad
    out, inputs, done = start(Cells, args, implied_files(args))
    if done:
        return done
    rescaled, result = Rescaled(args.rescaled), Result(args.result)
    sample, meta = rescaled.sample, check_same_sample(result, rescaled)
    genes, mask = result.genes.read(), result.tissue.read()
    kind, coverage, ids, classes = _coverage(args, sample, mask)
    given = len(ids)
    coverage, ids, classes, dropped = _kept(coverage, ids, classes, sample["raw_shape"])
    if not ids:
        raise InputError(args.segmentation, f"none of its {given} cells covers a pixel of he-raw",
                         "give the segmentation of this section, in he-raw pixels")
    for what, n in dropped.items():
        if n:
            say(f"cells {sample['name']}: warning: {n} of {given} cells left out: {WHY_DROPPED[what]}")
    weights = cell_weights(coverage, (SUPERPIXEL * sample["pixel_size"]) ** 2)
    obs = cell_table(ids, coverage, weights, result, mask, classes)
    thumb, factor = (None, 1)
    if args.thumbnail_px > 0:
        thumb, factor = thumbnail(rescaled.image.read(mmap=True), sample["shape"], args.thumbnail_px,
                                  min_factor=math.ceil(sample["scale"]))
    check_free_space(out.parent, len(ids) * len(genes) * 4, "the cells' .h5ad")
    segmentation = {"file": os.path.abspath(args.segmentation), "kind": kind}
    say(f"cells {sample['name']}: {len(ids)} cells ({kind}) x {len(genes)} genes -> {out}")
    with Cells.create(out, inputs) as folder:
        write_cells_h5ad(folder.table, result, genes, mask, obs, coverage.centroid, weights,
                         cells_uns(sample_uns(sample, meta), segmentation),
                         cells_spatial(sample["name"], sample["scale"], thumb, factor, obs["area_um2"].to_numpy(),
                                       sample["pixel_size_raw"]),
                         Progress(f"cells {sample['name']}"))
        folder.record.write({
            "sample": sample["name"], "segmentation": {**segmentation, "cells_given": given, "cells": len(ids),
                                                       **dropped},
            "counting_pixel_um": (sample["pixel_size_raw"] if kind == "labels" else sample["pixel_size"] / SUB),
            "superpixel_um": SUPERPIXEL * sample["pixel_size"], "n_genes": len(genes), "units": X_UNITS,
            "median_area_um2": float(np.median(obs["area_um2"])),
            "median_tissue_fraction": float(np.median(obs["tissue_fraction"]))})
    return Cells(out)
