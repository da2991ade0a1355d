"""Spatial-block folds: neighbouring bins share a fold, so no fold sees its neighbours."""
import numpy as np

from ..image import SUPERPIXEL


def block_folds(xy: np.ndarray, n_folds: int, block_superpixels: int = 8, seed: int = 0) -> np.ndarray:
    """Fold of each bin from the 8x8-superpixel block holding its centre."""
    side = block_superpixels * SUPERPIXEL
    bx = np.floor(xy[:, 0] / side).astype(np.int64)
    by = np.floor(xy[:, 1] / side).astype(np.int64)
    blocks, block_of = np.unique(np.stack([by, bx], 1), axis=0, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(blocks))
    fold_of_block = np.empty(len(blocks), np.int64)
    fold_of_block[order] = np.arange(len(blocks)) % n_folds
    return fold_of_block[block_of.ravel()]
