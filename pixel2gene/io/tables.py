"""Counts and locations tables: read, then validate before anything is written."""
import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .names import check_names


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
    if df.index.isna().any() or (df.index.astype(str).str.strip() == "").any():
        row = int(np.flatnonzero(df.index.isna() | (df.index.astype(str).str.strip() == ""))[0])
        raise InputError(path, f"row {row + 1} has an empty id", "give every row an id in the first column")
    df.index = df.index.astype(str)
    if df.index.has_duplicates:
        dup = df.index[df.index.duplicated()][0]
        raise InputError(path, f"id '{dup}' appears more than once", "make the ids in the first column unique")
    return df


def _header(path: Path):
    """A text table's column names as written (pandas renames repeats to GENE.1 and blanks to Unnamed: N)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", newline="") as fh:
            return next(csv.reader(fh, delimiter="\t"), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return None  # read_table reports what is wrong with the file


def read_counts(path: Path) -> pd.DataFrame:
    """A dense counts table (tsv / parquet); see io/counts.py for the reader every step uses."""
    path = Path(path)
    df = read_table(path)
    header = None if path.suffix == ".parquet" else _header(path)
    check_names(path, header[1:] if header else df.columns, "gene")
    bad = [c for c, kind in df.dtypes.items() if not pd.api.types.is_numeric_dtype(kind)]  # not df[c]: slow by gene
    if bad:
        raise InputError(path, f"column '{bad[0]}' is not numeric",
                         "counts must be numbers: rows are bins/spots, columns genes, ids first")
    values = df.to_numpy(dtype=np.float32, copy=False)
    if not np.isfinite(values).all():
        raise InputError(path, "counts contain empty, NaN or infinite cells",
                         "re-export the table if it was cut off (a short last row); else write 0 in empty cells")
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


def match_ids(ids: pd.Index, locs: pd.DataFrame, counts_path, locs_path):
    """Both files must describe the same bins (`ids`: the counts' ids); reorder locations to the counts."""
    ids = pd.Index(ids)
    missing = ids.difference(locs.index)
    if len(missing):
        raise InputError(locs_path, f"{len(missing)} ids of {Path(counts_path).name} have no location "
                                    f"(first: '{missing[0]}')",
                         "give every counted bin a location with the same id")
    extra = locs.index.difference(ids)
    if len(extra) == len(locs):
        raise InputError(locs_path, "no id matches the counts table", "use the same ids in both tables")
    return locs.loc[ids]
