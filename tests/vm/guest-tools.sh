#!/bin/bash
# The VM test's eyes inside the guest (installed there as /usr/local/sbin/vmtest): every
# answer comes from the kernel's own files (/proc, /sys, tracefs), never from isolatord.
# The guest has no Python; bash 5 gives $EPOCHREALTIME without a fork per reading.
#   vmtest snapshot                   kernel and systemd state the daemon may touch, "DOMAIN KEY VALUE"
#   vmtest snapshot-unit FILE         installs a oneshot that writes the snapshot to FILE before isolatord starts
#   vmtest irqs HK                    every IRQ: movable or refused by the kernel; exit 1 if a movable one is outside HK
#   vmtest procs HK                   processes of system.slice, user.slice, init.scope outside HK; exit 1 if any
#   vmtest load UNIT SECONDS CPUS     where the unit's tasks ran (stat field 39, sampled); exit 1 if on CPUS
#   vmtest place shell|service SLICE CPUS POLICY PRIO
#                                     starts /usr/local/bin/player, times exec to placed; exit 1 if never placed
#   vmtest new-irqs HK SECONDS        waits for IRQs that were not there at its start, then for them on HK
#   vmtest threads PID PATTERN        each matching thread: tid comm Cpus_allowed_list policy priority
#   vmtest osnoise CPUS SECONDS       the osnoise tracer and its noise tracepoints on CPUS; prints the trace
#   vmtest usb-state PRIO HK          the USB controller (above snd-usb-audio's devices, else every
#                                     xhci_hcd one): its IRQs, their affinity and irq/N threads, and the
#                                     other IRQ threads not at FIFO 50; exit 1 unless on HK at FIFO PRIO
#   vmtest usb-wait bound|unbound PRIO HK SECONDS
#                                     until a device is bound to snd-usb-audio (or none is) and the
#                                     controller's IRQ threads are SCHED_FIFO PRIO on HK; times it
set -u
export LC_ALL=C

# cpulist -> "0 1 4"
expand() {
  local part a b i out=()
  local -a parts
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    part=${part//[[:space:]]/}
    [ -z "$part" ] && continue
    if [[ $part == *-* ]]; then
      a=${part%-*} b=${part#*-}
      for ((i = a; i <= b; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[*]}"
}
# within LIST ALLOWED: every CPU of LIST is in ALLOWED (an empty LIST is not)
within() {
  local c allowed=" $(expand "$2") " list
  list=$(expand "$1")
  [ -n "$list" ] || return 1
  for c in $list; do [[ $allowed == *" $c "* ]] || return 1; done
}
# stat_fields PATH: the fields of a stat file after "(comm)", in array F; F[N-3] is field N
stat_fields() {
  local s
  { s=$(<"$1"); } 2>/dev/null || return 1
  read -ra F <<<"${s##*) }"
}
status_field() { sed -n "s/^$2:[[:space:]]*//p" "$1" 2>/dev/null; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# irq_names ARRAY: IRQ number -> the name /proc/interrupts gives its action
irq_names() {
  local -n map=$1
  local n rest
  while read -r n rest; do
    n=${n%:}
    [[ $n =~ ^[0-9]+$ ]] && map[$n]=${rest##* }
  done </proc/interrupts
}
is_kthread() { stat_fields "/proc/$1/stat" && (( (F[6] & 0x200000) != 0 )); }

cmd_snapshot() {
  local f n v d
  # IRQs by their action's name: a virtio device resumed from suspend frees its vectors and
  # asks for new ones, so the same queue comes back under another IRQ number. A name that
  # several IRQs share (i8042, ata_piix: legacy lines, whose numbers are fixed) keeps its number.
  local -A names count
  irq_names names
  for n in "${!names[@]}"; do count[${names[$n]}]=$(( ${count[${names[$n]}]:-0} + 1 )); done
  for d in /proc/irq/[0-9]*; do
    n=${d##*/}
    v=${names[$n]:-#$n}
    [ "${count[$v]:-0}" -gt 1 ] && v="$v#$n"
    echo "irq $v $(<"$d/smp_affinity_list")"
  done
  echo "irq default_smp_affinity $(</proc/irq/default_smp_affinity)"
  # Every writable sysctl of kernel.* and vm.*, but for the ones that change by themselves.
  # (one grep for all of them: a process per file costs seconds under TCG)
  find /proc/sys/kernel /proc/sys/vm -type f -perm -u+w 2>/dev/null |
    grep -vE '/random/|/ns_last_pid$|/drop_caches$|/compact_memory$|/stat_refresh$|/tainted$' | sort |
    xargs -d '\n' grep -Hs . | sed -E 's|^/proc/sys/([^:]*):[[:space:]]*|sysctl \1 |; s|[[:space:]]+| |g' |
    awk '{ k = $2; gsub("/", ".", k); $2 = k; print }'

  [ -r /sys/devices/virtual/workqueue/cpumask ] && echo "wq cpumask $(</sys/devices/virtual/workqueue/cpumask)"
  for f in /sys/bus/workqueue/devices/*/cpumask; do [ -r "$f" ] && echo "wq ${f%/cpumask} $(<"$f")"; done
  for f in /sys/devices/system/machinecheck/machinecheck*/check_interval; do [ -r "$f" ] && echo "mce $f $(<"$f")"; done
  [ -r /sys/kernel/mm/ksm/run ] && echo "ksm run $(</sys/kernel/mm/ksm/run)"
  [ -r /sys/kernel/mm/transparent_hugepage/enabled ] && echo "thp enabled $(</sys/kernel/mm/transparent_hugepage/enabled)"
  for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do [ -r "$f" ] && echo "governor $f $(<"$f")"; done
  for f in /sys/class/net/*/queues/*/[rx]ps_cpus; do [ -r "$f" ] && echo "rps $f $(cat "$f" 2>/dev/null)"; done
  # Kernel threads by name (an IRQ's thread without its IRQ number, as above); kworkers
  # come and go and are nobody's to restore; a name that several share keeps its pid.
  local -A seen
  local comm key lines=()
  for d in /proc/[0-9]*; do
    is_kthread "${d##*/}" || continue
    comm=$(<"$d/comm")
    case $comm in kworker/*) continue;; esac
    key=$comm
    [[ $comm =~ ^irq/[0-9]+-(.*)$ ]] && key="irq/${BASH_REMATCH[1]}"
    seen[$key]=$(( ${seen[$key]:-0} + 1 ))
    lines+=("$key ${d##*/} $(status_field "$d/status" Cpus_allowed_list) policy=${F[38]} prio=${F[37]}")
  done
  for v in "${lines[@]}"; do
    read -r key n rest <<<"$v"
    if [ "${seen[$key]}" -gt 1 ]; then echo "kthread $key#$n $rest"; else echo "kthread $key $rest"; fi
  done
  while read -r f; do
    d=${f%/cpuset.cpus}
    echo "cgroup ${d#/sys/fs/cgroup}/cpuset.cpus $(<"$f")"
    [ -r "$d/cpuset.cpus.partition" ] && echo "cgroup ${d#/sys/fs/cgroup}/cpuset.cpus.partition $(<"$d/cpuset.cpus.partition")"
  done < <(find /sys/fs/cgroup -maxdepth 2 -name cpuset.cpus | sort)
  for n in -.slice system.slice user.slice init.scope machine.slice; do
    echo "unit $n $(systemctl show -p AllowedCPUs -- "$n" 2>/dev/null)"
  done
  while read -r f; do
    echo "dropin $f $(md5sum <"$f" | cut -c1-12)"
  done < <(find /etc/systemd/system -path '*.d/*' -type f 2>/dev/null | sort)
}

cmd_snapshot_unit() {
  mkdir -p "$(dirname "$1")"
  cat >/etc/systemd/system/vmtest-snapshot.service <<EOF
[Unit]
Description=VM test: the state isolatord may change, before it starts
Before=isolatord.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c '/usr/local/sbin/vmtest snapshot >$1.new && mv $1.new $1'

[Install]
WantedBy=multi-user.target
EOF
  systemctl enable vmtest-snapshot.service
}

# Movable or refused: the kernel's own answer to writing an IRQ's affinity back unchanged
# (EIO for a managed IRQ or one that cannot be balanced).
cmd_irqs() {
  local hk=$1 d n smp eff name kind bad=0
  local -A names
  irq_names names
  for d in /proc/irq/[0-9]*; do
    n=${d##*/}
    smp=$(<"$d/smp_affinity_list")
    eff=$(<"$d/effective_affinity_list")
    name=${names[$n]:--}
    if (echo "$smp" >"$d/smp_affinity_list") 2>/dev/null; then kind=movable; else kind=refused; fi
    echo "$n $name $kind smp=$smp effective=${eff:-none}"
    if [ "$kind" = movable ] && [ -n "${names[$n]:-}" ] && ! within "${eff:-$smp}" "$hk"; then
      echo "OUTSIDE $n $name effective=$eff smp=$smp" >&2
      bad=1
    fi
  done
  return $bad
}

cmd_procs() {
  local hk=$1 d cg top cpus counted=0 bad=0 comm
  declare -A seen
  for d in /proc/[0-9]*; do
    cg=$(sed -n 's/^0:://p' "$d/cgroup" 2>/dev/null) || continue
    top=${cg#/}; top=${top%%/*}
    case $top in system.slice|user.slice|init.scope) ;; *) continue;; esac
    cpus=$(status_field "$d/status" Cpus_allowed_list)
    [ -n "$cpus" ] || continue
    comm=$(<"$d/comm") 2>/dev/null
    seen[$top]=$(( ${seen[$top]:-0} + 1 ))
    counted=$((counted + 1))
    if ! within "$cpus" "$hk"; then
      echo "OUTSIDE ${d##*/} $comm $cg Cpus_allowed_list=$cpus"
      bad=1
    fi
  done
  for top in init.scope system.slice user.slice; do echo "$top: ${seen[$top]:-0} processes"; done
  return $bad
}

cmd_load() {
  local unit=$1 seconds=$2 forbidden=" $(expand "$3") " end pid t bad=0
  declare -A hist
  end=$(( $(now_ms) + seconds * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    while read -r pid; do
      for t in /proc/"$pid"/task/*; do
        stat_fields "$t/stat" || continue
        hist[${F[36]}]=$(( ${hist[${F[36]}]:-0} + 1 ))
        if [[ $forbidden == *" ${F[36]} "* ]]; then
          echo "ON ${F[36]}: task ${t##*/} of $pid ($(<"$t/comm"))"
          bad=1
        fi
      done
    done <"/sys/fs/cgroup/system.slice/$unit/cgroup.procs"
    sleep 0.1
  done
  for t in "${!hist[@]}"; do echo "cpu$t: ${hist[$t]} readings"; done | sort
  echo "allowed: $(for pid in $(<"/sys/fs/cgroup/system.slice/$unit/cgroup.procs"); do status_field /proc/$pid/status Cpus_allowed_list; done | sort -u | tr '\n' ' ')"
  return $bad
}

# The player placed at exec: its cgroup, CPUs and policy as the kernel has them, polled
# from the moment it runs until all three are the group's.
cmd_place() {
  local mode=$1 slice=$2 cpus=$3 policy=$4 prio=$5 pid= t0 t cg aff pol first= placed=
  local want_policy
  case $policy in fifo) want_policy=1;; rr) want_policy=2;; *) want_policy=0;; esac
  t0=$(now_ms)
  if [ "$mode" = shell ]; then
    /usr/local/bin/player 600 </dev/null >/dev/null 2>&1 &
    pid=$!
  else
    systemd-run --quiet --unit=vmtest-player /usr/local/bin/player 600 || return 1
    pid=$(systemctl show -p MainPID --value vmtest-player)
  fi
  while [ $(( $(now_ms) - t0 )) -lt 30000 ]; do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/local/bin/player ] || { sleep 0.005; continue; }
    t=$(now_ms)
    cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
    aff=$(status_field "/proc/$pid/status" Cpus_allowed_list)
    stat_fields "/proc/$pid/stat"
    pol=${F[38]}:${F[37]}
    [ -n "$first" ] || first="cgroup=$cg cpus=$aff policy:prio=$pol after $((t - t0)) ms"
    if [[ $cg == /$slice/* ]] && [ "$aff" = "$cpus" ] && [ "$pol" = "$want_policy:$prio" ]; then
      placed=$((t - t0))
      break
    fi
    sleep 0.005
  done
  echo "pid=$pid"
  echo "first seen: $first"
  echo "last seen: cgroup=$cg cpus=$aff policy:prio=$pol"
  if [ -n "$placed" ]; then echo "placed_ms=$placed"; else echo "never placed within 30 s"; return 1; fi
}

cmd_new_irqs() {
  local hk=$1 seconds=$2 t0 d n appeared= pinned= all
  declare -A before
  for d in /proc/irq/[0-9]*; do before[${d##*/}]=1; done
  t0=$(now_ms)
  while [ $(( $(now_ms) - t0 )) -lt $((seconds * 1000)) ]; do
    local new=()
    for d in /proc/irq/[0-9]*; do [ -n "${before[${d##*/}]:-}" ] || new+=("${d##*/}"); done
    if [ ${#new[@]} -gt 0 ]; then
      [ -n "$appeared" ] || appeared=$(now_ms)
      all=1
      for n in "${new[@]}"; do
        within "$(<"/proc/irq/$n/effective_affinity_list")" "$hk" && within "$(<"/proc/irq/$n/smp_affinity_list")" "$hk" || all=0
      done
      # Settled: every new IRQ on housekeeping and no more coming for half a second.
      if [ $all = 1 ]; then
        if [ -z "$pinned" ]; then pinned=$(now_ms); count=${#new[@]}
        elif [ "$count" != ${#new[@]} ]; then pinned=
        elif [ $(( $(now_ms) - pinned )) -ge 500 ]; then break; fi
      else
        pinned=
      fi
    fi
    sleep 0.01
  done
  for n in "${new[@]}"; do
    echo "irq $n $(grep -E "^ *$n:" /proc/interrupts | awk '{print $NF}') smp=$(<"/proc/irq/$n/smp_affinity_list") effective=$(<"/proc/irq/$n/effective_affinity_list")"
  done
  [ -n "$appeared" ] || { echo "no new IRQ within $seconds s"; return 1; }
  echo "appeared_after_ms=$((appeared - t0))"
  [ -n "$pinned" ] || { echo "not all on $hk within $seconds s"; return 1; }
  echo "pinned_after_appearing_ms=$((pinned - appeared))"
}

cmd_threads() {
  local pid=$1 pattern=$2 t comm
  for t in /proc/"$pid"/task/*; do
    comm=$(<"$t/comm")
    [[ $comm == $pattern ]] || continue
    stat_fields "$t/stat"
    echo "${t##*/} $comm $(status_field "$t/status" Cpus_allowed_list) policy=${F[38]} prio=${F[37]}"
  done
}

# The osnoise tracer on CPUS with its noise tracepoints in the same buffer: the tracer's
# per-period lines count HW/NMI/IRQ/softirq/thread noise per CPU; the irq_noise,
# softirq_noise, thread_noise and nmi_noise events name each source.
cmd_osnoise() {
  local cpus=$1 seconds=$2 tr=/sys/kernel/tracing e
  mountpoint -q $tr || mount -t tracefs nodev $tr
  echo 0 >$tr/tracing_on
  echo nop >$tr/current_tracer
  echo >$tr/trace
  echo 4096 >$tr/buffer_size_kb
  echo "$cpus" >$tr/osnoise/cpus
  for e in irq_noise softirq_noise thread_noise nmi_noise; do echo 1 >"$tr/events/osnoise/$e/enable"; done
  echo osnoise >$tr/current_tracer
  echo 1 >$tr/tracing_on
  sleep "$seconds"
  echo 0 >$tr/tracing_on
  cat $tr/trace
  echo nop >$tr/current_tracer
  for e in irq_noise softirq_noise thread_noise nmi_noise; do echo 0 >"$tr/events/osnoise/$e/enable"; done
  echo >$tr/trace
}

# usb_controllers [any]: the PCI devices above the devices bound to snd-usb-audio (a USB
# DAC's host controller), as sysfs paths; with "any" and none bound, every xhci_hcd one.
usb_controllers() {
  local l p found=
  for l in /sys/bus/usb/drivers/snd-usb-audio/*; do
    [ -L "$l" ] || continue
    p=$(readlink -f "$l")
    while [[ $p == /sys/devices/* ]]; do
      if [[ ${p##*/} =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then
        [[ $found == *"$p"* ]] || found+="$p"$'\n'
        break
      fi
      p=${p%/*}
    done
  done
  if [ -z "$found" ] && [ "${1:-}" = any ]; then
    for l in /sys/bus/pci/drivers/xhci_hcd/0*; do [ -L "$l" ] && found+="$(readlink -f "$l")"$'\n'; done
  fi
  printf '%s' "$found"
}
# irq_threads MAP: the "irq/N-*" kernel threads, N -> "pid comm policy prio" (several joined by ";")
irq_threads() {
  local -n map=$1
  local d comm s n
  for d in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$d/comm" || continue
    [[ $comm =~ ^irq/([0-9]+)- ]] || continue
    n=${BASH_REMATCH[1]}
    read -r s 2>/dev/null <"$d/stat" || continue
    read -ra F <<<"${s##*) }"
    map[$n]="${map[$n]:+${map[$n]};}${d##*/} $comm ${F[38]} ${F[37]}"
  done
}
# usb_report any|dac PRIO HK: the controllers' IRQs and their threads, a line each, then the
# other IRQ threads not at SCHED_FIFO 50; exit 0 when there is a controller IRQ and every
# one is on HK (effective affinity) with each of its threads at SCHED_FIFO PRIO.
usb_report() {
  local which=$1 prio=$2 hk=$3 c n x ok=1 nirqs=0 others=0 pid comm pol pr smp eff list
  local -A threads mine
  local -a ts
  irq_threads threads
  list=$(usb_controllers "$which")
  while read -r c; do
    [ -n "$c" ] || continue
    echo "controller ${c##*/} driver=$(basename "$(readlink -f "$c/driver")")"
    for n in "$c"/msi_irqs/*; do
      [ -e "$n" ] || continue
      n=${n##*/}
      mine[$n]=1
      nirqs=$((nirqs + 1))
      read -r smp 2>/dev/null <"/proc/irq/$n/smp_affinity_list" || smp=gone
      read -r eff 2>/dev/null <"/proc/irq/$n/effective_affinity_list" || eff=gone
      within "${eff:-$smp}" "$hk" || ok=0
      [ -n "${threads[$n]:-}" ] || { echo "irq $n smp=$smp effective=$eff no thread"; ok=0; continue; }
      IFS=';' read -ra ts <<<"${threads[$n]}"
      for x in "${ts[@]}"; do
        read -r pid comm pol pr <<<"$x"
        echo "irq $n smp=$smp effective=$eff thread $comm pid=$pid policy=$pol prio=$pr"
        [ "$pol:$pr" = "1:$prio" ] || ok=0
      done
    done
  done <<<"$list"
  for n in "${!threads[@]}"; do
    [ -n "${mine[$n]:-}" ] && continue
    IFS=';' read -ra ts <<<"${threads[$n]}"
    for x in "${ts[@]}"; do
      read -r pid comm pol pr <<<"$x"
      if [ "$pol:$pr" = "1:50" ]; then others=$((others + 1)); else echo "other $comm pid=$pid policy=$pol prio=$pr"; fi
    done
  done
  echo "the other IRQ threads at SCHED_FIFO 50: $others"
  [ "$ok" = 1 ] && [ "$nirqs" -gt 0 ]
}

cmd_usb_state() { usb_report any "$1" "$2"; }

# From its start: when snd-usb-audio got a device (or lost its last one), then how long
# until the controller's IRQs were on HK with their threads at SCHED_FIFO PRIO.
cmd_usb_wait() {
  local mode=$1 prio=$2 hk=$3 seconds=$4 t0 seen= done= bound which=any
  [ "$mode" = bound ] && which=dac
  t0=$(now_ms)
  while [ $(( $(now_ms) - t0 )) -lt $((seconds * 1000)) ]; do
    bound=$(usb_controllers)
    if { [ "$mode" = bound ] && [ -n "$bound" ]; } || { [ "$mode" = unbound ] && [ -z "$bound" ]; }; then
      [ -n "$seen" ] || seen=$(now_ms)
      if usb_report "$which" "$prio" "$hk" >/dev/null; then done=$(now_ms); break; fi
    else
      seen=
    fi
    sleep 0.05
  done
  usb_report "$which" "$prio" "$hk"
  [ -n "$seen" ] || { echo "snd-usb-audio not $mode within $seconds s"; return 1; }
  echo "${mode}_after_ms=$((seen - t0))"
  [ -n "$done" ] || { echo "IRQ threads not at SCHED_FIFO $prio on $hk within $seconds s"; return 1; }
  echo "threads_after_${mode}_ms=$((done - seen))"
}

verb=${1:-}; shift || true
case $verb in
  snapshot) cmd_snapshot;;
  snapshot-unit) cmd_snapshot_unit "$@";;
  irqs) cmd_irqs "$@";;
  procs) cmd_procs "$@";;
  load) cmd_load "$@";;
  place) cmd_place "$@";;
  new-irqs) cmd_new_irqs "$@";;
  threads) cmd_threads "$@";;
  osnoise) cmd_osnoise "$@";;
  usb-state) cmd_usb_state "$@";;
  usb-wait) cmd_usb_wait "$@";;
  *) sed -n '2,/^set -u/p' "$0" | sed '$d' >&2; exit 2;;
esac
