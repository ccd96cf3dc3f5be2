#!/usr/bin/env bash
# isolatord-bootline on fake roots, for both layouts it writes: Debian's GRUB
# (/etc/default/grub.d/isolatord.cfg, then update-grub) and kernel-install
# (/etc/kernel/cmdline, then kernel-install add for each kernel with an entry), with the
# stand-in tools of lib-bootline.sh (the real ones run in tests/system/nspawn.sh). Checked:
# the write, the next boot's line read back, revert (byte for byte, modes kept),
# originals kept (a pre-existing isolatord.cfg, a changed file left alone), hostile
# requests and files refused, conflicts and failing tools putting everything back, a
# bootloader it does not know left untouched.
set -euo pipefail
: "${ISOLATORD_BOOTLINE:?}" "${ISOLATORD_FIXTURES:?}"
. "$(dirname "$0")/lib-test.sh"
. "$(dirname "$0")/lib-bootline.sh"

helper=$ISOLATORD_BOOTLINE
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-bootline-XXXXXX")
trap 'rm -rf "$work"' EXIT
line="isolcpus=managed_irq,domain,1 nohz_full=1 rcu_nocbs=1 irqaffinity=0 kthread_cpus=0 skew_tick=1 nosoftlockup"

# A machine: the 2-CPU fixture's /proc, a machine-id, a kernel in /boot.
new_root() {
  local r=$work/$1
  mkdir -p "$r"
  cp -a "$ISOLATORD_FIXTURES/mini-2cpu/proc" "$r/proc"
  printf 'BOOT_IMAGE=/vmlinuz-6.1.0-test root=/dev/vda1 ro quiet\n' >"$r/proc/cmdline"
  add_machine "$r"
  echo "$r"
}
grub_root() { local r; r=$(new_root "$1"); add_grub "$r"; echo "$r"; }
bls_root() { local r; r=$(new_root "$1"); add_kernel_install "$r"; echo "$r"; }

bl() { "$helper" --root "$1" "${@:2}"; }
grub_default() { grep -m1 vmlinuz "$1/boot/grub/grub.cfg"; }
entry() { cat "$1"/efi/loader/entries/*.conf; }

# --- GRUB: written, read back, taken back ---
g=$(grub_root grub)
cp "$g/boot/grub/grub.cfg" "$work/grub.cfg.pristine"
expect_exit 0 "status on GRUB" -- bl "$g" status
expect_in "GRUB recognised" "Bootloader: grub"
expect_in "nothing written yet" "Written:    nothing"
expect_exit 0 "write for GRUB" -- bl "$g" write $line
expect_in "says what it wrote and that a reboot takes it" "Reboot to take it"
expect_exit 0 "the snippet" -- cat "$g/etc/default/grub.d/isolatord.cfg"
expect_in "the snippet appends to the default entries' line" "GRUB_CMDLINE_LINUX_DEFAULT=\"\$GRUB_CMDLINE_LINUX_DEFAULT $line\""
expect_exit 0 "the generated grub.cfg" -- grub_default "$g"
expect_in "the next boot's default entry has the line" "quiet $line"
expect_exit 0 "the recovery entry" -- grep "single" "$g/boot/grub/grub.cfg"
expect_not_in "not the recovery entry" "nohz_full"
expect_exit 0 "status after the write" -- bl "$g" status
expect_in "status names what was written" "Written:    $line (for grub, in /etc/default/grub.d/isolatord.cfg)"
expect_in "status reads the next boot" "Next boot:  root=/dev/vda1 ro  quiet $line"
expect_exit 0 "the result left for the daemon" -- cat "$g/var/lib/isolatord/bootline/result"
expect_match "the result's first line" "^ok$"
expect_exit 0 "state saved" -- cat "$g/var/lib/isolatord/bootline/state"
expect_in "the original was no file" "Existed=false"
expect_eq "the state is root's alone" "600" "$(stat -c %a "$g/var/lib/isolatord/bootline/state")"
# Another partition: the snippet is replaced; the original stays the first one.
expect_exit 0 "write another line" -- bl "$g" write "isolcpus=managed_irq,domain,1 nohz_full=1 nosoftlockup"
expect_exit 0 "the snippet again" -- cat "$g/etc/default/grub.d/isolatord.cfg"
expect_in "the new line" '$GRUB_CMDLINE_LINUX_DEFAULT isolcpus=managed_irq,domain,1 nohz_full=1 nosoftlockup"'
expect_not_in "not the old one" "rcu_nocbs"
expect_exit 0 "revert" -- bl "$g" revert
expect_in "revert says what it did" "/etc/default/grub.d/isolatord.cfg is removed; update-grub ran"
expect_eq "no snippet after revert" "absent" "$([ -e "$g/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
expect_exit 0 "grub.cfg as before the write" -- cmp "$work/grub.cfg.pristine" "$g/boot/grub/grub.cfg"
expect_eq "no state after revert" "absent" "$([ -e "$g/var/lib/isolatord/bootline/state" ] && echo present || echo absent)"
expect_exit 0 "a second revert" -- bl "$g" revert
expect_in "nothing to take back" "nothing to take back"

# --- a pre-existing isolatord.cfg (someone's): saved, restored byte for byte, mode kept ---
printf '# mine\nGRUB_TIMEOUT=3\n' >"$g/etc/default/grub.d/isolatord.cfg"
chmod 640 "$g/etc/default/grub.d/isolatord.cfg"
cp -a "$g/etc/default/grub.d/isolatord.cfg" "$work/mine.cfg"
expect_exit 0 "write over someone's isolatord.cfg" -- bl "$g" write $line
expect_exit 0 "state" -- cat "$g/var/lib/isolatord/bootline/state"
expect_in "its original saved" "Existed=true"
expect_exit 0 "revert" -- bl "$g" revert
expect_in "revert gives it back" "isolatord.cfg has its original back"
expect_exit 0 "the same bytes" -- cmp "$work/mine.cfg" "$g/etc/default/grub.d/isolatord.cfg"
expect_eq "the same mode" "640" "$(stat -c %a "$g/etc/default/grub.d/isolatord.cfg")"
rm "$g/etc/default/grub.d/isolatord.cfg"; "$g/usr/sbin/update-grub" >/dev/null

# --- changed since written: left as it is on revert, its original kept aside ---
expect_exit 0 "write" -- bl "$g" write $line
echo '# edited by the administrator' >>"$g/etc/default/grub.d/isolatord.cfg"
cp "$g/etc/default/grub.d/isolatord.cfg" "$work/edited.cfg"
expect_exit 2 "a write over a changed snippet is refused" -- bl "$g" write $line
expect_in "why" "changed since isolatord wrote it"
expect_exit 4 "revert of a changed snippet" -- bl "$g" revert
expect_in "says it is left alone" "changed since isolatord wrote it and is left as it is"
expect_exit 0 "left as the administrator made it" -- cmp "$work/edited.cfg" "$g/etc/default/grub.d/isolatord.cfg"
rm "$g/etc/default/grub.d/isolatord.cfg"
expect_exit 0 "revert once it is gone" -- bl "$g" revert
expect_eq "state gone" "absent" "$([ -e "$g/var/lib/isolatord/bootline/state" ] && echo present || echo absent)"
"$g/usr/sbin/update-grub" >/dev/null

# --- what puts everything back ---
cp "$g/boot/grub/grub.cfg" "$work/grub.cfg.before"
touch "$g/fail-update-grub"
expect_exit 1 "update-grub fails" -- bl "$g" write $line
expect_in "its words in the message" "failed to get canonical path"
expect_eq "no snippet left" "absent" "$([ -e "$g/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
expect_exit 0 "grub.cfg as it was" -- cmp "$work/grub.cfg.before" "$g/boot/grub/grub.cfg"
expect_eq "no state left" "absent" "$([ -e "$g/var/lib/isolatord/bootline/state" ] && echo present || echo absent)"
rm "$g/fail-update-grub"
printf 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n' >"$g/etc/default/grub.d/zz-local.cfg"
expect_exit 1 "a later snippet overrides the line" -- bl "$g" write $line
expect_in "the next boot lacks it" "the next boot's default entry lacks"
expect_eq "no snippet left" "absent" "$([ -e "$g/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
expect_exit 0 "grub.cfg as it was" -- cmp "$work/grub.cfg.before" "$g/boot/grub/grub.cfg"
rm "$g/etc/default/grub.d/zz-local.cfg"
sed -i 's/^GRUB_CMDLINE_LINUX=""/GRUB_CMDLINE_LINUX="nohz_full=0"/' "$g/etc/default/grub"; "$g/usr/sbin/update-grub" >/dev/null
cp "$g/boot/grub/grub.cfg" "$work/grub.cfg.before"
expect_exit 2 "another nohz_full= in /etc/default/grub" -- bl "$g" write $line
expect_in "names the conflict" "already has nohz_full=0"
expect_exit 0 "grub.cfg untouched" -- cmp "$work/grub.cfg.before" "$g/boot/grub/grub.cfg"
sed -i 's/^GRUB_CMDLINE_LINUX="nohz_full=0"/GRUB_CMDLINE_LINUX="nosoftlockup"/' "$g/etc/default/grub"; "$g/usr/sbin/update-grub" >/dev/null
expect_exit 0 "a line the default entry has already" -- bl "$g" write "nosoftlockup"
expect_in "nothing to add" "nothing written"
expect_eq "no snippet for it" "absent" "$([ -e "$g/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
expect_exit 0 "a parameter the line has already is not written twice" -- bl "$g" write $line
expect_exit 0 "the snippet" -- cat "$g/etc/default/grub.d/isolatord.cfg"
expect_not_in "nosoftlockup only once" "nosoftlockup"
expect_exit 0 "revert" -- bl "$g" revert
sed -i 's/^GRUB_CMDLINE_LINUX="nosoftlockup"/GRUB_CMDLINE_LINUX=""/' "$g/etc/default/grub"; "$g/usr/sbin/update-grub" >/dev/null
touch "$g/other-os"; "$g/usr/sbin/update-grub" >/dev/null; rm "$g/other-os"
cp "$g/boot/grub/grub.cfg" "$work/grub.cfg.before"
expect_exit 1 "update-grub loses an entry (os-prober in a sandbox)" -- bl "$g" write $line
expect_in "names the entry" "dropped the entry \"Windows Boot Manager (on /dev/sda1)\""
expect_exit 0 "grub.cfg with every entry, as it was" -- cmp "$work/grub.cfg.before" "$g/boot/grub/grub.cfg"
"$g/usr/sbin/update-grub" >/dev/null
# Dual boot with the other system as GRUB's default: the Linux entries are what get the line.
touch "$g/other-os"
sed -i 's|^GRUB_DEFAULT=0$|GRUB_DEFAULT="Windows Boot Manager (on /dev/sda1)"|' "$g/etc/default/grub"
"$g/usr/sbin/update-grub" >/dev/null
expect_exit 0 "write while GRUB's default is another system" -- bl "$g" write $line
expect_in "every Linux entry has it, and the next boot is not one of them" \
  "2 of 2 entries carry it; the next boot is not one of them (GRUB's default is not a Linux entry"
expect_exit 0 "revert" -- bl "$g" revert
rm "$g/other-os"; sed -i 's|^GRUB_DEFAULT=.*|GRUB_DEFAULT=0|' "$g/etc/default/grub"; "$g/usr/sbin/update-grub" >/dev/null

# --- hostile input ---
ln -s /etc/shadow "$g/etc/default/grub.d/isolatord.cfg"
expect_exit 2 "a planted symlink" -- bl "$g" write $line
expect_in "refused" "a symlink on its way"
expect_eq "the symlink left" "/etc/shadow" "$(readlink "$g/etc/default/grub.d/isolatord.cfg")"
rm "$g/etc/default/grub.d/isolatord.cfg"
for bad in "init=/bin/sh" "nohz_full=1 init=/bin/sh" 'nohz_full=1";reboot;"' "nohz_full=1\$(id)" "isolcpus=1 isolcpus=1" "nohz_full=abc"; do
  expect_exit 2 "refused: $bad" -- bl "$g" write "$bad"
  expect_in "says it is refused" "refused"
done
request=$work/request
printf '%s\n' "$line" >"$request"; chmod 666 "$request"
expect_exit 2 "a request others may write" -- bl "$g" write --request "$request"
expect_in "why" "only root may write"
chmod 644 "$request"; chown 65534 "$request"
expect_exit 2 "a request of another user's" -- bl "$g" write --request "$request"
chown 0 "$request"; ln -sf "$request" "$work/request-link"
expect_exit 2 "a request through a symlink" -- bl "$g" write --request "$work/request-link"
printf 'nohz_full=1\nGRUB_TIMEOUT=0\n' >"$request"
expect_exit 2 "a request of two lines" -- bl "$g" write --request "$request"
head -c 5000 /dev/zero | tr '\0' 'a' >"$request"
expect_exit 2 "a request too long" -- bl "$g" write --request "$request"
expect_eq "nothing written by any of them" "absent" "$([ -e "$g/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
printf '%s\n' "$line" >"$request"
expect_exit 0 "a good request" -- bl "$g" write --request "$request"
sed -i 's/^MachineId=.*/MachineId=ffffffffffffffffffffffffffffffff/' "$g/var/lib/isolatord/bootline/state"
expect_exit 2 "state of another installation" -- bl "$g" revert
expect_in "never applied here" "belongs to another installation"
expect_exit 0 "the snippet stays" -- test -e "$g/etc/default/grub.d/isolatord.cfg"

# --- bootloaders it does not know: nothing written, the line to add by hand ---
u=$(new_root unknown)
expect_exit 3 "no bootloader" -- bl "$u" write $line
expect_in "what to do by hand" "add to your bootloader's kernel command line by hand: $line"
expect_eq "nothing written" "" "$(find "$u/etc" -newer "$u/etc/machine-id" -type f)"
b=$(grub_root both); mkdir -p "$b/boot/loader/entries"; cp "$work/grub/usr/bin/kernel-install" "$b/usr/bin/" 2>/dev/null ||
  printf '#!/bin/sh\nexit 0\n' >"$b/usr/bin/kernel-install"; chmod 755 "$b/usr/bin/kernel-install"
expect_exit 3 "GRUB and BLS entries both" -- bl "$b" write $line
expect_in "says which it cannot tell" "which of them boots is not a file's to say"

# --- kernel-install: /etc/kernel/cmdline, entries made again ---
k=$(bls_root bls)
expect_exit 0 "status on kernel-install" -- bl "$k" status
expect_in "kernel-install recognised" "Bootloader: kernel-install"
expect_exit 0 "write for kernel-install" -- bl "$k" write $line
expect_in "ran kernel-install" "ran kernel-install"
expect_exit 0 "/etc/kernel/cmdline" -- cat "$k/etc/kernel/cmdline"
expect_eq "the running line without BOOT_IMAGE=, then the parameters" "root=/dev/vda1 ro quiet $line" "$out"
expect_exit 0 "the entry" -- entry "$k"
expect_in "the entry carries it" "options    root=/dev/vda1 ro quiet $line"
expect_exit 0 "revert" -- bl "$k" revert
expect_eq "/etc/kernel/cmdline removed (there was none)" "absent" "$([ -e "$k/etc/kernel/cmdline" ] && echo present || echo absent)"
expect_exit 0 "the entry again" -- entry "$k"
expect_in "without the parameters" "options    root=/dev/vda1 ro quiet"
expect_not_in "no isolcpus" "isolcpus"
# An administrator's own line: other keys kept as written, isolatord's replaced.
printf 'root=UUID=42 ro isolcpus=3  dyndbg="file a.c +p" quiet\n' >"$k/etc/kernel/cmdline"; chmod 600 "$k/etc/kernel/cmdline"
cp -a "$k/etc/kernel/cmdline" "$work/cmdline.mine"
expect_exit 0 "write over an administrator's cmdline" -- bl "$k" write $line
expect_exit 0 "/etc/kernel/cmdline" -- cat "$k/etc/kernel/cmdline"
expect_eq "merged" "root=UUID=42 ro dyndbg=\"file a.c +p\" quiet $line" "$out"
expect_eq "its mode kept" "600" "$(stat -c %a "$k/etc/kernel/cmdline")"
expect_exit 0 "a new partition: onto the original again" -- bl "$k" write "isolcpus=managed_irq,domain,1 nohz_full=1"
expect_exit 0 "/etc/kernel/cmdline" -- cat "$k/etc/kernel/cmdline"
expect_eq "the original's keys, the new line" "root=UUID=42 ro dyndbg=\"file a.c +p\" quiet isolcpus=managed_irq,domain,1 nohz_full=1" "$out"
expect_exit 0 "revert" -- bl "$k" revert
expect_exit 0 "the administrator's line, byte for byte" -- cmp "$work/cmdline.mine" "$k/etc/kernel/cmdline"
expect_eq "and its mode" "600" "$(stat -c %a "$k/etc/kernel/cmdline")"
expect_exit 0 "the entry" -- entry "$k"
expect_in "the entry follows" "options    root=UUID=42 ro isolcpus=3 dyndbg=\"file a.c +p\" quiet"
cp -a "$k/etc/kernel/cmdline" "$work/cmdline.before"
touch "$k/fail-kernel-install"
expect_exit 1 "kernel-install fails" -- bl "$k" write $line
expect_exit 0 "the cmdline as it was" -- cmp "$work/cmdline.before" "$k/etc/kernel/cmdline"
rm "$k/fail-kernel-install"
rm "$k/boot/vmlinuz-6.1.0-test"
expect_exit 1 "no entry of an installed kernel" -- bl "$k" write $line
expect_in "says so" "is of a kernel in /boot"
finish
