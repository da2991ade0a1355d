"""Colour augmentation of the training sample: seeded shifted copies, each one more training set (#13)."""
import json

import numpy as np

from conftest import run_tool


def features_of(synthetic, tmp_path, *copies):
    w = tmp_path / "w"
    run_tool("p2g-rescale", "--prefix", synthetic["train"], "--out", w / "rescale", "--measured")
    run_tool("p2g-mask", "--rescaled", w / "rescale", "--out", w / "mask")
    outs = []
    for n, k in enumerate(copies):
        out = w / f"features-{n}"
        run_tool("p2g-features", "--rescaled", w / "rescale", "--mask", w / "mask", "--out", out,
                 "--encoder", "texture", "--augment-copy", k, "--threads", 1)
        outs.append(out)
    return w, outs


def test_augmented_copies_are_seeded_shifts_of_the_slide(synthetic, tmp_path):
    w, (plain, one, one_again, two) = features_of(synthetic, tmp_path, 0, 1, 1, 2)
    load = lambda d: np.load(d / "features.npy")
    assert len(load(plain)) == np.load(w / "mask" / "mask.npy").sum()  # tissue superpixels only
    assert np.array_equal(load(one), load(one_again))  # the same copy on every run and machine
    for a, b in ((plain, one), (one, two)):
        assert not np.array_equal(load(a)[:, :3], load(b)[:, :3])  # its colours moved
    info = json.loads((one / "features.json").read_text())
    assert info["augmented"]["name"] == "augment 1" and len(info["augmented"]["dye_scale"]) == 2
    assert json.loads((plain / "features.json").read_text())["augmented"] is None
    for d in (plain, one, two):  # no scratch copy of the slide left behind
        assert sorted(p.name for p in d.iterdir() if p.suffix == ".npy") == \
            ["channel-mean.npy", "channel-std.npy", "features.npy"]


def test_run_trains_on_the_copies_with_the_samples_own_folds(synthetic, tmp_path):
    out = tmp_path / "run"
    proc = run_tool("p2g-run", "--train", synthetic["train"], "--predict", synthetic["test"], "--outdir", out,
                    "--encoder", "texture", "--epochs", 2, "--n-folds", 3, "--threads", 1, "--map-top", 0,
                    "--augment", 2)
    work = out / "work" / "train"
    assert "augmented copy 2" in proc.stderr
    assert json.loads((out / "work" / "model" / "model.json").read_text())["samples"] == ["train"] * 3
    fold = np.load(work / "folds" / "fold.npy")
    for k in (1, 2):
        assert (work / f"features-texture-aug{k}" / "features.npy").is_file()
        assert np.array_equal(np.load(work / f"folds-aug{k}" / "fold.npy"), fold)
    assert not (out / "work" / "test" / "features-texture-aug1").exists()  # prediction samples are not copied
    assert (out / "test" / "cnts-super").is_dir()


def test_a_negative_copy_count_is_a_one_line_error(synthetic, tmp_path):
    proc = run_tool("p2g-run", "--train", synthetic["train"], "--predict", synthetic["test"],
                    "--outdir", tmp_path / "o", "--augment", -1, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--augment" in proc.stderr
