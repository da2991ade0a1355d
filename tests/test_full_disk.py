"""Issue #30: a disk that fills while a step writes ends in one line and exit status 2, and leaves nothing behind.

Each step writes into a small tmpfs (mounted here, so these tests need root and skip elsewhere). libhdf5 used to
crash (SIGSEGV, exit 139) at interpreter exit after a failed .h5ad write, after printing tracebacks.
"""
import subprocess

import pytest

from conftest import run_tool


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of that size, unmounted afterwards."""
    mounted = []

    def mount(size: str):
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'mount failed'})")
        mounted.append(where)
        return where
    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], capture_output=True)


def steps(c):
    """(tool, arguments with OUT for the output) of every step, reading the chain fixture's run."""
    o, w = c["out"], c["out"] / "work"
    return {
        "rescale": ("p2g-rescale", "--prefix", c["test"], "--out", "OUT/rescale"),
        "mask": ("p2g-mask", "--rescaled", w / "test" / "rescale", "--out", "OUT/mask"),
        "features": ("p2g-features", "--rescaled", w / "test" / "rescale", "--mask", w / "test" / "mask",
                     "--out", "OUT/features"),
        "genes": ("p2g-genes", "--counts", c["train"] + "cnts.tsv", "--out", "OUT/genes"),
        "folds": ("p2g-folds", "--rescaled", w / "train" / "rescale", "--mask", w / "train" / "mask", "--features",
                  w / "train" / "features-effnet-lite0", "--genes", w / "genes", "--out", "OUT/folds",
                  "--n-folds", 3),
        "train": ("p2g-train", "--trainset", w / "train" / "folds", "--out", "OUT/trained", "--folds", "0",
                  "--epochs", 2),
        "select": ("p2g-select", "--trainset", w / "train" / "folds", "--trained", w / "trained", "--out", "OUT/model"),
        "predict": ("p2g-predict", "--features", w / "test" / "features-effnet-lite0", "--mask",
                    w / "test" / "mask", "--model", w / "model", "--out", "OUT/pred"),
        "combine": ("p2g-combine", "--pred", w / "test" / "pred", "--rescaled", w / "test" / "rescale", "--mask",
                    w / "test" / "mask", "--out", "OUT/result"),
        "export": ("p2g-export", "--result", o / "test", "--rescaled", w / "test" / "rescale",
                   "--out", "OUT/test.h5ad"),
        "maps": ("p2g-maps", "--result", o / "test", "--rescaled", w / "test" / "rescale", "--out", "OUT/maps"),
        "evaluate": ("p2g-evaluate", "--rescaled", w / "train" / "rescale", "--mask", w / "train" / "mask",
                     "--out", "OUT/evaluation", "--result", o / "train", "--trainset", w / "train" / "folds",
                     "--model", w / "model"),
        "report": ("p2g-report", "--result", o / "test", "--out", "OUT/test.html", "--maps", o / "figures" / "test"),
        "run": ("p2g-run", "--train", c["train"], "--predict", c["test"], "--outdir", "OUT/run", "--encoder",
                "texture", "--epochs", 2, "--n-folds", 3, "--threads", 1),
    }


def fails_cleanly(proc, disk):
    """Exit status 2, one error line naming the reason, and no partial output: p2g-run keeps the steps it
    finished (the next run reuses them), nothing else."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr[-3000:]
    assert lines[-1].startswith("error: ") and ("No space left" in lines[-1] or "is free there" in lines[-1]), lines
    assert all(line.startswith(("[p2g]", "error: ")) for line in lines), lines
    left = [p for p in disk.rglob("*") if p.is_file() and not any((q / "step.json").is_file() for q in p.parents)]
    assert not left, left


@pytest.mark.parametrize("step", ["rescale", "mask", "features", "genes", "folds", "train", "predict", "combine",
                                  "export", "maps", "evaluate", "report", "run"])
def test_a_full_disk_ends_in_one_line_and_leaves_nothing(step, chain, small_disk):
    disk = small_disk("4k" if step in ("genes", "evaluate") else "64k")  # their outputs fit in 64k
    tool, *args = steps(chain)[step]
    args = [str(a).replace("OUT", str(disk)) if str(a).startswith("OUT") else a for a in args]
    fails_cleanly(run_tool(tool, *args, check=False, process=True), disk)


def test_an_h5ad_write_that_fails_inside_libhdf5_exits_cleanly(chain, small_disk):
    """Room for X by the free-space check, not for the whole file: the write itself fails inside libhdf5."""
    disk = small_disk("900k")
    o, w = chain["out"], chain["out"] / "work"
    proc = run_tool("p2g-export", "--result", o / "test", "--rescaled", w / "test" / "rescale", "--out",
                    disk / "test.h5ad", "--thumbnail-px", 0, check=False, process=True)
    fails_cleanly(proc, disk)
    assert "No space left on device" in proc.stderr and str(disk / "test.h5ad") in proc.stderr
