#!/usr/bin/env bash
# Workload placement through the proc connector, with the test's own processes on a fake
# 2-CPU machine whose CPUs are this machine's: a process named like the group's Match=
# is moved into its slice (cgroup.procs), its threads onto the group's CPUs, at the
# group's SCHED_FIFO priority, at exec; threads it starts later too; one that ran before
# the daemon is placed by the start scan; GetWorkloads, WorkloadPlaced, isoctl workloads;
# an exit forgets it; revert gives the processes their CPUs and scheduling back.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

py=$ISOLATORD_PYTHON
# The group is CPU 1 of a 2-CPU fake machine: this machine must have CPUs 0 and 1.
require_root_cpus_0_1

work_start workloads

hq_machine 'isotest-hq*'

# Processes named like the group: comm is the name of the file executed.
bin="$work/bin"; mkdir -p "$bin"
cp /bin/sleep "$bin/isotest-hq"
cp /bin/sleep "$bin/isotest-hqearly"
cp "$(readlink -f /usr/bin/python3)" "$bin/isotest-hqpy"

placed() { [ "$(sched_of "$1" 2>/dev/null)" = "[1] 1 10" ]; }

bus_start "$work/bus"
"$bin/isotest-hqearly" 60 & early=$!; children+=("$early")
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
dbus-monitor --system "type='signal',interface='org.rtaudio.Isolator1',member='WorkloadPlaced'" >"$work/signals" 2>&1 &
children+=("$!")
sleep 0.3

# --- a process started before the daemon: the start scan placed it ---
wait_for "the early process placed" placed "$early"

# --- at exec ---
"$bin/isotest-hq" 60 & hq=$!; children+=("$hq")
wait_for "placed at exec: CPU 1, SCHED_FIFO 10" placed "$hq"
expect_eq "in the slice's cgroup.procs" "$hq" "$(cat "$slice/cgroup.procs")"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads
expect_match "listed" "^hq +$hq +isotest-hq +1 +fifo 10 "
expect_exit 0 "isoctl workloads --json" -- "$ISOCTL" workloads --json
expect_in "json" "\"pid\":$hq,"
wait_for "WorkloadPlaced sent" grep -q "uint32 $hq" "$work/signals"
expect_exit 0 "status" -- "$ISOCTL" status --json
expect_match "placements counted" '"placed_count":[1-9]'
expect_exit 0 "metrics" -- "$ISOCTL" metrics
expect_match "and in the metrics" '^isolatord_placements_total [1-9]'

# --- threads started after placement ---
cat >"$work/threads.py" <<'PY'
import os, sys, threading, time
for _ in range(300):                      # until isolatord has placed this process
    if os.sched_getaffinity(0) == {1} and os.sched_getscheduler(0) == os.SCHED_FIFO:
        break
    time.sleep(0.01)
def report():
    print(threading.get_native_id(), sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0),
          os.sched_getparam(0).sched_priority, flush=True)
t = threading.Thread(target=report); t.start(); t.join()
PY
expect_exit 0 "a thread started after placement" -- "$bin/isotest-hqpy" "$work/threads.py"
expect_match "the thread on CPU 1 at SCHED_FIFO 10" "^[0-9]+ \[1\] 1 10$"

# --- exit: forgotten, originals too ---
kill "$hq"; wait "$hq" 2>/dev/null || true
wait_for "an ended process is no longer listed" sh -c "! '$ISOCTL' workloads | grep -q ' $hq '"
checks=$((checks + 1))
# The journal forgets with a "-" line after the "+" one (compacted at revert and exit).
last=$(grep -E " $hq [0-9]+ isotest-hq" "$work/run/originals" | tail -n 1 || true)
case $last in ""|-*) ;; *) fail "the originals of an ended process were kept: $last";; esac

# --- revert: CPUs and scheduling back ---
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_eq "the early process has its CPUs and scheduling back" "[0, 1] 0 0" "$(sched_of "$early")"
expect_daemon_stops "stop"

finish
