"""Counts in a dense table held by pandas (tsv / parquet): small by nature, read whole."""
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..tables import read_counts
from .base import Counts


class TableCounts(Counts):
    """A dense table held by pandas (tsv / parquet): small by nature, read whole."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.table = read_counts(self.path)
        self.ids, self.genes = self.table.index, self.table.columns

    def _raw_blocks(self, cols):
        values = self.table.to_numpy(np.float32, copy=False)
        for s in range(0, len(values), self.block_rows):
            block = values[s:s + self.block_rows]
            yield s, sp.csr_matrix(block if cols is None else block[:, cols])

    def validate(self) -> None:
        pass  # read_counts has checked every value already
