#!/bin/sh
# Makes the demo's shipped models (models/*.safetensors) and their model cards (models/*.md):
# trains each with `symflow train` (resumable: re-running continues an interrupted run), exports
# the weights without optimizer state (`symflow export`), scores them on the held-out test set
# (`symflow eval`) and writes the card with the exact commands, budget, wall time and scores.
#
#   sh scripts/ship_models.sh [BUILD_DIR] [WORK_DIR]      (defaults: build, runs/ship)
#   VARIANTS="symmetric" MODELS="p2t" sh scripts/ship_models.sh ...   (a subset; defaults: all four)
#
# Budget per model: 20000 steps x batch 256 (5.1M fly-rendered sounds), one thread. The models
# are small on purpose (spectral-MLP encoder, DiT width 64): the folder stays a few MB and the
# demo runs in well under a minute; docs/results.md has the paper-sized (CNN) models.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-runs/ship}
S="$BUILD/examples/symflow"
[ -x "$S" ] || { echo "ship_models: $S not found; build first (sh scripts/test.sh)" >&2; exit 1; }
mkdir -p "$WORK" models

# the Param2Tok recipe of issue 19 (docs/results.md, "Regrouping inside training"): the mixed init, A
# re-formed from the flow's coupling at a fifth of the run (the CLI's defaults, spelled out for the card)
P2T="--model cnf-param2tok --encoder spectral-mlp --spectral-width 128 --embed-dim 64 --dit-width 64 --dit-layers 4 --dit-heads 4 --dit-ff 128 --p2t-init mixed --p2t-regroup 4000"
FFN="--model ffn-mse --encoder spectral-mlp --spectral-width 128 --embed-dim 64 --head-width 128"
COMMON="--task kosc --k 4 --steps 20000 --batch 256 --lr 1e-3 --warmup 200 --seed 0 --checkpoint-steps 2000 --quiet"
EVAL="--n 2048 --solver rk4 --steps 100 --cfg 2 --seed 1"

for v in ${VARIANTS:-symmetric asymmetric}; do
  for m in ${MODELS:-p2t ffn}; do
    if [ $m = p2t ]; then ARGS=$P2T; else ARGS=$FFN; fi
    n=kosc4-$v-$m
    train="symflow train $ARGS --variant $v $COMMON --out $WORK/$n"
    if [ ! -f "$WORK/$n.train.log" ] || ! grep -q '^trained 20000 steps' "$WORK/$n.train.log"; then
      echo "ship_models: training $n"
      start=$(date +%s)
      env OMP_NUM_THREADS=1 "$S" ${train#symflow } --resume > "$WORK/$n.train.log" 2>&1
      echo "wall $(( $(date +%s) - start )) s" >> "$WORK/$n.train.log"
    fi
    "$S" export --model "$WORK/$n/model.safetensors" --out "models/$n.safetensors" > /dev/null
    env OMP_NUM_THREADS=1 "$S" eval --model "models/$n.safetensors" $EVAL --json "$WORK/$n.eval.json" \
      > "$WORK/$n.eval.log" 2>&1
    python3 - "$n" "$WORK" "$train" "symflow eval --model models/$n.safetensors $EVAL --json $n.eval.json" << 'EOF'
import json, os, re, sys
name, work, train, evalcmd = sys.argv[1:5]
e = json.load(open(os.path.join(work, name + ".eval.json")))
log = open(os.path.join(work, name + ".train.log")).read()
trained = re.search(r"^trained (\d+) steps in ([^, ]+)", log, re.M)
wall = re.search(r"^wall ([0-9.]+) s", log, re.M)
size = os.path.getsize("models/%s.safetensors" % name)
kind = "flow (cnf-param2tok)" if name.endswith("p2t") else "regression (ffn-mse)"
card = f"""# {name}

{kind} for the k-osc task, k = 4, {e['variant']} variant; {size / 1e6:.2f} MB (float32 weights,
no optimizer state). Made by `scripts/ship_models.sh`; never edited by hand.

## Training
    {train}
    symflow export --model {work}/{name}/model.safetensors --out models/{name}.safetensors

- budget: 20000 steps x batch 256 = 5.12M sounds rendered on the fly (seed 0), Adam lr 1e-3,
  200 warm-up steps, cosine decay to 1e-4, gradient clip 1, one thread (OMP_NUM_THREADS=1)
- wall time: {trained.group(2) if trained else '?'} of training as reported by `symflow train`
  ({wall.group(1) + ' s' if wall else 'not measured'} for the whole command) on the 2-core AVX-512 dev machine,
  with other jobs running beside it
- encoder: spectral MLP (log |rFFT|, each bin standardized with training statistics, width 128,
  2 residual blocks, 64-d embedding)""" + (f"""
- Param2Tok: mixed init; the assignment re-formed from the flow's coupling before step 4000
  (`--p2t-regroup`; `symflow inspect --model models/{name}.safetensors` shows the grouping)""" if name.endswith("p2t") else "") + f"""

## Held-out scores
    {evalcmd}

| metric | value (mean +- 95% CI over {e['n']} held-out sounds) |
|---|---|
| LSD (dB) | {e['lsd']:.3f} +- {e['lsd_ci']:.3f} |
| LAC | {e['lac']:.4f} +- {e['lac_ci']:.4f} |
| Chamfer | {e['chamfer']:.4f} +- {e['chamfer_ci']:.4f} |
| parameter MSE | {e['param_mse']:.4f} +- {e['param_mse_ci']:.4f} |

One draw per sound ({e['sampler']}, {e['steps']} steps, guidance {e['cfg']}, seed {e['seed']}); `symflow demo`
and `symflow invert` draw several and keep the best by LSD.
"""
open("models/%s.md" % name, "w").write(card)
print("ship_models: models/%s.safetensors (%d bytes), LSD %.2f, LAC %.3f" % (name, size, e["lsd"], e["lac"]))
EOF
  done
done
