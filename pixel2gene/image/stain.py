"""Stain colour in optical density (OD): estimate, normalise, jitter.

H&E is two absorbing dyes. By Beer-Lambert the OD of a pixel,
-log(I / white), is a non-negative mix of the two dyes' OD vectors, so
colour differences between labs and scanners are (mostly) a different white
point, different dye vectors and different dye amounts. Macenko et al. (2009)
find the two vectors as the extreme angles of the tissue OD in the plane of
its two main directions; every image can then be re-expressed with a fixed
reference pair and reference dye amounts (normalisation), or have its dye
amounts scaled and shifted (augmentation, as in Tellez et al. 2019).

Whole slides are processed strip by strip from a memory map.
"""
from dataclasses import dataclass, asdict

import numpy as np

from . import SUPERPIXEL
from ..io.memmaps import new_npy, release_pages

# Reference H and E OD unit vectors and their 99th-percentile amounts: the values
# published with Macenko's method and used as the usual normalisation target.
REFERENCE_STAINS = np.array([[0.5626, 0.7201, 0.4062], [0.2159, 0.8012, 0.5581]])
REFERENCE_MAX = np.array([1.9705, 1.0308])
OD_MIN = 0.15        # pixels with OD below this in any channel are too clear to say which dye they hold
ANGLE_PERCENTILE = 1.0
STRIP_ROWS = 256


@dataclass
class StainModel:
    stains: np.ndarray   # (2, 3) unit OD vectors, rows haematoxylin then eosin
    max_amount: np.ndarray  # (2,) 99th percentile of each dye's amount over tissue
    white: np.ndarray    # (3,) RGB intensity of glass

    def to_json(self) -> dict:
        return {k: np.round(np.asarray(v, float), 5).tolist() for k, v in asdict(self).items()}

    @classmethod
    def reference(cls) -> "StainModel":
        return cls(REFERENCE_STAINS / np.linalg.norm(REFERENCE_STAINS, axis=1, keepdims=True),
                   REFERENCE_MAX.copy(), np.full(3, 255.0))


def optical_density(rgb: np.ndarray, white) -> np.ndarray:
    """(..., 3) uint8 or float intensities -> float32 OD, >= 0 (brighter than white counts as clear)."""
    ratio = np.maximum(np.asarray(rgb, np.float32), 1.0) / np.asarray(white, np.float32)
    return np.maximum(-np.log(ratio), 0.0)


def from_od(od: np.ndarray, white) -> np.ndarray:
    return np.clip(np.asarray(white, np.float32) * np.exp(-od), 0, 255).round().astype(np.uint8)


def stain_vectors(od: np.ndarray) -> np.ndarray:
    """Macenko's two dye vectors from tissue OD pixels (n, 3) -> (2, 3), haematoxylin first."""
    od = od[(od > OD_MIN).all(axis=1)]
    if len(od) < 100:
        raise ValueError("too few stained pixels to estimate the stains")
    _, vectors = np.linalg.eigh(np.cov(od.T))
    plane = vectors[:, [2, 1]]  # the two main directions, largest first
    plane *= np.where(plane.sum(0) < 0, -1, 1)  # point into positive OD
    proj = od @ plane
    angle = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(angle, [ANGLE_PERCENTILE, 100 - ANGLE_PERCENTILE])
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    # haematoxylin absorbs red more than eosin does
    pair = np.stack([v1, v2] if v1[0] > v2[0] else [v2, v1])
    pair = np.clip(pair, 0, None)  # a dye absorbs, it cannot add light: drop noise below zero
    return pair / np.linalg.norm(pair, axis=1, keepdims=True)


def amounts(od: np.ndarray, stains: np.ndarray) -> np.ndarray:
    """Least-squares dye amounts (n, 2) of OD pixels (n, 3)."""
    return od @ np.linalg.pinv(stains)


def estimate_white(rgb_superpixels: np.ndarray, tissue: np.ndarray, content_shape) -> np.ndarray:
    """Glass colour from the non-tissue superpixels inside the image (not its white padding).

    The 90th percentile per channel of glass superpixels, so dust and pen marks
    do not pull it down; 255 when there is too little glass to tell.
    """
    h, w = content_shape
    glass = ~tissue[:h, :w]
    values = rgb_superpixels[:h, :w][glass].astype(np.float32) * 255.0
    if len(values) < 100:
        return np.full(3, 255.0)
    return np.clip(np.percentile(values, 90, axis=0), 128.0, 255.0)


def sample_tissue_pixels(image: np.ndarray, tissue: np.ndarray, n_superpixels: int = 4000,
                         seed: int = 0) -> np.ndarray:
    """All pixels of up to `n_superpixels` random tissue superpixels, (n, 3) uint8."""
    cells = np.argwhere(tissue)
    rng = np.random.default_rng(seed)
    cells = cells[np.sort(rng.choice(len(cells), min(len(cells), n_superpixels), replace=False))]
    out = [np.asarray(image[i * SUPERPIXEL:(i + 1) * SUPERPIXEL, j * SUPERPIXEL:(j + 1) * SUPERPIXEL]).reshape(-1, 3)
           for i, j in cells]
    release_pages(image)
    return np.concatenate(out) if out else np.zeros((0, 3), np.uint8)


def estimate(image: np.ndarray, tissue: np.ndarray, white: np.ndarray, seed: int = 0) -> StainModel:
    """The stain model of one slide from a sample of its tissue pixels."""
    od = optical_density(sample_tissue_pixels(image, tissue, seed=seed), white)
    stains = stain_vectors(od)
    conc = amounts(od, stains)
    return StainModel(stains, np.maximum(np.percentile(conc, 99, axis=0), 1e-3), np.asarray(white, float))


def normalise_pixels(rgb: np.ndarray, source: StainModel, target: StainModel) -> np.ndarray:
    """Re-express pixels with the target's dyes, dye amounts and white (Macenko's normalisation)."""
    shape = rgb.shape
    conc = amounts(optical_density(rgb.reshape(-1, 3), source.white), source.stains)
    conc *= (target.max_amount / source.max_amount).astype(np.float32)
    od = conc.astype(np.float32) @ target.stains.astype(np.float32)
    return from_od(od, target.white).reshape(shape)


def map_image(src: np.ndarray, dst: np.ndarray, fn, rows: int = STRIP_ROWS) -> None:
    """dst = fn(src) strip by strip (both (H, W, 3) uint8, dst usually a memmap)."""
    for y in range(0, src.shape[0], rows):
        dst[y:y + rows] = fn(np.asarray(src[y:y + rows]))
        release_pages(src)
        release_pages(dst)


def mapped_copy(image: np.ndarray, fn, out_path) -> np.ndarray:
    """fn applied to a slide strip by strip into a uint8 .npy at `out_path`, returned opened read-only."""
    dst = new_npy(out_path, image.shape, np.uint8)
    map_image(image, dst, fn)
    dst.flush()
    del dst
    return np.load(out_path, mmap_mode="r", allow_pickle=False)


def normalise_slide(image: np.ndarray, tissue: np.ndarray, rgb_superpixels: np.ndarray, content_grid,
                    out_path, target: StainModel = None, seed: int = 0):
    """Write a stain-normalised copy of a rescaled slide to `out_path` (uint8 .npy memmap).

    Returns (the copy opened read-only, a record of the source and target stain models).
    """
    target = target or StainModel.reference()
    white = estimate_white(rgb_superpixels, tissue, content_grid)
    source = estimate(image, tissue, white, seed=seed)
    return (mapped_copy(image, lambda strip: normalise_pixels(strip, source, target), out_path),
            {"method": "macenko", "source": source.to_json(), "target": target.to_json()})
