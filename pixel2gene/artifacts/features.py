"""p2g-features' folder: the float16 features of every tissue superpixel and each channel's statistics."""
import numpy as np

from ..errors import InputError
from .base import CHANNEL_MEAN, CHANNEL_STD, Json, Npy, StepFolder


class Features(StepFolder):
    STEP = "features"
    FORMAT = 2  # 0.2.0: tissue superpixels only, a fifth of the grid map's disk on HER2ST (issue #31)
    # (tissue superpixels, C) float16 in row-major grid order, as every prediction (image/superpixels.py:
    # row_starts, tissue_index); channels: mean RGB, the colour context (features/colour.py), then the encoder's
    rows = Npy("features.npy")
    mean = Npy(CHANNEL_MEAN)          # (C,) float32 over tissue superpixels: what a section is standardised with
    std = Npy(CHANNEL_STD)
    record = Json("features.json")    # encoder, channel names, stain normalisation, augmentation
    # scratch, only while the step runs (removed before it is published): the (H/16, W/16, C) grid the
    # encoders write tiles into, a sparse file of which only tissue tiles are written; copies of the slide
    grid = Npy("features-grid.npy")
    normalised = Npy("image-stain-normalised.npy")
    augmented = Npy("image-augmented.npy")

    def create_grid(self, grid_shape, n_channels: int) -> np.ndarray:
        return self.grid.create((grid_shape[0], grid_shape[1], n_channels), np.float16, sparse=True)

    def create_rows(self, n_tissue: int, n_channels: int) -> np.ndarray:
        return self.rows.create((n_tissue, n_channels), np.float16)

    def tissue_rows(self, mask: np.ndarray) -> np.ndarray:
        """The features as a read-only memmap, checked against the tissue `mask` they should cover."""
        rows = self.rows.read(mmap=True)
        if len(rows) != int(mask.sum()):
            raise InputError(self.path, f"features of {len(rows)} tissue superpixels, the mask has {int(mask.sum())}",
                             "give the p2g-features output made with the same p2g-mask output")
        return rows

    def channel_stats(self):
        return self.mean.read(), self.std.read()

    def write_channel_stats(self, mean, std) -> None:
        self.mean.write(mean)
        self.std.write(std)

    def remove_scratch(self) -> None:
        for scratch in (self.grid, self.normalised, self.augmented):
            scratch.path.unlink(missing_ok=True)
