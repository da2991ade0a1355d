"""p2g-evaluate's folder: per-gene accuracy against measured truth, and its summary."""
from .base import Json, StepFolder, Tsv


class Evaluation(StepFolder):
    STEP = "evaluate"
    FORMAT = 2  # 0.2.0: per-gene skill and the novelty of each superpixel (issue #26)
    metrics = Tsv("metrics.tsv")     # one row per gene: Pearson, Spearman, composition r, SSIM, RMSE, totals
    summary = Json("summary.json")   # bins and genes scored, mean metrics over all and over the top genes
