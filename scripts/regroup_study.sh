#!/bin/sh
# The regroup study of issue 19 point 3 (docs/results.md, "Regrouping inside training"): k-osc
# cnf-param2tok, spectral-mlp encoder, batch 256, lr 5e-4, 3 % warm-up, cosine to 0, one thread,
# bf16 GEMMs where the build has oneDNN (else fp32), the mixed init, `--p2t-regroup R` (0: the
# control). Each run trains (resumable: rerun the same command after an interruption), then
# `symflow inspect --coupling 256 --json NAME.json` and `symflow eval --n 1024 --steps 50 --cfg 2
# --json NAME.eval.json`; scripts/regroup_study_table.py DIR prints the table.
#
# usage: scripts/regroup_study.sh STEPS R K:VARIANT:SEED [...]
#   e.g. scripts/regroup_study.sh 6000 1200 4:sym:0 4:sym:1 4:sym:2 4:asym:0 8:sym:0
#   SYMFLOW=path/to/symflow (default: build/examples/symflow, else symflow on PATH); runs go to $PWD
set -eu
STEPS=$1; R=$2; shift 2
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SYMFLOW:-$HERE/build/examples/symflow}
[ -x "$BIN" ] || BIN=symflow
WARM=$(( (STEPS * 3 + 50) / 100 ))
PREC=auto
for spec in "$@"; do
  k=$(echo "$spec" | cut -d: -f1); v=$(echo "$spec" | cut -d: -f2); s=$(echo "$spec" | cut -d: -f3)
  out=k${k}${v}_r${R}_seed${s}_s${STEPS}
  [ -f "$out.eval.json" ] && continue
  OMP_NUM_THREADS=1 "$BIN" train --model cnf-param2tok --encoder spectral-mlp --k "$k" --variant "$v" \
    --steps "$STEPS" --batch 256 --lr 5e-4 --warmup "$WARM" --lr-floor 0 --threads 1 --seed "$s" --precision $PREC \
    --p2t-init mixed --p2t-regroup "$R" --log-every 100 --checkpoint-every 300 --resume --out "$out" \
    > "$out.train.log" 2>&1 || { echo "train $out failed (see $out.train.log)"; continue; }
  OMP_NUM_THREADS=1 "$BIN" inspect --model "$out/model.safetensors" --coupling 256 --json "$out.json" \
    > "$out.inspect.txt" 2>&1 || echo "inspect $out failed"
  OMP_NUM_THREADS=1 "$BIN" eval --model "$out/model.safetensors" --n 1024 --steps 50 --cfg 2 --threads 1 \
    --json "$out.eval.json" > "$out.eval.log" 2>&1 || echo "eval $out failed"
done
