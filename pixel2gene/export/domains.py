"""Tissue domains: k-means on the principal components of a section's log-normalised predictions.

As scanpy's standard route: each superpixel scaled to the median total
(normalize_total), log1p, each gene centred and scaled (clipped at 10 SD),
then PCA and k-means (qc/kmeans.py, k-means++ from a seeded generator). The
PCA is fitted on at most FIT_ROWS superpixels drawn with the seed, and every
superpixel is then projected a block of genes at a time, so a whole slide's
genes are never in memory at once. Domains are numbered by size (0 is the
largest), so the same seed gives the same labels, colours and table.
"""
import numpy as np
import pandas as pd
from scipy import sparse

from ..artifacts.result import Result
from ..qc.kmeans import kmeans

N_PCS = 20          # principal components clustered (fewer when there are fewer genes)
FIT_ROWS = 50000    # superpixels the PCA is fitted on
BLOCK = 64          # genes read at a time
CLIP_SD = 10.0      # scanpy's scale(max_value=10)
TOP = 10            # genes listed per domain


class LogNormal:
    """log1p of each superpixel's predictions scaled to the median superpixel total."""

    def __init__(self, result: Result, genes, mask, fit_rows=None):
        """`fit_rows`: the superpixels the PCA is fitted on (None: all); their raw values are kept from the one
        pass that sums the totals, so fitting reads no map again."""
        self.result, self.genes, self.mask, self.fit_rows = result, genes, mask, fit_rows
        totals, fit = 0, []
        for g0 in range(0, len(genes), BLOCK):
            raw = self.raw(g0)
            totals = totals + raw.sum(1, dtype=np.float64)
            fit.append(raw if fit_rows is None else raw[fit_rows])
        self.fit_raw = fit
        totals = np.asarray(totals, np.float64)
        target = float(np.median(totals[totals > 0])) if (totals > 0).any() else 1.0
        self.factor = np.divide(target, totals, out=np.zeros_like(totals), where=totals > 0).astype(np.float32)

    def raw(self, g0):
        return np.clip(self.result.tissue_values(self.genes[g0:g0 + BLOCK], self.mask), 0, None)

    def block(self, g0, rows=None):
        return self.normalise(self.raw(g0), rows)

    def normalise(self, raw, rows=None):
        f = self.factor
        if rows is not None:
            raw, f = raw[rows], f[rows]
        return np.log1p(raw * f[:, None])


def fit_rows(n: int, seed: int):
    """The seeded sample of superpixels the PCA is fitted on (None: all of them)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, FIT_ROWS, replace=False)) if n > FIT_ROWS else None


def _fit_pca(norm: LogNormal):
    """(gene means, gene SDs, loadings genes x PCs, explained variance ratio) from the fit rows."""
    f = norm.factor if norm.fit_rows is None else norm.factor[norm.fit_rows]
    x = np.concatenate([np.log1p(raw * f[:, None]) for raw in norm.fit_raw], 1).astype(np.float64)
    norm.fit_raw = None  # up to FIT_ROWS x genes: not kept past the fit
    mean, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0
    z = np.clip((x - mean) / sd, -CLIP_SD, CLIP_SD)
    values, vectors = np.linalg.eigh(z.T @ z / max(1, len(z) - 1))
    order = np.argsort(values)[::-1][:min(N_PCS, len(norm.genes), max(1, len(z) - 1))]
    values, vectors = values[order], vectors[:, order]
    vectors *= np.sign(vectors[np.abs(vectors).argmax(0), np.arange(vectors.shape[1])])  # a sign of its own
    return mean, sd, vectors, values / max(float(np.clip(values, 0, None).sum()), 1e-12)


def _project(norm: LogNormal, n: int, mean, sd, vectors) -> np.ndarray:
    scores = np.zeros((n, vectors.shape[1]), np.float64)
    for g0 in range(0, len(norm.genes), BLOCK):
        g1 = min(len(norm.genes), g0 + BLOCK)
        z = np.clip((norm.block(g0) - mean[g0:g1]) / sd[g0:g1], -CLIP_SD, CLIP_SD)
        scores += z @ vectors[g0:g1]
    return scores.astype(np.float32)


def by_size(labels: np.ndarray, k: int) -> np.ndarray:
    """Labels renumbered so that domain 0 is the largest (ties: the lower original number first)."""
    sizes = np.bincount(labels, minlength=k)
    rank = np.empty(k, np.int64)
    rank[np.lexsort((np.arange(k), -sizes))] = np.arange(k)
    return rank[labels]


def find_domains(result: Result, genes, mask, k: int, seed: int):
    """(domain of each tissue superpixel, row-major; the record of how they were found; the LogNormal)."""
    n = int(mask.sum())
    norm = LogNormal(result, genes, mask, fit_rows(n, seed))
    mean, sd, vectors, explained = _fit_pca(norm)
    scores = _project(norm, n, mean, sd, vectors)
    k = min(k, n)
    _, labels = kmeans(scores, k, seed=seed)
    labels = by_size(labels, k)
    record = {"k": k, "seed": seed, "n_pcs": int(vectors.shape[1]), "fit_superpixels": min(n, FIT_ROWS),
              "explained_variance_ratio": [round(float(v), 5) for v in explained],
              "sizes": np.bincount(labels, minlength=k).tolist()}
    return labels, record, norm


def top_genes(norm: LogNormal, labels: np.ndarray, k: int, skill=None, top: int = TOP) -> pd.DataFrame:
    """Per domain, the genes most higher inside than outside it: mean log-normalised expression in the
    domain minus that in the rest of the section (a log fold change of normalised predictions). With `skill`,
    the genes the model predicts with skill come first among those higher inside: a domain named by genes it
    cannot predict says little."""
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    member = sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    sums, counts = [], []
    for g0 in range(0, len(norm.genes), BLOCK):  # each block of maps read once for both tables
        raw = norm.raw(g0)
        sums.append(member @ norm.normalise(raw).astype(np.float64))
        counts.append(member @ raw.astype(np.float64))
    sums, counts = np.concatenate(sums, 1), np.concatenate(counts, 1)
    inside = sums / np.maximum(sizes, 1)[:, None]
    outside = (sums.sum(0) - sums) / np.maximum(sizes.sum() - sizes, 1)[:, None]
    rows = []
    skilful = skill.set_index("gene")["skilful"].reindex(norm.genes).to_numpy() if skill is not None else None
    # unknown skill (NaN, or no table) is not held against a gene
    untrusted = pd.Series(skilful).eq(False).to_numpy() if skilful is not None else np.zeros(len(norm.genes), bool)
    for d in range(k):
        fold = inside[d] - outside[d]
        order = np.lexsort((np.arange(len(norm.genes)), -fold, untrusted, fold <= 0))[:top]  # last key first
        for rank, g in enumerate(order):
            rows.append({"domain": d, "rank": rank + 1, "gene": norm.genes[g],
                         "log_fold": float(inside[d, g] - outside[d, g]), "mean_log_in": float(inside[d, g]),
                         "mean_log_out": float(outside[d, g]),
                         "mean_counts_in": float(counts[d, g] / max(sizes[d], 1)),
                         "skilful": bool(skilful[g]) if skilful is not None and pd.notna(skilful[g]) else None})
    return pd.DataFrame(rows)
