"""A small H&E read band by band from the rescaled memmap, never the whole slide at once."""
import math

import cv2
import numpy as np

from ..image import SUPERPIXEL
from ..io.memmaps import release_pages


def thumbnail(image: np.ndarray, shape, max_side: int = 1600, min_factor: int = 1):
    """(uint8 RGB thumbnail of the image's content, rescaled pixels per thumbnail pixel).

    The factor is a multiple of the superpixel size when the slide is large,
    so superpixel maps line up with thumbnail pixels exactly.
    """
    h, w = shape
    factor = max(1, min_factor, math.ceil(max(h, w) / max_side))
    if factor > SUPERPIXEL:
        factor = math.ceil(factor / SUPERPIXEL) * SUPERPIXEL
    th, tw = max(1, h // factor), max(1, w // factor)
    out = np.empty((th, tw, 3), np.uint8)
    band = max(1, 4096 // factor)  # thumbnail rows per read: bounded memory on any slide
    for r0 in range(0, th, band):
        r1 = min(th, r0 + band)
        block = np.asarray(image[r0 * factor:r1 * factor, :tw * factor])
        out[r0:r1] = cv2.resize(block, (tw, r1 - r0), interpolation=cv2.INTER_AREA)
        release_pages(image)
    return out, factor


def grid_to(values: np.ndarray, factor: int, out_shape) -> np.ndarray:
    """A superpixel-grid map resampled onto a thumbnail of the given factor (nearest, no smoothing)."""
    th, tw = out_shape
    rows = np.minimum(((np.arange(th) + 0.5) * factor // SUPERPIXEL).astype(int), values.shape[0] - 1)
    cols = np.minimum(((np.arange(tw) + 0.5) * factor // SUPERPIXEL).astype(int), values.shape[1] - 1)
    return values[rows][:, cols]
