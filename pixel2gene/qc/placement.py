"""Do the bins lie on the tissue? Catches x and y given the other way round."""
import numpy as np

from ..image import SUPERPIXEL

MARGIN = 0.25  # the swapped reading must put this many more of the bins on tissue
RATIO = 1.5    # ... and this many times as many


def on_tissue_fraction(xy: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of bin centres (rescaled pixels, x = column) inside a tissue superpixel."""
    col = np.floor(xy[:, 0] / SUPERPIXEL).astype(np.int64)
    row = np.floor(xy[:, 1] / SUPERPIXEL).astype(np.int64)
    inside = (row >= 0) & (row < mask.shape[0]) & (col >= 0) & (col < mask.shape[1])
    hits = np.zeros(len(xy), bool)
    hits[inside] = mask[row[inside], col[inside]]
    return float(hits.mean()) if len(xy) else 0.0


def swapped_xy(xy: np.ndarray, mask: np.ndarray):
    """(given, swapped) on-tissue fractions when reading x as y puts clearly more bins on tissue, else None."""
    given = on_tissue_fraction(xy, mask)
    swapped = on_tissue_fraction(xy[:, ::-1], mask)
    if swapped >= given + MARGIN and swapped >= RATIO * given:
        return given, swapped
    return None
