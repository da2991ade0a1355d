"""Sparse counts in AnnData's .h5ad layout: read by row blocks, written as a stream.

Only what the counts need is touched: the obs and var index (ids, gene
names) and X, which may be CSR (what we write; rows stream cheaply), CSC
(read whole, still sparse) or dense (read by row blocks). The writer emits
CSR block by block, so an importer never holds the whole matrix.
"""
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import InputError
from ..csr_stream import as_index_array, check_indptr, csr_row_blocks
from .base import Counts

CHUNK = 1 << 20      # HDF5 chunk (values) of the CSR arrays we write
FIX = "write it with anndata (AnnData.write_h5ad) with bins as obs and genes as var, or use p2g-import"


def _read_elem(node):
    try:
        from anndata.io import read_elem
    except ImportError:  # anndata < 0.11
        from anndata.experimental import read_elem
    return read_elem(node)


def _index(path, f: h5py.File, name: str) -> pd.Index:
    node = f.get(name)
    if not isinstance(node, h5py.Group) or "_index" not in node.attrs:
        raise InputError(path, f"'{name}' is not an AnnData dataframe (written by anndata older than 0.7?)",
                         "re-save it with a current anndata (AnnData.write_h5ad)")
    key = node.attrs["_index"]
    key = key.decode() if isinstance(key, bytes) else str(key)
    values = _read_elem(node[key])
    return pd.Index(np.asarray(values).astype(str), dtype=object)


class H5adCounts(Counts):
    def __init__(self, path):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError:
            raise InputError(self.path, "is not an HDF5 (.h5ad) file", FIX) from None
        f = self._file
        if "X" not in f:
            raise InputError(self.path, "holds no X matrix", FIX)
        self.ids = _index(self.path, f, "obs")
        self.genes = _index(self.path, f, "var")
        x = f["X"]
        if isinstance(x, h5py.Dataset):
            self.kind, shape = "array", tuple(x.shape)
        else:
            enc = x.attrs.get("encoding-type", "")
            self.kind = enc.decode() if isinstance(enc, bytes) else str(enc)
            if self.kind not in ("csr_matrix", "csc_matrix"):
                raise InputError(self.path, f"X has the unknown encoding '{self.kind}'", FIX)
            shape = tuple(int(v) for v in x.attrs["shape"])
        if shape != (len(self.ids), len(self.genes)):
            raise InputError(self.path, f"X is {shape[0]} x {shape[1]} but obs/var name "
                                        f"{len(self.ids)} bins x {len(self.genes)} genes", FIX)
        self._x = x

    def _raw_blocks(self, cols):
        if self.kind == "csr_matrix":
            yield from self._csr_blocks(cols)
            return
        if self.kind == "csc_matrix":  # rows do not stream from CSC: read it whole, still sparse
            x = self._x
            whole = sp.csc_matrix((x["data"][:], x["indices"][:], x["indptr"][:]), shape=self.shape).tocsr()
            if cols is not None:
                whole = whole[:, cols]
            for s in range(0, whole.shape[0], self.block_rows):
                yield s, whole[s:s + self.block_rows]
            return
        for s in range(0, len(self.ids), self.block_rows):
            block = np.asarray(self._x[s:s + self.block_rows])
            yield s, sp.csr_matrix(block if cols is None else block[:, cols])

    def _csr_blocks(self, cols):
        x = self._x
        indptr = as_index_array(self.path, x["indptr"][:], "X/indptr", FIX)
        check_indptr(self.path, indptr, len(self.ids), len(x["data"]), FIX)
        for s, block in csr_row_blocks(self.path, x["data"], x["indices"], indptr, len(self.genes), FIX,
                                       self.block_rows):
            yield s, block if cols is None else block[:, cols]

    def close(self):
        self._file.close()


class H5adCountsWriter:
    """Write cnts.h5ad as CSR, one row block at a time: `add(csr)` in row order, then `close()`."""

    def __init__(self, path, ids, genes, dtype=np.float32, var_columns: dict = None):
        """`var_columns`: name -> one value per gene, kept in `var` beside the names (e.g. 10x's gene_ids)."""
        import anndata as ad  # only writers of h5ad pay for importing anndata
        self.path, self.n_genes = Path(path), len(genes)
        obs = pd.DataFrame(index=pd.Index(list(ids), dtype=object, name="id"))
        var = pd.DataFrame({k: list(v) for k, v in (var_columns or {}).items()},
                           index=pd.Index(list(genes), dtype=object, name="gene"))
        ad.AnnData(obs=obs, var=var).write_h5ad(self.path)
        self.n_rows = len(obs)
        self._f = h5py.File(self.path, "a")
        g = self._f.create_group("X")
        g.attrs["encoding-type"] = "csr_matrix"
        g.attrs["encoding-version"] = "0.1.0"
        g.attrs["shape"] = np.array([self.n_rows, self.n_genes], np.int64)
        opts = dict(chunks=(CHUNK,), maxshape=(None,), compression="gzip", compression_opts=1)
        self._data = g.create_dataset("data", shape=(0,), dtype=dtype, **opts)
        self._indices = g.create_dataset("indices", shape=(0,), dtype=np.int32, **opts)
        self._indptr = [np.zeros(1, np.int64)]
        self._nnz, self._rows = 0, 0

    def add(self, block: sp.csr_matrix) -> None:
        block = sp.csr_matrix(block)
        block.sum_duplicates()
        block.sort_indices()
        k = block.nnz
        for ds, values in ((self._data, block.data), (self._indices, block.indices)):
            ds.resize((self._nnz + k,))
            ds[self._nnz:] = values.astype(ds.dtype, copy=False)
        self._indptr.append(block.indptr[1:].astype(np.int64) + self._nnz)
        self._nnz += k
        self._rows += block.shape[0]

    def close(self) -> None:
        if self._f is None:
            return
        if self._rows != self.n_rows:
            self._f.close()
            raise ValueError(f"{self.path}: wrote {self._rows} rows of {self.n_rows}")
        self._f["X"].create_dataset("indptr", data=np.concatenate(self._indptr))
        self._f.close()
        self._f = None

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
