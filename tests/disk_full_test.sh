#!/bin/sh
# `symflow train` when a checkpoint cannot be written (POSIX sh, a few seconds). A file-size
# limit (`ulimit -f`, in a subshell) below the checkpoint size stands in for a full disk: the
# kernel refuses the write with EFBIG (symflow ignores SIGXFSZ, which would kill it otherwise).
#   - a run stopped after 7 steps (checkpoints of steps 7 and 6), resumed under the limit: the
#     first checkpoint write (step 9) fails, the run exits with status 1 and one line on
#     stderr, "symflow train: error: ..." naming the checkpoint and the system error; the two
#     existing checkpoints are byte-for-byte unchanged and no temporary file is left;
#   - resumed without the limit from the checkpoint of step 7, the run ends bit-identical to
#     the uninterrupted run.
#
#   sh tests/disk_full_test.sh path/to/symflow scratch-dir
#
# Registered with CTest as crash_disk_full.
set -u
NAME=disk_full_test
SYMFLOW=${1:?usage: disk_full_test.sh SYMFLOW_BINARY SCRATCH_DIR}
DIR=${2:?usage: disk_full_test.sh SYMFLOW_BINARY SCRATCH_DIR}
. "$(cd "$(dirname "$0")" && pwd)/crash_test_lib.sh"

reference

train --out full --stop-after 7 > /dev/null 2> full.stderr || fail "the first 7 steps exited $?: $(cat full.stderr)"
[ "$(ckpt_step full/model.safetensors)" = 7 ] && [ "$(ckpt_step full/model.prev.safetensors)" = 6 ] ||
  fail "after --stop-after 7 the checkpoints are at steps $(ckpt_step full/model.safetensors) and $(ckpt_step full/model.prev.safetensors), expected 7 and 6"
cp full/model.safetensors full.latest_copy
cp full/model.prev.safetensors full.prev_copy

# The limit counts 512-byte blocks in POSIX sh (1024 in some shells): size / 2048 blocks is
# below the checkpoint size in both units and far above the logs the run appends to.
size=$(wc -c < full/model.safetensors | tr -d ' ')
blocks=$((size / 2048))
(
  ulimit -f $blocks || exit 99
  # shellcheck disable=SC2086
  exec "$SYMFLOW" train $RUN --seed $SEED --out full --resume
) > full.limited.stdout 2> full.limited.stderr
status=$?
[ $status -ne 99 ] || fail "ulimit -f $blocks is not supported by this shell"
echo "resume under ulimit -f $blocks (checkpoint $size bytes): exit status $status: $(cat full.limited.stderr)"
[ $status -eq 1 ] || fail "under the file-size limit: exit status $status, expected 1 (153 = killed by SIGXFSZ)"
[ "$(wc -l < full.limited.stderr | tr -d ' ')" = 1 ] ||
  fail "under the file-size limit: not one line on stderr: $(cat full.limited.stderr)"
grep "^symflow train: error: " full.limited.stderr | grep "full/model.safetensors" | grep -q "File too large" ||
  fail "under the file-size limit: the error does not name the checkpoint and 'File too large': $(cat full.limited.stderr)"
cmp -s full/model.safetensors full.latest_copy || fail "the failed write changed the latest checkpoint"
cmp -s full/model.prev.safetensors full.prev_copy || fail "the failed write changed the previous checkpoint"
no_leftovers full

train --out full --resume > /dev/null 2> full.resume.stderr || fail "the resume without limit exited $?: $(cat full.resume.stderr)"
[ ! -s full.resume.stderr ] || fail "the resume (--quiet, from a good latest) printed: $(cat full.resume.stderr)"
same "$REF" full/model.safetensors || fail "the run resumed after the failed write differs from the uninterrupted run"

finish
