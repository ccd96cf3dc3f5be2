#!/usr/bin/env bash
# The polkit path of isolatord's authorization, with python-dbusmock's polkitd template
# as polkit: an unprivileged caller is refused while polkit says no, is served once it
# grants org.rtaudio.isolator.manage (the call is dispatched again after the answer),
# the boot line wants org.rtaudio.isolator.boot-line beside it, isoctl lets polkit ask
# for a password (an agent on a terminal, the call's interactive flag), the daemon keeps
# answering others while polkit takes its time, and without polkit on the bus only root
# may change anything.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

mock_require

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-polkit-XXXXXX")
trap 'bus_cleanup; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/etc"
conf="$work/etc/isolatord.conf"
: >"$conf"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody() { nobody busctl --system call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 "$@"; }
prop() { busctl --system get-property org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 "$1"; }
mock() { busctl --system call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority org.freedesktop.DBus.Mock "$@"; }

bus_start "$work/bus" "$here/polkit-mock.conf"
mock_start polkitd org.freedesktop.PolicyKit1 "$work/mock.log"

cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
daemon_start --root "$work/root" --config "$conf" --runtime-dir "$work/run" -v -v
groups_before=$(prop Groups)

# polkit says no.
expect_exit 1 "polkit refuses" -- as_nobody SetGroupCpus ss hqplayer 3-7,11-14
expect_in "refusal says polkit refused" "polkit refused"
expect_eq "nothing changed" "$groups_before" "$(prop Groups)"

# polkit grants the action: the same call goes through, after polkit's answer.
mock SetAllowed as 1 org.rtaudio.isolator.manage >/dev/null
expect_exit 0 "polkit grants SetGroupCpus" -- as_nobody SetGroupCpus ss hqplayer 3-7,11-14
expect_eq "the change was made" 'a(sss) 2 "diretta" "1-2,9-10" "diretta.slice" "hqplayer" "3-7,11-14" "hqplayer.slice"' "$(prop Groups)"
expect_exit 0 "polkit grants Revert" -- as_nobody Revert
expect_eq "reverted" 's "reverted"' "$(prop State)"
expect_exit 0 "polkit grants Apply" -- as_nobody Apply
expect_exit 0 "polkit grants Reload" -- as_nobody Reload
# manage is not the boot line: writing it needs its own action.
expect_exit 1 "manage alone does not write the boot line" -- as_nobody WriteBootParameters b false
expect_in "the refusal names the boot line's action" \
  "writing the boot line needs root or the polkit action org.rtaudio.isolator.boot-line; polkit refused"
mock SetAllowed as 2 org.rtaudio.isolator.manage org.rtaudio.isolator.boot-line >/dev/null
# Granted, the call goes on to its helper (which this test does not have): past polkit.
expect_exit 1 "granted both, the call goes on" -- as_nobody WriteBootParameters b false
expect_not_in "not refused by polkit" "polkit action"
mock SetAllowed as 1 org.rtaudio.isolator.manage >/dev/null
# isoctl lets polkit ask for a password: a change from a terminal starts polkit's text
# agent (here a stand-in that says how it was started) for the call and stops it after,
# and the call allows interactive authorization; without a terminal no agent, and with
# --no-ask-password the call does not allow it either.
cat >"$work/agent" <<'SH'
#!/bin/bash
echo "started $*" >>"$AGENT_LOG"
trap 'echo stopped >>"$AGENT_LOG"; exit 0' TERM
eval "exec $2>&-" # registered (bash: dash takes no fd past 9)
while :; do sleep 0.1; done
SH
chmod 755 "$work/agent"
: >"$work/agent.log"
chmod 666 "$work/agent.log"
# The last CheckAuthorization's flags (1: the caller allows interaction), of the calls
# since the mock's log was cleared (each step clears it: a step that never asked polkit
# reads nothing, not the step before's).
last_flags() { mock GetCalls | grep -o 'org.rtaudio.isolator.manage" a{ss} 0 u [0-9]' | tail -n 1 | sed 's/.* //'; }
as_user_isoctl() {
  nobody env ISOCTL_POLKIT_AGENT="$work/agent" AGENT_LOG="$work/agent.log" "$ISOCTL" "$@"
}
# The same on a terminal of its own (script(1)'s pseudo-terminal).
on_terminal_isoctl() {
  script -qec "$(printf '%q ' setpriv --reuid=65534 --regid=65534 --clear-groups env \
    ISOCTL_POLKIT_AGENT="$work/agent" AGENT_LOG="$work/agent.log" "$ISOCTL" "$@")" /dev/null
}
mock ClearCalls >/dev/null
expect_exit 0 "isoctl apply on a terminal" -- on_terminal_isoctl apply
expect_eq "the agent started with a notify fd and as a fallback, then stopped" "started --notify-fd 3 --fallback
stopped" "$(sed -E 's/--notify-fd [0-9]+/--notify-fd 3/' "$work/agent.log")"
expect_eq "the call allowed interaction" "1" "$(last_flags)"
: >"$work/agent.log"
mock ClearCalls >/dev/null
expect_exit 0 "isoctl apply without a terminal" -- as_user_isoctl apply </dev/null
expect_eq "no agent without a terminal" "" "$(cat "$work/agent.log")"
expect_eq "still allowed a desktop's agent to ask" "1" "$(last_flags)"
mock ClearCalls >/dev/null
expect_exit 0 "isoctl --no-ask-password apply" -- as_user_isoctl --no-ask-password apply </dev/null
expect_eq "the call did not allow interaction" "0" "$(last_flags)"
expect_exit 0 "a read starts no agent, even on a terminal" -- on_terminal_isoctl status
expect_eq "no agent for a read" "" "$(cat "$work/agent.log")"

# A granted call still gets its own named errors.
expect_exit 1 "granted but invalid" -- as_nobody SetGroupCpus ss hqplayer 7-3
expect_in "the error of the call itself" "range end 3 is below its start 7"

# While polkit thinks, the loop serves others: a read answers before polkit does.
mock SetDelay d 1.5 >/dev/null
start=$(date +%s%N)
as_nobody Apply >/dev/null &
slow=$!
sleep 0.2
busctl --system call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus >/dev/null
read_ms=$(( ($(date +%s%N) - start) / 1000000 ))
checks=$((checks + 1))
[ "$read_ms" -lt 1200 ] || fail "a read waited ${read_ms} ms behind polkit: the loop blocked"
checks=$((checks + 1))
wait "$slow" || fail "the delayed Apply failed"

# One caller may have a few checks pending, not more; a caller that leaves has its
# checks dropped (the daemon logs it at -v).
cat >"$work/flood.py" <<'PY'
import sys, dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib
DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
obj = bus.get_object("org.rtaudio.Isolator", "/org/rtaudio/Isolator")
n, results, loop = int(sys.argv[1]), [], GLib.MainLoop()
def done(err=None):
    results.append(err.get_dbus_name() if err else "ok")
    if len(results) == n:
        loop.quit()
for _ in range(n):
    obj.Apply(dbus_interface="org.rtaudio.Isolator1", timeout=30,
              reply_handler=lambda: done(), error_handler=lambda e: done(e))
if sys.argv[2] == "leave":
    bus.flush(); GLib.timeout_add(300, loop.quit); loop.run(); sys.exit(0)   # gone before polkit answers
loop.run()
print(" ".join(sorted(results)))
PY
expect_exit 0 "six Apply calls at once from one caller" -- nobody "$MOCK_PYTHON" "$work/flood.py" 6 wait
expect_eq "four asked polkit, two were refused at once" \
  "ok ok ok ok org.rtaudio.Isolator1.Error.Busy org.rtaudio.Isolator1.Error.Busy" "$out"
expect_exit 0 "a caller that leaves" -- nobody "$MOCK_PYTHON" "$work/flood.py" 2 leave
sleep 0.3
checks=$((checks + 1))
grep -q "left the bus: its authorization check is dropped" "$BUS_DIR/daemon.log" || fail "the checks of a caller that left were kept"
mock SetDelay d 0 >/dev/null

# No polkit on the bus: only root.
kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || true; MOCK_PID=
for _ in $(seq 100); do bus_has_owner org.freedesktop.PolicyKit1 || break; sleep 0.05; done
expect_exit 1 "without polkit" -- as_nobody Revert
expect_in "says polkit is not running" "polkit is not running on this bus, so only root may"
expect_eq "not reverted" 's "degraded"' "$(prop State)"

finish
