#!/usr/bin/env bash
# The starvation guard, on the simulated 7700X (hqplayer rr 99 on CPUs 3-7,11-15) with
# StarvationSec=1: a fake per-CPU kworker/3:1 whose stat stays runnable with its run
# time unchanged, behind a fake hqplayerd at rr 99 whose run time grows, is boosted
# (its fake scheduling becomes SCHED_DEADLINE), counted in isoctl status and the
# metrics, logged naming the thread and the hog, a finding of verify; it gets its own
# scheduling back when the boost ends, at a revert, and at the next start after the
# daemon was killed mid-boost; a kworker made after the last pass is found and boosted
# without waiting for the next one.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work_start starvation
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nVerifyIntervalSec=3600\nStarvationSec=1\n' \
  >"$work/isolatord.conf"

# fake_task PID COMM FLAGS CPU STATE PRIORITY POLICY: proc/PID/{stat,status,comm,schedstat}
# as mkroot.py writes them, bound to CPU.
fake_task() {
  "$ISOLATORD_PYTHON" - "$root" "$@" <<'PY'
import os, sys
root, pid, comm, flags, cpu, state, prio, policy = sys.argv[1:]
base = os.path.join(root, "proc", pid)
os.makedirs(base, exist_ok=True)
f = [pid, f"({comm})", state, "2", "0", "0", "0", "-1", flags]
f += ["0"] * (38 - len(f)) + [cpu, prio, policy] + ["0"] * 11
f[21] = str(100 + int(pid))
open(f"{base}/stat", "w").write(" ".join(f) + "\n")
open(f"{base}/comm", "w").write(comm + "\n")
open(f"{base}/schedstat", "w").write("5000 0 3\n")
mask = format(1 << int(cpu), "x")
open(f"{base}/status", "w").write(f"Name:\t{comm}\nState:\t{state}\nTgid:\t{pid}\nPid:\t{pid}\nPPid:\t2\n"
                                  f"Cpus_allowed:\t{mask}\nCpus_allowed_list:\t{cpu}\n")
PY
}
kworker=700 hog=800 mine=900
fake_task "$kworker" kworker/3:1 69238848 3 S 0 0 # PF_KTHREAD | PF_NO_SETAFFINITY: a per-CPU worker
# A user's process named like a kernel thread, starving beside it: no flag, no boost (a
# boost is real-time scheduling, which a user's program gets only by root's rule).
fake_task "$mine" "kworker/3:9" 4194560 3 R 0 0
fake_task "$hog" hqplayerd 4194560 3 R 99 2
# The hog runs: its run time grows.
( n=0; while :; do n=$((n + 1)); echo "${n}000000 0 5" >"$root/proc/$hog/schedstat"; sleep 0.2; done ) &
children+=("$!")

field() { cut -d' ' -f"$2" "$root/proc/$1/stat"; }     # a stat field of a fake task
policy_is() { [ "$(field "$1" 41)" = "$2" ]; }
set_state() { sed -i "s/^\($1 ([^)]*)\) ./\1 $2/" "$root/proc/$1/stat"; }
count() { "$ISOCTL" --json status | "$ISOLATORD_PYTHON" -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
# wait_long DESCRIPTION COMMAND...: as wait_for, for up to 10 s (a boost takes
# StarvationSec plus a tick, and lasts 3 s).
wait_long() {
  local what=$1; shift
  checks=$((checks + 1))
  for _ in $(seq 1000); do "$@" && return 0; sleep 0.01; done
  fail "$what: not within 10 s"
}
starvation_finding() { # the finding of verify for the kworker, as "required|actual|message"
  "$ISOCTL" --json verify | "$ISOLATORD_PYTHON" -c '
import json, sys
for f in json.load(sys.stdin):
    if f["kind"] == "starvation" and f["object"] == sys.argv[1]:
        print(f["required"], "|", f["actual"], "|", f["message"])' "$kworker kworker/3:1" || true
}

bus_start "$work/bus"
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
expect_exit 0 "isoctl status" -- "$ISOCTL" status
expect_in "the guard is on (hqplayer runs rr 99)" "Starvation:    0 boost(s) of starving threads; guard on"
expect_eq "GetStatus says so" "on" "$(count starvation_guard)"

# Asleep: nothing happens.
sleep 2.5
expect_eq "a sleeping kworker is left alone" "0" "$(field $kworker 41)"

# Runnable and not running: boosted, then given back 3 s later.
set_state $kworker R
wait_long "the starving kworker boosted with SCHED_DEADLINE" policy_is $kworker 6
expect_eq "its priority field" "0" "$(field $kworker 40)"
expect_eq "counted" "1" "$(count boost_count)"
expect_eq "a user's process starving beside it is not boosted" "0" "$(field $mine 41)"
expect_exit 0 "isoctl status" -- "$ISOCTL" status
expect_in "isoctl status shows the boost" "Starvation:    1 boost(s) of starving threads; guard on"
expect_exit 0 "isoctl metrics" -- "$ISOCTL" metrics
expect_in "the metric" "isolatord_starvation_boosts_total 1"
checks=$((checks + 1))
grep -q "kworker/3:1 (pid $kworker) was runnable on CPU 3 for 1 s without running, behind hqplayerd (pid $hog, rr 99): boosted with SCHED_DEADLINE, 20 us every 1 s for 3 s" \
  "$BUS_DIR/daemon.log" || fail "no boost line naming the thread and the hog: $(grep -i starv "$BUS_DIR/daemon.log")"
out=$(starvation_finding)
expect_in "a finding of verify, advice" "False | runnable on CPU 3, not run for 1 s; boosted 1 time(s)"
expect_in "naming the hog" "starves behind hqplayerd (pid $hog, rr 99)"
expect_in "and the boost" "SCHED_DEADLINE, 20 us every 1 s for 3 s"
wait_long "its own scheduling back after the boost" policy_is $kworker 0

# Still starving: boosted again, logged once a minute only.
wait_long "boosted again" policy_is $kworker 6
expect_eq "counted again" "2" "$(count boost_count)"
expect_eq "said once a minute" "1" "$(grep -c "kworker/3:1 (pid $kworker) was runnable" "$BUS_DIR/daemon.log")"

# A revert gives it back at once, and the guard stops with the partition.
expect_exit 0 "isoctl revert" -- "$ISOCTL" revert
expect_eq "revert: its scheduling back" "0" "$(field $kworker 41)"
expect_eq "the guard off" "off: the partition is not applied" "$(count starvation_guard)"
sleep 3
expect_eq "no boost while reverted" "0" "$(field $kworker 41)"
expect_eq "none counted" "2" "$(count boost_count)"

# Killed mid-boost: the next start gives it back before anything else.
expect_exit 0 "isoctl apply" -- "$ISOCTL" apply
wait_long "boosted after the apply" policy_is $kworker 6
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
for _ in $(seq 100); do bus_has_owner org.rtaudio.Isolator || break; sleep 0.02; done
expect_eq "the kill leaves the boost" "6" "$(field $kworker 41)"
set_state $kworker S
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
expect_eq "the next start gives it back" "0" "$(field $kworker 41)"
checks=$((checks + 1))
grep -q "$kworker kworker/3:1: the boost an earlier run left ended, its scheduling other given back" "$BUS_DIR/daemon.log" ||
  fail "no line for the boost left by the killed daemon"

# A kernel thread made after the last pass (a kworker its pool adds while the CPU is
# hogged), starving from the start: the guard looks for new kernel threads itself while
# an audio CPU stays busy, so it is boosted long before the next pass (an hour here).
fake_task 701 kworker/3:2 69238848 3 R 0 0
wait_long "a kworker made after the pass, starving, boosted without a pass" policy_is 701 6
set_state 701 S

# Once it runs (asleep), nothing more; a revert then leaves its stat as it was.
cp "$root/proc/$kworker/stat" "$work/kworker.stat"
sleep 3
expect_exit 0 "isoctl revert" -- "$ISOCTL" revert
expect_eq "its stat line as it was" "" "$(diff "$work/kworker.stat" "$root/proc/$kworker/stat")"
expect_daemon_stops "SIGTERM stops the daemon"
finish
