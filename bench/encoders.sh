#!/usr/bin/env bash
# One row per encoder of the HER2ST table in docs/encoders.md: bench/her2st.sh with only --encoder changed.
# hipt runs with random weights unless HIPT_WEIGHTS="vit256_small_dino.pth vit4k_xs_dino.pth" is set.
# Intermediate files (about 20 GB per encoder) are removed after scoring; the logs stay.
# Usage: bench/encoders.sh OUTDIR [encoder ...]   (default: texture effnet-lite0 effnet-lite2 hipt)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/encoders.sh OUTDIR [encoder ...]}
shift
encoders=("${@:-texture effnet-lite0 effnet-lite2 hipt}")
# shellcheck disable=SC2206
encoders=(${encoders[*]})
mkdir -p "$out"
for enc in "${encoders[@]}"; do
    extra=(--encoder "$enc")
    if [ "$enc" = hipt ]; then
        if [ -n "${HIPT_WEIGHTS:-}" ]; then
            # shellcheck disable=SC2206
            extra+=(--weights $HIPT_WEIGHTS)
        else
            extra+=(--random-init)
        fi
    fi
    bash "$repo/bench/her2st.sh" "$out/$enc" "${extra[@]}" 2>&1 | grep -v "%" > "$out/$enc.log"
    grep -E "score|floor|Elapsed|Maximum" "$out/$enc.log" | sed "s/^/$enc: /"
    rm -rf "$out/$enc/inference/work" "$out/$enc/enhancement/work"
done
