#!/usr/bin/env bash
# Figures for the daemon on the bus, on the simulated 7700X and a private system bus:
# GetStatus calls per second and latency percentiles; isoctl status wall time beside a
# bare busctl call in the same run; the daemon's RSS after start; the unit's exposure
# score. Prints figures and asserts nothing: CI machines are noisy.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${BENCH_GETSTATUS:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${UNIT_FILE:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-bench-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
: >"$work/isolatord.conf"

bus_start "$work/bus"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
daemon_start --root "$work/root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
sleep 0.2
echo "isolatord RSS after start: $(awk '/VmRSS/ {print $2, $3}' /proc/$DAEMON_PID/status)" \
     "(peak $(awk '/VmHWM/ {print $2, $3}' /proc/$DAEMON_PID/status))"

"$BENCH_GETSTATUS" 5000

# Wall time of a whole command, median of N runs, in ms.
median_ms() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    local t0; t0=$(date +%s%N)
    "$@" >/dev/null
    echo $(( ($(date +%s%N) - t0) / 1000 ))
  done | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
runs=100
isoctl_ms=$(median_ms $runs "$ISOCTL" status)
busctl_ms=$(median_ms $runs busctl --system call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus)
echo "isoctl status: median ${isoctl_ms} ms; bare busctl call GetStatus: median ${busctl_ms} ms" \
     "(ratio $(awk -v a="$isoctl_ms" -v b="$busctl_ms" 'BEGIN {printf "%.2f", a/b}'), $runs runs each)"
echo "isolatord RSS after the benchmark: $(awk '/VmRSS/ {print $2, $3}' /proc/$DAEMON_PID/status)"

echo "isolatord.service exposure: $(systemd-analyze security --offline=true "$UNIT_FILE" 2>/dev/null | \
  sed -n 's/.*Overall exposure level for [^:]*: //p')"
