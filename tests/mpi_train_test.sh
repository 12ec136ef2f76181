#!/bin/sh
# `mpirun -np 2 symflow train` (docs/distributed.md), on this machine:
#   - 2 ranks give the weights of 1 rank with the same global batch and seed (k-osc, OT coupling
#     off as it pairs within each rank's shard), up to summation-order rounding: relative
#     difference <= 1e-4 (tests/checkpoint_compare.cpp; the reasoning is in
#     tests/test_train_distributed.cpp, which checks the same logic without MPI);
#   - only rank 0 writes: one log row per step;
#   - stopped on 2 ranks, resumed on 1: ends where 1 rank ends;
#   - surge-simple trains on 2 ranks;
#   - a rank killed with SIGKILL ends the job with an error naming it, within 60 s (no hang);
#   - an error on the ranks ends the job with a one-line error per rank; other commands than
#     train are refused under mpirun.
# Skipped (exit 77) when mpirun is not installed or symflow was built without MPI.
#   usage: mpi_train_test.sh SYMFLOW CHECKPOINT_COMPARE SCRATCH_DIR
. "$(dirname "$0")/cli_lib.sh"
COMPARE=${2:?usage: mpi_train_test.sh SYMFLOW CHECKPOINT_COMPARE SCRATCH_DIR}
case $COMPARE in /*) ;; *) COMPARE=$(pwd)/$COMPARE ;; esac
cli_begin mpi_train "$1" "$3"

if ! command -v mpirun > /dev/null 2>&1; then
  echo "mpi_train: SKIPPED: mpirun not found (scripts/setup.sh installs openmpi-bin)"
  exit 77
fi
if ! "$SYMFLOW" version | grep -q '^mpi: yes$'; then
  echo "mpi_train: SKIPPED: this symflow was built without MPI (SYMFLOW_MPI=OFF or no libopenmpi-dev)"
  exit 77
fi
# Open MPI refuses root unless told; the CI container runs as root.
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS=1
# Open MPI's shared-memory transport copies large messages with process_vm_readv, which
# containers without CAP_SYS_PTRACE refuse ("Read -1, expected ..., errno = 1"): plain copies.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN="mpirun --oversubscribe -np 2"

KOSC="train --task kosc --model cnf-param2tok --encoder spectral-mlp --k 2 --embed-dim 16 --spectral-width 32
      --spectral-blocks 1 --dit-width 16 --dit-heads 2 --dit-ff 32 --dit-layers 2 --no-ot
      --batch 16 --lr 1e-3 --warmup 2 --seed 5 --log-every 1 --checkpoint-every 0 --quiet"

# shellcheck disable=SC2086
"$SYMFLOW" $KOSC --steps 6 --out one > one.log 2>&1 || fail "1 rank: exit $? ($(tail -n 1 one.log))"
# shellcheck disable=SC2086
$MPIRUN "$SYMFLOW" $KOSC --steps 6 --out two > two.log 2>&1 || fail "2 ranks: exit $? ($(tail -n 3 two.log))"
grep -q "2 ranks" two.log || fail "2 ranks: the summary does not say 2 ranks: $(cat two.log)"
[ "$(grep -c '^trained' two.log)" = 1 ] || fail "2 ranks: the summary was printed $(grep -c '^trained' two.log) times"
"$COMPARE" one/model.safetensors two/model.safetensors 1e-4 || fail "2 ranks differ from 1 rank"
[ "$(wc -l < two/train.csv)" -eq 7 ] || fail "2 ranks: train.csv has $(wc -l < two/train.csv) lines, expected 7"

# stopped on 2 ranks, resumed on 1
# shellcheck disable=SC2086
$MPIRUN "$SYMFLOW" $KOSC --steps 6 --stop-after 3 --out switch > switch1.log 2>&1 || fail "switch: 2-rank part failed"
# shellcheck disable=SC2086
"$SYMFLOW" $KOSC --steps 6 --resume --out switch > switch2.log 2>&1 || fail "switch: 1-rank resume failed"
"$COMPARE" one/model.safetensors switch/model.safetensors 1e-4 || fail "2 ranks then 1 differ from 1 rank"
[ "$(wc -l < switch/train.csv)" -eq 7 ] || fail "switch: train.csv has $(wc -l < switch/train.csv) lines, expected 7"

# surge-simple on 2 ranks (a small model; the synth's default sounds)
$MPIRUN "$SYMFLOW" train --task surge-simple --model cnf-param2tok --ast-width 16 --ast-layers 1 --ast-heads 2 \
  --ast-ff 32 --dit-width 16 --dit-layers 1 --dit-heads 2 --dit-ff 32 --tokens 8 --batch 4 --steps 2 --quiet \
  --out surge > surge.log 2>&1 || fail "surge-simple on 2 ranks: exit $? ($(tail -n 3 surge.log))"
[ -f surge/model.safetensors ] || fail "surge-simple on 2 ranks: no checkpoint"

# a rank killed in the middle of training: the job ends (no hang) with a non-zero status
# shellcheck disable=SC2086
$MPIRUN "$SYMFLOW" $KOSC --steps 1000000 --out killed > killed.log 2>&1 &
job=$!
victim=""
for _ in $(seq 1 300); do
  if [ -s killed/train.csv ]; then
    for p in $(pgrep -f "$SYMFLOW train" || true); do
      if tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
    done
    [ -n "$victim" ] && break
  fi
  sleep 0.1
done
if [ -z "$victim" ]; then
  fail "kill: did not find rank 1 training"
  kill "$job" 2> /dev/null
else
  kill -9 "$victim"
  ended=""
  for _ in $(seq 1 600); do
    if ! kill -0 "$job" 2> /dev/null; then ended=1; break; fi
    sleep 0.1
  done
  if [ -z "$ended" ]; then
    fail "kill: the job still runs 60 s after rank 1 was killed"
    pkill -9 -f "$SYMFLOW train" 2> /dev/null
  else
    wait "$job" && fail "kill: the job exited with status 0 after rank 1 was killed"
    grep -qi "rank 1" killed.log || fail "kill: the job's output does not name rank 1: $(tail -n 5 killed.log)"
  fi
fi

# an error on the ranks: one line each, the job ends with a non-zero status
$MPIRUN "$SYMFLOW" train --steps 0 --out bad > bad.log 2>&1 && fail "--steps 0 on 2 ranks: exit status 0"
grep -q "symflow train (rank 0 of 2): error: train: --steps must be positive" bad.log ||
  fail "--steps 0 on 2 ranks: no one-line error naming the rank: $(head -n 3 bad.log)"
# other commands refuse to run on several ranks
$MPIRUN "$SYMFLOW" version > version.log 2>&1 && fail "version on 2 ranks: exit status 0"
grep -q "only \`symflow train\` runs on several MPI ranks" version.log ||
  fail "version on 2 ranks: no refusal: $(head -n 3 version.log)"

cli_end
