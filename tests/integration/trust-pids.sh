#!/usr/bin/env bash
# A process is its pid and its start time, tried as a local user (uid 65534) would try
# it, on a fake 2-CPU machine whose CPUs are this machine's, with real processes:
# - pid reuse with process events lost: a placed player ends while isolatord is stopped
#   and a flood of forks overflows its proc connector socket; a user's own program then
#   gets the player's pid (clone3 set_tid standing in for cycling through pid_max): it
#   gets no real-time, no group CPU, no slice, no "drift repaired", and the player's
#   saved originals go; more overflows say nothing more until a minute has passed;
# - revert after pid reuse: the same with the daemon down while the player ends; a
#   user's python renamed like the player takes its pid; revert gives it nothing of the
#   player's (its saved SCHED_FIFO 5, its cgroup);
# - children forked right after an exec: a placed process executes another program that
#   forks ten children (half of them a grandchild too) before isolatord has handled the
#   exec (the daemon stopped meanwhile): none keeps real-time; the same for children of a
#   placed process that execute another program; a child that runs on the placed
#   program keeps it, and revert gives it its forebear's originals.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${PID_AT:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

py=/usr/bin/python3
if ! "$py" -c 'import os,sys; sys.exit(0 if {0,1} <= os.sched_getaffinity(0) else 1)' || [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root, CPUs 0 and 1 and the proc connector (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
fi

work_start trust-pids
hq_machine 'isotest-pl*' VerifyIntervalSec=3600
# procs_lines PID: how often PID was written into a cgroup.procs of the fake machine (a
# plain file there: the ended player's pid stays in its slice's).
procs_lines() { cat $(find "$root/sys/fs/cgroup" -name cgroup.procs) | grep -cx -- "$1" || true; }
# nothing_for DESCRIPTION PID LINES: no real-time, not the group's CPU alone, and PID
# written into no cgroup.procs since it had LINES there (a revert may remove the slice).
nothing_for() {
  checks=$((checks + 1))
  local s; s=$(sched_of "$2" 2>/dev/null || echo gone)
  [ "$s" = "[0, 1] 0 0" ] || fail "$1: pid $2 has $s, expected its own [0, 1] 0 0"
  local now; now=$(procs_lines "$2")
  checks=$((checks + 1))
  [ "$now" -le "$3" ] || fail "$1: pid $2 was written into a cgroup.procs ($now line(s), $3 before)"
}
# live_entries PID: the saved originals of PID still live (a "+" line not followed by its "-").
live_entries() {
  "$py" - "$work/run/originals" "$1" <<'PY'
import sys
live = {}
try:
    lines = open(sys.argv[1]).read().split("\n")
except FileNotFoundError:
    lines = []
for line in lines:
    f = line.split("\t")
    if len(f) == 3 and f[0] == "+": live.setdefault(f[1], f[2])
    elif len(f) == 2 and f[0] == "-": live.pop(f[1], None)
print("\n".join(k for k in live if k.split(" ")[2:3] == [sys.argv[2]]))
PY
}
# flood: thousands of forks while isolatord is stopped overflow its proc connector socket.
flood() { perl -MPOSIX -e 'for (1..12000) { my $p = fork; if (!$p) { POSIX::_exit(0) } waitpid($p, 0) }'; }

bin="$work/bin"; mkdir -p "$bin"
cp /bin/sleep "$bin/isotest-pl"
cp "$(readlink -f "$py")" "$bin/isotest-plpy"
home="$work/home"; mkdir -p "$home"; chown 65534:65534 "$home"
setpriv --reuid=65534 --regid=65534 --clear-groups cp /bin/sleep "$home/isotest-pl"

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"

# --- pid reuse with process events lost ---
chrt -f 5 "$bin/isotest-pl" 600 & player=$!; children+=("$player")
wait_for "the player placed" placed "$player"
expect_eq "its originals saved under its pid and start time" "3" "$(live_entries "$player" | grep -cE "^@workload (cgroup|affinity|sched) $player [0-9]+ isotest-pl$")"
kill -STOP "$DAEMON_PID"
kill "$player"; wait "$player" 2>/dev/null || true
flood
lines=$(procs_lines "$player")
"$PID_AT" "$player" 65534 "$home/isotest-pl" 600; reused=$player; children+=("$reused")
expect_eq "the user's own program has the player's pid" "65534 isotest-pl" "$(ps -o uid=,comm= -p "$reused" | xargs)"
kill -CONT "$DAEMON_PID"
wait_for "the lost events noticed" grep -q "process events were lost" "$BUS_DIR/daemon.log"
first_lost=$SECONDS
expect_exit 1 "a full pass as root" -- "$ISOCTL" verify --json
expect_in "the user's program is refused, by its executable" "\"object\":\"$reused uid 65534 $home/isotest-pl\""
nothing_for "a user's program at a placed player's reused pid" "$reused" "$lines"
checks=$((checks + 1))
! grep -q "drift repaired: workload $reused " "$BUS_DIR/daemon.log" || fail "the stranger was 'repaired' into the group"
expect_eq "the ended player's originals are gone" "" "$(live_entries "$reused")"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads --json
expect_not_in "the stranger is not listed as placed" "\"pid\":$reused,"
kill "$reused" 2>/dev/null || true

# --- events lost again and again (any user can overflow the socket): said once, and the
# rescans spaced, not a line and a rescan per overflow ---
for _ in 1 2; do
  kill -STOP "$DAEMON_PID"; flood; kill -CONT "$DAEMON_PID"
  expect_exit 0 "the daemon answers after the flood" -- "$ISOCTL" status --json
done
# One line a minute at most: a loaded machine may take longer than that over the floods.
lost_lines=$(grep -c "process events were lost" "$BUS_DIR/daemon.log")
lost_max=$((1 + (SECONDS - first_lost) / 60))
checks=$((checks + 1))
[ "$lost_lines" -ge 1 ] && [ "$lost_lines" -le "$lost_max" ] ||
  fail "three overflows in $((SECONDS - first_lost)) s: $lost_lines line(s) about lost events, expected 1 to $lost_max (one a minute)"

# --- revert after the player ended while the daemon was down ---
chrt -f 5 "$bin/isotest-pl" 600 & player=$!; children+=("$player")
wait_for "a second player placed" placed "$player"
expect_daemon_stops "stop, its originals kept (no RestoreOnExit)"
kill "$player"; wait "$player" 2>/dev/null || true
cat >"$work/rename.py" <<'PY'
import ctypes, time
ctypes.CDLL(None).prctl(15, b"isotest-pl", 0, 0, 0)   # PR_SET_NAME: the player's name
time.sleep(600)
PY
lines=$(procs_lines "$player")
"$PID_AT" "$player" 65534 "$py" "$work/rename.py"; reused=$player; children+=("$reused")
wait_for "the stranger renamed like the player" sh -c "[ \"\$(cat /proc/$reused/comm)\" = isotest-pl ]"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_exit 0 "revert" -- "$ISOCTL" revert
nothing_for "revert, with a user's python renamed like the player at its pid" "$reused" "$lines"
expect_eq "no original of the ended player left" "" "$(live_entries "$reused")"
kill "$reused" 2>/dev/null || true
expect_exit 0 "apply again" -- "$ISOCTL" apply

# --- children forked right after an exec, before isolatord handled it ---
cat >"$work/forker.py" <<'PY'
import os, sys, time
out = sys.argv[1]
pids = []
for i in range(10):
    p = os.fork()
    if p == 0:
        if i % 2:
            q = os.fork()
            if q == 0:
                os.execv("/bin/sleep", ["sleep", "600"])
            with open(f"{out}.{i}", "w") as f:
                f.write(str(q))
        os.execv("/bin/sleep", ["sleep", "600"])
    pids.append(p)
with open(out, "w") as f:
    f.write(" ".join(map(str, pids)))
time.sleep(600)
PY
cat >"$work/placed.py" <<'PY'
import os, sys, time
for _ in range(500):                      # until isolatord has placed this process
    if os.sched_getscheduler(0) == os.SCHED_FIFO:
        break
    time.sleep(0.01)
open(sys.argv[1] + ".placed", "w").close()
while not os.path.exists(sys.argv[1] + ".go"):
    time.sleep(0.01)
if sys.argv[2] == "exec":                 # another program that forks at once
    os.execv("/usr/bin/python3", ["python3", sys.argv[3], sys.argv[1]])
pids = []                                 # or: children that execute another program
for i in range(10):
    p = os.fork()
    if p == 0:
        os.execv("/bin/sleep", ["sleep", "600"])
    pids.append(p)
keep = os.fork()                          # and one that runs on in this program
if keep == 0:
    time.sleep(600)
    os._exit(0)
with open(sys.argv[1] + ".keep", "w") as f:
    f.write(str(keep))
with open(sys.argv[1], "w") as f:
    f.write(" ".join(map(str, pids)))
time.sleep(600)
PY
for mode in exec fork; do
  marks="$work/$mode"
  "$bin/isotest-plpy" "$work/placed.py" "$marks" "$mode" "$work/forker.py" & parent=$!; children+=("$parent")
  wait_for "the $mode parent placed" test -e "$marks.placed"
  kill -STOP "$DAEMON_PID"                 # its events wait in the socket meanwhile
  touch "$marks.go"
  wait_for "the $mode parent's children started" test -s "$marks"
  sleep 0.3
  kids=$(for f in "$marks" "$marks".[0-9]; do [ ! -e "$f" ] || echo "$(cat "$f")"; done | xargs)
  inherited=0
  for k in $kids; do children+=("$k"); realtime "$k" && inherited=$((inherited + 1)); done
  echo "$mode: $(wc -w <<<"$kids") children, $inherited at real-time before isolatord saw them" >&2
  kill -CONT "$DAEMON_PID"
  sleep 0.5
  expect_exit 1 "a full pass ($mode)" -- "$ISOCTL" verify
  left=""
  for k in $kids; do realtime "$k" && left="$left $k"; done
  expect_eq "$mode: none of $(wc -w <<<"$kids") children keeps real-time" "" "$left"
done
keep=$(cat "$work/fork.keep"); children+=("$keep")
expect_eq "a child that runs on the placed program keeps what it inherited" "[1] 1 10" "$(sched_of "$keep")"
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_eq "revert gives that child its forebear's originals" "[0, 1] 0 0" "$(sched_of "$keep")"
expect_daemon_stops "stop"
finish
