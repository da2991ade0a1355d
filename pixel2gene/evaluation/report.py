"""Per-gene metrics table and its summary from predicted and measured bin counts."""
import numpy as np
import pandas as pd

from ..image.superpixels import bounding_box
from .metrics import fractions, log_composition, pearson, rmse, spearman, ssim_maps
from .truth import Bins

TOP = 100  # the summary's "top genes": the most measured, as benchmarks in the field report


GENE_BLOCK = 64  # genes scored at a time: a Visium HD section has ~600k bins, so (bins x all genes) in
                 # float64 and its temporaries would not fit in memory


def evaluate(bins: Bins, pred: np.ndarray, shape) -> pd.DataFrame:
    """One row per gene: Pearson, Spearman, Pearson of each bin's fraction of its counts, composition r (the
    benchmark's log1p of counts per 10,000, over the scored genes), RMSE over bins; SSIM of painted maps."""
    truth = bins.counts
    region = bins.region(shape)
    window = bounding_box(region, SSIM_MARGIN)  # SSIM over the bins' box, not the whole slide: same values, less work
    total_pred, total_truth = pred.sum(1, dtype=np.float64), truth.sum(1, dtype=np.float64)
    parts = []
    for g0 in range(0, truth.shape[1], GENE_BLOCK):
        pb, tb = pred[:, g0:g0 + GENE_BLOCK], truth[:, g0:g0 + GENE_BLOCK]  # float32 from both truths
        p, t = np.asarray(pb, np.float64), np.asarray(tb, np.float64)
        parts.append(pd.DataFrame({
            "gene": bins.genes[g0:g0 + GENE_BLOCK],
            "pearson": pearson(p, t),
            "spearman": spearman(pb, tb),  # ranks in the inputs' own type: the same ranks, sorted faster
            "pearson_fraction": pearson(fractions(p, total_pred), fractions(t, total_truth)),
            "composition_r": pearson(log_composition(p, total_pred), log_composition(t, total_truth)),
            "ssim": _ssim(bins, pb, tb, shape, window, region[window]),
            "rmse": rmse(p, t),
            "truth_total": t.sum(0),
            "predicted_total": p.sum(0),
        }))
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values("truth_total", ascending=False, kind="stable").reset_index(drop=True)


SSIM_MARGIN = 6  # cells of zeros around the scored bins: more than the SSIM window's radius (5)
SSIM_BYTES = 2 ** 26  # per float32 (window x genes) array; about ten of them live at once


def _ssim(bins: Bins, pred, truth, shape, window, region) -> np.ndarray:
    """SSIM of each gene's painted maps over the bins' window, as many genes at a time as fit SSIM_BYTES."""
    cells = region.size
    step = int(np.clip(SSIM_BYTES // (4 * cells), 1, GENE_BLOCK))
    return np.concatenate([ssim_maps(bins.paint_window(pred[:, g:g + step], shape, window),
                                     bins.paint_window(truth[:, g:g + step], shape, window), region)
                           for g in range(0, pred.shape[1], step)])


def summarise(table: pd.DataFrame, n_bins: int) -> dict:
    metrics = ["pearson", "spearman", "pearson_fraction", "composition_r", "ssim", "rmse"]
    top = table.head(TOP)
    mean = lambda t, m: None if t[m].isna().all() else round(float(np.nanmean(t[m])), 4)
    return {"n_bins": int(n_bins), "n_genes": int(len(table)), "n_top": int(len(top)),
            "mean": {m: mean(table, m) for m in metrics},
            f"mean_top{TOP}": {m: mean(top, m) for m in metrics}}
