#!/bin/sh
# Measures data-parallel scaling of `symflow train` on this machine (docs/distributed.md):
# for each task, the same global batch trained by 1 rank x 1 thread, 1 rank x 2 threads and
# 2 ranks x 1 thread; prints seconds per step (from the training log, first LOGSKIP steps left
# out as start-up) and samples/s as a Markdown table.
#
#   sh scripts/mpi_scaling.sh SYMFLOW_BINARY [OUT_DIR]
#
# Environment: KOSC_STEPS [8] and SURGE_STEPS [60] steps per run; PAUSE [1]: SIGSTOP the
# processes whose command line matches '(^|/)symflow-r[0-9]+ ' (background result runs) while
# measuring, SIGCONT on exit.
set -eu
SYMFLOW=${1:?usage: mpi_scaling.sh SYMFLOW_BINARY [OUT_DIR]}
OUT=${2:-/tmp/symflow_mpi_scaling}
KOSC_STEPS=${KOSC_STEPS:-8}
SURGE_STEPS=${SURGE_STEPS:-60}
PAUSE=${PAUSE:-1}
case $SYMFLOW in /*) ;; *) SYMFLOW=$(pwd)/$SYMFLOW ;; esac
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_WAIT_POLICY=passive
rm -rf "$OUT" && mkdir -p "$OUT"

PAUSED=""
resume() { if [ -n "$PAUSED" ]; then kill -CONT $PAUSED 2> /dev/null || true; fi; }
trap resume EXIT INT TERM
if [ "$PAUSE" = 1 ]; then
  PAUSED=$(pgrep -f '(^|/)symflow-r[0-9]+ ' | tr '\n' ' ' || true)
  if [ -n "$PAUSED" ]; then kill -STOP $PAUSED; fi
fi

KOSC="train --task kosc --model cnf-param2tok --encoder cnn --k 4 --batch 1024 --steps $KOSC_STEPS --log-every 1 --quiet"
SURGE="train --task surge-simple --model cnf-param2tok --batch 32 --steps $SURGE_STEPS --log-every 1 --quiet"

# seconds per step between log rows 3 and the last (column 7 = seconds)
per_step() { awk -F, 'NR == 4 { a = $7; s = $1 } END { printf "%.4f", ($7 - a) / ($1 - s) }' "$1"; }

echo "| task | batch | layout | s / step | samples / s | speed-up vs 1 x 1 |"
echo "|---|---|---|---|---|---|"
for task in kosc surge; do
  if [ $task = kosc ]; then args=$KOSC; batch=1024; else args=$SURGE; batch=32; fi
  base=""
  for layout in "1x1" "1x2" "2x1"; do
    dir=$OUT/$task-$layout
    case $layout in
      1x1) OMP_NUM_THREADS=1 "$SYMFLOW" $args --out "$dir" > "$dir.log" 2>&1 ;;
      1x2) OMP_NUM_THREADS=2 "$SYMFLOW" $args --out "$dir" > "$dir.log" 2>&1 ;;
      2x1) mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY "$SYMFLOW" $args --out "$dir" \
             > "$dir.log" 2>&1 ;;
    esac
    s=$(per_step "$dir/train.csv")
    [ -z "$base" ] && base=$s
    echo "| $task | $batch | $(echo $layout | sed 's/x/ rank(s) x /') thread(s) | $s | $(awk -v b=$batch -v s="$s" 'BEGIN { printf "%.0f", b / s }') | $(awk -v b="$base" -v s="$s" 'BEGIN { printf "%.2fx", b / s }') |"
  done
done
grep -h "allreduce" "$OUT"/*-2x1.log | sed 's/^/    /'
