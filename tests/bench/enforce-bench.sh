#!/usr/bin/env bash
# Figures for the cpuset and workload enforcers of a running isolatord on a private bus,
# each beside a bare program of the benchmark that receives the same event and does the
# same kernel work in the same run (P2: foreign cpuset write -> restored, fake 7700X;
# P3: exec -> placed, fake 2-CPU machine, this machine's CPUs 0-1, the harness's own
# children). The goal is a median at most 1.3 times the bare one. Prints figures,
# asserts nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${BENCH_DRIFT:?}" "${BENCH_EXEC:?}"
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-enforce-bench-XXXXXX")
# The runtime folder on tmpfs, as /run is: saving originals is part of each placement.
# The fake roots too: a write to a regular file on the build disk (O_TRUNC) costs
# ~200 us, ten times a write to cgroupfs, and would be most of what is measured.
run=$(mktemp -d /dev/shm/isolatord-bench-run-XXXXXX)
trap 'bus_cleanup; rm -rf "$work" "$run"' EXIT
chmod 755 "$work"
bus_start "$work/bus"

# --- cpusets: repairs are the figure, so no back-off in this run ---
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$run/root"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nDriftBurst=1000000\n' >"$work/drift.conf"
# ratio NAME GOAL DAEMON_OUTPUT BARE_OUTPUT: the medians' ratio against its goal.
ratio() {
  local d b
  d=$(sed -n 's/^median_us=//p' <<<"$3"); b=$(sed -n 's/^median_us=//p' <<<"$4")
  grep -v '^median_us=' <<<"$3" || true; grep -v '^median_us=' <<<"$4" || true
  awk -v n="$1" -v g="$2" -v d="$d" -v b="$b" \
    'BEGIN { r = d / b; printf "%s: isolatord %.0f us / bare %.0f us = %.2f (goal <= %s: %s)\n", n, d, b, r, g, r <= g ? "met" : "NOT met" }'
}

daemon_start --root "$run/root" --config "$work/drift.conf" --runtime-dir "$run/drift"
# Rounds alternate between isolatord (its fake root's system.slice) and the bare repairer
# (a copy of the file in a folder isolatord does not watch): both meet the same load.
mkdir -p "$run/bare-cg/system.slice"
cp "$run/root/sys/fs/cgroup/system.slice/cpuset.cpus" "$run/bare-cg/system.slice/cpuset.cpus"
drift=$(taskset -c 1 "$BENCH_DRIFT" "$run/root/sys/fs/cgroup/system.slice/cpuset.cpus" 0-15 0,8 300 \
  paired "$run/bare-cg/system.slice/cpuset.cpus")
daemon_stop
ratio "P2 cpuset write -> restored" 1.3 "$(grep -v '^bare_median_us=' <<<"$drift")" \
  "$(sed -n 's/^bare_median_us=/median_us=/p' <<<"$drift")"

# --- workloads ---
cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$run/mini"
cat >"$work/exec.conf" <<'CONF'
[Partition]
Housekeeping=0
[Group bench]
CPUs=1
Match=isobench-hq
SchedPolicy=fifo
SchedPriority=10
[Sampler]
Enabled=false
[Daemon]
CgroupBackend=cgroupfs
CONF
cp /bin/sleep "$work/isobench-hq"
# 300 execs a side, in blocks of 10 that alternate between isolatord and the bare placers
# (the two not measured stopped), so that the machine's slow minutes fall on all three
# alike: the same slice folder the daemon created is written by the bare placers, one that
# keeps isolatord's contract (who the process is, that only root could have put its
# executable there, its originals appended to a file before the writes) in the least
# code, and one that only writes (the yardstick of issues 12 and 22, which predates the
# trust rule's reads: the kernel's cost of those reads is in that ratio too).
procs="$run/mini/sys/fs/cgroup/bench.slice/cgroup.procs"
status=0
daemon_start --root "$run/mini" --config "$work/exec.conf" --runtime-dir "$run/exec"
# The harness on CPU 1 (where its children go), isolatord and the placers on CPU 0.
exec_all=$(taskset -c 1 "$BENCH_EXEC" "$work/isobench-hq" 300 paired "$DAEMON_PID" "$procs" "$run/bare-originals") ||
  status=$?
kill -CONT "$DAEMON_PID" 2>/dev/null || true
daemon_stop
if [ "$status" -eq 77 ]; then
  echo "exec -> placed: not measured (needs root in the initial namespaces, and real-time for its harness)"
elif [ "$status" -ne 0 ]; then
  echo "exec -> placed: the harness failed (exit $status): $exec_all"
  exit 1
else
  grep -v '_us=' <<<"$exec_all" || true
  ratio "P3 exec -> placed" 1.3 "$(grep '^median_us=' <<<"$exec_all")" \
    "$(sed -n 's/^contract_median_us=/median_us=/p' <<<"$exec_all")"
  ratio "P3 exec -> placed, beside the writes alone" 1.3 "$(grep '^median_us=' <<<"$exec_all")" \
    "$(sed -n 's/^writes_median_us=/median_us=/p' <<<"$exec_all")"
fi

# --- 2000 matching execs that stay alive: the daemon's CPU and the originals file for
# each 500 more (flat per chunk when the store is linear in the placements) ---
if [ "$status" -ne 77 ]; then
  daemon_start --root "$run/mini" --config "$work/exec.conf" --runtime-dir "$run/many"
  hz=$(getconf CLK_TCK)
  cpu() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
  many=()
  prev=$(cpu)
  for chunk in 1 2 3 4; do
    for _ in $(seq 500); do taskset -c 1 "$work/isobench-hq" 300 & many+=("$!"); done
    sleep 3 # the daemon places them as the execs arrive; let it finish
    now=$(cpu)
    echo "2000 execs: $((chunk * 500)) placed so far; daemon CPU for the last 500: $(( (now - prev) * 1000 / hz )) ms;" \
         "originals $(stat -c %s "$run/many/originals") bytes"
    prev=$now
  done
  kill "${many[@]}" 2>/dev/null || true
  wait "${many[@]}" 2>/dev/null || true
  daemon_stop
fi
exit 0
