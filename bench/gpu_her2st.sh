#!/usr/bin/env bash
# The GPU benchmark of issue #16 in one device call (docs/benchmarks.md, "GPU (not yet measured)").
# Installs the carried wheels in .whl/ (if any) into /tmp/site, then runs bench/gpu_her2st.py into $OUT.
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
