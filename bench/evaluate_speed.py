#!/usr/bin/env python3
"""Time p2g-evaluate's metrics (evaluation/report.py evaluate) at two scales, beside SSIM computed gene by
gene with the float64 definition (evaluation/metrics.py ssim), which evaluate used until issue #31.

  spots: 180 spots of 100 µm (126 superpixels each) on a 200 µm pitch, a HER2ST section's grid (580 x 620)
  hd:    812 x 812 bins of 8 µm, one superpixel each, 90 % of them scored (a Visium HD capture area)

Counts and predictions are random (gamma): the time does not depend on them. Prints one JSON line per scale.
Usage: python bench/evaluate_speed.py [--genes 1000] [--scales spots hd] [--reference-genes 100]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pixel2gene.evaluation.metrics import ssim  # noqa: E402
from pixel2gene.evaluation.report import evaluate  # noqa: E402
from pixel2gene.evaluation.truth import Bins  # noqa: E402


def spot_bins(n_genes, rng):
    shape, cells = (580, 620), []
    yy, xx = np.mgrid[-6:7, -6:7]
    disk = (yy ** 2 + xx ** 2) <= 6.3 ** 2  # 100 µm at 8 µm superpixels: about 126 of them
    for cy in range(20, 560, 25):
        for cx in range(20, 600, 25):
            if len(cells) < 180:
                r, c = cy + yy[disk], cx + xx[disk]
                cells.append(r * shape[1] + c)
    return shape, np.array(cells)


def hd_bins(n_genes, rng):
    shape = (812, 812)
    flat = np.flatnonzero(rng.random(shape).ravel() < 0.9)
    return shape, flat[:, None]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genes", type=int, default=1000)
    ap.add_argument("--scales", nargs="+", default=["spots", "hd"], choices=["spots", "hd"])
    ap.add_argument("--reference-genes", type=int, default=100,
                    help="genes the gene-by-gene float64 SSIM is timed on (its time is scaled to --genes)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    for scale in a.scales:
        shape, index = (spot_bins if scale == "spots" else hd_bins)(a.genes, rng)
        truth = rng.gamma(2.0, 3.0, (len(index), a.genes)).astype(np.float32)
        pred = (truth * rng.uniform(0.5, 1.5, truth.shape)).astype(np.float32)
        bins = Bins([f"b{i}" for i in range(len(index))], truth, [f"G{g}" for g in range(a.genes)], index)
        t0 = time.perf_counter()
        table = evaluate(bins, pred, shape)
        batched = time.perf_counter() - t0
        region = bins.region(shape)
        k = min(a.reference_genes, a.genes)
        t0 = time.perf_counter()
        ref = [ssim(bins.paint(pred[:, g].astype(np.float64), shape), bins.paint(truth[:, g].astype(np.float64), shape),
                    region) for g in range(k)]
        per_gene = (time.perf_counter() - t0) / k
        got = table.set_index("gene").loc[[f"G{g}" for g in range(k)], "ssim"].to_numpy()
        print(json.dumps({"scale": scale, "grid": list(shape), "bins": len(index), "genes": a.genes,
                          "evaluate_s": round(batched, 2),
                          "ssim_gene_by_gene_float64_s": round(per_gene * a.genes, 2),
                          "ssim_max_abs_difference": float(np.abs(got - ref).max())}), flush=True)


if __name__ == "__main__":
    main()
