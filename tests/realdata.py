"""Shared by the HER2ST real-data modules: where the data is, the referee's scorer, a run that fits CI's disk.

Each module holds one p2g-run fixture, so pytest removes one run's results before the next starts: the two
runs' gene maps (about 3 GB per section) never share CI's small disk.
"""
import json
import subprocess
import sys

import pytest

from conftest import SHARED, run_tool

DATA = SHARED / "data" / "her2st"
BENCH = SHARED / "bench" / "her2st.py"
ABSENT = [str(p) for p in (DATA, BENCH) if not p.exists()]
MARKS = [pytest.mark.realdata, pytest.mark.skipif(bool(ABSENT), reason=f"{' and '.join(ABSENT)} not present")]


def bench(*args):
    out = subprocess.run([sys.executable, str(BENCH), *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_on_real_data(*args):
    """p2g-run, skipping (not failing) when the tool's own free-space check refuses the machine's disk: the
    reason names how much was needed; any other failure fails the test."""
    # a process of its own, as users run it: a section's run is minutes, and the test process's heap after
    # hundreds of small runs made it a third slower in-process
    proc = run_tool("p2g-run", *args, "--no-keep-work", check=False, process=True)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    if proc.returncode != 0 and "free disk space" in last:
        pytest.skip(f"this machine's disk is too small for the real-data run: {last}")
    assert proc.returncode == 0, f"p2g-run failed ({proc.returncode}):\n{proc.stderr}"
