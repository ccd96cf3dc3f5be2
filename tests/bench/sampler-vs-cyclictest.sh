#!/usr/bin/env bash
# The sampler is the product's proof of isolation: it must agree with cyclictest and cost
# no more. On this machine's CPU 1, under one stress-ng load, 30 s of isolatord's sampler
# and then 30 s of Debian's cyclictest, both SCHED_FIFO 98 every 1000 us without PM QoS:
# both distributions, the ratio of their p99s, and each one's CPU time per 1000 samples
# (from the measuring thread's schedstat). Prints figures, asserts nothing.
set -euo pipefail
: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"
seconds=${BENCH_SECONDS:-30}
cpu=1

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-sampler-bench-XXXXXX")
stress_pid=
trap '[ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null; bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
printf '[Sampler]\nEnabled=false\nCPUs=%s\nIntervalUs=1000\nPriority=98\nPmQos=false\nHistogramMaxUs=10000\nThresholdUs=1000000\n[Daemon]\nVerifyIntervalSec=3600\n' \
  "$cpu" >"$work/isolatord.conf"

# The measuring thread of a process: among its threads pinned to our CPU, the one that
# ran most often (cyclictest pins its sleeping main thread there too).
measuring_tid() { # measuring_tid PID
  local best= best_runs=-1
  for t in /proc/"$1"/task/*; do
    [ "$(awk '/Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null)" = "$cpu" ] || continue
    local runs; runs=$(awk '{print $3}' "$t/schedstat")
    if [ "$runs" -gt "$best_runs" ]; then best=${t##*/}; best_runs=$runs; fi
  done
  echo "$best"
}
thread_ns() { awk '{print $1}' "/proc/$1/task/$2/schedstat" 2>/dev/null; } # thread_ns PID TID

bus_start "$work/bus"
daemon_start --root "$work/root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
stress-ng --cpu 2 --io 1 --vm 1 --vm-bytes 128M --timeout $((2 * seconds + 30))s >/dev/null 2>&1 &
stress_pid=$!
sleep 2

# --- isolatord's sampler ---
"$ISOCTL" sampler start >/dev/null
sleep 0.2
sampler_tid=$(measuring_tid "$DAEMON_PID")
ns_before=$(thread_ns "$DAEMON_PID" "$sampler_tid")
"$ISOCTL" reset-latency >/dev/null # counts and CPU time over the same window
sleep "$seconds"
ns_after=$(thread_ns "$DAEMON_PID" "$sampler_tid")
"$ISOCTL" latency --json >"$work/sampler.json"
"$ISOCTL" sampler stop >/dev/null

# --- cyclictest, the same way ---
cyclictest -q -t1 -a"$cpu" -p98 -i1000 -m --laptop -D"$seconds" -h10000 >"$work/cyclictest.out" 2>&1 &
cyc_pid=$!
sleep 0.5
cyc_tid=$(measuring_tid "$cyc_pid")
cyc_before=$(thread_ns "$cyc_pid" "$cyc_tid")
cyc_last=$cyc_before
while kill -0 "$cyc_pid" 2>/dev/null; do
  v=$(thread_ns "$cyc_pid" "$cyc_tid" || true)
  [ -n "$v" ] && cyc_last=$v
  sleep 0.1
done
wait "$cyc_pid" || true

"$ISOLATORD_PYTHON" - "$work/sampler.json" "$work/cyclictest.out" "$ns_before" "$ns_after" "$cyc_before" "$cyc_last" "$cpu" "$seconds" <<'PY'
import json, sys
sjson, cout, nb, na, cb, cl, cpu, secs = sys.argv[1:9]
cpu = int(cpu)

def pct(hist, overflows, total, mx, q):
    want, seen = max(1, int(q * total + 0.999999)), 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= want:
            return i + 1
    return mx

s = [c for c in json.load(open(sjson)) if c["cpu"] == cpu][0]
s_total = s["samples"]
s_p99 = pct(s["histogram"], s["overflows"], s_total, s["max_us"], 0.99)

hist, mins, avgs, maxs, over = [], 0, 0, 0, 0
for line in open(cout):
    if line.startswith("# Min Latencies:"): mins = int(line.split()[-1])
    elif line.startswith("# Avg Latencies:"): avgs = int(line.split()[-1])
    elif line.startswith("# Max Latencies:"): maxs = int(line.split()[-1])
    elif line.startswith("# Histogram Overflows:"): over = int(line.split()[-1])
    elif line[:1].isdigit():
        hist.append(int(line.split()[1]))
c_total = sum(hist) + over
c_p99 = pct(hist, over, c_total, maxs, 0.99)

# Both: the measuring thread's CPU time over its run, per 1000 samples.
s_cost = (int(na) - int(nb)) / 1e3 / (s_total / 1000) if s_total else 0
c_cost = (int(cl) - int(cb)) / 1e3 / (c_total / 1000) if c_total else 0
print(f"CPU {cpu}, {secs} s each under stress-ng (--cpu 2 --io 1 --vm 1), SCHED_FIFO 98, 1000 us, no PM QoS:")
print(f"  isolatord sampler: {s_total} samples  min {s['min_us']:.1f}  avg {s['avg_us']:.1f}  p99 {s_p99}  max {s['max_us']:.1f} us"
      f"  ({s['overflows']} over 10 ms)")
print(f"  cyclictest       : {c_total} samples  min {mins}  avg {avgs}  p99 {c_p99}  max {maxs} us  ({over} over 10 ms)")
print(f"  p99 ratio (sampler / cyclictest): {s_p99 / c_p99 if c_p99 else float('nan'):.2f}")
print(f"  CPU time per 1000 samples: sampler {s_cost:.0f} us, cyclictest {c_cost:.0f} us"
      f" (ratio {s_cost / c_cost if c_cost else float('nan'):.2f})")
PY
