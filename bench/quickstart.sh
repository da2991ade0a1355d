#!/usr/bin/env bash
# The README quick start's numbers: its commands in order in a fresh virtual environment (PyTorch's
# CPU build, then `pip install .`), then its p2g-run on the bundled example; wall and CPU time, peak
# memory, and the training step's time from run.json. Prints the date, commit and machine.
# TORCH_INDEX=https://download.pytorch.org/whl/cpu is the README's index (left out where a CPU build
# is what PyPI gives, as on the project's machine).
# Usage: bench/quickstart.sh [OUTDIR]   (--no-install: time only p2g-run, with the p2g-run on PATH)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/bench/provenance.sh"
install=1
[ "${1:-}" = "--no-install" ] && { install=0; shift; }
out=${1:-$repo/bench-data/quickstart}
rm -rf "$out" && mkdir -p "$out"
provenance "$repo"


run=p2g-run
timed() {  # timed LABEL CMD...: run quietly, print the seconds it took
    local start=$(date +%s.%N)
    "${@:2}" >>"$out/pip.log" 2>&1
    printf '%s: %.0f s\n' "$1" "$(echo "$(date +%s.%N) - $start" | bc)"
}
if [ $install = 1 ]; then  # the README's commands, in order, in a fresh virtual environment
    python -m venv "$out/venv"
    timed "pip install torch (CPU build)" "$out/venv/bin/pip" install -q "torch==2.13.0" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
    timed "pip install ." bash -c "cd '$repo' && '$out/venv/bin/pip' install -q ."
    run=$out/venv/bin/p2g-run
fi
(cd "$repo" && /usr/bin/time -v -o "$out/run.time" "$run" --train assets/example/train/ --predict assets/example/test/ \
    --outdir "$out/results" --device cpu 2>"$out/run.log")
python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
t = open(f"{out}/run.time").read()
num = lambda key: next(line.rsplit(": ", 1)[1] for line in t.splitlines() if key in line).strip()
wall = [float(x) for x in num("Elapsed (wall clock) time").split(":")]
wall = sum(v * 60 ** i for i, v in enumerate(reversed(wall)))
cpu = float(num("User time")) + float(num("System time"))
peak = int(num("Maximum resident set size")) / 1024 ** 2
steps = json.load(open(f"{out}/results/run.json"))["steps"]
train = sum(s["seconds"] for s in steps if s["step"].startswith("train"))
print(f"p2g-run: {wall:.0f} s wall, {cpu:.0f} s CPU, {peak:.1f} GiB peak memory; training {train:.0f} s")
PY
