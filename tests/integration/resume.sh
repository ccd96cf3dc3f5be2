#!/usr/bin/env bash
# Resume from suspend, with python-dbusmock's logind template as systemd-logind on the
# test's private system bus and isolatord on the simulated 7700X (cgroupfs backend, a
# verify only every hour, so that only the resume can put things back): what firmware
# resets while the machine sleeps (an IRQ's affinity, a governor) is put back by
# PrepareForSleep(false), counted as an apply and a resume; PrepareForSleep(true) does
# nothing; after a revert a resume applies nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

mock_require

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-resume-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
irq="$root/proc/irq/30/smp_affinity_list"
governor="$root/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nVerifyIntervalSec=3600\n' >"$work/isolatord.conf"

bus_start "$work/bus" "$here/logind-mock.conf"
mock_start logind org.freedesktop.login1 "$work/mock.log"

sleep_signal() { # true|false
  busctl --system call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.DBus.Mock EmitSignal \
    sssav org.freedesktop.login1.Manager PrepareForSleep b 1 b "$1" >/dev/null
}
count() { "$ISOCTL" --json status | "$ISOLATORD_PYTHON" -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
expect_eq "the IRQ pinned at start" "0,8" "$(cat "$irq")"
expect_eq "the governor set at start" "performance" "$(cat "$governor")"
applies=$(count apply_count)

# Going to sleep changes nothing.
sleep_signal true
sleep 0.3
expect_eq "PrepareForSleep(true): no apply" "$applies" "$(count apply_count)"

# While it slept, firmware put its defaults back.
echo 0-15 >"$irq"
echo powersave >"$governor"
sleep_signal false
wait_for "PrepareForSleep(false): the IRQ pinned again" grep -qx 0,8 "$irq"
wait_for "the governor set again" grep -qx performance "$governor"
expect_eq "counted as an apply" "$((applies + 1))" "$(count apply_count)"
expect_eq "and as a resume" "1" "$(count resume_count)"
checks=$((checks + 1))
grep -q "resumed from suspend: applying the partition again" "$BUS_DIR/daemon.log" || fail "no resume line in the log"
expect_exit 0 "isoctl metrics" -- "$ISOCTL" metrics
expect_in "the resume in the metrics" "isolatord_resumes_total 1"

# Reverted: a resume applies nothing.
expect_exit 0 "isoctl revert" -- "$ISOCTL" revert
applies=$(count apply_count)
sleep_signal false
checks=$((checks + 1))
for _ in $(seq 100); do grep -q "the partition is reverted: nothing to apply" "$BUS_DIR/daemon.log" && break; sleep 0.05; done
grep -q "the partition is reverted: nothing to apply" "$BUS_DIR/daemon.log" || fail "no line for the resume after a revert"
expect_eq "after a revert, no apply" "$applies" "$(count apply_count)"
expect_eq "nor a resume counted" "1" "$(count resume_count)"

finish
