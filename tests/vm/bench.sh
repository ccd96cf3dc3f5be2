#!/usr/bin/env bash
# The same kernel side by side (meson test --benchmark): Debian 12's RT kernel in QEMU,
# booted with isolatord's line for the guest's partition (housekeeping 0-1, a group on
# 2-5), a stress-ng load on housekeeping, then per configuration the kernel's osnoise
# tracer on the group's CPUs for BENCH_SECONDS (15) with its noise tracepoints, so that
# the table gives per CPU how many IRQs, softirqs, threads and NMIs reached it, and which:
#   none                 isolatord reverted and stopped, tuned off
#   tuned                tuned's cpu-partitioning profile with isolated_cores=2-5
#   isolatord            isolatord active as configured (its latency sampler on 2-5)
#   isolatord-nosampler  isolatord active, its sampler stopped
# BENCH_RUNS (3) rounds, each in another order. Counts and sources, not microseconds:
# TCG distorts time. The table goes to stdout and TABLE_OUT.
set -euo pipefail
: "${SOURCE_ROOT:?}" "${CACHE_DIR:?}"
. "$SOURCE_ROOT/tests/vm/lib-vm.sh"
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-15}
configs=(none tuned isolatord isolatord-nosampler)

die() { echo "bench: $*" >&2; exit 1; }
vm_require
vm_work
vm_deb || die "dpkg-buildpackage of the tree failed"
vm_image || die "the Debian image could not be built"
vm_disk

# The user's way to the line: installed and enabled on a first boot, rebooted with it.
vm_boot "" || die "the guest did not boot"
vm_install || die "copying into the guest failed"
vm_install_package >"$work/apt.log" 2>&1 || die "apt-get install failed: $(tail -5 "$work/apt.log")"
vm_install_config || die "the configuration"
# The osnoise tracer measures here, and the kernel runs it or timerlat, not both: the
# sampler measures with isolatord's threads (Source=thread), as in the table's rows.
guest_sh 'mkdir -p /etc/isolatord/isolatord.conf.d && printf "[Sampler]\nSource=thread\n" >/etc/isolatord/isolatord.conf.d/40-thread.conf' ||
  die "the Source=thread drop-in"
guest systemctl enable --now isolatord >/dev/null 2>&1 || die "systemctl enable --now isolatord"
line=$(vm_boot_line)
vm_poweroff
vm_boot "$line" || die "the guest did not boot with $line"
vm_log "isolated: $(guest cat /sys/devices/system/cpu/isolated), nohz_full: $(guest cat /sys/devices/system/cpu/nohz_full)"

# The load, the same in every configuration: two CPU hogs held on housekeeping.
guest systemd-run --unit=bench-load.service stress-ng --cpu 2 --taskset "$VM_HK" >/dev/null ||
  die "stress-ng as a service"

# A guest whose agent stopped answering (seen twice in a dozen TCG runs, each time right
# after IRQ affinities changed under a full load) is powered off and booted again with the
# same line; the measurement it lost is reported as not measured.
restart_guest() {
  vm_log "the guest agent is gone: console: $(tail -2 "$work/console-$vm_boots.log" | tr '\n' ' ')"
  qmp_cmd quit >/dev/null 2>&1 || kill -TERM "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  vm_boot "$line" || die "the guest did not boot again"
  guest systemd-run --unit=bench-load.service stress-ng --cpu 2 --taskset "$VM_HK" >/dev/null 2>&1 ||
    die "stress-ng as a service"
}

to_none() {
  guest_sh 'if systemctl is-active -q isolatord; then isoctl revert && systemctl stop isolatord; fi
            if systemctl is-active -q tuned; then tuned-adm off; systemctl stop tuned; fi
            systemctl is-active -q isolatord tuned && exit 1; exit 0' >/dev/null
}
to_tuned() {
  to_none &&
    GUEST_TIMEOUT=300 guest_sh "printf 'isolated_cores=$VM_AUDIO\n' >/etc/tuned/cpu-partitioning-variables.conf &&
      systemctl start tuned && tuned-adm profile cpu-partitioning && tuned-adm active | grep -q cpu-partitioning" >/dev/null
}
to_isolatord() {
  to_none &&
    guest_sh 'systemctl start isolatord && isoctl status --json | grep -q "\"sampler_running\":true"' >/dev/null
}
to_isolatord-nosampler() { to_isolatord && guest isoctl sampler stop >/dev/null; }

# state CONFIG RUN: what each measurement ran with, from the kernel's files, for the log:
# the NMI watchdog, the workqueue mask, system.slice's CPUs, and each real-time thread on
# the group's CPUs (the sampler's) with its CPUs.
state() {
  guest_sh "echo \"nmi_watchdog=\$(cat /proc/sys/kernel/nmi_watchdog) wq=\$(cat /sys/devices/virtual/workqueue/cpumask)\" \
    \"system.slice=\$(cat /sys/fs/cgroup/system.slice/cpuset.cpus.effective)\" \
    \"irqs-off-housekeeping=\$(vmtest irqs $VM_HK 2>&1 >/dev/null | wc -l)\"
    for p in /proc/[0-9]*; do c=\$(cat \$p/comm 2>/dev/null); case \$c in iso-lat-*|isolatord) grep -H Cpus_allowed_list \$p/status;; esac; done
    pid=\$(systemctl show -p MainPID --value isolatord); [ \"\$pid\" != 0 ] && vmtest threads \$pid 'iso-lat-*'; true" 2>&1 |
    tr '\n' ' ' | sed "s/^/[$1 run $2] /" >&2
  echo >&2
}

tables=() missing=()
for ((run = 0; run < runs; run++)); do
  for ((i = 0; i < ${#configs[@]}; i++)); do
    config=${configs[$(((i + run) % ${#configs[@]}))]}
    vm_log "run $((run + 1)), $config"
    if ! "to_$config"; then
      vm_log "could not switch to $config: not measured"
      missing+=("$config run $((run + 1)): the switch failed")
      python3 "$VM_DIR/qemu.py" ping "$qga" --timeout 30 >/dev/null 2>&1 || restart_guest
      continue
    fi
    # Settle: what the switch itself set in motion is not measured.
    sleep 3
    state "$config" "$((run + 1))" || true
    trace=$work/trace-$config-$run.txt
    # Once more when the agent did not answer (125): the guest's housekeeping CPUs are loaded.
    for attempt in 1 2; do
      rc=0
      GUEST_TIMEOUT=$((seconds * 4 + 60)) guest vmtest osnoise "$VM_AUDIO" "$seconds" >"$trace" 2>"$trace.err" || rc=$?
      [ "$rc" -eq 125 ] || break
      vm_log "the agent did not answer ($(cat "$trace.err")); again"
    done
    if [ "$rc" -eq 0 ]; then
      tables+=("$config:$run:$trace")
    else
      vm_log "osnoise in $config: exit $rc: $(tail -3 "$trace.err")"
      missing+=("$config run $((run + 1)): osnoise exit $rc ($(tail -1 "$trace.err"))")
      [ "$rc" -eq 125 ] && restart_guest
    fi
  done
done
guest systemctl stop bench-load.service >/dev/null 2>&1 || true
vm_poweroff || true

{
  echo "Debian 12 linux-image-rt-amd64 $(sed -n 's/.*Linux version \([^ ]*\).*/\1/p' "$work/console-2.log" | head -1) under QEMU TCG, -smp $VM_SMP, $((vm_boots - 1)) boot(s) with the line"
  echo "boot line: $line"
  echo "load: stress-ng --cpu 2 --taskset $VM_HK (system.slice); osnoise on CPUs $VM_AUDIO, $seconds s a run, $runs runs per configuration in rotating order"
  echo
  python3 "$VM_DIR/osnoise-table.py" "${tables[@]}"
  for m in "${missing[@]}"; do echo "not measured: $m"; done
} | tee "${TABLE_OUT:-/dev/null}"
vm_log "elapsed: $((SECONDS - vm_started)) s"
# A configuration not measured every time is a benchmark that did not run whole.
[ ${#missing[@]} -eq 0 ]
