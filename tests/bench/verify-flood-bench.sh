#!/usr/bin/env bash
# 100 concurrent unprivileged Verify calls on the 256-CPU fixture (3101 IRQs): GetStatus
# latency beside GetStatus on the quiet daemon in the same run, the Verify answers
# served, the passes the daemon ran and its CPU time, beside the time of one full
# pass (a root Verify) measured in the same run. Prints figures; asserts nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${BENCH_CALL_FLOOD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"

conns=${FLOOD_CONNS:-100} seconds=${FLOOD_SECONDS:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-flood-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
printf '[Sampler]\nEnabled=false\n' >"$work/isolatord.conf"

bus_start "$work/bus"
cp -a "$ISOLATORD_FIXTURES/server-256" "$work/root"
daemon_start --root "$work/root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
sleep 0.5

count() { "$ISOCTL" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["verify_count"])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
hz=$(getconf CLK_TCK)

# One full pass, as root asks it (repair + observe), five times: the cost a flood would
# pay per call without sharing.
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N); "$ISOCTL" verify >/dev/null || true; echo $(( ($(date +%s%N) - t0) / 1000 ))
done | sort -n | awk '{a[NR]=$1} END {printf "one full pass (root Verify): median %.1f ms of 5\n", a[3]/1000}'

before_count=$(count); before_cpu=$(cpu_ticks)
setpriv --reuid=65534 --regid=65534 --clear-groups "$BENCH_CALL_FLOOD" "$conns" "$seconds"
after_count=$(count); after_cpu=$(cpu_ticks)
passes=$(( after_count - before_count - 1 )) # the count() call's own status read does not pass
cpu_ms=$(( (after_cpu - before_cpu) * 1000 / hz ))
echo "passes during the flood: $passes in ${seconds} s (+3 s quiet before it); daemon CPU ${cpu_ms} ms" \
     "($(awk -v c="$cpu_ms" -v s="$((seconds + 3))" 'BEGIN {printf "%.0f", c / (s * 10)}')% of one CPU)"
