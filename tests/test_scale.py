"""What lets a Visium HD section (~600k bins) through evaluation and QC: work by blocks, same results."""
import numpy as np

from pixel2gene.evaluation import report
from pixel2gene.evaluation.truth import Bins
from pixel2gene.features.stats import standardise
from pixel2gene.qc.bins import pca


def test_evaluation_by_gene_blocks_equals_all_genes_at_once(monkeypatch):
    rng = np.random.default_rng(0)
    n, g = 900, 23
    index = rng.permutation(30 * 30)[:n, None].astype(np.int64)
    truth = rng.poisson(2.0, (n, g)).astype(np.float32)
    pred = (truth + rng.normal(0, 1, (n, g))).clip(0).astype(np.float32)
    bins = Bins([f"b{i}" for i in range(n)], truth, [f"G{k}" for k in range(g)], index)
    whole = report.evaluate(bins, pred, (30, 30))
    monkeypatch.setattr(report, "GENE_BLOCK", 5)
    blocks = report.evaluate(bins, pred, (30, 30))
    assert whole.shape == (g, 9)
    loose = ["gene", "ssim"]  # SSIM is blurred in float32, several genes per call: equal to float32 rounding
    np.testing.assert_allclose(blocks.drop(columns=loose).to_numpy(), whole.drop(columns=loose).to_numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(blocks["ssim"], whole["ssim"], rtol=0, atol=1e-6)
    assert list(blocks.gene) == list(whole.gene)


def test_pca_by_chunks_with_standardising_matches_the_dense_projection():
    rng = np.random.default_rng(1)
    raw = (rng.normal(0, 1, (5000, 40)) @ rng.normal(0, 1, (40, 40)) + 3).astype(np.float16)
    mean, std = raw.astype(np.float32).mean(0), raw.astype(np.float32).std(0)
    dense = pca(standardise(raw, mean, std), 8)
    chunked = pca(raw, 8, prepare=lambda rows: standardise(rows, mean, std), chunk=333)
    # principal axes are defined up to sign
    signs = np.sign((dense * chunked).sum(0))
    np.testing.assert_allclose(chunked * signs, dense, atol=1e-3)
