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
umockdev-wrapper "$HOTPLUG" "$work"
