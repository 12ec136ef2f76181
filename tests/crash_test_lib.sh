# Shared part of the crash-safety tests of `symflow train` (POSIX sh, sourced by
# tests/kill_resume_test.sh, corrupt_checkpoint_test.sh, interrupt_test.sh, disk_full_test.sh).
#
#   . tests/crash_test_lib.sh  (after setting SYMFLOW, DIR and NAME)
#
# Sets up the scratch directory (emptied, then the working directory), checks python3, and
# provides:
#   MODEL              the model and the fixed options of every run
#   RUN                the training command line of every run (a tiny cnf-param2tok, 60 steps of
#                      128 sounds, a checkpoint every 3 steps, one log row per step, one thread:
#                      gradient sums are split per thread, so the thread count is part of the
#                      result and one thread keeps it fixed)
#   fail MSG           count a failure and print it
#   train ARGS...      run `symflow train $RUN --seed $SEED ARGS...` (SEED=3)
#   same A B           true when the checkpoints A and B hold bit-identical tensors
#   ckpt_step FILE     the training step stored in a checkpoint
#   reference          the uninterrupted run into ref/ (sets REF, the final checkpoint, and
#                      REF_MS, its wall time in milliseconds)
#   next_random N      pseudo-random integer in [0, N) into $RANDOM_VALUE (an LCG seeded by
#                      CRASH_TEST_SEED, default 20240611: every run of a test picks the same moments)
#   random_moment LO HI  a seeded pseudo-random moment in [LO%, HI%) of the run: a step AT
#                      (at least 3) and OFFSET ms into it (up to one step's wall time)
#   signal_run SIG OUT AT OFFSET_MS [ARGS...]
#                      starts a fresh run into OUT, waits until it holds a checkpoint and has
#                      logged step AT, waits OFFSET_MS more, sends SIG and waits for the end;
#                      sets STATUS (exit status) and SIGNALLED=1 when the signal reached a run
#                      that was still training. The moment follows the run's progress, not the
#                      clock, so a loaded machine moves it little.
#   no_leftovers OUT   fail if OUT holds temporary checkpoint files (*.tmp.*, *.new)
#   finish             print the summary and exit with the test's status
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" > /dev/null 2>&1 || { echo "$NAME: python3 not found: skipped"; exit 77; }
HELPER="$(cd "$(dirname "$0")" && pwd)/safetensors_tensors.py"
case $SYMFLOW in /*) ;; *) SYMFLOW=$(pwd)/$SYMFLOW ;; esac
[ -f "$SYMFLOW" ] && [ -x "$SYMFLOW" ] || { echo "$NAME: $SYMFLOW is not an executable file" >&2; exit 1; }
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
cd "$DIR" || exit 1

STEPS=60
MODEL="--model cnf-param2tok --encoder spectral-mlp --k 2 --embed-dim 32 --spectral-width 64 --spectral-blocks 1
       --dit-width 32 --dit-layers 1 --dit-heads 4 --dit-ff 64 --checkpoint-every 0 --threads 1 --quiet"
RUN="$MODEL --steps $STEPS --batch 128 --checkpoint-steps 3 --log-every 1"

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
SEED=3
train() {
  # shellcheck disable=SC2086
  "$SYMFLOW" train $RUN --seed $SEED "$@"
}
same() {
  "$PYTHON" "$HELPER" same "$1" "$2"
}
ckpt_step() {
  "$PYTHON" "$HELPER" step "$1" 2> /dev/null || echo "?"
}
now_ms() {
  echo $(($(date +%s%N) / 1000000))
}
seconds_of_ms() {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

RANDOM_STATE=${CRASH_TEST_SEED:-20240611}
next_random() {
  RANDOM_STATE=$(((RANDOM_STATE * 1103515245 + 12345) % 2147483648))
  RANDOM_VALUE=$(((RANDOM_STATE / 65536) % $1))
}

reference() {
  t0=$(now_ms)
  train --out ref > ref.stdout 2> ref.stderr || { fail "the uninterrupted run exited $?: $(cat ref.stderr)"; finish; }
  REF_MS=$(($(now_ms) - t0))
  REF=ref/model.safetensors
  [ "$(ckpt_step $REF)" = $STEPS ] || { fail "the uninterrupted run ended at step $(ckpt_step $REF), not $STEPS"; finish; }
  echo "uninterrupted run: $STEPS steps in $REF_MS ms"
}

signal_run() {
  sig=$1 out=$2 at=$3 offset=$4
  shift 4
  rm -rf "$out"
  # exec: $! must be symflow itself (with the function `train` it would be a subshell, and
  # the signal would not reach symflow)
  # shellcheck disable=SC2086
  (exec "$SYMFLOW" train $RUN --seed $SEED --out "$out" "$@" > "$out.stdout" 2> "$out.stderr") &
  pid=$!
  # Wait for a checkpoint and a log row of step >= at (the log is flushed row by row), then
  # OFFSET ms more. Bounded: a run that failed early stays a zombie until `wait`.
  polls=0
  while [ $polls -lt 6000 ]; do
    if [ -e "$out/model.safetensors" ] || [ -e "$out/model.prev.safetensors" ]; then
      last=$(tail -n 1 "$out/train.csv" 2> /dev/null | cut -d, -f1)
      case $last in '' | *[!0-9]*) last=0 ;; esac
      [ "$last" -ge "$at" ] && break
    fi
    sleep 0.003
    polls=$((polls + 1))
  done
  sleep "$(seconds_of_ms "$offset")"
  kill -s "$sig" $pid 2> /dev/null
  wait $pid 2> /dev/null
  STATUS=$?
  SIGNALLED=0
  if [ $STATUS -ne 0 ] || grep -q interrupted "$out.stdout"; then SIGNALLED=1; fi
}

# A seeded random moment in [lo%, hi%) of the run: AT (a step, >= 3 so that a checkpoint exists)
# and OFFSET (ms into that step, up to one step's time of the uninterrupted run).
random_moment() {
  next_random $((($2 - $1) * STEPS / 100))
  AT=$(($1 * STEPS / 100 + RANDOM_VALUE))
  [ $AT -ge 3 ] || AT=3
  next_random $((REF_MS / STEPS + 1))
  OFFSET=$RANDOM_VALUE
}

no_leftovers() {
  for f in "$1"/*.tmp.* "$1"/*.new; do
    [ -e "$f" ] && fail "$1 still holds the temporary file $f"
  done
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$NAME: $failures failure(s)" >&2
    exit 1
  fi
  echo "$NAME: all checks passed"
  exit 0
}
