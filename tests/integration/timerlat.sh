#!/usr/bin/env bash
# [Sampler] Source=timerlat through the daemon, on the simulated 7700X whose tracing
# folder holds what the kernel's timerlat tracer would: its format, its global settings,
# and a ring on CPU 3 of two raw pages (the IRQ's latency and the thread's, one thread
# sample of 95 us over ThresholdUs=50, events lost before the second page). The same
# code as on the real kernel reads them: isoctl latency and GetLatency show the source,
# the thread's statistics and the IRQ's apart; the spike is LatencyExceeded and is in
# isoctl latency --why. The global settings are saved as originals before the write,
# survive a revert (the sampler puts them back and takes them again), and are the
# originals again, byte for byte, when the daemon stops. Across a suspend (python-dbusmock's
# logind) the tracer is stopped before it, under a delay lock on sleep that isolatord then
# lets go, and started again at the resume, the lock taken again. Source=auto on a root whose
# kernel has no timerlat measures with threads and says why; Source=timerlat there does
# not measure and says why.
set -euo pipefail
: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

mock_require
work_start timerlat
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
t="$root/sys/kernel/tracing"
inst="$t/instances/isolatord"
mkdir -p "$t/osnoise" "$t/events/ftrace/timerlat" "$inst/per_cpu/cpu3"
echo "timerlat osnoise function nop" >"$t/available_tracers"
echo "0-15" >"$t/osnoise/cpus"
echo "1000" >"$t/osnoise/timerlat_period_us"
echo "[local] global mono" >"$inst/trace_clock"
echo "nop" >"$inst/current_tracer"
cat >"$t/events/ftrace/timerlat/format" <<'FMT'
name: timerlat
ID: 13
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:unsigned int seqnum;	offset:8;	size:4;	signed:0;
	field:int context;	offset:12;	size:4;	signed:1;
	field:u64 timer_latency;	offset:16;	size:8;	signed:0;

print fmt: "seq %u context %d latency %llu"
FMT
# Two ring pages as trace_pipe_raw hands them: per 1 ms an IRQ sample and a thread sample.
"$ISOLATORD_PYTHON" - "$inst/per_cpu/cpu3/trace_pipe_raw" "$work/second-page" <<'PY'
import struct, sys
def sample(delta, pid, context, latency):
    return struct.pack("<I", (delta << 5) | 6) + struct.pack("<HBBiIiQ", 13, 0, 0, pid, 0, context, latency)
def page(ts, events, flags=0):
    body = b"".join(events)
    return (struct.pack("<QQ", ts, len(body) | flags) + body).ljust(4096, b"\0")
first = [e for i in range(20) for e in (sample(1000000 if i else 0, 0, 0, 700 + i), sample(9000, 4321, 1, 4000 + 100 * i))]
second = [sample(0, 0, 0, 2500), sample(9000, 4321, 1, 95000)]
open(sys.argv[1], "wb").write(page(10**9, first))
open(sys.argv[2], "wb").write(page(2 * 10**9, second, 1 << 31))
PY
printf '[Sampler]\nSource=timerlat\nThresholdUs=50\nIntervalUs=500\nCPUs=3\n[Daemon]\nVerifyIntervalSec=3600\n' >"$work/isolatord.conf"
py() { "$ISOLATORD_PYTHON" -c "import json,sys; d=json.load(sys.stdin); $1"; }

bus_start "$work/bus" "$here/logind-mock.conf"
mock_start logind org.freedesktop.login1 "$work/mock.log"
sleep_signal() { # true|false
  busctl --system call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.DBus.Mock EmitSignal \
    sssav org.freedesktop.login1.Manager PrepareForSleep b 1 b "$1" >/dev/null
}
sleep_locks() { # isolatord's delay locks on sleep that logind holds
  busctl --system call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager ListInhibitors |
    grep -o '"sleep" "isolatord" "[^"]*" "delay"' | wc -l
}
sleep_locks_are() { [ "$(sleep_locks)" = "$1" ]; }
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
"$ISOCTL" watch >"$work/watch.out" 2>/dev/null &
watch_pid=$!
children+=("$watch_pid")
sleep 0.5
# The ring fills as the tracer runs: the page with the spike comes once the watch is on.
cat "$work/second-page" >>"$inst/per_cpu/cpu3/trace_pipe_raw"

expect_exit 0 "the global settings written" -- cat "$t/osnoise/cpus" "$t/osnoise/timerlat_period_us" "$inst/current_tracer" "$inst/trace_clock"
checks=$((checks + 1))
[ "$out" = $'3\n500\ntimerlat\nmono' ] || fail "the tracer's settings: $out"
expect_exit 0 "their originals saved first" -- cat "$work/run/originals"
expect_in "osnoise/cpus's original" $'+\tsys/kernel/tracing/osnoise/cpus\t0-15'
expect_in "the period's original" $'+\tsys/kernel/tracing/osnoise/timerlat_period_us\t1000'

# The reader's round comes every 200 ms.
for _ in $(seq 50); do
  n=$("$ISOCTL" --json latency | py "print(d[0]['samples'])" 2>/dev/null || echo 0)
  [ "$n" = 21 ] && break
  sleep 0.1
done
expect_exit 0 "GetLatency" -- "$ISOCTL" --json latency
checks=$((checks + 1))
got=$(py "c = d[0]; print(c['cpu'], c['source'], c['samples'], c['irq_samples'], round(c['max_us'], 1), round(c['min_us'], 1), round(c['irq_max_us'], 1), c['exceeded'], c['overruns'])" <<<"$out")
[ "$got" = "3 timerlat 21 21 95.0 4.0 2.5 1 1" ] || fail "the tracer's statistics: $got; $out"
expect_exit 0 "isoctl latency" -- "$ISOCTL" latency
expect_in "the source said" "measured by the kernel's timerlat tracer"
expect_in "the IRQ's latency apart" "IRQ MAX"
expect_exit 0 "isoctl latency --why" -- "$ISOCTL" latency --why
expect_in "the spike listed" "95"
checks=$((checks + 1))
kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null || true
grep -q "LatencyExceeded 3 95" "$work/watch.out" || fail "no LatencyExceeded: $(cat "$work/watch.out")"

# A revert puts back what the partition changed; the sampler keeps its settings.
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_exit 0 "the tracer still set up" -- cat "$t/osnoise/cpus" "$inst/current_tracer"
checks=$((checks + 1))
[ "$out" = $'3\ntimerlat' ] || fail "after the revert: $out"

# A suspend.
wait_for "a delay lock on sleep taken" sleep_locks_are 1
sleep_signal true
wait_for "PrepareForSleep(true): the tracer stopped" grep -qx nop "$inst/current_tracer"
expect_eq "osnoise/cpus back while suspended" "0-15" "$(cat "$t/osnoise/cpus")"
wait_for "the delay lock let go" sleep_locks_are 0
sleep_signal false
wait_for "PrepareForSleep(false): the tracer again" grep -qx timerlat "$inst/current_tracer"
expect_eq "osnoise/cpus the audio CPUs again" "3" "$(cat "$t/osnoise/cpus")"
wait_for "the delay lock taken again" sleep_locks_are 1

expect_daemon_stops "stop"
expect_exit 0 "the global settings back" -- cat "$t/osnoise/cpus" "$t/osnoise/timerlat_period_us" "$inst/current_tracer"
checks=$((checks + 1))
[ "$out" = $'0-15\n1000\nnop' ] || fail "after the stop: $out"
checks=$((checks + 1))
! grep -q osnoise "$work/run/originals" 2>/dev/null || fail "the originals still hold the tracer's: $(cat "$work/run/originals")"

# A kernel without the tracer.
echo "function nop" >"$t/available_tracers"
printf '[Sampler]\nSource=auto\nCPUs=1\n[Daemon]\nVerifyIntervalSec=3600\n' >"$work/auto.conf"
daemon_start --root "$root" --config "$work/auto.conf" --runtime-dir "$work/run"
expect_exit 0 "auto without the tracer" -- "$ISOCTL" --json latency
checks=$((checks + 1))
[ "$(py "print(d[0]['source'])" <<<"$out")" = thread ] || fail "auto: $out"
checks=$((checks + 1))
grep -q "not the kernel's timerlat tracer: the kernel has no timerlat tracer" "$BUS_DIR/daemon.log" ||
  fail "auto did not say why: $(tail -5 "$BUS_DIR/daemon.log")"
expect_daemon_stops "stop auto"
printf '[Sampler]\nSource=timerlat\nCPUs=1\n[Daemon]\nVerifyIntervalSec=3600\n' >"$work/only.conf"
daemon_start --root "$root" --config "$work/only.conf" --runtime-dir "$work/run"
checks=$((checks + 1))
grep -q "the latency sampler does not run: Source=timerlat, and the kernel has no timerlat tracer" "$BUS_DIR/daemon.log" ||
  fail "timerlat alone did not say why: $(tail -5 "$BUS_DIR/daemon.log")"
expect_exit 0 "nothing written" -- cat "$t/osnoise/cpus"
checks=$((checks + 1))
[ "$out" = "0-15" ] || fail "osnoise/cpus written without the tracer: $out"
expect_daemon_stops "stop timerlat-only"

finish
