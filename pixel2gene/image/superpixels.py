"""Per-superpixel summaries of the rescaled image, computed strip by strip."""
import numpy as np

from . import SUPERPIXEL
from ..io.memmaps import release_pages
from ..io.prefetch import prefetch, resolve_threads

STRIP_SUPERPIXELS = 32
STRIP_BYTES = 16 * 2 ** 20  # the uint32 squares of one strip at most this big (threads x strips stay small)


def bounding_box(cells: np.ndarray, pad: int):
    """(rows, cols) slices of the grid around the True cells, `pad` cells wider on every side (within the grid)."""
    rows, cols = np.flatnonzero(cells.any(1)), np.flatnonzero(cells.any(0))
    return (slice(max(0, rows[0] - pad), min(cells.shape[0], rows[-1] + 1 + pad)),
            slice(max(0, cols[0] - pad), min(cells.shape[1], cols[-1] + 1 + pad)))


def row_starts(mask: np.ndarray) -> np.ndarray:
    """(H + 1,): where each grid row's tissue superpixels start among all of them in row-major order (the order
    of tissue features and of every prediction); grid rows i0..i1 are tissue rows row_starts[i0]:row_starts[i1]."""
    return np.concatenate([[0], np.cumsum(mask.sum(1), dtype=np.int64)])


def tissue_index(mask: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Flat grid positions of tissue superpixels (-1: none) -> their rows in row-major tissue order (-1 kept)."""
    order = np.full(mask.size + 1, -1, np.int64)  # the extra last entry answers -1
    order[np.flatnonzero(mask.ravel())] = np.arange(int(mask.sum()))
    return order[np.where(cells >= 0, cells, mask.size)]


def block_mean(a: np.ndarray, s: int = SUPERPIXEL) -> np.ndarray:
    h, w = a.shape[0] // s, a.shape[1] // s
    return a[:h * s, :w * s].reshape(h, s, w, s, *a.shape[2:]).mean(axis=(1, 3))


def block_sum(a: np.ndarray, dtype, s: int = SUPERPIXEL) -> np.ndarray:
    """Exact integer sums over s x s blocks: first down the rows (whole-row loops), then across."""
    h, w = a.shape[0] // s, a.shape[1] // s
    rows = a[:h * s, :w * s].reshape(h, s, w * s, *a.shape[2:]).sum(axis=1, dtype=dtype)
    return rows.reshape(h, w, s, *a.shape[2:]).sum(axis=2, dtype=dtype)


def colour_statistics(strip: np.ndarray):
    """Mean RGB (0..1) and grey-level standard deviation of each superpixel of a uint8 strip.

    Sums are exact integers (grey = r + g + b, its squares in uint32), so the
    means are correctly rounded and the variance does not cancel in float32.
    """
    n = SUPERPIXEL * SUPERPIXEL
    sums = block_sum(strip, np.uint32)
    grey = strip[..., 0].astype(np.uint16)
    grey += strip[..., 1]
    grey += strip[..., 2]
    squares = grey.astype(np.uint32)
    squares *= squares
    mean = sums.sum(-1, dtype=np.uint64) / (n * 765.0)
    var = block_sum(squares, np.uint64) / (n * 765.0 ** 2) - mean * mean
    return (sums / (n * 255.0)).astype(np.float32), np.sqrt(np.maximum(var, 0)).astype(np.float32)


def superpixel_colour(image: np.ndarray, threads: int = 1):
    """Mean RGB (0..1) and grey-level standard deviation per superpixel, by strips on `threads` (0 = all)."""
    gh, gw = image.shape[0] // SUPERPIXEL, image.shape[1] // SUPERPIXEL
    rgb = np.empty((gh, gw, 3), np.float32)
    texture = np.empty((gh, gw), np.float32)
    step = max(1, min(STRIP_SUPERPIXELS, STRIP_BYTES // (4 * SUPERPIXEL * SUPERPIXEL * max(gw, 1))))
    spans = [(i0, min(gh, i0 + step)) for i0 in range(0, gh, step)]
    read = lambda span: colour_statistics(np.asarray(image[span[0] * SUPERPIXEL:span[1] * SUPERPIXEL,
                                                           :gw * SUPERPIXEL]))
    n = resolve_threads(threads)
    for (i0, i1), (c, t) in zip(spans, prefetch(read, spans, workers=n if n > 1 else 0)):
        rgb[i0:i1], texture[i0:i1] = c, t
        release_pages(image)
    return rgb, texture
