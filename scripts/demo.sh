#!/bin/sh
# The README's main command. Until the inversion demo lands it builds and runs the
# quick-start example.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
BUILD=${SYMFLOW_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target quickstart
"$BUILD/examples/quickstart"
