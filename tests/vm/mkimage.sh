#!/usr/bin/env bash
# mkimage.sh OUT PACKAGES: a Debian 12 image for the VM test, no loop device needed
# (recipe in ../shared/TESTING.md). OUT/base.raw is the ext4 root file system, OUT/vmlinuz
# and OUT/initrd.img the RT kernel and the initramfs built inside the tree. PACKAGES is
# comma-separated. The caller keys the cache on this file's text and PACKAGES.
set -euo pipefail
out=$1 packages=$2
tree=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-vmtree-XXXXXX")
trap 'rm -rf "$tree"' EXIT
rmdir "$tree"

# The hooks, each for a reason:
# - timers that would wake a slow emulated machine in the middle of a measurement, masked;
# - tuned off: the test compares with it in the benchmark and starts it there itself (and
#   isolatord counts a running tuned as a conflict);
# - no getty on the console: the guest is driven through qemu-guest-agent;
# - a short stop timeout, so that a poweroff under TCG does not wait 90 s for a straggler;
# - a user of uid 1000, as on a desktop.
mmdebstrap --variant=minbase --include="$packages" \
  --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer serial-getty@ttyS0.service getty@tty1.service' \
  --customize-hook='chroot "$1" systemctl disable tuned.service' \
  --customize-hook='echo isovm >"$1/etc/hostname"; printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
  --customize-hook='mkdir -p "$1/etc/systemd/system.conf.d"; printf "[Manager]\nDefaultTimeoutStopSec=15s\n" >"$1/etc/systemd/system.conf.d/10-vmtest.conf"' \
  --customize-hook='chroot "$1" useradd -m -u 1000 tester' \
  bookworm "$tree" /etc/apt/sources.list.d/debian.sources

mkdir -p "$out"
cp "$tree"/boot/vmlinuz-* "$out/vmlinuz.new"
cp "$tree"/boot/initrd.img-* "$out/initrd.img.new"
rm -f "$out/base.raw.new"
truncate -s 3G "$out/base.raw.new"
mkfs.ext4 -q -F -L isovm -d "$tree" "$out/base.raw.new"
for f in vmlinuz initrd.img base.raw; do mv -f "$out/$f.new" "$out/$f"; done
chmod 0444 "$out/base.raw"
