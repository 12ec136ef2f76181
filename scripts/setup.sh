#!/bin/sh
# Installs every Debian package that symflow's build, tests, examples and benchmarks need
# (chromium: the tests load the demo's HTML page in it headless; python3: its checker;
# python3-numpy: the k-osc render is compared with the numpy peer, tests/kosc_peer_test.py; clang and
# libclang-rt-14-dev: libFuzzer for the fuzz smoke run of scripts/test.sh, docs/reliability.md;
# libopenmpi-dev and openmpi-bin: `mpirun -np N symflow train`, docs/distributed.md; libdnnl-dev:
# oneDNN for the bf16 GEMMs, docs/performance.md, with ocl-icd-opencl-dev because its CMake config
# asks for OpenCL).
# Idempotent: when everything is already installed it does nothing; otherwise it runs
# apt-get update, then apt-get install. Needs root (uses sudo when not root).
set -eu
PACKAGES="g++ make cmake pkg-config git
libeigen3-dev libxsimd-dev doctest-dev libbenchmark-dev
libsndfile1-dev libsamplerate0-dev libcli11-dev nlohmann-json3-dev libfftw3-dev libomp-dev
chromium python3 python3-numpy clang libclang-rt-14-dev libopenmpi-dev openmpi-bin
libdnnl-dev ocl-icd-opencl-dev"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
