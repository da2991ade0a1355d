"""Step 1: bring the H&E to the target µm/pixel and pad it to whole 256 px tiles."""
import math
from pathlib import Path

import numpy as np

from . import PAD_MULTIPLE, SUPERPIXEL
from ..io.image_reader import ImageReader
from ..io.memmaps import release_pages
from .resample import apply_columns, apply_rows, axis_table

STRIP_ROWS = 512


def rescaled_size(raw_shape, scale):
    return max(1, int(round(raw_shape[0] * scale))), max(1, int(round(raw_shape[1] * scale)))


def padded_size(shape):
    return tuple(int(math.ceil(s / PAD_MULTIPLE) * PAD_MULTIPLE) for s in shape)


def rescale_image(reader: ImageReader, scale: float, out_path: Path, progress=None):
    """Stream `reader` into a padded uint8 .npy memmap at `out_path`; returns shapes."""
    raw = reader.shape
    h, w = rescaled_size(raw, scale)
    ph, pw = padded_size((h, w))
    out = np.lib.format.open_memmap(out_path, mode="w+", dtype=np.uint8, shape=(ph, pw, 3))
    out[h:] = 255
    out[:h, w:] = 255
    row_idx, row_w = axis_table(raw[0], h)
    col_idx, col_w = axis_table(raw[1], w)
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        ridx = row_idx[y0:y1]
        lo, hi = int(ridx.min()), int(ridx.max()) + 1
        strip = reader.read_rows(lo, hi).astype(np.float32)
        strip = apply_columns(strip, col_idx, col_w)
        strip = apply_rows(strip, ridx, row_w[y0:y1], lo)
        out[y0:y1, :w] = np.clip(np.rint(strip), 0, 255).astype(np.uint8)
        release_pages(out)
        if progress:
            progress(y1, h)
    out.flush()
    del out
    return dict(raw_shape=list(raw), shape=[h, w], padded_shape=[ph, pw],
                grid_shape=[ph // SUPERPIXEL, pw // SUPERPIXEL])
