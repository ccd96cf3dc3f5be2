#!/usr/bin/env bash
# The latency sampler and the noise monitor through the bus, on the simulated 7700X: its
# group CPUs that exist here are measured (the rest reported as not), by SCHED_FIFO
# threads on the right CPUs; ThresholdUs=1 makes LatencyExceeded arrive; counts, the
# histogram, reset, stop and start; the noise monitor sees what the test adds to the fake
# /proc/interrupts. Mechanics only: these VMs show millisecond spikes.
set -euo pipefail
: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-sampler-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
printf '[Sampler]\nThresholdUs=1\nIntervalUs=1000\n[Daemon]\nVerifyIntervalSec=3600\n' >"$work/isolatord.conf"
py() { "$ISOLATORD_PYTHON" -c "import json,sys; d=json.load(sys.stdin); $1"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# The group CPUs of the 7700X that exist on this machine.
measured=$(awk '/^processor/ {print $3}' /proc/cpuinfo | "$ISOLATORD_PYTHON" -c "
import sys; iso = set(range(1, 8)) | set(range(9, 16))
print(','.join(str(c) for c in sorted(int(x) for x in sys.stdin.read().split()) if c in iso))")

bus_start "$work/bus"
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
"$ISOCTL" watch >"$work/watch.out" 2>/dev/null &
watch_pid=$!
start=$(date +%s%N)
sleep 2

expect_exit 0 "isoctl latency --json" -- "$ISOCTL" latency --json
json=$out
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "measured CPUs" "$measured" "$(py 'print(",".join(str(c["cpu"]) for c in d if c["measured"]))' <<<"$json")"
expect_eq "the others are reported, not measured" "14" "$(py 'print(len(d))' <<<"$json")"
expect_eq "json fields" "True" "$(py 'print(all({"cpu","samples","min_us","avg_us","max_us","p99_us","overflows","histogram"} <= set(c) for c in d))' <<<"$json")"
# Root here has CAP_IPC_LOCK: the measured CPUs' threads run from locked memory.
expect_eq "memory locked for the measured CPUs" "True" "$(py 'print(all(c["memory_locked"] == c["measured"] for c in d))' <<<"$json")"
expect_eq "the status says so" "locked" "$("$ISOCTL" status --json | py 'print(d["sampler_memory"])')"
expect_eq "samples match duration x rate (within 40%)" "True" \
  "$(py "print(all(0.6*$elapsed_ms <= c['samples'] + c['overruns'] <= 1.1*$elapsed_ms for c in d if c['measured']))" <<<"$json")"
expect_eq "histogram sums to the samples" "True" \
  "$(py 'print(all(sum(c["histogram"]) + c["overflows"] == c["samples"] for c in d if c["measured"]))' <<<"$json")"
expect_eq "samples over 1 us counted" "True" "$(py 'print(all(c["exceeded"] > 0 for c in d if c["measured"]))' <<<"$json")"

# The threads: iso-lat-N, on CPU N, SCHED_FIFO 98.
for cpu in ${measured//,/ }; do
  tid=$(grep -l "^iso-lat-$cpu\$" /proc/$DAEMON_PID/task/*/comm | head -1 | cut -d/ -f5)
  checks=$((checks + 1))
  [ -n "$tid" ] || { fail "no sampler thread for CPU $cpu"; continue; }
  expect_eq "thread of CPU $cpu pinned" "$cpu" "$(awk '/Cpus_allowed_list/ {print $2}' /proc/$DAEMON_PID/task/$tid/status)"
  expect_exit 0 "chrt" -- chrt -p "$tid"
  expect_in "SCHED_FIFO" "SCHED_FIFO"
  expect_in "priority 98" "priority: 98"
done

expect_exit 0 "status counts the samples above the threshold" -- "$ISOCTL" status --json
expect_eq "latency_exceeded in the status" "True" "$(py 'print(d["latency_exceeded"] > 0 and d["latency_threshold_us"] == 1)' <<<"$out")"
expect_exit 0 "isoctl status" -- "$ISOCTL" status
expect_in "status line" "sample(s) above 1 us since the last reset"
expect_exit 0 "isoctl latency" -- "$ISOCTL" latency
expect_in "latency table" "CPU  SAMPLES"
expect_in "not measured named" "Not measured (not on this machine, or no real-time thread): CPUs"
first=${measured%%,*}
expect_exit 0 "isoctl latency --histogram" -- "$ISOCTL" latency --histogram "$first"
expect_in "histogram header" "Latency histogram of CPU $first"
expect_in "histogram bars" " us |#"
expect_exit 0 "isoctl latency --format=cyclictest" -- "$ISOCTL" latency --format=cyclictest
expect_in "cyclictest header" "# Histogram"
expect_in "cyclictest first row" "000000	"
expect_in "cyclictest totals" "# Total: 0"
expect_in "cyclictest max" "# Max Latencies:"
expect_exit 2 "bad histogram CPU" -- "$ISOCTL" latency --histogram x
expect_exit 1 "histogram of a CPU not measured" -- "$ISOCTL" latency --histogram 15

# LatencyExceeded on the bus, at most one a second per CPU.
sleep 0.5
kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null || true
# As long as the watch ran (the isoctl calls above take longer on a loaded machine).
watched_s=$(( ($(date +%s%N) - start) / 1000000000 + 1 ))
out=$(cat "$work/watch.out")
expect_in "LatencyExceeded arrived" "LatencyExceeded $first "
n_signals=$(grep -c "LatencyExceeded $first " "$work/watch.out" || true)
checks=$((checks + 1))
[ "$n_signals" -le "$((watched_s + 1))" ] || fail "$n_signals LatencyExceeded for CPU $first in $watched_s s: not rate-limited"

# Reset, stop, start: root may, nobody may not.
expect_exit 3 "nobody may not reset" -- nobody "$ISOCTL" reset-latency
expect_exit 3 "nobody may not stop" -- nobody "$ISOCTL" sampler stop
reset_at=$(date +%s%N)
expect_exit 0 "reset" -- "$ISOCTL" reset-latency
sleep 0.05
after=$("$ISOCTL" latency --json)
# Zeroed: no more samples than the time since the reset holds at 1 kHz (isoctl itself
# takes a while under the sanitizers, so the bound is the time, not a constant).
since_ms=$(( ($(date +%s%N) - reset_at) / 1000000 ))
expect_eq "reset zeroes" "True" "$(py "print(all(c['samples'] <= 1.1 * $since_ms + 20 for c in d))" <<<"$after")"
expect_exit 0 "stop" -- "$ISOCTL" sampler stop
expect_eq "stopped: no threads" "0" "$(grep -l '^iso-lat-' /proc/$DAEMON_PID/task/*/comm 2>/dev/null | wc -l)"
expect_exit 0 "latency while stopped" -- "$ISOCTL" latency
expect_in "says not running" "The sampler is not running"
expect_exit 0 "start" -- "$ISOCTL" sampler start
sleep 0.3
expect_eq "started again" "True" "$("$ISOCTL" latency --json | py 'print(any(c["measured"] and c["samples"] > 0 for c in d))')"

# The noise monitor: the test raises CPU 3's local timer and RES counts by known amounts.
# This fake root has no tracefs: the counters, the audio CPUs' columns of the rows read.
"$ISOLATORD_PYTHON" - "$root/proc/interrupts" <<'PY'
import sys
path = sys.argv[1]
lines = open(path).read().split("\n")
for i, l in enumerate(lines):
    for key, add in (("LOC:", 500000), ("RES:", 7000)):
        if l.lstrip().startswith(key):
            head, rest = l.split(":", 1)
            f = rest.split()
            counts, text = f[:16], " ".join(f[16:])
            counts[3] = str(int(counts[3]) + add)
            lines[i] = head + ":" + "".join(f"{c:>11}" for c in counts) + "  " + text
open(path, "w").write("\n".join(lines))
PY
# Rates cover the last two readings, a second apart or more (the counters pace
# themselves by what a reading costs: under a sanitizer a reading of this small file can
# take more than a millisecond): poll until the window holding the bump is the one shown.
# The rate is the bump over that window, which GetNoise gives in seconds.
noise=
for _ in $(seq 60); do
  sleep 0.2
  n=$("$ISOCTL" noise --json 2>/dev/null) || continue
  if [ "$(py 'print([c for c in d if c["cpu"] == 3][0]["loc"] > 0)' <<<"$n")" = True ]; then noise=$n; break; fi
done
checks=$((checks + 1))
[ -n "$noise" ] || fail "the noise monitor never showed the LOC bump on CPU 3"
if [ -n "$noise" ]; then
  expect_eq "the 14 audio CPUs" "1,2,3,4,5,6,7,9,10,11,12,13,14,15" "$(py 'print(",".join(str(c["cpu"]) for c in d))' <<<"$noise")"
  expect_eq "from counters: this fake root has no tracefs" "counters" "$(py 'print(d[0]["source"])' <<<"$noise")"
  expect_eq "the window: a second to 10 s" "True" "$(py 'print(all(0.9 <= c["seconds"] <= 10.5 for c in d))' <<<"$noise")"
  expect_eq "CPU 3 LOC rate: 500000 over the window" "True" \
    "$(py 'c = [c for c in d if c["cpu"] == 3][0]; print(495000 <= c["loc"] * c["seconds"] <= 505000)' <<<"$noise")"
  expect_eq "CPU 3 RES rate: 7000 over the window" "True" \
    "$(py 'c = [c for c in d if c["cpu"] == 3][0]; print(6930 <= c["res"] * c["seconds"] <= 7070)' <<<"$noise")"
  expect_eq "no other CPU moved" "True" "$(py 'print(all(c["loc"] == 0 and c["res"] == 0 for c in d if c["cpu"] != 3))' <<<"$noise")"
  expect_eq "context switches known from schedstat" "True" "$(py 'print(all(c["switches"] == 0 for c in d))' <<<"$noise")"
fi
expect_exit 0 "isoctl noise" -- "$ISOCTL" noise
expect_in "noise table" "CPU  LOC/s"

expect_daemon_stops "isolatord stops"
finish
