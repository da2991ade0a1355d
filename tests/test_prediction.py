"""Prediction over a whole slide: chunked, read ahead and written behind, the same as all at once."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import pixel2gene.prediction.predict as pp
from pixel2gene.features.stats import standardise
from pixel2gene.model.mlp import StackedMLP
from pixel2gene.artifacts.result import Result
from pixel2gene.prediction.maps import write_gene_maps


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("pred")
    mask = rng.random((37, 23)) < 0.4
    mask[5:9] = False  # rows without tissue inside a chunk
    feats = np.lib.format.open_memmap(root / "features.npy", mode="w+", dtype=np.float16, shape=(mask.sum(), 12))
    feats[:] = rng.normal(0, 2, feats.shape)
    torch.manual_seed(0)
    net = StackedMLP(3, 12, 5)
    models = SimpleNamespace(states=[{**net.model_state(m), "blend.mlp": torch.tensor(1.0)} for m in range(3)],
                             genes=list("ABCDE"),
                             gene_min=rng.random(5).astype(np.float32),
                             gene_max=(2 + rng.random(5)).astype(np.float32))
    mean, std = rng.normal(0, 1, 12).astype(np.float32), rng.random(12).astype(np.float32) + 0.5
    return feats, mask, mean, std, models


def test_chunks_are_runs_of_whole_rows_with_enough_tissue(case):
    _, mask, *_ = case
    chunks = pp.row_chunks(mask, 40)
    counts = mask.sum(1)
    assert chunks[0][0] == np.flatnonzero(counts)[0] and chunks[-1][1] == np.flatnonzero(counts)[-1] + 1
    assert all(a[1] <= b[0] for a, b in zip(chunks, chunks[1:]))
    assert [n for *_, n in chunks] == [int(counts[r0:r1].sum()) for r0, r1, _ in chunks]
    assert all(n >= 40 for *_, n in chunks[:-1]) and sum(n for *_, n in chunks) == mask.sum()
    assert all(counts[r0:r1 - 1].sum() < 40 for r0, r1, _ in chunks)  # each ends at the row that fills it


def test_chunked_sum_over_folds_equals_one_pass_over_all_tissue(case, tmp_path, monkeypatch):
    feats, mask, mean, std, models = case
    monkeypatch.setattr(pp, "CHUNK", 40)  # several chunks, read ahead and written behind
    out = np.lib.format.open_memmap(tmp_path / "sum.npy", mode="w+", dtype=np.float32, shape=(5, int(mask.sum())))
    assert pp.predict_sum(feats, mask, mean, std, models, out) == 3
    x = standardise(np.asarray(feats), mean, std)
    want = pp.Ensemble(models)(x).sum(0).T.numpy()
    assert np.allclose(out, want, rtol=1e-5, atol=1e-6)
    assert (out >= 0).all() and np.ptp(out, axis=1).min() > 0


def test_gene_maps_are_the_same_on_threads(case, tmp_path):
    _, mask, *_ = case
    rng = np.random.default_rng(1)
    parts = [rng.random((5, int(mask.sum()))).astype(np.float32) for _ in range(2)]
    genes = ["A", "B/C", "..", "D", "E"]
    for t in (1, 3):
        write_gene_maps(Result(tmp_path / str(t)), genes, parts, 4, mask, threads=t)
    for g, gene in enumerate(genes):
        a, b = Result(tmp_path / "1").gene_map(gene), Result(tmp_path / "3").gene_map(gene)
        assert np.array_equal(a, b, equal_nan=True)
        assert np.isnan(a[~mask]).all() and np.allclose(a[mask], (parts[0][g] + parts[1][g]) / 4)
