#!/usr/bin/env bash
# What isolatord costs while nothing happens, on a private bus:
# P4: its RSS with the sampler running on every measured CPU (the simulated 7700X's group
#     CPUs that this machine has), beside the bare daemon (the same libraries loaded and
#     initialised, on the same bus, doing nothing) and cyclictest measuring the same CPUs
#     (cyclictest -m locks every page it maps) in the same run; goal: at most 4 MiB. And
#     how often its main loop wakes up in 10 s when nothing happens (voluntary context
#     switches of the main thread, the sampler off).
# Idle cost: its CPU time over 60 s on the 256-CPU fixture (5681 IRQs) with the default
#     VerifyIntervalSec, as a percentage of one CPU, and a steady verify's share of it.
# Prints figures, asserts nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_MKROOT:?}" "${ISOLATORD_PYTHON:?}"
: "${BENCH_BARE_DAEMON:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-idle-bench-XXXXXX")
trap 'bus_cleanup; [ -n "${ct:-}" ] && kill "$ct" 2>/dev/null; rm -rf "$work"' EXIT
chmod 755 "$work"
bus_start "$work/bus"

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
ticks() { awk '{print $14 + $15}' "$1"; }
hz=$(getconf CLK_TCK)

# --- P4: memory with the sampler on, and the loop's wake-ups ---
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
printf '[Sampler]\nEnabled=true\n[Daemon]\nVerifyIntervalSec=10\n' >"$work/sampler.conf"
daemon_start --root "$work/root" --config "$work/sampler.conf" --runtime-dir "$work/run"
sleep 3
measured=$(awk '/^processor/ {print $3}' /proc/cpuinfo | "$ISOLATORD_PYTHON" -c "
import sys; iso = set(range(1, 8)) | set(range(9, 16))
print(','.join(str(c) for c in sorted(int(x) for x in sys.stdin.read().split()) if c in iso))")
threads=$(grep -l '^iso-lat-' /proc/$DAEMON_PID/task/*/comm 2>/dev/null | wc -l)
rss=$(kib "$DAEMON_PID" VmRSS)
echo "P4 isolatord with the sampler on CPUs $measured ($threads thread(s)): VmRSS $rss kB" \
     "(anon $(kib "$DAEMON_PID" RssAnon) kB, file $(kib "$DAEMON_PID" RssFile) kB, locked $(kib "$DAEMON_PID" VmLck) kB)"
if command -v cyclictest >/dev/null; then
  cyclictest -q -m -Sp98 -i1000 -a "$measured" -t "$threads" >/dev/null 2>&1 &
  ct=$!
  sleep 2
  echo "   cyclictest -m on the same CPUs in the same run: VmRSS $(kib "$ct" VmRSS) kB (locked $(kib "$ct" VmLck) kB)"
  kill "$ct"; wait "$ct" 2>/dev/null || true; ct=
fi
daemon_stop
"$BENCH_BARE_DAEMON" &
bare=$!
sleep 1
bare_rss=$(kib "$bare" VmRSS)
echo "   the bare daemon (same libraries, loop and bus, nothing else): VmRSS $bare_rss kB" \
     "(anon $(kib "$bare" RssAnon) kB, file $(kib "$bare" RssFile) kB)"
kill "$bare"; wait "$bare" 2>/dev/null || true
awk -v r="$rss" -v b="$bare_rss" 'BEGIN { printf "P4 RSS: %.2f MiB, %.2f times the bare daemon'"'"'s %.2f MiB (goal <= 4 MiB: %s)\n", r / 1024, r / b, b / 1024, r <= 4096 ? "met" : "NOT met" }'

printf '[Sampler]\nEnabled=false\n[Daemon]\nVerifyIntervalSec=10\n' >"$work/quiet.conf"
daemon_start --root "$work/root" --config "$work/quiet.conf" --runtime-dir "$work/run-quiet"
sleep 1
main="/proc/$DAEMON_PID/task/$DAEMON_PID/status"
w0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$main")
sleep 10
w1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$main")
awk -v n="$((w1 - w0))" 'BEGIN { printf "P4 main loop wake-ups when nothing happens: %d in 10 s (%.1f a second)\n", n, n / 10 }'
daemon_stop

# --- idle cost on the 256-CPU fixture ---
"$ISOLATORD_PYTHON" "$ISOLATORD_MKROOT" --irq-scale 2 server-256 "$work/server" >/dev/null
printf '[Partition]\nHousekeeping=0,128\n[Group audio]\nCPUs=1-127,129-255\n[Sampler]\nEnabled=false\n' >"$work/server.conf"
daemon_start --root "$work/server" --config "$work/server.conf" --runtime-dir "$work/run-server"
sleep 2 # past the first apply
t0=$(ticks "/proc/$DAEMON_PID/stat")
sleep 60
t1=$(ticks "/proc/$DAEMON_PID/stat")
awk -v t="$((t1 - t0))" -v hz="$hz" \
  'BEGIN { printf "idle cost on 256 CPUs / 5681 IRQs, VerifyIntervalSec=10: %.0f ms of CPU in 60 s = %.2f%% of one CPU\n", t * 1000 / hz, t * 100 / hz / 60 }'
daemon_stop
