"""p2g-features' folder: a float16 feature map over the superpixel grid and each channel's statistics."""
import numpy as np

from .base import CHANNEL_MEAN, CHANNEL_STD, Json, Npy, StepFolder


class Features(StepFolder):
    STEP = "features"
    # (H/16, W/16, C) float16, channels: mean RGB, the colour context (features/colour.py), then the
    # encoder's. A sparse file: only tiles that hold tissue are ever written (about twice the tissue cells)
    map = Npy("features.npy")
    mean = Npy(CHANNEL_MEAN)          # (C,) float32 over tissue superpixels: what a section is standardised with
    std = Npy(CHANNEL_STD)
    record = Json("features.json")    # encoder, channel names, stain normalisation, augmentation
    # scratch copies of the slide, only while the step runs (removed before it is published)
    normalised = Npy("image-stain-normalised.npy")
    augmented = Npy("image-augmented.npy")

    def create_map(self, grid_shape, n_channels: int) -> np.ndarray:
        return self.map.create((grid_shape[0], grid_shape[1], n_channels), np.float16, sparse=True)  # tissue rows only

    def channel_stats(self):
        return self.mean.read(), self.std.read()

    def write_channel_stats(self, mean, std) -> None:
        self.mean.write(mean)
        self.std.write(std)

    def remove_scratch(self) -> None:
        for scratch in (self.normalised, self.augmented):
            scratch.path.unlink(missing_ok=True)
