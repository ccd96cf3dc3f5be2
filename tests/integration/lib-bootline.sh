# shellcheck shell=bash
# Stand-ins for Debian's update-grub and kernel-install on a fake root, doing with the
# files isolatord writes what the real ones do: update-grub sources /etc/default/grub and
# grub.d/*.cfg as grub-mkconfig does and writes a grub.cfg of Debian's shape (a first
# entry, then per kernel a normal and a recovery one); kernel-install writes a BLS entry
# from /etc/kernel/cmdline as 90-loaderentry.install does. The real ones run in
# tests/system/nspawn.sh. Each finds its root from where it lies (ROOT/usr/sbin/...).

# add_machine ROOT: a machine-id and a kernel with its initrd in /boot.
add_machine() {
  mkdir -p "$1/etc" "$1/boot" "$1/usr/sbin" "$1/usr/bin"
  echo 0123456789abcdef0123456789abcdef >"$1/etc/machine-id"
  echo kernel >"$1/boot/vmlinuz-6.1.0-test"
  echo initrd >"$1/boot/initrd.img-6.1.0-test"
}

# add_grub ROOT: /etc/default/grub, the stand-in update-grub, and a first grub.cfg.
add_grub() {
  local r=$1
  mkdir -p "$r/etc/default/grub.d" "$r/boot/grub"
  printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n' >"$r/etc/default/grub"
  cat >"$r/usr/sbin/update-grub" <<'SH'
#!/bin/sh
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
[ ! -e "$root/fail-update-grub" ] || { echo "grub-probe: error: failed to get canonical path" >&2; exit 1; }
. "$root/etc/default/grub"
for x in "$root"/etc/default/grub.d/*.cfg; do [ -e "$x" ] && . "$x"; done
{
  # 00_header's choice of the default: grub-reboot's next_entry, else GRUB_DEFAULT.
  printf 'if [ -s $prefix/grubenv ]; then\n  load_env\nfi\nif [ "${next_entry}" ] ; then\n'
  printf '   set default="${next_entry}"\n   set next_entry=\n   save_env next_entry\nelse\n'
  if [ "$GRUB_DEFAULT" = saved ]; then printf '   set default="${saved_entry}"\n'
  else printf '   set default="%s"\n' "$GRUB_DEFAULT"; fi
  printf 'fi\n'
  echo "### BEGIN /etc/grub.d/10_linux ###"
  first=1
  for k in "$root"/boot/vmlinuz-*; do
    v=${k##*/vmlinuz-}
    if [ $first = 1 ]; then
      printf "menuentry 'Debian GNU/Linux' {\n\tlinux\t/boot/vmlinuz-%s root=/dev/vda1 ro %s %s\n}\n" "$v" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"
      echo "submenu 'Advanced options for Debian GNU/Linux' {"
      first=0
    fi
    printf "\tmenuentry 'Debian GNU/Linux, with Linux %s' {\n\t\tlinux\t/boot/vmlinuz-%s root=/dev/vda1 ro %s %s\n\t}\n" "$v" "$v" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"
    printf "\tmenuentry 'Debian GNU/Linux, with Linux %s (recovery mode)' {\n\t\tlinux\t/boot/vmlinuz-%s root=/dev/vda1 ro single %s\n\t}\n" "$v" "$v" "$GRUB_CMDLINE_LINUX"
  done
  echo "}"
  [ ! -e "$root/other-os" ] || printf "menuentry 'Windows Boot Manager (on /dev/sda1)' {\n\tchainloader /EFI/Microsoft/Boot/bootmgfw.efi\n}\n"
} >"$root/boot/grub/grub.cfg.new"
mv "$root/boot/grub/grub.cfg.new" "$root/boot/grub/grub.cfg"
echo "Generating grub configuration file ... done"
SH
  chmod 755 "$r/usr/sbin/update-grub"
  "$r/usr/sbin/update-grub" >/dev/null
}

# add_kernel_install ROOT: the stand-in kernel-install, a BLS layout in /efi, a first entry.
add_kernel_install() {
  local r=$1
  mkdir -p "$r/efi/loader/entries" "$r/efi/0123456789abcdef0123456789abcdef"
  cat >"$r/usr/bin/kernel-install" <<'SH'
#!/bin/sh
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$1" = add ] || exit 1
[ -f "$3" ] || { echo "kernel-install: $3 is no kernel image" >&2; exit 1; }
[ ! -e "$root/fail-kernel-install" ] || exit 1
if [ -f "$root/etc/kernel/cmdline" ]; then opts=$(tr -s ' \n\t' ' ' <"$root/etc/kernel/cmdline")
else opts=$(tr -s ' ' '\n' <"$root/proc/cmdline" | grep -ve '^BOOT_IMAGE=' -e '^initrd=' | tr '\n' ' '); fi
token=$(cat "$root/etc/machine-id")
printf 'title      Debian GNU/Linux 12 (bookworm)\nversion    %s\nmachine-id %s\noptions    %s\nlinux      /%s/%s/linux\n' \
  "$2" "$token" "${opts% }" "$token" "$2" >"$root/efi/loader/entries/$token-$2.conf"
SH
  chmod 755 "$r/usr/bin/kernel-install"
  "$r/usr/bin/kernel-install" add 6.1.0-test "$r/boot/vmlinuz-6.1.0-test"
}
