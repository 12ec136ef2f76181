#!/bin/sh
# Builds the libFuzzer harnesses of fuzz/ (clang, -fsanitize=fuzzer,address,undefined) and runs
# each for SECONDS, one after another, starting from its seed corpus fuzz/corpus/NAME/ (copied;
# the grown corpus stays in the work folder). Prints per harness: executions, exec/s, coverage
# (libFuzzer's "cov" = covered edges of the instrumented code, seeds -> end; "ft" = features),
# corpus size and findings; the lines are also in WORK/summary.txt.
#
#   sh scripts/fuzz.sh [SECONDS] [NAME ...]     default: 600 s, every harness
#     NAME: json, safetensors, kosc_model, surge_model, audio, params_json
#   SYMFLOW_FUZZ_BUILD_DIR  build folder (default: build-fuzz)
#   SYMFLOW_FUZZ_WORK       work folder: grown corpora, logs, crash files (default: BUILD/fuzz-work)
#   SYMFLOW_FUZZ_RUNS       also stop after this many executions per harness (default: no limit)
#
# Exit status: 0 when no harness found anything, 1 when one did (its crash-/leak-/timeout-/oom-
# file is in WORK/NAME/; reproduce with BUILD/fuzz/fuzz_NAME FILE), 77 when clang++ is missing.
# docs/reliability.md has the results of the 10-minute runs.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_EACH=${1:-600}
[ $# -gt 0 ] && shift
NAMES=${*:-json safetensors params_json audio kosc_model surge_model}
BUILD=${SYMFLOW_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
WORK=${SYMFLOW_FUZZ_WORK:-$BUILD/fuzz-work}
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ not found (scripts/setup.sh installs clang); skipped" >&2
  exit 77
fi
# Debug (no NDEBUG: assertions on) with line tables instead of full -g (fuzz/CMakeLists.txt).
cmake -S . -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only -DSYMFLOW_FUZZ=ON \
  -DSYMFLOW_BUILD_TESTS=OFF -DSYMFLOW_BUILD_EXAMPLES=OFF -DSYMFLOW_BUILD_BENCH=OFF >/dev/null
targets=""
for n in $NAMES; do targets="$targets fuzz_$n"; done
[ $# -eq 0 ] && targets=fuzz_all  # every harness: one target, built in parallel
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target $targets >/dev/null

export LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
status=0
summary=""
for n in $NAMES; do
  dir=$WORK/$n
  rm -rf "$dir"
  mkdir -p "$dir/corpus"
  [ -d "fuzz/corpus/$n" ] && cp "fuzz/corpus/$n"/* "$dir/corpus/" 2>/dev/null || true
  dict=""
  case $n in json | safetensors | kosc_model | surge_model | params_json) dict="-dict=$ROOT/fuzz/json.dict" ;; esac
  runs=""
  [ -n "${SYMFLOW_FUZZ_RUNS:-}" ] && runs="-runs=$SYMFLOW_FUZZ_RUNS"
  # -timeout: one input taking longer is a finding (a hang); -rss_limit_mb: so is using more memory.
  set +e
  "$BUILD/fuzz/fuzz_$n" $dict $runs -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log.txt" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/log.txt" | tail -1 | grep -o '[0-9]*$' || true)
  persec=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$dir/log.txt" | tail -1 | grep -o '[0-9]*$' || true)
  took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$dir/log.txt" | tail -1 | grep -o 'in [0-9]*' | grep -o '[0-9]*' || true)
  cov0=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$dir/log.txt" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
  last=$(grep -E '^#[0-9]+' "$dir/log.txt" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)
  corp=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' | cut -d' ' -f2 || true)
  found=$(find "$dir" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' \
            -o -maxdepth 1 -name 'oom-*' | wc -l)
  line="fuzz_$n: ${execs:-?} executions in ${took:-?} s (${persec:-?}/s), cov ${cov0:-?} -> ${cov:-?} edges, ft ${ft:-?}, corpus ${corp:-?} (inputs/bytes), findings $found"
  echo "$line"
  summary="$summary$line
"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    echo "fuzz_$n: FAILED (exit $rc); see $dir/log.txt" >&2
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$dir/log.txt" | head -5 >&2 || true
  fi
done
printf '%s' "$summary" >"$WORK/summary.txt"
exit $status
