#!/usr/bin/env bash
# The starvation guard's idle cost on the 256-CPU fixture (5681 IRQs), a real-time group
# on CPUs 1-127,129-255: the daemon's CPU time over BENCH_SEC (default 60) seconds with
# StarvationGuard=off, beside the guard on in its two cases:
# - the audio CPUs go idle now and then (a player that pauses between periods; a writer
#   of this script's own grows their idle time in the fake proc/stat every second): the
#   tick reads proc/stat alone;
# - no audio CPU ever goes idle (a busy-polling player; the fixture's proc/stat left
#   unchanged): the tick reads the stat line of every task last seen on an audio CPU
#   (the per-CPU kernel threads there: about 4 per CPU in this fixture, 1016 in all).
# The process table is read by every pass anyway (VerifyIntervalSec=10), guard or not.
# Prints figures, asserts nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_MKROOT:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"
sec=${BENCH_SEC:-60}

# A short name: the bus socket's path must stay under 100 characters.
work=$(mktemp -d "${TMPDIR:-/tmp}/iso-starve-XXXXXX")
writer=
trap '[ -n "$writer" ] && kill "$writer" 2>/dev/null; bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
bus_start "$work/bus"
"$ISOLATORD_PYTHON" "$ISOLATORD_MKROOT" --irq-scale 2 server-256 "$work/server" >/dev/null
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat"; } # the main thread's run time (ns): the loop, the guard

# proc/stat of 256 CPUs, every CPU's idle time at $1.
proc_stat() {
  awk -v i="$1" 'BEGIN { printf "cpu  0 0 0 %d 0 0 0 0 0 0\n", 256 * i
    for (c = 0; c < 256; c++) printf "cpu%d 0 0 0 %d 0 0 0 0 0 0\n", c, i }' >"$work/server/proc/stat.new"
  mv "$work/server/proc/stat.new" "$work/server/proc/stat"
}

# run NAME GUARD: the daemon's CPU time over $sec s, after the first apply.
run() {
  printf '[Partition]\nHousekeeping=0,128\n[Group audio]\nCPUs=1-127,129-255\nMatch=hqplayerd\n' >"$work/$1.conf"
  printf 'SchedPolicy=rr\nSchedPriority=99\n[Sampler]\nEnabled=false\n[Daemon]\nStarvationGuard=%s\n' "$2" >>"$work/$1.conf"
  daemon_start --root "$work/server" --config "$work/$1.conf" --runtime-dir "$work/run-$1"
  sleep 3
  local guard t0 t1
  guard=$("$ISOCTL" status --json | "$ISOLATORD_PYTHON" -c 'import json, sys; print(json.load(sys.stdin).get("starvation_guard", "?"))')
  t0=$(cpu_ns "$DAEMON_PID")
  sleep "$sec"
  t1=$(cpu_ns "$DAEMON_PID")
  awk -v n="$1" -v g="$guard" -v t="$((t1 - t0))" -v s="$sec" 'BEGIN {
    printf "%-46s (guard %s): %6.1f ms of CPU in %d s = %.2f%% of one CPU\n", n, g, t / 1e6, s, t / 1e7 / s }'
  daemon_stop
}

echo "tasks last seen on an audio CPU in the fixture:" \
  "$(awk '$39 != 0 && $39 != 128 {n++} END {print n}' "$work"/server/proc/[0-9]*/stat)"
proc_stat 1000
run "guard off" off
( i=1000; while :; do i=$((i + 1)); proc_stat "$i"; sleep 1; done ) &
writer=$!
run "guard on, the audio CPUs go idle" on
kill "$writer"; wait "$writer" 2>/dev/null || true; writer=
proc_stat 1000
run "guard on, no audio CPU ever idle (worst case)" on
