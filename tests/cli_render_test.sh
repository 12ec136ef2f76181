#!/bin/sh
# `symflow render` end to end (POSIX sh): valid WAV files for every task, --save-params then
# --params reproducing the same file byte for byte, and bad inputs refused with a non-zero
# exit, a one-line error on stderr and no output file.
#
#   sh tests/cli_render_test.sh path/to/symflow scratch-dir
#
# The scratch directory is emptied first. Registered with CTest as cli_render (tests/CMakeLists.txt).
set -u

. "$(dirname "$0")/cli_lib.sh"
cli_begin cli_render_test "$@"

# Unsigned little-endian 32-bit integer at byte offset $2 of file $1.
u32le() {
  od -An -tu1 -j"$2" -N4 "$1" | awk '{ print $1 + 256 * $2 + 65536 * $3 + 16777216 * $4 }'
}
# $3 bytes at offset $2 of file $1, as text.
bytes() {
  dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null
}
filesize() {
  wc -c < "$1" | tr -d ' '
}

# A 16-bit PCM mono WAV as `symflow render` writes it (44-byte header, data chunk at 36),
# holding $3 samples at $2 Hz.
check_wav() {
  f=$1 rate=$2 samples=$3
  [ -f "$f" ] || { fail "$f was not written"; return; }
  [ "$(bytes "$f" 0 4)" = RIFF ] || fail "$f: no RIFF tag"
  [ "$(bytes "$f" 8 4)" = WAVE ] || fail "$f: no WAVE tag"
  [ "$(bytes "$f" 12 4)" = "fmt " ] || fail "$f: no fmt chunk at 12"
  [ "$(bytes "$f" 36 4)" = data ] || fail "$f: no data chunk at 36"
  size=$(filesize "$f")
  [ "$(u32le "$f" 4)" = $((size - 8)) ] || fail "$f: RIFF size $(u32le "$f" 4) != file size $size - 8"
  [ "$(u32le "$f" 24)" = "$rate" ] || fail "$f: sample rate $(u32le "$f" 24), expected $rate"
  [ "$(u32le "$f" 40)" = $((2 * samples)) ] || fail "$f: data size $(u32le "$f" 40), expected $((2 * samples))"
  [ "$size" = $((44 + 2 * samples)) ] || fail "$f: file size $size, expected $((44 + 2 * samples))"
}

# expect_refusal WHAT PATTERN ARGS...: runs `symflow render ARGS...` expecting a refusal:
# non-zero status, exactly one line on stderr, an error message matching PATTERN (grep -E),
# and nothing new in the scratch directory (no output, no temporary file).
expect_refusal() {
  what=$1 pattern=$2
  shift 2
  rm -f x.wav x.json
  before=$(ls -A | sort)
  "$SYMFLOW" render "$@" > out.txt 2> err.txt
  status=$?
  [ "$status" -ne 0 ] || fail "$what: exit status 0"
  lines=$(wc -l < err.txt | tr -d ' ')
  [ "$lines" = 1 ] || fail "$what: $lines lines on stderr: $(cat err.txt)"
  grep -q "error: " err.txt || fail "$what: stderr has no error message: $(cat err.txt)"
  grep -Eq -- "$pattern" err.txt || fail "$what: the error does not say /$pattern/: $(cat err.txt)"
  [ ! -e x.wav ] || fail "$what: x.wav was written"
  after=$(ls -A | sort)
  [ "$before" = "$after" ] || fail "$what: files changed: before [$before] after [$after]"
}

# --- valid renders -------------------------------------------------------------------------
"$SYMFLOW" render --task kosc --k 4 --random --seed 5 --out kosc.wav --save-params kosc.json > /dev/null ||
  fail "kosc --random exited $?"
check_wav kosc.wav 44100 1024
"$SYMFLOW" render --task kosc --k 3 --variant asymmetric --random --seed 6 --out kosc_asym.wav \
  --save-params kosc_asym.json > /dev/null || fail "kosc asymmetric --random exited $?"
check_wav kosc_asym.wav 44100 1024
"$SYMFLOW" render --task surge-simple --random --seed 7 --seconds 0.5 --out surge.wav \
  --save-params surge.json > /dev/null || fail "surge-simple --random exited $?"
check_wav surge.wav 16000 8000

# The same seed gives the same file; another seed another one.
"$SYMFLOW" render --task kosc --k 4 --random --seed 5 --out kosc_again.wav > /dev/null
cmp -s kosc.wav kosc_again.wav || fail "kosc --random --seed 5 twice: files differ"
"$SYMFLOW" render --task kosc --k 4 --random --seed 8 --out kosc_other.wav > /dev/null
cmp -s kosc.wav kosc_other.wav && fail "kosc seeds 5 and 8 give the same file"
# Seeds are decimal whatever their leading zeros (issue 17: CLI11 read "08" as bad octal and
# "010" as 8).
"$SYMFLOW" render --task kosc --k 4 --random --seed 08 --out kosc_08.wav > /dev/null 2>&1 || fail "--seed 08 exited $?"
cmp -s kosc_other.wav kosc_08.wav || fail "--seed 08 is not --seed 8"
"$SYMFLOW" render --task kosc --k 4 --random --seed 010 --out kosc_010.wav > /dev/null 2>&1 || fail "--seed 010 exited $?"
"$SYMFLOW" render --task kosc --k 4 --random --seed 10 --out kosc_10.wav > /dev/null 2>&1 || fail "--seed 10 exited $?"
cmp -s kosc_10.wav kosc_010.wav || fail "--seed 010 is not --seed 10"
cmp -s kosc_other.wav kosc_010.wav && fail "--seed 010 is read as octal 8"
# --out in a folder that does not exist yet: created, as invert does (issue 17).
"$SYMFLOW" render --task kosc --k 4 --random --seed 5 --out new_dir/sub/x.wav --save-params new_json/x.json \
  > /dev/null 2>&1 || fail "--out new_dir/sub/x.wav exited $?"
cmp -s kosc.wav new_dir/sub/x.wav || fail "--out new_dir/sub/x.wav: not written (or not the same sound)"
[ -f new_json/x.json ] || fail "--save-params new_json/x.json: not written"

# --save-params then --params reproduces the file byte for byte (both tasks, both variants).
"$SYMFLOW" render --task kosc --k 4 --params kosc.json --out kosc_from_json.wav > /dev/null ||
  fail "kosc --params exited $?"
cmp -s kosc.wav kosc_from_json.wav || fail "kosc: --params of --save-params gives a different file"
"$SYMFLOW" render --task kosc --k 3 --variant asym --params kosc_asym.json --out kosc_asym_from_json.wav \
  > /dev/null || fail "kosc asymmetric --params exited $?"
cmp -s kosc_asym.wav kosc_asym_from_json.wav || fail "kosc asymmetric: --params gives a different file"
"$SYMFLOW" render --task surge-simple --seconds 0.5 --params surge.json --out surge_from_json.wav > /dev/null ||
  fail "surge-simple --params exited $?"
cmp -s surge.wav surge_from_json.wav || fail "surge-simple: --params of --save-params gives a different file"

# --list-params for kosc: 3k parameters and the declared symmetry (none when asymmetric).
"$SYMFLOW" render --task kosc --k 2 --list-params > list.txt || fail "kosc --list-params exited $?"
grep -q "osc2_shape" list.txt || fail "kosc --list-params: no osc2_shape"
grep -q "S2: oscillators" list.txt || fail "kosc --list-params: no S2 symmetry"
"$SYMFLOW" render --task kosc --k 2 --variant asym --list-params > list.txt || fail "kosc asym --list-params exited $?"
grep -q "none declared" list.txt || fail "kosc asymmetric --list-params declares a symmetry"

# --- refusals: non-zero exit, one line on stderr, nothing written ----------------------------
sed 's/"osc1_freq"/"osc9_freq"/' kosc.json > bad_name.json
: > afile
: > out.txt
: > err.txt
expect_refusal "missing params file" "cannot open params file" --task kosc --k 4 --params no_such.json --out x.wav
expect_refusal "unknown param name" "unknown parameter osc9_freq" --task kosc --k 4 --params bad_name.json --out x.wav
expect_refusal "k = 0" "--k must be between 1 and" --task kosc --k 0 --random --out x.wav
expect_refusal "no --k" "needs --k" --task kosc --random --out x.wav
expect_refusal "k of another file" "written for k 4, not 5" --task kosc --k 5 --params kosc.json --out x.wav
expect_refusal "variant of another file" "written for variant symmetric" \
  --task kosc --k 4 --variant asym --params kosc.json --out x.wav
expect_refusal "unknown variant" "--variant must be" --task kosc --k 4 --variant both --random --out x.wav
expect_refusal "kosc --seconds" "fixed length" --task kosc --k 4 --random --seconds 2 --out x.wav
expect_refusal "kosc --sample-rate" "fixed length" --task kosc --k 4 --random --sample-rate 16000 --out x.wav
expect_refusal "--k with surge-simple" "apply only to --task kosc" --task surge-simple --k 4 --random --out x.wav
expect_refusal "unknown task" "unknown task .nosuchsynth." --task nosuchsynth --random --out x.wav
expect_refusal "--out two levels under a file" "cannot create it \\(afile is not a folder\\)" \
  --task kosc --k 4 --random --out afile/sub/x.wav
expect_refusal "--out under a file" "cannot create" --task kosc --k 4 --random --out afile/x.wav
expect_refusal "--save-params under a file" "cannot create" \
  --task kosc --k 4 --random --out x.wav --save-params afile/x.json

cli_end
