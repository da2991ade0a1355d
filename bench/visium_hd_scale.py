#!/usr/bin/env python3
"""Visium HD at real scale: a synthetic Space Ranger outs/ folder the size of a section, imported and run on the CPU.

Writes OUT/data/: a full-resolution H&E (tiled TIFF, 0.2738 µm/px, 6.5 x 6.5 mm by default: ~23,700 px square,
~1.7 GB) beside outs/binned_outputs/square_008um/ with filtered_feature_bc_matrix.h5 (10x's HDF5 layout, ~1% of
18,000 genes non-zero per bin), spatial/tissue_positions.parquet and scalefactors_json.json (plus hires/lowres
images). Then runs `p2g-import visium-hd` and every step `p2g-run --train S --predict S` runs, as separate
bin/p2g-* processes under /usr/bin/time -v, and prints wall time and peak RSS per step (also OUT/benchmark.json).

Nothing here builds a dense bins x genes array: counts are drawn gene by gene as multinomial draws per bin and
written as CSR row blocks; the image is painted and written tile by tile.

Usage: python bench/visium_hd_scale.py --out /scratch/hd [--bins-side 812] [--epochs 100] [--keep]
Needs about 16 GB of free disk at the default size (data 2 GB; the run 13 GB: features 1.9 GB, training
arrays 2.6 GB, predictions 2.3 GB, results .h5ad 2.5 GB, maps); docs/benchmarks.md has the measured run.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the checkout's library, and the tests' synthetic 10x writer
from pixel2gene.features import DEFAULT_ENCODER  # noqa: E402
from synthetic_10x import TenxH5Writer, gene_features  # noqa: E402

PX_UM = 0.2738          # µm per full-resolution pixel (a typical Visium HD CytAssist-era H&E scan)
BIN_UM = 8
CAPTURE_MM = 6.5
REAL_SIDE = int(CAPTURE_MM * 1000 // BIN_UM)  # 812 bins: 659,344 bins on the capture area
TILE = 512
HIRES, LOWRES = 0.25, 1 / 32  # integer-sized per tile (512 -> 128, 16); hires ~5,900 px like Space Ranger's
REGION_FACTOR = (1.25, 0.75, 1.0)  # counts per bin: dense nests, sparse stroma, immune in between
NUCLEI = {0: (9000, 3.5, (70, 40, 120)), 1: (600, 2.5, (90, 50, 130)), 2: (2500, 6.0, (110, 80, 160))}
COLOURS = np.array([(200, 150, 200), (235, 170, 200), (215, 185, 215)], np.uint8)
GLASS = 242


# ---------------------------------------------------------------- tissue fields (on the bin grid)

def smooth_field(n: int, sigma_bins: float, rng) -> np.ndarray:
    f = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), sigma_bins,
                         borderType=cv2.BORDER_REFLECT)
    return (f - f.mean()) / (f.std() + 1e-12)


def tissue_fields(n: int, tissue: float, rng):
    """(tissue field, its threshold, region field, its two thresholds) on the n x n bin grid.

    Tissue: an irregular blob (a disc pushed around by smooth noise) covering `tissue` of the capture area.
    Regions: terciles of a finer smooth field, so nests, stroma and immune patches interleave like a section.
    """
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    r = np.hypot(yy - n / 2, xx - n / 2) / (n / 2)
    blob = -2.5 * r ** 4 + 0.6 * smooth_field(n, n / 10, rng)
    t0 = float(np.quantile(blob, 1 - tissue))
    reg = smooth_field(n, max(1.0, n / 40), rng)
    q = np.quantile(reg[blob > t0], [1 / 3, 2 / 3]) if (blob > t0).any() else np.array([-0.4, 0.4])
    return blob, t0, reg, (float(q[0]), float(q[1]))


def labels(blob, t0, reg, q) -> np.ndarray:
    """-1 glass, 0/1/2 regions; works on the bin grid and on fields interpolated to pixels alike."""
    region = np.where(reg < q[0], 0, np.where(reg < q[1], 1, 2))
    return np.where(blob > t0, region, -1).astype(np.int8)


# ---------------------------------------------------------------- the H&E, tile by tile

def fields_at(fields, x, y, bin_px):
    """Labels at full-resolution pixel coordinates (arrays of one shape), fields bilinear from the bin grid."""
    blob, t0, reg, q = fields
    gx = ((np.asarray(x, np.float32) + 0.5) / bin_px - 0.5).reshape(1, -1) if np.ndim(x) == 1 else \
        ((x + 0.5) / bin_px - 0.5).astype(np.float32)
    gy = ((np.asarray(y, np.float32) + 0.5) / bin_px - 0.5).reshape(1, -1) if np.ndim(y) == 1 else \
        ((y + 0.5) / bin_px - 0.5).astype(np.float32)
    b = cv2.remap(blob, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    r = cv2.remap(reg, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return labels(b, t0, r, q).reshape(np.shape(x))


def nuclei_of_cell(cy: int, cx: int, seed: int):
    """(x, y, region it may sit in) of candidate nuclei in one TILE x TILE cell, the same for every tile asking."""
    rng = np.random.default_rng([seed, cy + 1, cx + 1])  # cells -1 border the image
    area_mm2 = (TILE * PX_UM / 1000) ** 2
    out = []
    for region, (per_mm2, _, _) in NUCLEI.items():
        n = rng.poisson(per_mm2 * area_mm2)
        out.append((cx * TILE + rng.integers(0, TILE, n), cy * TILE + rng.integers(0, TILE, n), np.full(n, region)))
    return [np.concatenate(v) for v in zip(*out)]


def paint_tile(y0: int, x0: int, fields, bin_px: float, seed: int, rng) -> np.ndarray:
    """An H&E-like RGB tile: region colours, stroma fibres, nuclei by region density.

    Nuclei come from this cell and its 8 neighbours (seeded by cell), so one crossing a tile edge is whole.
    """
    yy, xx = np.mgrid[y0:y0 + TILE, x0:x0 + TILE]
    lab = fields_at(fields, xx, yy, bin_px)
    img = np.full((TILE, TILE, 3), GLASS, np.uint8)
    tissue = lab >= 0
    img[tissue] = COLOURS[lab[tissue]]
    fibres = (lab == 1) & (np.sin((xx + yy * 0.6) / (3 / PX_UM)) > 0.6)
    img[fibres] = (200, 110, 160)
    cy, cx = y0 // TILE, x0 // TILE
    cand = [nuclei_of_cell(cy + dy, cx + dx, seed) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    x, y, region = (np.concatenate(v) for v in zip(*cand))
    ok = fields_at(fields, x, y, bin_px) == region
    for xi, yi, ri in zip(x[ok], y[ok], region[ok]):
        _, radius_um, colour = NUCLEI[int(ri)]
        cv2.circle(img, (int(xi - x0), int(yi - y0)), max(1, int(round(radius_um / PX_UM))), colour, -1)
    noise = rng.integers(-8, 9, (TILE, TILE, 1), dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_image(path: Path, side_px: int, bin_px: float, fields, seed: int, rng, hires: np.ndarray,
                lowres: np.ndarray):
    """Tiled TIFF of side_px^2 RGB px; fields interpolated from the bin grid (bin centre (c+0.5)*bin_px)."""
    import tifffile

    def tiles():
        for y0 in range(0, side_px, TILE):
            for x0 in range(0, side_px, TILE):
                tile = paint_tile(y0, x0, fields, bin_px, seed, rng)
                for canvas, s in ((hires, HIRES), (lowres, LOWRES)):
                    k = int(TILE * s)
                    small = cv2.resize(tile, (k, k), interpolation=cv2.INTER_AREA)
                    cy, cx = int(y0 * s), int(x0 * s)
                    part = canvas[cy:cy + k, cx:cx + k]
                    part[:] = small[:part.shape[0], :part.shape[1]]
                yield tile

    tifffile.imwrite(path, tiles(), shape=(side_px, side_px, 3), dtype=np.uint8, tile=(TILE, TILE),
                     bigtiff=True, photometric="rgb")


# ---------------------------------------------------------------- counts, sparse all the way

def gene_profiles(n_genes: int, n_markers: int, rng) -> np.ndarray:
    """(3, G) gene probabilities per region: long-tailed abundances; the most abundant genes mark a region."""
    base = np.sort(rng.lognormal(0.0, 1.5, n_genes))[::-1]
    prof = np.tile(base, (3, 1))
    g = np.arange(min(n_markers, n_genes))
    prof[g % 3, g] *= 6.0
    return prof / prof.sum(1, keepdims=True)


def depth_for(prof: np.ndarray, nonzero: float) -> float:
    """Mean counts per bin at which a bin has `nonzero` of the genes non-zero on average (Poisson thinning)."""
    target = nonzero * prof.shape[1]
    lo, hi = 1.0, 1e6
    for _ in range(60):
        m = (lo * hi) ** 0.5
        distinct = np.mean([np.sum(1 - np.exp(-m * p)) for p in prof])
        lo, hi = (m, hi) if distinct < target else (lo, m)
    return (lo * hi) ** 0.5


def count_blocks(region: np.ndarray, prof: np.ndarray, depth: float, rng, block: int = 16384):
    """CSR blocks (bins x G) of counts: per bin a Poisson total split over genes by its region's profile."""
    cdf = np.cumsum(prof, 1)
    cdf[:, -1] = 1.0
    factor = np.asarray(REGION_FACTOR)
    for s in range(0, len(region), block):
        reg = region[s:s + block]
        totals = rng.poisson(depth * factor[reg])
        rows, cols = [], []
        for k in range(3):
            idx = np.flatnonzero(reg == k)
            n = int(totals[idx].sum())
            rows.append(np.repeat(idx, totals[idx]))
            cols.append(np.minimum(np.searchsorted(cdf[k], rng.random(n), "right"), prof.shape[1] - 1))
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        m = sp.coo_matrix((np.ones(len(rows), np.int32), (rows, cols)), shape=(len(reg), prof.shape[1])).tocsr()
        m.sum_duplicates()
        yield m


# ---------------------------------------------------------------- the outs/ folder

def generate(data: Path, bins_side: int, n_genes: int, nonzero: float, tissue: float, seed: int) -> dict:
    """Write data/he-fullres.tif and data/outs/ (Visium HD, 8 µm bins); returns what was made."""
    rng = np.random.default_rng(seed)
    bin_px = BIN_UM / PX_UM
    side_px = int(np.ceil(bins_side * bin_px))
    fields = tissue_fields(bins_side, tissue, rng)
    bins_dir = data / "outs" / "binned_outputs" / f"square_{BIN_UM:03d}um"
    for d in (bins_dir / "spatial", data / "outs" / "spatial"):
        d.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    hires = np.full((int(round(side_px * HIRES)), int(round(side_px * HIRES)), 3), GLASS, np.uint8)
    lowres = np.full((int(round(side_px * LOWRES)), int(round(side_px * LOWRES)), 3), GLASS, np.uint8)
    image = data / "he-fullres.tif"  # beside outs/, as the H&E given to Space Ranger is
    write_image(image, side_px, bin_px, fields, seed, rng, hires, lowres)
    factors = {"spot_diameter_fullres": bin_px, "bin_size_um": float(BIN_UM), "microns_per_pixel": PX_UM,
               "tissue_hires_scalef": HIRES, "tissue_lowres_scalef": LOWRES,
               "fiducial_diameter_fullres": 150 / PX_UM, "regist_target_img_scalef": HIRES}
    for d in (bins_dir / "spatial", data / "outs" / "spatial"):
        (d / "scalefactors_json.json").write_text(json.dumps(factors, indent=2))
        cv2.imwrite(str(d / "tissue_hires_image.png"), hires[..., ::-1])
        cv2.imwrite(str(d / "tissue_lowres_image.png"), lowres[..., ::-1])
    image_s = time.time() - t0

    t0 = time.time()
    lab = labels(*fields).ravel()
    rr, cc = (a.ravel() for a in np.mgrid[0:bins_side, 0:bins_side])
    barcodes = np.char.add(np.char.add(np.char.add(f"s_{BIN_UM:03d}um_", np.char.zfill(rr.astype(str), 5)), "_"),
                           np.char.add(np.char.zfill(cc.astype(str), 5), "-1"))
    pd.DataFrame({"barcode": barcodes, "in_tissue": (lab >= 0).astype(np.int32), "array_row": rr,
                  "array_col": cc, "pxl_row_in_fullres": (rr + 0.5) * bin_px,
                  "pxl_col_in_fullres": (cc + 0.5) * bin_px}).to_parquet(
        bins_dir / "spatial" / "tissue_positions.parquet", index=False)
    keep = np.flatnonzero(lab >= 0)  # a filtered matrix holds the bins under tissue, in barcode order
    prof = gene_profiles(n_genes, min(600, n_genes // 3), rng)
    depth = depth_for(prof, nonzero)
    names, ids, types = gene_features(n_genes)
    writer = TenxH5Writer(bins_dir / "filtered_feature_bc_matrix.h5", barcodes[keep], ids, names, types)
    nnz = 0
    try:
        for block in count_blocks(lab[keep], prof, depth, rng):
            writer.add(block)
            nnz += block.nnz
    finally:
        writer.close()
    return {"bins_side": bins_side, "capture_mm": round(bins_side * BIN_UM / 1000, 3), "bins_total": bins_side ** 2,
            "bins_in_tissue": int(len(keep)), "genes": n_genes, "nonzero": nnz,
            "nonzero_fraction": round(nnz / max(1, len(keep) * n_genes), 5), "mean_counts_per_bin": round(depth, 1),
            "image_px": side_px, "image_gb": round(side_px ** 2 * 3 / 1e9, 2), "px_um": PX_UM,
            "image_seconds": round(image_s, 1), "counts_seconds": round(time.time() - t0, 1),
            "matrix_mb": round((bins_dir / "filtered_feature_bc_matrix.h5").stat().st_size / 1e6, 1),
            "image": str(image), "outs": str(data / "outs")}


# ---------------------------------------------------------------- the chain, one timed process per step

def timed(label: str, cmd, log: Path) -> dict:
    load = os.getloadavg()[0]
    t0 = time.time()
    with open(log, "a") as fh:
        fh.write(f"\n== {label}: {' '.join(map(str, cmd))}\n")
        fh.flush()
        proc = subprocess.run(["/usr/bin/time", "-v", *map(str, cmd)], stdout=fh, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        fh.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"{label} failed (exit {proc.returncode}); see {log}:\n{proc.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", proc.stderr).group(1)) for k in ("User", "System"))
    row = {"step": label, "wall_s": round(time.time() - t0, 1), "cpu_s": round(cpu, 1),
           "peak_rss_gib": round(rss / 2 ** 20, 2), "load_before": round(load, 2)}
    print(f"{label}: wall {row['wall_s']} s, CPU {row['cpu_s']} s, peak RSS {row['peak_rss_gib']} GiB "
          f"(load average before: {load:.2f})", flush=True)
    return row


def chain(data: Path, work: Path, args) -> list:
    """p2g-import, then the steps of `p2g-run --train S --predict S` (runner.py's order and options)."""
    py, b = sys.executable, REPO / "bin"
    log = work / "steps.log"
    sample = work / "S"
    w = {k: work / k for k in ("rescale", "mask", "features", "genes", "folds", "trained", "model", "pred", "result",
                               "figures", "held-out", "report")}
    common = ["--threads", str(args.threads)]
    steps = [
        ("import", [b / "p2g-import", "visium-hd", data / "outs", "--image", data / "he-fullres.tif",
                    "--out", sample]),
        ("rescale", [b / "p2g-rescale", "--prefix", f"{sample}/", "--out", w["rescale"], "--measured", *common]),
        ("mask", [b / "p2g-mask", "--rescaled", w["rescale"], "--out", w["mask"], *common]),
        ("features", [b / "p2g-features", "--rescaled", w["rescale"], "--mask", w["mask"], "--out", w["features"],
                      "--encoder", args.encoder, "--device", "cpu", *common]),
        ("genes", [b / "p2g-genes", "--counts", sample / "cnts.h5ad", "--out", w["genes"],
                   "--n-genes", str(args.n_genes)]),
        ("folds", [b / "p2g-folds", "--rescaled", w["rescale"], "--mask", w["mask"], "--features", w["features"],
                   "--genes", w["genes"], "--out", w["folds"], "--n-folds", str(args.n_folds)]),
        ("train", [b / "p2g-train", "--trainset", w["folds"], "--out", w["trained"], "--epochs", str(args.epochs),
                   "--device", "cpu", *common]),
        ("select", [b / "p2g-select", "--trainset", w["folds"], "--trained", w["trained"], "--out", w["model"],
                    *common]),
        ("predict", [b / "p2g-predict", "--features", w["features"], "--mask", w["mask"], "--model", w["model"],
                     "--out", w["pred"], "--device", "cpu", *common]),
        ("combine", [b / "p2g-combine", "--pred", w["pred"], "--rescaled", w["rescale"], "--mask", w["mask"],
                     "--out", w["result"], *common]),
        ("export", [b / "p2g-export", "--result", w["result"], "--rescaled", w["rescale"],
                    "--out", work / "S.h5ad"]),
        ("maps", [b / "p2g-maps", "--result", w["result"], "--rescaled", w["rescale"], "--out", w["figures"],
                  "--trainset", w["folds"]]),
    ]
    if args.n_folds > 1:  # p2g-run scores a training sample on its held-out folds
        steps.append(("evaluate (held-out folds)", [b / "p2g-evaluate", "--rescaled", w["rescale"], "--mask", w["mask"],
                                                    "--out", w["held-out"], "--trainset", w["folds"],
                                                    "--model", w["model"], "--device", "cpu"]))
    report_steps = [w[k] for k in ("rescale", "mask", "features", "folds", "genes", "trained", "model", "pred",
                                   "result", "figures")] + ([w["held-out"]] if args.n_folds > 1 else [])
    steps.append(("report", [b / "p2g-report", "--result", w["result"], "--out", work / "S.html",
                             "--maps", w["figures"], "--model", w["model"], "--steps", *report_steps]
                  + (["--evaluation", w["held-out"]] if args.n_folds > 1 else [])))
    done_path = work / "steps.jsonl"  # one row per finished step, for --resume
    done = {}
    if args.resume and done_path.is_file():
        done = {r["step"]: r for r in map(json.loads, done_path.read_text().splitlines())}
    rows = []
    for label, cmd in steps:
        if label in done:
            print(f"{label}: measured earlier (--resume): wall {done[label]['wall_s']} s, "
                  f"peak RSS {done[label]['peak_rss_gib']} GiB", flush=True)
            rows.append(done[label])
            continue
        rows.append(timed(label, [py, *cmd], log))
        with open(done_path, "a") as fh:
            fh.write(json.dumps(rows[-1]) + "\n")
    return rows


def table(rows) -> str:
    lines = ["| step | wall | CPU | peak RSS | load average before |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        m, s = divmod(r["wall_s"], 60)
        lines.append(f"| {r['step']} | {int(m)} min {s:.0f} s | {r['cpu_s']:.0f} s | {r['peak_rss_gib']:.2f} GiB | "
                     f"{r['load_before']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for the data, the run and benchmark.json (new or ours)")
    ap.add_argument("--bins-side", type=int, default=REAL_SIDE,
                    help=f"8 µm bins along each side of the capture area ({REAL_SIDE} = 6.5 mm, a real section)")
    ap.add_argument("--genes", type=int, default=18000, help="features in the matrix")
    ap.add_argument("--nonzero", type=float, default=0.01, help="mean fraction of genes non-zero per bin")
    ap.add_argument("--tissue", type=float, default=0.9, help="fraction of the capture area under tissue")
    ap.add_argument("--epochs", type=int, default=100, help="p2g-train epochs per fold (p2g-run's default: 100)")
    ap.add_argument("--n-folds", type=int, default=10, help="spatial folds (p2g-run's default: 10)")
    ap.add_argument("--n-genes", type=int, default=1000, help="genes to predict (p2g-run's default: 1000)")
    ap.add_argument("--encoder", default=DEFAULT_ENCODER, help="histology encoder (p2g-run's default)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per step (0 = all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate-only", action="store_true", help="write the outs/ folder and the image, run nothing")
    ap.add_argument("--resume", action="store_true",
                    help="keep OUT/run/ and skip the steps it records as finished (after a step failed or was "
                         "stopped); implies --keep")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data and the run (default: delete them, leave benchmark.json); a kept data "
                         "folder with the same settings is reused")
    a = ap.parse_args(argv)
    for option, value, least in (("--bins-side", a.bins_side, 4), ("--genes", a.genes, 3), ("--epochs", a.epochs, 1),
                                 ("--n-folds", a.n_folds, 1), ("--n-genes", a.n_genes, 1)):
        if value < least:
            ap.error(f"{option} {value} is too small: give {least} or more")
    if not 0 < a.nonzero < 1 or not 0 < a.tissue <= 1:
        ap.error("--nonzero and --tissue are fractions: give 0 < --nonzero < 1 and 0 < --tissue <= 1")
    out = Path(a.out)
    if out.exists() and any(out.iterdir()) and not (out / "benchmark.json").exists() \
            and not (out / "data" / "generated.json").exists():
        sys.exit(f"{out}: folder exists and was not written by this benchmark; give --out a new folder")
    data, work = out / "data", out / "run"
    settings = {k: getattr(a, k) for k in ("bins_side", "genes", "nonzero", "tissue", "seed")}
    stamp = data / "generated.json"
    made = json.loads(stamp.read_text()) if stamp.is_file() else None
    if made is None or made.get("settings") != settings:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        print(f"generating {a.bins_side}^2 bins x {a.genes} genes in {data} ...", flush=True)
        made = {"settings": settings, **generate(data, a.bins_side, a.genes, a.nonzero, a.tissue, a.seed)}
        stamp.write_text(json.dumps(made, indent=2))
    print(json.dumps({k: v for k, v in made.items() if k != "settings"}), flush=True)
    result = {"data": made, "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
              "options": vars(a)}
    a.keep = a.keep or a.resume
    if not a.generate_only:
        if not a.resume:
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        rows = chain(data, work, a)
        dense_gib = made["bins_in_tissue"] * made["genes"] * 4 / 2 ** 30
        result.update(steps=rows, dense_counts_gib=round(dense_gib, 2),
                      max_peak_rss_gib=max(r["peak_rss_gib"] for r in rows))
        print(table(rows))
        print(f"a dense float32 bins x genes array would take {dense_gib:.1f} GiB; the largest step peaked at "
              f"{result['max_peak_rss_gib']:.2f} GiB", flush=True)
    (out / "benchmark.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    if not a.keep:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
