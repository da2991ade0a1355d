"""Write an imported section as a sample folder in the seed layout, all or nothing.

    cnts.h5ad           sparse counts (CSR), bins/spots/cells x genes
    locs-raw.parquet    x = column, y = row, in pixels of the image he-raw points at
    he-raw.<ext>        a symbolic link to the user's image (never copied or re-encoded)
    radius-raw.txt      the diameter in µm one bin/spot/cell spans
    pixel-size-raw.txt  µm per pixel of he-raw
    pixel-size.txt      the target µm per pixel (0.5: 16 px superpixels are 8 µm)
    import.json         where every value came from

Everything is written into a hidden sibling folder that replaces the target
only when complete; a target that exists and is not an earlier import (or an
empty folder) is never touched.
"""
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import __version__
from ..errors import InputError
from ..io.counts.h5ad import H5adCountsWriter
from ..io.outputs import atomic_dir
from ..io.sample import COUNTS, LOCS, PIXEL_SIZE, PIXEL_SIZE_RAW, RADIUS
from ..io.slides import mirax_data
from ..tool.progress import say
from .images import he_raw_name

RECORD = "import.json"


@dataclass
class Imported:
    vendor: str
    ids: pd.Index                  # rows of the counts, in this order
    genes: List[str]
    blocks: Callable[[], Iterator[sp.csr_matrix]]  # count rows in `ids` order, block by block
    dtype: type
    matrix_path: Path
    locs: pd.DataFrame             # index `ids`; x, y in pixels of `image`, plus informative columns
    image: Path
    diameter_um: float
    pixel_size_raw: float
    record: dict = field(default_factory=dict)
    var: dict = field(default_factory=dict)   # per-gene columns of cnts.h5ad's var (gene_ids, feature_types)


def out_folder(out) -> Path:
    """The sample folder to write; refuse one that holds anything but an earlier import."""
    final = Path(out)
    if final.exists():
        if not final.is_dir():
            raise InputError(final, "exists and is not a folder", "give --out a new folder (the sample prefix)")
        if any(final.iterdir()) and not (final / RECORD).is_file():
            raise InputError(final, "folder exists and was not written by p2g-import",
                             "give --out a new folder; p2g-import replaces only its own earlier output")
    return final


def write_prefix(out, imp: Imported, pixel_size: float = 0.5) -> Path:
    final = out_folder(out)
    with atomic_dir(final) as tmp:
        total = _write_counts(tmp / (COUNTS + ".h5ad"), imp)
        if total <= 0:
            raise InputError(imp.matrix_path, f"holds no counts: every value of the {len(imp.ids)} kept "
                             "spots/bins is zero", "give the matrix of a run that measured expression")
        locs = imp.locs.copy()
        locs.index = pd.Index(imp.ids, name="id")
        locs.to_parquet(tmp / (LOCS + ".parquet"))
        os.symlink(imp.image.resolve(), tmp / he_raw_name(imp.image))
        _link_slide_data(imp.image.resolve(), tmp / he_raw_name(imp.image))
        (tmp / RADIUS).write_text(f"{imp.diameter_um:.6g}\n")
        (tmp / PIXEL_SIZE_RAW).write_text(f"{imp.pixel_size_raw:.10g}\n")
        (tmp / PIXEL_SIZE).write_text(f"{pixel_size:g}\n")
        record = {"tool": "p2g-import", "vendor": imp.vendor, "version": __version__,
                  "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "n_bins": len(imp.ids), "n_genes": len(imp.genes), "total_counts": total,
                  "he_raw": {"link": he_raw_name(imp.image), "target": str(imp.image.resolve()),
                             "given": str(imp.image)},
                  "diameter_um": imp.diameter_um, "pixel_size_raw_um": imp.pixel_size_raw,
                  "pixel_size_um": pixel_size, **imp.record}
        (tmp / RECORD).write_text(json.dumps(record, indent=2, default=str) + "\n")
    return final


def _link_slide_data(image: Path, link: Path) -> None:
    """A MIRAX slide (.mrxs) reads the folder of its own name beside it: link it beside he-raw.mrxs as he-raw/, so
    the sample's files (and a pipeline task that stages them) hold the whole slide, wherever the link is read."""
    if image.suffix.lower() == ".mrxs" and mirax_data(image).is_dir():
        os.symlink(mirax_data(image), mirax_data(link), target_is_directory=True)


def _write_counts(path: Path, imp: Imported) -> float:
    writer = H5adCountsWriter(path, imp.ids, imp.genes, imp.dtype, imp.var)
    total, rows = 0.0, 0
    try:
        for block in imp.blocks():
            writer.add(block)
            total += float(block.sum())
            rows += block.shape[0]
        writer.close()
    finally:
        writer.abort()
    if rows != len(imp.ids):
        raise RuntimeError(f"{imp.matrix_path}: {rows} count rows for {len(imp.ids)} ids")
    return total


def warn(vendor: str, notes: List[str], renamed: dict) -> None:
    """Print the import's warnings (they are also kept in import.json); adds the renamed-genes note."""
    if renamed:
        notes.append(f"{len(renamed)} repeated gene symbols got their feature id appended "
                     f"(e.g. {next(iter(renamed))})")
    for note in notes:
        say(f"import {vendor}: warning: {note}")


def counts_dtype(matrix_dtype) -> type:
    """Integer counts stay integers in cnts.h5ad; anything else is stored as float32."""
    return np.int32 if np.issubdtype(np.dtype(matrix_dtype), np.integer) else np.float32
