"""Model, disks, folds, QC and training: exact, independent and repeatable."""
import numpy as np
import pandas as pd
import pytest
import torch

from pixel2gene.genes.select import rank_genes, select_genes
from pixel2gene.model.mlp import StackedMLP
from pixel2gene.qc.bins import qc_keep
from pixel2gene.qc.folds import block_folds
from pixel2gene.training.data import TrainData
from pixel2gene.image.disks import gather_disks
from test_disks import disk_members
from pixel2gene.training.trainer import TrainConfig, train_folds


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_stacked_models_are_independent_mlps():
    torch.manual_seed(0)
    net = StackedMLP(3, 7, 5)
    x = torch.randn(3, 11, 7)
    y = net(x)
    for m in range(3):
        state = net.model_state(m)
        h = x[m]
        for k in range(5):
            h = h @ state[f"layer{k}.weight"] + state[f"layer{k}.bias"]
            h = torch.nn.functional.leaky_relu(h, 0.1) if k < 4 else torch.nn.functional.elu(h, 0.01) + 0.01
        assert torch.allclose(h, y[m], atol=1e-6)
        assert torch.allclose(net(x[m:m + 1], model=m)[0], y[m])
    assert (y > 0).all()  # ELU(alpha=0.01) + 0.01 keeps outputs positive
    again = StackedMLP.from_states([net.model_state(m) for m in range(3)])
    assert torch.equal(again(x), y)


def test_disk_of_an_8um_bin_is_one_superpixel_and_of_a_100um_spot_about_a_hundred():
    ii, _ = disk_members(100.0, 100.0, 16.0, (50, 50))
    assert len(ii) == 1
    ii, _ = disk_members(400.0, 400.0, 200.0, (100, 100))
    assert 110 <= len(ii) <= 130  # pi * 100^2 / 16^2 = 122.7


def test_gather_disks_keeps_only_tissue():
    mask = np.zeros((40, 40), bool)
    mask[:, :20] = True
    index, n_tissue, n_disk = gather_disks(np.array([[320.0, 320.0], [100.0, 100.0]]), 96.0, mask)
    assert n_tissue[0] < n_disk[0] and n_tissue[1] == n_disk[1]
    assert all(mask.ravel()[i] for i in index[0][index[0] >= 0])


def test_block_folds_keep_blocks_together_and_balance():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1024 * 20, (5000, 2))  # 0.5 µm/px: 512 µm blocks are 1024 px
    folds, side = block_folds(xy, 10, 0.5)
    assert side == 512
    block = (xy // 1024).astype(int)
    df = pd.DataFrame({"bx": block[:, 0], "by": block[:, 1], "f": folds})
    assert (df.groupby(["bx", "by"]).f.nunique() == 1).all()
    assert np.bincount(folds).min() > 300


def test_spots_on_a_200_um_pitch_share_folds_with_their_neighbours():
    # a legacy ST array (100 µm spots, 200 µm pitch): the method's 64 µm blocks would make every spot its
    # own block, so a held-out spot's four neighbours would all train
    g = np.stack(np.meshgrid(np.arange(30), np.arange(30)), -1).reshape(-1, 2)
    xy = g * 400.0 + 37  # 200 µm at 0.5 µm/px
    folds, side = block_folds(xy, 10, 0.5)
    grid = {tuple(p): f for p, f in zip(g, folds)}
    shared = [sum(grid.get((x + dx, y + dy)) == f for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)))
              for (x, y), f in grid.items()]
    assert side == 512 and np.mean(shared) > 1.0
    method, _ = block_folds(xy, 10, 0.5, block_um=64)
    assert len(np.unique(method)) == 10 and len(set(map(tuple, xy // 128))) == len(xy)


def test_blocks_shrink_when_the_bins_fill_fewer_blocks_than_folds():
    xy = np.random.default_rng(1).uniform(0, 1500, (400, 2))  # a 750 µm square at 0.5 µm/px
    folds, side = block_folds(xy, 10, 0.5)
    assert side == 128 and len(np.unique(folds)) == 10  # 512 -> 256 -> 128 µm: 36 blocks
    tiny = np.random.default_rng(2).uniform(0, 100, (30, 2))  # 50 µm across: no block can be that small
    _, side = block_folds(tiny, 10, 0.5)
    assert side == 64  # stops at the method's 8 superpixels


def test_qc_drops_the_low_count_tail_of_each_cluster():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 1, (300, 8)), rng.normal(6, 1, (300, 8))])
    totals = np.concatenate([rng.uniform(0, 100, 300), rng.uniform(1000, 2000, 300)])
    keep, cluster = qc_keep(feats, totals, n_clusters=2)
    assert 0.65 < keep[:300].mean() < 0.75 and 0.65 < keep[300:].mean() < 0.75
    assert totals[:300][keep[:300]].min() > 20  # the cut is per cluster, not global


def test_gene_ranking_drops_controls_and_rare_genes():
    a = pd.Series({"G1": 50, "G2": 500, "BLANK_1": 900, "NegControlProbe_2": 400, "RARE": 3, "ONLY_A": 99})
    b = pd.Series({"G1": 60, "G2": 10, "BLANK_1": 5, "NegControlProbe_2": 1, "RARE": 2})
    ranked = rank_genes([a, b], min_total=10)
    assert list(ranked.index) == ["G2", "G1"]
    assert select_genes(ranked, 1) == ["G2"]
    assert select_genes(ranked, 5, ["G1", "MISSING"]) == ["G1"]


def toy_data(n=120, k=6, c=10, g=4, n_folds=3, seed=0):
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n, k, c)).astype(np.float16)
    valid = np.ones((n, k), bool)
    valid[:, k // 2:] = rng.random((n, k - k // 2)) < 0.5
    w = rng.normal(size=(c, g))
    dens = np.exp(0.3 * (feats.astype(np.float32).mean(1) @ w)).astype(np.float32)
    return TrainData(feats, valid, dens, np.arange(n) % n_folds, [f"g{i}" for i in range(g)], n_folds, ["toy"],
                     [f"c{i}" for i in range(c)])


def test_cpu_training_repeats_bit_for_bit():
    data = toy_data()
    cfg = TrainConfig(epochs=5, seed=7)
    a = train_folds(data, [0, 1, 2], cfg)
    b = train_folds(data, [0, 1, 2], cfg)
    for sa, sb in zip(a.states, b.states):
        for key in sa:
            assert torch.equal(sa[key], sb[key])
    c = train_folds(data, [0, 1, 2], TrainConfig(epochs=5, seed=8))
    assert not torch.equal(a.states[0]["layer0.weight"], c.states[0]["layer0.weight"])


def test_training_reduces_validation_loss():
    data = toy_data(n=300)
    res = train_folds(data, [0, 1, 2], TrainConfig(epochs=60, lr=1e-3, eval_every=5))
    first, last = np.array(res.curves["val"][0]), np.array(res.curves["val"][-1])
    assert (last < first).all()


def test_training_a_subset_of_folds_gives_those_folds():
    data = toy_data()
    res = train_folds(data, [2], TrainConfig(epochs=2))
    assert res.folds == [2] and len(res.states) == 1


@pytest.mark.parametrize("folds", ["0,1", "all"])
def test_parse_folds(folds):
    from pixel2gene.steps.train import parse_folds
    assert parse_folds(folds, 3) == ([0, 1] if folds != "all" else [0, 1, 2])



def uneven_folds(n_folds=10, n=1200, seed=3):
    """Toy data whose folds differ in size: different step counts and, for the big fold, another batch size."""
    data = toy_data(n=n, n_folds=n_folds, seed=seed)
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, n_folds, n)
    fold[: n // 4] = n_folds - 1  # fold 9 holds a quarter of the bins: its training set is much smaller
    data.fold = fold
    return data


@pytest.fixture(scope="module")
def ten_folds(one_torch_thread):
    data = uneven_folds()
    cfg = TrainConfig(epochs=1, seed=5)
    return data, cfg, train_folds(data, list(range(10)), cfg)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("group", [[0], [0, 1], "all"])
def test_a_folds_model_does_not_depend_on_which_folds_share_its_task(ten_folds, group):
    """--folds 0 / 0,1 / all (1, 2 or 10 folds per task) give bit-identical fold-0 models on the CPU."""
    data, cfg, together = ten_folds
    alone = train_folds(data, [0], cfg)
    grouped = together if group == "all" else train_folds(data, group, cfg)
    assert_same_state(alone.states[0], grouped.states[grouped.folds.index(0)])


def test_batched_folds_equal_folds_trained_alone(ten_folds):
    data, cfg, together = ten_folds
    plans = together.config["per_fold"]
    assert len({p["steps"] for p in plans.values()}) > 1  # folds end at different steps
    assert len({p["batch"] for p in plans.values()}) > 1  # and the big fold's small set gets its own batch size
    for f in range(1, 10):
        assert_same_state(train_folds(data, [f], cfg).states[0], together.states[f])


def test_each_fold_is_sized_by_its_own_training_set(ten_folds):
    from pixel2gene.training.trainer import default_batch
    data, cfg, together = ten_folds
    for f, p in together.config["per_fold"].items():
        n = int((data.fold != f).sum())
        assert p["batch"] == default_batch(n) and p["steps"] == cfg.epochs * -(-n // p["batch"])


def test_validation_and_targets_by_chunks_equal_the_whole_at_once():
    """Chunking (memory on a Visium HD section) must not change what validation and the targets are."""
    from pixel2gene.model.mlp import gene_span
    from pixel2gene.training.trainer import _validate, scaled_targets
    rng = np.random.default_rng(4)
    density = rng.gamma(1.0, 2.0, (101, 9)).astype(np.float32)
    density[:, 3] = 1.5  # a gene that never varies keeps span 1
    lo, hi = density.min(0), density.max(0)
    np.testing.assert_allclose(scaled_targets(density, lo, hi, chunk=7), (density - lo) / gene_span(lo, hi),
                               rtol=1e-6, atol=1e-7)
    torch.manual_seed(0)
    model = StackedMLP(2, 5, 9)
    valid = torch.from_numpy(rng.random((101, 3)) < 0.7)
    valid[:, 0] = True
    t = dict(x=torch.randn(101, 3, 5, dtype=torch.float16), valid=valid,
             target=torch.from_numpy(scaled_targets(density, lo, hi)))
    sets = [torch.arange(0, 60), torch.arange(60, 101)]
    whole = _validate(model, t, sets, chunk=1 << 20)
    assert whole[0] != whole[1]
    np.testing.assert_allclose(_validate(model, t, sets, chunk=8), whole, rtol=1e-6)
    assert _validate(model, t, [None, sets[1]], chunk=8)[0] is None


def test_weights_kept_at_an_epoch_are_the_model_of_a_run_that_long():
    """Early stopping needs no second pass: the weights kept at epoch 5 of a 10-epoch run are, bit for bit,
    what a 5-epoch run gives (same streams, no schedule that depends on the run's length)."""
    data = toy_data()
    long = train_folds(data, [0, 1], TrainConfig(epochs=10, seed=3))
    assert sorted(long.snapshots) == [1, 2, 3, 5, 7, 10]
    short = train_folds(data, [0, 1], TrainConfig(epochs=5, seed=3))
    for a, b in zip(long.states_at(5), short.states):
        assert_same_state(a, b)
    for a, b in zip(long.states_at(10), long.states):
        assert a is b
    assert not torch.equal(long.states_at(1)[0]["layer0.weight"], long.states[0]["layer0.weight"])
    assert long.last_epoch == 10
    with pytest.raises(KeyError, match="epoch 4"):  # never the last weights under another epoch's name
        long.states_at(4)


def test_a_short_run_keeps_every_checkpoint_even_when_several_fall_on_one_step():
    data = toy_data(n=40)
    res = train_folds(data, [0], TrainConfig(epochs=1, batch=32, seed=0))
    steps = res.config["per_fold"][0]["steps"]
    assert steps < 6 and sorted(res.snapshots) == [0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    assert all(len(v) == 1 for v in res.snapshots.values())


def test_weight_decay_is_decoupled_per_fold_and_leaves_stopped_folds_alone():
    """AdamW: with no gradient a weight shrinks by exactly lr x decay per step, each fold by its own lr;
    the in-place and the masked update agree; a stopped fold does not shrink."""
    from pixel2gene.training.optim import StackedAdam
    w = torch.ones(2, 3, 4)
    p1, p2 = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    a1 = StackedAdam([p1], lr=[1e-2, 1e-3], weight_decay=5.0)
    a2 = StackedAdam([p2], lr=[1e-2, 1e-3], weight_decay=5.0)
    for p in (p1, p2):
        p.grad = torch.zeros_like(p)
    a1.step(torch.tensor([True, True]), 1, all_active=True)
    a2.step(torch.tensor([True, True]), 1)
    assert torch.equal(p1, p2)
    assert torch.allclose(p1[0], torch.full((3, 4), 0.95)) and torch.allclose(p1[1], torch.full((3, 4), 0.995))
    a2.step(torch.tensor([False, True]), 2)
    assert torch.equal(p2[0], p1[0]) and torch.allclose(p2[1], torch.full((3, 4), 0.995 ** 2))


def test_weight_decay_shrinks_the_weights_and_keeps_folds_independent():
    data = toy_data()
    plain = train_folds(data, [0, 1], TrainConfig(epochs=3, seed=2, weight_decay=0.0))
    cfg = TrainConfig(epochs=3, seed=2, weight_decay=50.0)
    decayed = train_folds(data, [0, 1], cfg)
    norm = lambda s: sum(float(v.norm()) for v in s.values())  # noqa: E731
    assert norm(decayed.states[0]) < 0.9 * norm(plain.states[0])
    assert_same_state(train_folds(data, [1], cfg).states[0], decayed.states[1])
    assert decayed.config["weight_decay"] == 50.0
