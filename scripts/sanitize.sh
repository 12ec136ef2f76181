#!/bin/sh
# Builds the tests and the symflow program with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc, -O1 -g, assertions on; CMake option SYMFLOW_SANITIZE=address,undefined) and runs them.
# Every UBSan report aborts (-fno-sanitize-recover=all, halt_on_error=1) and every ASan report
# (including leaks) exits non-zero, so any report fails its test.
#
#   sh scripts/sanitize.sh          the whole suite: every doctest suite and every CLI test
#   sh scripts/sanitize.sh --ci     the subset scripts/test.sh runs (docs/reliability.md says
#                                   which suites and why): the file readers and the core
#   SYMFLOW_ASAN_BUILD_DIR          build folder (default: build-asan)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-full}
BUILD=${SYMFLOW_ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=$(nproc 2>/dev/null || echo 2)
# The CI subset: every reader of outside files (JSON, safetensors / checkpoints, WAV, PNG, the
# audio reader of `symflow invert`), the fuzz regression cases and the hand-written GEMM kernel
# (xsimd, raw pointers). Under 2 minutes to build and run on 2 cores (see docs/reliability.md).
CI_SUITES="test_io_json test_io_checkpoint test_io_wav test_io_png test_cli_audio_input test_fuzz_regressions
test_core_gemm"

export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Known leak inside libsndfile/libvorbis for corrupted Ogg Vorbis input (not symflow's; fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" \
  -DSYMFLOW_SANITIZE=address,undefined -DSYMFLOW_BUILD_BENCH=OFF \
  -DSYMFLOW_SANITIZE_CI_SUITES="$(echo $CI_SUITES | tr ' ' ';')" >/dev/null
case $MODE in
  --ci)
    # shellcheck disable=SC2086
    # one target that depends on the suites, so that make builds them in parallel (several
    # --target names are built one after another)
    cmake --build "$BUILD" -j "$JOBS" --target sanitize_ci_suites
    regex="^($(echo $CI_SUITES | tr ' ' '|'))\$"
    (cd "$BUILD" && ctest --output-on-failure -j "$JOBS" -R "$regex")
    ;;
  full)
    cmake --build "$BUILD" -j "$JOBS"
    (cd "$BUILD" && ctest --output-on-failure -j "$JOBS")
    ;;
  *)
    echo "usage: sanitize.sh [--ci]" >&2
    exit 2
    ;;
esac
echo "sanitize.sh ($MODE): all tests passed under AddressSanitizer + UndefinedBehaviorSanitizer"
