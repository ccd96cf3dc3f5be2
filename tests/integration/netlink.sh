#!/usr/bin/env bash
# Link events in a network namespace of the test's own: isolatord runs inside it; a veth
# pair comes up there, and the interface's queue masks in the fake root are set and the
# IRQs rescanned, with no Apply and the periodic verify an hour away. The host's own
# network is never touched.
set -euo pipefail
: "${ISOLATORD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOCTL:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

ns=isolatord$$
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-netlink-XXXXXX")
trap 'bus_cleanup; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"' EXIT
chmod 755 "$work"
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
printf '[Daemon]\nVerifyIntervalSec=3600\nUdevMonitor=kernel\n' >"$work/isolatord.conf"
status_field() { "$ISOCTL" status --json | "$ISOLATORD_PYTHON" -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
wait_file() { # wait_file FILE VALUE: up to 5 s
  for _ in $(seq 500); do [ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0; sleep 0.01; done
  return 1
}

bus_start "$work/bus"
ip netns add "$ns"
# `ip netns exec` execs the command: DAEMON_PID is the daemon's own.
ip netns exec "$ns" "$ISOLATORD" --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run" \
  >>"$BUS_DIR/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do bus_has_owner org.rtaudio.Isolator && break; sleep 0.05; done
# Applied once the name is owned: a call returns after that.
busctl --system --timeout=60 call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus >/dev/null 2>&1 || true
checks=$((checks + 1))
bus_has_owner org.rtaudio.Isolator || { fail "isolatord did not start in the namespace"; cat "$BUS_DIR/daemon.log" >&2; finish; }

# At start: the interfaces the root already has are steered to housekeeping.
expect_eq "enp5s0 rx-0 RPS at start" "0101" "$(cat "$root/sys/class/net/enp5s0/queues/rx-0/rps_cpus")"
expect_eq "enp5s0 tx-3 XPS at start" "0101" "$(cat "$root/sys/class/net/enp5s0/queues/tx-3/xps_cpus")"

# A new interface's queues, as sysfs shows them once it exists, then the link comes up.
for q in rx-0 tx-0; do mkdir -p "$root/sys/class/net/v0/queues/$q"; done
echo 0000 >"$root/sys/class/net/v0/queues/rx-0/rps_cpus"
echo 0000 >"$root/sys/class/net/v0/queues/tx-0/xps_cpus"
rescans_before=$(status_field rescan_count)
# Appearing is enough: the veth is created down.
ip netns exec "$ns" ip link add v0 type veth peer name v1
checks=$((checks + 1))
wait_file "$root/sys/class/net/v0/queues/rx-0/rps_cpus" 0101 || fail "v0 rx-0 RPS not set when the link appeared"
echo 0000 >"$root/sys/class/net/v0/queues/rx-0/rps_cpus" # as a driver might reset it at link up
ip netns exec "$ns" ip link set v0 up
checks=$((checks + 1))
wait_file "$root/sys/class/net/v0/queues/rx-0/rps_cpus" 0101 || fail "v0 rx-0 RPS not set after link up: $(cat "$root/sys/class/net/v0/queues/rx-0/rps_cpus")"
checks=$((checks + 1))
wait_file "$root/sys/class/net/v0/queues/tx-0/xps_cpus" 0101 || fail "v0 tx-0 XPS not set after link up"
rescans_after=$(status_field rescan_count)
checks=$((checks + 1))
[ "$rescans_after" -gt "$rescans_before" ] || fail "no IRQ rescan after link up ($rescans_before, then $rescans_after)"
checks=$((checks + 1))
[ "$(status_field verify_count)" -eq 1 ] || fail "a verify ran: the link event alone must do it"

# Revert restores the masks isolatord changed, the new interface's among them.
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_eq "v0 rx-0 RPS restored" "0000" "$(cat "$root/sys/class/net/v0/queues/rx-0/rps_cpus")"
expect_eq "enp5s0 rx-0 RPS restored" "0000" "$(cat "$root/sys/class/net/enp5s0/queues/rx-0/rps_cpus")"
expect_daemon_stops "isolatord stops"
finish
