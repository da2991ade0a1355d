#!/usr/bin/env bash
# The GPU benchmark of issue #16 in one device call (docs/benchmarks.md, "GPU (NVIDIA H200, 2026-12-04)").
# Installs the carried wheels in .whl/ (if any) into /tmp/site, then runs bench/gpu_her2st.py into $OUT.
# Only for the device: the carried wheels in .whl/ are for its Python 3.12 (on another Python run bench/gpu_her2st.py).
# Usage: bench/gpu_her2st.sh [--cpu-smoke] [other bench/gpu_her2st.py options]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$repo/bench-data/gpu-out}
py=$(command -v python3)
if compgen -G "$repo/.whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$repo"/.whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
exec "$py" "$repo/bench/gpu_her2st.py" "$out" "$@"
