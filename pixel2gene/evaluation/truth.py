"""Truth bins and the predictions summed over them, on the superpixel grid."""
import numpy as np
import pandas as pd

from ..artifacts.result import Result
from ..errors import InputError
from ..image.disks import gather_disks
from ..io.counts import open_counts
from ..io.tables import match_ids, read_locations


class Bins:
    """Measured bins of one sample with their tissue superpixels.

    counts (n, G) float32 are the measured counts of `genes`; index (n, K) the
    flat grid positions of each bin's tissue superpixels (-1 padded).
    """

    def __init__(self, ids, counts, genes, index):
        self.ids, self.counts, self.genes, self.index = list(ids), counts, list(genes), index

    def paint(self, values: np.ndarray, shape) -> np.ndarray:
        """Each bin's value over its superpixels: a map comparable to a predicted one."""
        out = np.zeros(int(np.prod(shape)), np.float64)
        n = (self.index >= 0).sum(1)
        rows = np.repeat(np.arange(len(values)), n)
        out[self.index[self.index >= 0]] = values[rows]
        return out.reshape(shape)

    def paint_window(self, values: np.ndarray, shape, window) -> np.ndarray:
        """paint for the (n, k) columns of `values` at once, cut to `window` (row and column slices of the
        grid): (h, w, k) in the values' type, each channel equal to paint(values[:, j], shape)[window]."""
        (r, c), width = window, shape[1]
        h, w = r.stop - r.start, c.stop - c.start
        valid = self.index >= 0
        cells, rows = self.index[valid], np.nonzero(valid)[0]
        local = (cells // width - r.start) * w + (cells % width - c.start)  # every bin lies inside the window
        out = np.zeros((h * w, values.shape[1]), values.dtype)
        out[local] = values[rows]
        return out.reshape(h, w, -1)

    def region(self, shape) -> np.ndarray:
        covered = np.zeros(int(np.prod(shape)), bool)
        covered[self.index[self.index >= 0]] = True
        return covered.reshape(shape)


def load_truth(counts_path, locs_path, scale: float, diameter_px: float, mask: np.ndarray, raw_shape=None,
               genes=None) -> Bins:
    """A truth file of bins/spots (locations in he-raw pixels) placed on this sample's grid.

    Only `genes` (those of them the file measures; all when None) are read, so a sparse truth file of a
    whole section is never densified over all its genes.
    """
    with open_counts(counts_path) as counts:
        locs = match_ids(counts.ids, read_locations(locs_path, raw_shape), counts_path, locs_path)
        xy = locs[["x", "y"]].to_numpy(np.float64) * scale
        index, n_tissue, _ = gather_disks(xy, diameter_px, mask)
        keep = n_tissue > 0
        if not keep.any():
            raise InputError(locs_path, "no truth bin falls on the tissue of this sample",
                             "give truth locations in pixels of this sample's he-raw image")
        measured = set(counts.genes)
        use = list(counts.genes) if genes is None else [g for g in genes if g in measured]
        values, _ = counts.take(locs.index[keep], use)
    return Bins(locs.index[keep], values.toarray(), use, index[keep])  # float32: exact for counts


def predicted_bin_counts(result: Result, genes, bins: Bins) -> np.ndarray:
    """(n, G) predicted counts of each bin: the sum of its superpixels' predictions."""
    valid = bins.index >= 0
    flat_index = np.where(valid, bins.index, 0)
    out = np.zeros((len(bins.ids), len(genes)), np.float32)
    for g, gene in enumerate(genes):
        grid = result.gene_map(gene).ravel()
        out[:, g] = np.where(valid, np.nan_to_num(grid[flat_index]), 0).sum(1)
    return out


def restrict(bins: Bins, genes) -> Bins:
    """The same bins with only `genes` (in that order) as columns."""
    pos = pd.Index(bins.genes).get_indexer(genes)
    return Bins(bins.ids, bins.counts[:, pos], genes, bins.index)
