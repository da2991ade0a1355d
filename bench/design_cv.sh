#!/usr/bin/env bash
# Design settings re-chosen by spatial CV on the training section only (HER2ST C2), never on C3 / C4 /
# the held-out block: for each alternative, the out-of-fold composition r of the form `--select auto`
# chooses on C2 (model.json: selection.cv_composition_r[selection.choice]). The rule that turns these
# numbers into defaults is written in docs/benchmarks.md ("Design settings by CV on C2").
# Usage: bench/design_cv.sh OUTDIR [STAGE ...]
#   stages, in this order (default: all): encoder, context (the effnet context passes), training (learning
#   rate, batch), decay (weight decay), wider (weight decay past 10 and a 200-epoch ceiling, 2026-12-04:
#   the decay stage's best value was the top of its grid), mask (the detected tissue mask with and without
#   its pale-tissue hysteresis, the whole chain on C2 each). A later stage runs on what the earlier ones keep (read back from
#   OUTDIR/design_cv.txt, else the current default). About 15 min per stage on 2 CPU cores; the folders
#   each stage makes are removed at the end.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$repo/../shared}
c2=$shared/data/her2st/C2/
out=${1:?usage: bench/design_cv.sh OUTDIR [encoder context training decay wider mask]}
shift
stages=${*:-encoder context training decay wider mask}
mkdir -p "$out"
made=()

cv() {  # cv LABEL MODEL_JSON: one line "LABEL  chosen form  CV r  kept epoch"
    python - "$1" "$2" <<'EOF'
import json, sys
sel = json.load(open(sys.argv[2]))["selection"]
print(f"{sys.argv[1]:<24} {sel['choice']:<36} cv {sel['cv_composition_r'][sel['choice']]:.4f} "
      f"epoch {sel.get('mlp_epoch')}")
EOF
}

kept() {  # kept KIND DEFAULT: the alternative of KIND the rule keeps (best by 0.005 or more), else DEFAULT
    awk -v k="$1" -v d="$2" '$1 == k {for (i = 1; i <= NF; i++) if ($i == "cv") r[$2] = $(i + 1)}
        END {b = d; if (!(d in r)) {print d; exit} for (e in r) if (r[e] >= r[d] + 0.005 && r[e] > r[b]) b = e
             print b}' "$out/design_cv.txt" 2>/dev/null || echo "$2"
}

has() { [[ " $stages " == *" $1 "* ]]; }

chain() {  # chain DIR OPTIONS...: the whole chain on C2 (C2 predicted too, which p2g-run needs; no maps)
    local dir=$1; shift
    made+=("$dir")
    p2g-run --train "$c2" --predict "$c2" --outdir "$dir" --map-top 0 "$@" > "$dir.log" 2>&1
}

default_enc=$(python -c "from pixel2gene.features import DEFAULT_ENCODER as d; print(d)")
default_ctx=$(python -c "from pixel2gene.features.efficientnet import DEFAULT_CONTEXT as d; print(d)")

if has encoder; then
    for enc in effnet-lite0 effnet-lite2 texture; do
        chain "$out/enc-$enc" --encoder "$enc"
        cv "encoder $enc" "$out/enc-$enc/work/model/model.json" | tee -a "$out/design_cv.txt"
    done
fi
enc=$(kept encoder "$default_enc")

if has context && [[ $enc == effnet-* ]]; then
    for ctx in 4+8 4 8 none; do
        chain "$out/ctx-$ctx" --encoder "$enc" --context "$ctx"
        cv "context $ctx" "$out/ctx-$ctx/work/model/model.json" | tee -a "$out/design_cv.txt"
    done
fi
ctx=$(kept context "$default_ctx")

# Training settings: p2g-train alone on the C2 training set of what the stages above keep.
train_opts=()
has training && train_opts+=("--lr 1e-4" "--lr 1e-3" "--batch 16" "--batch 64")
has decay && train_opts+=("--weight-decay 0.1" "--weight-decay 1" "--weight-decay 10")
has wider && train_opts+=("--weight-decay 10" "--weight-decay 30" "--weight-decay 100" "--epochs 200")
if [ ${#train_opts[@]} -gt 0 ]; then
    if [ -d "$out/ctx-$ctx/work/C2/folds" ]; then folds=$out/ctx-$ctx/work/C2/folds
    elif [ "$ctx" = "$default_ctx" ] && [ -d "$out/enc-$enc/work/C2/folds" ]; then folds=$out/enc-$enc/work/C2/folds
    else
        folds=$out/base/work/C2/folds
        if [[ $enc == effnet-* ]]; then chain "$out/base" --encoder "$enc" --context "$ctx"
        else chain "$out/base" --encoder "$enc"; fi
    fi
    for opt in "${train_opts[@]}"; do
        label=$(echo "$opt" | tr -d '-' | tr ' ' '-')
        made+=("$out/train-$label")
        # shellcheck disable=SC2086
        p2g-train --trainset "$folds" --out "$out/train-$label/trained" $opt > "$out/train-$label.log" 2>&1
        p2g-select --trainset "$folds" --trained "$out/train-$label/trained" --out "$out/train-$label/model" \
            >> "$out/train-$label.log" 2>&1
        cv "$enc/$ctx $opt" "$out/train-$label/model/model.json" | tee -a "$out/design_cv.txt"
    done
fi
if has mask; then
    for m in pale-tissue no-pale-tissue; do
        if [[ $enc == effnet-* ]]; then chain "$out/mask-$m" --encoder "$enc" --context "$ctx" --"$m"
        else chain "$out/mask-$m" --encoder "$enc" --"$m"; fi
        cv "mask $m" "$out/mask-$m/work/model/model.json" | tee -a "$out/design_cv.txt"
    done
fi
# only the folders this script made: OUTDIR may hold other things
for dir in "${made[@]}"; do rm -rf "${dir:?}"; done
