"""Ids and gene names must be usable as keys: non-empty and unique."""
import numpy as np
import pandas as pd

from ..errors import InputError

_FIX = {"gene": ("give every gene (column) a name",
                 "make the gene names unique (e.g. append the Ensembl id to a repeated symbol)"),
        "id": ("give every bin/spot/cell an id", "make the bin/spot/cell ids unique")}


def check_names(path, names, what: str) -> None:
    """`what` is 'gene' or 'id'. A repeated or empty name would be silently renamed, merged or dropped."""
    names = pd.Index(names)
    text = names.astype(str)
    empty = np.asarray(pd.isna(names) | (text.str.strip() == ""))
    if empty.any():
        raise InputError(path, f"{int(empty.sum())} empty {what} name(s) (the first at position "
                               f"{int(np.flatnonzero(empty)[0]) + 1})", _FIX[what][0])
    if text.has_duplicates:
        raise InputError(path, f"{what} '{text[text.duplicated()][0]}' appears more than once", _FIX[what][1])
