"""A cell segmentation the user brings: a label image, or polygons from a GeoJSON file.

Both are in pixels of he-raw (x = column, y = row, pixel j spanning [j, j+1)),
the frame QuPath and CellViT export in when they segment the full-resolution
image. Xenium's cell boundaries (µm in the instrument's frame) are read by
importers/xenium.py, which also knows how to place them on the H&E.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import InputError

LABEL_SUFFIXES = (".tif", ".tiff", ".png", ".npy")
GEOJSON_SUFFIXES = (".geojson", ".json")
XENIUM_SUFFIXES = (".parquet", ".csv.gz", ".csv")
KINDS = "a label image (.tif/.png/.npy), GeoJSON polygons (.geojson) or Xenium's cell_boundaries.parquet"
# where QuPath, CellViT and hand-written exports keep a cell's own id, most specific first
ID_KEYS = ("cell_id", "id", "object_id", "label")


@dataclass
class Polygons:
    """Cells as polygon rings: ring k is xy[ring_start[k]:ring_start[k + 1]] and belongs to cell ring_cell[k]."""
    ids: List[str]
    xy: np.ndarray            # (vertices, 2) float64
    ring_start: np.ndarray    # (rings + 1,) int64
    ring_cell: np.ndarray     # (rings,) int64
    classes: Optional[List[str]] = None  # a class per cell, where the export names one

    def transformed(self, fn) -> "Polygons":
        return Polygons(self.ids, fn(self.xy), self.ring_start, self.ring_cell, self.classes)


def segmentation_kind(path) -> str:
    name = Path(path).name.lower()
    for kind, suffixes in (("labels", LABEL_SUFFIXES), ("geojson", GEOJSON_SUFFIXES), ("xenium", XENIUM_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    raise InputError(path, "is not a segmentation pixel2gene reads", f"give {KINDS}")


# label images ----------------------------------------------------------------------------------------
def read_label_image(path, he_raw_shape) -> np.ndarray:
    """(H, W) integer labels, 0 = no cell; a memory map where the format allows, so a slide is read in strips."""
    path = Path(path)
    labels = _load_labels(path)
    if labels.ndim == 3 and labels.shape[2] == 1:
        labels = labels[..., 0]
    if labels.ndim != 2:
        raise InputError(path, f"has shape {labels.shape}, not one label per pixel (a colour image?)",
                         "give a single-channel integer label image, 0 for no cell (e.g. Cellpose's masks)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(path, f"holds {labels.dtype} values, not integer labels",
                         "save the labels as integers (uint16/uint32/int32), 0 for no cell")
    if tuple(labels.shape) != tuple(he_raw_shape):
        raise InputError(path, f"is {labels.shape[1]}x{labels.shape[0]} px but he-raw is "
                         f"{he_raw_shape[1]}x{he_raw_shape[0]} px",
                         "give labels drawn on he-raw itself, pixel for pixel")
    if np.issubdtype(labels.dtype, np.signedinteger) and _least(labels) < 0:
        raise InputError(path, "holds negative labels", "use 0 for no cell and positive integers for cells")
    return labels


STRIP_PIXELS = 1 << 24  # label pixels per strip: 64 MiB of int32


def label_strips(labels, strip_pixels: int = STRIP_PIXELS):
    """(first row, rows as an array) of a label image, strip by strip: a memory map or a compressed TIFF is
    never decoded whole."""
    rows = max(1, strip_pixels // max(labels.shape[1], 1))
    for y0 in range(0, labels.shape[0], rows):
        yield y0, np.asarray(labels[y0:y0 + rows])


def _least(labels) -> int:
    return min(int(np.min(block)) for _, block in label_strips(labels))


def _load_labels(path: Path) -> np.ndarray:
    if not path.is_file() or path.stat().st_size == 0:
        raise InputError(path, "label image is missing or empty", f"give {KINDS}")
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            return _npy_labels(path)
        if name.endswith((".tif", ".tiff")):
            return _tiff_labels(path)
        import cv2
        labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except InputError:
        raise
    except Exception as exc:  # any decoder failure: the file is not an image we can read
        raise InputError(path, f"cannot be read as a label image ({type(exc).__name__})", f"give {KINDS}") from None
    if labels is None:
        raise InputError(path, "cannot be read as a label image", f"give {KINDS}")
    return labels


def _npy_labels(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise InputError(path, "is not a .npy file", "save the labels with numpy.save")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")  # never pickles: a file cannot run code
    except ValueError as exc:
        why = "holds Python objects (pickled)" if "pickle" in str(exc) else "is not a readable .npy"
        raise InputError(path, why, "save a plain integer array with numpy.save") from None


def _tiff_labels(path: Path):
    """Uncompressed: a memory map. Compressed (as Cellpose, QuPath and most tools save a slide's labels): a
    zarr view of the TIFF's own strips or tiles (zarr comes with anndata), decoded only where a strip is
    sliced, since a 50k x 50k slide's labels take 10 GB as int32."""
    import tifffile
    try:
        return tifffile.memmap(str(path), mode="r")
    except (ValueError, OSError):
        pass
    try:
        import zarr
        labels = zarr.open(tifffile.imread(str(path), aszarr=True, series=0, level=0), mode="r")
        np.asarray(labels[:1])  # a codec that is missing or a broken file fails here, as one line
        return labels
    except ImportError:
        return tifffile.imread(str(path), key=0)


# GeoJSON ---------------------------------------------------------------------------------------------
def read_geojson(path, split_multipolygons: bool = False) -> Polygons:
    """Polygon and MultiPolygon features as cells (one per feature, or one per MultiPolygon part)."""
    path = Path(path)
    features = _features(path)
    ids, rings, cells, classes = [], [], [], []
    skipped = 0
    for k, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if kind not in ("Polygon", "MultiPolygon"):
            skipped += 1
            continue
        parts = [geometry.get("coordinates")] if kind == "Polygon" else list(geometry.get("coordinates") or [])
        own = _feature_id(feature, k)
        groups = [[p] for p in parts] if split_multipolygons and kind == "MultiPolygon" else [parts]
        for j, group in enumerate(groups):
            ids.append(own if len(groups) == 1 else f"{own}_{j}")
            classes.append(_class_name(feature))
            for part in group:
                for ring in part or []:
                    rings.append(_ring(ring, path, own))
                    cells.append(len(ids) - 1)
    if not ids:
        raise InputError(path, f"holds no Polygon or MultiPolygon features ({skipped} others)",
                         "export the cells as polygons (QuPath: Export objects as GeoJSON; CellViT: its .geojson)")
    return _polygons(path, ids, rings, cells, classes)


def _features(path: Path) -> list:
    if not path.is_file() or path.stat().st_size == 0:
        raise InputError(path, "GeoJSON file is missing or empty", "give the cells exported as GeoJSON")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"is not valid JSON ({str(exc)[:80]})", "give the GeoJSON file as it was exported") \
            from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        data = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        data = [data]
    if not isinstance(data, list):
        raise InputError(path, "is not GeoJSON (no FeatureCollection or list of Features)",
                         "give the cells exported as GeoJSON")
    return data


def _feature_id(feature: dict, k: int) -> str:
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    for value in [props.get(key) for key in ID_KEYS[:1]] + [feature.get("id")] + [props.get(k_) for k_ in ID_KEYS[1:]]:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            return str(value)
    return str(k + 1)


def _class_name(feature: dict) -> str:
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    found = props.get("classification")
    found = found.get("name") if isinstance(found, dict) else found
    return str(found) if isinstance(found, (str, int)) else ""


def _ring(ring, path: Path, cell: str) -> np.ndarray:
    try:
        xy = np.array([[float(v[0]), float(v[1])] for v in ring], np.float64)
    except (TypeError, ValueError, IndexError):
        raise InputError(path, f"cell '{cell}' has a ring that is not a list of [x, y] numbers",
                         "give the GeoJSON file as it was exported") from None
    if len(xy) < 3 or not np.isfinite(xy).all():
        raise InputError(path, f"cell '{cell}' has a ring of {len(xy)} points or non-finite coordinates",
                         "give polygons of at least 3 finite points")
    return xy


def _polygons(path, ids, rings, cells, classes) -> Polygons:
    seen = set()
    for i in ids:
        if i in seen:
            raise InputError(path, f"cell id '{i}' repeats", "give each cell its own id (or none: they are numbered)")
        seen.add(i)
    lengths = np.array([len(r) for r in rings], np.int64)
    return Polygons(ids=ids, xy=np.concatenate(rings) if rings else np.zeros((0, 2)),
                    ring_start=np.concatenate([[0], np.cumsum(lengths)]), ring_cell=np.array(cells, np.int64),
                    classes=classes if any(classes) else None)


def polygons_from_vertices(path, cell_ids, xy) -> Polygons:
    """One ring per cell from a vertex table whose rows run cell by cell (Xenium's boundaries)."""
    codes, uniques = _codes(cell_ids)
    order = np.argsort(codes, kind="stable")  # a cell's vertices keep their order; cells are grouped
    codes, xy = codes[order], xy[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, len(codes)])
    if (lengths < 3).any():
        raise InputError(path, f"cell '{uniques[codes[starts[lengths < 3][0]]]}' has fewer than 3 vertices",
                         "give the boundaries file as Xenium wrote it")
    return Polygons(ids=[str(uniques[c]) for c in codes[starts]], xy=xy,
                    ring_start=np.r_[starts, len(codes)].astype(np.int64),
                    ring_cell=np.arange(len(starts), dtype=np.int64))


def _codes(cell_ids):
    import pandas as pd
    values = [v.decode() if isinstance(v, bytes) else str(v) for v in cell_ids]
    codes, uniques = pd.factorize(pd.Index(values, dtype=object))
    return codes.astype(np.int64), np.asarray(uniques, object)
