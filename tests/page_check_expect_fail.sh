#!/bin/sh
# Runs page_check.sh on a page that is broken on purpose and passes only when the checker
# fails it (exit 1) and names every problem listed, one per line, in EXPECTED_FILE.
# Exit 77 (skip) is passed through when Chromium is not installed.
#
#   sh tests/page_check_expect_fail.sh PAGE.html EXPECTED_FILE
set -u
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 2
PAGE=${1:?usage: page_check_expect_fail.sh PAGE.html EXPECTED_FILE}
EXPECTED=${2:?usage: page_check_expect_fail.sh PAGE.html EXPECTED_FILE}
[ -f "$EXPECTED" ] || { echo "page_check_expect_fail: $EXPECTED is not a file" >&2; exit 2; }

output=$(sh "$HERE/page_check.sh" "$PAGE" 2>&1)
status=$?
printf '%s\n' "$output"
[ "$status" -eq 77 ] && exit 77
if [ "$status" -ne 1 ]; then
  echo "FAIL: page_check.sh exited with $status, expected 1 (problems found)" >&2
  exit 1
fi
failures=0
while IFS= read -r problem || [ -n "$problem" ]; do
  [ -n "$problem" ] || continue
  if ! printf '%s\n' "$output" | grep -qF -- "$problem"; then
    echo "FAIL: page_check.sh did not report: $problem" >&2
    failures=$((failures + 1))
  fi
done < "$EXPECTED"
[ "$failures" -eq 0 ] || exit 1
echo "page_check_expect_fail: every expected problem was reported"
