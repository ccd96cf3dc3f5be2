#!/usr/bin/env bash
# Unit= trusts units of the system manager as the manager reports them, never a cgroup
# path a user can make. A systemd manager of the test's own stands in for the system
# manager (`systemd --user` in a private mount and PID namespace, the recipe of
# TESTING.md), and isolatord asks it. A user's delegated subtree, laid out as systemd
# delegates user@65534.service to its user, holds "app.slice/player.service", the path
# `systemd-run --user --unit=player.service` gives any logged-in user: the user moves a
# program of theirs there (as uid 65534, through the delegation) and it gets nothing,
# neither while the manager runs a player.service of its own, nor when it runs none;
# the manager's own player.service is placed. A stalled manager (SIGSTOP) costs a
# verify at most a second's wait per unit, and the next callers nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
systemd_bin=/lib/systemd/systemd
if [ -z "${ISOLATORD_IN_NAMESPACE:-}" ]; then
  if [ "$(id -u)" != 0 ] || [ ! -x "$systemd_bin" ] || ! unshare --mount --pid --fork true 2>/dev/null ||
     ! python3 -c 'import os,sys; sys.exit(0 if {0,1} <= os.sched_getaffinity(0) else 1)'; then
    echo "SKIP: needs root, CPUs 0 and 1, $systemd_bin and unshare (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
  fi
  ISOLATORD_IN_NAMESPACE=1 exec unshare --mount --pid --fork --mount-proc --kill-child "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

unified=/sys/fs/cgroup/unified
[ -d "$unified" ] || unified=/sys/fs/cgroup
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-units-XXXXXX")
cgname="isolatord-units-$$-$RANDOM"
users="$unified/$cgname-users"
children=()
cleanup() {
  for p in "${children[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ -n "${SD_PID:-}" ]; then kill -KILL "$SD_PID" 2>/dev/null || true; fi
  bus_cleanup
  sleep 0.1
  for top in "$unified/$cgname" "$users" "/sys/fs/cgroup/systemd/$cgname"; do
    find "$top" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$top" 2>/dev/null || true
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

# The manager standing in for the system's: its /run/systemd, its cgroups, its runtime folder.
systemd_manager_start "$cgname"

root="$work/root"
cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$root"
conf="$work/isolatord.conf"
cat >"$conf" <<CONF
[Partition]
Housekeeping=0

[Group audio]
CPUs=1
Slice=isotest-audio.slice
Unit=player.service
SchedPolicy=fifo
SchedPriority=10

[Sampler]
Enabled=false

[Daemon]
CgroupBackend=systemd
SystemdAddress=unix:path=$XDG_RUNTIME_DIR/systemd/private
VerifyIntervalSec=3600
CONF
show() { systemctl --user show "$1" -p "$2" --value; }

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"

# --- the manager's own player.service: placed, left in its unit ---
systemd-run --user --quiet --unit=player.service /bin/sleep 600
unit_pid=$(show player.service MainPID)
unit_cgroup=$(show player.service ControlGroup)
expect_exit 1 "verify places it" -- "$ISOCTL" verify
expect_eq "the manager's player.service on the group's CPU at SCHED_FIFO 10" "[1] 1 10" "$(sched_of "$unit_pid")"
expect_eq "still in its unit" "0::$unit_cgroup" "$(grep '^0::' "/proc/$unit_pid/cgroup")"

# --- a user's delegated subtree, as systemd lays out user@65534.service ---
delegated="$users/user.slice/user-65534.slice/user@65534.service"
mkdir -p "$delegated/init.scope" "$delegated/app.slice/player.service"
chown -R 65534:65534 "$delegated"   # Delegate=yes: the user owns the subtree and its files
# The user's session, where root's manager puts user@65534.service's own process.
sleep 600 & session=$!; children+=("$session")
echo "$session" >"$delegated/init.scope/cgroup.procs"
# As the user: into "player.service" of its own subtree (allowed by the delegation), then
# any program.
cat >"$work/into.sh" <<SH
echo \$\$ >"$delegated/app.slice/player.service/cgroup.procs" || exit 1
exec /bin/sleep 600
SH
chmod 755 "$work/into.sh"
sh -c "echo \$\$ >'$delegated/init.scope/cgroup.procs'; exec setpriv --reuid=65534 --regid=65534 --clear-groups sh '$work/into.sh'" &
user_pid=$!; children+=("$user_pid")
wait_for "the user's program in its own player.service" \
  sh -c "grep -qx '0::${delegated#"$unified"}/app.slice/player.service' /proc/$user_pid/cgroup && [ \"\$(cat /proc/$user_pid/comm)\" = sleep ]"
expect_eq "it runs as the user" "65534" "$(ps -o uid= -p "$user_pid" | xargs)"

expect_exit 1 "verify while the manager runs its own player.service" -- "$ISOCTL" verify --json
expect_eq "no real-time, no group CPU for the user's unit of the same name" "[0, 1] 0 0" "$(sched_of "$user_pid")"
expect_eq "no scope made for it" "not-found" "$(show "isolatord-audio-$user_pid.scope" LoadState)"
expect_in "an untrusted-workload finding" "\"kind\":\"untrusted-workload\",\"object\":\"$user_pid uid 65534 /usr/bin/sleep\""
expect_in "saying where the manager runs the unit" "is named like Unit=player.service, but the system manager runs that unit in $unit_cgroup"

systemctl --user stop player.service
sh -c "echo \$\$ >'$delegated/init.scope/cgroup.procs'; exec setpriv --reuid=65534 --regid=65534 --clear-groups sh '$work/into.sh'" &
second=$!; children+=("$second")
wait_for "another program of the user's in its own player.service" \
  sh -c "grep -qx '0::${delegated#"$unified"}/app.slice/player.service' /proc/$second/cgroup && [ \"\$(cat /proc/$second/comm)\" = sleep ]"
expect_exit 1 "verify while the manager runs no player.service" -- "$ISOCTL" verify --json
expect_eq "nothing for it either" "[0, 1] 0 0" "$(sched_of "$second")"
expect_eq "nor for the first" "[0, 1] 0 0" "$(sched_of "$user_pid")"
expect_in "the manager runs no such unit" "which the system manager does not run there: the systemd manager runs no unit player.service"
checks=$((checks + 1))
! grep -qE "placed ($user_pid|$second) " "$BUS_DIR/daemon.log" || fail "a user's process was placed"

# --- a stalled manager (SIGSTOP) holds neither the loop nor the bus callers ---
kill -STOP "$SD_PID"
sh -c "echo \$\$ >'$delegated/init.scope/cgroup.procs'; exec setpriv --reuid=65534 --regid=65534 --clear-groups sh '$work/into.sh'" &
third=$!; children+=("$third")
wait_for "a third program of the user's in its own player.service" \
  sh -c "grep -qx '0::${delegated#"$unified"}/app.slice/player.service' /proc/$third/cgroup && [ \"\$(cat /proc/$third/comm)\" = sleep ]"
timed() { local s; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; echo $(( ($(date +%s%N) - s) / 1000000 )); }
ms=$(timed "$ISOCTL" verify)
checks=$((checks + 1)); [ "$ms" -le 4000 ] || fail "verify with the manager stalled took $ms ms (asks time out after 1 s)"
expect_exit 1 "verify again" -- "$ISOCTL" verify --json
expect_in "the manager's silence is the reason given" "which the system manager does not run there: the systemd manager did not answer within 1 s"
ms=$(timed "$ISOCTL" status)
checks=$((checks + 1)); [ "$ms" -le 1000 ] || fail "status with the manager stalled took $ms ms: a manager that did not answer is asked again"
expect_eq "nothing for the user's program" "[0, 1] 0 0" "$(sched_of "$third")"
kill -CONT "$SD_PID"

expect_exit 0 "revert" -- "$ISOCTL" revert
expect_daemon_stops "stop"
finish
