"""Row blocks of a CSR matrix stored as data/indices/indptr arrays in an HDF5 file.

Both AnnData's CSR X and 10x's CSC feature-barcode matrix (= CSR over
barcodes) store a matrix this way; reading a block of rows touches only
that block's slice of `data` and `indices`.
"""
import numpy as np
import scipy.sparse as sp

from ..errors import InputError

BLOCK_ROWS = 32768
BLOCK_NNZ = 1 << 23


def as_index_array(path, values, what: str, fix: str) -> np.ndarray:
    """int64 copy of an index array; some writers store indices as floats, which is fine if they are whole."""
    a = np.asarray(values)
    if not np.issubdtype(a.dtype, np.integer):
        if not np.issubdtype(a.dtype, np.floating) or not np.array_equal(a, np.round(a)):
            raise InputError(path, f"{what} holds non-integer values", fix)
    return a.astype(np.int64)


def check_indptr(path, indptr: np.ndarray, n_rows: int, n_values: int, fix: str) -> None:
    if len(indptr) != n_rows + 1 or indptr[0] != 0 or indptr[-1] != n_values or (np.diff(indptr) < 0).any():
        raise InputError(path, "the sparse matrix's pointer array (indptr) does not fit its shape", fix)


def csr_row_blocks(path, data, indices, indptr: np.ndarray, n_cols: int, fix: str,
                   block_rows: int = BLOCK_ROWS, block_nnz: int = BLOCK_NNZ):
    """Yield (first row, CSR block) over all rows; `data`/`indices` may be HDF5 datasets."""
    n = len(indptr) - 1
    s = 0
    while s < n:
        fits = int(np.searchsorted(indptr, indptr[s] + block_nnz, "right")) - 1  # rows within the nnz budget
        e = min(n, s + block_rows, max(s + 1, fits))
        a, b = indptr[s], indptr[e]
        idx = as_index_array(path, indices[a:b], "indices", fix)
        if len(idx) and (idx.min() < 0 or idx.max() >= n_cols):
            raise InputError(path, "the sparse matrix's indices point outside its shape", fix)
        yield s, sp.csr_matrix((np.asarray(data[a:b]), idx, indptr[s:e + 1] - a), shape=(e - s, n_cols))
        s = e
