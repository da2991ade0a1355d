"""Per-superpixel summaries of the rescaled image, computed strip by strip."""
import numpy as np

from . import SUPERPIXEL
from ..io.memmaps import release_pages

STRIP_SUPERPIXELS = 32


def block_mean(a: np.ndarray, s: int = SUPERPIXEL) -> np.ndarray:
    h, w = a.shape[0] // s, a.shape[1] // s
    return a[:h * s, :w * s].reshape(h, s, w, s, *a.shape[2:]).mean(axis=(1, 3))


def superpixel_colour(image: np.ndarray):
    """Mean RGB (0..1) and grey-level standard deviation per superpixel."""
    gh, gw = image.shape[0] // SUPERPIXEL, image.shape[1] // SUPERPIXEL
    rgb = np.empty((gh, gw, 3), np.float32)
    texture = np.empty((gh, gw), np.float32)
    step = STRIP_SUPERPIXELS
    for i0 in range(0, gh, step):
        i1 = min(gh, i0 + step)
        strip = np.asarray(image[i0 * SUPERPIXEL:i1 * SUPERPIXEL], dtype=np.float32) / 255.0
        rgb[i0:i1] = block_mean(strip)
        grey = strip.mean(axis=2)
        texture[i0:i1] = np.sqrt(np.maximum(block_mean(grey ** 2) - block_mean(grey) ** 2, 0))
        release_pages(image)
    return rgb, texture
