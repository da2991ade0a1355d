"""Separable, tile-consistent resampling.

Each axis is resampled by a small weight table (output index -> a few input
indices and weights): pixel-area overlap when shrinking, linear when
enlarging. Because the table is global, resampling strip by strip gives
exactly the same pixels as resampling the whole image at once.
"""
import math

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
    out = np.zeros((strip.shape[0], idx.shape[0]) + strip.shape[2:], np.float32)
    for k in range(idx.shape[1]):
        out += w[:, k, None] * strip[:, idx[:, k]]
    return out


def apply_rows(strip: np.ndarray, idx, w, row_offset: int) -> np.ndarray:
    out = np.zeros((idx.shape[0],) + strip.shape[1:], np.float32)
    for k in range(idx.shape[1]):
        out += w[:, k, None, None] * strip[idx[:, k] - row_offset]
    return out
