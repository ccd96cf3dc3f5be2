#!/usr/bin/env bash
# systemd's jobs take a pid at its word. A busy manager (a `systemd --user` of the test's
# own, stopped with SIGSTOP) holds isolatord's StartTransientUnit for a player; the
# player ends and a user's program takes its pid (clone3 set_tid standing in for cycling
# through pid_max); the manager wakes and moves the user's program into the group's
# scope. isolatord sees the job end for a process that is gone, moves the program back
# out, and gives it neither the group's CPU nor real-time, nor lists it as placed.
# isolatord runs on a fake root with this machine's CPUs: its move back out is a write
# to the fake tree's cgroup.procs, which the test reads.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${PID_AT:?}"
systemd_bin=/lib/systemd/systemd
if [ -z "${ISOLATORD_IN_NAMESPACE:-}" ]; then
  if [ "$(id -u)" != 0 ] || [ ! -x "$systemd_bin" ] || ! unshare --mount true 2>/dev/null ||
     ! python3 -c 'import os,sys; sys.exit(0 if {0,1} <= os.sched_getaffinity(0) else 1)'; then
    echo "SKIP: needs root, CPUs 0 and 1, $systemd_bin and unshare (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
  fi
  # A mount namespace only: the proc connector speaks the initial PID namespace's pids.
  ISOLATORD_IN_NAMESPACE=1 exec unshare --mount "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

unified=/sys/fs/cgroup/unified
[ -d "$unified" ] || unified=/sys/fs/cgroup
orig_v2=$(sed -n 's/^0:://p' /proc/self/cgroup)
orig_sd=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-moves-XXXXXX")
cgname="isolatord-moves-$$-$RANDOM"
children=()
cleanup() {
  for p in "${children[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ -n "${SD_PID:-}" ]; then kill -CONT "$SD_PID" 2>/dev/null; kill -KILL "$SD_PID" 2>/dev/null || true; fi
  bus_cleanup
  sleep 0.2
  # Back where the test started: its cgroups go with it.
  echo $$ >"$unified$orig_v2/cgroup.procs" 2>/dev/null || true
  [ -z "$orig_sd" ] || echo $$ >"/sys/fs/cgroup/systemd$orig_sd/cgroup.procs" 2>/dev/null || true
  for top in "$unified/$cgname" "/sys/fs/cgroup/systemd/$cgname"; do
    [ -d "$top" ] || continue
    find "$top" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$top" 2>/dev/null || true
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

systemd_manager_start "$cgname"

root="$work/root"
cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$root"
conf="$work/isolatord.conf"
cat >"$conf" <<CONF
[Partition]
Housekeeping=0

[Group hq]
CPUs=1
Slice=isotest-hq.slice
Match=isotest-pl*
SchedPolicy=fifo
SchedPriority=10

[Sampler]
Enabled=false

[Daemon]
CgroupBackend=systemd
SystemdAddress=unix:path=$XDG_RUNTIME_DIR/systemd/private
VerifyIntervalSec=3600
CONF
bin="$work/bin"; mkdir -p "$bin"; cp /bin/sleep "$bin/isotest-pl"
home="$work/home"; mkdir -p "$home"; chown 65534:65534 "$home"
setpriv --reuid=65534 --regid=65534 --clear-groups cp /bin/sleep "$home/mine"

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run" -vv

"$bin/isotest-pl" 600 & first=$!; children+=("$first")
wait_for "a player moved into a scope of the group's slice" grep -q "isotest-hq.slice/isolatord-hq-$first.scope" "/proc/$first/cgroup"
expect_eq "on the group's CPU at SCHED_FIFO 10" "[1] 1 10" "$(sched_of "$first")"

kill -STOP "$SD_PID"   # a busy manager
wait_for "the manager stopped" grep -q '^State:.*stopped' "/proc/$SD_PID/status"
"$bin/isotest-pl" 600 & player=$!
was=$(sed -n 's/^0:://p' "/proc/$player/cgroup")
wait_for "the move asked of the busy manager" grep -q "moving $player isotest-pl into isotest-hq.slice" "$BUS_DIR/daemon.log"
kill -KILL "$player"; wait "$player" 2>/dev/null || true
"$PID_AT" "$player" 65534 "$home/mine" 600; stranger=$player; children+=("$stranger")
expect_eq "a user's program has the player's pid" "65534 mine" "$(ps -o uid=,comm= -p "$stranger" | xargs)"
mkdir -p "$root/sys/fs/cgroup$was"; : >"$root/sys/fs/cgroup$was/cgroup.procs"
kill -CONT "$SD_PID"
wait_for "systemd's job moved the user's program into the scope" grep -q "isolatord-hq-$stranger.scope" "/proc/$stranger/cgroup"
wait_for "isolatord says what happened" grep -q "process $stranger ended while systemd moved it into group hq's slice, and another took its pid: it is back out of the slice" "$BUS_DIR/daemon.log"
expect_eq "it moved the program back where the player was" "$stranger" "$(cat "$root/sys/fs/cgroup$was/cgroup.procs")"
expect_eq "the program has neither the group's CPU nor real-time" "[0, 1] 0 0" "$(sched_of "$stranger")"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads --json
expect_not_in "it is not listed as placed" "\"pid\":$stranger,"
expect_in "the first player is" "\"pid\":$first,"
checks=$((checks + 1))
! grep -q "placed $stranger " "$BUS_DIR/daemon.log" || fail "the user's program was placed"

expect_exit 0 "revert" -- "$ISOCTL" revert
expect_daemon_stops "stop"
finish
