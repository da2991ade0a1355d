"""Xenium: cells (centroids in µm) placed on a post-Xenium H&E through 10x's alignment matrix.

The direction of the matrix, from 10x's knowledge base article "How can I
convert coordinates between H&E image and Xenium data": the 3 x 3 matrix in
`*_he_imagealignment.csv` (what Xenium Explorer exports after aligning an
H&E) takes an H&E pixel (x, y, 1) to a pixel of the Xenium morphology image,
and a morphology pixel is `pixel_size` µm (experiment.xenium). So a cell at
(x_um, y_um) sits at H&E pixel M^-1 (x_um / pixel_size, y_um / pixel_size, 1),
and one H&E pixel spans pixel_size * sqrt(|det M[:2, :2]|) µm.

A cell's diameter is that of the circle with its segmented area,
2 * sqrt(cell_area / pi); the sample's diameter (radius-raw.txt) is the
median over cells, and each cell's own is kept in locs-raw.parquet.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .images import check_not_blank, image_size
from .prefix import Imported, counts_dtype, warn
from .tenx_matrix import GENE_TYPE, is_matrix, open_matrix

FIX_ALIGNMENT = ("give the *_he_imagealignment.csv of this H&E and this run (the 3 x 3 matrix Xenium Explorer "
                 "exports with 'Download transformation matrix', not the keypoints file)")


CELL_TABLES = ("cells.parquet", "cells.csv.gz", "cells.csv")
MATRICES = ("cell_feature_matrix.h5", "cell_feature_matrix")  # HDF5, or the Matrix Market folder
EXPERIMENT = "experiment.xenium"  # the run's metadata: the morphology image's pixel size


@dataclass
class XeniumFiles:
    """Every file of a Xenium output folder that an import opens, found before any is read (see
    spaceranger.SpotFiles); the H&E and its alignment are given on their own."""
    folder: Path
    experiment: Path
    cells: Path
    matrix: Path

    def inputs(self) -> list:
        return [self.experiment, self.cells, self.matrix]


def xenium_files(outs) -> XeniumFiles:
    folder = Path(outs)
    if not folder.is_dir():
        raise InputError(folder, "folder is missing", "give the Xenium output folder")
    experiment = folder / EXPERIMENT
    if not experiment.is_file():
        raise InputError(experiment, "file is missing (it holds the morphology image's pixel size)",
                         "give the Xenium output folder as the instrument wrote it, with experiment.xenium")
    cells = next((folder / n for n in CELL_TABLES if (folder / n).is_file()), None)
    if cells is None:
        raise InputError(folder / CELL_TABLES[0], "cell table is missing",
                         "give the Xenium output folder with cells.parquet or cells.csv.gz")
    matrix = next((folder / n for n in MATRICES if is_matrix(folder / n)), None)
    if matrix is None:
        raise InputError(folder / MATRICES[0], "cell-feature matrix is missing",
                         "give the Xenium output folder with cell_feature_matrix.h5")
    return XeniumFiles(folder, experiment, cells, matrix)


def read_pixel_size(path: Path) -> float:
    try:
        value = json.loads(path.read_text()).get("pixel_size")
    except (ValueError, AttributeError):
        raise InputError(path, "is not valid JSON", "give experiment.xenium as the instrument wrote it") from None
    if not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise InputError(path, "'pixel_size' is missing or not a positive number",
                         "give experiment.xenium as the instrument wrote it")
    return float(value)


def read_alignment(path) -> np.ndarray:
    """The 3 x 3 affine matrix (H&E pixels -> morphology pixels)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "alignment file is missing", FIX_ALIGNMENT)
    rows = [re.split(r"[,\s;]+", line.strip()) for line in path.read_text(errors="replace").splitlines()
            if line.strip()]
    try:
        m = np.array([[float(v) for v in row] for row in rows], np.float64)
    except ValueError:
        what = "a keypoints table" if rows and any("fixed" in v.lower() or "alignment" in v.lower()
                                                     for v in rows[0]) else "not a matrix of numbers"
        raise InputError(path, f"is {what}, not the 3 x 3 alignment matrix", FIX_ALIGNMENT) from None
    if m.shape != (3, 3) or not np.isfinite(m).all():
        raise InputError(path, f"holds a {len(rows)}-row table, not a 3 x 3 matrix", FIX_ALIGNMENT)
    if not np.allclose(m[2], [0, 0, 1], atol=1e-9):
        raise InputError(path, f"last row is {m[2].tolist()}, not [0, 0, 1]: not an affine matrix", FIX_ALIGNMENT)
    if abs(np.linalg.det(m[:2, :2])) < 1e-12:
        raise InputError(path, "matrix is singular", FIX_ALIGNMENT)
    return m


def read_cells(path: Path) -> pd.DataFrame:
    try:
        cells = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # any parser failure is a user-fixable layout problem
        raise InputError(path, f"cannot be read ({type(exc).__name__})", "give the file as Xenium wrote it") from None
    need = ["cell_id", "x_centroid", "y_centroid", "cell_area"]
    missing = [c for c in need if c not in cells.columns]
    if missing:
        raise InputError(path, f"columns {missing} are missing", "give the cell table Xenium wrote (cells.parquet)")
    ids = [v.decode() if isinstance(v, bytes) else str(v) for v in cells["cell_id"]]
    cells = cells[need[1:]].apply(pd.to_numeric, errors="coerce").set_axis(pd.Index(ids), axis=0)
    if cells.isna().any().any() or cells.index.has_duplicates:
        raise InputError(path, "cell ids repeat or centroids/areas are not numbers", "give the file as Xenium wrote it")
    return cells


def to_he_pixels(xy_um: np.ndarray, pixel_size: float, alignment: np.ndarray) -> np.ndarray:
    """(n, 2) µm in the Xenium frame -> (n, 2) H&E pixels (x = column, y = row)."""
    morph = np.column_stack([xy_um / pixel_size, np.ones(len(xy_um))])
    return (np.linalg.inv(alignment) @ morph.T).T[:, :2]


def _inside(xy, size):
    w, h = size
    return (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < w) & (xy[:, 1] < h)


def place_cells(xy_um, pixel_size, alignment, size, alignment_path):
    """(H&E pixels of the cells, inside the image?); most cells must land inside or the matrix is wrong."""
    xy = to_he_pixels(xy_um, pixel_size, alignment)
    inside = _inside(xy, size)
    if inside.mean() < 0.5:
        flipped = _inside(to_he_pixels(xy_um, pixel_size, np.linalg.inv(alignment)), size)
        hint = " (the inverse matrix would fit: was it inverted?)" if flipped.mean() >= 0.5 else ""
        raise InputError(Path(alignment_path), f"only {100 * inside.mean():.0f}% of the cells fall inside the "
                         f"{size[0]}x{size[1]} H&E through this matrix{hint}", FIX_ALIGNMENT)
    return xy, inside


def import_xenium(outs, he_image, alignment_csv) -> Imported:
    files = xenium_files(outs)
    folder, experiment, cells_path, matrix_path = files.folder, files.experiment, files.cells, files.matrix
    pixel_size = read_pixel_size(experiment)
    cells = read_cells(cells_path)
    alignment = read_alignment(alignment_csv)
    he_image = Path(he_image)
    size = image_size(he_image)
    matrix = open_matrix(matrix_path)
    matrix.check_has_counts()
    known = matrix.barcodes.isin(cells.index)
    if not known.all():
        raise InputError(cells_path, f"{int((~known).sum())} of {len(known)} cells of {matrix_path.name} are not "
                         f"in this table (first: '{matrix.barcodes[~known][0]}')",
                         "give the cell table of the same run as the matrix")
    cells = cells.loc[matrix.barcodes]
    xy_um = cells[["x_centroid", "y_centroid"]].to_numpy(np.float64)
    xy, inside = place_cells(xy_um, pixel_size, alignment, size, alignment_csv)
    check_not_blank(he_image)
    rows = np.flatnonzero(inside)
    cols, genes, renamed = matrix.gene_columns()
    diameters = 2 * np.sqrt(cells["cell_area"].to_numpy(np.float64)[rows] / np.pi)
    diameter_um = float(np.median(diameters))
    pixel_size_raw = pixel_size * float(np.sqrt(abs(np.linalg.det(alignment[:2, :2]))))
    notes = [f"{int((~inside).sum())} cells fall outside the H&E image and were left out"] if (~inside).any() else []
    warn("xenium", notes, renamed)
    locs = pd.DataFrame({"x": xy[rows, 0], "y": xy[rows, 1], "x_um": xy_um[rows, 0], "y_um": xy_um[rows, 1],
                         "diameter_um": diameters})
    record = {
        "sources": {"outs": str(folder), "matrix": str(matrix_path), "cells": str(cells_path),
                    "experiment": str(experiment), "alignment": str(alignment_csv), "image": str(he_image)},
        "image": {"which": "H&E aligned by 10x", "size": list(size)},
        "alignment": {"matrix": alignment.tolist(), "maps": "H&E pixel -> morphology pixel (inverted here)",
                      "morphology_pixel_size_um": pixel_size},
        "derivation": {"pixel_size_raw_um": "pixel_size (experiment.xenium) x sqrt(|det(alignment[:2, :2])|)",
                       "locations": "alignment^-1 (x_centroid, y_centroid) / pixel_size",
                       "diameter_um": "median over cells of 2 sqrt(cell_area / pi); each cell's in locs-raw",
                       "genes": f"'{GENE_TYPE}' features without control probes"},
        "dropped": {"outside_image": int((~inside).sum()), **matrix.dropped_features(cols)},
        "renamed_genes": renamed, "warnings": notes,
    }
    return Imported(vendor="xenium", ids=pd.Index(matrix.barcodes[rows]), genes=genes,
                    blocks=lambda: matrix.blocks(rows, cols), dtype=counts_dtype(matrix.dtype),
                    matrix_path=matrix_path, locs=locs, image=he_image, diameter_um=diameter_um,
                    pixel_size_raw=pixel_size_raw, record=record, var=matrix.var_columns(cols))


def read_boundaries(path):
    """Xenium's cell (or nucleus) boundaries as polygons in µm of the Xenium frame (io/segmentation.py)."""
    from ..io.segmentation import polygons_from_vertices
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise InputError(path, "boundaries file is missing or empty",
                         "give cell_boundaries.parquet (or nucleus_boundaries.parquet) from the Xenium output folder")
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # any parser failure is a user-fixable layout problem
        raise InputError(path, f"cannot be read ({type(exc).__name__})", "give the file as Xenium wrote it") from None
    missing = [c for c in ("cell_id", "vertex_x", "vertex_y") if c not in table.columns]
    if missing:
        raise InputError(path, f"columns {missing} are missing",
                         "give cell_boundaries.parquet as Xenium wrote it (cell_id, vertex_x, vertex_y in µm)")
    xy = table[["vertex_x", "vertex_y"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if len(xy) == 0 or not np.isfinite(xy).all():
        raise InputError(path, "holds no vertices, or vertices that are not numbers",
                         "give the file as Xenium wrote it")
    return polygons_from_vertices(path, table["cell_id"].to_numpy(), xy)


def experiment_beside(boundaries) -> Path:
    """The run's experiment.xenium, which lies beside its boundaries files as the instrument writes them."""
    return Path(boundaries).parent / EXPERIMENT


def boundaries_on_he(path, alignment_csv=None, import_record: dict = None):
    """Xenium boundaries in H&E pixels, through the matrix the importer uses: --alignment with the
    experiment.xenium beside the boundaries, or else the record p2g-import xenium kept of the sample."""
    path = Path(path)
    if alignment_csv:
        experiment = experiment_beside(path)
        if not experiment.is_file():
            raise InputError(experiment, "file is missing (it holds the morphology image's pixel size)",
                             "keep experiment.xenium beside the boundaries file, as the instrument wrote them")
        pixel_size = read_pixel_size(experiment)
        alignment = read_alignment(alignment_csv)
    elif import_record and import_record.get("vendor") == "xenium" and "alignment" in import_record:
        pixel_size = float(import_record["alignment"]["morphology_pixel_size_um"])
        alignment = np.asarray(import_record["alignment"]["matrix"], np.float64)
    else:
        raise InputError(path, "Xenium boundaries are in µm and this sample has no Xenium alignment",
                         "give --alignment the *_he_imagealignment.csv of this H&E, or predict the sample that "
                         "p2g-import xenium wrote")
    return read_boundaries(path).transformed(lambda xy: to_he_pixels(xy, pixel_size, alignment))
