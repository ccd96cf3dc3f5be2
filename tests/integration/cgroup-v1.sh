#!/usr/bin/env bash
# The cgroup v1 backend on a v1-shaped fake root (the 7700X on a hybrid layout: cgroup v2
# without the cpuset controller, cpuset on its own v1 hierarchy): "auto" chooses it; the
# group slices are made in the v1 hierarchy with their memory nodes, an isolated group's
# cpuset is exclusive; a player is placed there at exec (its pid in the slice's
# cgroup.procs, its threads on the group's CPUs); a foreign write to the slice's
# cpuset.cpus is repaired by the drift watch (inotify) and signalled; the housekeeping
# units, which systemd does not create on v1, are one advice finding; revert is
# byte-exact. The same backend against this machine's real hierarchy, read-only, is the
# cgroup-v1-host test.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

py=$ISOLATORD_PYTHON
# The player runs on CPU 1 (the diretta group's only CPU this machine has).
require_root_cpus_0_1

work_start cgroup-v1
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x-v1" "$root"
v1="$root/sys/fs/cgroup/cpuset"
conf="$work/isolatord.conf"
cat >"$conf" <<'CONF'
[Partition]
Housekeeping=0,8

[Group diretta]
CPUs=1-2,9-10
Match=isotest-v1dir*
SchedPolicy=fifo
SchedPriority=10

[Group hqplayer]
CPUs=3-7,11-15
Match=hqplayerd
Partition=isolated

[Sampler]
Enabled=false

[Daemon]
VerifyIntervalSec=3600
CONF

placed() { [ "$("$py" -c 'import os,sys; p=int(sys.argv[1]); print(sorted(os.sched_getaffinity(p)), os.sched_getscheduler(p), os.sched_getparam(p).sched_priority)' "$1" 2>/dev/null)" = "[1] 1 10" ]; }

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
checks=$((checks + 1))
grep -q "cpusets through cgroupfs-v1 (sys/fs/cgroup/cpuset)" "$BUS_DIR/daemon.log" || fail "auto did not choose cgroupfs-v1: $(cat "$BUS_DIR/daemon.log")"

# --- the slices, made in the v1 hierarchy ---
expect_eq "diretta.slice's CPUs" "1-2,9-10" "$(cat "$v1/diretta.slice/cpuset.cpus")"
expect_eq "its memory nodes, its parent's" "0" "$(cat "$v1/diretta.slice/cpuset.mems")"
expect_eq "hqplayer.slice's CPUs" "3-7,11-15" "$(cat "$v1/hqplayer.slice/cpuset.cpus")"
expect_eq "Partition=isolated: an exclusive cpuset on v1" "1" "$(cat "$v1/hqplayer.slice/cpuset.cpu_exclusive")"
expect_eq "diretta.slice not exclusive" "0" "$(cat "$v1/diretta.slice/cpuset.cpu_exclusive")"
expect_exit 1 "isoctl verify --json" -- "$ISOCTL" verify --json
expect_in "the housekeeping units: one advice" '"kind":"cpuset","object":"housekeeping units","expected":"confined to housekeeping","actual":"not confined (cgroup v1)","required":false'
expect_not_in "no unit reported absent" '"actual":"absent"'

# --- a player placed at exec ---
bin="$work/bin"; mkdir -p "$bin"
cp /bin/sleep "$bin/isotest-v1dir"
"$bin/isotest-v1dir" 300 & player=$!; children+=("$player")
wait_for "the player on CPU 1 at SCHED_FIFO 10" placed "$player"
expect_eq "in the v1 slice's cgroup.procs" "$player" "$(cat "$v1/diretta.slice/cgroup.procs")"
checks=$((checks + 1))
grep -qE "cgroup $player [0-9]+ isotest-v1dir	/cpuset" "$work/run/originals" ||
  fail "the player's original is not its v1 cpuset path: $(grep -F "$player" "$work/run/originals" || true)"

# --- drift: someone widens the slice; the inotify watch puts it back ---
"$ISOCTL" watch >"$work/watch.out" 2>&1 &
watch=$!; children+=("$watch")
sleep 0.3
echo 0-15 >"$v1/diretta.slice/cpuset.cpus"
wait_for "the slice's CPUs repaired" grep -qx "1-2,9-10" "$v1/diretta.slice/cpuset.cpus"
sleep 0.3
kill "$watch"; wait "$watch" 2>/dev/null || true
out=$(cat "$work/watch.out")
# (a fake root's file may be seen empty between echo's truncate and write: found is not asserted)
expect_in "DriftCorrected for the slice" 'DriftCorrected "cpuset" "diretta.slice" "1-2,9-10" '
echo 0 >"$v1/hqplayer.slice/cpuset.cpu_exclusive"
"$ISOCTL" verify >/dev/null || true
expect_eq "the exclusive flag put back by a verify" "1" "$(cat "$v1/hqplayer.slice/cpuset.cpu_exclusive")"

# --- revert: byte-exact (the player ended first: its pid in the top's cgroup.procs is
#     the kernel's to show, which a fake root cannot) ---
kill "$player"; wait "$player" 2>/dev/null || true
wait_for "the ended player forgotten" sh -c "! '$ISOCTL' workloads | grep -q ' $player '"
expect_exit 0 "isoctl revert" -- "$ISOCTL" revert
expect_daemon_stops "SIGTERM stops the daemon"
checks=$((checks + 1))
diff -r "$ISOLATORD_FIXTURES/ryzen-7700x-v1" "$root" >"$work/diff" || fail "the revert is not byte-exact: $(head -20 "$work/diff")"

finish
