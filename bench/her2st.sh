#!/usr/bin/env bash
# HER2ST benchmark: the three splits of ../shared/data/her2st, default settings,
# scored with the referee's scorer; wall time and peak memory from /usr/bin/time.
# Usage: bench/her2st.sh [OUTDIR] [extra p2g-run flags, e.g. --device cuda]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/bench/provenance.sh"
shared=${SHARED:-$repo/../shared}
data=$shared/data/her2st
score=$shared/bench/her2st.py
out=${1:-$repo/bench-data/her2st}
shift || true
mkdir -p "$out"
provenance "$repo"

timed() {  # timed NAME CMD...: run, keep /usr/bin/time -v's report
    /usr/bin/time -v -o "$out/$1.time" "${@:2}"
    grep -E "Elapsed|Maximum resident" "$out/$1.time" | sed "s/^/$1: /"
}

timed inference p2g-run --train "$data/C2/" --predict "$data/C3/" --predict "$data/C4/" --outdir "$out/inference" \
    --truth "C3=$data/C3/truth/" --truth "C4=$data/C4/truth/" --map-genes ERBB2 "$@"
timed enhancement p2g-run --train "$data/C2-fold0/" --predict "$data/C2-fold0/" --outdir "$out/enhancement" \
    --truth "C2-fold0=$data/C2-fold0/heldout/" --map-genes ERBB2 "$@"

for s in C3 C4; do
    echo "$s score: $(python "$score" score --pred "$out/inference/$s" --truth-cnts "$data/$s/truth/cnts.tsv.gz" \
        --truth-locs "$data/$s/truth/locs-raw.tsv" --pixel-size-raw "$data/$s/pixel-size-raw.txt" \
        --train-cnts "$data/C2/cnts.parquet")"
    echo "$s floor: $(python "$score" floor --train "$data/C2/" --test "$data/$s/" \
        --truth-cnts "$data/$s/truth/cnts.tsv.gz" --truth-locs "$data/$s/truth/locs-raw.tsv")"
done
h=$data/C2-fold0/heldout
echo "held-out score: $(python "$score" score --pred "$out/enhancement/C2-fold0" --truth-cnts "$h/cnts.tsv.gz" \
    --truth-locs "$h/locs-raw.tsv" --pixel-size-raw "$data/C2-fold0/pixel-size-raw.txt" \
    --train-cnts "$data/C2-fold0/cnts.tsv")"
echo "held-out floor: $(python "$score" floor --train "$data/C2-fold0/" --test "$data/C2-fold0/" \
    --truth-cnts "$h/cnts.tsv.gz" --truth-locs "$h/locs-raw.tsv")"
# disk: each predicted section's intermediates (work/), results and h5ad, as a run leaves them
for s in C3 C4; do
    echo "disk $s: work $(du -sm "$out/inference/work/$s" | cut -f1) MB, results $(du -sm "$out/inference/$s" | cut -f1) MB, h5ad $(du -sm "$out/inference/$s.h5ad" | cut -f1) MB"
done
