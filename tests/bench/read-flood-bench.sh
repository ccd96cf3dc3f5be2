#!/usr/bin/env bash
# Four unprivileged loops of the reads that scan the machine (GetIrqs, GetNoise,
# GetMetrics, one call in flight each) on the 256-CPU fixture (5681 IRQs): GetStatus
# latency and exec -> placed under the loops, beside the same on the quiet daemon in the
# same run, root's GetMetrics during the loops beside the quiet one, and the daemon's
# CPU. Goals (issue 20): GetStatus p50 under 10 ms and exec -> placed median under 5 ms
# during the loops. Prints figures; asserts nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${BENCH_CALL_FLOOD:?}" "${BENCH_EXEC:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"

seconds=${FLOOD_SECONDS:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-read-flood-XXXXXX")
run=$(mktemp -d /dev/shm/isolatord-read-flood-XXXXXX)
trap 'bus_cleanup; rm -rf "$work" "$run"' EXIT
chmod 755 "$work"
cp -a "$ISOLATORD_FIXTURES/server-256" "$run/root"
cat >"$work/isolatord.conf" <<'CONF'
[Partition]
Housekeeping=0,128
[Group bench]
CPUs=1-127,129-255
Match=isobench-hq
SchedPolicy=fifo
SchedPriority=10
[Sampler]
Enabled=false
[Daemon]
CgroupBackend=cgroupfs
CONF
cp /bin/sleep "$work/isobench-hq"
bus_start "$work/bus"
daemon_start --root "$run/root" --config "$work/isolatord.conf" --runtime-dir "$run/run"
sleep 1.5 # two noise readings

placed_median() { sed -n 's/^median_us=//p' <<<"$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
hz=$(getconf CLK_TCK)

# ms METHOD: how long root's call took, in ms.
ms() {
  local s; s=$(date +%s%N)
  busctl --system --timeout=120 call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 "$1" >/dev/null
  echo $(( ($(date +%s%N) - s) / 1000000 ))
}
quiet=$(taskset -c 1 "$BENCH_EXEC" "$work/isobench-hq" 100)
root_quiet=$(ms GetMetrics)
before=$(cpu_ticks)
setpriv --reuid=65534 --regid=65534 --clear-groups "$BENCH_CALL_FLOOD" 4 "$seconds" GetIrqs GetNoise GetMetrics \
  >"$work/flood.txt" &
flood=$!
sleep 4
loud=$(taskset -c 1 "$BENCH_EXEC" "$work/isobench-hq" 100)
root_loud=$(ms GetMetrics)
wait "$flood"
after=$(cpu_ticks)
cat "$work/flood.txt"
echo "root's GetMetrics: quiet ${root_quiet} ms, during the read loops ${root_loud} ms"
printf 'exec -> placed median: quiet %.0f us, during the read loops %.0f us (goal < 5000 us)\n' \
  "$(placed_median "$quiet")" "$(placed_median "$loud")"
cpu_ms=$(( (after - before) * 1000 / hz ))
echo "daemon CPU during the loops: ${cpu_ms} ms in $((seconds + 0)) s ($(awk -v c="$cpu_ms" -v s="$seconds" 'BEGIN {printf "%.0f", c / (s * 10)}')% of one CPU)"
