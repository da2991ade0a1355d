"""Step 1: bring the H&E to the target µm/pixel and pad it to whole 256 px tiles."""
import math
from pathlib import Path

import numpy as np

from . import PAD_MULTIPLE, SUPERPIXEL
from ..io.image_reader import ImageReader
from ..io.memmaps import new_npy, release_pages
from ..io.prefetch import prefetch, resolve_threads
from ..io.slides import pick_level
from .resample import apply_columns, apply_rows, axis_table, to_uint8

STRIP_ROWS = 512
# float32 work array of one strip at most this big, so threads x strips stays small on wide slides
STRIP_BYTES = 32 * 2 ** 20


def rescaled_size(raw_shape, scale):
    return max(1, int(round(raw_shape[0] * scale))), max(1, int(round(raw_shape[1] * scale)))


def padded_size(shape):
    return tuple(int(math.ceil(s / PAD_MULTIPLE) * PAD_MULTIPLE) for s in shape)


def strip_rows(width: int) -> int:
    return max(16, min(STRIP_ROWS, STRIP_BYTES // (12 * width)))


def rescale_image(reader: ImageReader, scale: float, out_path: Path, progress=None, threads: int = 0,
                  level: int = None):
    """Stream `reader` into a padded uint8 .npy memmap at `out_path`; returns shapes.

    `scale` is relative to level 0, and the output's size is level 0's times
    `scale`, whichever pyramid level the pixels come from: by default the
    coarsest one at least as fine as the output (`level` forces one). Strips
    are read and resampled on `threads` threads (0 = all cores) and written in
    order; each strip's pixels are the whole-image result.
    """
    raw = reader.shape
    h, w = rescaled_size(raw, scale)
    levels = getattr(reader, "levels", [raw])
    level = pick_level(levels, (h, w)) if level is None else level
    source = reader.level(level) if level else reader
    ph, pw = padded_size((h, w))
    out = new_npy(out_path, (ph, pw, 3), np.uint8)
    out[h:] = 255
    out[:h, w:] = 255
    row_idx, row_w = axis_table(source.shape[0], h)
    col_idx, col_w = axis_table(source.shape[1], w)

    def resample(span):
        y0, y1 = span
        ridx = row_idx[y0:y1]
        lo, hi = int(ridx.min()), int(ridx.max()) + 1
        strip = apply_columns(source.read_rows(lo, hi), col_idx, col_w)
        return to_uint8(apply_rows(strip, ridx, row_w[y0:y1], lo))

    rows = strip_rows(w)
    spans = [(y0, min(h, y0 + rows)) for y0 in range(0, h, rows)]
    n = resolve_threads(threads)
    for (y0, y1), strip in zip(spans, prefetch(resample, spans, workers=n if n > 1 else 0)):
        out[y0:y1, :w] = strip
        release_pages(out)
        if progress:
            progress(y1, h)
    out.flush()
    del out
    return dict(raw_shape=list(raw), shape=[h, w], padded_shape=[ph, pw],
                grid_shape=[ph // SUPERPIXEL, pw // SUPERPIXEL], read_level=level,
                read_level_shape=list(source.shape))
