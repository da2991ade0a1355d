"""Issue #30: two p2g-run into one results folder at once: the second stops with one line; a killed run does not
leave the folder locked."""
import json
import os
import signal
import subprocess
import sys
import time

from conftest import REPO, run_tool
from pixel2gene.runner.lock import LOCK_NAME



def start(synthetic, out):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, str(REPO / "bin" / "p2g-run"), "--train", synthetic["train"],
                             "--predict", synthetic["test"], "--outdir", str(out), "--encoder", "texture",
                             "--epochs", "300", "--n-folds", "3", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(path, proc, seconds=120):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() - t0 < seconds, f"{path} never appeared"
        time.sleep(0.1)


def test_a_second_run_into_the_same_folder_stops_while_the_first_goes_on(synthetic, tmp_path):
    out = tmp_path / "results"
    first = start(synthetic, out)
    try:
        wait_for(out / LOCK_NAME, first)
        holder = json.loads((out / LOCK_NAME).read_text() or "{}")
        second = run_tool("p2g-run", "--train", synthetic["train"], "--predict", synthetic["test"], "--outdir", out,
                          "--encoder", "texture", "--epochs", 300, "--n-folds", 3, check=False, process=True)
        assert second.returncode == 2, second.stderr
        line = second.stderr.strip().splitlines()[-1]
        assert line.startswith(f"error: {out}: another p2g-run is writing these results") and "--outdir" in line
        assert not holder or f"pid {first.pid}" in line
        assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
    assert (out / "test.h5ad").is_file() and not (out / LOCK_NAME).exists()  # the first finished, and let go


def test_a_killed_run_leaves_no_lock_behind(synthetic, tmp_path):
    out = tmp_path / "results"
    first = start(synthetic, out)
    wait_for(out / LOCK_NAME, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert (out / LOCK_NAME).exists()  # the file stays; the lock itself went with the process
    run_tool("p2g-run", "--train", synthetic["train"], "--predict", synthetic["test"], "--outdir", out,
             "--encoder", "texture", "--epochs", 2, "--n-folds", 3, "--threads", 1)
    assert (out / "test.h5ad").is_file() and not (out / LOCK_NAME).exists()
