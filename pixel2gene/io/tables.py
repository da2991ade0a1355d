"""Counts and locations tables: read, then validate before anything is written."""
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError


def read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            if isinstance(df.index, pd.RangeIndex) and df.shape[1] > 0 \
                    and not pd.api.types.is_numeric_dtype(df.iloc[:, 0]):
                df = df.set_index(df.columns[0])
        else:
            df = pd.read_csv(path, sep="\t", index_col=0)
    except InputError:
        raise
    except Exception as exc:  # any parser failure is a user-fixable input problem
        raise InputError(path, f"cannot be read as a table ({type(exc).__name__})",
                         "write a tab-separated file (or parquet) with ids in the first column") from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise InputError(path, "table is empty", "write at least one row and one column")
    df.index = df.index.astype(str)
    if df.index.has_duplicates:
        dup = df.index[df.index.duplicated()][0]
        raise InputError(path, f"id '{dup}' appears more than once", "make the ids in the first column unique")
    return df


def read_counts(path: Path) -> pd.DataFrame:
    df = read_table(path)
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InputError(path, f"column '{bad[0]}' is not numeric",
                         "counts must be numbers: rows are bins/spots, columns genes, ids first")
    values = df.to_numpy(dtype=np.float32, copy=False)
    if not np.isfinite(values).all():
        raise InputError(path, "counts contain NaN or infinite values", "replace them with 0 or drop those rows")
    if (values < 0).any():
        raise InputError(path, "counts contain negative values", "give raw, non-negative counts")
    df.columns = df.columns.astype(str)
    return df


def read_locations(path: Path, image_shape=None) -> pd.DataFrame:
    df = read_table(path)
    if not {"x", "y"} <= set(df.columns):
        raise InputError(path, f"columns x and y are missing (found {list(df.columns)[:5]})",
                         "name the image column 'x' and the image row 'y'")
    xy = df[["x", "y"]]
    if not all(pd.api.types.is_numeric_dtype(xy[c]) for c in xy.columns):
        raise InputError(path, "x or y is not numeric", "give pixel coordinates as numbers")
    xy = xy.astype(np.float64)
    if not np.isfinite(xy.to_numpy()).all():
        raise InputError(path, "x or y contains NaN or infinite values", "drop those rows or fix their coordinates")
    if image_shape is not None:
        h, w = image_shape[:2]
        outside = (xy.x < 0) | (xy.y < 0) | (xy.x >= w) | (xy.y >= h)
        if outside.any():
            first = xy.index[outside.to_numpy()][0]
            raise InputError(path, f"{int(outside.sum())} locations fall outside the {w}x{h} image "
                                   f"(first: '{first}')",
                             "use pixel coordinates of he-raw (x = column, y = row)")
    return xy


def match_ids(counts: pd.DataFrame, locs: pd.DataFrame, counts_path, locs_path):
    """Both tables must describe the same bins; reorder locations to the counts."""
    missing = counts.index.difference(locs.index)
    if len(missing):
        raise InputError(locs_path, f"{len(missing)} ids of {Path(counts_path).name} have no location "
                                    f"(first: '{missing[0]}')",
                         "give every counted bin a location with the same id")
    extra = locs.index.difference(counts.index)
    if len(extra) == len(locs):
        raise InputError(locs_path, "no id matches the counts table", "use the same ids in both tables")
    return locs.loc[counts.index]
