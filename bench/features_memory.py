#!/usr/bin/env python3
"""Peak host memory of rescale, mask and features on a synthetic whole slide (default 40,000 x 40,000 px).

Writes a tiled BigTIFF he-raw at 0.5 µm/px whose tissue is a ring covering about --tissue of the slide,
runs the three steps as separate processes under /usr/bin/time -v, and prints wall time and peak RSS.
Usage: python bench/features_memory.py WORKDIR [--side 40000] [--tissue 0.1] [--encoder effnet-lite2]
Needs about 30 GB of free disk for the default size (image, rescaled copy and the float16 features).
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import tifffile

TILE = 512


def ring_tiles(side: int, tissue: float, seed: int = 0):
    """Tiles of an H&E-like ring: pink stroma with purple nuclei on white glass."""
    rng = np.random.default_rng(seed)
    c = side / 2
    r_out = side * 0.48
    r_in = np.sqrt(max(0.0, r_out ** 2 - tissue * side * side / np.pi))
    for y0 in range(0, side, TILE):
        for x0 in range(0, side, TILE):
            yy, xx = np.mgrid[y0:y0 + TILE, x0:x0 + TILE]
            d = np.hypot(yy - c, xx - c)
            inside = (d < r_out) & (d > r_in)
            tile = np.full((TILE, TILE, 3), 242, np.uint8)
            tile += rng.integers(0, 8, (TILE, TILE, 1), np.uint8)
            if inside.any():
                stroma = np.array([225, 160, 200], np.uint8)
                nuclei = rng.random((TILE, TILE)) < 0.08
                tile[inside] = stroma
                tile[inside & nuclei] = (110, 60, 150)
            yield tile


def timed(label, cmd):
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{label} failed:\n{out.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", out.stderr).group(1)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    print(f"{label}: wall {wall}, peak RSS {rss / 2 ** 20:.2f} GiB", flush=True)
    return {"wall": wall, "peak_rss_gib": round(rss / 2 ** 20, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir")
    ap.add_argument("--side", type=int, default=40000)
    ap.add_argument("--tissue", type=float, default=0.1)
    ap.add_argument("--encoder", default="effnet-lite2", help="the wider encoder, the upper bound of memory")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    w = Path(a.workdir)
    (w / "slide").mkdir(parents=True, exist_ok=True)
    image = w / "slide" / "he-raw.tif"
    if not image.exists():
        tifffile.imwrite(image, ring_tiles(a.side, a.tissue), shape=(a.side, a.side, 3), dtype=np.uint8,
                         tile=(TILE, TILE), bigtiff=True, photometric="rgb")
    (w / "slide" / "pixel-size-raw.txt").write_text("0.5\n")
    (w / "slide" / "pixel-size.txt").write_text("0.5\n")
    bin_dir = Path(__file__).resolve().parents[1] / "bin"
    py = [sys.executable]
    result = {"side": a.side, "tissue": a.tissue, "encoder": a.encoder}
    result["rescale"] = timed("rescale", py + [str(bin_dir / "p2g-rescale"), "--prefix", f"{w}/slide/",
                                               "--out", str(w / "rescale")])
    result["mask"] = timed("mask", py + [str(bin_dir / "p2g-mask"), "--rescaled", str(w / "rescale"),
                                         "--out", str(w / "mask")])
    result["features"] = timed("features", py + [str(bin_dir / "p2g-features"), "--rescaled", str(w / "rescale"),
                                                 "--mask", str(w / "mask"), "--out", str(w / "features"),
                                                 "--encoder", a.encoder, "--threads", str(a.threads)])
    mask = json.loads((w / "mask" / "mask.json").read_text())
    result["tissue_superpixels"] = mask["n_tissue"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
