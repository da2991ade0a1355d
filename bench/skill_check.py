#!/usr/bin/env python3
"""Does the out-of-fold skill a model records predict how well each gene does on a section it never saw?

Reads a result folder's skill.tsv (per-gene composition r by spatial CV on the training section) and the
per-gene metrics of the same section scored against its truth (p2g-evaluate's metrics.tsv, column
composition_r), and prints, over the genes both hold: the Spearman correlation between the two, the mean
realised composition r of the genes marked skilful and of the others, and of the 100 most and the 100 least
skilful genes. Prints JSON (docs/benchmarks.md quotes it).

Usage: python bench/skill_check.py --result RUN/C3 --metrics RUN/evaluation/C3.truth/metrics.tsv
"""
import argparse
import json

import numpy as np
import pandas as pd

EDGE = 100  # genes in the "most" and "least" skilful groups


def check(skill: pd.DataFrame, metrics: pd.DataFrame) -> dict:
    both = skill.set_index("gene").join(metrics.set_index("gene")["composition_r"], how="inner").dropna()
    both = both.sort_values("cv_r_composition", ascending=False)
    realised = both["composition_r"]
    skilful = both["skilful"].astype(str).str.lower() == "true"
    return {
        "genes": int(len(both)),
        "skilful": int(skilful.sum()),
        "spearman_skill_vs_realised": round(float(both["cv_r_composition"].corr(realised, method="spearman")), 3),
        "realised_skilful_mean": round(float(realised[skilful].mean()), 3),
        "realised_unskilful_mean": round(float(realised[~skilful].mean()), 3) if (~skilful).any() else None,
        f"realised_top{EDGE}_mean": round(float(realised.iloc[:EDGE].mean()), 3),
        f"realised_bottom{EDGE}_mean": round(float(realised.iloc[-EDGE:].mean()), 3),
        "median_cv_r_composition": round(float(np.median(both["cv_r_composition"])), 3),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--result", required=True, help="a result folder (holds skill.tsv)")
    ap.add_argument("--metrics", required=True, help="p2g-evaluate's metrics.tsv for the same section")
    a = ap.parse_args(argv)
    skill = pd.read_csv(f"{a.result}/skill.tsv", sep="\t")
    metrics = pd.read_csv(a.metrics, sep="\t")
    print(json.dumps({"result": a.result, **check(skill, metrics)}))


if __name__ == "__main__":
    main()
