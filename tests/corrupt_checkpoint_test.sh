#!/bin/sh
# `symflow train --resume` with a damaged latest checkpoint (POSIX sh, a few seconds):
#   - corrupted latest (one byte of the tensor data flipped; the FNV-1a checksum catches it):
#     resume warns on stderr, naming the latest and the previous file, resumes from the
#     previous one, and does not rotate the damaged file over the good previous one (after one
#     more step the previous file still holds the good tensors); the run then ends
#     bit-identical to the uninterrupted run;
#   - truncated latest (cut to half its size): the same warning, bit-identical end;
#   - latest missing (as after a crash between the two renames of a checkpoint): resumes from
#     the previous one, naming both, bit-identical end;
#   - both damaged: exit status 1 and exactly one line on stderr, "symflow train: error: ..."
#     naming both files; neither file is changed and nothing new is written.
#
#   sh tests/corrupt_checkpoint_test.sh path/to/symflow scratch-dir
#
# Registered with CTest as crash_corrupt_checkpoint.
set -u
NAME=corrupt_checkpoint_test
SYMFLOW=${1:?usage: corrupt_checkpoint_test.sh SYMFLOW_BINARY SCRATCH_DIR}
DIR=${2:?usage: corrupt_checkpoint_test.sh SYMFLOW_BINARY SCRATCH_DIR}
. "$(cd "$(dirname "$0")" && pwd)/crash_test_lib.sh"

flip_middle_byte() {
  "$PYTHON" -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)' "$1"
}
truncate_half() {
  "$PYTHON" -c 'import os, sys; os.truncate(sys.argv[1], os.path.getsize(sys.argv[1]) // 2)' "$1"
}
lines() {
  wc -l < "$1" | tr -d ' '
}

reference

# A run stopped after 10 steps: latest = step 10, previous = step 9.
stopped_run() {
  rm -rf "$1"
  train --out "$1" --stop-after 10 > /dev/null 2> "$1.stderr" || fail "$1: the first run exited $?: $(cat "$1.stderr")"
  [ "$(ckpt_step "$1/model.safetensors")" = 10 ] && [ "$(ckpt_step "$1/model.prev.safetensors")" = 9 ] ||
    fail "$1: after --stop-after 10 the checkpoints are at steps $(ckpt_step "$1/model.safetensors") and $(ckpt_step "$1/model.prev.safetensors"), expected 10 and 9"
  cp "$1/model.prev.safetensors" "$1.good_prev"
}
# Resume must fall back to the previous checkpoint with a warning naming both files.
# $1 out dir, $2 what was done to the latest
check_fallback() {
  train --out "$1" --resume --stop-after 1 > /dev/null 2> "$1.resume.stderr" ||
    { fail "$1 ($2 latest): resume exited $?: $(cat "$1.resume.stderr")"; return; }
  grep "warning" "$1.resume.stderr" | grep "$1/model.safetensors" | grep -q "$1/model.prev.safetensors" ||
    fail "$1 ($2 latest): no warning naming both checkpoint files: $(cat "$1.resume.stderr")"
  echo "$2 latest: $(grep warning "$1.resume.stderr")"
  [ "$(ckpt_step "$1/model.safetensors")" = 10 ] ||
    fail "$1 ($2 latest): resumed from the previous checkpoint (step 9) plus one step, the latest is at step $(ckpt_step "$1/model.safetensors"), not 10"
  same "$1.good_prev" "$1/model.prev.safetensors" ||
    fail "$1 ($2 latest): the good previous checkpoint was replaced (the damaged latest rotated over it?)"
  "$SYMFLOW" inspect --model "$1/model.prev.safetensors" > /dev/null 2>&1 ||
    fail "$1 ($2 latest): the previous checkpoint no longer loads"
  train --out "$1" --resume > /dev/null 2> "$1.end.stderr" || fail "$1: the final resume exited $?: $(cat "$1.end.stderr")"
  same "$REF" "$1/model.safetensors" || fail "$1 ($2 latest): the final weights differ from the uninterrupted run"
  no_leftovers "$1"
}

stopped_run flipped
flip_middle_byte flipped/model.safetensors
"$SYMFLOW" inspect --model flipped/model.safetensors > /dev/null 2>&1 && fail "a flipped byte in the tensor data is not detected"
check_fallback flipped corrupted

stopped_run truncated
truncate_half truncated/model.safetensors
check_fallback truncated truncated

stopped_run missing
rm missing/model.safetensors
check_fallback missing missing

# Both damaged: one line, exit 1, nothing changed.
stopped_run both
flip_middle_byte both/model.safetensors
truncate_half both/model.prev.safetensors
cp both/model.safetensors both.latest_copy
cp both/model.prev.safetensors both.prev_copy
ls both > both.files_before
train --out both --resume > both.stdout 2> both.stderr
status=$?
[ $status -eq 1 ] || fail "both damaged: exit status $status, expected 1"
[ "$(lines both.stderr)" = 1 ] || fail "both damaged: $(lines both.stderr) lines on stderr, expected 1: $(cat both.stderr)"
grep "^symflow train: error: " both.stderr | grep "both/model.safetensors" | grep -q "both/model.prev.safetensors" ||
  fail "both damaged: the error does not name both files: $(cat both.stderr)"
echo "both damaged: $(cat both.stderr)"
cmp -s both/model.safetensors both.latest_copy || fail "both damaged: the latest checkpoint was changed"
cmp -s both/model.prev.safetensors both.prev_copy || fail "both damaged: the previous checkpoint was changed"
ls both > both.files_after
cmp -s both.files_before both.files_after || fail "both damaged: files appeared or vanished: $(diff both.files_before both.files_after)"

finish
