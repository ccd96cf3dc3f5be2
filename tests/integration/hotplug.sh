#!/usr/bin/env bash
# Runs the umockdev hotplug harness on a private bus (TESTING.md: the harness must run
# under umockdev-wrapper, or no uevent arrives).
set -euo pipefail
: "${ISOLATORD:?}" "${HOTPLUG:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-bus.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-hotplug-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
bus_start "$work/bus"
# Under AddressSanitizer the umockdev preload comes before ASan's runtime; ASan allows
# that when told (the sanitizers still run).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
# umockdev carries uevents over Unix datagram sockets, which queue at most
# net.unix.max_dgram_qlen messages (10 here) before its sender aborts: a burst needs more.
# The setting is per network namespace, so a namespace of its own leaves the host's alone;
# the private bus is a socket path and stays reachable.
unshare --net sh -c 'sysctl -qw net.unix.max_dgram_qlen=4096 && exec umockdev-wrapper "$0" "$1"' "$HOTPLUG" "$work"
