"""Ridge regression per superpixel, fitted on bins in closed form: the low-capacity model beside the MLP.

The model is linear in a superpixel's standardised features, y_s = z_s . W + b (counts per superpixel),
so a bin's prediction, the sum over the superpixels of its disk, is n_b * (mean_b(z) . W + b). Fitting
the bins' counts per superpixel (`density`) on their mean features therefore fits the superpixel model
itself, and its maps keep the pipeline's units. Predictions are clipped at 0 per superpixel.

The intercept is not penalised (features and targets are centred on the training bins). One penalty
lambda for all genes: each gene's fit is linear in its target, so the genes' scales do not matter,
and the choice is made by spatial-block CV on the composition metric, which pools the genes anyway.

Two exact ways to the same solution, by size:
- up to SMALL_N bins (spots, cells of a small panel): the bins' mean features as one (n, C) matrix and a
  thin SVD of each fold's training rows (n < C for spot data, where the C x C system is singular);
- more bins (Visium HD): the C x C scatter and C x G cross products summed by chunks, one eigh per fold,
  never an (n, C) float64 copy of the features.
Either gives a basis V (C, r), eigenvalues e (r) and P = V^T Xc^T Yc (r, G), from which every lambda's
solution is W = V diag(1 / (e + lambda)) P.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

SMALL_N = 8192
CHUNK_BINS = 2048
# lambda as a multiple of the mean eigenvalue of the full training scatter: a fixed, wide log grid
ALPHAS = tuple(float(a) for a in 10.0 ** np.arange(-3.0, 4.01, 0.5))


def bin_means(features, valid, rows) -> np.ndarray:
    """(len(rows), C) float64 mean standardised features of each bin's tissue superpixels."""
    rows = np.asarray(rows)
    out = np.empty((len(rows), features.shape[2]), np.float64)
    for s in range(0, len(rows), CHUNK_BINS):
        r = rows[s:s + CHUNK_BINS]
        w = np.asarray(valid[r], np.float64)
        x = np.asarray(features[r], np.float32)
        out[s:s + len(r)] = np.einsum("nkc,nk->nc", x, w, dtype=np.float64) / np.maximum(w.sum(1), 1)[:, None]
    return out


@dataclass
class Basis:
    """One training set's centred ridge system in eigen form: W(lambda) = V diag(1/(e+lambda)) P."""
    mu: np.ndarray     # (C,) mean features of the training bins
    ybar: np.ndarray   # (G,) mean target
    V: np.ndarray      # (C, r)
    e: np.ndarray      # (r,) eigenvalues of Xc^T Xc (>= 0)
    P: np.ndarray      # (r, G)

    def coef(self, lam: float, genes=slice(None)):
        """(W (C, g), b (g,)) of penalty `lam` for the chosen gene columns."""
        W = self.V @ (self.P[:, genes] / (self.e + lam)[:, None])
        return W, self.ybar[genes] - self.mu @ W

    def project(self, x: np.ndarray) -> np.ndarray:
        """Mean features of bins in the eigenbasis: predict_means of any penalty is then one small product."""
        return (x - self.mu) @ self.V

    def predict_means(self, q: np.ndarray, lam: float, genes=slice(None)) -> np.ndarray:
        """(n, g) density predictions, unclipped, of bins projected by `project`."""
        return q @ (self.P[:, genes] / (self.e + lam)[:, None]) + self.ybar[genes]


def basis_from_rows(x: np.ndarray, density, rows) -> Basis:
    """Thin SVD of the centred features x (len(rows), C) of bins `rows`: exact for any n, cheap when n is
    small. The targets are read by chunks of rows: no float64 or fold-sized copy of bins x genes."""
    mu = x.mean(0)
    u, s, vt = np.linalg.svd(x - mu, full_matrices=False)
    keep = s > s.max(initial=0) * 1e-10  # numerically null directions carry no signal
    u, s, vt = u[:, keep], s[keep], vt[keep]
    g = density.shape[1]
    uty, ysum = np.zeros((len(s), g)), np.zeros(g)
    for a in range(0, len(rows), CHUNK_BINS):
        y = np.asarray(density[rows[a:a + CHUNK_BINS]], np.float64)
        uty += u[a:a + CHUNK_BINS].T @ y
        ysum += y.sum(0)
    ybar = ysum / len(rows)
    # U^T (Y - 1 ybar^T) = U^T Y - (U^T 1) ybar^T
    return Basis(mu, ybar, vt.T, s * s, s[:, None] * (uty - np.outer(u.sum(0), ybar)))


@dataclass
class Moments:
    """Sums over a set of bins: n, sum x, sum x x^T, sum y, sum x y^T (float64)."""
    n: float
    sx: np.ndarray
    sxx: np.ndarray
    sy: np.ndarray
    sxy: np.ndarray

    def __sub__(self, other):
        return Moments(self.n - other.n, self.sx - other.sx, self.sxx - other.sxx, self.sy - other.sy,
                       self.sxy - other.sxy)

    def __add__(self, other):
        return Moments(self.n + other.n, self.sx + other.sx, self.sxx + other.sxx, self.sy + other.sy,
                       self.sxy + other.sxy)

    def basis(self) -> Basis:
        mu, ybar = self.sx / self.n, self.sy / self.n
        a = self.sxx - self.n * np.outer(mu, mu)
        b = self.sxy - self.n * np.outer(mu, ybar)
        e, v = np.linalg.eigh((a + a.T) / 2)
        e = np.maximum(e, 0)
        return Basis(mu, ybar, v, e, v.T @ b)


def moments(features, valid, density, rows) -> Moments:
    c, g = features.shape[2], density.shape[1]
    m = Moments(0.0, np.zeros(c), np.zeros((c, c)), np.zeros(g), np.zeros((c, g)))
    for s in range(0, len(rows), CHUNK_BINS):
        r = rows[s:s + CHUNK_BINS]
        x = bin_means(features, valid, r)
        y = np.asarray(density[r], np.float64)
        m = m + Moments(float(len(r)), x.sum(0), x.T @ x, y.sum(0), x.T @ y)
    return m


class FoldSystems:
    """The ridge system of every fold's training set (all bins but the fold's) and of all bins."""

    def __init__(self, features, valid, density, fold, folds: Sequence[int]):
        self.features, self.valid, self.density = features, valid, density
        self.fold = np.asarray(fold)
        self.folds = list(folds)
        n = len(self.fold)
        if n <= SMALL_N:
            self.x = bin_means(features, valid, np.arange(n))
            self.full = basis_from_rows(self.x, density, np.arange(n))
            train = {f: np.flatnonzero(self.fold != f) for f in self.folds}
            self.of_fold = {f: basis_from_rows(self.x[r], density, r) for f, r in train.items()}
        else:
            self.x = None
            part = {f: moments(features, valid, density, np.flatnonzero(self.fold == f))
                    for f in np.unique(self.fold)}
            total = sum(part.values(), Moments(0.0, 0, 0, 0, 0))
            self.full = total.basis()
            self.of_fold = {f: (total - part[f]).basis() for f in self.folds}
        self.scale = float(self.full.e.sum() / features.shape[2])  # mean eigenvalue over all C directions

    def lambdas(self, alphas=ALPHAS) -> List[float]:
        return [a * self.scale for a in alphas]

    def means(self, rows) -> np.ndarray:
        return self.x[rows] if self.x is not None else bin_means(self.features, self.valid, rows)


def ridge_state(W: np.ndarray, b: np.ndarray) -> Dict[str, torch.Tensor]:
    """A plain tensor dict (weights_only-safe) for a checkpoint."""
    return {"ridge.weight": torch.from_numpy(np.ascontiguousarray(W, np.float32)),
            "ridge.bias": torch.from_numpy(np.ascontiguousarray(b, np.float32))}


def apply(z: torch.Tensor, state: Dict[str, torch.Tensor], genes: Optional[slice] = None) -> torch.Tensor:
    """Counts per superpixel of standardised features z (..., C): clip(z . W + b, 0)."""
    W, b = state["ridge.weight"], state["ridge.bias"]
    if genes is not None:
        W, b = W[:, genes], b[genes]
    return torch.addmm(b.to(z.device), z.reshape(-1, z.shape[-1]), W.to(z.device)).clamp_(min=0).view(
        *z.shape[:-1], -1)
