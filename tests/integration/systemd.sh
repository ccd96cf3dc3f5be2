#!/usr/bin/env bash
# The systemd backend against a real systemd manager: `systemd --user` in a private mount
# and PID namespace (the recipe of TESTING.md), isolatord pointed at its private bus.
# AllowedCPUs= lands on the units (systemctl --user show), drop-ins are written under the
# fake root, a foreign set-property is repaired, a matching process is placed in a
# transient scope in its slice, the kernel's effective cpuset is checked (cgroup v1 here:
# reported as not enforced), and revert resets the units and removes the drop-ins.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
systemd_bin=/lib/systemd/systemd
if [ -z "${ISOLATORD_IN_NAMESPACE:-}" ]; then
  if [ "$(id -u)" != 0 ] || [ ! -x "$systemd_bin" ] || ! unshare --mount --pid --fork true 2>/dev/null; then
    echo "SKIP: needs root, $systemd_bin and unshare (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
  fi
  ISOLATORD_IN_NAMESPACE=1 exec unshare --mount --pid --fork --mount-proc --kill-child "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-systemd-XXXXXX")
cgname="isolatord-test-$$-$RANDOM"
cleanup() {
  # SIGTERM would make the manager start exit.target; nothing of it needs to stop cleanly.
  if [ -n "${SD_PID:-}" ]; then kill -KILL "$SD_PID" 2>/dev/null || true; fi
  bus_cleanup
  for h in systemd unified; do
    # The manager's children first; then our own folder (its processes have exited).
    find "/sys/fs/cgroup/$h/$cgname" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "/sys/fs/cgroup/$h/$cgname" 2>/dev/null || true
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

# A manager of our own: its /run/systemd, its cgroups, its runtime folder.
systemd_manager_start "$cgname"

root="$work/root"
pristine="$ISOLATORD_FIXTURES/mini-2cpu"
cp -a "$pristine" "$root"
conf="$work/isolatord.conf"
cat >"$conf" <<CONF
[Partition]
Housekeeping=0

[Group audio]
CPUs=1
Slice=isotest-audio.slice
Match=isotest-sd*
Unit=isotest-unit.service

[Sampler]
Enabled=false

[Daemon]
CgroupBackend=systemd
SystemdAddress=unix:path=$XDG_RUNTIME_DIR/systemd/private
CONF
show() { systemctl --user show "$1" -p "$2" --value; }

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"

for unit in init.scope system.slice user.slice; do
  expect_eq "$unit AllowedCPUs" "0" "$(show "$unit" AllowedCPUs)"
done
expect_eq "the group's slice AllowedCPUs" "1" "$(show isotest-audio.slice AllowedCPUs)"
dropin="$root/etc/systemd/system/isotest-audio.slice.d/50-isolatord.conf"
checks=$((checks + 1))
grep -qx 'AllowedCPUs=1' "$dropin" 2>/dev/null || fail "no drop-in $dropin"
checks=$((checks + 1))
grep -qx '\[Scope\]' "$root/etc/systemd/system/init.scope.d/50-isolatord.conf" 2>/dev/null || fail "init.scope's drop-in lacks [Scope]"

expect_exit 1 "verify" -- "$ISOCTL" verify --json
expect_in "the effective cpuset is checked (no v2 cpuset controller here)" "AllowedCPUs= is not enforced"
expect_not_in "systemd's AllowedCPUs agree" "systemd's AllowedCPUs= differs"
expect_not_in "no effective-cpuset finding for a slice nothing runs in yet" '"kind":"cpuset-effective","object":"isotest-audio.slice"'


# --- drift: someone resets the slice; a verify (or the timer) repairs it ---
systemctl --user set-property --runtime isotest-audio.slice AllowedCPUs=0-1
expect_exit 1 "verify repairs" -- "$ISOCTL" verify
expect_eq "AllowedCPUs repaired" "1" "$(show isotest-audio.slice AllowedCPUs)"
checks=$((checks + 1))
grep -q "drift repaired: cpuset isotest-audio.slice was 0-1" "$BUS_DIR/daemon.log" || fail "no drift line in the log"

# --- a process placed in a transient scope of its slice (the proc connector says nothing
# inside a PID namespace: the verify's scan places it) ---
cp /bin/sleep "$work/isotest-sd"
"$work/isotest-sd" 60 & sd_child=$!
expect_exit 1 "verify places" -- "$ISOCTL" verify
scope="isolatord-audio-$sd_child.scope"
expect_eq "the scope is in the slice" "isotest-audio.slice" "$(show "$scope" Slice)"
expect_eq "the scope holds the process" "$sd_child" "$(cat "/sys/fs/cgroup/unified$(show "$scope" ControlGroup)/cgroup.procs" 2>/dev/null)"
# Its CPUs once systemd's job has ended (JobRemoved), without a "drift" to mend them.
wait_for "on the group's CPU after the move" sh -c "grep -qx 'Cpus_allowed_list:	1' /proc/$sd_child/status"
wait_for "said placed" grep -q "placed $sd_child isotest-sd" "$BUS_DIR/daemon.log"
checks=$((checks + 1))
! grep -qE "drift repaired: workload $sd_child |cannot set the CPUs" "$BUS_DIR/daemon.log" || fail "the placement was mended as drift: $(cat "$BUS_DIR/daemon.log")"
kill "$sd_child"; wait "$sd_child" 2>/dev/null || true

# --- the trust rule through systemd: a user's symlink named like the workload gets no scope ---
mkdir -m 755 "$work/home"; chown 65534:65534 "$work/home"
setpriv --reuid=65534 --regid=65534 --clear-groups ln -s /bin/sleep "$work/home/isotest-sd-link"
setpriv --reuid=65534 --regid=65534 --clear-groups "$work/home/isotest-sd-link" 60 & trick=$!
expect_exit 1 "verify refuses it" -- "$ISOCTL" verify --json
expect_in "an untrusted-workload finding" "\"kind\":\"untrusted-workload\",\"object\":\"$trick uid 65534 /usr/bin/sleep\""
expect_eq "no scope for it" "not-found" "$(show "isolatord-audio-$trick.scope" LoadState)"
kill "$trick"; wait "$trick" 2>/dev/null || true

# --- a Unit= process, whatever its name: its CPUs set, left in its unit for systemd ---
systemd-run --user --quiet --unit=isotest-unit.service /bin/sleep 60
unit_pid=$(show isotest-unit.service MainPID)
expect_exit 1 "verify places it" -- "$ISOCTL" verify
expect_eq "on the group's CPUs" "Cpus_allowed_list:	1" "$(grep Cpus_allowed_list "/proc/$unit_pid/status")"
expect_eq "still in its unit" "isotest-unit.service" "$(basename "$(grep '^0::' "/proc/$unit_pid/cgroup")")"
systemctl --user stop isotest-unit.service

# --- revert: AllowedCPUs reset, drop-ins gone ---
expect_exit 0 "revert" -- "$ISOCTL" revert
for unit in init.scope isotest-audio.slice; do
  expect_eq "$unit AllowedCPUs reset" "" "$(show "$unit" AllowedCPUs)"
done
expect_exit 0 "the fake root is pristine again (drop-ins removed)" -- diff -r --no-dereference "$pristine" "$root"

# --- as after a reboot: /run (the saved originals) is gone while the drop-ins in /etc and
# the units' AllowedCPUs= stay (the kernel's own files start afresh at a real boot, so
# only /etc and the units are compared). isolatord adopts its own drop-ins, so a revert
# still undoes them. /etc/systemd/system exists on every systemd machine. ---
mkdir -p "$root/etc/systemd/system"
expect_exit 0 "apply" -- "$ISOCTL" apply
expect_daemon_stops "stop before the 'reboot'"
rm -rf "$work/run"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_eq "system.slice still confined" "0" "$(show system.slice AllowedCPUs)"
checks=$((checks + 1))
grep -q "etc/systemd/system/system.slice.d/50-isolatord.conf was written by isolatord before this boot" \
  "$BUS_DIR/daemon.log" || fail "the earlier boot's drop-in was not adopted"
expect_exit 0 "revert after the 'reboot'" -- "$ISOCTL" revert
for unit in init.scope system.slice user.slice isotest-audio.slice; do
  expect_eq "$unit AllowedCPUs reset after the 'reboot'" "" "$(show "$unit" AllowedCPUs)"
done
expect_eq "no drop-in or folder of isolatord's left in /etc" "" "$(find "$root/etc/systemd/system" -mindepth 1)"
expect_daemon_stops "stop"

finish
