"""One counts reader for every counts file: bins x genes, never densified over all genes.

A training sample's counts may be a dense table (`cnts.tsv|tsv.gz|parquet`,
what people write by hand) or a sparse AnnData file (`cnts.h5ad`, what
`p2g-import` writes: a Visium HD section has ~600k bins x 18k genes, which
no one can hold densely). Every step reads counts through `open_counts`:
ids and gene names up front, values only as row blocks restricted to the
genes a step needs.
"""
from pathlib import Path

from ...errors import InputError
from ..names import check_names
from .base import Counts
from .table import TableCounts


def open_counts(path) -> Counts:
    """The reader for a counts file, by its suffix; ids and gene names are checked here."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "counts file is missing", "give cnts.h5ad, cnts.parquet or cnts.tsv")
    if path.name.endswith(".h5ad"):
        from .h5ad import H5adCounts
        counts = H5adCounts(path)
    elif path.name.endswith((".parquet", ".tsv", ".tsv.gz", ".txt", ".csv")):
        counts = TableCounts(path)
    else:
        raise InputError(path, "unknown counts format", "give cnts.h5ad (sparse AnnData), cnts.parquet or cnts.tsv")
    check_names(path, counts.ids, "id")
    check_names(path, counts.genes, "gene")
    return counts
