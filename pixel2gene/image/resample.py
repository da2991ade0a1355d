"""Separable, tile-consistent resampling.

Each axis is resampled by a small weight table (output index -> a few input
indices and weights): pixel-area overlap when shrinking, linear when
enlarging. Because the table is global, resampling strip by strip gives
exactly the same pixels as resampling the whole image at once.
"""
import math

import cv2
import numpy as np


def axis_table(n_in: int, n_out: int):
    """(indices, weights), both (n_out, k): out[j] = sum_k w[j,k] * in[idx[j,k]]."""
    scale = n_out / n_in
    j = np.arange(n_out, dtype=np.float64)
    if scale <= 1:  # area: output pixel j covers input interval [j/s, (j+1)/s)
        lo, hi = j / scale, (j + 1) / scale
        k = int(math.ceil(1 / scale)) + 1
        idx = np.floor(lo)[:, None].astype(np.int64) + np.arange(k)[None, :]
        left = np.maximum(idx, lo[:, None])
        right = np.minimum(idx + 1, hi[:, None])
        w = np.clip(right - left, 0, None)
    else:  # linear interpolation between neighbouring pixel centres
        src = (j + 0.5) / scale - 0.5
        i0 = np.floor(src).astype(np.int64)
        frac = src - i0
        idx = np.stack([i0, i0 + 1], axis=1)
        w = np.stack([1 - frac, frac], axis=1)
    idx = np.clip(idx, 0, n_in - 1)
    w = w / w.sum(axis=1, keepdims=True)
    return idx, w.astype(np.float32)


def apply_columns(strip: np.ndarray, idx, w) -> np.ndarray:
    """Resample axis 1 of a uint8 or float32 strip; float32 result."""
    return _weighted_gather(strip, idx, w, axis=1)


def apply_rows(strip: np.ndarray, idx, w, row_offset: int) -> np.ndarray:
    """Resample axis 0 of a strip whose first row is input row `row_offset`; float32 result."""
    return _weighted_gather(strip, idx - row_offset, w, axis=0)


def _weighted_gather(a: np.ndarray, idx, w, axis: int) -> np.ndarray:
    """sum_k w[:, k] * a.take(idx[:, k]) along `axis`, in float32, summed in k order from zero.

    Gathering before the cast keeps uint8 input small, and the weights are
    laid out along the flattened rows so NumPy's loops run over whole rows;
    the products and sums are the same IEEE float32 operations in the same
    order whatever the strip, so every output pixel is bit-identical however
    the image is cut.
    """
    out = tmp = None
    for k in range(idx.shape[1]):
        gathered = np.take(a, idx[:, k], axis=axis)
        flat = gathered.reshape(gathered.shape[0], -1)
        if axis == 0:
            weight = w[:, k, None]
        else:  # one weight per output column, repeated over its channels
            weight = np.repeat(w[:, k], flat.shape[1] // w.shape[0])
        if out is None:
            out = np.multiply(flat, weight, dtype=np.float32)
        else:
            if tmp is None:
                tmp = np.empty_like(out)
            np.multiply(flat, weight, out=tmp, dtype=np.float32)
            out += tmp
    return out.reshape(gathered.shape)


def to_uint8(a: np.ndarray) -> np.ndarray:
    """Round half to even and saturate to uint8 (the work array is never negative)."""
    return cv2.convertScaleAbs(a)  # one pass; |a| = a, and OpenCV rounds half to even like np.rint
