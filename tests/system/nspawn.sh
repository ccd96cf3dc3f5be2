#!/usr/bin/env bash
# The package installed and used as a user would, under a real systemd 252 as PID 1 with
# the real system dbus-daemon and polkitd (Debian 12 booted by systemd-nspawn, recipe in
# ../shared/TESTING.md): installed, not enabled; enable --now with a partition for the
# container's CPUs; isoctl status; an unprivileged busctl call; a change refused, then
# granted by a polkit rules file; systemctl reload with a bad configuration keeps the
# daemon and the old partition; SIGKILL brings a restart with the originals kept; revert
# leaves no AllowedCPUs= and no isolatord drop-in; stop, then a bus call activates it;
# the boot line written for Debian's real update-grub and for kernel-install, and taken
# back by revert;
# journald has each message's priority; killing the system bus brings isolatord back on
# the new one owning its name; purge removes everything. The Debian tree is
# cached in CACHE_DIR; the package is built from the tracked files.
set -euo pipefail
: "${SOURCE_ROOT:?}" "${CACHE_DIR:?}"
. "$SOURCE_ROOT/tests/integration/lib-test.sh"

for tool in systemd-nspawn mmdebstrap nsenter dpkg-buildpackage git; do
  command -v "$tool" >/dev/null || { echo "needs $tool (tools/deps installs it)" >&2; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 77; }
for h in unified systemd; do
  [ -d "/sys/fs/cgroup/$h" ] || { echo "the nspawn recipe here needs the hybrid cgroup layout (/sys/fs/cgroup/$h)" >&2; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-nspawn-XXXXXX")
name="isolatord-sys-$$"
nspawn_pid= pid1=
cleanup() {
  if [ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null; then kill -RTMIN+4 "$pid1" 2>/dev/null || true; fi
  if [ -n "$nspawn_pid" ]; then
    for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$nspawn_pid" 2>/dev/null || true; sleep 0.5; kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  # nspawn split its cgroup into payload/ and supervisor/: the innermost go first.
  for h in unified systemd; do
    [ -d "/sys/fs/cgroup/$h/$name" ] && find "/sys/fs/cgroup/$h/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the package ---
mkdir "$work/src"
(cd "$SOURCE_ROOT" && git ls-files -z | tar --null -T - -c) | tar -x -C "$work/src"
(cd "$work/src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || { tail -30 "$work/build.log" >&2; fail "dpkg-buildpackage"; finish; }
deb=$(ls "$work"/isolatord_*_*.deb | head -1)

# --- the Debian 12 tree, cached ---
tree="$CACHE_DIR/bookworm"
# grub2-common and grub-pc-bin: Debian's update-grub and grub-mkconfig for the boot line.
packages="systemd,systemd-sysv,dbus,polkitd,libglib2.0-0,libjson-glib-1.0-0,libnl-3-200,zlib1g,libsystemd0,libudev1,bash-completion,util-linux,grub2-common,grub-pc-bin"
if [ "$(cat "$tree.stamp" 2>/dev/null)" != "$packages" ]; then
  rm -rf "$tree" "$tree.stamp"
  mkdir -p "$CACHE_DIR"
  mmdebstrap --variant=minbase --include="$packages" \
    --customize-hook='chroot "$1" useradd -m -u 1000 tester' \
    --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service' \
    bookworm "$tree" /etc/apt/sources.list.d/debian.sources >"$work/mmdebstrap.log" 2>&1 ||
    { tail -20 "$work/mmdebstrap.log" >&2; fail "mmdebstrap"; finish; }
  echo "$packages" >"$tree.stamp"
fi

# --- boot it: nspawn from a cgroup of its own (TESTING.md), the tree read-only under an overlay ---
mkdir -p "/sys/fs/cgroup/unified/$name" "/sys/fs/cgroup/systemd/$name"
sh -c 'echo $$ >"/sys/fs/cgroup/unified/$1/cgroup.procs" && echo $$ >"/sys/fs/cgroup/systemd/$1/cgroup.procs" &&
       SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec setsid systemd-nspawn -D "$2" -M "$1" -b --register=no --keep-unit \
         --console=read-only --volatile=overlay --private-network --capability=CAP_IPC_LOCK' \
  sh "$name" "$tree" >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 200); do
  for p in $(pgrep -x systemd); do
    grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$p/status" 2>/dev/null && grep -qx "$name" "/proc/$p/root/etc/hostname" 2>/dev/null && pid1=$p
  done
  [ -n "$pid1" ] && break
  for p in $(pgrep -P "$nspawn_pid" -x systemd); do pid1=$p; done
  [ -n "$pid1" ] && break
  sleep 0.1
done
checks=$((checks + 1))
[ -n "$pid1" ] || { cat "$work/console.log" >&2; fail "the container did not boot"; finish; }
inside() { nsenter -t "$pid1" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
as_tester() { inside setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=/home/tester "$@"; }
for _ in $(seq 100); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case $state in running|degraded) break;; esac
  sleep 0.2
done
expect_eq "systemd is up in the container" "True" "$(case $state in running|degraded) echo True;; *) echo "False ($state)";; esac)"

# --- installed, not enabled ---
cp "$deb" "/proc/$pid1/root/tmp/isolatord.deb"
expect_exit 0 "dpkg -i" -- inside dpkg -i /tmp/isolatord.deb
expect_exit 1 "installed, not enabled" -- inside systemctl is-enabled isolatord
expect_exit 3 "installed, not started" -- inside systemctl is-active isolatord

# --- the seed's partition does not fit two CPUs: inactive, saying why, changing nothing ---
expect_exit 0 "started with the shipped configuration" -- inside systemctl start isolatord
expect_exit 0 "isoctl status" -- inside isoctl status --json
expect_in "inactive on a machine the partition does not fit" '"state":"inactive"'
expect_exit 1 "isoctl verify" -- inside isoctl verify
expect_in "the findings say why" "cpu-missing"
expect_exit 0 "system.slice untouched" -- inside systemctl show -p AllowedCPUs system.slice
expect_eq "no AllowedCPUs= written" "AllowedCPUs=" "$out"
expect_exit 0 "no original saved" -- inside sh -c 'test ! -s /run/isolatord/originals && echo none'
expect_exit 0 "stopped again" -- inside systemctl stop isolatord
expect_exit 0 "the exposure score of the unit, as systemd-analyze prints it here" -- \
  inside systemd-analyze security --no-pager isolatord.service
exposure=$(sed -n 's/.*Overall exposure level for isolatord.service: \([0-9.]*\).*/\1/p' <<<"$out")
echo "exposure of isolatord.service here: $exposure" >&2
expect_eq "exposure below the first unit's 3.1" "True" "$(awk -v e="$exposure" 'BEGIN { print (e != "" && e < 3.1) ? "True" : "False" }')"

# --- a partition for the container's CPUs, enabled ---
cpus=$(inside nproc)
checks=$((checks + 1))
[ "$cpus" -ge 2 ] || { fail "the container has $cpus CPU(s); the test needs 2"; finish; }
cat >"/proc/$pid1/root/etc/isolatord/isolatord.conf" <<'CONF'
[Partition]
Housekeeping=0

[Group audio]
CPUs=1
Slice=audio.slice
Match=/usr/local/bin/player

[Sampler]
Enabled=false
CONF
expect_exit 0 "isolatord --check-config" -- inside isolatord --check-config
expect_exit 0 "systemctl enable --now isolatord" -- inside systemctl enable --now isolatord
expect_exit 0 "active" -- inside systemctl is-active isolatord
expect_exit 0 "isoctl status" -- inside isoctl status
status_text=$out
echo "$status_text" >"${STATUS_OUT:-/dev/null}" 2>/dev/null || true
expect_in "status names the partition" "audio"
expect_exit 0 "system.slice on housekeeping" -- inside systemctl show -p AllowedCPUs system.slice
expect_in "AllowedCPUs of system.slice" "AllowedCPUs=0"
expect_exit 0 "audio.slice on its CPU" -- inside systemctl show -p AllowedCPUs audio.slice
expect_in "AllowedCPUs of audio.slice" "AllowedCPUs=1"
expect_exit 0 "the drop-in for this machine" -- inside cat /etc/systemd/system/system.slice.d/50-isolatord.conf
expect_in "the drop-in's CPUs" "AllowedCPUs=0"

# --- a workload of another user, trusted by its executable, placed ---
cp "/proc/$pid1/root/usr/bin/sleep" "/proc/$pid1/root/usr/local/bin/player"
inside setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'exec /usr/local/bin/player 600 </dev/null >/dev/null 2>&1 &'
sleep 0.3
expect_exit 0 "a full pass" -- inside isoctl apply # no proc connector in a container: the pass places it
expect_exit 0 "isoctl workloads" -- inside isoctl workloads
expect_in "the user's player placed in its group" "player"
expect_exit 0 "its CPU" -- inside sh -c 'for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = player ] && grep "^Cpus_allowed_list" "$p/status"; done; true'
expect_match "on the group's CPU" "^Cpus_allowed_list:[[:space:]]+1$"

# --- the sampler under the unit: its memory locked (the container has CAP_IPC_LOCK) ---
expect_exit 0 "isoctl sampler start" -- inside isoctl sampler start
expect_exit 0 "status with the sampler" -- inside isoctl status --json
expect_in "the sampler runs" '"sampler_running":true'
expect_in "its memory is locked, and the status says so" '"sampler_memory":"locked"'
expect_exit 0 "isoctl sampler stop" -- inside isoctl sampler stop

# --- users: reads open, changes refused until polkit grants them ---
expect_exit 0 "busctl as an unprivileged user" -- \
  as_tester busctl --system get-property org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 State
expect_exit 3 "a change by the user is refused" -- as_tester isoctl apply
cat >"/proc/$pid1/root/etc/polkit-1/rules.d/50-isolatord-tester.rules" <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id == "org.rtaudio.isolator.manage" && subject.user == "tester")
        return polkit.Result.YES;
});
RULES
granted=1
for _ in $(seq 50); do as_tester isoctl apply >/dev/null 2>&1 && { granted=0; break; }; sleep 0.2; done
expect_eq "granted by a polkit rules file" "0" "$granted"
expect_exit 3 "manage granted, the boot line still is not (auth_admin, no agent)" -- as_tester isoctl boot-params --write
expect_in "refused by its own action" "org.rtaudio.isolator.boot-line"

# --- reload with a bad configuration: the daemon and the old partition stay ---
cp "/proc/$pid1/root/etc/isolatord/isolatord.conf" "$work/good.conf"
printf '[Partition]\nHousekeeping=nonsense\n' >"/proc/$pid1/root/etc/isolatord/isolatord.conf"
expect_exit 1 "systemctl reload says the configuration was refused" -- inside systemctl reload isolatord
expect_exit 0 "still active after a bad reload" -- inside systemctl is-active isolatord
expect_exit 0 "isoctl status after a bad reload" -- inside isoctl status --json
expect_in "the old partition stays" '"housekeeping":"0"'
expect_exit 0 "the journal says why" -- inside journalctl -u isolatord --no-pager
expect_in "the refusal in the journal" "reload refused, the old configuration stays"
cp "$work/good.conf" "/proc/$pid1/root/etc/isolatord/isolatord.conf"

# --- SIGKILL: restarted, the originals kept ---
before=$(inside systemctl show -p MainPID --value isolatord)
expect_exit 0 "SIGKILL" -- inside systemctl kill -s KILL isolatord
restarted=1
for _ in $(seq 100); do
  now=$(inside systemctl show -p MainPID --value isolatord 2>/dev/null || echo 0)
  if [ "$now" != 0 ] && [ "$now" != "$before" ] && inside systemctl is-active -q isolatord; then restarted=0; break; fi
  sleep 0.1
done
expect_eq "restarted after SIGKILL" "0" "$restarted"
expect_exit 0 "the originals survive the crash" -- inside cat /run/isolatord/originals
expect_in "the original of system.slice kept" "@cpuset systemd system.slice"

# --- the system bus killed: isolatord exits, and its Restart= brings it back on the new
# bus (dbus.socket starts a new dbus-daemon at its first connection) owning its name ---
before=$(inside systemctl show -p MainPID --value isolatord)
expect_exit 0 "SIGKILL the system bus" -- inside systemctl kill -s KILL dbus.service
back=1
for _ in $(seq 150); do
  now=$(inside systemctl show -p MainPID --value isolatord 2>/dev/null || echo 0)
  if [ "$now" != 0 ] && [ "$now" != "$before" ] && inside busctl --system status org.rtaudio.Isolator >/dev/null 2>&1; then
    back=0; break
  fi
  sleep 0.2
done
expect_eq "isolatord back on the new bus, owning its name" "0" "$back"
expect_exit 0 "the journal says why it left" -- inside journalctl -u isolatord --no-pager
expect_in "the bus lost, said" "the connection to the system bus is lost: exiting"
expect_exit 0 "isoctl status on the new bus" -- inside isoctl status --json
expect_in "the partition held again" '"housekeeping":"0"'

# --- revert: no AllowedCPUs=, no drop-in ---
expect_exit 0 "isoctl revert" -- inside isoctl revert
expect_exit 0 "system.slice after revert" -- inside systemctl show -p AllowedCPUs system.slice
expect_eq "no AllowedCPUs= after revert" "AllowedCPUs=" "$out"
expect_exit 0 "drop-ins after revert" -- inside sh -c 'ls /etc/systemd/system/*.d/50-isolatord.conf 2>/dev/null | wc -l'
expect_eq "no isolatord drop-in after revert" "0" "$out"

# --- stopped, then a bus call activates it ---
expect_exit 0 "systemctl stop" -- inside systemctl stop isolatord
expect_exit 0 "a bus call activates it" -- \
  inside busctl --system call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus
expect_exit 0 "active again" -- inside systemctl is-active isolatord

# --- the boot line, written for the bootloader and taken back: Debian's own update-grub,
# then systemd's kernel-install, each run by isolatord-bootline@.service ---
bootline_start=$(date +%s.%N)
# A kernel for the bootloaders to list. grub-probe cannot name the block device of a
# container's overlay root ("failed to get canonical path of overlay"): it is diverted
# to a stand-in that answers for a plain ext4 partition; grub-mkconfig, /etc/grub.d,
# update-grub and grub-script-check are Debian's.
cat >"/proc/$pid1/root/tmp/grub-probe" <<'SH'
#!/bin/sh
target=
while [ $# -gt 0 ]; do
  case $1 in --target=*) target=${1#--target=};; -t) shift; target=$1;; --device) shift;; esac
  shift
done
case $target in
  device) echo /dev/vda1;; fs) echo ext2;; fs_uuid) echo 0c0ffee0-0000-4000-8000-000000000001;;
  partmap) echo msdos;; drive) echo "(hd0,msdos1)";; compatibility_hint) echo hd0,msdos1;;
  abstraction|hints_string|partuuid|fs_label|cryptodisk_uuid) ;;
  *) exit 1;;
esac
SH
expect_exit 0 "a kernel, grub-probe diverted, a first grub.cfg" -- inside sh -ec '
  echo kernel >/boot/vmlinuz-6.1.0-test; echo initrd >/boot/initrd.img-6.1.0-test
  dpkg-divert --quiet --local --rename --add /usr/sbin/grub-probe
  install -m 755 /tmp/grub-probe /usr/sbin/grub-probe
  mkdir -p /boot/grub; update-grub'
expect_exit 1 "isoctl boot-params before" -- inside isoctl --no-color boot-params
expect_in "GRUB recognised" "Bootloader:  grub"
expect_in "the next boot lacks the line" "Next boot:   lacks required parameters"
# (exit 1: the container's kernel lacks the line)
bootline=$(inside isoctl boot-params --json | sed -n 's/.*"required_line":"\([^"]*\)".*/\1/p' || true)
out=$bootline
expect_match "the line the partition needs" "^isolcpus=managed_irq,domain,1 nohz_full=1 .*nosoftlockup$"
expect_exit 0 "isoctl boot-params --write (GRUB)" -- inside isoctl boot-params --write
expect_in "written and update-grub run" "to /etc/default/grub.d/isolatord.cfg and ran update-grub"
expect_exit 0 "the generated grub.cfg" -- inside grep -E '^[[:space:]]*linux[[:space:]]' /boot/grub/grub.cfg
expect_match "the default entry carries the line (real update-grub)" "^[[:space:]]*linux[[:space:]]+/boot/vmlinuz-6.1.0-test root=/dev/vda1 ro +$bootline\$"
expect_match "the recovery entry does not" "ro single( |\$)"
expect_exit 0 "the recovery entry's line" -- inside sh -c "grep -E 'linux.* single' /boot/grub/grub.cfg"
expect_not_in "no isolcpus in recovery" "isolcpus"
expect_exit 0 "isolatord-bootline@write.service ran it" -- inside journalctl -u isolatord-bootline@write.service --no-pager
expect_in "update-grub's own words in its journal" "Generating grub configuration file"
expect_exit 1 "isoctl boot-params after" -- inside isoctl --no-color boot-params
expect_in "the next boot has it" "Next boot:   has the required line"
expect_exit 0 "the helper's unit, analysed" -- inside systemd-analyze security --no-pager isolatord-bootline@write.service
echo "exposure of isolatord-bootline@.service here: $(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")" >&2
expect_exit 0 "isoctl revert takes it back" -- inside isoctl revert
expect_exit 0 "no snippet" -- inside sh -c 'test ! -e /etc/default/grub.d/isolatord.cfg && echo gone'
expect_exit 0 "grub.cfg again (update-grub ran again)" -- inside cat /boot/grub/grub.cfg
expect_not_in "no line in grub.cfg after revert" "nohz_full"
expect_exit 0 "isolatord-bootline@revert.service ran" -- inside journalctl -u isolatord-bootline@revert.service --no-pager
expect_in "and said so" "is removed; update-grub ran"

# kernel-install (systemd-boot's way on Debian 12): GRUB gone, an entry folder on /efi.
expect_exit 0 "a kernel-install layout" -- inside sh -ec '
  rm -rf /boot/grub
  mkdir -p "/efi/loader/entries" "/efi/$(cat /etc/machine-id)"
  kernel-install add 6.1.0-test /boot/vmlinuz-6.1.0-test /boot/initrd.img-6.1.0-test'
expect_exit 0 "isoctl boot-params --write (kernel-install)" -- inside isoctl boot-params --write
expect_in "written and kernel-install run" "to /etc/kernel/cmdline and ran kernel-install"
expect_exit 0 "/etc/kernel/cmdline" -- inside cat /etc/kernel/cmdline
expect_in "the line in /etc/kernel/cmdline" "$bootline"
expect_exit 0 "the entry kernel-install wrote" -- inside sh -c 'cat /efi/loader/entries/*-6.1.0-test.conf'
expect_match "the entry's options carry the line (real kernel-install)" "^options .*$bootline"
expect_exit 0 "isoctl revert" -- inside isoctl revert
expect_exit 0 "no /etc/kernel/cmdline (there was none)" -- inside sh -c 'test ! -e /etc/kernel/cmdline && echo gone'
expect_exit 0 "the entry again" -- inside sh -c 'cat /efi/loader/entries/*-6.1.0-test.conf'
expect_not_in "the entry without the line" "nohz_full"
bootline_seconds=$(awk -v a="$bootline_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "the boot line's part of this test took ${bootline_seconds} s" >&2

# --- the journal has each message's priority ---
expect_exit 0 "journalctl -u isolatord" -- inside journalctl -u isolatord -o json --no-pager
expect_eq "notice or info messages" "True" "$(grep -q '"PRIORITY":"6"' <<<"$out" && echo True || echo False)"
expect_eq "warnings at warning priority" "True" "$(grep -q '"PRIORITY":"4"' <<<"$out" && echo True || echo False)"
expect_not_in "no raw <N> prefix in a message" '"MESSAGE":"<'

# --- purge removes everything ---
expect_exit 0 "dpkg --purge" -- inside dpkg --purge isolatord
for f in /usr/sbin/isolatord /usr/bin/isoctl /lib/systemd/system/isolatord.service /etc/isolatord \
         /usr/share/dbus-1/system.d/org.rtaudio.Isolator.conf /usr/share/polkit-1/actions/org.rtaudio.isolator.policy; do
  checks=$((checks + 1))
  inside test -e "$f" && fail "$f is still there after purge"
done
expect_exit 0 "drop-ins after purge" -- inside sh -c 'ls /etc/systemd/system/*.d/50-isolatord.conf 2>/dev/null | wc -l'
expect_eq "no drop-in after purge" "0" "$out"
expect_exit 0 "the boot line's folder after purge" -- inside sh -c 'test ! -e /var/lib/isolatord/bootline && echo gone'
expect_exit 0 "the helper after purge" -- inside sh -c 'test ! -e /usr/libexec/isolatord && echo gone' 
finish
