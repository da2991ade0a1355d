"""The GPU benchmark's own plumbing, on the CPU: GPU samples attributed to the steps they fall in."""
import importlib.util
import os
import stat
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAKE_SMI = """#!/bin/sh
# stands in for nvidia-smi: -L names a GPU; a query prints a busy sample every 50 ms
if [ "$1" = "-L" ]; then echo "GPU 0: Fake GPU"; exit 0; fi
while true; do echo "$(date '+%Y/%m/%d %H:%M:%S.%N' | cut -c1-23), 87, 40, 1234, 300.5"; sleep 0.05; done
"""


def load_bench():
    spec = importlib.util.spec_from_file_location("gpu_her2st", REPO / "bench" / "gpu_her2st.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_are_attributed_to_the_steps_they_fall_in(tmp_path, monkeypatch):
    bench = load_bench()
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(FAKE_SMI)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    log = bench.Log(tmp_path / "log.txt")
    sampler = bench.GpuSampler(tmp_path / "gpu.csv", log)
    script = ("import sys, time\n"
              "for k in (1, 2):\n"
              "    print(f'[p2g] step {k}/2: s{k}', file=sys.stderr, flush=True)\n"
              "    time.sleep(0.6)\n")
    run = log.timed("fake run", [sys.executable, "-c", script], tmp_path / "time.txt")
    time.sleep(0.2)
    sampler.stop()
    samples = sampler.samples()
    assert run["returncode"] == 0 and len(samples) >= 10
    windows = bench.step_windows(log, run)
    assert [w[0] for w in windows] == ["s1", "s2"] and windows[1][2] == run["end"]
    # each step runs from its own line to the next one's: the windows follow each other without a gap
    assert run["start"] <= windows[0][1] < windows[0][2] == windows[1][1] < windows[1][2]
    inside = [s for s in samples if windows[0][1] <= s[0] < windows[1][2]]
    counted = 0
    for _, t0, t1 in windows:
        u = bench.utilisation(samples, t0, t1)
        assert u["gpu_mean"] == 87 and u["busy_frac"] == 1 and u["mem_max_mib"] == 1234
        counted += u["samples"]
    assert counted == len(inside)  # every sample of the run lands in exactly one step
    assert bench.utilisation(samples, 0, 1) is None
