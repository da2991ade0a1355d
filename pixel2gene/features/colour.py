"""Colour context of every superpixel: the statistics the colour-ridge floor regresses on.

For each superpixel, the mean and standard deviation of RGB (0..1) and of optical density
(-log RGB) over disks of 50 and 100 µm around it, glass included (how much of a window is glass is
itself informative at tissue edges). These are the per-spot statistics of the referee's colour floor
(mean and std of RGB and OD in windows of the spot's radius and twice it, HER2ST's 100 µm spots),
made per superpixel so that a linear model on them sums over any bin's disk like the rest of the
pipeline. Issue #13: on a section of another patient the floor beat every deep feature; these
channels feed a low-capacity colour ridge that spatial CV on the training section blends in
(training/select.py).

Moments are computed strip by strip from the uint8 image (float32 per strip only) and pooled on the
superpixel grid, so a whole slide costs 12 float32 values per superpixel.
"""
import cv2
import numpy as np

from ..image import SUPERPIXEL
from ..io.memmaps import release_pages

RADII_UM = (50.0, 100.0)     # the floor's windows for 100 µm spots, fixed a priori
SUPERPIXEL_UM = 8.0          # 16 px at the pipeline's 0.5 µm/px
STRIP = 64                   # superpixel rows per strip
OD_FLOOR = 1e-3              # as the floor: RGB clipped here before -log
STATS = ("rgb_mean", "rgb_std", "od_mean", "od_std")
PREFIX = "colour_"


def channel_names():
    return [f"{PREFIX}{s}_{c}_r{int(r)}um" for r in RADII_UM for s in STATS for c in "rgb"]


def is_colour_channel(name: str) -> bool:
    return name.startswith(PREFIX)


def _tables():
    """uint8 -> RGB, RGB^2, OD, OD^2 as float32 look-up tables (cv2.LUT keeps the table's depth)."""
    v = np.arange(256, dtype=np.float64) / 255
    od = -np.log(np.maximum(v, OD_FLOOR))
    return [np.ascontiguousarray(t, np.float32).reshape(256, 1) for t in (v, v * v, od, od * od)]


def pixel_moments(image: np.ndarray, progress=None) -> np.ndarray:
    """(gh, gw, 12) float32 means per superpixel of RGB, RGB^2, OD, OD^2: table look-ups and area
    resizing by exactly 16 (the block mean), strip by strip."""
    gh, gw = image.shape[0] // SUPERPIXEL, image.shape[1] // SUPERPIXEL
    out = np.zeros((gh, gw, 12), np.float32)
    tables = _tables()
    for i0 in range(0, gh, STRIP):
        i1 = min(gh, i0 + STRIP)
        px = np.ascontiguousarray(image[i0 * SUPERPIXEL:i1 * SUPERPIXEL, :gw * SUPERPIXEL])
        for n, table in enumerate(tables):
            out[i0:i1, :, 3 * n:3 * n + 3] = cv2.resize(cv2.LUT(px, table), (gw, i1 - i0),
                                                        interpolation=cv2.INTER_AREA)
        release_pages(image)
        if progress:
            progress(i1, gh)
    return out


def _disk(radius: int) -> np.ndarray:
    k = (np.hypot(*np.mgrid[-radius:radius + 1, -radius:radius + 1]) <= radius).astype(np.float32)
    return k / k.sum()


def colour_context(image: np.ndarray, mask: np.ndarray, out: np.ndarray, progress=None) -> None:
    """Fill out (gh, gw, 24) with channel_names()' statistics on tissue superpixels only (the feature
    map is a sparse file); outside the slide counts as glass. Holds the 12 moment grids and 6 pooled
    grids (float32) at most: 450 MB for a 40,000 px square slide, freed before the encoder runs."""
    moments = pixel_moments(image, progress)
    glass = np.array([1.0] * 6 + [0.0] * 6, np.float32)  # white: RGB 1, RGB^2 1, OD 0, OD^2 0
    k = 0
    for r_um in RADII_UM:
        kernel = _disk(int(round(r_um / SUPERPIXEL_UM)))
        for a in (0, 6):  # RGB, then OD: (mean, square) of 3 channels each
            pooled = [cv2.filter2D(moments[..., c] - glass[c], -1, kernel, borderType=cv2.BORDER_CONSTANT)
                      + glass[c] for c in range(a, a + 6)]
            for i in range(0, len(mask), STRIP):
                on = mask[i:i + STRIP]
                mean = np.stack([p[i:i + STRIP][on] for p in pooled[:3]], -1)
                square = np.stack([p[i:i + STRIP][on] for p in pooled[3:]], -1)
                strip = out[i:i + STRIP, :, k:k + 6]
                strip[on] = np.concatenate([mean, np.sqrt(np.maximum(square - mean * mean, 0))], -1)
                release_pages(out)
            del pooled
            k += 6
