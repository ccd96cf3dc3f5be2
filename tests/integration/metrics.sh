#!/usr/bin/env bash
# Metrics for Prometheus on the simulated 7700X (cgroupfs backend, sampler on): isoctl
# metrics and the [Metrics] TextfileDir= file both pass promtool check metrics; the state,
# findings, a drift by kind, the verify count, each measured CPU's latency histogram and
# the IRQs are there; the file is replaced atomically (300 reads while it is rewritten
# every second: each one whole), moves when a reload changes the folder, and is removed
# when the daemon stops. A relative folder is refused by name.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

if ! command -v promtool >/dev/null; then
  echo "promtool (Debian package prometheus, installed by tools/deps) is missing" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-metrics-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
cg="$root/sys/fs/cgroup"
prom="$work/prom"
mkdir "$prom" "$work/prom2"
conf="$work/isolatord.conf"
write_conf() { # TEXTFILE_DIR
  printf '[Sampler]\nEnabled=true\n[Daemon]\nCgroupBackend=cgroupfs\n[Metrics]\nTextfileDir=%s\nIntervalSec=1\n' "$1" >"$conf"
}
write_conf "$prom"

# --- a folder that is not absolute is refused, naming the key ---
printf '[Metrics]\nTextfileDir=var/lib/prometheus\n' >"$work/bad.conf"
expect_exit 1 "relative TextfileDir=" -- "$ISOLATORD" --root "$root" --config "$work/bad.conf" --check-config
expect_in "the key named" "TextfileDir"
expect_in "why" "not an absolute folder name"

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
sleep 1.5 # two noise readings, some samples

# --- isoctl metrics ---
expect_exit 0 "isoctl metrics" -- "$ISOCTL" metrics
metrics=$out
expect_exit 0 "promtool check metrics on isoctl metrics" -- promtool check metrics <<<"$metrics"
expect_eq "promtool has nothing to say" "" "$out"
out=$metrics
expect_match "the state, as a labelled gauge" '^isolatord_state\{state="(active|degraded)"\} 1$'
expect_in "the other states at 0" 'isolatord_state{state="reverted"} 0'
expect_match "findings by level" '^isolatord_findings\{level="required"\} [0-9]+$'
expect_in "the latency histogram's type" '# TYPE isolatord_latency_seconds histogram'
expect_match "a measured CPU's bucket" '^isolatord_latency_seconds_bucket\{cpu="1",le="0.0001"\} [0-9]+$'
expect_match "its +Inf bucket" '^isolatord_latency_seconds_bucket\{cpu="1",le="\+Inf"\} [1-9][0-9]*$'
expect_match "its sum" '^isolatord_latency_seconds_sum\{cpu="1"\} [0-9.]+$'
expect_match "its count" '^isolatord_latency_seconds_count\{cpu="1"\} [1-9][0-9]*$'
expect_match "IRQs by state" '^isolatord_irqs\{state="pinned"\} [1-9][0-9]*$'
expect_match "interrupts on isolated CPUs, by IRQ" '^isolatord_irq_isolated_interrupts_total\{irq="[0-9]+",name="[^"]*"\} [0-9]+$'
expect_match "noise rates" '^isolatord_noise_interrupts_per_second\{cpu="3",source="loc"\} [0-9.]+$'
# Buckets never decrease, and +Inf is the count.
checks=$((checks + 1))
awk -F'[{} ]' '/^isolatord_latency_seconds_bucket\{cpu="1"/ { if ($NF + 0 < last) bad = 1; last = $NF + 0; inf = $NF }
  /^isolatord_latency_seconds_count\{cpu="1"/ { count = $NF }
  END { exit !(bad == 0 && inf == count) }' <<<"$metrics" || fail "buckets of CPU 1 not cumulative, or +Inf is not the count"

# --- counters move: a drift repaired, a verify ---
passes() { "$ISOCTL" metrics | sed -n 's/^isolatord_verify_passes_total //p'; }
before=$(passes)
"$ISOCTL" verify >/dev/null || true
after=$(passes)
checks=$((checks + 1))
[ "$after" -gt "$before" ] || fail "a verify did not count: $before then $after"
# (The shell's truncate and write may each be seen, and repaired: one or more.)
echo 0-15 >"$cg/system.slice/cpuset.cpus"
# The whole text first: grep -q stops reading at its match (SIGPIPE, and pipefail).
drifted() { grep -qE '^isolatord_drift_corrections_total\{kind="cpuset"\} [1-9][0-9]*$' <<<"$("$ISOCTL" metrics)"; }
checks=$((checks + 1))
for _ in $(seq 300); do drifted && break; sleep 0.01; done
drifted || fail "the repaired cpuset is not counted in isolatord_drift_corrections_total{kind=\"cpuset\"}"

# --- the textfile ---
file="$prom/isolatord.prom"
checks=$((checks + 1))
for _ in $(seq 300); do [ -s "$file" ] && break; sleep 0.01; done
[ -s "$file" ] || fail "$file not written"
expect_exit 0 "promtool check metrics on the file" -- promtool check metrics <"$file"
expect_eq "promtool has nothing to say of the file" "" "$out"
expect_eq "the file is world-readable (node-exporter runs as its own user)" "644" "$(stat -c %a "$file")"
# Rewritten every second: 300 reads over about 3 s, each a whole file (its last family
# complete), and it is replaced, not rewritten in place (another inode).
# The last family (the spikes by cause) follows the noise figures, which need two looks a
# second apart: the first files after the start may end before them, whole. Once they are
# there, every file must end with it.
last_family() { tail -n1 "$file" | grep -q '^isolatord_spikes_total{cause="none"} '; }
wait_for "the noise figures in the file" last_family
inode=$(stat -c %i "$file")
torn=0
for _ in $(seq 300); do
  text=$(cat "$file")
  tail -n1 <<<"$text" | grep -q '^isolatord_spikes_total{cause="none"} ' || torn=$((torn + 1))
  sleep 0.01
done
expect_eq "no read saw half a file" 0 "$torn"
# Replaced meanwhile, or soon: a sanitizer build on a loaded machine can be late.
replaced() { [ "$(stat -c %i "$file")" != "$inode" ]; }
for _ in $(seq 100); do replaced && break; sleep 0.1; done
checks=$((checks + 1))
replaced || fail "the file was not replaced in 13 s (IntervalSec=1)"
expect_eq "no temporary file left beside it" "isolatord.prom" "$(ls "$prom")"

# --- a reload that moves it: the old file goes ---
write_conf "$work/prom2"
kill -HUP "$DAEMON_PID"
checks=$((checks + 1))
for _ in $(seq 300); do [ -s "$work/prom2/isolatord.prom" ] && [ ! -e "$file" ] && break; sleep 0.01; done
[ -s "$work/prom2/isolatord.prom" ] && [ ! -e "$file" ] || fail "after the reload: not moved to prom2"

# --- stopped: no figures that would pass for a live daemon's ---
daemon_stop
checks=$((checks + 1))
[ ! -e "$work/prom2/isolatord.prom" ] || fail "isolatord.prom left behind after the daemon stopped"
expect_eq "nothing else left either" "" "$(ls "$work/prom2")"

finish
