"""How much of each cell lies on each superpixel: pixel counts on a grid finer than the superpixels.

A cell's share of a superpixel is the number of counting pixels whose centre
lies inside the cell and inside that superpixel. Polygons are counted on the
rescaled grid refined SUB times (0.25 µm pixels at the default 0.5 µm: 32 x 32
per superpixel), span by span along each pixel row, so no raster of the slide
is ever held; a label image is counted on its own pixels (he-raw), strip by
strip. Either way the result is a sparse cells x superpixels matrix: a cell
touches a handful of superpixels, and a dense one would not fit a slide.

The matrix's columns are the tissue superpixels in row-major order (the order
of every prediction) plus one last column for whatever lies off tissue or off
the grid, so a cell's pixels always add up to its area.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import SUPERPIXEL
from ..io.segmentation import label_strips

SUB = 2                # counting pixels per rescaled pixel side for polygons
CELLS_PER_CHUNK = 20000


@dataclass
class Coverage:
    pixels: sp.csr_matrix   # (cells, tissue superpixels + 1) float32 counting pixels; last column: off tissue
    n_pixels: np.ndarray    # (cells,) every counting pixel of the cell
    centroid: np.ndarray    # (cells, 2) float64, he-raw pixels (x = column, y = row)
    pixel_um2: float        # the area of one counting pixel
    keys: np.ndarray = None  # label images: the label of each row


class Columns:
    """Superpixel grid -> its column in the coverage matrix: tissue superpixels in row-major order, then one
    column for everything off tissue or off the grid."""

    def __init__(self, mask: np.ndarray):
        self.off = int(mask.sum())
        self.n = self.off + 1
        self.grid = np.full(mask.shape, self.off, np.int64)
        self.grid[mask] = np.arange(self.off)

    def __call__(self, sp_row, sp_col):
        h, w = self.grid.shape
        inside = (sp_row >= 0) & (sp_col >= 0) & (sp_row < h) & (sp_col < w)
        out = np.full(sp_row.shape, self.off, np.int64)
        out[inside] = self.grid[sp_row[inside], sp_col[inside]]
        return out


# polygons ----------------------------------------------------------------------------------------------
def polygon_coverage(polys, scale: float, pixel_size: float, mask: np.ndarray) -> Coverage:
    """`polys` in he-raw pixels; `scale` rescaled pixels per he-raw pixel; `pixel_size` µm per rescaled pixel."""
    to_grid = scale * SUB
    side = SUPERPIXEL * SUB
    columns = Columns(mask)
    n_cells, n_cols = len(polys.ids), columns.n
    blocks, n_pixels, sums = [], np.zeros(n_cells), np.zeros((n_cells, 2))
    first_ring = np.searchsorted(polys.ring_cell, np.arange(n_cells + 1))
    for c0 in range(0, n_cells, CELLS_PER_CHUNK):
        c1 = min(n_cells, c0 + CELLS_PER_CHUNK)
        cell, row, x0, x1 = _spans(polys, first_ring[c0], first_ring[c1], to_grid)
        cell -= c0
        length = (x1 - x0).astype(np.float64)
        n_pixels[c0:c1] = np.bincount(cell, length, c1 - c0)
        sums[c0:c1, 0] = np.bincount(cell, length * (x0 + x1) / 2, c1 - c0)
        sums[c0:c1, 1] = np.bincount(cell, length * (row + 0.5), c1 - c0)
        seg_cell, seg_row, seg_k, seg_n = _split(cell, row, x0, x1, side)
        col = columns(seg_row // side, seg_k)
        blocks.append(sp.csr_matrix((seg_n.astype(np.float32), (seg_cell, col)), shape=(c1 - c0, n_cols)))
    centroid = np.divide(sums, n_pixels[:, None], out=np.full_like(sums, np.nan), where=n_pixels[:, None] > 0)
    pixels = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_cols), dtype=np.float32)
    return Coverage(pixels, n_pixels, centroid / to_grid, (pixel_size / SUB) ** 2)


def _spans(polys, r0, r1, to_grid):
    """(cell, grid row, first column, end column) of every run of pixel centres inside a cell, even-odd over
    the cell's rings (holes stay empty)."""
    s, e = polys.ring_start[r0], polys.ring_start[r1]
    a = polys.xy[s:e] * to_grid
    starts = polys.ring_start[r0:r1 + 1] - s
    nxt = np.arange(1, e - s + 1)
    nxt[starts[1:] - 1] = starts[:-1]  # each ring closes on its first vertex
    b = a[nxt]
    cell = np.repeat(polys.ring_cell[r0:r1], np.diff(starts))
    lo, hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    first, end = np.ceil(lo - 0.5).astype(np.int64), np.ceil(hi - 0.5).astype(np.int64)  # centres in [lo, hi)
    n = end - first
    edge = np.repeat(np.arange(len(a)), n)
    row = first[edge] + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    yc = row + 0.5
    xa, ya, xb, yb = a[edge, 0], a[edge, 1], b[edge, 0], b[edge, 1]
    x = xa + (yc - ya) * (xb - xa) / (yb - ya)
    cell = cell[edge]
    order = np.lexsort((x, row, cell))
    cell, row, x = cell[order], row[order], x[order]
    x0, x1 = np.ceil(x[0::2] - 0.5).astype(np.int64), np.ceil(x[1::2] - 0.5).astype(np.int64)
    keep = x1 > x0
    return cell[0::2][keep], row[0::2][keep], x0[keep], x1[keep]


def _split(cell, row, x0, x1, side):
    """Spans cut at superpixel borders: (cell, row, superpixel column, pixels)."""
    k0, k1 = x0 // side, (x1 - 1) // side
    n = k1 - k0 + 1
    at = np.repeat(np.arange(len(cell)), n)
    k = k0[at] + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    count = np.minimum(x1[at], (k + 1) * side) - np.maximum(x0[at], k * side)
    return cell[at], row[at], k, count


# label images ------------------------------------------------------------------------------------------
def label_coverage(labels, scale: float, pixel_size_raw: float, mask: np.ndarray) -> Coverage:
    """`labels`: (H, W) integers on he-raw, 0 = no cell, read strip by strip (a memory map stays one)."""
    w = labels.shape[1]
    columns = Columns(mask)
    col_sp = np.floor((np.arange(w) + 0.5) * scale / SUPERPIXEL).astype(np.int64)
    parts = []
    for y0, block in label_strips(labels):
        flat = np.flatnonzero(block)
        if flat.size:
            parts.append(_strip_counts(block.ravel()[flat], flat // w + y0, flat % w, scale, col_sp, columns))
    if not parts:
        return None
    return _merge_strips(parts, columns.n, pixel_size_raw ** 2)


def _strip_counts(values, r, c, scale, col_sp, columns):
    keys, inverse = np.unique(values, return_inverse=True)
    sp_row = np.floor((r + 0.5) * scale / SUPERPIXEL).astype(np.int64)
    counts = sp.csr_matrix((np.ones(len(values), np.float32), (inverse, columns(sp_row, col_sp[c]))),
                           shape=(len(keys), columns.n)).tocoo()
    return (keys, counts, np.bincount(inverse, minlength=len(keys)).astype(np.float64),
            np.bincount(inverse, c + 0.5, len(keys)), np.bincount(inverse, r + 0.5, len(keys)))


def _merge_strips(parts, n_cols, pixel_um2):
    keys = np.unique(np.concatenate([p[0] for p in parts]))
    rows, cols, data = [], [], []
    n, sx, sy = np.zeros(len(keys)), np.zeros(len(keys)), np.zeros(len(keys))
    for k, counts, cn, cx, cy in parts:
        at = np.searchsorted(keys, k)
        rows.append(at[counts.row])
        cols.append(counts.col)
        data.append(counts.data)
        n[at] += cn
        sx[at] += cx
        sy[at] += cy
    pixels = sp.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(len(keys), n_cols))
    return Coverage(pixels, n, np.stack([sx / n, sy / n], 1), pixel_um2, keys)
