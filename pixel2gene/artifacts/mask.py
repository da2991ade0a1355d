"""p2g-mask's folder: which superpixels are tissue, their mean colour, and a picture of both."""
import numpy as np

from .base import MASK, MASK_PICTURE, Json, Npy, Png, StepFolder


class Mask(StepFolder):
    STEP = "mask"
    FORMAT = 3  # 0.2.0: specks far from the section dropped (2); fat kept (3)
    tissue = Npy(MASK)          # (H/16, W/16) bool
    rgb = Npy("rgb.npy")        # (H/16, W/16, 3) float16 mean colour (0..1) of every superpixel
    overlay = Png(MASK_PICTURE)   # the superpixels' colours, glass dimmed: the mask for people to check
    record = Json("mask.json")  # source (detected or the user's), tissue count and fraction, specks dropped

    GLASS_DIM = 0.35  # glass at a third of its brightness: tissue stands out, the slide stays recognisable

    def write_overlay(self, rgb: np.ndarray, tissue: np.ndarray) -> None:
        picture = (rgb * 255).astype(np.uint8)
        picture[~tissue] = (picture[~tissue] * self.GLASS_DIM).astype(np.uint8)
        self.overlay.write(picture)
