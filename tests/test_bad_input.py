"""Every tool against every class of bad input: exit 2, one line, no traceback, nothing left behind.

The tools run in this process (through the same cli.main the bin/ scripts call), so walking every
tool and option stays cheap; tests/test_input_errors.py runs single cases as separate processes.
"""
import importlib
import json
import re
import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from pixel2gene.tool import cli
from synthetic import make_sample


def tool_modules():
    """bin/ tool name -> the module whose Args and run it exposes."""
    out = {}
    for path in sorted((REPO / "bin").glob("p2g-*")):
        m = re.search(r"from (pixel2gene\.[\w.]+) import Args, run", path.read_text())
        if m:
            out[path.name] = importlib.import_module(m.group(1))
    return out


TOOLS = tool_modules()


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    """One output of every step, made once on a small pair of samples."""
    root = tmp_path_factory.mktemp("bad-input")
    make_sample(f"{root}/T/", size_um=480, seed=0)
    make_sample(f"{root}/P/", size_um=480, seed=1, measured=False)
    w = root / "w"

    def step(tool, *argv):
        assert cli.main(TOOLS[tool].Args, TOOLS[tool].run, "", list(map(str, argv))) == 0, tool

    for s in ("T", "P"):
        step("p2g-rescale", "--prefix", f"{root}/{s}/", "--out", w / s / "rescale", *(["--measured"] if s == "T" else []))
        step("p2g-mask", "--rescaled", w / s / "rescale", "--out", w / s / "mask")
        step("p2g-features", "--rescaled", w / s / "rescale", "--mask", w / s / "mask", "--out", w / s / "features",
             "--encoder", "texture", "--threads", 1)
    step("p2g-genes", "--counts", root / "T" / "cnts.tsv", "--out", w / "genes", "--n-genes", 5)
    step("p2g-folds", "--rescaled", w / "T" / "rescale", "--mask", w / "T" / "mask", "--features",
         w / "T" / "features", "--genes", w / "genes", "--out", w / "folds", "--n-folds", 2)
    step("p2g-train", "--trainset", w / "folds", "--out", w / "trained", "--epochs", 1, "--threads", 1)
    step("p2g-select", "--trainset", w / "folds", "--trained", w / "trained", "--out", w / "model", "--threads", 1)
    step("p2g-predict", "--features", w / "P" / "features", "--mask", w / "P" / "mask", "--model", w / "model",
         "--out", w / "pred", "--threads", 1)
    step("p2g-combine", "--pred", w / "pred", "--rescaled", w / "P" / "rescale", "--mask", w / "P" / "mask",
         "--out", w / "result")
    step("p2g-maps", "--result", w / "result", "--rescaled", w / "P" / "rescale", "--out", w / "maps", "--map-top", 1)
    step("p2g-evaluate", "--rescaled", w / "T" / "rescale", "--mask", w / "T" / "mask", "--trainset", w / "folds",
         "--model", w / "model", "--out", w / "eval")
    circles = [[[[300 + 40 * i + 8 * np.cos(t), 300 + 8 * np.sin(t)] for t in np.linspace(0, 6.28, 12)]]
               for i in range(3)]
    (root / "cells.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": f"c{i}", "geometry": {"type": "Polygon", "coordinates": c}}
        for i, c in enumerate(circles)]}))
    return root


def good_argv(tool, root):
    """A valid call of each tool, its output at OUT."""
    w = root / "w"
    t, p = w / "T", w / "P"
    return {
        "p2g-rescale": ["--prefix", f"{root}/P/", "--out", "OUT"],
        "p2g-mask": ["--rescaled", p / "rescale", "--out", "OUT"],
        "p2g-features": ["--rescaled", p / "rescale", "--mask", p / "mask", "--out", "OUT", "--encoder", "texture"],
        "p2g-genes": ["--counts", root / "T" / "cnts.tsv", "--out", "OUT"],
        "p2g-folds": ["--rescaled", t / "rescale", "--mask", t / "mask", "--features", t / "features",
                      "--genes", w / "genes", "--out", "OUT"],
        "p2g-train": ["--trainset", w / "folds", "--out", "OUT", "--epochs", 1],
        "p2g-select": ["--trainset", w / "folds", "--trained", w / "trained", "--out", "OUT"],
        "p2g-predict": ["--features", p / "features", "--mask", p / "mask", "--model", w / "model", "--out", "OUT"],
        "p2g-combine": ["--pred", w / "pred", "--rescaled", p / "rescale", "--mask", p / "mask", "--out", "OUT"],
        "p2g-export": ["--result", w / "result", "--rescaled", p / "rescale", "--out", "OUT.h5ad"],
        "p2g-maps": ["--result", w / "result", "--rescaled", p / "rescale", "--out", "OUT"],
        "p2g-evaluate": ["--rescaled", t / "rescale", "--mask", t / "mask", "--trainset", w / "folds",
                         "--model", w / "model", "--out", "OUT"],
        "p2g-report": ["--result", w / "result", "--maps", w / "maps", "--out", "OUT.html"],
        "p2g-cells": ["--result", w / "result", "--rescaled", p / "rescale", "--segmentation", root / "cells.geojson",
                      "--out", "OUT", "--thumbnail-px", 0],
        "p2g-domains": ["--result", w / "result", "--rescaled", p / "rescale", "--out", "OUT", "--domains", 2],
        "p2g-spatialdata": ["--result", w / "result", "--rescaled", p / "rescale", "--out", "OUT.zarr"],
        "p2g-run": ["--train", f"{root}/T/", "--predict", f"{root}/P/", "--outdir", "OUT", "--encoder", "texture"],
    }[tool]


def option_value(argv, option, value):
    """argv with `option`'s value(s) replaced by `value` (added when absent)."""
    argv = list(map(str, argv))
    if option not in argv:
        return argv + [option, str(value)]
    i = argv.index(option) + 1
    j = i
    while j < len(argv) and not argv[j].startswith("--"):
        j += 1
    return argv[:i] + [str(value)] + argv[j:]


def upstream_cases(tool, root):
    """For every option that names an upstream step's folder: a missing one, a user folder, another step's."""
    wrong_step = {"rescale": "mask", "mask": "rescale"}
    w = root / "w"
    steps = {"rescale": w / "P" / "rescale", "mask": w / "P" / "mask", "features": w / "P" / "features",
             "genes": w / "genes", "folds": w / "folds", "train": w / "model", "predict": w / "pred",
             "combine": w / "result", "maps": w / "maps", "evaluate": w / "eval"}
    for f in fields(TOOLS[tool].Args):
        if "upstream" not in f.metadata:
            continue
        step = f.metadata["upstream"].STEP
        option = "--" + f.name.replace("_", "-")
        other = steps[wrong_step.get(step, "rescale")]
        for label, value in (("missing", root / "nowhere"), ("user folder", root / "P"), ("other step", other)):
            yield f"{option} {label}", option, value


def cases():
    for tool in TOOLS:
        for out_case in ("out is a file", "out is a user folder"):
            yield tool, out_case, None, None
        if any(f.name == "device" for f in fields(TOOLS[tool].Args)):
            for value in ("gpu", "cuda:x", "cuda:99"):
                yield tool, f"--device {value}", "--device", value
        yield tool, "upstream", None, None
    for option, value in (("--epochs", 0), ("--n-genes", 0), ("--n-folds", 0), ("--map-top", -1),
                          ("--threads", -1), ("--encoder", "nope"), ("--gene-list", "/nowhere.txt"),
                          ("--mask-file", "P"), ("--mask-file", "nobody=x.png"), ("--truth", "P"),
                          ("--device", "tpu"), ("--fold-block-um", 0)):
        yield "p2g-run", f"{option} {value}", option, value
    for tool, option, value in (("p2g-train", "--epochs", 0), ("p2g-genes", "--n-genes", 0),
                                ("p2g-folds", "--n-folds", 0), ("p2g-folds", "--fold-block-um", -5),
                                ("p2g-maps", "--map-px", 8),
                                ("p2g-maps", "--map-genes", "NOT_A_GENE"), ("p2g-train", "--folds", "0,9")):
        yield tool, f"{option} {value}", option, value


def call(tool, argv, capfd):
    module = TOOLS[tool]
    capfd.readouterr()
    try:
        rc = cli.main(module.Args, module.run, "", list(map(str, argv)))
    except SystemExit as exc:  # argparse
        rc = exc.code
    return rc, capfd.readouterr().err


def assert_one_line_error(rc, err, what):
    lines = [line for line in err.strip().splitlines() if not line.startswith("[p2g]")]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), (what, rc, err)
    assert "Traceback" not in err, (what, err)
    return lines[0]


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.mark.parametrize("tool, case, option, value", list(cases()), ids=lambda x: str(x))
def test_bad_input_fails_in_one_line_and_leaves_nothing(up, tmp_path, capfd, tool, case, option, value):
    base = [str(a).replace("OUT", str(tmp_path / "out")) for a in good_argv(tool, up)]
    out = Path(next(a for a in base if str(tmp_path / "out") in a))
    runs = []
    if case == "out is a file":
        out.write_text("mine")
        runs.append((case, base))
    elif case == "out is a user folder":
        mine = out / "P" if tool == "p2g-run" else out  # an outdir may exist; its P/ is the result P would replace
        mine.mkdir(parents=True)
        (mine / "mine.txt").write_text("mine")
        runs.append((case, base))
    elif case == "upstream":
        runs += [(label, option_value(base, opt, val)) for label, opt, val in upstream_cases(tool, up)]
    else:
        runs.append((case, option_value(base, option, value)))
    before_up = listing(up)
    for label, argv in runs:
        before = listing(tmp_path)
        rc, err = call(tool, argv, capfd)
        msg = assert_one_line_error(rc, err, f"{tool} {label}")
        assert listing(tmp_path) == before, (tool, label, "left output behind")
        if case.startswith("out is"):
            assert "--out" in msg, msg
    assert listing(up) == before_up


def test_a_run_that_failed_on_bad_input_wrote_nothing(up, tmp_path, capfd):
    """p2g-run checks its options before the first step: no work/ folder appears."""
    base = [str(a).replace("OUT", str(tmp_path / "out")) for a in good_argv("p2g-run", up)]
    rc, err = call("p2g-run", option_value(base, "--epochs", 0), capfd)
    assert_one_line_error(rc, err, "--epochs 0")
    assert not (tmp_path / "out").exists()


def test_unknown_map_genes_fail_before_training(up, tmp_path, capfd):
    base = [str(a).replace("OUT", str(tmp_path / "out")) for a in good_argv("p2g-run", up)]
    rc, err = call("p2g-run", base + ["--map-genes", "NOT_A_GENE", "--epochs", 1, "--n-folds", 2, "--threads", 1],
                   capfd)
    msg = assert_one_line_error(rc, err, "--map-genes")
    assert "--map-genes" in msg and "NOT_A_GENE" in msg
    assert "step 8/" not in err and not (tmp_path / "out" / "work" / "model").exists()  # genes is step 7


def test_a_wrong_fix_is_never_suggested_for_a_cut_off_table(up, tmp_path, capfd):
    shutil.copytree(up / "T", tmp_path / "T")
    text = (tmp_path / "T" / "cnts.tsv").read_text()
    (tmp_path / "T" / "cnts.tsv").write_text(text[:len(text) * 2 // 3])  # cut in the middle of a row
    rc, err = call("p2g-rescale", ["--prefix", f"{tmp_path}/T/", "--out", tmp_path / "r", "--measured"], capfd)
    msg = assert_one_line_error(rc, err, "truncated table")
    assert "cnts.tsv" in msg and "cut off" in msg


@pytest.mark.parametrize("raw, target, blamed, words", [
    ("250", None, "pixel-size-raw.txt", "nm"),             # nm written for µm: a 750 GB image
    ("0.00025", None, "pixel-size-raw.txt", "mm"),
    ("0.8", "0.0005", "pixel-size.txt", "write 0.5"),        # the target is the wrong one
    ("0.8", "400", "pixel-size.txt", "write 0.5"),
])
def test_pixel_sizes_in_the_wrong_unit_blame_the_right_file(up, tmp_path, capfd, raw, target, blamed, words):
    shutil.copytree(up / "P", tmp_path / "P")
    (tmp_path / "P" / "pixel-size-raw.txt").write_text(raw)
    if target:
        (tmp_path / "P" / "pixel-size.txt").write_text(target)
    rc, err = call("p2g-rescale", ["--prefix", f"{tmp_path}/P/", "--out", tmp_path / "r"], capfd)
    msg = assert_one_line_error(rc, err, raw)
    assert msg.startswith(f"error: {tmp_path}/P/{blamed}:") and words in msg, msg
    assert not (tmp_path / "r").exists()


def test_not_enough_disk_for_the_rescaled_image(up, tmp_path, capfd, monkeypatch):
    import collections
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 ** 9, 10 ** 9 - 1000, 1000))
    rc, err = call("p2g-rescale", ["--prefix", f"{up}/P/", "--out", tmp_path / "r"], capfd)
    msg = assert_one_line_error(rc, err, "disk")
    assert "free" in msg and "--out" in msg and not (tmp_path / "r").exists()


@pytest.mark.parametrize("tool, argv, what", [
    ("p2g-predict", lambda w: ["--features", w / "P" / "features", "--mask", w / "P" / "mask", "--model", w / "model"],
     "fold predictions"),
    ("p2g-combine", lambda w: ["--pred", w / "pred", "--rescaled", w / "P" / "rescale", "--mask", w / "P" / "mask"],
     "gene maps"),
])
def test_not_enough_disk_for_predictions_or_maps(up, tmp_path, capfd, monkeypatch, tool, argv, what):
    import collections
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 ** 9, 10 ** 9 - 100, 100))
    rc, err = call(tool, [*argv(up / "w"), "--out", tmp_path / "o"], capfd)
    msg = assert_one_line_error(rc, err, "disk")
    assert what in msg and "free" in msg and "--out" in msg and not (tmp_path / "o").exists()


def test_a_damaged_jpeg_is_refused(up, tmp_path, capfd):
    shutil.copytree(up / "P", tmp_path / "P")
    data = bytearray((tmp_path / "P" / "he-raw.jpg").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 300] = bytes(300)  # corrupt entropy-coded data: libjpeg warns and goes on
    (tmp_path / "P" / "he-raw.jpg").write_bytes(bytes(data))
    rc, err = call("p2g-rescale", ["--prefix", f"{tmp_path}/P/", "--out", tmp_path / "r"], capfd)
    msg = assert_one_line_error(rc, err, "damaged jpeg")
    assert "he-raw.jpg" in msg and "damaged" in msg and not (tmp_path / "r").exists()


def test_a_pickled_npy_mask_is_refused(up, tmp_path, capfd):
    np.save(tmp_path / "mask.npy", np.array([{"tissue": 1}], dtype=object), allow_pickle=True)
    rc, err = call("p2g-mask", ["--rescaled", up / "w" / "P" / "rescale", "--out", tmp_path / "m",
                                "--mask-file", tmp_path / "mask.npy"], capfd)
    msg = assert_one_line_error(rc, err, "pickled mask")
    assert "mask.npy" in msg and "pickled" in msg and not (tmp_path / "m").exists()


def test_swapped_x_and_y_are_detected():
    from pixel2gene.qc.placement import swapped_xy
    mask = np.zeros((40, 40), bool)
    mask[:20, 20:] = True  # tissue in the top-right quarter only
    rng = np.random.default_rng(0)
    bins = np.c_[rng.uniform(0, 300, 200), rng.uniform(340, 620, 200)]  # bottom-left: x = column, y = row
    assert swapped_xy(bins, mask) is not None  # read the other way round, they all lie on the tissue
    assert swapped_xy(bins[:, ::-1], mask) is None
    on = np.c_[rng.uniform(340, 620, 200), rng.uniform(0, 300, 200)]
    assert swapped_xy(np.r_[on, bins[:50]], mask) is None  # most bins on tissue: no warning


def test_the_folds_step_warns_about_swapped_coordinates(up, tmp_path, capfd):
    """Only the top half of the disc is tissue; the bins kept lie bottom-left, so read as (y, x) they are on it."""
    import pandas as pd
    w = up / "w"
    shutil.copytree(w / "T" / "rescale", tmp_path / "rescale")
    shutil.copytree(w / "T" / "mask", tmp_path / "mask")
    mask = np.load(tmp_path / "mask" / "mask.npy")
    centre = json.loads((tmp_path / "rescale" / "sample.json").read_text())["shape"][0] / 2  # the disc's centre
    locs = pd.read_parquet(tmp_path / "rescale" / "locs.parquet")
    on_disc = mask[(locs["y"] // 16).astype(int), (locs["x"] // 16).astype(int)]
    locs = locs[on_disc & (locs["y"] > centre + 8) & (locs["x"] < centre - 8)]
    assert len(locs) >= 1
    locs.to_parquet(tmp_path / "rescale" / "locs.parquet")
    mask[int(centre // 16):] = False
    np.save(tmp_path / "mask" / "mask.npy", mask)
    shutil.copytree(w / "T" / "features", tmp_path / "features")  # the features of the cut mask's tissue
    grid = np.full(mask.shape, -1)
    grid[np.load(w / "T" / "mask" / "mask.npy")] = np.arange(len(np.load(w / "T" / "features" / "features.npy")))
    np.save(tmp_path / "features" / "features.npy", np.load(w / "T" / "features" / "features.npy")[grid[mask]])
    rc, err = call("p2g-folds", ["--rescaled", tmp_path / "rescale", "--mask", tmp_path / "mask", "--features",
                                 tmp_path / "features", "--genes", w / "genes", "--out", tmp_path / "f"], capfd)
    found = re.search(r"locs-raw.tsv: 0% of the bins lie on tissue, but (\d+)% would with x and y swapped", err)
    assert found and int(found.group(1)) >= 90, err
    assert rc == 0  # a warning: the disks of bins near the cut still touch tissue, so the step goes on
