#!/bin/sh
# `symflow train` on Ctrl-C and SIGTERM (POSIX sh, a few seconds):
#   - SIGINT at a pseudo-random moment (after the first checkpoint; started again if the run
#     finished first): the run finishes its step, writes a final checkpoint and exits with
#     status 0, printing "interrupted" in its summary; the checkpoint is at the last step of
#     the log (no step is lost), and `--resume` ends bit-identical to the uninterrupted run;
#   - SIGTERM: the same;
#   - two SIGINTs in a row during a long step (batch 8192, no OT: about 0.25 s): the second
#     exits at once with status 130 and "interrupted twice" on stderr, without the summary
#     line; the checkpoint written before is intact (loads; a checkpoint being written at that
#     moment would be abandoned, its temporary file removed by the next run).
#
#   sh tests/interrupt_test.sh path/to/symflow scratch-dir
#
# Registered with CTest as crash_interrupt.
set -u
NAME=interrupt_test
SYMFLOW=${1:?usage: interrupt_test.sh SYMFLOW_BINARY SCRATCH_DIR}
DIR=${2:?usage: interrupt_test.sh SYMFLOW_BINARY SCRATCH_DIR}
. "$(cd "$(dirname "$0")" && pwd)/crash_test_lib.sh"

reference

# $1 signal, $2 out dir, $3 where the random moment starts (% of the run; it ends 30% later)
clean_stop() {
  sig=$1 out=$2
  tries=0
  SIGNALLED=0
  while [ $SIGNALLED -eq 0 ] && [ $tries -lt 10 ]; do
    tries=$((tries + 1))
    random_moment $3 $(($3 + 30))
    signal_run "$sig" "$out" $AT $OFFSET
  done
  [ $SIGNALLED -eq 1 ] || { fail "SIG$sig: the run finished before the signal in $tries tries"; return; }
  [ $STATUS -eq 0 ] || { fail "SIG$sig: exit status $STATUS, expected 0: $(cat "$out.stderr")"; return; }
  grep -q "interrupted" "$out.stdout" || fail "SIG$sig: the summary does not say 'interrupted': $(cat "$out.stdout")"
  step=$(ckpt_step "$out/model.safetensors")
  logged=$(tail -n 1 "$out/train.csv" | cut -d, -f1)
  echo "SIG$sig at step $AT + $OFFSET ms: stopped with a checkpoint at step $step (last log row: step $logged), exit status $STATUS"
  [ "$step" = "$logged" ] || fail "SIG$sig: the final checkpoint is at step $step but the log reached step $logged"
  no_leftovers "$out"
  train --out "$out" --resume > /dev/null 2> "$out.resume.stderr" ||
    { fail "SIG$sig: the resumed run exited $?: $(cat "$out.resume.stderr")"; return; }
  same "$REF" "$out/model.safetensors" || fail "SIG$sig: the resumed weights differ from the uninterrupted run"
}

clean_stop INT int 10
clean_stop TERM term 50

# Two SIGINTs during one long step. The run writes a checkpoint after each step (--checkpoint-steps
# 1); the signals come once the first exists, 50 ms apart, well inside the next step.
# shellcheck disable=SC2086
(exec "$SYMFLOW" train $MODEL --seed 3 --batch 8192 --no-ot --steps 4 --checkpoint-steps 1 --out twice \
  > twice.stdout 2> twice.stderr) &
pid=$!
polls=0
while [ ! -e twice/model.safetensors ] && [ $polls -lt 6000 ]; do
  sleep 0.005
  polls=$((polls + 1))
done
kill -s INT $pid 2> /dev/null
sleep 0.05
kill -s INT $pid 2> /dev/null
wait $pid 2> /dev/null
status=$?
[ $status -eq 130 ] || fail "two SIGINTs: exit status $status, expected 130: $(cat twice.stderr)"
grep -q "interrupted twice" twice.stderr || fail "two SIGINTs: no 'interrupted twice' on stderr: $(cat twice.stderr)"
grep -q "trained" twice.stdout && fail "two SIGINTs: the run printed its summary (it did not exit at once)"
echo "two SIGINTs: exit status $status, checkpoint at step $(ckpt_step twice/model.safetensors) kept"
"$SYMFLOW" inspect --model twice/model.safetensors > /dev/null 2>&1 ||
  fail "two SIGINTs: the checkpoint written before does not load"

finish
