#!/bin/sh
# The README's test command: installs dependencies, builds everything, runs every test
# suite, then installs the library into a scratch prefix and builds/runs the consumer
# project in tests/consumer against it (find_package(symflow)).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
sh scripts/setup.sh
JOBS=$(nproc 2>/dev/null || echo 2)
T0=$(date +%s)
phase() {  # prints how long the phase that just ended took (the CI budget is 15 minutes in all)
  now=$(date +%s)
  echo "test.sh: $1 took $((now - T0)) s"
  T0=$now
}
BUILD=${SYMFLOW_BUILD_DIR:-$ROOT/build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j "$JOBS"
phase "set-up and build"
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS")
phase "the test suites"

# Reliability (docs/reliability.md): the file readers and a few core suites under AddressSanitizer
# + UndefinedBehaviorSanitizer (the whole suite: sh scripts/sanitize.sh), and a few seconds of
# each libFuzzer harness when clang is installed (scripts/setup.sh installs it).
SYMFLOW_ASAN_BUILD_DIR="$BUILD/sanitize" sh scripts/sanitize.sh --ci
phase "the sanitized subset (build and run)"
if command -v clang++ >/dev/null 2>&1; then
  SYMFLOW_FUZZ_BUILD_DIR="$BUILD/fuzz-smoke" SYMFLOW_FUZZ_WORK="$BUILD/fuzz-smoke/work" sh scripts/fuzz.sh 3
else
  echo "test.sh: clang++ not installed, fuzz smoke run skipped"
fi
phase "the fuzz smoke run (build and run)"

PREFIX="$BUILD/install-prefix"
rm -rf "$PREFIX" "$BUILD/consumer"
cmake --install "$BUILD" --prefix "$PREFIX"
cmake -S tests/consumer -B "$BUILD/consumer" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD/consumer" -j "$JOBS"
"$BUILD/consumer/consumer"
phase "the install and consumer project"
echo "test.sh: all tests passed"
