#!/bin/sh
# `symflow train` output files and `symflow inspect` end to end (POSIX sh), in seconds:
#   - train a tiny cnf-param2tok with --out DIR/m.safetensors --checkpoint-steps 1: the checkpoint,
#     the previous one beside it and both logs (m.jsonl, m.csv: header + one row per step);
#   - inspect it: the parameter x token table has the k-osc parameter names, --csv has the header
#     and 3k data rows;
#   - inspect a file that is not a model: exit 1, one line "symflow inspect: error: ...";
#   - inspect --coupling: the vector field's coupling matrix and oscillator pairing (text, JSON);
#   - inspect a model without a learned assignment (cnf-equivariant): says so; --csv refused;
#     --coupling works (any flow);
#   - --resume from the file form continues (more rows, the step count grows, one header);
#     the folder form writes model.safetensors, train.jsonl and train.csv.
#
#   sh tests/cli_inspect_test.sh path/to/symflow scratch-dir
#
# The scratch directory is emptied first. Registered with CTest as cli_inspect (tests/CMakeLists.txt).
set -u

. "$(dirname "$0")/cli_lib.sh"
cli_begin cli_inspect_test "$@"
lines() {
  wc -l < "$1" | tr -d ' '
}
# Last value of the first CSV column (the step of the last row).
last_step() {
  tail -n 1 "$1" | cut -d, -f1
}

TINY="--encoder spectral-mlp --k 2 --batch 8 --dit-width 32 --dit-layers 1 --dit-heads 2 --dit-ff 32 --quiet"

# --- train, file form ----------------------------------------------------------------------
# shellcheck disable=SC2086
"$SYMFLOW" train --model cnf-param2tok $TINY --steps 3 --log-every 1 --checkpoint-steps 1 \
  --out run/m.safetensors > train.txt 2> train_err.txt || fail "train exited $?: $(cat train_err.txt)"
for f in m.safetensors m.prev.safetensors m.jsonl m.csv; do
  [ -s "run/$f" ] || fail "train --out run/m.safetensors did not write run/$f"
done
[ ! -e run/model.safetensors ] || fail "the file form also wrote run/model.safetensors"
[ "$(head -n 1 run/m.csv)" = "step,loss,data,penalty,grad_norm,lr,seconds,data_wait,groups_own,groups_separation,groups_equivariance,groups_score" ] ||
  fail "m.csv header is '$(head -n 1 run/m.csv)'"
[ "$(lines run/m.csv)" = 4 ] || fail "m.csv has $(lines run/m.csv) lines, expected header + 3 rows"
[ "$(lines run/m.jsonl)" = 3 ] || fail "m.jsonl has $(lines run/m.jsonl) lines, expected 3"
[ "$(last_step run/m.csv)" = 3 ] || fail "m.csv ends at step $(last_step run/m.csv), expected 3"
grep -q "checkpoint run/m.safetensors" train.txt || fail "train does not name its checkpoint: $(cat train.txt)"

# --- inspect a cnf-param2tok checkpoint -------------------------------------------------------
"$SYMFLOW" inspect --model run/m.safetensors --csv a.csv > inspect.txt 2> inspect_err.txt ||
  fail "inspect exited $?: $(cat inspect_err.txt)"
grep -q "cnf-param2tok, k = 2" inspect.txt || fail "inspect does not name the model: $(head -n 1 inspect.txt)"
for p in osc1_freq osc1_amp osc1_shape osc2_freq osc2_amp osc2_shape; do
  grep -q "^$p " inspect.txt || fail "the inspect table has no row $p"
done
grep -q "token_1" inspect.txt || fail "the inspect table has no token_1 column"
grep -q "^symmetry: .* of 2 oscillators" inspect.txt || fail "inspect has no symmetry summary"
grep -q "^grouping: [0-2] of 2 oscillators grouped.*score [0-9.]*" inspect.txt || fail "inspect has no grouping line"
# --json: the grouping numbers, the same as the last row of the training log
"$SYMFLOW" inspect --model run/m.safetensors --json g.json > /dev/null 2> inspect_err.txt ||
  fail "inspect --json exited $?: $(cat inspect_err.txt)"
for key in '"own":' '"score":' '"separation":' '"equivariance":' '"own_token":'; do
  grep -q "$key" g.json || fail "inspect --json has no $key: $(cat g.json)"
done
json_score=$(sed 's/.*"score": *\([-0-9.e]*\).*/\1/' g.json)
csv_score=$(tail -n 1 run/m.csv | cut -d, -f12)
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(a - b) < 1e-6 else 1)" \
  "$json_score" "$csv_score" || fail "inspect --json score $json_score differs from the log's last groups_score $csv_score"
"$SYMFLOW" inspect --model run/m.safetensors --json - > stdout_json.txt 2> /dev/null || fail "inspect --json - failed"
grep -q '"task": *"kosc"' stdout_json.txt || fail "inspect --json - printed no JSON: $(cat stdout_json.txt)"
# --coupling: the vector field's coupling matrix (3k x 3k) and the oscillator pairing, in text and JSON
"$SYMFLOW" inspect --model run/m.safetensors --coupling 8 --json c.json > coupling.txt 2> inspect_err.txt ||
  fail "inspect --coupling exited $?: $(cat inspect_err.txt)"
grep -q "^coupling: the flow pairs [0-2] of 2 oscillators" coupling.txt || fail "inspect --coupling has no summary: $(cat coupling.txt)"
grep -q "^osc2_shape  *[0-9.]*  *[0-9.]*  *[0-9.]*  *[0-9.]*  *[0-9.]*  *[0-9.]*$" coupling.txt ||
  fail "inspect --coupling has no 6-column osc2_shape row"
python3 -c "
import json, sys
c = json.load(open('c.json'))['coupling']
m = c['matrix']
sys.exit(0 if c['sounds'] == 8 and len(m) == 6 and all(len(r) == 6 and all(v >= 0 for v in r) for r in m)
         and 0 <= c['oscillators'] <= 2 and c['ratio'] > 0 else 1)" || fail "inspect --coupling JSON: $(cat c.json)"
[ "$(head -n 1 a.csv)" = "parameter,token_0,token_1" ] || fail "a.csv header is '$(head -n 1 a.csv)'"
[ "$(lines a.csv)" = 7 ] || fail "a.csv has $(lines a.csv) lines, expected header + 3k = 6 rows"
grep -q "^osc2_shape,[-0-9.e]*,[-0-9.e]*$" a.csv || fail "a.csv has no numeric osc2_shape row"

# --- inspect refusals: exit 1, one line on stderr --------------------------------------------
echo "not a model" > bad.safetensors
"$SYMFLOW" inspect --model bad.safetensors > out.txt 2> err.txt
status=$?
[ "$status" = 1 ] || fail "inspect of a non-model file: exit status $status, expected 1"
[ "$(lines err.txt)" = 1 ] || fail "inspect of a non-model file: $(lines err.txt) lines on stderr: $(cat err.txt)"
grep -q "^symflow inspect: error: " err.txt || fail "inspect of a non-model file: no error line: $(cat err.txt)"
"$SYMFLOW" inspect --model run/m.jsonl > out.txt 2> err.txt
status=$?
[ "$status" = 1 ] && [ "$(lines err.txt)" = 1 ] || fail "inspect of a log file: status $status, stderr $(cat err.txt)"

# --- a model without a learned assignment ----------------------------------------------------
# shellcheck disable=SC2086
"$SYMFLOW" train --model cnf-equivariant $TINY --steps 1 --out eq.safetensors > /dev/null 2>&1 ||
  fail "train cnf-equivariant exited $?"
"$SYMFLOW" inspect --model eq.safetensors > eq.txt 2>&1 || fail "inspect cnf-equivariant exited $?"
grep -q "no learned assignment" eq.txt || fail "inspect cnf-equivariant does not say there is no assignment"
grep -q "token_1: osc2_freq, osc2_amp, osc2_shape" eq.txt || fail "inspect cnf-equivariant: no fixed grouping"
"$SYMFLOW" inspect --model eq.safetensors --csv eq_table.csv > out.txt 2> err.txt
status=$?
[ "$status" = 1 ] && [ ! -e eq_table.csv ] && grep -q "no learned assignment" err.txt ||
  fail "inspect cnf-equivariant --csv: status $status, stderr $(cat err.txt)"
"$SYMFLOW" inspect --model eq.safetensors --coupling 4 --json eqc.json > out.txt 2> err.txt &&
  grep -q '"model": *"cnf-equivariant"' eqc.json && grep -q '"coupling":' eqc.json ||
  fail "inspect cnf-equivariant --coupling --json: $(cat err.txt) $(cat eqc.json 2>/dev/null)"

# --- resume from the file form ---------------------------------------------------------------
# shellcheck disable=SC2086
"$SYMFLOW" train --model cnf-param2tok $TINY --steps 5 --log-every 1 --resume \
  --out run/m.safetensors > /dev/null 2> resume_err.txt || fail "train --resume exited $?: $(cat resume_err.txt)"
[ "$(lines run/m.csv)" = 6 ] || fail "after --resume m.csv has $(lines run/m.csv) lines, expected header + 5 rows"
[ "$(grep -c '^step,' run/m.csv)" = 1 ] || fail "after --resume m.csv repeats its header"
[ "$(sed -n 5p run/m.csv | cut -d, -f1)" = 4 ] || fail "the first resumed row is not step 4"
[ "$(last_step run/m.csv)" = 5 ] || fail "after --resume m.csv ends at step $(last_step run/m.csv), expected 5"
[ "$(lines run/m.jsonl)" = 5 ] || fail "after --resume m.jsonl has $(lines run/m.jsonl) lines, expected 5"
"$SYMFLOW" inspect --model run/m.safetensors | grep -q "trained 5 steps" || fail "the resumed checkpoint is not at step 5"

# --- folder form -----------------------------------------------------------------------------
# shellcheck disable=SC2086
"$SYMFLOW" train --model cnf-param2tok $TINY --steps 2 --checkpoint-steps 1 --out folder > /dev/null 2>&1 ||
  fail "train --out folder exited $?"
for f in model.safetensors model.prev.safetensors train.jsonl train.csv; do
  [ -s "folder/$f" ] || fail "train --out folder did not write folder/$f"
done
[ "$(lines folder/train.csv)" = 2 ] || fail "folder/train.csv has $(lines folder/train.csv) lines, expected 2"

cli_end
