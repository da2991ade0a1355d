"""Spatial-block folds: neighbouring bins share a fold, so no fold sees its neighbours.

The method's blocks are 8 x 8 superpixels (64 µm). That keeps apart 8 µm bins, but a spot array's pitch
is 100-200 µm, so 64 µm blocks hold one spot each and the folds are random spots: a held-out spot's
neighbours train, and they share its context features (up to the 256 µm cells of the coarsest effnet
pass) and much of its expression. CV that chooses settings then rewards what interpolates between
neighbours, which a new section cannot use. The default block is 512 µm, twice the coarsest feature
cell, fixed a priori from the features' reach (not searched by scores).
"""
from typing import Tuple

import numpy as np

from ..image import SUPERPIXEL

BLOCK_UM = 512.0
METHOD_BLOCK_PX = 8 * SUPERPIXEL  # the method's block (64 µm at 0.5 µm/px): the smallest we fall back to


def n_blocks(xy: np.ndarray, side_px: float) -> int:
    return len(np.unique(np.floor(xy / side_px).astype(np.int64), axis=0))


def block_side_um(xy: np.ndarray, n_folds: int, block_um: float, um_per_px: float) -> float:
    """`block_um`, halved while the bins fill fewer blocks than folds (a small training area), but not
    below the method's 8 superpixels: every fold must hold bins to validate on."""
    side = float(block_um)
    while side / 2 >= METHOD_BLOCK_PX * um_per_px and n_blocks(xy, side / um_per_px) < n_folds:
        side /= 2
    return side


def block_folds(xy: np.ndarray, n_folds: int, um_per_px: float, block_um: float = BLOCK_UM,
                seed: int = 0) -> Tuple[np.ndarray, float]:
    """Fold of each bin (xy in pixels of the rescaled image) from the square block holding its centre,
    and the block side used (µm; see block_side_um)."""
    side_um = block_side_um(xy, n_folds, block_um, um_per_px)
    side = side_um / um_per_px
    bx = np.floor(xy[:, 0] / side).astype(np.int64)
    by = np.floor(xy[:, 1] / side).astype(np.int64)
    blocks, block_of = np.unique(np.stack([by, bx], 1), axis=0, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(blocks))
    fold_of_block = np.empty(len(blocks), np.int64)
    fold_of_block[order] = np.arange(len(blocks)) % n_folds
    return fold_of_block[block_of.ravel()], side_um
