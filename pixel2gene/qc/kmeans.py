"""Deterministic k-means (k-means++ start, Lloyd iterations) on a sample of points."""
import numpy as np


def kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = 50, fit_size: int = 50000):
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    k = min(k, len(x))
    fit = x[rng.choice(len(x), fit_size, replace=False)] if len(x) > fit_size else x
    centres = _plus_plus(fit, k, rng)
    for _ in range(iters):
        labels = assign(fit, centres)
        new = np.stack([fit[labels == c].mean(0) if (labels == c).any() else centres[c] for c in range(k)])
        if np.allclose(new, centres, atol=1e-6):
            break
        centres = new
    return centres, assign(x, centres)


def _plus_plus(x, k, rng):
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=p)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    return np.stack(centres)


def assign(x, centres, chunk: int = 65536):
    out = np.empty(len(x), np.int64)
    c2 = (centres ** 2).sum(1)
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        out[s:s + chunk] = np.argmin(c2[None, :] - 2 * xs @ centres.T, axis=1)
    return out
