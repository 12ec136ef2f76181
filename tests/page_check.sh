#!/bin/sh
# Loads an offline HTML page (e.g. out/demo/index.html from `symflow demo`) in headless
# Chromium and checks that it loads without console errors and that every <img> decodes and
# every <audio> loads its metadata. The work is done by page_check.py + page_check.js next
# to this script (python3 standard library only).
#
#   sh tests/page_check.sh PAGE.html
#
# Exit status: 0 with "page ok: N images, M audio"; 1 with one line per problem (the
# element's src or the console message); 2 on bad usage; 77 (CTest's SKIP_RETURN_CODE) when
# Chromium is not installed. Set CHROMIUM to use another Chromium executable, and
# PAGE_CHECK_TIMEOUT for the seconds to wait for the page's verdict (default 60).
set -u
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 2
[ $# -eq 1 ] || { echo "usage: page_check.sh PAGE.html" >&2; exit 2; }
[ -f "$1" ] || { echo "page_check: $1 is not a file" >&2; exit 2; }

CHROMIUM=${CHROMIUM:-}
if [ -z "$CHROMIUM" ]; then
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then CHROMIUM=$candidate; break; fi
  done
fi
if [ -z "$CHROMIUM" ] || ! command -v "$CHROMIUM" >/dev/null 2>&1; then
  echo "page_check: SKIP: Chromium is not installed (scripts/setup.sh installs the Debian package chromium)"
  exit 77
fi
command -v python3 >/dev/null 2>&1 || { echo "page_check: SKIP: python3 is not installed"; exit 77; }

TIMEOUT=${PAGE_CHECK_TIMEOUT:-60}
# page_check.py stops Chromium itself when the page's time is up; the outer timeout only
# guards against the checker hanging (SIGTERM lets it clean up, SIGKILL 10 s later).
exec timeout -k 10 $((TIMEOUT + 30)) python3 "$HERE/page_check.py" --chromium "$CHROMIUM" --timeout "$TIMEOUT" "$1"
