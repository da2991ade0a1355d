"""The code in docs/results.md runs as written on the quick start's results."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO


def python_blocks():
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / "results.md").read_text(), flags=re.S)


def run_block(code, chain, tmp_path):
    (tmp_path / "results").symlink_to(chain["out"])  # the chain run predicts 'test', as the quick start does
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_anndata_example_runs(chain, tmp_path):
    blocks = python_blocks()
    assert len(blocks) == 2 and "scanpy" not in blocks[0]
    out = run_block(blocks[0], chain, tmp_path)
    assert "n_obs" in out and "0.5" in out


def test_the_scanpy_example_runs(chain, tmp_path):
    pytest.importorskip("scanpy", reason="scanpy is not installed (pip install scanpy runs this example too)")
    run_block(python_blocks()[1], chain, tmp_path)
    assert (tmp_path / "test-spatial.png").stat().st_size > 10_000
