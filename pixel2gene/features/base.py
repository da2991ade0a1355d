"""What every encoder provides, the tile loop most of them share, and the options several of them take."""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..image import SUPERPIXEL


@dataclass
class ExtractContext:
    image: np.ndarray          # (H, W, 3) uint8 memmap at the target resolution
    mask: np.ndarray           # (H/16, W/16) bool tissue mask
    device: str = "cpu"
    progress: Optional[Callable] = None

    @property
    def grid_shape(self):
        return self.image.shape[0] // SUPERPIXEL, self.image.shape[1] // SUPERPIXEL


class Encoder:
    """Subclasses set `name`, `channels` (list of channel names) and extract()."""

    name = "base"

    @property
    def channels(self):
        raise NotImplementedError

    def extract(self, ctx: ExtractContext, out: np.ndarray) -> None:
        """Fill `out` (H/16, W/16, C float16 memmap); tissue superpixels must be set."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name}


def read_region(image: np.ndarray, y0: int, x0: int, h: int, w: int, fill: int = 255) -> np.ndarray:
    """A window of the image; parts outside it are glass (white)."""
    out = np.full((h, w, 3), fill, np.uint8)
    a0, b0 = max(0, y0), max(0, x0)
    a1, b1 = min(image.shape[0], y0 + h), min(image.shape[1], x0 + w)
    if a1 > a0 and b1 > b0:
        out[a0 - y0:a1 - y0, b0 - x0:b1 - x0] = image[a0:a1, b0:b1]
    return out


def tiles(grid_shape, core: int):
    """Top-left grid cells of square tiles of `core` superpixels covering the grid."""
    for i in range(0, grid_shape[0], core):
        for j in range(0, grid_shape[1], core):
            yield i, j


# Options more than one encoder takes, declared once (each encoder's options dataclass uses them)
WEIGHTS_HELP = ("checkpoint files: hipt: vit256_small_dino.pth vit4k_xs_dino.pth; a foundation preset (uni, "
                "virchow2, ...): its one .bin/.pth/.safetensors file, or hf-hub:ORG/NAME (downloads it)")


def weights_field():
    return field(default_factory=list, metadata=dict(nargs="*", role="file", remote="hf-hub:", help=WEIGHTS_HELP))


# the context passes beside the fine one, by µm per network pixel
CONTEXT_CHOICES = ("4+8", "4", "8", "none")
DEFAULT_CONTEXT = "8"  # by CV on HER2ST C2 with 512 µm fold blocks, for effnet-lite0 (docs/benchmarks.md)


def context_field():
    return field(default=DEFAULT_CONTEXT, metadata=dict(
        choices=list(CONTEXT_CHOICES), help="effnet and foundation presets: context passes beside the fine one, "
                                            "by µm per network pixel (4: 64-128 µm features, 8: 128-256 µm), "
                                            "or none"))


def context_factors(context: str) -> list:
    """Image pixels (0.5 µm) per network pixel of each context pass named by `context`."""
    if context not in CONTEXT_CHOICES:
        raise ValueError(f"context passes '{context}': choose one of {', '.join(CONTEXT_CHOICES)}")
    return [] if context == "none" else [int(c) * 2 for c in context.split("+")]


def random_init_field():
    return field(default=False, metadata=dict(
        help="random weights instead of checkpoints (tests and benchmarks only: the features mean nothing)"))
