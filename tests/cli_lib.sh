# Shared start and end of the command-line test scripts (tests/cli_*_test.sh), POSIX sh.
#
#   . "$(dirname "$0")/cli_lib.sh"
#   cli_begin NAME "$@"     # $1 = symflow binary, $2 = scratch dir: checks the binary (absolute
#                           # SYMFLOW), empties the scratch dir and cd's into it, resets failures
#   fail "what went wrong"  # records one failure (stderr "FAIL: ...")
#   cli_end                 # "NAME: N failure(s)" and exit 1, or "NAME: all checks passed"
cli_begin() {
  CLI_TEST_NAME=$1
  SYMFLOW=${2:?usage: $CLI_TEST_NAME.sh SYMFLOW_BINARY SCRATCH_DIR}
  DIR=${3:?usage: $CLI_TEST_NAME.sh SYMFLOW_BINARY SCRATCH_DIR}
  case $SYMFLOW in /*) ;; *) SYMFLOW=$(pwd)/$SYMFLOW ;; esac
  [ -f "$SYMFLOW" ] && [ -x "$SYMFLOW" ] || { echo "$CLI_TEST_NAME: $SYMFLOW is not an executable file" >&2; exit 1; }
  rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
  cd "$DIR" || exit 1
  failures=0
}
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
cli_end() {
  if [ "$failures" -ne 0 ]; then
    echo "$CLI_TEST_NAME: $failures failure(s)" >&2
    exit 1
  fi
  echo "$CLI_TEST_NAME: all checks passed"
}
