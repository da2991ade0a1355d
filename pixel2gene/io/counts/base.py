"""The counts reader every format shares: ids, gene names and validated row blocks of values."""
from pathlib import Path
from typing import Iterator, Sequence, Tuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import InputError

BLOCK_ROWS = 32768


class Counts:
    """A bins x genes matrix behind a file: `ids`, `genes`, and row blocks of values.

    Subclasses implement `_raw_blocks(cols)`, yielding (first row, CSR block)
    for consecutive row blocks, restricted to the column positions `cols`
    (all columns when None). Values are validated as they stream past.
    """

    path: Path
    ids: pd.Index
    genes: pd.Index
    block_rows: int = BLOCK_ROWS

    def _raw_blocks(self, cols) -> Iterator[Tuple[int, sp.csr_matrix]]:
        raise NotImplementedError

    @property
    def shape(self):
        return len(self.ids), len(self.genes)

    def blocks(self, cols=None) -> Iterator[Tuple[int, sp.csr_matrix]]:
        for start, block in self._raw_blocks(cols):
            _check_values(self.path, block.data)
            yield start, block.astype(np.float32, copy=False)

    def gene_positions(self, genes: Sequence[str]) -> np.ndarray:
        pos = self.genes.get_indexer(list(genes))
        if (pos < 0).any():
            missing = [g for g, p in zip(genes, pos) if p < 0]
            raise InputError(self.path, f"{len(missing)} requested genes are not measured (first: {missing[0]})",
                             "select genes from all training samples together")
        return pos

    def row_positions(self, ids: Sequence[str]) -> np.ndarray:
        pos = self.ids.get_indexer(pd.Index(ids).astype(str))
        if (pos < 0).any():
            first = pd.Index(ids)[np.flatnonzero(pos < 0)[0]]
            raise InputError(self.path, f"{int((pos < 0).sum())} bins have no counts (first: '{first}')",
                             "give the counts table of the same sample as the locations")
        return pos

    def validate(self) -> None:
        """One pass over every value: finite and non-negative, or a one-line error."""
        for _ in self.blocks():
            pass

    def gene_totals(self) -> pd.Series:
        """Total count of every gene over all bins (float64), streamed."""
        total = np.zeros(len(self.genes), np.float64)
        for _, block in self.blocks():
            total += np.asarray(block.sum(0), np.float64).ravel()
        return pd.Series(total, index=self.genes)

    def take(self, ids: Sequence[str], genes: Sequence[str]) -> Tuple[sp.csr_matrix, np.ndarray]:
        """(CSR len(ids) x len(genes) float32, each bin's total count over ALL genes), rows in `ids` order."""
        rows = self.row_positions(ids)
        cols = self.gene_positions(genes)
        totals = np.zeros(len(self.ids), np.float64)
        parts = []
        for start, block in self.blocks():
            totals[start:start + block.shape[0]] = np.asarray(block.sum(1), np.float64).ravel()
            parts.append(block[:, cols].tocsr())
        chosen = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, len(cols)), dtype=np.float32)
        return chosen[rows], totals[rows]

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check_values(path, data: np.ndarray) -> None:
    if data.size == 0:
        return
    if not np.isfinite(data).all():
        raise InputError(path, "counts contain empty, NaN or infinite cells",
                         "re-export the table if it was cut off (a short last row); else write 0 in empty cells")
    if (data < 0).any():
        raise InputError(path, "counts contain negative values", "give raw, non-negative counts")
