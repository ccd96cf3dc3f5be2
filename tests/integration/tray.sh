#!/usr/bin/env bash
# isolator-tray under Xvfb, on a private session bus with a StatusNotifierWatcher of the
# test's own (tray.py), isolatord on the test's private system bus (simulated 7700X with
# the boot parameters the partition needs, so that it can be active): the item
# registers; its Status, IconName and Title follow the daemon through active -> degraded
# (a drift that cannot be put back: a read-only bind mount) -> not running -> active; its menu (dbusmenu
# GetLayout) lists the state, each group with its worst latency, Verify now, Latency
# window, Apply, Revert; Verify now reaches the daemon; the latency window is
# screenshotted (tray-latency.png in the build folder) and shows bars.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATOR_TRAY:?}" "${ARTIFACT_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-bus.sh"

python=/usr/bin/python3
if [ "$(id -u)" -ne 0 ] || ! command -v Xvfb >/dev/null || [ ! -x "$ISOLATOR_TRAY" ] ||
   ! "$python" -c 'import gi; gi.require_version("Gdk", "3.0"); from gi.repository import Gdk, Gio' 2>/dev/null; then
  echo "needs root (a bind mount makes a drift stay), Xvfb, isolator-tray and python3-gi with Gdk 3" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-tray-XXXXXX")
xvfb_pid=
cleanup() {
  umount "$work/root/sys/fs/cgroup/system.slice/cpuset.cpus" 2>/dev/null || true
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
  bus_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
printf '[Sampler]\nEnabled=true\nThresholdUs=1\n[Daemon]\nCgroupBackend=cgroupfs\n' >"$work/isolatord.conf"
# The kernel command line the partition needs, as isolatord itself proposes it.
line=$("$ISOLATORD" --root "$work/root" --config "$work/isolatord.conf" --boot-params |
  sed -n '/^With the recommended ones:/{n;s/^ *//;p}') || true
[ -n "$line" ] || { echo "no recommended command line from --boot-params" >&2; exit 1; }
echo "BOOT_IMAGE=/vmlinuz-6.12.8-rt8-audio root=UUID=5f0c ro $line" >"$work/root/proc/cmdline"

bus_start "$work/bus"
display=:$(( 90 + RANDOM % 400 ))
Xvfb "$display" -screen 0 1024x768x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
session_bus_start
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.05; done

status=0
DISPLAY=$display DBUS_SESSION_BUS_ADDRESS=$SESSION_BUS_ADDRESS NO_AT_BRIDGE=1 \
  "$python" "$here/tray.py" "$ISOLATOR_TRAY" "$ISOLATORD" "$work/root" "$work/isolatord.conf" "$work/run" \
  "$work/tray.log" "$ARTIFACT_DIR/tray-latency.png" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- the tray's and the daemon's log:" >&2
  cat "$work/tray.log" >&2 || true
fi
exit "$status"
