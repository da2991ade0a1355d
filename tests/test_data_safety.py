"""No run may remove or replace anything it did not write: inputs stay byte-identical."""
import hashlib
import shutil

import numpy as np
import pytest

from conftest import run_tool
from synthetic import make_sample


def snapshot(root):
    """Every file under root with its content hash."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(proc, *words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small measured sample and an unmeasured one, made once; tests copy them."""
    root = tmp_path_factory.mktemp("small")
    make_sample(f"{root}/T/", size_um=480, seed=0)
    make_sample(f"{root}/P/", size_um=480, seed=1, rotate=1.0, measured=False)
    return root


@pytest.fixture
def data(small, tmp_path):
    shutil.copytree(small, tmp_path / "data")
    return tmp_path / "data"


FAST = ("--encoder", "texture", "--epochs", 2, "--n-folds", 2, "--threads", 1, "--map-top", 1)


def p2g_run(*args, cwd=None):
    return run_tool("p2g-run", *args, cwd=cwd, check=False)


def test_outdir_holding_the_inputs_is_refused(data):
    """Issue 12 reproduction 1: --outdir data would replace the input folder data/P with P's results."""
    before = snapshot(data)
    proc = p2g_run("--train", data / "T", "--predict", data / "P", "--outdir", data, *FAST)
    one_line_error(proc, "--outdir", str(data))
    assert snapshot(data) == before


def test_current_folder_as_sample_and_outdir(data, tmp_path):
    """Issue 12 reproduction 2: cd S; --train . --predict . named the sample '' and deleted the inputs."""
    before = snapshot(data)
    proc = p2g_run("--train", ".", "--predict", ".", "--outdir", ".", *FAST, cwd=data / "T")
    one_line_error(proc, "--outdir")
    assert snapshot(data) == before
    # with the outdir elsewhere the sample is named after the folder and an existing work/ is kept
    out = tmp_path / "out"
    (out / "work").mkdir(parents=True)
    (out / "work" / "notes.txt").write_text("mine")
    proc = p2g_run("--train", ".", "--predict", ".", "--outdir", "../../out", "--no-keep-work", *FAST,
                   cwd=data / "T")
    assert proc.returncode == 0, proc.stderr
    assert (out / "T" / "gene-names.txt").is_file() and (out / "T.h5ad").is_file()
    # --no-keep-work removed this run's intermediates, and nothing else
    assert sorted(p.name for p in (out / "work").iterdir()) == ["notes.txt"]
    assert (out / "work" / "notes.txt").read_text() == "mine"
    assert snapshot(data) == before


@pytest.mark.parametrize("name", ["work", "model", "genes", "figures", "evaluation"])
def test_sample_names_the_results_need_are_refused(data, tmp_path, name):
    (data / "P").rename(data / name)
    before = snapshot(data)
    proc = p2g_run("--train", data / "T", "--predict", data / name, "--outdir", tmp_path / "out", *FAST)
    one_line_error(proc, f"'{name}'", "rename the folder")
    assert snapshot(data) == before and not (tmp_path / "out").exists()


def test_empty_and_hidden_sample_names_are_refused(data, tmp_path):
    for f in (data / "P").iterdir():
        f.rename(data / f"-{f.name}")  # file prefix data/- names the sample ''
    proc = p2g_run("--train", data / "T", "--predict", f"{data}/-", "--outdir", tmp_path / "out", *FAST)
    one_line_error(proc, "sample name ''", "rename")
    (data / "T").rename(data / ".T")
    proc = p2g_run("--train", data / ".T", "--predict", data / ".T", "--outdir", tmp_path / "out", *FAST)
    one_line_error(proc, "'.T'", "rename")
    assert not (tmp_path / "out").exists()


def test_results_never_replace_what_pixel2gene_did_not_write(data, tmp_path):
    out = tmp_path / "out"
    (out / "P").mkdir(parents=True)
    (out / "P" / "mine.txt").write_text("mine")
    proc = p2g_run("--train", data / "T", "--predict", data / "P", "--outdir", out, *FAST)
    one_line_error(proc, str(out / "P"), "not written by pixel2gene", "--outdir")
    shutil.rmtree(out / "P")
    (out / "P.h5ad").write_text("my own file")
    proc = p2g_run("--train", data / "T", "--predict", data / "P", "--outdir", out, *FAST)
    one_line_error(proc, "P.h5ad", "not written by pixel2gene")
    assert (out / "P.h5ad").read_text() == "my own file"
    assert sorted(p.name for p in out.iterdir()) == ["P.h5ad"]  # refused before anything was written
    (out / "P.h5ad").unlink()
    (out / "P.html").mkdir()
    proc = p2g_run("--train", data / "T", "--predict", data / "P", "--outdir", out, *FAST)
    one_line_error(proc, "P.html")


def test_outdir_that_is_a_file(data, tmp_path):
    (tmp_path / "out").write_text("x")
    proc = p2g_run("--train", data / "T", "--predict", data / "P", "--outdir", tmp_path / "out", *FAST)
    one_line_error(proc, "is a file", "--outdir")
    assert (tmp_path / "out").read_text() == "x"


def test_a_tool_never_replaces_a_foreign_folder_or_its_own_input(data, tmp_path):
    r, m = tmp_path / "r", tmp_path / "m"
    run_tool("p2g-rescale", "--prefix", f"{data}/P/", "--out", r)
    before = snapshot(r)
    m.mkdir()
    (m / "mine.txt").write_text("mine")
    one_line_error(run_tool("p2g-mask", "--rescaled", r, "--out", m, check=False), str(m), "--out")
    assert (m / "mine.txt").read_text() == "mine"
    one_line_error(run_tool("p2g-mask", "--rescaled", r, "--out", r, check=False), "--rescaled", "--out")
    one_line_error(run_tool("p2g-mask", "--rescaled", r, "--out", tmp_path, check=False), "--rescaled")
    assert snapshot(r) == before
    run_tool("p2g-mask", "--rescaled", r, "--out", tmp_path / "m2")
    proc = run_tool("p2g-features", "--rescaled", r, "--mask", tmp_path / "m2", "--out", r, "--encoder", "texture",
                    check=False)
    one_line_error(proc, "--rescaled")
    # an output of another step is not this step's to replace
    proc = run_tool("p2g-rescale", "--prefix", f"{data}/P/", "--out", tmp_path / "m2", check=False)
    one_line_error(proc, "p2g-mask output", "--out")
    assert snapshot(r) == before


def test_a_wrong_upstream_folder_is_named(data, tmp_path):
    r = tmp_path / "r"
    run_tool("p2g-rescale", "--prefix", f"{data}/P/", "--out", r)
    run_tool("p2g-mask", "--rescaled", r, "--out", tmp_path / "m")
    proc = run_tool("p2g-features", "--rescaled", tmp_path / "m", "--mask", tmp_path / "m", "--out", tmp_path / "f",
                    "--encoder", "texture", check=False)
    one_line_error(proc, "p2g-mask output, not a p2g-rescale one", "--rescaled")
    proc = run_tool("p2g-mask", "--rescaled", data / "P", "--out", tmp_path / "m3", check=False)
    one_line_error(proc, "not a p2g-rescale output", "--rescaled")
    proc = run_tool("p2g-mask", "--rescaled", tmp_path / "nowhere", "--out", tmp_path / "m3", check=False)
    one_line_error(proc, "folder is missing", "--rescaled")
    assert not (tmp_path / "f").exists() and not (tmp_path / "m3").exists()


def test_a_killed_steps_partial_folder_is_removed_on_the_next_run(data, tmp_path):
    r = tmp_path / "r"
    run_tool("p2g-rescale", "--prefix", f"{data}/P/", "--out", r)
    left = tmp_path / ".m.k1ll3d_x.partial"  # what atomic_dir names a temp folder of output m
    left.mkdir()
    (left / "mask.npy").write_bytes(b"half")
    foreign = [tmp_path / ".m.mine.partial", tmp_path / "m.k1ll3d_x.partial", tmp_path / ".mm.k1ll3d_x.partial"]
    for f in foreign:
        f.mkdir()
    run_tool("p2g-mask", "--rescaled", r, "--out", tmp_path / "m")
    assert not left.exists() and all(f.is_dir() for f in foreign)
    assert np.load(tmp_path / "m" / "mask.npy").any()
