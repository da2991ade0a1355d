#!/usr/bin/env python3
"""Rescale of a large synthetic pyramidal slide: from the level the target needs vs from level 0.

    python bench/slide_levels.py make SCRATCH/slide.ome.tif --width 81920 --height 40960 [--svs]
    /usr/bin/time -v python bench/slide_levels.py rescale SCRATCH/slide.ome.tif SCRATCH/out.npy --level auto
    /usr/bin/time -v python bench/slide_levels.py rescale SCRATCH/slide.ome.tif SCRATCH/out.npy --level 0

`make` writes a 40x scan (0.25 µm/px) as JPEG tiles of 512 px: an OME-TIFF with SubIFD levels halving
each time (what bfconvert and vips write), or with --svs an Aperio-style .svs with levels a quarter each
time (what Aperio scanners write). The tissue is 64 distinct blurred-stain tiles in a fixed pattern, so
levels are exact area averages of level 0 and the file compresses like a scan. JPEG tiles need
imagecodecs (pip install "pixel2gene[tiff]"). `rescale` runs the rescale step's own resampler to
0.5 µm/px: `--level 0` is how every TIFF was read before pyramid levels were used. It prints one JSON
line; peak memory comes from /usr/bin/time -v.
"""
import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TILE, KINDS, MPP = 512, 64, 0.25


@functools.lru_cache(maxsize=None)
def base_tile(kind: int) -> np.ndarray:
    import cv2
    rng = np.random.default_rng(kind)
    stain = rng.normal(0, 1, (TILE, TILE)).astype(np.float32)
    stain = cv2.GaussianBlur(stain, (0, 0), 4 + kind % 5)
    stain = (stain - stain.min()) / (np.ptp(stain) + 1e-6)
    pink, purple = np.array([232, 170, 200], np.float32), np.array([120, 60, 150], np.float32)
    return (pink + stain[..., None] * (purple - pink)).astype(np.uint8)


def kind_at(r: int, c: int) -> int:
    return (r * 7 + c * 3) % KINDS


@functools.lru_cache(maxsize=None)
def level_tile(step: int, key: tuple) -> np.ndarray:
    """A tile of a level `step` times smaller than level 0, from the kinds of the level-0 tiles it covers."""
    import cv2
    if step == 1:
        return base_tile(key[0][0])
    mosaic = np.concatenate([np.concatenate([base_tile(k) for k in row], 1) for row in key], 0)
    return cv2.resize(mosaic, (TILE, TILE), interpolation=cv2.INTER_AREA)


def tiles(height: int, width: int, step: int):
    for r in range(height // TILE):
        for c in range(width // TILE):
            key = tuple(tuple(kind_at(r * step + i, c * step + j) for j in range(step)) for i in range(step))
            yield level_tile(step, key)


def make(path: Path, width: int, height: int, svs: bool) -> None:
    import tifffile
    factor = 4 if svs else 2
    steps = [1]
    while (height // (steps[-1] * factor)) % TILE == 0 and height // (steps[-1] * factor) >= TILE \
            and (svs or steps[-1] * factor <= 16):  # whole tiles on every level
        steps.append(steps[-1] * factor)
    opts = dict(tile=(TILE, TILE), compression="jpeg", compressionargs={"level": 90}, photometric="rgb", dtype=np.uint8, maxworkers=2)
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        if svs:
            desc = (f"Aperio Image Library v12.0.15 \r\n{width}x{height} [0,0 {width}x{height}] ({TILE}x{TILE}) "
                    f"JPEG/RGB Q=90|AppMag = 40|MPP = {MPP:.4f}")
            for i, s in enumerate(steps):
                tif.write(tiles(height // s, width // s, s), shape=(height // s, width // s, 3),
                          description=desc, metadata=None, **opts)
                if i == 0:  # Aperio's second page is a stripped thumbnail
                    tif.write(np.full((256, 512, 3), 200, np.uint8), photometric="rgb", metadata=None,
                              description="Aperio thumbnail")
        else:
            meta = {"axes": "YXS", "PhysicalSizeX": MPP, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": MPP,
                    "PhysicalSizeYUnit": "µm"}
            tif.write(tiles(height, width, 1), shape=(height, width, 3), subifds=len(steps) - 1, metadata=meta,
                      **opts)
            for s in steps[1:]:
                tif.write(tiles(height // s, width // s, s), shape=(height // s, width // s, 3), subfiletype=1,
                          metadata=None, **opts)


def rescale(path: Path, out: Path, level: str, threads: int) -> dict:
    from pixel2gene.image.rescale import rescale_image
    from pixel2gene.io.image_reader import ImageReader
    from pixel2gene.tool.allocator import keep_big_allocations
    keep_big_allocations()  # as p2g-rescale does
    t0 = time.time()
    with ImageReader(path) as reader:
        scale = reader.pixel_size.x / 0.5
        shapes = rescale_image(reader, scale, out, threads=threads, level=None if level == "auto" else int(level))
    return {"file": path.name, "levels": reader.levels, "read_level": shapes["read_level"],
            "read_shape": shapes["read_level_shape"], "out_shape": shapes["shape"],
            "seconds": round(time.time() - t0, 1), "threads": threads}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("path", type=Path)
    m.add_argument("--width", type=int, default=81920)
    m.add_argument("--height", type=int, default=40960)
    m.add_argument("--svs", action="store_true")
    r = sub.add_parser("rescale")
    r.add_argument("path", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--level", default="auto")
    r.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.cmd == "make":
        t0 = time.time()
        make(a.path, a.width, a.height, a.svs)
        print(json.dumps({"made": str(a.path), "bytes": a.path.stat().st_size, "seconds": round(time.time() - t0)}))
    else:
        print(json.dumps(rescale(a.path, a.out, a.level, a.threads)))


if __name__ == "__main__":
    main()
