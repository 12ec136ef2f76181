#!/bin/sh
# The README's test command: installs dependencies, builds everything, runs every test
# suite, then installs the library into a scratch prefix and builds/runs the consumer
# project in tests/consumer against it (find_package(symflow)).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
sh scripts/setup.sh
JOBS=$(nproc 2>/dev/null || echo 2)
BUILD=${SYMFLOW_BUILD_DIR:-$ROOT/build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j "$JOBS"
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS")

PREFIX="$BUILD/install-prefix"
rm -rf "$PREFIX" "$BUILD/consumer"
cmake --install "$BUILD" --prefix "$PREFIX"
cmake -S tests/consumer -B "$BUILD/consumer" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD/consumer" -j "$JOBS"
"$BUILD/consumer/consumer"
echo "test.sh: all tests passed"
