#!/usr/bin/env bash
# What the kernel or a sandbox refuses, on the simulated 7700X: /proc/irq read-only (as
# in any container: a read-only bind mount in a mount namespace of the daemon's own)
# and a governor file that answers EPERM (chattr +i). Each refusal is said once, not at
# every pass; an IRQ that cannot move is advice with the reason; no original is kept for
# a write that did not take; and a revert succeeds (exit 0) with /proc/irq still
# read-only, the machine left as it was.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v chattr >/dev/null || ! unshare --mount true 2>/dev/null; then
  echo "needs root, chattr and unshare --mount" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-refusals-XXXXXX")
root="$work/root"
gov="$root/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"
trap 'chattr -i "$gov" 2>/dev/null || true; bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$root"
pristine="$work/pristine"
cp -a "$root" "$pristine"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nVerifyIntervalSec=1\n' >"$work/isolatord.conf"
chattr +i "$gov"

bus_start "$work/bus"
# The daemon alone sees /proc/irq read-only: its own mount namespace, then exec.
unshare --mount --propagation private sh -c '
  mount --bind "$1/proc/irq" "$1/proc/irq" && mount -o remount,bind,ro "$1/proc/irq" && shift && exec "$@"' \
  sh "$root" "$ISOLATORD" --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run" \
  >>"$BUS_DIR/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do bus_has_owner org.rtaudio.Isolator && break; sleep 0.05; done
# Applied once the name is owned: a call returns after that.
busctl --system --timeout=60 call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus >/dev/null 2>&1 || true
bus_has_owner org.rtaudio.Isolator || { cat "$BUS_DIR/daemon.log" >&2; fail "isolatord did not start"; finish; }

sleep 1.5
said_first=$(grep -c "read-only (EROFS)" "$BUS_DIR/daemon.log" || true)
gov_first=$(grep -c "scaling_governor refuses performance" "$BUS_DIR/daemon.log" || true)
sleep 3 # three more passes
expect_eq "the read-only IRQs said in the first pass" "True" "$([ "$said_first" -ge 1 ] && echo True || echo False)"
expect_eq "and not again in later passes" "$said_first" "$(grep -c "read-only (EROFS)" "$BUS_DIR/daemon.log" || true)"
expect_eq "the refused governor said once" "1" "$gov_first"
expect_eq "and not again" "1" "$(grep -c "scaling_governor refuses performance" "$BUS_DIR/daemon.log" || true)"

expect_exit 0 "isoctl irqs" -- "$ISOCTL" irqs --json
# Every IRQ refused, with the reason; "unmovable" unless the kernel keeps it where it
# belongs anyway (then "pinned").
expect_eq "every IRQ refused with the reason, unmovable where it is not on its target" "True" \
  "$(python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d) > 0 and all("EROFS" in i["reason"] and i["state"] in ("unmovable", "pinned") for i in d)
      and sum(i["state"] == "unmovable" for i in d) > 0)' <<<"$out")"
expect_exit 1 "isoctl verify" -- "$ISOCTL" verify --json
expect_eq "unmovable IRQs are advice, the refused governor a finding with its reason" "True" \
  "$(python3 -c '
import json, sys
d = json.load(sys.stdin)
f = d["findings"] if isinstance(d, dict) else d
irq = [x for x in f if x["kind"] == "irq-unmovable"]
gov = [x for x in f if x["kind"] == "governor" and x["object"] == "cpu3"]
print(bool(irq) and not any(x["required"] for x in irq) and bool(gov) and "EPERM" in gov[0]["message"])' <<<"$out")"
# The journal's live entries: each "+" line not undone by a later "-" line.
live=$(python3 -c '
import sys
live = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "+": live[f[1]] = f[2]
    elif f[0] == "-": live.pop(f[1], None)
print("\n".join(live))' "$work/run/originals")
expect_eq "no original kept for a write that did not take" "" \
  "$(grep -e '^proc/irq/' -e 'cpu3/cpufreq' <<<"$live" || true)"
expect_eq "originals kept for the writes that took" "True" \
  "$(grep -q 'cpu4/cpufreq/scaling_governor' <<<"$live" && echo True || echo False)"

expect_exit 0 "revert succeeds with /proc/irq read-only" -- "$ISOCTL" revert
expect_daemon_stops "isolatord stops"
chattr -i "$gov"
checks=$((checks + 1))
diff -r "$pristine" "$root" >"$work/diff" 2>&1 || fail "the machine is not as it was: $(head -20 "$work/diff")"
finish
