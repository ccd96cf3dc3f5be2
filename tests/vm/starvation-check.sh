# shellcheck shell=bash
# The starvation guard on a real kernel: a check for the VM test (tests/vm/vm.sh), run on
# the partitioned boot (isolcpus/nohz_full on the audio CPUs, isolatord active with a
# real-time group, so StarvationGuard=auto is on). Sourced, then called with the name of
# the function that runs a bash script in the guest as root and gives back its exit
# status and output (lib-vm.sh's guest_sh):
#
#   . "$SOURCE_ROOT/tests/vm/starvation-check.sh"
#   starvation_check guest_sh
#
# It uses lib-test.sh's checks (expect_eq, fail, checks), as vm.sh does.
#
# What it shows: with sched_rt_runtime_us=-1 and a SCHED_FIFO 99 busy loop pinned to an
# audio CPU, `cat /proc/sys/vm/stat_refresh` (which queues work on every CPU and waits
# for it: schedule_on_each_cpu) does not return while the guard is off, because the
# kworker of that CPU never runs; with the guard on it returns while the busy loop still
# runs, within StarvationSec plus a tick and the kworker's boost (plus one verify interval
# when the pool had to start a new worker, which the next pass finds), the boost counted,
# logged naming the kworker and the busy loop, and the kworker's own scheduling back
# afterwards. Every busy loop is bounded (timeout -s KILL) and killed by the check itself;
# sched_rt_runtime_us and the configuration are put back at the end, whatever happened.
#
# Times are not asserted beyond generous bounds: under TCG a guest is 10 to 50 times
# slower than a machine (TESTING.md).

STARVE_DROPIN=/etc/isolatord/isolatord.conf.d/50-starvation-check.conf
STARVE_HANG_SEC=15   # the guard off: still hung after this long shows the starvation
STARVE_OK_SEC=90     # the guard on: stat_refresh back within this long

# _starve_log TEXT: into the VM test's log (vm_log) where there is one, else stderr.
_starve_log() {
  if declare -F vm_log >/dev/null; then vm_log "starvation: $*"; else echo "starvation: $*" >&2; fi
}

# _starve GUEST SCRIPT: SCRIPT in the guest, its output on stdout, never failing the caller.
_starve() { "$1" "$2" 2>&1 || true; }

# The audio CPU the busy loop takes: the last isolated one (not a CPU the sampler's thread
# for the first would share with it under SMT either way: any audio CPU starves alike).
_starve_cpu() {
  _starve "$1" 'cut -d, -f1 /sys/devices/system/cpu/isolated | sed "s/.*-//"'
}

# _starve_hog GUEST CPU SECONDS: a SCHED_FIFO 99 busy loop on CPU, killed after SECONDS
# whatever happens (a killer of its own); prints its pid. The pid is written by the
# shell that becomes the loop (exec keeps it) before the loop starts: nothing is looked
# for in /proc once it spins (a pgrep loop here hung past the guest agent's timeout with
# sched_rt_runtime_us=-1). Its own scope in a slice of its own allowed that CPU alone: the
# guest agent's system.slice is held on housekeeping, where taskset -c CPU fails.
_starve_hog() {
  _starve "$1" "rm -f /tmp/starve-hog.pid
    setsid -f systemd-run --quiet --scope --slice=starvecheck.slice -p AllowedCPUs=$2 taskset -c $2 bash -c 'echo \$\$ >/tmp/starve-hog.pid; exec chrt -f 99 bash -c \"while :; do :; done\"' </dev/null >/dev/null 2>&1
    for _ in \$(seq 50); do [ -s /tmp/starve-hog.pid ] && break; sleep 0.1; done
    p=\$(cat /tmp/starve-hog.pid 2>/dev/null)
    [ -n \"\$p\" ] && setsid -f bash -c \"sleep $3; kill -KILL \$p\" </dev/null >/dev/null 2>&1
    echo \$p"
}

# _starve_ps GUEST: what runs on the audio CPUs and the hog, for a failure's log.
_starve_ps() {
  _starve "$1" "timeout 20 ps -eLo pid,tid,psr,cls,rtprio,stat,wchan:24,comm | awk 'NR == 1 || \$3 >= 2'" | head -60 >&2
}

# _starve_refresh GUEST: cat /proc/sys/vm/stat_refresh in the background, its start and
# end times (seconds since boot) in /tmp/stat_refresh.times when it returns.
# shellcheck disable=SC2016 # expanded in the guest
_starve_refresh() {
  _starve "$1" 'rm -f /tmp/stat_refresh.times
    setsid -f bash -c "s=\$(cut -d\" \" -f1 /proc/uptime); cat /proc/sys/vm/stat_refresh >/dev/null; e=\$(cut -d\" \" -f1 /proc/uptime); echo \$s \$e >/tmp/stat_refresh.times" </dev/null >/dev/null 2>&1'
}

# _starve_field GUEST KEY: a field of isoctl status --json
_starve_field() {
  _starve "$1" "isoctl status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"$2\"])'"
}

# _starve_wait GUEST SECONDS SCRIPT: polls SCRIPT each half second until it succeeds;
# 0 when it did.
_starve_wait() {
  local end=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$end" ]; do
    "$1" "$3" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

_starve_cleanup() {
  local g=$1 runtime=$2
  _starve "$g" "kill -KILL \$(cat /tmp/starve-hog.pid 2>/dev/null) 2>/dev/null; echo $runtime >/proc/sys/kernel/sched_rt_runtime_us
    rm -f $STARVE_DROPIN; isoctl reload" >/dev/null
}

starvation_check() {
  local g=$1 cpu runtime hog boosts times kworker line
  cpu=$(_starve_cpu "$g")
  runtime=$(_starve "$g" 'cat /proc/sys/kernel/sched_rt_runtime_us')
  checks=$((checks + 1))
  case $cpu in ''|*[!0-9]*) fail "starvation: no isolated CPU in the guest ($cpu)"; return;; esac
  expect_eq "starvation: the guard is on for a real-time group" "on" "$(_starve_field "$g" starvation_guard)"

  # --- the guard off: the kworker starves, stat_refresh hangs ---
  _starve "$g" "mkdir -p ${STARVE_DROPIN%/*}; printf '[Daemon]\nStarvationGuard=off\n' >$STARVE_DROPIN; isoctl reload" >/dev/null
  expect_eq "starvation: the guard off by the drop-in" "off: StarvationGuard=off" "$(_starve_field "$g" starvation_guard)"
  boosts=$(_starve_field "$g" boost_count)
  _starve "$g" 'echo -1 >/proc/sys/kernel/sched_rt_runtime_us' >/dev/null
  hog=$(_starve_hog "$g" "$cpu" $((STARVE_HANG_SEC + 10)))
  checks=$((checks + 1))
  case $hog in ''|*[!0-9]*) fail "starvation: the busy loop did not start ($hog)"; _starve_ps "$g"; _starve_cleanup "$g" "$runtime"; return;; esac
  sleep 1
  _starve_refresh "$g" >/dev/null
  sleep "$STARVE_HANG_SEC"
  times=$(_starve "$g" 'cat /tmp/stat_refresh.times 2>/dev/null')
  expect_eq "starvation: without the guard, stat_refresh still hangs after $STARVE_HANG_SEC s" "" "$times"
  expect_eq "starvation: nothing boosted with the guard off" "$boosts" "$(_starve_field "$g" boost_count)"
  _starve "$g" "kill -KILL $hog" >/dev/null
  checks=$((checks + 1))
  _starve_wait "$g" 30 'test -s /tmp/stat_refresh.times' ||
    fail "starvation: stat_refresh did not return once the busy loop was killed"

  # --- the guard on: the kworker boosted, stat_refresh returns while the loop runs ---
  _starve "$g" "rm -f $STARVE_DROPIN; isoctl reload" >/dev/null
  expect_eq "starvation: the guard on again" "on" "$(_starve_field "$g" starvation_guard)"
  hog=$(_starve_hog "$g" "$cpu" $((STARVE_OK_SEC + 30)))
  checks=$((checks + 1))
  case $hog in ''|*[!0-9]*) fail "starvation: the busy loop did not start again ($hog)"; _starve_cleanup "$g" "$runtime"; return;; esac
  sleep 1
  _starve_refresh "$g" >/dev/null
  checks=$((checks + 1))
  if _starve_wait "$g" "$STARVE_OK_SEC" 'test -s /tmp/stat_refresh.times'; then
    times=$(_starve "$g" 'cat /tmp/stat_refresh.times')
    _starve_log "stat_refresh returned in $(awk '{ printf "%.1f", $2 - $1 }' <<<"$times") s with the guard on"
  else
    fail "starvation: with the guard on, stat_refresh did not return within $STARVE_OK_SEC s"
    _starve_ps "$g"
    _starve "$g" 'journalctl -b -u isolatord -o cat --no-pager | tail -20' >&2
  fi
  checks=$((checks + 1))
  "$g" "kill -0 $hog" >/dev/null 2>&1 || fail "starvation: the busy loop ended before stat_refresh returned: nothing proven"
  checks=$((checks + 1))
  [ "$(_starve_field "$g" boost_count)" -gt "$boosts" ] 2>/dev/null || fail "starvation: no boost counted"
  line=$(_starve "$g" "journalctl -b -u isolatord -o cat --no-pager | grep -E '^kworker/$cpu:[0-9A-Za-z_-]+ \\(pid [0-9]+\\) was runnable on CPU $cpu' | tail -1")
  checks=$((checks + 1))
  case $line in
    *"behind bash (pid $hog, fifo 99): boosted with SCHED_DEADLINE"*) ;;
    *"behind bash (pid $hog, fifo 99): boosted with SCHED_FIFO"*) _starve_log "SCHED_DEADLINE was refused here: $line" ;;
    *) fail "starvation: no boost line naming kworker/$cpu:N and the busy loop: \"$line\"" ;;
  esac
  _starve_log "boosts counted: $boosts before, $(_starve_field "$g" boost_count) after; the journal: $line"
  kworker=$(sed -n 's/.*(pid \([0-9]*\)) was runnable.*/\1/p' <<<"$line")
  # Boosts last 3 s; once the work is done the kworker sleeps and is boosted no more.
  checks=$((checks + 1))
  [ -z "$kworker" ] || _starve_wait "$g" 15 "[ \"\$(cut -d' ' -f41 /proc/$kworker/stat)\" = 0 ]" ||
    fail "starvation: kworker pid $kworker did not get SCHED_OTHER back"
  _starve_cleanup "$g" "$runtime"
  expect_eq "starvation: sched_rt_runtime_us as it was" "$runtime" "$(_starve "$g" 'cat /proc/sys/kernel/sched_rt_runtime_us')"
}
