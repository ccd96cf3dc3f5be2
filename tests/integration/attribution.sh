#!/usr/bin/env bash
# Attribution on this machine's own kernel: the simulated 7700X whose audio CPU 1 this VM
# has, with the kernel's tracefs mounted under the fake root in the daemon's own mount
# namespace (reading tracepoints changes nothing of the machine). A real-time thread of
# the test's, named why-hog, takes CPU 1 from the sampler for 20 ms at a time while two
# normal processes keep CPU 1 busy (a loaded machine: their switches with the sampler fill
# the trace ring within the second, which once lost most spikes' records): it must be
# the named cause of every spike it makes (GetSpikes, isoctl latency --why, the
# LatencyExplained signal) and a named source of the noise there (GetNoise), a process of
# no group that isolatord says it would move. Then the same daemon without tracefs: the
# counters say so, and a device IRQ allowed on CPU 1 against its target (a foreign
# affinity written to the fake /proc/irq, its counts raised there) is a movable cause,
# which the watch has put back at once (the "irq" finding's repair), before any pass.
set -euo pipefail
: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare --mount --propagation private sh -c 'mount -t tracefs nodev /mnt' 2>/dev/null ||
   ! grep -q . /sys/devices/system/cpu/cpu1/topology/core_id 2>/dev/null; then
  echo "SKIP: needs root, CPU 1 and tracefs in a mount namespace (declared in meson: ISOLATORD_SKIP_DECLARED)"
  exit 77
fi

work_start attribution
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
mkdir -p "$root/sys/kernel/tracing"
printf '[Sampler]\nSource=thread\nThresholdUs=5000\nIntervalUs=1000\n[Daemon]\nVerifyIntervalSec=3600\n' >"$work/isolatord.conf"
py() { "$ISOLATORD_PYTHON" -c "import json,sys; d=json.load(sys.stdin); $1"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

bus_start "$work/bus"
# The daemon alone sees the kernel's tracefs under the fake root.
unshare --mount --propagation private sh -c 'mount -t tracefs nodev "$1/sys/kernel/tracing" && shift && exec "$@"' \
  sh "$root" "$ISOLATORD" --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run" \
  >>"$BUS_DIR/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do bus_has_owner org.rtaudio.Isolator && break; sleep 0.05; done
busctl --system --timeout=60 call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus >/dev/null 2>&1 || true
bus_has_owner org.rtaudio.Isolator || { cat "$BUS_DIR/daemon.log" >&2; fail "isolatord did not start"; finish; }
"$ISOCTL" watch >"$work/watch.out" 2>/dev/null &
children+=($!)
sleep 1.5

expect_exit 0 "isoctl status --json" -- "$ISOCTL" status --json
expect_eq "attribution from the tracepoints" "tracepoints" "$(py 'print(d.get("attribution"))' <<<"$out")"
expect_exit 0 "isoctl status" -- "$ISOCTL" status
expect_in "status says where causes come from" "Causes:        from the kernel's tracepoints"

# why-hog: python under another name (a comm is the base name of the path executed, a
# symlink's too), SCHED_FIFO 99 on CPU 1, busy 20 ms then asleep 1.1 s, five times: the
# signal explains at most one spike a second per CPU, and on these 2 shared CPUs anything
# else that delays the sampler (a compiler next door, the hypervisor) makes spikes too, so
# each burst gets a second of its own.
# It leaves real time before it ends: an interpreter's exit at FIFO 99 is a spike too.
ln -s "$("$ISOLATORD_PYTHON" -c 'import sys; print(sys.executable)')" "$work/why-hog"
for _ in 1 2; do
  "$ISOLATORD_PYTHON" -c '
import os, time
os.sched_setaffinity(0, {1})
end = time.monotonic() + 8
while time.monotonic() < end:
    pass
' &
  children+=($!)
done
"$work/why-hog" -c '
import os, time
os.sched_setaffinity(0, {1})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(99))
for _ in range(5):
    end = time.monotonic() + 0.02
    while time.monotonic() < end:
        pass
    time.sleep(1.1)
os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
' &
hog=$!
children+=("$hog")
# Its noise, within the second it runs (the bursts go on for 5.5 s).
noise=
for _ in $(seq 60); do
  sleep 0.1
  n=$("$ISOCTL" noise --json 2>/dev/null) || continue
  if [ "$(py 'print(any(s["name"] == "why-hog" for c in d if c["cpu"] == 1 for s in c["sources"]))' <<<"$n")" = True ]; then
    noise=$n; break
  fi
done
checks=$((checks + 1))
[ -n "$noise" ] || fail "why-hog never named a source of CPU 1's noise: $(cat "$BUS_DIR/daemon.log")"
if [ -n "$noise" ]; then
  expect_eq "noise from the tracepoints" "tracepoints" "$(py 'print([c for c in d if c["cpu"] == 1][0]["source"])' <<<"$noise")"
  expect_eq "the records the kernel dropped, counted" "True" "$(py 'print([c for c in d if c["cpu"] == 1][0]["lost"] >= 0)' <<<"$noise")"
  expect_eq "why-hog a thread taking a share of CPU 1" "True" \
    "$(py 's = [s for c in d if c["cpu"] == 1 for s in c["sources"] if s["name"] == "why-hog"][0]; print(s["kind"] == "thread" and s["share"] > 0.005)' <<<"$noise")"
fi
wait "$hog" || true
sleep 1.2 # the spikes it made, collected

expect_exit 0 "GetSpikes" -- "$ISOCTL" latency --why=0 --json
spikes=$out
expect_eq "a spike on CPU 1 of at least 10 ms, caused first by why-hog, for at least 10 ms" "True" "$(py '
hits = [s for s in d if s["cpu"] == 1 and s["latency_us"] >= 10000 and s["causes"]
        and s["causes"][0]["name"] == "why-hog" and s["causes"][0]["time_us"] >= 10000]
print(bool(hits))' <<<"$spikes")"
# The bursts, their windows whole: nothing the busy CPU wrote was lost (before the rings
# were read when half full, 1-3 of the 5 were named here; 4 leaves a margin for this
# shared 2-CPU machine).
expect_eq "at least 4 of the 5 bursts named, none partial" "True" "$(py '
hits = [s for s in d if s["cpu"] == 1 and s["latency_us"] >= 15000 and s["causes"]
        and s["causes"][0]["name"] == "why-hog" and not s["partial"]]
print(len(hits) >= 4)' <<<"$spikes")"
# The spike of a burst, not any spike that names it: python's start-up runs as why-hog at
# normal priority before it moves to CPU 1, and a delay of the sampler then (the other
# CPU's load, the hypervisor) can name it first for a few ms of its own.
verdict=$(py '
hits = [s for s in d if s["cpu"] == 1 and s["latency_us"] >= 10000 and s["causes"]
        and s["causes"][0]["name"] == "why-hog" and s["causes"][0]["time_us"] >= 10000]
c = hits[0]["causes"][0] if hits else {}
print(bool(hits) and hits[0]["source"] == "tracepoints" and c["kind"] == "thread" and c["sched"] == "rt 99"
      and c["group"] == "" and c["movable"] and "unowned-process" in c["note"] and c["pid"] > 0)' <<<"$spikes")
expect_eq "from the tracepoints, its scheduling and what isolatord makes of it" "True" "$verdict"
[ "$verdict" = True ] || echo "the spikes: $spikes" >&2
expect_exit 0 "isoctl latency --why" -- "$ISOCTL" latency --why
expect_in "the table" "The last spikes on the audio CPUs and what ran in each one's window (from the kernel's tracepoints"
expect_match "why-hog named, a thread, rt 99, movable" "thread +why-hog \[[0-9]+\] +[0-9]+ us x[0-9]+ +rt 99 +- +yes"
expect_in "what isolatord moves" "thread why-hog: a process of no group on an audio CPU: the finding unowned-process"
expect_exit 0 "nobody reads the spikes too" -- nobody "$ISOCTL" latency --why=1 --json
expect_eq "one asked, one given" "1" "$(py 'print(len(d))' <<<"$out")"
expect_exit 2 "a count out of range" -- "$ISOCTL" latency --why=99

# The signal: LatencyExplained with why-hog, and LatencyExceeded unchanged beside it.
sleep 0.3
out=$(cat "$work/watch.out")
expect_match "LatencyExplained names why-hog" 'LatencyExplained 1 [0-9]+ [0-9]+ 5000 "tracepoints" \[.*"name":"why-hog"'
expect_match "LatencyExceeded as before" 'LatencyExceeded 1 [0-9]+ 5000$'

# The sampler's own cost, beside what it measures.
expect_exit 0 "isoctl latency --json" -- "$ISOCTL" latency --json
expect_eq "CPU 1's thread wakes about 1000 times a second and takes some of its CPU" "True" "$(py '
c = [c for c in d if c["cpu"] == 1][0]
print(500 <= c["own_wakeups_per_s"] <= 1100 and 0 < c["own_cpu_percent"] < 50)' <<<"$out")"
expect_exit 0 "metrics" -- "$ISOCTL" metrics
expect_match "spikes by their first cause" '^isolatord_spikes_total\{cause="thread"\} [1-9]'
expect_match "noise by kind" '^isolatord_noise_time_ratio\{cpu="1",kind="thread"\} '
expect_match "the sampler's cost" '^isolatord_sampler_wakeups_per_second\{cpu="1"\} '
expect_match "records lost" '^isolatord_trace_records_lost_per_second\{cpu="1"\} [0-9.]+$'
expect_daemon_stops "isolatord stops"

# --- counters: the same fake root without tracefs ---
printf '[Sampler]\nThresholdUs=1\nIntervalUs=1000\n[Daemon]\nVerifyIntervalSec=3600\n' >"$work/counters.conf"
daemon_start --root "$root" --config "$work/counters.conf" --runtime-dir "$work/run2"
expect_exit 0 "isoctl status --json" -- "$ISOCTL" status --json
expect_eq "counters, saying why" "True" "$(py 'print(d.get("attribution") == "counters" and "tracefs is not mounted" in d.get("attribution_fallback", ""))' <<<"$out")"
# An IRQ allowed on CPU 1 against its target, seen by an observing pass (nobody's
# Verify repairs nothing), then its count on CPU 1 raised: a movable cause of the spikes,
# and the watch has the IRQ enforcer put it back within a second or two, no pass needed.
irq=$(ls "$root/proc/irq" | grep -E '^[0-9]+$' | sort -n | sed -n 40p)
echo 1 >"$root/proc/irq/$irq/smp_affinity_list"
nobody "$ISOCTL" verify >/dev/null 2>&1 || true
passes=$("$ISOCTL" status --json | py 'print(d["verify_count"])')
"$ISOCTL" watch >"$work/watch2.out" 2>/dev/null &
children+=($!)
sleep 0.3
("$ISOLATORD_PYTHON" - "$root/proc/interrupts" "$irq" <<'PY'
import sys, time
path, irq = sys.argv[1], sys.argv[2]
for _ in range(4):
    lines = open(path).read().split("\n")
    for i, l in enumerate(lines):
        if l.lstrip().startswith(irq + ":"):
            head, rest = l.split(":", 1)
            f = rest.split()
            counts, text = f[:16], " ".join(f[16:])
            counts[1] = str(int(counts[1]) + 5000)
            lines[i] = head + ":" + "".join(f"{c:>11}" for c in counts) + "  " + text
    open(path, "w").write("\n".join(lines))
    time.sleep(0.6)
PY
) &
children+=($!)
# ThresholdUs=1: about ten spikes a second are kept, of which the last 32: look while
# the counts move (the spike judged in the second the IRQ is first seen there).
movable_irq() {
  "$ISOCTL" latency --why=0 --json | py "
hits = [c for s in d if s['source'] == 'counters' for c in s['causes']
        if c['kind'] == 'irq' and c['id'] == $irq and c['per_second'] > 1000 and c['movable']
        and 'the finding irq' in c['note'] and 'allowed on CPUs 1' in c['note']]
sys.exit(0 if hits else 1)"
}
wait_for "a spike from counters names the IRQ, movable, with the irq finding" movable_irq
sleep 2.5
expect_exit 0 "isoctl latency --why" -- "$ISOCTL" latency --why
expect_in "says what counters are" "from counters: what moved in the second before, not what ran when"
expect_eq "the watch put the IRQ back" "0,8" "$(cat "$root/proc/irq/$irq/smp_affinity_list")"
expect_eq "without a pass" "$passes" "$("$ISOCTL" status --json | py 'print(d["verify_count"])')"
out=$(cat "$work/watch2.out")
expect_match "a drift correction said so" "DriftCorrected \"irq\" \"$irq "
expect_daemon_stops "isolatord stops"
finish
