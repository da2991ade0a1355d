"""Synthetic samples in the seed layout: textured tissue regions with known expression.

The image holds a tissue disc split into three regions that look different
(dense small nuclei, pink fibrous stroma, sparse large cells); each region
has its own expression profile, so a working chain must recover the regions
from the histology alone. Used by the tests; assets/example was made with it.
"""
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

REGION_NAMES = ("tumour", "stroma", "immune")


def region_map(h: int, w: int, rotate: float = 0.0) -> np.ndarray:
    """-1 for glass, 0/1/2 for the three regions of a tissue disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx, r = h / 2, w / 2, 0.45 * min(h, w)
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    angle = (np.arctan2(yy - cy, xx - cx) + rotate) % (2 * np.pi)
    regions = np.minimum((angle / (2 * np.pi / 3)).astype(int), 2)
    return np.where(inside, regions, -1)


def paint(regions: np.ndarray, px_um: float, rng) -> np.ndarray:
    """An RGB H&E-like image (uint8) of the region map at px_um µm per pixel."""
    h, w = regions.shape
    img = np.full((h, w, 3), 245, np.uint8)
    colours = {0: (200, 150, 200), 1: (235, 170, 200), 2: (215, 185, 215)}
    for r, c in colours.items():
        img[regions == r] = c
    stripes = (np.sin((np.arange(w)[None, :] + np.arange(h)[:, None] * 0.6) / (3 / px_um)) > 0.6)
    img[(regions == 1) & stripes] = (200, 110, 160)
    for r, (n_per_mm2, radius_um, colour) in {0: (9000, 3.5, (70, 40, 120)),
                                               2: (2500, 6.0, (110, 80, 160)),
                                               1: (600, 2.5, (90, 50, 130))}.items():
        ys, xs = np.nonzero(regions == r)
        if not len(ys):
            continue
        n = int(len(ys) * (px_um / 1000) ** 2 * n_per_mm2)
        pick = rng.choice(len(ys), n, replace=False)
        for y, x in zip(ys[pick], xs[pick]):
            cv2.circle(img, (int(x), int(y)), max(1, int(round(radius_um / px_um))), colour, -1)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def expression_profiles(n_genes: int, rng) -> np.ndarray:
    """(3, G) mean counts per 100 µm² of tissue; each gene marks one region."""
    base = rng.uniform(0.2, 1.0, (3, n_genes))
    for g in range(n_genes):
        base[g % 3, g] *= 8
    return base


def make_sample(prefix, size_um=800.0, px_um=0.8, diameter_um=55.0, pitch_um=100.0,
                n_genes=30, measured=True, seed=0, rotate=0.0, jpeg_quality=90):
    """Write a sample in the seed layout under `prefix`; returns the true region map."""
    rng = np.random.default_rng(seed)
    prefix = str(prefix)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    if prefix.endswith("/"):
        Path(prefix).mkdir(parents=True, exist_ok=True)
    side = int(round(size_um / px_um))
    regions = region_map(side, side, rotate)
    img = paint(regions, px_um, rng)
    cv2.imwrite(prefix + "he-raw.jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    Path(prefix + "pixel-size-raw.txt").write_text(f"{px_um}\n")
    Path(prefix + "pixel-size.txt").write_text("0.5\n")
    Path(prefix + "radius-raw.txt").write_text(f"{diameter_um}\n")
    if measured:
        counts, locs = simulate_counts(regions, px_um, diameter_um, pitch_um, n_genes, rng)
        counts.to_csv(prefix + "cnts.tsv", sep="\t")
        locs.to_csv(prefix + "locs-raw.tsv", sep="\t")
    return regions


def simulate_counts(regions, px_um, diameter_um, pitch_um, n_genes, rng):
    profiles = expression_profiles(n_genes, np.random.default_rng(1234))  # same biology in every sample
    h, w = regions.shape
    r_px = diameter_um / 2 / px_um
    step = pitch_um / px_um
    ids, xy, rows = [], [], []
    yy, xx = np.mgrid[0:h, 0:w]
    for i, y in enumerate(np.arange(step / 2, h, step)):
        for j, x in enumerate(np.arange(step / 2, w, step)):
            disk = (yy - y) ** 2 + (xx - x) ** 2 <= r_px ** 2
            fractions = np.array([(regions[disk] == r).sum() for r in range(3)]) * px_um ** 2 / 100
            if fractions.sum() == 0:
                continue
            rate = fractions @ profiles * 0.5
            rows.append(rng.poisson(rate))
            ids.append(f"{i}x{j}")
            xy.append((x, y))
    genes = [f"GENE{g:03d}" for g in range(n_genes)]
    counts = pd.DataFrame(np.array(rows), index=pd.Index(ids, name="id"), columns=genes)
    locs = pd.DataFrame(np.array(xy), index=counts.index, columns=["x", "y"])
    return counts, locs


def write_example(root) -> None:
    """The bundled example: a measured section and a rotated section to predict."""
    make_sample(f"{root}/train/", seed=0)
    make_sample(f"{root}/test/", seed=1, rotate=1.0, measured=False)


if __name__ == "__main__":
    import sys
    write_example(sys.argv[1] if len(sys.argv) > 1 else "assets/example")
