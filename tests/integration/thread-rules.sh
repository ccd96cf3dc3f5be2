#!/usr/bin/env bash
# [Thread] rules and SchedPolicy=keep with the test's own player (named-threads.c: threads
# that name themselves, one more on SIGUSR1, a rename on SIGUSR2), on a fake 2-CPU
# machine whose CPUs are this machine's (the group is CPU 1), through the proc connector:
# - rules: a player started before isolatord, whose threads set their own scheduling
#   (and one its own CPU), is placed by the start scan with each thread's rule (a rule's
#   policy within the group's, the group's for a thread no rule names); isoctl workloads
#   lists each thread with its rule; a thread started later gets its rule once it has
#   named itself, and a thread renamed gets the new name's rule, both with the periodic
#   verify an hour away (PROC_EVENT_COMM); each thread that had values of its own has
#   them saved; a reload that changes a rule moves its threads without counting drift; rules outside their group are refused by file, section and key by
#   --check-config and by a reload, which changes nothing; revert gives each thread its
#   own CPUs and scheduling, and a thread started later the process's;
# - keep: the threads' scheduling stays the player's own, at placement, for a thread
#   started later, and after the player changes one (a repairing verify leaves it),
#   while CPUs are still placed and repaired; no scheduling is saved; revert gives the
#   CPUs back and leaves the scheduling.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
: "${NAMED_THREADS:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

py=$ISOLATORD_PYTHON
require_root_cpus_0_1
if ! chrt -f 1 true 2>/dev/null; then
  echo "SKIP: real-time scheduling is refused here: a cgroup without rt runtime? (declared in meson: ISOLATORD_SKIP_DECLARED)"
  exit 77
fi

work_start thread-rules
root="$work/root"
cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$root"
conf="$work/isolatord.conf"
# The player: a trusted executable (root's, in root's folders) matching Match=.
bin="$work/bin"; mkdir -p "$bin"
cp "$NAMED_THREADS" "$bin/isotest-nt"

head='[Partition]
Housekeeping=0

[Sampler]
Enabled=false

[Daemon]
CgroupBackend=cgroupfs
VerifyIntervalSec=3600
'
rules="$head
[Group nt]
CPUs=1
Slice=nt.slice
Match=isotest-nt
SchedPolicy=fifo
SchedPriority=20

[Thread audio]
Group=nt
Match=nt-audio*;nt-late
SchedPolicy=fifo
SchedPriority=15

[Thread ctl]
Group=nt
Match=nt-ctl
CPUs=1
SchedPolicy=other
"

# state TID: "[CPUS] POLICY PRIORITY" of one thread, as the kernel has them.
state() { "$py" -c 'import os,sys; t=int(sys.argv[1]); print(sorted(os.sched_getaffinity(t)), os.sched_getscheduler(t), os.sched_getparam(t).sched_priority)' "$1"; }
has() { [ "$(state "$1" 2>/dev/null)" = "$2" ]; }
expect_state() { checks=$((checks + 1)); local s; s=$(state "$2" 2>&1 || true); [ "$s" = "$3" ] || fail "$1: thread $2 has $s, expected $3"; }
# player_start OUT ARGS...: the player, its pid in $player once it has named its threads.
player_start() {
  players_out=$1; shift
  "$bin/isotest-nt" "$@" >"$players_out" 2>&1 &
  player=$!; children+=("$player")
  wait_for "the player named its threads" grep -q '^ready' "$players_out"
}
tid_of() { awk -v n="$1" '$1 == n {print $2}' "$players_out"; }
# live_entries: the saved originals still live, one "KEY<TAB>VALUE" a line.
live_entries() {
  "$py" - "$work/run/originals" <<'PY'
import sys
live = {}
try:
    lines = open(sys.argv[1]).read().split("\n")
except FileNotFoundError:
    lines = []
for line in lines:
    f = line.split("\t")
    if len(f) == 3 and f[0] == "+": live.setdefault(f[1], f[2])
    elif len(f) >= 2 and f[0] == "-": live.pop(f[1], None)
for k, v in live.items(): print(f"{k}\t{v}")
PY
}

bus_start "$work/bus"

# --- rules: placed by the start scan, each thread by its own name ---
printf '%s' "$rules" >"$conf"
player_start "$work/rules.out" --own
main=$player audio=$(tid_of nt-audio) ctl=$(tid_of nt-ctl) misc=$(tid_of nt-misc)
expect_state "nt-audio's own, before isolatord" "$audio" "[0, 1] 1 7"
expect_state "nt-misc's own CPU, before isolatord" "$misc" "[0] 0 0"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
wait_for "the main thread: the group's (no rule names it)" has "$main" "[1] 1 20"
wait_for "nt-audio: rule audio's fifo 15" has "$audio" "[1] 1 15"
wait_for "nt-ctl: rule ctl's CPU and other" has "$ctl" "[1] 0 0"
wait_for "nt-misc: no rule, the group's" has "$misc" "[1] 1 20"
expect_eq "in the slice's cgroup.procs" "$main" "$(cat "$root/sys/fs/cgroup/nt.slice/cgroup.procs")"

expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads
expect_match "the process" "^nt +$main +isotest-nt +1 +fifo 20 "
expect_match "nt-audio with its rule" "^$main +$audio +nt-audio +audio +1 +fifo 15$"
expect_match "nt-ctl with its rule" "^$main +$ctl +nt-ctl +ctl +1 +other$"
expect_match "nt-misc with the group's" "^$main +$misc +nt-misc +- +1 +fifo 20$"
expect_in "counted" "1 placed process(es), 4 thread(s)"
expect_exit 0 "isoctl workloads --json" -- "$ISOCTL" workloads --json
json=$out
checks=$((checks + 1))
"$py" - "$json" "$audio" <<'PY' || fail "GetWorkloads' threads field: $json"
import json, sys
w = json.loads(sys.argv[1])[0]
t = {x["tid"]: x for x in w["threads"]}[int(sys.argv[2])]
assert (t["comm"], t["rule"], t["cpus"], t["policy"], t["priority"]) == ("nt-audio", "audio", "1", "fifo", 15), t
PY

# Each thread that had values of its own, and only those, has them saved.
entries=$(live_entries)
out=$entries
expect_match "nt-audio's own scheduling saved" "^@workload thread-sched $audio [0-9]+ isotest-nt	1 7$"
expect_match "nt-ctl's own scheduling saved" "^@workload thread-sched $ctl [0-9]+ isotest-nt	2 3$"
expect_match "nt-misc's own CPU saved" "^@workload thread-affinity $misc [0-9]+ isotest-nt	0$"
expect_not_in "nt-audio's CPUs are the process's" "thread-affinity $audio "
expect_match "the process's" "^@workload sched $main [0-9]+ isotest-nt	0 0$"

# --- a thread started later: its rule once it has named itself ---
kill -USR1 "$main"
wait_for "nt-late started" grep -q '^nt-late ' "$players_out"
late=$(tid_of nt-late)
wait_for "nt-late: rule audio's fifo 15, by its rename event" has "$late" "[1] 1 15"

# --- a thread renamed: the new name's rule ---
kill -USR2 "$main"
wait_for "renamed" grep -q '^renamed ' "$players_out"
wait_for "nt-ctl renamed nt-audio2: rule audio's fifo 15" has "$ctl" "[1] 1 15"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads
expect_match "listed under its new name and rule" "^$main +$ctl +nt-audio2 +audio +1 +fifo 15$"

# --- a reload that changes a rule: its threads follow, and that is not drift ---
drift() { "$ISOCTL" status --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["drift_corrections"])'; }
drift_before=$(drift)
printf '%s' "${rules/SchedPriority=15/SchedPriority=12}" >"$conf"
expect_exit 0 "reload with audio at fifo 12" -- "$ISOCTL" reload
wait_for "nt-audio follows its rule to fifo 12" has "$audio" "[1] 1 12"
expect_state "so does nt-audio2" "$ctl" "[1] 1 12"
expect_eq "no drift counted" "$drift_before" "$(drift)"
printf '%s' "$rules" >"$conf"
expect_exit 0 "reload back" -- "$ISOCTL" reload
wait_for "nt-audio back at fifo 15" has "$audio" "[1] 1 15"
expect_eq "still no drift counted" "$drift_before" "$(drift)"

# --- rules outside their group: refused by name, nothing changes ---
expect_exit 0 "--check-config lists the rules" -- "$ISOLATORD" --root "$root" --config "$conf" --check-config
expect_match "rule audio" "^audio +nt +nt-audio\* nt-late +the group's +fifo 15$"
expect_match "rule ctl" "^ctl +nt +nt-ctl +1 +other$"
bad="$work/bad.conf"
printf '%s\n[Thread wide]\nGroup=nt\nMatch=nt-misc\nCPUs=0-1\n' "$rules" >"$bad"
expect_exit 1 "--check-config refuses a rule's CPUs outside its group" -- \
  "$ISOLATORD" --root "$root" --config "$bad" --check-config
expect_in "named by file, section and key" "$bad: [Thread wide] CPUs=: CPU 0 is outside group nt's CPUs (1)"
printf '%s\n[Thread loud]\nGroup=nt\nMatch=nt-misc\nSchedPolicy=rr\nSchedPriority=30\n' "$rules" >"$bad"
expect_exit 1 "--check-config refuses a priority above the group's" -- \
  "$ISOLATORD" --root "$root" --config "$bad" --check-config
expect_in "named by file, section and key" "$bad: [Thread loud] SchedPriority=: 30 is above group nt's priority (20)"
cp "$bad" "$conf"
expect_exit 1 "a reload with that file is refused" -- "$ISOCTL" reload
expect_in "naming the rule" "[Thread loud] SchedPriority=: 30 is above group nt's priority (20)"
expect_in "as InvalidConfig" "org.rtaudio.Isolator1.Error.InvalidConfig"
printf '%s' "$rules" >"$conf"
expect_exit 0 "status" -- "$ISOCTL" status --json
expect_match "the partition still applied" '"state":"(active|degraded)"'
expect_state "nt-misc keeps the group's" "$misc" "[1] 1 20"

# --- revert: each thread its own, a thread started later the process's ---
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_state "the main thread back" "$main" "[0, 1] 0 0"
expect_state "nt-audio back to its own fifo 7" "$audio" "[0, 1] 1 7"
expect_state "nt-ctl (now nt-audio2) back to its own rr 3" "$ctl" "[0, 1] 2 3"
expect_state "nt-misc back to its own CPU 0" "$misc" "[0] 0 0"
expect_state "nt-late, started after placement, gets the process's" "$late" "[0, 1] 0 0"
expect_eq "no original left" "" "$(live_entries)"
expect_daemon_stops "stop"
kill "$player"; wait "$player" 2>/dev/null || true

# --- keep: the player's own scheduling, CPUs still placed ---
printf '%s' "$head
[Group nt]
CPUs=1
Slice=nt.slice
Match=isotest-nt
SchedPolicy=keep

[Thread audio]
Group=nt
Match=nt-audio*;nt-late
CPUs=1
" >"$conf"
player_start "$work/keep.out" --own --own-late
main=$player audio=$(tid_of nt-audio) ctl=$(tid_of nt-ctl) misc=$(tid_of nt-misc)
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
wait_for "the main thread on the group's CPU, its scheduling its own" has "$main" "[1] 0 0"
wait_for "nt-audio on its rule's CPU, its own fifo 7" has "$audio" "[1] 1 7"
wait_for "nt-ctl on the group's CPU, its own rr 3" has "$ctl" "[1] 2 3"
wait_for "nt-misc moved off its own CPU 0" has "$misc" "[1] 0 0"
expect_exit 0 "isoctl workloads" -- "$ISOCTL" workloads
expect_match "the process: no policy of the group's" "^nt +$main +isotest-nt +1 +- "
expect_match "nt-ctl as it scheduled itself" "^$main +$ctl +nt-ctl +- +1 +rr 3$"
out=$(live_entries)
expect_not_in "no scheduling saved" "sched "
expect_match "nt-misc's own CPU saved" "^@workload thread-affinity $misc [0-9]+ isotest-nt	0$"

kill -USR1 "$main"
wait_for "nt-late started" grep -q '^nt-late ' "$players_out"
late=$(tid_of nt-late)
wait_for "nt-late on the rule's CPU with its own fifo 5" has "$late" "[1] 1 5"
# The player changes a thread's scheduling, someone its CPUs: a repairing verify puts
# the CPUs back and leaves the scheduling.
chrt -f -p 9 "$audio"
taskset -p -c 0 "$audio" >/dev/null
# Exit 1: the fake machine's boot line lacks isolcpus and the rest (required findings).
expect_exit 1 "a repairing verify" -- "$ISOCTL" verify

expect_state "nt-audio's CPUs repaired, its own fifo 9 left" "$audio" "[1] 1 9"

expect_exit 0 "revert" -- "$ISOCTL" revert
expect_state "the main thread's CPUs back" "$main" "[0, 1] 0 0"
expect_state "nt-audio's CPUs back, its scheduling the player's" "$audio" "[0, 1] 1 9"
expect_state "nt-ctl's CPUs back, its scheduling the player's" "$ctl" "[0, 1] 2 3"
expect_state "nt-misc back on its own CPU 0" "$misc" "[0] 0 0"
expect_state "nt-late's CPUs the process's, its scheduling its own" "$late" "[0, 1] 1 5"
expect_daemon_stops "stop"

finish
