"""10x feature-barcode matrices (Space Ranger, Xenium): HDF5 or Matrix Market folder.

Both store features x barcodes; the HDF5 keeps it as CSC, which is CSR over
barcodes, so rows (spots/bins/cells) stream in blocks straight from the file.
Only `Gene Expression` features that are not control probes become genes;
repeated gene symbols get their feature id appended, so every name is unique.
"""
import gzip
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError
from ..genes.select import is_control
from ..io.csr_stream import as_index_array, check_indptr, csr_row_blocks

GENE_TYPE = "Gene Expression"
# Xenium's feature types for what is not a gene: Negative Control Probe/Codeword, Unassigned/Deprecated
# Codeword, Genomic Control
CONTROL_TYPE = re.compile(r"control|codeword", re.IGNORECASE)
FIX_H5 = "give the feature-barcode matrix .h5 exactly as Space Ranger / Xenium wrote it"
FIX_MTX = "give the matrix folder exactly as Space Ranger / Xenium wrote it (matrix.mtx, features.tsv, barcodes.tsv)"
MTX_NAMES = ("matrix.mtx.gz", "matrix.mtx")  # what makes a folder a Matrix Market matrix


def _text(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


class FeatureMatrix:
    """barcodes (rows) x features (columns); `blocks(rows, cols)` streams CSR blocks of the chosen rows."""

    path: Path
    barcodes: pd.Index
    feature_ids: np.ndarray
    feature_names: np.ndarray
    feature_types: np.ndarray

    def _all_blocks(self) -> Iterator[Tuple[int, sp.csr_matrix]]:
        raise NotImplementedError

    @property
    def n_values(self) -> int:
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    def check_has_counts(self) -> None:
        if self.n_values == 0:
            raise InputError(self.path, f"holds no counts ({len(self.barcodes)} barcodes x "
                             f"{len(self.feature_ids)} features, not one non-zero value)",
                             "give the matrix of a run that measured expression")

    def gene_columns(self) -> Tuple[np.ndarray, List[str], dict]:
        """(positions of the gene features, their unique names, {renamed: original}), in feature order."""
        keep = np.array([t == GENE_TYPE and not is_control(n) for t, n in zip(self.feature_types, self.feature_names)],
                        bool)
        pos = np.flatnonzero(keep)
        if not len(pos):
            raise InputError(self.path, f"no '{GENE_TYPE}' feature (found types: "
                             f"{', '.join(sorted(set(self.feature_types)))[:80]})", "give the gene expression matrix")
        names = [n if n.strip() else i for n, i in zip(self.feature_names[pos], self.feature_ids[pos])]
        repeated = pd.Index(names).duplicated(keep=False)
        renamed = {}
        for k in np.flatnonzero(repeated):  # every copy of a repeated symbol, so none is privileged
            new = f"{names[k]}_{self.feature_ids[pos[k]]}"
            renamed[new] = names[k]
            names[k] = new
        if pd.Index(names).has_duplicates or any(not n.strip() for n in names):
            raise InputError(self.path, "gene names and ids do not make every gene unique", FIX_H5)
        return pos, names, renamed

    def var_columns(self, cols: np.ndarray) -> dict:
        """The kept features' ids and types, named as scanpy's read_10x_h5 names them in `var`."""
        return {"gene_ids": list(self.feature_ids[cols]), "feature_types": list(self.feature_types[cols])}

    def dropped_features(self, cols: np.ndarray) -> dict:
        """The features not kept as genes, each counted once: control probes and codewords (by type or name),
        and any other kind (antibody capture, CRISPR guides, ...)."""
        dropped = np.setdiff1d(np.arange(len(self.feature_ids)), cols)
        control = sum(1 for k in dropped
                      if is_control(self.feature_names[k]) or CONTROL_TYPE.search(self.feature_types[k]))
        return {"control_features": int(control), "other_features": int(len(dropped) - control)}

    def blocks(self, rows: np.ndarray, cols: np.ndarray) -> Iterator[sp.csr_matrix]:
        """CSR blocks of the rows at sorted positions `rows`, restricted to `cols`, in row order."""
        rows = np.asarray(rows, np.int64)
        for start, block in self._all_blocks():
            lo, hi = np.searchsorted(rows, [start, start + block.shape[0]])
            if hi > lo:
                yield block[rows[lo:hi] - start][:, cols]


class H5Matrix(FeatureMatrix):
    def __init__(self, path):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError:
            raise InputError(self.path, "is not an HDF5 file", FIX_H5) from None
        m = self._file.get("matrix")
        need = ("data", "indices", "indptr", "shape", "barcodes", "features")
        if not isinstance(m, h5py.Group) or any(k not in m for k in need):
            raise InputError(self.path, "is not a 10x feature-barcode matrix (no matrix/data, indices, indptr, "
                             "shape, barcodes, features)", FIX_H5)
        n_features, n_barcodes = as_index_array(self.path, m["shape"][:], "matrix/shape", FIX_H5)[:2]
        self.barcodes = pd.Index(_text(m["barcodes"][:]))
        f = m["features"]
        self.feature_names = _text(f["name"][:]) if "name" in f else _text(f["id"][:])
        self.feature_ids = _text(f["id"][:]) if "id" in f else self.feature_names
        self.feature_types = _text(f["feature_type"][:]) if "feature_type" in f else \
            np.full(len(self.feature_ids), GENE_TYPE, object)
        if len(self.barcodes) != n_barcodes or len(self.feature_ids) != n_features:
            raise InputError(self.path, f"matrix/shape says {n_features} features x {n_barcodes} barcodes but it "
                             f"lists {len(self.feature_ids)} and {len(self.barcodes)}", FIX_H5)
        self._m = m
        self.indptr = as_index_array(self.path, m["indptr"][:], "matrix/indptr", FIX_H5)
        check_indptr(self.path, self.indptr, n_barcodes, len(m["data"]), FIX_H5)

    @property
    def n_values(self) -> int:
        return len(self._m["data"])

    @property
    def dtype(self) -> np.dtype:
        return self._m["data"].dtype

    def _all_blocks(self):
        return csr_row_blocks(self.path, self._m["data"], self._m["indices"], self.indptr, len(self.feature_ids),
                              FIX_H5)

    def close(self):
        self._file.close()


def _open_text(path: Path):
    """Text that may or may not be gzipped, whatever its name says (the magic bytes decide)."""
    with open(path, "rb") as fh:
        zipped = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if zipped else open(path, "rt")


def _first(folder: Path, names) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise InputError(folder / names[0], "file is missing", FIX_MTX)


class MtxMatrix(FeatureMatrix):
    """A Matrix Market folder; read whole (sparse): prefer the .h5 for large sections."""

    def __init__(self, folder):
        folder = Path(folder)
        self.path = _first(folder, MTX_NAMES)
        barcodes_path = _first(folder, ("barcodes.tsv.gz", "barcodes.tsv"))
        features_path = _first(folder, ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"))
        with _open_text(barcodes_path) as fh:
            self.barcodes = pd.Index([line.strip().split("\t")[0] for line in fh if line.strip()], dtype=object)
        with _open_text(features_path) as fh:
            rows = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
        self.feature_ids = np.array([r[0] for r in rows], object)
        self.feature_names = np.array([r[1] if len(r) > 1 else r[0] for r in rows], object)
        self.feature_types = np.array([r[2] if len(r) > 2 else GENE_TYPE for r in rows], object)
        self._matrix = self._read(len(self.feature_ids), len(self.barcodes))

    def _read(self, n_features, n_barcodes) -> sp.csr_matrix:
        with _open_text(self.path) as fh:
            banner = fh.readline().lower().split()
            if len(banner) < 5 or banner[0] != "%%matrixmarket" or banner[2] != "coordinate" \
                    or banner[4] != "general" or banner[3] not in ("integer", "real", "pattern"):
                raise InputError(self.path, "is not a general coordinate Matrix Market file", FIX_MTX)
            line = fh.readline()
            while line.startswith("%"):
                line = fh.readline()
            try:
                n_rows, n_cols, nnz = (int(v) for v in line.split()[:3])
                table = pd.read_csv(fh, sep=r"\s+", header=None, dtype=np.float64).to_numpy() if nnz else \
                    np.zeros((0, 3))
            except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
                raise InputError(self.path, "cannot be parsed as Matrix Market", FIX_MTX) from None
        if (n_rows, n_cols) != (n_features, n_barcodes) or len(table) != nnz:
            raise InputError(self.path, f"holds {n_rows} x {n_cols} ({len(table)} of {nnz} entries) but the folder "
                             f"lists {n_features} features and {n_barcodes} barcodes", FIX_MTX)
        values = table[:, 2] if banner[3] != "pattern" and nnz else np.ones(len(table))
        if banner[3] != "real":
            values = values.astype(np.int64)
        f, b = table[:, 0].astype(np.int64) - 1, table[:, 1].astype(np.int64) - 1
        if nnz and (f.min() < 0 or b.min() < 0 or f.max() >= n_features or b.max() >= n_barcodes):
            raise InputError(self.path, "entries point outside the matrix", FIX_MTX)
        return sp.csr_matrix((values, (b, f)), shape=(n_barcodes, n_features))

    @property
    def n_values(self) -> int:
        return self._matrix.nnz

    @property
    def dtype(self) -> np.dtype:
        return self._matrix.dtype

    def _all_blocks(self):
        yield 0, self._matrix

    def close(self):
        pass


def is_matrix(path: Path) -> bool:
    """An .h5 file, or a Matrix Market folder: one that holds matrix.mtx(.gz) (lib/TenxInputs.groovy asks the same)."""
    return path.is_file() if path.suffix == ".h5" else any((path / name).is_file() for name in MTX_NAMES)


def open_matrix(path) -> FeatureMatrix:
    path = Path(path)
    return MtxMatrix(path) if path.is_dir() else H5Matrix(path)
