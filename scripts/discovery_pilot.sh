#!/bin/sh
# Symmetry-discovery pilots (issue 19 point 3, docs/results.md "Symmetry discovery"): k-osc
# cnf-param2tok, k = 4, spectral-mlp encoder (per-bin statistics), batch 256, lr 5e-4, 3 % warm-up,
# cosine to 0, one thread, seed $SEED (default 0). Each pilot trains, then `symflow inspect` writes
# the grouping (and, with COUPLING=N, the vector field's coupling on N held-out sounds) to
# NAME.json; train.csv in the run folder has the groups_* columns every --log-every steps.
# Runs resume (--resume) when interrupted; a pilot whose NAME.json exists is skipped.
#
# usage: scripts/discovery_pilot.sh STEPS VARIANT NAME "train flags" [NAME "flags" ...]
#   SYMFLOW=path/to/symflow (default: build/examples/symflow, else symflow on PATH)
#   e.g.  scripts/discovery_pilot.sh 3000 sym mixed "--p2t-init mixed" random "--p2t-init random"
set -eu
STEPS=$1; VAR=$2; shift 2
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SYMFLOW:-$HERE/build/examples/symflow}
[ -x "$BIN" ] || BIN=symflow
WARM=$(( (STEPS * 3 + 50) / 100 ))
while [ $# -ge 2 ]; do
  name=$1; flags=$2; shift 2
  out=${VAR}_${name}_s${STEPS}
  [ -f "$out.json" ] && continue
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 "$BIN" train --model cnf-param2tok --encoder spectral-mlp --k 4 --variant "$VAR" \
    --steps "$STEPS" --batch 256 --lr 5e-4 --warmup "$WARM" --lr-floor 0 --threads 1 --seed "${SEED:-0}" \
    --log-every 100 --checkpoint-every 300 --resume --quiet $flags --out "$out" > "$out.train.log" 2>&1 ||
    { echo "train $out failed (see $out.train.log)"; continue; }
  OMP_NUM_THREADS=1 "$BIN" inspect --model "$out/model.safetensors" --coupling "${COUPLING:-256}" --json "$out.json" \
    > "$out.inspect.txt" 2>&1 || echo "inspect $out failed"
done
