#!/usr/bin/env bash
# Design settings re-chosen by spatial CV on the training section only (HER2ST C2), never on C3 / C4 /
# the held-out block: for each alternative, the out-of-fold composition r of the form `--select auto`
# chooses on C2 (model.json: selection.cv_composition_r[selection.choice]). The rule that turns these
# numbers into defaults is written in docs/benchmarks.md ("Design settings by CV on C2").
# Usage: bench/design_cv.sh OUTDIR   (about 40 min on 2 CPU cores; intermediates are removed at the end)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$repo/../shared}
c2=$shared/data/her2st/C2/
out=${1:?usage: bench/design_cv.sh OUTDIR}
mkdir -p "$out"

cv() {  # cv LABEL MODEL_JSON: one line "LABEL  chosen form  CV r  kept epoch"
    python - "$1" "$2" <<'EOF'
import json, sys
sel = json.load(open(sys.argv[2]))["selection"]
print(f"{sys.argv[1]:<24} {sel['choice']:<36} cv {sel['cv_composition_r'][sel['choice']]:.4f} "
      f"epoch {sel.get('mlp_epoch')}")
EOF
}

# Encoders: the whole chain on C2 (C2 predicted too, which p2g-run needs; its maps are not drawn).
default=$(python -c "from pixel2gene.steps.features import DEFAULT_ENCODER as d; print(d)")
for enc in effnet-lite0 effnet-lite2 texture; do
    p2g-run --train "$c2" --predict "$c2" --outdir "$out/enc-$enc" --encoder "$enc" --map-top 0 \
        > "$out/enc-$enc.log" 2>&1
    cv "encoder $enc" "$out/enc-$enc/work/model/model.json" | tee -a "$out/design_cv.txt"
done

# Training settings: p2g-train alone on the C2 training set of the encoder the rule keeps (the best by CV
# r if it beats the current default by 0.005 or more, else the default).
best=$(awk -v d="$default" '/^encoder/ {for (i = 1; i <= NF; i++) if ($i == "cv") r[$2] = $(i + 1)}
    END {b = d; for (e in r) if (r[e] >= r[d] + 0.005 && r[e] > r[b]) b = e; print b}' \
    "$out/design_cv.txt")
folds="$out/enc-$best/work/C2/folds"
for opt in "--lr 1e-4" "--lr 1e-3" "--batch 16" "--batch 64"; do
    label=$(echo "$opt" | tr -d '-' | tr ' ' '-')
    # shellcheck disable=SC2086
    p2g-train --data "$folds" --out "$out/train-$label" $opt > "$out/train-$label.log" 2>&1
    cv "$best $opt" "$out/train-$label/model.json" | tee -a "$out/design_cv.txt"
done
# only the folders this script made: OUTDIR may hold other things
for enc in effnet-lite0 effnet-lite2 texture; do rm -rf "${out:?}/enc-$enc"; done
for opt in lr-1e4 lr-1e3 batch-16 batch-64; do rm -rf "${out:?}/train-$opt"; done
