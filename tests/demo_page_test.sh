#!/bin/sh
# `symflow demo` on the shipped models (small settings: seconds), then its page in headless
# Chromium (tests/page_check.sh: no console errors, every image and audio element loads).
# Exits 77 (skipped) when Chromium is not installed, like page_check.sh.
#
#   sh tests/demo_page_test.sh path/to/symflow models-dir scratch-dir
set -u
SYMFLOW=${1:?usage: demo_page_test.sh SYMFLOW_BINARY MODELS_DIR SCRATCH_DIR}
MODELS=${2:?usage}
DIR=${3:?usage}
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
"$SYMFLOW" demo --models "$MODELS" --out "$DIR/demo" --sounds 8 --surge-sounds 3 --show 2 --samples 2 --steps 8 > "$DIR/out.txt" 2> "$DIR/err.txt" ||
  { echo "FAIL: symflow demo failed:"; cat "$DIR/err.txt"; exit 1; }
grep -q 'cnf-param2tok' "$DIR/out.txt" || { echo "FAIL: no cnf-param2tok row in the table:"; cat "$DIR/out.txt"; exit 1; }
grep -q '^random' "$DIR/out.txt" || { echo "FAIL: no random reference row:"; cat "$DIR/out.txt"; exit 1; }
if ls "$MODELS" | grep -q '^surge-'; then  # a shipped surge-simple model: its table and section
  grep -q '^surge-simple, .*best of N by MSS' "$DIR/out.txt" || { echo "FAIL: no surge-simple table:"; cat "$DIR/out.txt"; exit 1; }
  grep -q '<h2>surge-simple' "$DIR/demo/index.html" || { echo "FAIL: no surge-simple section on the page"; exit 1; }
fi
grep -q 'Learned Param2Tok assignment' "$DIR/demo/index.html" || { echo "FAIL: no assignment heat map on the page"; exit 1; }
sh "$(dirname "$0")/page_check.sh" "$DIR/demo/index.html"
