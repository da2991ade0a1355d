"""Per-gene accuracy metrics over bins (rows) x genes (columns).

Constant columns have no correlation; they come out NaN and are left out of
the means rather than counted as zero.
"""
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from scipy.stats import rankdata


def pearson(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    p = pred - pred.mean(0)
    t = truth - truth.mean(0)
    denom = np.sqrt((p * p).sum(0) * (t * t).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * t).sum(0) / denom
    return np.where(denom > 0, r, np.nan)


def spearman(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Pearson of the columns' ranks, ties sharing their mean rank (scipy's rankdata, to the bit)."""
    return pearson(rank_columns(pred), rank_columns(truth))


def rank_columns(a: np.ndarray) -> np.ndarray:
    """Each column's average ranks (1-based), as scipy.stats.rankdata(a, axis=0) gives them, but faster: columns
    are ranked as contiguous rows on two threads, counts (whole numbers) by counting instead of sorting, and the
    rest by one unstable sort plus the tie runs (sorting is most of an evaluation: 600k Visium HD bins)."""
    rows = np.ascontiguousarray(np.asarray(a).T)
    out = np.empty(rows.shape, np.float64)
    with ThreadPoolExecutor(2) as pool:  # numpy's sort and bincount release the GIL
        list(pool.map(lambda j: _rank_into(rows[j], out[j]), range(len(rows))))
    return out.T


def _rank_into(values: np.ndarray, out: np.ndarray):
    if np.isnan(values).any():  # rankdata's NaN handling, whatever it is
        out[:] = rankdata(values)
        return
    if len(values) and values.min() >= 0 and values.max() < 1 << 20:
        whole = values.astype(np.int64)
        if np.array_equal(whole, values):  # counts: the mean rank of value v is known from how many lie below
            n_at = np.bincount(whole)
            out[:] = (np.cumsum(n_at) - (n_at - 1) / 2)[whole]
            return
    order = np.argsort(values)
    ordered = values[order]
    starts_run = np.empty(len(values), bool)
    starts_run[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    starts = np.flatnonzero(starts_run)
    mean_rank = (starts + np.append(starts[1:], len(values)) + 1) / 2  # runs [s, e): ranks s+1..e
    out[order] = mean_rank[np.cumsum(starts_run) - 1]


def rmse(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.sqrt(((pred - truth) ** 2).mean(0))


def fractions(a: np.ndarray, total=None) -> np.ndarray:
    """Each bin's counts as fractions of its total: removes depth, keeps what differs between genes.

    `total` (n,) is the bins' totals when `a` holds only some of the genes (a block of columns).
    """
    total = a.sum(1, keepdims=True) if total is None else np.asarray(total, np.float64)[:, None]
    return np.divide(a, total, out=np.zeros_like(a), where=total > 0)


def log_composition(a: np.ndarray, total=None) -> np.ndarray:
    """The benchmark's normalisation: each bin's counts per 10,000 of its total over these genes, then log1p.

    `total` (n,) is the bins' totals when `a` holds only some of the genes (a block of columns).
    """
    a = np.asarray(a, np.float64)
    total = a.sum(1, keepdims=True) if total is None else np.asarray(total, np.float64)[:, None]
    return np.log1p(a / np.maximum(total, 1e-9) * 1e4)


def composition_r(pred: np.ndarray, truth: np.ndarray) -> float:
    """'Composition r', the HER2ST benchmark's score (shared/bench/her2st.py) of (bins, genes) counts: Pearson
    per gene of log_composition, averaged over the genes; a gene that does not vary scores 0."""
    r = pearson(log_composition(pred), log_composition(truth))
    return float(np.where(np.isfinite(r), r, 0.0).mean())


def minmax(a: np.ndarray, region: np.ndarray) -> np.ndarray:
    lo, hi = a[region].min(), a[region].max()
    out = np.zeros(a.shape, np.float64)
    if hi > lo:
        out[region] = (a[region] - lo) / (hi - lo)
    return out


SSIM_SIGMA, SSIM_SIZE = 1.5, 11  # Gaussian window: its radius (5 cells) is what a map needs around its region
SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2


def _blur(m: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(m, (SSIM_SIZE, SSIM_SIZE), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _ssim_at(mx, my, xx, yy, xy):
    vx, vy, cxy = xx - mx * mx, yy - my * my, xy - mx * my
    return ((2 * mx * my + SSIM_C1) * (2 * cxy + SSIM_C2)) / ((mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2))


def ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """SSIM of two maps min-max scaled inside `region`, averaged over `region`.

    Gaussian window (sigma 1.5, 11 px) and constants K1=0.01, K2=0.03 with a
    data range of 1, as in Wang et al. 2004 and the spatial-omics papers
    that score super-resolved maps this way. The definition, in float64; ssim_maps scores many maps at once.
    """
    x, y = minmax(a, region), minmax(b, region)
    s = _ssim_at(_blur(x), _blur(y), _blur(x * x), _blur(y * y), _blur(x * y))
    return float(s[region].mean())


def _minmax_channels(a: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(h, w, k) maps min-max scaled per channel inside `region`, 0 outside, float32."""
    inside = a[region]
    lo, hi = inside.min(0), inside.max(0)
    span = np.where(hi > lo, hi - lo, np.inf).astype(a.dtype)  # a flat map scales to 0, as minmax
    out = np.zeros(a.shape, np.float32)
    out[region] = (inside - lo) / span
    return out


def ssim_maps(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(k,) ssim of each channel pair of (h, w, k) maps, in float32 (a quarter of float64's time; SSIM moves by
    under 1e-5): all channels blurred at once, the index computed only inside `region`, averaged in float64."""
    x, y = _minmax_channels(a, region), _minmax_channels(b, region)
    at = lambda m: _blur(m).reshape(*m.shape[:2], -1)[region]  # reshape: cv2 drops a lone channel
    s = _ssim_at(at(x), at(y), at(x * x), at(y * y), at(x * y))
    return s.mean(0, dtype=np.float64)
