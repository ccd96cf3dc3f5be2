# shellcheck shell=bash
# Debian 12's PREEMPT_RT kernel in QEMU, for the VM test and the VM benchmark (recipe in
# ../shared/TESTING.md): the package built from the tree, a cached image, a per-run
# copy-on-write disk, boots with a given kernel line, and the two channels: QMP for the
# machine, qemu-guest-agent for commands in the guest. Needs SOURCE_ROOT and CACHE_DIR.
#
# Why the guest agent: its guest-exec gives each command's exit status and its output
# apart, with no login, no terminal and no prompt to parse, and it answers as soon as
# systemd has started it (about 30 s after power-on under TCG here); a serial shell would
# need a getty or a shell on the line and prompt matching that breaks on kernel messages
# printed to the same line, and ssh would need keys, a network and sshd in the image.
: "${SOURCE_ROOT:?}" "${CACHE_DIR:?}"
VM_DIR=$SOURCE_ROOT/tests/vm
VM_HK=0-1
VM_AUDIO=2-5
VM_AUDIO_LIST="2 3 4 5"
VM_SMP="6,sockets=1,cores=3,threads=2"
vm_started=$SECONDS
qemu_pid=
qemu_status=
vm_boots=0

vm_log() { printf '[%4d s] %s\n' $((SECONDS - vm_started)) "$*" >&2; }

# vm_require: every skip says why, and is declared in the test's meson entry.
vm_require() {
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (mmdebstrap, mkfs.ext4 -d of a root-owned tree)"; exit 77; }
  local tool
  for tool in qemu-system-x86_64 qemu-img mmdebstrap mkfs.ext4 python3 git; do
    command -v "$tool" >/dev/null || { echo "SKIP: needs $tool (tools/deps installs it)"; exit 77; }
  done
  if [ -z "${ISOLATORD_DEB:-}" ]; then
    command -v dpkg-buildpackage >/dev/null || { echo "SKIP: needs dpkg-buildpackage (tools/deps installs it)"; exit 77; }
  fi
}

# vm_work: a private folder under TMPDIR; the disk goes at exit, the logs stay on failure.
vm_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-vm-XXXXXX")
  qmp=$work/qmp.sock qga=$work/qga.sock
  trap vm_cleanup EXIT
  trap 'exit 143' TERM INT # a timeout's SIGTERM still powers the guest off and cleans up
}
vm_cleanup() {
  local rc=$?
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    python3 "$VM_DIR/qemu.py" qmp "$qmp" quit >/dev/null 2>&1 || true
    for _ in $(seq 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$qemu_pid" 2>/dev/null || true
    sleep 0.5
    kill -KILL "$qemu_pid" 2>/dev/null || true
  fi
  rm -f "$work/disk.qcow2"
  if [ "$rc" -eq 0 ] && [ -z "${VM_KEEP:-}" ]; then rm -rf "$work"; else echo "the guest's logs: $work" >&2; fi
}

# vm_deb: $deb, built from the tracked files (as tests/system/nspawn.sh does), or
# ISOLATORD_DEB when iterating.
vm_deb() {
  if [ -n "${ISOLATORD_DEB:-}" ]; then
    deb=$ISOLATORD_DEB
    [ -r "$deb" ] || { echo "ISOLATORD_DEB=$deb is not readable" >&2; return 1; }
    return 0
  fi
  # The files of the tree as they are now: tracked ones not deleted, and new ones not yet
  # added (a change in progress builds as it stands; ignored build folders stay out).
  mkdir "$work/src"
  (cd "$SOURCE_ROOT" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | sort -zu | tar --null -T - -c) |
    tar -x -C "$work/src" || return 1
  if ! (cd "$work/src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
    tail -30 "$work/build.log" >&2
    return 1
  fi
  deb=$(ls "$work"/isolatord_*_*.deb | head -1)
  rm -rf "$work/src"
}

# vm_deb_depends DEB BASE: the package's run-time Depends missing from BASE (comma-separated),
# so that apt installs it in the guest without a network: a set of alternatives is met by
# any of its members in BASE, else by its first; versions dropped.
vm_deb_depends() {
  dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/([^)]*)//g; s/[[:space:]]//g' | grep -v '^$' |
    awk -v base=",$2," '{ n = split($0, alt, "|"); for (i = 1; i <= n; i++) if (index(base, "," alt[i] ",")) next; print alt[1] }' |
    sort -u | paste -sd, -
}

# vm_image: $image, the folder of base.raw, vmlinuz and initrd.img, cached in CACHE_DIR by
# the hash of mkimage.sh and the package list; an older image is removed when a new one is made.
vm_image() {
  local packages key
  packages="systemd,systemd-sysv,dbus,polkitd,udev,linux-image-rt-amd64,initramfs-tools,kmod,iproute2,procps,util-linux"
  packages+=",stress-ng,rtla,tuned,qemu-guest-agent"
  packages+=",$(vm_deb_depends "$deb" "$packages")"
  key=$( { cat "$VM_DIR/mkimage.sh"; echo "$packages"; } | sha256sum | cut -c1-16)
  image=$CACHE_DIR/image-$key
  mkdir -p "$CACHE_DIR"
  (
    flock 9
    [ -r "$image/base.raw" ] && exit 0
    find "$CACHE_DIR" -maxdepth 1 -name 'image-*' -type d -exec rm -rf {} +
    vm_log "building the Debian 12 image (cache key $key): $packages"
    "$VM_DIR/mkimage.sh" "$image" "$packages" >"$work/mkimage.log" 2>&1 ||
      { tail -30 "$work/mkimage.log" >&2; rm -rf "$image"; exit 1; }
  ) 9>"$CACHE_DIR/image.lock"
}

# vm_disk: this run's disk, a copy-on-write overlay of the cached image.
vm_disk() {
  qemu-img create -q -f qcow2 -b "$image/base.raw" -F raw "$work/disk.qcow2"
}

# vm_power_on N "KERNEL PARAMETERS": starts QEMU for boot N, its console in console-N.log.
# TCG, not KVM: this guest kernel hangs under KVM on these machines right after
# decompression (TESTING.md).
vm_power_on() {
  local n=$1 extra=$2
  rm -f "$qmp" "$qga"
  qemu-system-x86_64 -accel tcg -machine pc -smp "$VM_SMP" -m 2048 -display none -no-reboot -nic none \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "root=/dev/vda rw console=ttyS0 $extra" \
    -drive "file=$work/disk.qcow2,if=virtio,format=qcow2" \
    -serial "file:$work/console-$n.log" \
    -qmp "unix:$qmp,server=on,wait=off" \
    -global PIIX4_PM.disable_s3=0 \
    -audiodev none,id=snd0 \
    -chardev "socket,path=$qga,server=on,wait=off,id=qga0" \
    -device virtio-serial-pci,id=vser0 -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
    >"$work/qemu-$n.log" 2>&1 &
  qemu_pid=$!
  for _ in $(seq 100); do [ -S "$qga" ] && break; sleep 0.1; done
}

# vm_wait_agent: 0 once the guest agent answers (within 420 s); 1 when it does not, or
# when QEMU is gone (then $qemu_status is its exit status).
vm_wait_agent() {
  local deadline=$((SECONDS + 420))
  qemu_status=
  while [ "$SECONDS" -lt "$deadline" ]; do
    python3 "$VM_DIR/qemu.py" ping "$qga" --timeout 10 2>/dev/null && return 0
    if ! kill -0 "$qemu_pid" 2>/dev/null; then
      qemu_status=0
      wait "$qemu_pid" 2>/dev/null || qemu_status=$?
      return 1
    fi
  done
  echo "the guest agent did not answer within 420 s" >&2
  return 1
}

# vm_boot "KERNEL PARAMETERS": powers on and waits for the guest agent. QEMU itself
# killed by a signal while the guest boots (its TCG once segfaulted here in the guest's
# PCI enumeration, 1.4 s into a boot) is not the guest's doing: that boot is made again,
# once, and said; the crashed one's logs are kept beside.
vm_boot() {
  local extra=$1 n try
  vm_boots=$((vm_boots + 1))
  n=$vm_boots
  vm_log "boot $n: root=/dev/vda rw console=ttyS0 $extra"
  for try in 1 2; do
    vm_power_on "$n" "$extra"
    vm_wait_agent && break
    if [ "$try" -eq 1 ] && [ -n "$qemu_status" ] && [ "$qemu_status" -gt 128 ]; then
      vm_log "boot $n: QEMU itself died (exit $qemu_status, signal $((qemu_status - 128))) with the guest at:" \
        "$(tail -n 1 "$work/console-$n.log")"
      vm_log "boot $n: powering on again (its logs: console-$n-qemu-died.log, qemu-$n-qemu-died.log)"
      mv "$work/console-$n.log" "$work/console-$n-qemu-died.log"
      mv "$work/qemu-$n.log" "$work/qemu-$n-qemu-died.log"
      continue
    fi
    [ -n "$qemu_status" ] && echo "QEMU exited with status $qemu_status" >&2
    tail -n 30 "$work/console-$n.log" "$work/qemu-$n.log" >&2
    return 1
  done
  # Up to multi-user (or degraded): the agent starts before the rest of the boot ends.
  local state
  for _ in $(seq 240); do
    state=$(guest systemctl is-system-running 2>/dev/null)
    case $state in running|degraded) break;; esac
    sleep 0.5
  done
  vm_log "boot $n: up ($state)"
}

vm_poweroff() {
  local console=$work/console-$vm_boots.log lines start
  vm_log "power off"
  lines=$(wc -l <"$console" 2>/dev/null || echo 0)
  start=$SECONDS
  # The guest may be gone before its agent says how poweroff ended: do not wait long.
  GUEST_TIMEOUT=10 guest systemctl poweroff --no-block >/dev/null 2>&1 || true
  for _ in $(seq 1200); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$qemu_pid" 2>/dev/null; then
    python3 "$VM_DIR/qemu.py" qmp "$qmp" quit >/dev/null 2>&1 || kill -TERM "$qemu_pid"
    for _ in $(seq 100); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  # A slow shutdown passes, but says what the guest waited for: the work folder (and
  # its console) is removed when the test passes.
  if [ $((SECONDS - start)) -gt 60 ]; then
    vm_log "power off took $((SECONDS - start)) s; the console since it was asked:"
    tail -n +"$((lines + 1))" "$console" 2>/dev/null | tail -n 40 | sed 's/^/  | /' >&2 || true
  fi
}

# guest ARGV...: runs ARGV in the guest as root (GUEST_TIMEOUT, 120 s by default);
# its exit status, stdout and stderr are the command's own.
guest() { python3 "$VM_DIR/qemu.py" exec "$qga" --timeout "${GUEST_TIMEOUT:-120}" -- "$@"; }
guest_sh() { guest /bin/bash -c "$1"; }
guest_put() { python3 "$VM_DIR/qemu.py" put "$qga" "$@"; }
guest_spawn() { python3 "$VM_DIR/qemu.py" spawn "$qga" -- "$@"; }
guest_collect() { python3 "$VM_DIR/qemu.py" collect "$qga" "$1" --timeout "${2:-120}"; }
qmp_cmd() { python3 "$VM_DIR/qemu.py" qmp "$qmp" "$@"; }
qmp_wait() { python3 "$VM_DIR/qemu.py" qmp-wait "$qmp" "$@"; }
# json EXPR: evaluates EXPR on the JSON document on stdin (d)
json() { python3 "$VM_DIR/qemu.py" json "$1"; }

# The partition the guest runs: housekeeping 0-1 (one core, both threads), one group on
# the other two cores for a root-owned player at FIFO 70, the sampler on, and the shipped
# USB DAC rule (the controller above snd-usb-audio's devices: its IRQs on housekeeping,
# their threads at FIFO 85; the DAC is plugged through QMP, on the audiodev snd0).
vm_config() {
  cat <<EOF
[Partition]
Housekeeping=$VM_HK

[Group player]
CPUs=$VM_AUDIO
Slice=player.slice
Match=/usr/local/bin/player
SchedPolicy=fifo
SchedPriority=70

[Irq usb-dac]
Driver=snd-usb-audio
CPUs=housekeeping
ThreadPriority=85

[Sampler]
Enabled=true
EOF
}

# vm_install: the guest tools, the package (apt, offline), the configuration and a
# trusted player (a root-owned copy of sleep: the executable itself is what matches).
vm_install() {
  guest_put "$VM_DIR/guest-tools.sh" /usr/local/sbin/vmtest 0755 || return 1
  guest_put "$deb" /tmp/isolatord.deb || return 1
  vm_config >"$work/isolatord.conf"
  guest_put "$work/isolatord.conf" /tmp/isolatord.conf || return 1
  guest install -o root -g root -m 0755 /usr/bin/sleep /usr/local/bin/player || return 1
}
vm_install_package() {
  GUEST_TIMEOUT=300 guest env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/isolatord.deb
}
vm_install_config() { guest install -m 0644 /tmp/isolatord.conf /etc/isolatord/isolatord.conf; }

# vm_boot_line: the line isolatord asks for, with the recommended parameters too.
# (isoctl exits 1 while a required one is missing: the answer is there all the same.)
vm_boot_line() {
  { guest isoctl boot-params --json || true; } | json 'd["full_line"]'
}
