"""Issue #30: a work file replaced by an object array, cut short, or carrying a pickle is named, never loaded, and
the fix is said; through p2g-run, as users meet it."""
import os
import shutil

import numpy as np
import pytest

from conftest import run_tool


class Payload:
    """What a hostile .npy carries: unpickling it would create a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def small_run(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("tampered")
    args = ("p2g-run", "--train", synthetic["train"], "--predict", synthetic["test"], "--outdir", out / "o",
            "--encoder", "texture", "--epochs", 2, "--n-folds", 3, "--threads", 1, "--map-top", 1)
    run_tool(*args)
    return out, args


def rerun_with(small_run, tmp_path, tamper, redo):
    """A copy of the run with one work file tampered and the steps after it removed, run again."""
    out, args = small_run
    run = tmp_path / "o"
    shutil.copytree(out / "o", run)
    tamper(run / "work")
    for folder in redo:
        shutil.rmtree(run / folder)
    return run, run_tool(*[str(run) if a == out / "o" else a for a in args], check=False)


@pytest.mark.parametrize("case", ["object array", "truncated", "pickle that runs code"])
def test_a_tampered_work_file_is_named_and_never_loaded(case, small_run, tmp_path):
    marker = tmp_path / "unpickled"
    target = {"object array": "test/mask/mask.npy", "truncated": "test/features-texture/features.npy",
              "pickle that runs code": "test/mask/mask.npy"}[case]

    def tamper(work):
        path = work / target
        if case == "truncated":
            os.truncate(path, path.stat().st_size // 2)
        else:
            payload = Payload(marker) if case.startswith("pickle") else {"not": "a mask"}
            np.save(path, np.array([payload], dtype=object), allow_pickle=True)
    redo = ["test"] + (["work/test/pred"] if case == "truncated" else [])
    run, proc = rerun_with(small_run, tmp_path, tamper, redo)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert last.startswith(f"error: {run / 'work' / target}: is not as pixel2gene wrote it"), last
    assert "it was not loaded" in last and f"delete the folder {(run / 'work' / target).parent}" in last
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()  # the pickle never ran
