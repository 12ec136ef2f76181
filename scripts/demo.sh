#!/bin/sh
# The README's main command: installs what is missing (apt-get), builds the `symflow` tool and
# runs `symflow demo`: every shipped model (models/) inverts held-out sounds of its task (k-osc,
# surge-simple); tables are printed and out/demo/index.html shows targets and resyntheses
# (audio, waveforms, spectrograms) and the learned Param2Tok assignments. Extra arguments go to `symflow demo`.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
BUILD=${SYMFLOW_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target symflow_cli
# Passive OpenMP waits: a shared or busy machine would otherwise spin at every barrier.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} "$BUILD/examples/symflow" demo --models models --out out/demo "$@"
echo "open out/demo/index.html in a browser"
