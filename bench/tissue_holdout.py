#!/usr/bin/env python3
"""Tissue-type hold-out on HER2ST: predict tissue the training never showed, with and without the colour fallback.

The public proxy for a section of another patient (issue #26): there the tissue (fat, loose stroma) is
unlike anything the training section holds. For each section with measured spots (C2, and C3/C4 with their
truth), the tissue superpixels are clustered by histology (k-means on the first principal components of the
default features, K clusters, seeded), and for each cluster in turn:

1. the spots at least half of whose tissue superpixels are of that cluster are held out; only spots with at
   most a tenth of it train (`p2g-run --train` on the section's image with those spots' counts), and with a
   tissue mask (`--mask-file`) without the cluster's superpixels, so training (and the novelty reference)
   never sees that tissue; the whole section, a copy of it under another name with its own detected mask, is
   predicted;
2. the held-out spots are scored with the referee's scorer (composition r over the training spots' top 100
   genes), once with `--unfamiliar colour` (the default: lean on the colour ridge where tissue is novel)
   and once with `--unfamiliar keep` (the model alone), from the same trained models.

With `--across` (the multi-section variant) the tissue is unfamiliar to the training section, not merely cut
out of it: the first of `--sections` trains, the others are tested. Its superpixels are clustered as above;
the other sections' superpixels and spots are assigned to the same clusters with the first's basis (each
section's features standardised by its own statistics). For each cluster the first section trains without it
(spots with at most a tenth of it, a mask without it), the other sections are predicted whole with their own
detected masks, and on each only the spots at least half of whose tissue is of that cluster are scored, both
ways; and all of each tested section's measured spots too, as a section we are scored on is scored whole: its
unfamiliar tissue beside its familiar, where a fallback must keep the contrast between the two
(bench/fallback_contrast.py measures that contrast). With `--train-also C3`, that section's spots (and tissue)
without the cluster train too, and only the remaining sections are tested.

Each row also gives the referee's colour floor (`her2st.py floor`, a ridge on spot colour statistics trained on
the same training spots; one training section only) and the held-out spots' mean optical density, which says
which cluster is the pale one. `--clusters 2` splits a section into its denser and its paler tissue: holding the
paler half out and training on the denser is the closest public proxy for a dense-tumour training section
predicting another patient's pale stroma.

Nothing here chooses a setting: the fallback rule was fixed before this ran (docs/method.md). Writes
OUTDIR/tissue_holdout.json (OUTDIR/tissue_holdout_across.json with --across) and prints Markdown tables
(docs/benchmarks.md).

Usage: python bench/tissue_holdout.py --outdir /scratch/tho [--sections C2 C3 C4] [--clusters 6]
           [--across [--train-also C3]] [--p2g-args '--threads 2']
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("P2G_SHARED") or REPO.parent / "shared")
sys.path.insert(0, str(REPO))

from pixel2gene.artifacts.features import Features  # noqa: E402
from pixel2gene.artifacts.mask import Mask  # noqa: E402
from pixel2gene.artifacts.rescaled import Rescaled  # noqa: E402
from pixel2gene.features.stats import standardise  # noqa: E402
from pixel2gene.image.disks import gather_disks  # noqa: E402
from pixel2gene.qc.kmeans import kmeans  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import fallback_contrast  # noqa: E402

MIN_SPOTS = 12      # a cluster with fewer held-out spots scores nothing worth reading
MIN_TRAIN = 40      # nor one that leaves fewer training spots
HELD_SHARE = 0.5    # a held-out spot: at least this share of its tissue is the held-out cluster's
TRAIN_SHARE = 0.1   # a training spot: at most this share is
AXES = 16
SAMPLE_FILES = ("he-raw.jpg", "pixel-size-raw.txt", "pixel-size.txt", "radius-raw.txt")


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outdir", required=True, help="scratch folder for samples, runs and scores")
    ap.add_argument("--data", default=str(SHARED / "data" / "her2st"), help="the prepared HER2ST folder")
    ap.add_argument("--scorer", default=str(SHARED / "bench" / "her2st.py"), help="the referee's her2st.py")
    ap.add_argument("--sections", nargs="+", default=["C2", "C3", "C4"])
    ap.add_argument("--clusters", type=int, default=6, help="histology clusters per section (K)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--p2g-args", default="", help="more p2g-run options, e.g. '--threads 2'")
    ap.add_argument("--across", action="store_true",
                    help="train on the first section, test on the others (clusters fit on the first)")
    ap.add_argument("--train-also", nargs="*", default=[],
                    help="with --across: sections that train beside the first (without the cluster), not tested")
    return ap.parse_args(argv)


def measured(data: Path, section: str):
    """(counts, locations) of a section's measured spots."""
    truth = data / section / "truth"
    if truth.is_dir():
        counts = pd.read_csv(truth / "cnts.tsv.gz", sep="\t", index_col=0)
        locs = pd.read_csv(truth / "locs-raw.tsv", sep="\t", index_col=0)
    else:
        counts = pd.read_parquet(data / section / "cnts.parquet")
        locs = pd.read_csv(data / section / "locs-raw.tsv", sep="\t", index_col=0)
    counts.index = counts.index.astype(str)
    locs.index = locs.index.astype(str)
    return counts, locs.loc[counts.index]


def sample_folder(dst: Path, data: Path, section: str, counts=None, locs=None) -> Path:
    """A sample of the section's image (linked, never copied), measured at these spots when counts are given."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_FILES:
        if not (dst / name).exists():
            (dst / name).symlink_to((data / section / name).resolve())
    if counts is not None:
        write_spots(dst, counts, locs)
    return dst


def write_spots(dst: Path, counts: pd.DataFrame, locs: pd.DataFrame) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    counts.to_csv(dst / "cnts.tsv", sep="\t")
    locs[["x", "y"]].to_csv(dst / "locs-raw.tsv", sep="\t")


def p2g(*args) -> None:
    cmd = [sys.executable, str(REPO / "bin" / "p2g-run"), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"p2g-run failed:\n{proc.stderr[-3000:]}")


def referee(a, command: str, *args) -> float:
    """The referee's composition r (her2st.py COMMAND ...): its last printed line's `pearson_norm_mean`."""
    out = subprocess.run([sys.executable, a.scorer, command, *map(str, args)], capture_output=True, text=True,
                         check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["pearson_norm_mean"])


def score(a, pred: Path, truth: Path, pixel_size_raw: Path, train_counts: Path) -> float:
    return referee(a, "score", "--pred", pred, "--truth-cnts", truth / "cnts.tsv", "--truth-locs",
                   truth / "locs-raw.tsv", "--pixel-size-raw", pixel_size_raw, "--train-cnts", train_counts)


def floor(a, train: Path, section: str, truth: Path) -> float:
    """The referee's colour floor (a ridge on spot colour statistics) trained on the `train` sample folder's
    spots and scored on `truth`: what the issue asks the fallback to reach on unfamiliar tissue."""
    return referee(a, "floor", "--train", f"{train}/", "--test", f"{Path(a.data) / section}/", "--truth-cnts",
                   truth / "cnts.tsv", "--truth-locs", truth / "locs-raw.tsv")


def optical_density(a, section: str, locs: pd.DataFrame) -> float:
    """Mean optical density (RGB mean) over these spots' disks, from the referee's spot colour statistics:
    which held-out tissue is the pale one."""
    if str(Path(a.scorer).parent) not in sys.path:
        sys.path.insert(0, str(Path(a.scorer).parent))
    from her2st import spot_colour_features
    size = float((Path(a.data) / section / "pixel-size-raw.txt").read_text())
    return round(float(spot_colour_features(str(Path(a.data) / section / "he-raw.jpg"), locs, size)[:, 6:9].mean()),
                 3)


@dataclass
class Clustered:
    """A section's tissue superpixels by histology cluster, and its spots' tissue."""
    grid: np.ndarray       # each superpixel's cluster, -1 off the tissue
    disks: np.ndarray      # (spots, n) flat grid positions of each spot's tissue superpixels, -1 padded
    shares: pd.DataFrame   # spots x K: the share of each spot's tissue superpixels in each cluster
    basis: tuple           # (mean, axes, centres): what assigns another section's superpixels to these clusters


def spot_clusters(run_dir: Path, name: str, locs: pd.DataFrame, k: int, seed: int, basis=None) -> Clustered:
    """The section's superpixels clustered by histology, from a p2g-run's work folder; with a `basis` (another
    section's), assigned to that section's clusters instead of fitting new ones."""
    work = run_dir / "work" / name
    feats = next(Features(p) for p in sorted(work.glob("features-*")) if "-aug" not in p.name)
    mask = Mask(work / "mask").tissue.read()
    rescaled = Rescaled(work / "rescale")
    x = standardise(feats.tissue_rows(mask), *feats.channel_stats())
    basis = basis or fit_basis(x, k, seed)
    mean, axes, centres = basis
    z = (x - mean) @ axes.T
    grid = np.full(mask.shape, -1)
    grid[mask] = np.argmin(((z[:, None] - centres[None]) ** 2).sum(-1), 1)
    scale = rescaled.sample["scale"]
    index, _, _ = gather_disks(locs[["x", "y"]].to_numpy(np.float64) * scale, rescaled.sample["diameter_px"], mask)
    flat = grid.ravel()
    votes = np.where(index >= 0, flat[np.maximum(index, 0)], -1)
    shares = np.array([np.bincount(v[v >= 0], minlength=k) / max(1, (v >= 0).sum()) for v in votes])
    return Clustered(grid, index, pd.DataFrame(shares, index=locs.index), basis)


def fit_basis(x: np.ndarray, k: int, seed: int) -> tuple:
    """PCA + k-means on a seeded sample: a whole section's superpixels would cost minutes and change little."""
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), min(len(x), 20000), replace=False)]
    mean = sample.mean(0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    centres, _ = kmeans((sample - mean) @ vt[:AXES].T, k, seed=seed)
    return mean, vt[:AXES], centres


def spots_tissue(cl: Clustered, spots: pd.Index) -> np.ndarray:
    """A boolean grid of these spots' tissue superpixels."""
    index = cl.disks[cl.shares.index.get_indexer(spots)]
    own = np.zeros(cl.grid.size, bool)
    own[index[index >= 0]] = True
    return own.reshape(cl.grid.shape)


def held_out_novelty(result: Path, own: np.ndarray) -> dict:
    """How novel the held-out tissue (`own`, a boolean grid) looked: novelty and colour share over it."""
    novelty = np.load(result / "novelty.npy", allow_pickle=False)
    share = np.load(result / "colour-share.npy", allow_pickle=False)
    return {"novel_fraction": round(float((novelty[own] > 0.99).mean()), 4),
            "median_novelty": round(float(np.median(novelty[own])), 4),
            "colour_share": round(float(share[own].mean()), 4)}


def hold_out(a, out: Path, label: str, section: str, train: tuple, held: pd.Index, counts, locs, grid,
             cluster) -> dict:
    """Train on `train` (counts, locs) with the cluster's tissue masked out, predict the whole section, score its
    `held` spots both ways."""
    data = Path(a.data)
    root = out / "samples" / label
    trained = sample_folder(root / section, data, section, *train)
    whole = sample_folder(root / f"{section}whole", data, section)  # unmeasured: its held-out spots are the truth
    truth = root / "heldout"
    write_spots(truth, counts.loc[held], locs.loc[held])
    np.save(root / "mask.npy", ((grid >= 0) & (grid != cluster)).astype(np.uint8))
    run_dir = out / "runs" / label
    result = {"held_out_spots": int(len(held)), "optical_density": optical_density(a, section, locs.loc[held]),
              "floor": floor(a, trained, section, truth)}
    for mode in ("colour", "keep"):
        p2g("--train", f"{trained}/", "--predict", f"{whole}/", "--mask-file", f"{section}={root / 'mask.npy'}",
            "--outdir", run_dir, "--unfamiliar", mode, "--map-top", 0, *a.p2g_args.split())
        result[mode] = round(score(a, run_dir / whole.name, truth, data / section / "pixel-size-raw.txt",
                                   trained / "cnts.tsv"), 4)
        result[f"{mode}_held_out_tissue"] = held_out_novelty(run_dir / whole.name, grid == cluster)
    shutil.rmtree(run_dir, ignore_errors=True)  # about 4 GB a run: scored, it has nothing more to say
    return result


def main(argv=None):
    a = parse(argv)
    out = Path(a.outdir)
    t0 = time.time()
    summary = {}
    if a.across:
        rows, summary["tissue_per_cluster"] = across(a, out, Path(a.data))
    else:
        rows = one_section(a, out, Path(a.data))
    summary.update({"rows": rows, "seconds": round(time.time() - t0), "clusters": a.clusters, "seed": a.seed})
    for mode in ("colour", "keep", "floor", "whole_colour", "whole_keep", "whole_floor"):
        values = [r[mode] for r in rows if r.get(mode) is not None]
        summary[f"mean_{mode}"] = round(float(np.mean(values)), 4) if values and len(values) == len(rows) else None
    name = "tissue_holdout_across.json" if a.across else "tissue_holdout.json"
    (out / name).write_text(json.dumps(summary, indent=2) + "\n")
    print(across_table(rows, summary) if a.across else table(rows, summary))


def probe(a, out: Path, section: str, counts, locs, others=()) -> Path:
    """A one-epoch run whose work folder holds the features and detected masks the clusters are read from:
    `section`'s, and those of the unmeasured sample folders `others`."""
    everything = sample_folder(out / "samples" / f"{section}-all" / section, Path(a.data), section, counts, locs)
    run_dir = out / "runs" / (f"{section}-probe" if not others else "across")
    predicted = [f"{o}/" for o in others] or [f"{everything}/"]  # a training sample has its features anyway
    p2g("--train", f"{everything}/", "--predict", *predicted, "--outdir", run_dir, "--epochs", 1, "--map-top", 0,
        *a.p2g_args.split())
    return run_dir


def one_section(a, out: Path, data: Path) -> list:
    rows = []
    for section in a.sections:
        counts, locs = measured(data, section)
        run_dir = probe(a, out, section, counts, locs)
        cl = spot_clusters(run_dir, section, locs, a.clusters, a.seed)
        for c in range(a.clusters):
            held = cl.shares.index[cl.shares[c].to_numpy() >= HELD_SHARE]
            rest = cl.shares.index[cl.shares[c].to_numpy() <= TRAIN_SHARE]
            if len(held) < MIN_SPOTS or len(rest) < MIN_TRAIN:
                print(json.dumps({"section": section, "cluster": c, "skipped": "too few spots",
                                  "held_out": int(len(held)), "train": int(len(rest))}), flush=True)
                continue
            r = hold_out(a, out, f"{section}-c{c}", section, (counts.loc[rest], locs.loc[rest]), held, counts, locs,
                         cl.grid, c)
            rows.append({"variant": "one section", "section": section, "cluster": c, "train_spots": int(len(rest)),
                         **r})
            print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    return rows


def across(a, out: Path, data: Path):
    """The multi-section variant: (rows, tissue superpixels per cluster and section). Every run shares one
    outdir, so the predicted sections' rescaling, masks and features are computed once, by the probe."""
    first, trains = a.sections[0], [a.sections[0], *a.train_also]
    tests = [s for s in a.sections[1:] if s not in trains]
    spots = {s: measured(data, s) for s in a.sections}
    wholes = {s: sample_folder(out / "samples" / "across" / s, data, s) for s in a.sections[1:]}
    run_dir = probe(a, out, first, *spots[first], others=wholes.values())
    cl = {first: spot_clusters(run_dir, first, spots[first][1], a.clusters, a.seed)}
    for s in wholes:
        cl[s] = spot_clusters(run_dir, s, spots[s][1], a.clusters, a.seed, cl[first].basis)
    counts = {s: np.bincount(c.grid[c.grid >= 0], minlength=a.clusters).tolist() for s, c in cl.items()}
    print(json.dumps({"tissue_per_cluster": counts}), flush=True)
    rows = []
    for c in range(a.clusters):
        rows += across_cluster(a, out, run_dir, c, trains, tests, spots, cl, wholes)
    shutil.rmtree(run_dir, ignore_errors=True)  # several GB of work folders: scored, nothing more to say
    return rows, counts


def across_cluster(a, out: Path, run_dir: Path, c: int, trains, tests, spots, cl, wholes) -> list:
    """Train on `trains` without cluster c, predict the `tests` whole, score their spots mostly of cluster c."""
    data, root = Path(a.data), out / "samples" / f"across-c{c}"
    rest = {s: cl[s].shares.index[cl[s].shares[c].to_numpy() <= TRAIN_SHARE] for s in trains}
    held = {s: cl[s].shares.index[cl[s].shares[c].to_numpy() >= HELD_SHARE] for s in tests}
    scored = [s for s in tests if len(held[s]) >= MIN_SPOTS]
    n_train = sum(len(r) for r in rest.values())
    if len(rest[trains[0]]) < MIN_TRAIN or not scored:
        print(json.dumps({"cluster": c, "skipped": "too few spots", "train": n_train,
                          "held_out": {s: int(len(h)) for s, h in held.items()}}), flush=True)
        return []
    samples, masks = [], []
    for s in trains:  # each training section: its spots without the cluster, and a mask without it
        samples.append(sample_folder(root / s, data, s, spots[s][0].loc[rest[s]], spots[s][1].loc[rest[s]]))
        np.save(root / f"{s}-mask.npy", ((cl[s].grid >= 0) & (cl[s].grid != c)).astype(np.uint8))
        masks.append(f"{s}={root / f'{s}-mask.npy'}")
    train_counts = root / "train-cnts.tsv"  # the scorer ranks genes by the training spots' counts
    pd.concat([spots[s][0].loc[rest[s]] for s in trains]).fillna(0).to_csv(train_counts, sep="\t")
    for s in scored:
        write_spots(root / f"{s}-truth", spots[s][0].loc[held[s]], spots[s][1].loc[held[s]])
        write_spots(root / f"{s}-whole", *spots[s])
    one = len(samples) == 1
    rows = {s: {"variant": "across", "train": "+".join(trains), "cluster": c, "section": s, "train_spots": n_train,
                "held_out_spots": int(len(held[s])), "optical_density": optical_density(a, s, spots[s][1].loc[held[s]]),
                "floor": floor(a, samples[0], s, root / f"{s}-truth") if one else None,
                "whole_spots": int(len(spots[s][0])),
                "whole_floor": floor(a, samples[0], s, root / f"{s}-whole") if one else None}
            for s in scored}
    ref, predicted, genes = fallback_contrast.referee(), {s: {} for s in scored}, {}
    for mode in ("colour", "keep"):
        p2g("--train", *[f"{p}/" for p in samples], "--predict", *[f"{wholes[s]}/" for s in tests],
            "--mask-file", *masks, "--outdir", run_dir, "--unfamiliar", mode, "--map-top", 0, *a.p2g_args.split())
        for s in scored:
            rows[s][mode] = round(score(a, run_dir / s, root / f"{s}-truth", data / s / "pixel-size-raw.txt",
                                        train_counts), 4)
            rows[s][f"{mode}_held_out_tissue"] = held_out_novelty(run_dir / s, spots_tissue(cl[s], held[s]))
            rows[s][f"{mode}_whole_tissue"] = held_out_novelty(run_dir / s, spots_tissue(cl[s], spots[s][0].index))
            predicted[s][mode], genes[s] = whole_spot_predictions(ref, run_dir / s, spots[s], data / s,
                                                                  train_counts)
    for s in scored:  # how each way kept the contrast between the held-out tissue and the rest of the section
        counts = spots[s][0]
        c = rows[s]["contrast"] = fallback_contrast.summarise(ref, predicted[s], counts, counts.index.isin(held[s]),
                                                              genes[s])
        for mode in ("colour", "keep"):  # the same spot sums as the referee's scorer, read once
            if abs(c[mode]["held_out_r"] - rows[s][mode]) > 1e-4:
                raise SystemExit(f"{s}, {mode}: spot sums disagree with the referee's score "
                                 f"({c[mode]['held_out_r']} against {rows[s][mode]})")
            rows[s][f"whole_{mode}"] = c[mode]["whole_r"]
    for r in rows.values():
        print(json.dumps(r), flush=True)
    return list(rows.values())


def whole_spot_predictions(ref, pred: Path, measured_spots, section: Path, train_counts: Path) -> tuple:
    """((spots, genes) spot sums of a prediction over all the section's measured spots, the genes): the
    training spots' top 100 genes, as the referee's scorer takes them."""
    counts, locs = measured_spots
    genes = [g for g in ref.top_genes(str(train_counts), 100) if ref.find_pred(str(pred), g) is not None]
    size = float((section / "pixel-size-raw.txt").read_text())
    return fallback_contrast.spot_predictions(ref, pred, counts, locs, size, genes), genes


SCORE_COLUMNS = "optical density | colour floor | model alone | with the colour fallback |"


def scores(r) -> str:
    """A row's last cells: its held-out spots' optical density and colour floor (blank in rows written before
    they were measured), then the model alone and with the fallback."""
    od, fl = r.get("optical_density"), r.get("floor")
    return (f"{'' if od is None else f'{od:.3f}'} | {'' if fl is None else f'{fl:.3f}'} | {r['keep']:.3f} | "
            f"{r['colour']:.3f} |")


def mean_row(summary, prefix="", blanks=5) -> str:
    """The means' cells; a mean that was not measured for every row (the floor with two training sections)
    is left blank, not printed as None."""
    means = (summary.get(f"mean_{prefix}{m}") for m in ("floor", "keep", "colour"))
    return "| mean |" + " |" * blanks + " " + " | ".join("" if v is None else str(v) for v in means) + " |"


def score_table(head: str, first, rows, summary) -> list:
    """Markdown lines: one row per held-out cluster, `first(row)` cells under `head`, then how novel its tissue
    looked and the score cells, then the means."""
    lines = [f"| {head} | held-out tissue novel | its colour share | " + SCORE_COLUMNS, "|" + " --- |" * 9]
    for r in rows:
        tissue = r["colour_held_out_tissue"]
        lines.append(f"| {first(r)} | {tissue['novel_fraction']:.2f} | {tissue['colour_share']:.2f} | {scores(r)}")
    return lines + [mean_row(summary)]


def table(rows, summary) -> str:
    return "\n".join(score_table("section | held-out cluster | spots held out / trained", lambda r:
                                  f"{r['section']} | {r['cluster']} | {r['held_out_spots']} / {r['train_spots']}",
                                  rows, summary))


def across_table(rows, summary) -> str:
    """How much of each section's tissue each cluster holds, then one row per held-out cluster and test section."""
    counts = summary["tissue_per_cluster"]
    clusters = range(len(next(iter(counts.values()))))
    lines = ["| tissue superpixels | " + " | ".join(f"cluster {c}" for c in clusters) + " |",
             "| --- |" + " --- |" * len(clusters)]
    for s, n in counts.items():
        lines.append(f"| {s} | " + " | ".join(f"{v / sum(n):.0%} ({v})" for v in n) + " |")
    lines += [""] + score_table("held-out cluster | test section | spots scored", lambda r:
                                f"{r['cluster']} | {r['section']} | {r['held_out_spots']}", rows, summary)
    whole = [r for r in rows if "whole_keep" in r]
    return "\n".join(lines + (["", "The whole test section:", ""] + whole_table(whole, summary) if whole else []))


def whole_table(rows, summary) -> list:
    """Markdown lines: each held-out cluster's model scored on every measured spot of the test section."""
    def cell(v):
        return "" if v is None else f"{v:.3f}"
    lines = ["| held-out cluster | test section | spots scored | tissue novel | its colour share | contrast: model "
             "alone / with the fallback / measured | colour floor | model alone | with the colour fallback |",
             "|" + " --- |" * 9]
    for r in rows:
        tissue, c = r["colour_whole_tissue"], r.get("contrast")
        sizes = (" / ".join(f"{c[k]['contrast_size']:.3f}" for k in ("keep", "colour", "truth")) if c else "")
        lines.append(f"| {r['cluster']} | {r['section']} | {r['whole_spots']} | {tissue['novel_fraction']:.2f} | "
                     f"{tissue['colour_share']:.2f} | {sizes} | {cell(r.get('whole_floor'))} | "
                     f"{r['whole_keep']:.3f} | {r['whole_colour']:.3f} |")
    return lines + [mean_row(summary, "whole_")]


if __name__ == "__main__":
    main()
