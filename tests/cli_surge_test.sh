#!/bin/sh
# surge-simple end to end through the command line (POSIX sh), default model sizes, batch 4:
#   - train each model (cnf-param2tok, cnf-mlp, ffn) 3 steps: checkpoint, CSV log with the
#     data_wait column (and sym_1, sym_2 for cnf-param2tok); --resume to 5 steps continues (step count grows, one CSV header);
#   - --time-budget stops a long run early with a checkpoint ("time budget reached");
#   - eval --n 16: JSON with mss, wmfcc, sot, rms, param_mse (+ _ci) and the same under "random";
#   - invert a rendered sound: params JSON (task surge-simple, sample_rate, seconds, mss) and a
#     WAV that `symflow render --float --params` reproduces bit for bit;
#   - export: a weights-only file that eval scores exactly as the checkpoint (same JSON but "file");
#   - inspect: symmetry scores for both declared symmetries, --csv (93 rows), --png; refused
#     for models without an assignment;
#   - refusals: k-osc-only options with --task surge-simple, bad durations, unknown task.
#
#   sh tests/cli_surge_test.sh path/to/symflow scratch-dir
set -u

. "$(dirname "$0")/cli_lib.sh"
cli_begin cli_surge_test "$@"

for m in cnf-param2tok cnf-mlp ffn; do
  "$SYMFLOW" train --task surge-simple --model $m --steps 3 --batch 4 --log-every 1 --quiet \
    --out $m.safetensors > $m.out 2>&1 || fail "train $m: exit $? ($(tail -n 1 $m.out))"
  [ -f $m.safetensors ] || fail "train $m: no checkpoint"
  header='step,loss,data,penalty,grad_norm,lr,seconds,data_wait'
  [ $m = cnf-param2tok ] && header="$header,sym_1,sym_2"  # the symmetry scores of the assignment
  [ "$(head -n 1 $m.csv)" = "$header" ] || fail "train $m: CSV header '$(head -n 1 $m.csv)'"
  [ "$(tail -n 1 $m.csv | cut -d, -f1)" = 3 ] || fail "train $m: last CSV step is not 3"
done
"$SYMFLOW" train --task surge-simple --model ffn --steps 5 --batch 4 --log-every 1 --quiet --resume \
  --out ffn.safetensors > resume.out 2>&1 || fail "resume: exit $?"
[ "$(tail -n 1 ffn.csv | cut -d, -f1)" = 5 ] || fail "resume: last CSV step is not 5"
[ "$(grep -c '^step' ffn.csv)" = 1 ] || fail "resume: CSV header repeated"

"$SYMFLOW" train --task surge-simple --model ffn --steps 100000 --batch 4 --time-budget 1s --quiet \
  --out budget.safetensors > budget.out 2>&1 || fail "time budget: exit $?"
grep -q "time budget reached" budget.out || fail "time budget: not reported ($(tail -n 1 budget.out))"
[ -f budget.safetensors ] || fail "time budget: no checkpoint"

"$SYMFLOW" eval --model cnf-param2tok.safetensors --n 16 --steps 4 --json eval.json > eval.out 2>&1 ||
  fail "eval: exit $? ($(tail -n 1 eval.out))"
for key in mss wmfcc sot rms param_mse param_mse_raw mss_ci rms_ci random best_of rms_frames; do
  grep -q "\"$key\"" eval.json || fail "eval: JSON has no \"$key\""
done
grep -q '"rms_frame_samples": 800' eval.json || fail "eval: RMS frames are not 50 ms at 16 kHz by default"
# --rms-frames authors (issue 17): 2205 / 1102 samples whatever the rate; only RMS changes.
"$SYMFLOW" eval --model cnf-param2tok.safetensors --n 16 --steps 4 --rms-frames authors --json evala.json > evala.out 2>&1 ||
  fail "eval --rms-frames authors: exit $? ($(tail -n 1 evala.out))"
grep -q '"rms_frames": "authors"' evala.json || fail "eval --rms-frames authors: not recorded"
grep -q '"rms_frame_samples": 2205' evala.json || fail "eval --rms-frames authors: frame is not 2205"
[ "$(grep '"mss"' eval.json)" = "$(grep '"mss"' evala.json)" ] || fail "eval --rms-frames authors: MSS changed"
[ "$(grep '"rms"' eval.json)" != "$(grep '"rms"' evala.json)" ] || fail "eval --rms-frames authors: RMS unchanged"
[ "$(grep -c '"mss"' eval.json)" = 2 ] || fail "eval: the random reference has no mss"

"$SYMFLOW" export --model cnf-param2tok.safetensors --out exported.safetensors > export.out 2>&1 ||
  fail "export: exit $? ($(tail -n 1 export.out))"
grep -q "surge-simple cnf-param2tok" export.out || fail "export: summary line lacks the model: $(cat export.out)"
[ "$(wc -c < exported.safetensors)" -lt "$(wc -c < cnf-param2tok.safetensors)" ] ||
  fail "export: not smaller than the checkpoint (optimizer state kept?)"
"$SYMFLOW" eval --model exported.safetensors --n 16 --steps 4 --json eval2.json > eval2.out 2>&1 ||
  fail "eval of the export: exit $? ($(tail -n 1 eval2.out))"
[ "$(grep -v '"file"' eval.json)" = "$(grep -v '"file"' eval2.json)" ] || fail "export: scores differ from the checkpoint's"

"$SYMFLOW" render --task surge-simple --random --seed 7 --out in.wav > /dev/null 2>&1 || fail "render: exit $?"
# --no-level-match: the WAV is the rendering itself (by default it is scaled to the input's level).
"$SYMFLOW" invert --model cnf-mlp.safetensors in.wav --out inv --samples 3 --steps 4 --seed 2 --no-level-match > inv.out 2>&1 ||
  fail "invert: exit $? ($(tail -n 1 inv.out))"
for key in '"task": "surge-simple"' '"sample_rate"' '"seconds"' '"mss"' '"seed": 2' '"raw_params"' '"mode": "start"' '"applied": false'; do
  grep -q "$key" inv/in.json || fail "invert: JSON lacks $key"
done
"$SYMFLOW" render --task surge-simple --float --params inv/in.json --out re.wav > /dev/null 2>&1 ||
  fail "re-render: exit $?"
cmp -s re.wav inv/in.wav || fail "re-render: not bit-identical to the inversion's WAV"

"$SYMFLOW" inspect --model cnf-param2tok.safetensors --csv a.csv --png a.png > inspect.out 2>&1 ||
  fail "inspect: exit $?"
grep -q "S3: osc i with lfo i: score" inspect.out || fail "inspect: no S3 symmetry score"
grep -q "S2: filter j with lfo 3+j: score" inspect.out || fail "inspect: no S2 symmetry score"
[ "$(wc -l < a.csv | tr -d ' ')" = 94 ] || fail "inspect: CSV is not header + 93 rows"
[ -s a.png ] || fail "inspect: no PNG"
if "$SYMFLOW" inspect --model ffn.safetensors --csv b.csv > b.out 2>&1; then fail "inspect --csv of ffn accepted"; fi
[ ! -e b.csv ] || fail "inspect: refused --csv still wrote a file"

expect_refusal() {  # expected-text args...
  want=$1
  shift
  if "$SYMFLOW" "$@" > r.out 2>&1; then
    fail "accepted: $*"
  elif ! grep -q -- "$want" r.out; then
    fail "'$*': message lacks '$want': $(cat r.out)"
  fi
}
expect_refusal "--k applies to --task kosc only" train --task surge-simple --k 3 --out x
expect_refusal "--encoder applies to --task kosc only" train --task surge-simple --encoder cnn --out x
expect_refusal "--ast-width applies to --task surge-simple only" train --task kosc --ast-width 64 --out x
expect_refusal "--time-budget: '2d' is not a duration" train --task surge-simple --time-budget 2d --out x
expect_refusal "unknown --task 'nope'" train --task nope --out x
expect_refusal "unknown surge-simple model 'ffn-mse'" train --task surge-simple --model ffn-mse --out x
expect_refusal "not both" eval --model ffn.safetensors --random 4
[ ! -e x ] || fail "a refused train created its output"

cli_end
