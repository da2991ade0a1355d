"""Per-gene skill by spatial CV: how well each gene's map predicted training bins its fold model never saw.

The fold models of the form selection chose predict every held-out bin (each by the model of its own
fold, as in training/select.py) for every gene. Per gene, the sums that make a Pearson r (n, Σp, Σt,
Σp², Σt², Σpt) are kept for the counts and for their composition (log1p of counts per 10,000 of the bin's
total over the predicted genes: the benchmark's normalisation, evaluation/metrics.py). Sums add up, so the
folds that separate training tasks scored pool into the run's r exactly (artifacts/model.py ModelSet).
"""
from typing import Optional

import numpy as np
import pandas as pd

from ..evaluation.metrics import log_composition
from .data import TrainData
from .select import Selection, bin_counts, mlp_oof, ridge_oof
from .trainer import TrainResult

# A gene whose out-of-fold composition r is below this is not trusted (greyed out in the report, flagged in the
# .h5ad): r = 0.1 explains 1 % of the variance between bins. Fixed a priori, not tuned on any score.
SKILLFUL_R = 0.1
KINDS = ("counts", "composition")
SUMS = ("n", "p", "t", "pp", "tt", "pt")


def oof_predictions(data: TrainData, sel: Selection, mlp: Optional[TrainResult], rows) -> np.ndarray:
    """(len(rows), G) out-of-fold counts of every gene by the chosen form: mlp * MLP + (1 - mlp) * clip(linear)."""
    genes = np.arange(len(data.genes))
    out = np.zeros((len(rows), len(genes)), np.float64)
    if sel.mlp_weight > 0:
        out += sel.mlp_weight * mlp_oof(data, mlp, rows, genes, sel.mlp_epoch)
    if sel.mlp_weight < 1:
        out += (1 - sel.mlp_weight) * ridge_oof(data, sel.fold_ridge, rows, genes)
    return out


def sums(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(G, 2, 6) float64: per gene, for counts and composition, the sums a Pearson r is made of."""
    out = np.empty((pred.shape[1], len(KINDS), len(SUMS)))
    for k, (p, t) in enumerate(((pred, truth), (log_composition(pred), log_composition(truth)))):
        out[:, k] = np.stack([np.full(p.shape[1], float(len(p))), p.sum(0), t.sum(0), (p * p).sum(0),
                              (t * t).sum(0), (p * t).sum(0)], 1)
    return out


def pearson_of(s: np.ndarray) -> np.ndarray:
    """r from summed (..., 6) statistics; NaN where a side does not vary (or nothing was scored)."""
    n, p, t, pp, tt, pt = np.moveaxis(s, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = pt - p * t / n
        var = (pp - p * p / n) * (tt - t * t / n)
        return np.where(var > 0, cov / np.sqrt(np.maximum(var, 0)), np.nan)


def gene_skill(data: TrainData, sel: Selection, mlp: Optional[TrainResult], rows) -> Optional[np.ndarray]:
    """The (G, 2, 6) skill sums of the training bins `rows`, or None where nothing was held out."""
    if data.n_folds < 2 or not len(rows):
        return None
    return sums(oof_predictions(data, sel, mlp, rows), bin_counts(data, rows, np.arange(len(data.genes))))


def skill_table(genes, stats: np.ndarray) -> pd.DataFrame:
    """One row per gene: bins scored, out-of-fold r of counts and of composition, and whether it is trusted."""
    r = pearson_of(stats)
    table = pd.DataFrame({"gene": list(genes), "cv_bins": stats[:, 0, 0].astype(np.int64),
                          "cv_r_counts": r[:, 0], "cv_r_composition": r[:, 1]})
    table["skilful"] = table["cv_r_composition"].fillna(-1) >= SKILLFUL_R
    return table


def unknown_skill(genes) -> pd.DataFrame:
    """The skill table of a model trained with one fold: nothing was held out, so nothing is known."""
    nothing = np.zeros((len(genes), len(KINDS), len(SUMS)))
    return skill_table(genes, nothing)


def summary(table: pd.DataFrame) -> dict:
    """What the report and run.json say about a model's skill as a whole."""
    comp = table["cv_r_composition"]
    return {"genes": int(len(table)), "skilful_genes": int(table["skilful"].sum()),
            "skilful_r_threshold": SKILLFUL_R, "bins": int(table["cv_bins"].max()) if len(table) else 0,
            "median_cv_r_composition": _round(comp.median()), "median_cv_r_counts": _round(table["cv_r_counts"].median())}


def _round(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)
