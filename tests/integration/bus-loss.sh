#!/usr/bin/env bash
# A daemon nobody can reach must not hold the machine. On a copy of the simulated 7700X:
# - a start with no bus to reach changes nothing (the fake root stays byte-exact) and
#   exits 1 saying so;
# - with RestoreOnExit, such a start restores what an earlier run left (its saved
#   originals, after a SIGKILL), since it stops;
# - a bus that goes away ends the daemon: exit status 1 (for its unit's Restart=), a line
#   that says why, and RestoreOnExit honoured; without RestoreOnExit the originals stay
#   for the next start, which owns its name on the new bus and reverts byte-exact.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work_start bus-loss
pristine="$ISOLATORD_FIXTURES/ryzen-7700x"
root="$work/root"
cp -a "$pristine" "$root"
conf="$work/isolatord.conf"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\n' >"$conf"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nRestoreOnExit=true\n' >"$work/restore.conf"
same_as_pristine() { diff -r --no-dereference "$pristine" "$root" >/dev/null; }
# run_without_bus CONF: the daemon with a bus address nobody listens on; its exit status.
run_without_bus() {
  local status=0
  DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/nobody-listens" \
    timeout 60 "$ISOLATORD" --root "$root" --config "$1" --runtime-dir "$work/run" >>"$work/nobus.log" 2>&1 || status=$?
  echo "$status"
}

# --- no bus at start: nothing changed ---
expect_eq "no bus: exit status 1" "1" "$(run_without_bus "$conf")"
expect_exit 0 "the machine untouched" -- diff -r --no-dereference "$pristine" "$root"
out=$(cat "$work/nobus.log")
expect_in "it says so" "cannot connect to the system bus"
expect_in "and that nothing was changed" "nothing was changed"
checks=$((checks + 1))
[ ! -s "$work/run/originals" ] || fail "originals were saved by a start that changed nothing"

# --- an earlier run's leftovers, RestoreOnExit, no bus: restored ---
bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
checks=$((checks + 1))
! same_as_pristine || fail "the first run changed nothing"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
expect_eq "a start without a bus, RestoreOnExit: exit status 1" "1" "$(run_without_bus "$work/restore.conf")"
expect_exit 0 "what the killed run left is restored" -- diff -r --no-dereference "$pristine" "$root"

# --- the bus goes away: exit 1 after RestoreOnExit ---
daemon_start --root "$root" --config "$work/restore.conf" --runtime-dir "$work/run"
checks=$((checks + 1))
! same_as_pristine || fail "the run changed nothing"
kill "$BUS_PID"; wait "$BUS_PID" 2>/dev/null || true; BUS_PID=
status=0
for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
wait "$DAEMON_PID" || status=$?
DAEMON_PID=
expect_eq "the daemon ends with the bus: exit status 1" "1" "$status"
out=$(cat "$BUS_DIR/daemon.log")
expect_in "saying why" "the connection to the system bus is lost: exiting, so that the service manager starts isolatord again on the new bus"
expect_in "RestoreOnExit honoured" "RestoreOnExit: restoring the originals"
expect_exit 0 "the machine restored" -- diff -r --no-dereference "$pristine" "$root"

# --- without RestoreOnExit: the originals stay, and a new bus gets a new daemon ---
bus_start "$work/bus2"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
kill "$BUS_PID"; wait "$BUS_PID" 2>/dev/null || true; BUS_PID=
status=0
wait "$DAEMON_PID" || status=$?
DAEMON_PID=
expect_eq "ends with the bus again" "1" "$status"
checks=$((checks + 1))
[ -s "$work/run/originals" ] || fail "the originals were not kept for the next start"
bus_start "$work/bus3"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_exit 0 "the name is owned on the new bus" -- busctl --system status org.rtaudio.Isolator
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_exit 0 "byte-exact after the revert" -- diff -r --no-dereference "$pristine" "$root"
expect_daemon_stops "stop"
finish
