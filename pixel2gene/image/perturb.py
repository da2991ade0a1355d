"""Seeded colour and scanner shifts of an H&E image: what another lab or scanner does to a slide.

Used to measure stain robustness (bench/stain_shift.py) and to make the
training section's spatial cross-validation reward it. Dye amounts are
changed with the fixed haematoxylin/eosin vectors of Ruifrok & Johnston
(2001), not with a stain model estimated from the image, so the shifts do
not depend on the normalisation they are meant to test.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from .stain import from_od, optical_density

_H = np.array([0.65, 0.70, 0.29])
_E = np.array([0.07, 0.99, 0.11])
_R = np.cross(_H, _E)
RUIFROK = np.stack([v / np.linalg.norm(v) for v in (_H, _E, _R)])  # rows: H, E, residual


@dataclass(frozen=True)
class Shift:
    name: str
    dye_scale: tuple = (1.0, 1.0)     # multiplies the haematoxylin and eosin amounts
    gain: tuple = (1.0, 1.0, 1.0)     # per-channel gain after the dyes: another white point
    contrast: float = 1.0             # around mid-grey
    brightness: float = 0.0           # added, in 0..255 units
    jpeg_quality: int = 0             # 0: no re-compression

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> shifted uint8 RGB."""
        out = rgb
        if self.dye_scale != (1.0, 1.0):
            od = optical_density(rgb.reshape(-1, 3), 255.0)
            amount = od @ np.linalg.inv(RUIFROK)
            amount[:, :2] *= np.asarray(self.dye_scale, np.float32)
            out = from_od(np.maximum(amount @ RUIFROK, 0).astype(np.float32), 255.0).reshape(rgb.shape)
        if self.gain != (1.0, 1.0, 1.0) or self.contrast != 1.0 or self.brightness:
            x = out.astype(np.float32) * np.asarray(self.gain, np.float32)
            x = (x - 127.5) * self.contrast + 127.5 + self.brightness
            out = np.clip(x, 0, 255).round().astype(np.uint8)
        if self.jpeg_quality:
            _, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        return np.ascontiguousarray(out)


def random_shift(rng: np.random.Generator, name: str = "random") -> Shift:
    """One shift with every kind of change drawn at once (for cross-validation, not the benchmark)."""
    dye = tuple(float(v) for v in rng.uniform(0.7, 1.35, 2))
    gain = tuple(float(v) for v in rng.uniform(0.88, 1.0, 3))
    contrast = float(rng.uniform(0.8, 1.1))
    brightness = float(rng.uniform(-15, 20))
    quality = int(rng.choice([0, 40, 70]))
    return Shift(name, dye, gain, contrast, brightness, quality)
