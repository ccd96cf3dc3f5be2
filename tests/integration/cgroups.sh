#!/usr/bin/env bash
# The cpuset, kernel-thread and cpufreq enforcers on the simulated 7700X, cgroupfs
# backend: slices set and created; a foreign write to a cpuset repaired on its inotify
# event; a slice folder removed and recreated; a writer that keeps rewriting met with
# back-off, not a write loop; kernel threads and the workqueue cpumask on housekeeping;
# governors; then the daemon is killed with SIGKILL, restarted, and a revert leaves every
# file of the fake machine byte-identical to a pristine copy. RestoreOnExit likewise.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-cgroups-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"

root="$work/root"
pristine="$ISOLATORD_FIXTURES/ryzen-7700x"
cp -a "$pristine" "$root"
cg="$root/sys/fs/cgroup"
conf="$work/isolatord.conf"
cat >"$conf" <<'CONF'
[Group diretta]
CPUs=1-2,9-10
Slice=diretta.slice

[Group hqplayer]
CPUs=3-7,11-15
Slice=audio-hqplayer.slice
Partition=isolated

[Sampler]
Enabled=false

[Daemon]
CgroupBackend=cgroupfs
CONF

prop() { busctl --system get-property org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 "$1"; }
# wait_for DESCRIPTION COMMAND...: polls COMMAND for up to 3 s.
has() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
drift() { prop DriftCorrections | cut -d' ' -f2; }

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"

# --- applied at start ---
for unit in init.scope system.slice user.slice; do
  expect_eq "$unit on housekeeping" "0,8" "$(cat "$cg/$unit/cpuset.cpus")"
done
expect_eq "diretta.slice created and set" "1-2,9-10" "$(cat "$cg/diretta.slice/cpuset.cpus")"
expect_eq "a nested slice created in its parent" "3-7,11-15" "$(cat "$cg/audio.slice/audio-hqplayer.slice/cpuset.cpus")"
expect_eq "Partition=isolated" "isolated" "$(cat "$cg/audio.slice/audio-hqplayer.slice/cpuset.cpus.partition")"
expect_eq "kthreadd on housekeeping" "0,8" "$(sed -n 's/^Cpus_allowed_list:\t//p' "$root/proc/2/status")"
expect_eq "rcuop/5 on housekeeping" "0,8" "$(sed -n 's/^Cpus_allowed_list:\t//p' "$root/proc/$((10 + 5 * 4 + 3))/status")"
expect_eq "ksoftirqd/5 left alone (per-CPU)" "5" "$(sed -n 's/^Cpus_allowed_list:\t//p' "$root/proc/$((10 + 5 * 4 + 2))/status")"
expect_eq "workqueue cpumask" "0101" "$(cat "$root/sys/devices/virtual/workqueue/cpumask")"
expect_eq "governor of a group CPU" "performance" "$(cat "$root/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor")"
expect_eq "governor of housekeeping left" "powersave" "$(cat "$root/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")"
expect_exit 1 "verify" -- "$ISOCTL" verify
expect_match "a stray process on a group CPU is a finding" "unowned-process +[0-9]+ pipewire"
expect_not_in "no cpuset finding after apply" "the unit may run on other CPUs"

# --- drift: another process rewrites a cpuset; the inotify event repairs it ---
before=$(drift)
echo 0-15 >"$cg/system.slice/cpuset.cpus"
wait_for "system.slice repaired" has "$cg/system.slice/cpuset.cpus" "0,8"
wait_for "the repair counted" test "$(drift)" -gt "$before"
grep -q "drift repaired: cpuset system.slice was " "$BUS_DIR/daemon.log" || fail "no drift line in the log"

# --- a slice folder removed is recreated ---
rm -rf "$cg/diretta.slice"
wait_for "diretta.slice recreated" has "$cg/diretta.slice/cpuset.cpus" "1-2,9-10"

# --- a writer that does not give up: back-off, not a loop ---
before=$(drift)
for _ in $(seq 60); do echo 0-15 >"$cg/user.slice/cpuset.cpus"; sleep 0.01; done
sleep 0.2
fought=$(( $(drift) - before ))
checks=$((checks + 1))
[ "$fought" -le 6 ] || fail "60 foreign writes cost $fought corrections; expected back-off after 5"
grep -q "user.slice: its cpuset was rewritten .* leaves it for 2 s" "$BUS_DIR/daemon.log" || fail "no back-off in the log"
expect_exit 1 "verify during back-off" -- "$ISOCTL" verify --json
expect_in "verify says it backs off" "isolatord backs off"
wait_for "user.slice repaired after the back-off" sh -c "sleep 0.05; $ISOCTL verify >/dev/null; grep -qx 0,8 '$cg/user.slice/cpuset.cpus'"

# --- revert after SIGKILL: the restarted daemon keeps the first originals ---
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
for _ in $(seq 100); do bus_has_owner org.rtaudio.Isolator || break; sleep 0.02; done
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_exit 0 "identical to a pristine machine after revert" -- diff -r --no-dereference "$pristine" "$root"
expect_eq "State" 's "reverted"' "$(prop State)"
expect_daemon_stops "stop after revert"

# --- RestoreOnExit ---
printf '\n[Daemon]\nRestoreOnExit=true\n' >>"$conf"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_eq "applied again" "0,8" "$(cat "$cg/init.scope/cpuset.cpus")"
expect_daemon_stops "stop with RestoreOnExit"
expect_exit 0 "identical after a stop with RestoreOnExit" -- diff -r --no-dereference "$pristine" "$root"
expect_eq "no originals left" "" "$(cat "$work/run/originals" 2>/dev/null)"

finish
