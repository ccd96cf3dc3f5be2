# shellcheck shell=bash
# Assertions for the shell integration tests: count checks, report failures with the
# output that caused them, and end with the closing tally.
failures=0 checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_exit CODE DESCRIPTION -- COMMAND...: runs COMMAND, keeps stdout+stderr in $out.
expect_exit() {
  local want=$1 what=$2; shift 3
  checks=$((checks + 1))
  set +e; out=$("$@" 2>&1); local got=$?; set -e
  [ "$got" -eq "$want" ] || fail "$what: exit $got, expected $want; output:
$out"
}
# expect_in DESCRIPTION TEXT: $out contains TEXT, one line (grep -F would take each line
# of a multi-line TEXT as a pattern of its own).
expect_in() {
  case $2 in *$'\n'*) fail "$1: expect_in takes one line"; return;; esac
  checks=$((checks + 1))
  grep -qF -- "$2" <<<"$out" || fail "$1: output lacks \"$2\"; output:
$out"
}
# expect_match DESCRIPTION REGEX: a line of $out matches the extended REGEX (for tables,
# whose column widths follow their widest cell).
expect_match() {
  checks=$((checks + 1))
  grep -qE -- "$2" <<<"$out" || fail "$1: no line matches /$2/; output:
$out"
}
# expect_not_in DESCRIPTION TEXT
expect_not_in() {
  checks=$((checks + 1))
  ! grep -qF -- "$2" <<<"$out" || fail "$1: output has \"$2\"; output:
$out"
}
# expect_eq DESCRIPTION WANT GOT
expect_eq() {
  checks=$((checks + 1))
  [ "$2" = "$3" ] || fail "$1: \"$3\", expected \"$2\""
}
finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
