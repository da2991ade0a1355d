"""Weights-free encoder: stain densities and texture energies pooled at several radii.

Hematoxylin and eosin optical densities come from colour deconvolution (the
standard Ruifrok-Johnston H&E vectors); texture is the local energy of
Gaussian-derivative filters on the hematoxylin channel (nuclear edges and
blobs) at three scales. Each per-superpixel statistic is then averaged over
disks of 1, 2, 4, 8 and 16 superpixels, giving context without any network.
"""
import cv2
import numpy as np

from ..image import SUPERPIXEL
from ..image.superpixels import block_mean
from ..io.memmaps import release_pages
from .base import Encoder, ExtractContext, read_region
from .registry import register_encoder

HE_VECTORS = np.array([[0.650, 0.704, 0.286], [0.072, 0.990, 0.105], [0.268, 0.570, 0.776]], np.float32)
SIGMAS = (1.0, 2.5, 6.0)
POOL_RADII = (0, 2, 4, 8, 16)
STRIP = 32  # superpixel rows per strip
MARGIN = 32  # pixels of context for the filters


def _unmix():
    v = HE_VECTORS / np.linalg.norm(HE_VECTORS, axis=1, keepdims=True)
    return np.linalg.inv(v).astype(np.float32)


def base_statistics(rgb_uint8: np.ndarray) -> np.ndarray:
    """(h, w, 3) image -> (h/16, w/16, K) statistics per superpixel."""
    od = -np.log(np.clip(rgb_uint8.astype(np.float32), 1, 255) / 255.0)
    stains = od.reshape(-1, 3) @ _unmix()
    stains = stains.reshape(od.shape)
    hema = stains[..., 0]
    maps = [stains[..., 0], stains[..., 1], stains[..., 2], hema ** 2, stains[..., 1] ** 2]
    for s in SIGMAS:
        blur = cv2.GaussianBlur(hema, (0, 0), s)
        gx, gy = cv2.Sobel(blur, cv2.CV_32F, 1, 0), cv2.Sobel(blur, cv2.CV_32F, 0, 1)
        lap = cv2.Laplacian(blur, cv2.CV_32F)
        maps += [np.sqrt(gx ** 2 + gy ** 2), np.abs(lap), np.maximum(-lap, 0)]
    return block_mean(np.stack(maps, axis=-1))


class TextureEncoder(Encoder):
    name = "texture"

    @property
    def channels(self):
        base = ["H", "E", "R", "H2", "E2"] + [f"{k}{s}" for s in SIGMAS for k in ("grad", "lap", "blob")]
        return [f"{b}_r{r}" for r in POOL_RADII for b in base]

    def extract(self, ctx: ExtractContext, out: np.ndarray) -> None:
        gh, gw = ctx.grid_shape
        base = np.zeros((gh, gw, len(self.channels) // len(POOL_RADII)), np.float32)
        for i0 in range(0, gh, STRIP):
            i1 = min(gh, i0 + STRIP)
            if ctx.mask[max(0, i0 - 16):i1 + 16].any():
                region = read_region(ctx.image, i0 * SUPERPIXEL - MARGIN, -MARGIN,
                                     (i1 - i0) * SUPERPIXEL + 2 * MARGIN, gw * SUPERPIXEL + 2 * MARGIN)
                stats = base_statistics(region)
                k = MARGIN // SUPERPIXEL
                base[i0:i1] = stats[k:k + i1 - i0, k:k + gw]
                release_pages(ctx.image)
            if ctx.progress:
                ctx.progress(i1, gh * 2)
        weight = ctx.mask.astype(np.float32)
        k = base.shape[2]
        for n, r in enumerate(POOL_RADII):
            out[..., n * k:(n + 1) * k] = _masked_disk_mean(base, weight, r).astype(np.float16)
            release_pages(out)
            if ctx.progress:
                ctx.progress(gh + (n + 1) * gh // len(POOL_RADII), gh * 2)


def _masked_disk_mean(values, weight, radius):
    if radius == 0:
        return values
    kernel = (np.hypot(*np.mgrid[-radius:radius + 1, -radius:radius + 1]) <= radius).astype(np.float32)
    num = np.stack([cv2.filter2D(values[..., c] * weight, -1, kernel, borderType=cv2.BORDER_CONSTANT)
                    for c in range(values.shape[2])], -1)
    den = cv2.filter2D(weight, -1, kernel, borderType=cv2.BORDER_CONSTANT)[..., None]
    return num / np.maximum(den, 1e-6)


@register_encoder("texture")
def _texture(**kw):
    return TextureEncoder(**kw)
