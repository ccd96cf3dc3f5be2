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
# wait_for DESCRIPTION COMMAND...: polls COMMAND every 10 ms for up to 5 s, one check.
wait_for() {
  local what=$1; shift
  checks=$((checks + 1))
  for _ in $(seq 500); do "$@" && return 0; sleep 0.01; done
  fail "$what: not within 5 s"
}
# require_root_cpus_0_1: the test's own processes are placed on CPUs 0 and 1 as root;
# elsewhere it skips (77), which its meson entry declares (ISOLATORD_SKIP_DECLARED).
require_root_cpus_0_1() {
  if ! "$ISOLATORD_PYTHON" -c 'import os,sys; sys.exit(0 if {0,1} <= os.sched_getaffinity(0) else 1)' ||
     [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root and CPUs 0 and 1 (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
  fi
}
# hq_machine MATCH [DAEMON_LINE...]: the fake 2-CPU machine in $work/root and, in $conf,
# one group hq on CPU 1 (hq.slice, Match=MATCH, SCHED_FIFO 10), the sampler off and the
# cgroupfs backend, with DAEMON_LINEs added to [Daemon]; sets root, slice and conf.
hq_machine() {
  root="$work/root"
  cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$root"
  slice="$root/sys/fs/cgroup/hq.slice"
  conf="$work/isolatord.conf"
  printf '[Partition]\nHousekeeping=0\n\n[Group hq]\nCPUs=1\nSlice=hq.slice\nMatch=%s\nSchedPolicy=fifo\n' "$1" >"$conf"
  printf 'SchedPriority=10\n\n[Sampler]\nEnabled=false\n\n[Daemon]\nCgroupBackend=cgroupfs\n' >>"$conf"
  shift
  local line
  for line in "$@"; do echo "$line" >>"$conf"; done
}
# sched_of PID: "[CPUS] POLICY PRIORITY"; placed PID: on CPU 1 at FIFO 10 and in hq.slice
# (hq_machine's); realtime PID: at SCHED_FIFO or SCHED_RR.
sched_of() {
  /usr/bin/python3 -c 'import os,sys; p=int(sys.argv[1]); print(sorted(os.sched_getaffinity(p)), os.sched_getscheduler(p), os.sched_getparam(p).sched_priority)' "$1"
}
placed() { [ "$(sched_of "$1" 2>/dev/null)" = "[1] 1 10" ] && grep -qx "$1" "$slice/cgroup.procs"; }
realtime() { case $(sched_of "$1" 2>/dev/null) in *" 1 "*|*" 2 "*) return 0;; esac; return 1; }
finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
