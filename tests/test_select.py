"""Ridge fold models and the choice between ridge, MLP and blends by spatial CV on the training bins."""
import tracemalloc

import numpy as np
import pytest
import torch

from pixel2gene.artifacts.model import ModelSet
from pixel2gene.artifacts.trainset import TrainingSet
from pixel2gene.model import ridge
from pixel2gene.model.checkpoint import load_fold
from pixel2gene.prediction.predict import Ensemble
from pixel2gene.steps import select as select_step
from pixel2gene.steps import train as train_step
from pixel2gene.training.data import TrainData
from pixel2gene.evaluation.metrics import composition_r
from pixel2gene.training.select import select_model
from pixel2gene.training.trainer import TrainConfig, train_folds


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def linear_data(n=160, k=6, c=24, g=10, n_folds=5, seed=0, noise=0.3):
    """Bins whose counts per superpixel are linear in their mean features, on spatial blocks."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n, k, c)).astype(np.float16)
    valid = np.ones((n, k), bool)
    valid[:, k // 2:] = rng.random((n, k - k // 2)) < 0.6
    zbar = (feats.astype(np.float64) * valid[..., None]).sum(1) / valid.sum(1)[:, None]
    w = rng.normal(0, 0.4, (c, g))
    dens = np.clip(4 + zbar @ w + rng.normal(0, noise, (n, g)), 0.05, None).astype(np.float32)
    xy = rng.uniform(0, 10, (n, 2))
    fold = (np.floor(xy[:, 0] / 2.5) * 4 + np.floor(xy[:, 1] / 2.5)).astype(int) % n_folds
    return TrainData(feats, valid, dens, fold, [f"g{i}" for i in range(g)], n_folds, ["toy"],
                     [f"deep_{i}" for i in range(c)])


def direct_ridge(x, y, lam):
    """Textbook ridge with an unpenalised intercept: solve (Xc^T Xc + lam I) W = Xc^T Yc."""
    mu, ybar = x.mean(0), y.mean(0)
    xc = x - mu
    W = np.linalg.solve(xc.T @ xc + lam * np.eye(x.shape[1]), xc.T @ (y - ybar))
    return W, ybar - mu @ W


@pytest.mark.parametrize("large", [False, True])
def test_fold_ridges_solve_the_ridge_system(monkeypatch, large):
    """Both exact paths (thin SVD of the bins; summed moments + eigh for many bins) give textbook ridge."""
    if large:
        monkeypatch.setattr(ridge, "SMALL_N", 10)
        monkeypatch.setattr(ridge, "CHUNK_BINS", 37)  # several chunks per fold
    data = linear_data(n=120, c=30)  # fewer training bins than features: a singular C x C system
    systems = ridge.FoldSystems(data.features, data.valid, data.density, data.fold, [0, 3])
    x = ridge.bin_means(data.features, data.valid, np.arange(120))
    for lam in (0.5, 40.0):
        for f in (0, 3):
            keep = data.fold != f
            W, b = systems.of_fold[f].coef(lam)
            W0, b0 = direct_ridge(x[keep], data.density[keep].astype(np.float64), lam)
            assert np.allclose(W, W0, atol=1e-8) and np.allclose(b, b0, atol=1e-8)
        W, b = systems.full.coef(lam)
        assert np.allclose(W, direct_ridge(x, data.density.astype(np.float64), lam)[0], atol=1e-8)


def test_ridge_disk_sums_are_the_bin_prediction():
    data = linear_data()
    systems = ridge.FoldSystems(data.features, data.valid, data.density, data.fold, [1])
    W, b = systems.of_fold[1].coef(2.0)
    state = ridge.ridge_state(W, b + 100.0)  # far from 0: no clipping, so the sum is exactly linear
    z = torch.from_numpy(data.features.astype(np.float32))
    per_sp = ridge.apply(z, state).numpy() * data.valid[..., None]  # (bins, K, G)
    n_b = data.valid.sum(1)[:, None]
    bin_pred = n_b * (ridge.bin_means(data.features, data.valid, np.arange(len(n_b))) @ W + b + 100.0)
    assert np.allclose(per_sp.sum(1), bin_pred, rtol=1e-4)
    assert (ridge.apply(-50 * z, ridge.ridge_state(W, b)).numpy() >= 0).all()  # clipped per superpixel


def test_composition_score_is_the_referees():
    rng = np.random.default_rng(0)
    truth = rng.poisson(5, (40, 6)).astype(float)
    assert composition_r(truth, truth) == pytest.approx(1.0)
    assert composition_r(truth * rng.uniform(1, 5, (40, 1)), truth) == pytest.approx(1.0)  # depth is removed
    shuffled = truth[rng.permutation(40)]
    assert composition_r(shuffled, truth) < 0.5
    truth[:, 0] = 0  # a gene without counts has no correlation: it counts as 0, as in the referee's script
    assert composition_r(truth, truth) == pytest.approx(5 / 6)


@pytest.fixture(scope="module")
def linear_case():
    data = linear_data()
    mlp = train_folds(data, list(range(5)), TrainConfig(epochs=8, seed=0))
    return data, mlp


def test_selection_picks_the_linear_model_when_truth_is_linear(linear_case):
    data, mlp = linear_case
    sel = select_model(data, list(range(5)), "auto", mlp, seed=0)
    cv = sel.record["cv_composition_r"]
    assert sel.record["choice"] == "ridge" and sel.mlp_weight == 0.0
    assert cv["ridge"] > 0.5  # the linear truth is recovered out of fold
    e = sel.record["mlp_epoch"]
    at = "" if e == 8 else f" (epoch {e:g})"  # the MLP's epoch is chosen first, on its own OOF score
    assert cv["ridge"] >= cv["blend 0.75" + at] and cv["ridge"] > cv["mlp" + at]
    assert set(cv) == {"ridge"} | {b + at for b in ("blend 0.25", "blend 0.5", "blend 0.75", "mlp")}
    epochs = sel.record["mlp_epoch_cv_composition_r"]
    assert list(epochs) == ["0.8", "1.6", "2.4", "4", "5.6", "8"] and epochs[f"{e:g}"] == max(epochs.values())
    assert sel.full_ridge is not None and set(sel.fold_ridge) == set(range(5))


def test_selection_prefers_the_mlp_when_it_is_better_out_of_fold(linear_case, monkeypatch):
    """The choice follows the CV scores, not a fixed preference: make the ridge's OOF useless."""
    from pixel2gene.training import select as sel_mod
    data, mlp = linear_case
    noise = lambda d, s, rows, top: np.random.default_rng(0).gamma(1.0, 50.0, (len(rows), len(top)))
    monkeypatch.setattr(sel_mod, "ridge_oof", noise)
    sel = select_model(data, list(range(5)), "auto", mlp, seed=0)
    assert sel.record["choice"].startswith("mlp") and sel.mlp_weight == 1.0


def test_the_epoch_is_chosen_by_the_mlps_out_of_fold_score(linear_case, monkeypatch):
    """Early stopping on the CV folds: the kept epoch whose fold MLPs score best OOF, ties to the earlier;
    the train step then saves that epoch's weights."""
    from pixel2gene.training import select as sel_mod
    data, mlp = linear_case
    real = sel_mod.mlp_oof
    best = 2.4

    def rigged(d, result, rows, top, epoch=None):  # every epoch but `best` predicts a constant
        out = real(d, result, rows, top, epoch)
        return out if epoch == best else np.ones_like(out)

    monkeypatch.setattr(sel_mod, "mlp_oof", rigged)
    monkeypatch.setattr(sel_mod, "ridge_oof", lambda d, s, rows, top: np.ones((len(rows), len(top))))
    sel = select_model(data, list(range(5)), "auto", mlp, seed=0)
    assert sel.mlp_epoch == best and sel.record["choice"] == "mlp (epoch 2.4)"
    assert sel.record["mlp_epoch_cv_composition_r"]["2.4"] > sel.record["mlp_epoch_cv_composition_r"]["8"]
    monkeypatch.setattr(sel_mod, "mlp_oof", lambda d, result, rows, top, epoch=None: real(d, result, rows, top))
    assert select_model(data, list(range(5)), "auto", mlp, seed=0).mlp_epoch == 0.8  # a tie: the earliest


def test_selection_repeats_exactly(linear_case):
    data, mlp = linear_case
    a = select_model(data, list(range(5)), "auto", mlp, seed=0)
    b = select_model(data, list(range(5)), "auto", mlp, seed=0)
    assert a.record == b.record
    for f in range(5):
        assert all(torch.equal(a.fold_ridge[f][k], b.fold_ridge[f][k]) for k in a.fold_ridge[f])
    assert all(torch.equal(a.full_ridge[k], b.full_ridge[k]) for k in a.full_ridge)


def test_selection_densifies_no_bins_by_genes(monkeypatch):
    """Memory that grows with bins x genes is what training already holds: scoring keeps the top 100 genes'
    columns, the ridge systems are features x genes, and the targets are read by chunks of bins."""
    monkeypatch.setattr(ridge, "CHUNK_BINS", 64)
    base = linear_data(n=600, c=8)

    def peak(n_genes):
        wide = TrainData(base.features, base.valid, np.tile(base.density, (1, n_genes // 10)), base.fold,
                         [f"g{i}" for i in range(n_genes)], base.n_folds, base.samples, base.channels)
        tracemalloc.start()
        select_model(wide, list(range(5)), "ridge", None, seed=0)
        out = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out, wide.density.nbytes

    (small, dens_small), (big, dens_big) = peak(300), peak(3000)
    # a float32 copy of the targets alone would add as much as the targets grew
    assert big - small < 0.5 * (dens_big - dens_small), (small, big)


def write_trainset(d, data: TrainData):
    """A p2g-folds output folder holding `data` (standardised already: mean 0, std 1)."""
    with TrainingSet.create(d, {"toy": data.features.shape}) as folder:
        folder.disk_features.write(data.features)
        folder.disk_valid.write(data.valid)
        folder.density.write(data.density)
        folder.fold.write(data.fold)
        c = data.features.shape[2]
        folder.write_channel_stats(np.zeros(c, np.float32), np.ones(c, np.float32))
        folder.genes.write(data.genes)
        folder.record.write({"sample": "toy", "n_folds": data.n_folds, "block_um": 512.0, "channels": data.channels})


def train_and_select(tmp_path, name, **options):
    """p2g-train then p2g-select on the toy training set at tmp_path/folds: the model prediction reads."""
    folds = [str(tmp_path / "folds")]
    trained = train_step.run(train_step.Args(trainset=folds, out=str(tmp_path / f"{name}-trained"), device="cpu",
                                             **options))
    return select_step.run(select_step.Args(trainset=folds, trained=[str(trained.path)], out=str(tmp_path / name)))


def test_train_step_records_the_choice_and_prediction_follows_it(tmp_path):
    data = linear_data(n=100)
    write_trainset(tmp_path / "folds", data)
    out = train_and_select(tmp_path, "model", epochs=2)
    info = out.record.read()
    sel = info["selection"]
    assert sel["mode"] == "auto" and sel["choice"] == max(sel["cv_composition_r"], key=sel["cv_composition_r"].get)
    assert info["config"]["select"] == "auto"
    state = load_fold(out.fold_file(0))  # weights_only: plain tensors
    assert float(state["blend.mlp"]) == pytest.approx(sel["mlp_weight"], abs=1e-4)
    assert "ridge.weight" in state and "layer0.weight" in state
    again = train_folds(data, list(range(5)), TrainConfig(epochs=2))  # the step's training, repeated
    assert sel["mlp_epoch"] in again.snapshots  # the saved MLP is the chosen epoch's weights
    assert torch.equal(state["layer0.weight"], again.states_at(sel["mlp_epoch"])[0]["layer0.weight"])
    models = ModelSet([out])
    x = torch.from_numpy(data.features[:7].reshape(-1, data.features.shape[2]).astype(np.float32))
    a = float(state["blend.mlp"])  # the record rounds it to 4 places; the checkpoint holds it exactly
    mlp_only = Ensemble(type("M", (), dict(states=[{**s, "blend.mlp": torch.tensor(1.0)}
                                                   for s in models.states], genes=models.genes,
                                           gene_min=models.gene_min, gene_max=models.gene_max))())(x)
    want = a * mlp_only.sum(0) + (1 - a) * len(models.states) * ridge.apply(x, models.ridge)
    assert torch.allclose(Ensemble(models).sum(x), want, rtol=1e-5, atol=1e-5)
    assert torch.allclose(Ensemble(models)(x).sum(0), want, rtol=1e-5, atol=1e-5)
    held = Ensemble(models, held_out=True)(x)  # fold i's ridge part is its own, fitted without fold i
    assert torch.allclose(held[2], a * mlp_only[2] + (1 - a) * ridge.apply(x, models.states[2]), rtol=1e-5,
                          atol=1e-5)


def test_ridge_only_trains_no_mlp_and_mlp_only_keeps_the_old_models(tmp_path):
    data = linear_data(n=100)
    write_trainset(tmp_path / "folds", data)
    out = train_and_select(tmp_path, "ridge", select="ridge")
    state = load_fold(out.fold_file(1))
    assert "layer0.weight" not in state and float(state["blend.mlp"]) == 0.0
    assert out.record.read()["selection"]["choice"] == "ridge"
    models = ModelSet([out])
    x = torch.from_numpy(data.features[:5, 0].astype(np.float32))
    assert torch.allclose(Ensemble(models).sum(x), 5 * ridge.apply(x, models.ridge))
    out = train_and_select(tmp_path, "mlp", epochs=1, select="mlp")
    state = load_fold(out.fold_file(1))
    assert "ridge.weight" not in state and float(state["blend.mlp"]) == 1.0 and not out.full_ridge_file.exists()


def test_report_shows_the_choice_and_its_cv_scores():
    from pixel2gene.report.page import curves_section
    sel = {"choice": "blend 0.25", "mlp_weight": 0.25, "chosen_by": "spatial-block CV",
           "cv_composition_r": {"ridge": 0.281, "blend 0.25": 0.297, "mlp": 0.244}, "ridge": {"alpha": 31.6}}
    html = curves_section([{"folds": [0, 1], "selection": sel, "curves": {}}])
    assert "<b>blend 0.25</b>" in html and "blend 0.25 (chosen)" in html and "0.281" in html and "31.6" in html
    sel.update(mlp_epoch=30.0, mlp_epoch_cv_composition_r={"10": 0.25, "30": 0.27, "100": 0.26})
    html = curves_section([{"folds": [0, 1], "selection": sel, "curves": {}}])
    assert "kept from epoch 30" in html and "<b>epoch 30: 0.27</b>" in html and "epoch 100: 0.26" in html


def colour_signal_data(n=160, k=6, deep=57, g=10, n_folds=5, seed=1):
    """Counts linear in 4 colour-context channels only, beside many channels that carry nothing."""
    rng = np.random.default_rng(seed)
    names = ["mean_r", "mean_g", "mean_b"] + [f"colour_{i}" for i in range(4)] + [f"deep_{i}" for i in range(deep)]
    feats = rng.normal(size=(n, k, len(names))).astype(np.float16)
    valid = np.ones((n, k), bool)
    zbar = feats.astype(np.float64).mean(1)
    w = np.zeros((len(names), g))
    w[3:7] = rng.normal(0, 0.8, (4, g))
    dens = np.clip(4 + zbar @ w + rng.normal(0, 0.3, (n, g)), 0.05, None).astype(np.float32)
    xy = rng.uniform(0, 10, (n, 2))
    fold = (np.floor(xy[:, 0] / 2.5) * 4 + np.floor(xy[:, 1] / 2.5)).astype(int) % n_folds
    return TrainData(feats, valid, dens, fold, [f"g{i}" for i in range(g)], n_folds, ["toy"], names)


def test_selection_blends_in_the_colour_ridge_when_colour_carries_the_signal():
    data = colour_signal_data()
    sel = select_model(data, list(range(5)), "ridge", None, seed=0)
    cv, rec = sel.record["cv_composition_r"], sel.record
    assert set(cv) == {"ridge"} | {f"ridge + colour {c:g}" for c in (0.1, 0.2, 0.3, 0.5)}
    assert cv["ridge + colour 0.5"] > cv["ridge"]  # 4 channels out of fold beat 64 with the same signal
    assert rec["colour_weight"] > 0 and rec["choice"] == max(cv, key=cv.get)
    assert rec["colour_ridge"]["n_features"] == 4 and rec["ridge"]["n_features"] == 64
    # the stored linear model is the shares' mix of the deep ridge and the colour ridge, exactly
    c = rec["colour_weight"]
    deep = ridge.FoldSystems(data.features, data.valid, data.density, data.fold, [])
    col = ridge.FoldSystems(np.ascontiguousarray(data.features[..., 3:7]), data.valid, data.density, data.fold, [])
    Wd, bd = deep.full.coef(rec["ridge"]["lambda"])
    Wc, bc = col.full.coef(rec["colour_ridge"]["lambda"])
    W = (1 - c) * Wd
    W[3:7] += c * Wc
    assert np.allclose(sel.full_ridge["ridge.weight"].numpy(), W, atol=1e-5)
    assert np.allclose(sel.full_ridge["ridge.bias"].numpy(), (1 - c) * bd + c * bc, atol=1e-4)


def test_selection_without_colour_channels_keeps_the_deep_candidates(linear_case):
    data, mlp = linear_case  # no channel is a colour-context one
    sel = select_model(data, list(range(5)), "auto", mlp, seed=0)
    assert sel.record["colour_weight"] == 0 and "colour_ridge" not in sel.record
