import contextlib
import io
import os
import runpy
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the repository; P2G_SHARED points elsewhere (e.g. from a git worktree)
SHARED = Path(os.environ.get("P2G_SHARED") or REPO.parent / "shared")
sys.path.insert(0, str(REPO))

from synthetic import make_sample  # noqa: E402


def groovy_missing(jars):
    """Why the Groovy-based checks cannot run here, in words that are true; None when they can."""
    if not shutil.which("java"):
        return "Java is not installed"
    missing = [str(j) for j in jars if not os.path.isfile(j)]
    if missing:
        return f"the Groovy 4 jar {missing[0]} is missing (.ci/run installs it; or set P2G_GROOVY_LIB)"
    return None


def need_groovy(jars):
    why = groovy_missing(jars)
    if why:
        if os.environ.get("P2G_REQUIRE_LINTERS") == "1":
            pytest.fail(f"{why} (CI installs it in .ci/run)")
        pytest.skip(why)


def run_tool(name, *args, check=True, cwd=None, env=None, process=False):
    """Run a bin/ tool as Nextflow and users do: its own script, argv, exit code and stderr.

    In this process by default (runpy over the same bin/ script: no second interpreter and torch import per
    call); process=True starts a real one, for the few tests that are about the process itself.
    P2G_DEBUG is on either way: an internal error shows its traceback, which fails a one-line-error test.
    """
    argv = [str(REPO / "bin" / name), *map(str, args)]
    settings = dict(env or {}, P2G_DEBUG="1")
    if process:
        full = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **settings)
        proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=full, cwd=cwd)
    else:
        proc = _in_this_process(argv, settings, cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def _in_this_process(argv, settings, cwd):
    import torch
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv, os.getcwd(), torch.get_num_threads(), {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    sys.argv = argv
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(argv[0], run_name="__main__")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            except Exception:  # what an uncaught error does to a process: a traceback and status 1
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = saved[0]
        os.chdir(saved[1])
        torch.set_num_threads(saved[2])  # a tool's --threads must not outlive its call
        for k, v in saved[3].items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models train fastest on one thread when the cores are shared (CI has two)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """A measured training sample and an unmeasured, rotated prediction sample."""
    root = tmp_path_factory.mktemp("synthetic")
    train_regions = make_sample(f"{root}/train/", seed=0)
    test_regions = make_sample(f"{root}/test/", seed=1, rotate=1.0, measured=False)
    return {"root": root, "train": f"{root}/train/", "test": f"{root}/test/",
            "train_regions": train_regions, "test_regions": test_regions}


@pytest.fixture(scope="session")
def chain(synthetic, tmp_path_factory):
    """The whole local chain run once on the synthetic samples (few epochs, 3 folds)."""
    out = tmp_path_factory.mktemp("run")
    proc = run_tool("p2g-run", "--train", synthetic["train"], "--predict", synthetic["test"],
                    "--predict", synthetic["train"], "--outdir", out, "--epochs", 60, "--n-folds", 3,
                    "--threads", 1, "--truth", f"train={synthetic['train']}", "--map-top", 4,
                    process=True)  # the whole chain once as users run it: a process of its own
    return {"out": out, "log": proc.stderr, **synthetic}
