#!/usr/bin/env bash
# The real daemon under valgrind's memcheck on a private system bus, over a copy of the
# simulated 7700X with the latency sampler running: start (an apply), a reload by SIGHUP
# and one by the bus, Apply, Revert, SIGTERM. It passes only when memcheck reports no
# error and no block definitely or indirectly lost; the sampler's threads and glib's
# one-time allocations may stay reachable. No suppression is needed. valgrind 3.19 does not
# know openat2 (it answers ENOSYS): root.c's walk, its fallback, is what runs here.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

if ! command -v valgrind >/dev/null; then
  echo "SKIP: valgrind is not installed (declared in meson: ISOLATORD_SKIP_DECLARED)"
  exit 77
fi

work_start valgrind
root="$work/root"
pristine="$ISOLATORD_FIXTURES/ryzen-7700x"
cp -a "$pristine" "$root"
conf="$work/isolatord.conf"
printf '[Sampler]\nEnabled=true\nIntervalUs=10000\n[Daemon]\nCgroupBackend=cgroupfs\nVerifyIntervalSec=3600\n' >"$conf"
vglog="$work/valgrind.log"

call() { busctl --system --timeout=300 call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 "$@"; }
reloads() { grep -c "configuration reloaded from" "$BUS_DIR/daemon.log" || true; }

bus_start "$work/bus"
# As daemon_start, with the patience valgrind needs.
# (--fair-sched: the sampler's real-time threads must not starve the loop's.)
valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=99 --fair-sched=yes --num-callers=30 \
  --log-file="$vglog" "$ISOLATORD" --root "$root" --config "$conf" --runtime-dir "$work/run" \
  >>"$BUS_DIR/daemon.log" 2>&1 &
DAEMON_PID=$!
checks=$((checks + 1))
started=
for _ in $(seq 600); do
  if bus_has_owner org.rtaudio.Isolator && call GetStatus >/dev/null 2>&1; then started=1; break; fi
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.2
done
[ -n "$started" ] || { fail "isolatord did not start under valgrind: $(tail -20 "$BUS_DIR/daemon.log"; cat "$vglog")"; finish; }
expect_eq "applied at start" "0,8" "$(cat "$root/proc/irq/30/smp_affinity_list")"

# Reloads, by signal and by the bus.
kill -HUP "$DAEMON_PID"
checks=$((checks + 1))
for _ in $(seq 600); do [ "$(reloads)" -ge 1 ] && break; sleep 0.2; done
[ "$(reloads)" -ge 1 ] || fail "no reload after SIGHUP: $(tail -5 "$BUS_DIR/daemon.log")"
expect_exit 0 "Reload over the bus" -- call Reload

# Drift, Apply, a verify, Revert.
echo 0-15 >"$root/proc/irq/30/smp_affinity_list"
expect_exit 0 "Apply" -- call Apply
expect_eq "the drift applied away" "0,8" "$(cat "$root/proc/irq/30/smp_affinity_list")"
expect_exit 0 "Verify" -- call Verify
expect_exit 0 "GetLatency with the sampler running" -- call GetLatency
expect_exit 0 "Revert" -- call Revert
expect_exit 0 "the machine as it was after the revert" -- diff -r --no-dereference "$pristine" "$root"

# SIGTERM: the leak check runs at the exit.
kill -TERM "$DAEMON_PID"
status=0
wait "$DAEMON_PID" || status=$?
DAEMON_PID=
expect_eq "exit status under valgrind (99: an error or a leak)" "0" "$status"
# The summary, for the test log.
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed:|All heap blocks" "$vglog" || true
checks=$((checks + 1))
grep -q "ERROR SUMMARY: 0 errors" "$vglog" || fail "valgrind reported:
$(cat "$vglog")"
checks=$((checks + 1))
! grep -Eq "(definitely|indirectly) lost: [1-9]" "$vglog" || fail "a leak: $(grep -E "lost:" "$vglog")"
finish
