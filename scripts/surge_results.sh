#!/bin/sh
# The surge-simple results of docs/results.md: the three models under one equal wall-clock
# budget each, then the held-out evaluation (with the random-patch reference) and, for
# cnf-param2tok, the learned assignment and symmetry scores.
#
#   sh scripts/surge_results.sh SYMFLOW_BINARY OUT_DIR MINUTES [THREADS]
#   e.g. sh scripts/surge_results.sh build/examples/symflow /work/runs/surge 60 1
#
# The budget is compute, stated as wall time on one quiet core: per model, a 30-step probe run
# measures the seconds per step (run the probes on an otherwise idle machine), and the model
# trains for the steps that fit in 97 % of MINUTES at that speed, with the learning-rate
# schedule spanning exactly those steps. The training runs themselves may then share the
# machine (e.g. the models side by side, MODELS="cnf-mlp" in another shell): they take longer
# in wall time but get the same steps. --time-budget (10 x MINUTES) is only a safety net.
# Seed 0, batch 32, lr 5e-4 with 500 warm-up steps; eval: 500 test sounds, RK4 100 steps,
# CFG 2, seed 1. Safe to re-run: a finished model (its eval JSON exists) is skipped, an
# interrupted one is resumed from its checkpoint (same steps).
# Environment: MODELS ["cnf-param2tok cnf-mlp ffn"] the models to run, in order;
# PROBE_ONLY [0] 1 = only measure the steps of each model (write OUT/surge-MODEL.steps).
set -eu
USAGE="usage: surge_results.sh SYMFLOW_BINARY OUT_DIR MINUTES [THREADS]"
SYMFLOW=${1:?$USAGE}
OUT=${2:?$USAGE}
MINUTES=${3:?$USAGE}
THREADS=${4:-1}
mkdir -p "$OUT"
export OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY=passive
COMMON="--task surge-simple --batch 32 --lr 5e-4 --warmup 500 --seed 0"

case $MINUTES in *[!0-9]*|'') echo "surge_results.sh: MINUTES must be a whole number of minutes" >&2; exit 1 ;; esac
BUDGET_S=$((MINUTES * 60))
BUDGET=${MINUTES}m
CAP=$((MINUTES * 10))m
MODELS=${MODELS:-cnf-param2tok cnf-mlp ffn}
PROBE_ONLY=${PROBE_ONLY:-0}

for model in $MODELS; do
  name=surge-$model
  [ -f "$OUT/$name.eval.json" ] && { echo "$name: done"; continue; }
  if [ ! -f "$OUT/$name.steps" ]; then
    rm -rf "$OUT/probe-$model"
    # shellcheck disable=SC2086
    "$SYMFLOW" train $COMMON --model "$model" --steps 30 --log-every 10 --quiet --out "$OUT/probe-$model"
    # seconds per step from the probe's steps 10 -> 30 (the first ones include start-up)
    per_step=$(awk -F, 'NR > 1 { s[$1] = $7 } END { printf "%.6f", (s[30] - s[10]) / 20 }' "$OUT/probe-$model/train.csv")
    steps=$(awk -v b="$BUDGET_S" -v p="$per_step" 'BEGIN { printf "%d", 0.97 * b / p }')
    echo "$steps" > "$OUT/$name.steps"
    echo "$name: $per_step s/step in the probe -> $steps steps in $BUDGET"
  fi
  [ "$PROBE_ONLY" = 1 ] && continue
  steps=$(cat "$OUT/$name.steps")
  # shellcheck disable=SC2086
  "$SYMFLOW" train $COMMON --model "$model" --steps "$steps" --time-budget "$CAP" --resume \
    --out "$OUT/$name.safetensors" 2>> "$OUT/$name.train.log"
  "$SYMFLOW" eval --model "$OUT/$name.safetensors" --n 500 --steps 100 --cfg 2 --seed 1 \
    --json "$OUT/$name.eval.json.tmp" > "$OUT/$name.eval.txt" 2>> "$OUT/$name.eval.log"
  mv "$OUT/$name.eval.json.tmp" "$OUT/$name.eval.json"
  if [ "$model" = cnf-param2tok ]; then
    "$SYMFLOW" inspect --model "$OUT/$name.safetensors" --csv "$OUT/$name.assign.csv" --png "$OUT/$name.assign.png" \
      > "$OUT/$name.inspect.txt"
  fi
done
echo "surge_results: $MODELS done in $OUT"
