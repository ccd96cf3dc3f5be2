#!/usr/bin/env bash
# Kin: what a placed player starts. A local user (uid 65534) whose program a placed
# player runs (a hook, run as the user) tries to keep the group's real-time, on a fake
# 2-CPU machine whose CPUs are this machine's, with real processes, isolatord running
# under valgrind's memcheck (or its own sanitizer in a sanitizer build):
# - threads started while isolatord withdraws the hook's real-time: one started right
#   after isolatord listed the hook's threads (isolatord held there with ptrace), and
#   chains of threads, each starting the next and ending, in four hooks: after a pass no
#   thread of a hook is at real-time;
# - clone(CLONE_PARENT) from a hook, so that the child's fork event names the placed
#   player as its parent: the child runs the hook's program, not the player's, and loses
#   the real-time it was born with at its fork event, without a pass; four hooks while
#   isolatord is busy (stopped), all born at real-time, and ten while it runs;
# - a player that daemonizes (it forks, the parent exits, the child runs on): the child
#   stays placed, and a revert gives it what the player had before isolatord placed it
#   (not SCHED_FIFO on the group's CPU), its cgroup included;
# - a placed player that drifted ends in the middle of a pass and a user's program takes
#   its pid (isolatord held between its walk of the placed processes and its reading of
#   the process table; clone3 set_tid standing in for cycling through pid_max): the
#   program gets nothing, and memcheck reports no invalid read or write (the pass once
#   used the placement it had freed).
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${PID_AT:?}" "${KIN_HOOK:?}" "${KIN_HOLD:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

py=/usr/bin/python3
if ! "$py" -c 'import os,sys; sys.exit(0 if {0,1} <= os.sched_getaffinity(0) else 1)' || [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (ptrace, clone3 set_tid, setuid), CPUs 0 and 1 and the proc connector (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
fi
# ISOLATORD_MEMCHECK=valgrind (meson: a build without sanitizer); empty: the daemon's own
# sanitizer reports a use after free.
memcheck=${ISOLATORD_MEMCHECK:-}
if [ "$memcheck" = valgrind ] && ! command -v valgrind >/dev/null; then
  echo "SKIP: valgrind is not installed (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
fi

work_start trust-kin
hq_machine 'isotest-pl*' VerifyIntervalSec=3600
# rt_threads PID...: the threads of the PIDs at SCHED_FIFO or SCHED_RR (policy: the 41st
# field of a task's stat), read by one awk: wait_for runs it often.
rt_threads() {
  local p f files=()
  for p in "$@"; do for f in /proc/"$p"/task/*/stat; do [ ! -e "$f" ] || files+=("$f"); done; done
  [ ${#files[@]} -gt 0 ] || return 0
  awk '{ sub(/.*\) /, "") } $39 == 1 || $39 == 2 { split(FILENAME, a, "/"); print a[5] }' "${files[@]}" 2>/dev/null | xargs
}
none_realtime() { [ -z "$(rt_threads "$@")" ]; }
# stop_all PID...: the section's processes go, so that each pass reads a short table.
stop_all() {
  local p
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
# expect_none_realtime DESCRIPTION PID...: within 5 s, no thread of the PIDs is at
# real-time; one check, that names the threads that are.
expect_none_realtime() {
  local what=$1; shift
  for _ in $(seq 500); do none_realtime "$@" && break; sleep 0.01; done
  expect_eq "$what" "" "$(rt_threads "$@")"
}
# memcheck_clean SECTION: memcheck reported no new invalid read or write during SECTION
# (it writes each error as it happens, once per place), so that a failure names where.
vg_seen=0
memcheck_clean() {
  [ "$memcheck" = valgrind ] || return 0
  local now; now=$(grep -cE "Invalid (read|write)" "$vglog" || true)
  checks=$((checks + 1))
  [ "$now" -eq "$vg_seen" ] || fail "memcheck, during $1: $((now - vg_seen)) invalid read(s) or write(s), the first:
$(awk -v n=$((vg_seen + 1)) '/Invalid (read|write)/ { c++ } c == n && k++ < 40' "$vglog")"
  vg_seen=$now
}

bin="$work/bin"; mkdir -p "$bin"
cp /bin/sleep "$bin/isotest-pl"
cp "$(readlink -f "$py")" "$bin/isotest-plpy"
home="$work/home"; mkdir -p "$home"; chown 65534:65534 "$home"
# The hooks are the players' children, not the test's: they hold the test's output open,
# so a test that stops half-way would keep meson waiting until its timeout. They go first.
trap 'pkill -KILL -f "^$home/" 2>/dev/null || true; for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done; bus_cleanup; rm -rf "$work"' EXIT
setpriv --reuid=65534 --regid=65534 --clear-groups cp "$KIN_HOOK" "$home/hook"
setpriv --reuid=65534 --regid=65534 --clear-groups cp /bin/sleep "$home/mine"
# player.py DIR N GAP PROGRAM ARG...: once placed (real-time), says so (DIR/placed) and
# waits for DIR/go; then runs PROGRAM N times as uid 65534, GAP seconds apart ("{i}" in
# an ARG is the run's number), writes their pids to DIR/hooks, and sleeps.
cat >"$work/player.py" <<'PY'
import os, signal, sys, time
d, n, gap, prog, args = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5:]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # CLONE_PARENT children are this one's
while os.sched_getscheduler(0) != os.SCHED_FIFO:
    time.sleep(0.01)
open(d + "/placed", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.01)
pids = []
for i in range(n):
    p = os.fork()
    if p == 0:
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        os.execv(prog, [prog] + [a.replace("{i}", str(i)) for a in args])
    pids.append(p)
    time.sleep(gap)
with open(d + "/hooks.tmp", "w") as f:
    f.write(" ".join(map(str, pids)))
os.rename(d + "/hooks.tmp", d + "/hooks")
time.sleep(600)
PY
# player DIR N GAP PROGRAM ARG...: a placed player that runs a user's program; $player.
player() {
  local d=$1; shift
  mkdir -m 777 "$d"
  "$bin/isotest-plpy" "$work/player.py" "$d" "$@" & player=$!; children+=("$player")
  wait_for "a player placed ($d)" test -e "$d/placed"
}

bus_start "$work/bus"
vglog="$work/valgrind.log"
if [ "$memcheck" = valgrind ]; then
  # As daemon_start, with the patience valgrind needs.
  valgrind --error-exitcode=99 --num-callers=30 --log-file="$vglog" \
    "$ISOLATORD" --root "$root" --config "$conf" --runtime-dir "$work/run" >>"$BUS_DIR/daemon.log" 2>&1 &
  DAEMON_PID=$!
  checks=$((checks + 1)); started=
  for _ in $(seq 600); do
    if bus_has_owner org.rtaudio.Isolator && "$ISOCTL" status >/dev/null 2>&1; then started=1; break; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$started" ] || { fail "isolatord did not start under valgrind: $(tail -20 "$BUS_DIR/daemon.log"; cat "$vglog")"; finish; }
else
  daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
fi

# --- a thread started while isolatord withdraws a hook's real-time ---
echo "-- ${SECONDS}s: a thread started while isolatord withdraws a hook's real-time" >&2
d="$work/spawn"
player "$d" 1 0 "$home/hook" spawn "$d"
# isolatord held at its first change of the hook's scheduling: it has listed the
# hook's threads by then.
"$KIN_HOLD" "$DAEMON_PID" setsched "$home/hook" "$d/held" "$d/release" >"$d/hold.out" 2>&1 & hold=$!; children+=("$hold")
wait_for "isolatord traced" grep -q attached "$d/hold.out"
touch "$d/go"
wait_for "isolatord held at its withdrawal of the hook's real-time" test -e "$d/held"
# isolatord can be held before the hook's first instruction writes its pid (exec events
# come at exec): the file is waited for, not assumed.
wait_for "the hook wrote its pid" test -s "$d/pid"
hook=$(cat "$d/pid")
touch "$d/spawn"
wait_for "the hook started a thread" test -s "$d/spawned"
tid=$(cat "$d/spawned")
expect_eq "that thread was born with the group's real-time" "[1] 1 10" "$(sched_of "$tid")"
touch "$d/release"
status=0; wait "$hold" || status=$?
expect_eq "isolatord let go ($(cat "$d/hold.out" | xargs))" "0" "$status"
wait_for "the withdrawal said" grep -q "process $hook, started by group hq, executed another program: real-time scheduling withdrawn" "$BUS_DIR/daemon.log"
expect_exit 1 "a full pass (the fake machine lacks boot parameters)" -- "$ISOCTL" verify
expect_eq "no thread of the hook keeps real-time" "" "$(rt_threads "$hook")"
expect_eq "the hook keeps the group's CPU (what it runs is the player's business)" "[1] 0 0" "$(sched_of "$hook")"
stop_all "$player" "$hook"
memcheck_clean "the held withdrawal"

# --- chains of threads that outrun a withdrawal, in four hooks ---
echo "-- ${SECONDS}s: chains of threads that outrun a withdrawal, in four hooks" >&2
d="$work/chain"
player "$d" 4 0.3 "$home/hook" chain 300 "$d/done{i}"
touch "$d/go"
wait_for "the hooks ran" test -s "$d/hooks"
for i in 0 1 2 3; do wait_for "hook $i's chains ended" test -s "$d/done$i"; done
hooks=$(cat "$d/hooks")
echo "chains: $(wc -w <<<"$(rt_threads $hooks)") thread(s) at real-time before a pass" >&2
expect_exit 1 "a full pass (the fake machine lacks boot parameters)" -- "$ISOCTL" verify
expect_eq "no thread of the four hooks keeps real-time after a pass" "" "$(rt_threads $hooks)"
stop_all "$player" $hooks
memcheck_clean "the thread chains"

# --- clone(CLONE_PARENT) from a hook, with isolatord busy ---
echo "-- ${SECONDS}s: clone(CLONE_PARENT) from a hook, with isolatord busy" >&2
d="$work/clone-busy"
player "$d" 4 0.05 "$home/hook" cloneparent "$d/child{i}"
kill -STOP "$DAEMON_PID"                 # its events wait in the socket meanwhile
touch "$d/go"
wait_for "the hooks ran" test -s "$d/hooks"
kids=""
for i in 0 1 2 3; do wait_for "hook $i cloned" test -s "$d/child$i"; kids="$kids $(cat "$d/child$i")"; done
children+=($kids)
born=0; for k in $kids; do [ "$(sched_of "$k")" = "[1] 1 10" ] && born=$((born + 1)); done
expect_eq "the four children were born at the group's real-time" "4" "$born"
expect_eq "their parent is the placed player" "$player $player $player $player" "$(for k in $kids; do ps -o ppid= -p "$k"; done | xargs)"
kill -CONT "$DAEMON_PID"
expect_none_realtime "no child of a hook keeps real-time, without a pass" $kids
expect_eq "nor does a hook" "" "$(rt_threads $(cat "$d/hooks"))"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads --json
for k in $kids; do expect_not_in "child $k is not listed as placed" "\"pid\":$k,"; done
stop_all "$player" $kids $(cat "$d/hooks")
memcheck_clean "CLONE_PARENT with isolatord busy"

# --- the same while isolatord runs (a race in the kernel's order of events) ---
echo "-- ${SECONDS}s: the same while isolatord runs (a race in the kernel's order of events)" >&2
d="$work/clone"
player "$d" 10 0.1 "$home/hook" cloneparent "$d/child{i}"
touch "$d/go"
wait_for "the hooks ran" test -s "$d/hooks"
kids=""
for i in $(seq 0 9); do wait_for "hook $i cloned" test -s "$d/child$i"; kids="$kids $(cat "$d/child$i")"; done
children+=($kids)
expect_none_realtime "none of ten children of hooks keeps real-time, without a pass" $kids
stop_all "$player" $kids $(cat "$d/hooks")
memcheck_clean "CLONE_PARENT with isolatord running"

# --- a placed player's pid reused in the middle of a pass ---
echo "-- ${SECONDS}s: a placed player's pid reused in the middle of a pass" >&2
"$bin/isotest-pl" 600 & victim=$!; children+=("$victim")
wait_for "a player placed" placed "$victim"
taskset -p 1 "$victim" >/dev/null       # drifted: the pass puts it back
d="$work/reuse"; mkdir "$d"
"$KIN_HOLD" "$DAEMON_PID" listdir /proc "$d/held" "$d/release" >"$d/hold.out" 2>&1 & hold=$!; children+=("$hold")
wait_for "isolatord traced" grep -q attached "$d/hold.out"
"$ISOCTL" verify >"$d/verify.out" 2>&1 & verify=$!; children+=("$verify")
wait_for "isolatord held at its reading of the process table" test -e "$d/held"
kill -KILL "$victim"; wait "$victim" 2>/dev/null || true
lines=$(grep -cx "$victim" "$slice/cgroup.procs" || true)
"$PID_AT" "$victim" 65534 "$home/mine" 600; stranger=$victim
expect_eq "a user's program has the player's pid" "65534 mine" "$(ps -o uid=,comm= -p "$stranger" | xargs)"
touch "$d/release"
status=0; wait "$hold" || status=$?
expect_eq "isolatord let go ($(cat "$d/hold.out" | xargs))" "0" "$status"
status=0; wait "$verify" || status=$?
expect_eq "the pass held ends (1: findings)" "1" "$status"
out=$(cat "$d/verify.out")
expect_match "it had found the player drifted before it was held" "^workload +$victim isotest-pl "
expect_exit 1 "another pass" -- "$ISOCTL" verify
expect_eq "the user's program has neither the group's CPU nor real-time" "[0, 1] 0 0" "$(sched_of "$stranger")"
expect_eq "nor was it written into the group's slice" "$lines" "$(grep -cx "$stranger" "$slice/cgroup.procs" || true)"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads --json
expect_not_in "it is not listed as placed" "\"pid\":$stranger,"
stop_all "$stranger"
memcheck_clean "the pid reused in a pass"

# --- a player that daemonizes ---
echo "-- ${SECONDS}s: a player that daemonizes" >&2
cat >"$work/daemonize.py" <<'PY'
import os, sys, time
while os.sched_getscheduler(0) != os.SCHED_FIFO:
    time.sleep(0.01)
if os.fork() == 0:
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(600)
    os._exit(0)
os._exit(0)
PY
"$bin/isotest-plpy" "$work/daemonize.py" "$work/daemonized" & forebear=$!; children+=("$forebear")
wait_for "the player forked" test -s "$work/daemonized"
child=$(cat "$work/daemonized"); children+=("$child")
wait "$forebear" 2>/dev/null || true
wait_for "the forebear's end handled" sh -c "! grep -q '^+.*@workload sched $forebear ' '$work/run/originals' || grep -q '^-.*@workload sched $forebear ' '$work/run/originals'"
expect_exit 1 "a full pass (the fake machine lacks boot parameters)" -- "$ISOCTL" verify
expect_eq "the child runs the player's program on: it keeps the group's CPU and real-time" "[1] 1 10" "$(sched_of "$child")"
# Where the player was before isolatord moved it: its cgroup on this machine.
was=$(sed -n 's/^0:://p' /proc/self/cgroup)
before=$(grep -cx "$child" "$root/sys/fs/cgroup${was%/}/cgroup.procs" || true)
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_eq "revert gives the child what the player had: no real-time, every CPU" "[0, 1] 0 0" "$(sched_of "$child")"
expect_eq "and its cgroup" "$((before + 1))" "$(grep -cx "$child" "$root/sys/fs/cgroup${was%/}/cgroup.procs" || true)"
stop_all "$child"
memcheck_clean "the daemonized player"

# --- memcheck ---
echo "-- ${SECONDS}s: memcheck" >&2
if [ "$memcheck" = valgrind ]; then
  kill -TERM "$DAEMON_PID"
  status=0; wait "$DAEMON_PID" || status=$?; DAEMON_PID=
  expect_eq "isolatord's exit under valgrind (99: memcheck reported an error)" "0" "$status"
  grep -E "ERROR SUMMARY" "$vglog" >&2 || true
  checks=$((checks + 1))
  grep -q "ERROR SUMMARY: 0 errors" "$vglog" || fail "memcheck reported:
$(cat "$vglog")"
else
  expect_daemon_stops "stop"
  checks=$((checks + 1))
  ! grep -q "ERROR: AddressSanitizer" "$BUS_DIR/daemon.log" || fail "the sanitizer reported: $(grep -A20 "ERROR: AddressSanitizer" "$BUS_DIR/daemon.log")"
fi
finish
