#!/usr/bin/env python3
"""HER2ST scored under two protocols: the referee's composition r, and the log-normalised HVG protocol.

1. composition r (the referee's `her2st.py score`): the 100 genes with the highest mean training counts; each
   spot's counts over those genes divided by their total, per 10,000, log1p; Pearson per gene across spots.
2. log-normalised HVG r, the kind of score the Hist2ST and THItoGene papers report on HER2ST: each spot's
   counts over all genes both sides share divided by their total, per 10,000, log1p; Pearson per gene across
   spots, averaged over the training section's highly variable genes (the N with the highest dispersion,
   variance over mean of the log-normalised training counts, among genes measured in at least 10 % of its
   spots).

Spots are the referee's (its `spot_masks`: superpixels whose centres fall in the spot's disk), so the two
protocols differ only in genes and normalisation. docs/benchmarks.md says how these numbers relate to the
published ones.

Usage: python bench/her2st_protocols.py --pred OUT/C3 --truth-cnts C3/truth/cnts.tsv.gz \\
           --truth-locs C3/truth/locs-raw.tsv --pixel-size-raw C3/pixel-size-raw.txt --train-cnts C2/cnts.parquet
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("P2G_SHARED") or REPO.parent / "shared")
N_HVG = 300         # highly variable genes scored (fixed a priori)
MIN_DETECTED = 0.1  # an HVG is measured in at least this share of the training spots
TOP = 100           # the referee's genes


def referee():
    sys.path.insert(0, str(SHARED / "bench"))
    import her2st  # the team's scorer: its spot definition and its Pearson
    return her2st


def table(path) -> pd.DataFrame:
    path = str(path)
    t = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, sep="\t", index_col=0)
    t.index = t.index.astype(str)
    return t


def log_normalised(counts: np.ndarray) -> np.ndarray:
    return np.log1p(counts / np.maximum(counts.sum(1, keepdims=True), 1e-9) * 1e4)


def hvgs(train: pd.DataFrame, candidates, n: int = N_HVG):
    """The training section's most variable genes among `candidates`, by dispersion of log-normalised counts."""
    shared = [g for g in train.columns if g in set(candidates)]
    x = log_normalised(train[shared].to_numpy(np.float64))
    detected = (train[shared].to_numpy() > 0).mean(0) >= MIN_DETECTED
    mean, var = x.mean(0), x.var(0)
    dispersion = np.where(detected & (mean > 0), var / np.maximum(mean, 1e-12), -np.inf)
    order = np.argsort(-dispersion, kind="stable")
    return [shared[i] for i in order[:n] if np.isfinite(dispersion[i])]


def predicted_spots(pred: Path, genes, locs: pd.DataFrame, pixel_size_raw: float, ref) -> np.ndarray:
    stems = dict(line.split("\t", 1) for line in (pred / "gene-files.tsv").read_text().splitlines()[1:] if line)
    first = np.load(pred / "cnts-super" / f"{stems[genes[0]]}.npy", allow_pickle=False)
    masks = ref.spot_masks(locs, pixel_size_raw, first.shape)
    out = np.zeros((len(locs), len(genes)))
    for k, g in enumerate(genes):
        grid = np.nan_to_num(np.load(pred / "cnts-super" / f"{stems[g]}.npy", allow_pickle=False))
        for s, (i0, i1, j0, j1, m) in enumerate(masks):
            out[s, k] = grid[i0:i1, j0:j1][m].sum()
    return out


def score(a) -> dict:
    ref = referee()
    pred = Path(a.pred)
    predicted = (pred / "gene-names.txt").read_text().split("\n")[:-1]
    truth, train = table(a.truth_cnts), table(a.train_cnts)
    locs = pd.read_csv(a.truth_locs, sep="\t", index_col=0)
    locs.index = locs.index.astype(str)
    locs = locs.loc[truth.index]
    shared = [g for g in predicted if g in set(truth.columns)]
    psize = float(Path(a.pixel_size_raw).read_text().split()[0])
    p = predicted_spots(pred, shared, locs, psize, ref)
    t = truth[shared].to_numpy(np.float64)
    top = [g for g in train.mean(0).sort_values(ascending=False).index[:TOP] if g in set(shared)]
    cols = [shared.index(g) for g in top]
    _, composition = ref.score_arrays(p[:, cols], t[:, cols])
    hv = hvgs(train, shared, a.n_hvg)
    r = ref.pearson_cols(log_normalised(p), log_normalised(t))
    hv_r = r[[shared.index(g) for g in hv]]
    return {"spots": int(len(locs)), "composition_r_top100": round(float(composition.mean()), 4),
            "genes_top100": len(top), "lognorm_r_hvg": round(float(hv_r.mean()), 4),
            "lognorm_r_hvg_median": round(float(np.median(hv_r)), 4), "hvg": len(hv),
            "lognorm_r_all": round(float(r.mean()), 4), "genes_all": len(shared)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pred", required=True, help="a result folder (cnts-super/, gene-names.txt, gene-files.tsv)")
    ap.add_argument("--truth-cnts", required=True)
    ap.add_argument("--truth-locs", required=True)
    ap.add_argument("--pixel-size-raw", required=True, help="µm per pixel of the section's he-raw")
    ap.add_argument("--train-cnts", required=True, help="the training section's counts (genes and HVGs)")
    ap.add_argument("--n-hvg", type=int, default=N_HVG)
    print(json.dumps(score(ap.parse_args(argv))))


if __name__ == "__main__":
    main()
