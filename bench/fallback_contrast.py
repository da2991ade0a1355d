#!/usr/bin/env python3
"""Why the colour fallback costs on a whole section: does it keep the contrast between novel and familiar tissue?

A section we are scored on is scored whole, one Pearson r per gene across all its spots, so a gene's r rests
largely on the contrast between its kinds of tissue. Given two predictions of one section from the same trained
models (`p2g-run --unfamiliar keep` and `--unfamiliar colour`), its measured spots, and which of them are the
held-out (unfamiliar) ones, this prints for each prediction and for the truth the held-out-minus-other contrast of
each top gene's log-composition (the referee's normalisation): its mean size and how it correlates, over genes,
with the truth's; then the genes whose whole-section r moves most. Nothing here chooses a setting.

Usage: python bench/fallback_contrast.py --keep RUN_KEEP/C3 --colour RUN_COLOUR/C3 --truth WHOLE/ --held HELD/
           --pixel-size-raw C3/pixel-size-raw.txt --train-cnts train-cnts.tsv
(WHOLE/ and HELD/ hold cnts.tsv and locs-raw.tsv, as bench/tissue_holdout.py writes them: {S}-whole, {S}-truth.)
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
sys.path.insert(0, str(REPO))

from pixel2gene.evaluation.metrics import log_composition  # noqa: E402  (the referee's normalisation)


def referee():
    sys.path.insert(0, str(SHARED / "bench"))
    import her2st
    return her2st


def spot_predictions(ref, pred: Path, obs: pd.DataFrame, locs: pd.DataFrame, pixel_size: float, genes) -> np.ndarray:
    """(spots, genes): each spot's summed superpixel predictions, as the referee's scorer sums them."""
    masks = ref.spot_masks(locs, pixel_size, ref.read_grid(ref.find_pred(str(pred), genes[0])).shape)
    out = np.zeros((len(obs), len(genes)))
    for k, g in enumerate(genes):
        grid = np.nan_to_num(ref.read_grid(ref.find_pred(str(pred), g)))
        for s, (i0, i1, j0, j1, m) in enumerate(masks):
            out[s, k] = grid[i0:i1, j0:j1][m].sum()
    return out


def contrast(c: np.ndarray, held: np.ndarray) -> np.ndarray:
    return c[held].mean(0) - c[~held].mean(0)


def correlation(a: np.ndarray, b: np.ndarray):
    """Pearson r, or None where one side does not vary (a flat prediction has no direction to compare)."""
    if a.std() == 0 or b.std() == 0:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 3)


def read_spots(folder: Path):
    """(counts, locations) of a folder's cnts.tsv and locs-raw.tsv, indexed alike by spot name."""
    obs = pd.read_csv(folder / "cnts.tsv", sep="\t", index_col=0)
    obs.index = obs.index.astype(str)
    locs = pd.read_csv(folder / "locs-raw.tsv", sep="\t", index_col=0)
    locs.index = locs.index.astype(str)
    return obs, locs.loc[obs.index]


def summarise(ref, predicted: dict, obs: pd.DataFrame, held: np.ndarray, genes) -> dict:
    """`predicted`: {"keep": (spots, genes), "colour": (spots, genes)} spot sums of one section's two
    predictions; `held`: which spots are the held-out tissue's. The whole section's and the held-out spots'
    r, and each prediction's held-out-minus-other contrast of log-composition beside the truth's."""
    truth = log_composition(obs[genes].to_numpy(float))
    d_truth = contrast(truth, held)
    out, r = {"spots": int(len(obs)), "held_out": int(held.sum()), "genes": len(genes)}, {}
    for name, spots in predicted.items():
        c = log_composition(spots)
        d = contrast(c, held)
        r[name] = ref.pearson_cols(c, truth)
        out[name] = {"whole_r": round(float(r[name].mean()), 4),
                     "held_out_r": round(float(ref.pearson_cols(c[held], truth[held]).mean()), 4),
                     "contrast_size": round(float(np.abs(d).mean()), 3),
                     "contrast_r_with_truth": correlation(d, d_truth)}
    out["truth"] = {"contrast_size": round(float(np.abs(d_truth).mean()), 3)}
    order = np.argsort(r["colour"] - r["keep"])
    out["lose_most"] = [genes[k] for k in order[:5]]
    out["gain_most"] = [genes[k] for k in order[-5:][::-1]]
    return out


def compare(ref, a) -> dict:
    obs, locs = read_spots(a.truth)
    held = obs.index.isin(read_spots(a.held)[0].index)
    genes = [g for g in ref.top_genes(str(a.train_cnts), 100) if ref.find_pred(str(a.keep), g) is not None]
    size = float(a.pixel_size_raw.read_text())
    predicted = {name: spot_predictions(ref, pred, obs, locs, size, genes)
                 for name, pred in (("keep", a.keep), ("colour", a.colour))}
    return summarise(ref, predicted, obs, held, genes)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("--keep", "--colour", "--truth", "--held", "--pixel-size-raw", "--train-cnts"):
        p.add_argument(flag, type=Path, required=True)
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)  # first: --help needs no referee
    result = compare(referee(), a)
    print(json.dumps(result))
    print("| prediction | whole-section r | held-out spots' r | contrast size | contrast r with the truth's |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("keep", "colour"):
        v = result[name]
        r = v["contrast_r_with_truth"]
        print(f"| {name} | {v['whole_r']:.3f} | {v['held_out_r']:.3f} | {v['contrast_size']:.3f} | "
              f"{'' if r is None else f'{r:.3f}'} |")
    print(f"| truth | | | {result['truth']['contrast_size']:.3f} | 1 |")


if __name__ == "__main__":
    main()
