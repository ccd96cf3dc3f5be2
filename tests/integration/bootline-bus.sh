#!/usr/bin/env bash
# isoctl boot-params --write and isoctl revert through the daemon on a private system bus,
# on a fake 2-CPU machine with the stand-in GRUB of lib-bootline.sh (on a fake root the
# daemon runs isolatord-bootline as its child; on the real one, through systemd as
# isolatord-bootline@.service: tests/system/nspawn.sh). Checked: what the next boot has
# before and after, the boot-loader finding, a user refused, the write and the revert
# answering with the helper's words, a bootloader it does not know refused by name.
set -euo pipefail
: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_BOOTLINE:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"
. "$here/lib-bootline.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-bootline-bus-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"
export ISOLATORD_BOOTLINE_HELPER=$ISOLATORD_BOOTLINE

root=$work/root
cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$root"
add_machine "$root"
add_grub "$root"
printf '[Partition]\nHousekeeping=0\n\n[Group audio]\nCPUs=1\nSlice=audio.slice\nMatch=/usr/local/bin/player\n' >"$work/isolatord.conf"
line="isolcpus=managed_irq,domain,1 nohz_full=1 rcu_nocbs=1 irqaffinity=0 kthread_cpus=0 skew_tick=1 nosoftlockup"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

bus_start "$work/bus"
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"

expect_exit 1 "isoctl boot-params" -- "$ISOCTL" --no-color boot-params
expect_in "the bootloader" "Bootloader:  grub (isoctl boot-params --write writes the line"
expect_in "the next boot lacks it" "Next boot:   lacks required parameters (\"Debian GNU/Linux\", /boot/grub/grub.cfg)"
expect_exit 1 "isoctl verify" -- "$ISOCTL" verify
expect_match "the boot-loader finding" "^boot-loader +grub .* advice$"
expect_exit 3 "a user may not write the boot line" -- nobody "$ISOCTL" boot-params --write
expect_in "refused" "isolatord refused WriteBootParameters"
expect_eq "nothing written for the user" "absent" "$([ -e "$root/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
expect_exit 2 "--all alone" -- "$ISOCTL" boot-params --all

expect_exit 0 "isoctl boot-params --write" -- "$ISOCTL" boot-params --write
expect_in "the helper's words" "wrote $line to /etc/default/grub.d/isolatord.cfg and ran update-grub"
expect_exit 0 "the request left for the helper is root's alone" -- stat -c %a "$work/run/bootline-request"
expect_eq "its mode" "600" "$out"
expect_exit 0 "grub.cfg, its first kernel line" -- grep -m1 vmlinuz "$root/boot/grub/grub.cfg"
expect_in "the next boot has it" "quiet $line"
expect_exit 1 "isoctl boot-params after the write" -- "$ISOCTL" --no-color boot-params
expect_in "the next boot has it, says isoctl" "Next boot:   has the required line"
expect_in "what was written" "Written:     $line"
expect_exit 1 "--json (the running kernel still lacks it)" -- "$ISOCTL" boot-params --json
expect_in "the bootloader in JSON" '"bootloader":{"kind":"grub"'
expect_in "written in JSON" '"written":true'
expect_in "every entry carries it" '"entries":2,"entries_with_line":2'
# grub-reboot into the recovery entry (which never gets the line): that boot lacks it.
printf '# GRUB Environment Block\nnext_entry=1>1\n' >"$root/boot/grub/grubenv"
expect_exit 1 "isoctl boot-params, grub-reboot to recovery" -- "$ISOCTL" --no-color boot-params
expect_in "the entry grub-reboot chose" "Next boot:   lacks required parameters (\"Debian GNU/Linux, with Linux 6.1.0-test (recovery mode)\""
expect_in "and why it is the one" "the default: grub-reboot's next_entry \"1>1\" in grubenv, for one boot"
printf '# GRUB Environment Block\nsaved_entry=Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-test\n' \
  >"$root/boot/grub/grubenv"
expect_exit 1 "isoctl boot-params, grubenv's saved entry without GRUB_DEFAULT=saved" -- "$ISOCTL" --no-color boot-params
expect_in "GRUB_DEFAULT=0 still decides" "the default: GRUB_DEFAULT=0"
expect_in "the first entry has the line" "Next boot:   has the required line (\"Debian GNU/Linux\""
# A grubenv that is there and cannot be read (a symbolic link, which GRUB follows and
# isolatord does not) leaves the next boot unknown, said: GRUB would read it.
mv "$root/boot/grub/grubenv" "$root/boot/grub/grubenv.real"
ln -s grubenv.real "$root/boot/grub/grubenv"
expect_exit 1 "isoctl boot-params, grubenv a symbolic link" -- "$ISOCTL" --no-color boot-params
expect_in "the next boot unknown, and why" \
  "Next boot:   unknown (cannot read /boot/grub/grubenv, which holds GRUB's saved and next entry: a symbolic link, not followed)"
expect_exit 1 "isoctl verify, grubenv a symbolic link" -- "$ISOCTL" verify --json
expect_in "the advice says so" "the next boot cannot be told (cannot read /boot/grub/grubenv"
snippet_before=$(cat "$root/etc/default/grub.d/isolatord.cfg")
expect_exit 1 "no write against a next boot that cannot be told" -- "$ISOCTL" boot-params --write --all
expect_in "refused, and why" "the next boot cannot be told (cannot read /boot/grub/grubenv"
expect_eq "the snippet as it was" "$snippet_before" "$(cat "$root/etc/default/grub.d/isolatord.cfg")"
rm "$root/boot/grub/grubenv"
# A folder, or a FIFO (which must not hold the daemon), GRUB's header skips as it does a
# missing grubenv ([ -s ]): the default decides.
mkdir "$root/boot/grub/grubenv"
expect_exit 1 "isoctl boot-params, grubenv a folder" -- "$ISOCTL" --no-color boot-params
expect_in "GRUB_DEFAULT=0 decides, as at boot" "the default: GRUB_DEFAULT=0"
rmdir "$root/boot/grub/grubenv"
mkfifo "$root/boot/grub/grubenv"
expect_exit 1 "isoctl boot-params, grubenv a FIFO" -- timeout 20 "$ISOCTL" --no-color boot-params
expect_in "GRUB_DEFAULT=0 decides, nothing waited for" "the default: GRUB_DEFAULT=0"
rm "$root/boot/grub/grubenv" "$root/boot/grub/grubenv.real"
expect_exit 1 "verify" -- "$ISOCTL" verify --json
expect_in "the finding says reboot" "the next boot has the line (/boot/grub/grub.cfg): reboot to take it"
expect_exit 0 "--write --all: the recommended ones too" -- "$ISOCTL" boot-params --write --all
expect_in "with audit=0" "audit=0"

expect_exit 0 "isoctl revert" -- "$ISOCTL" revert
expect_eq "the snippet removed" "absent" "$([ -e "$root/etc/default/grub.d/isolatord.cfg" ] && echo present || echo absent)"
expect_exit 0 "grub.cfg, its first kernel line" -- grep -m1 vmlinuz "$root/boot/grub/grub.cfg"
expect_not_in "the next boot without it" "nohz_full"
expect_exit 0 "the daemon's log" -- cat "$work/bus/daemon.log"
expect_in "revert ran the helper" "is removed; update-grub ran"
expect_exit 0 "a second revert, nothing to take back" -- "$ISOCTL" revert

# A bootloader isolatord does not write for: refused by name, nothing written.
rm "$root/usr/sbin/update-grub"
expect_exit 1 "no bootloader it knows" -- "$ISOCTL" boot-params --write
expect_in "the error names it" "org.rtaudio.Isolator1.Error.BootLoader"
expect_in "and what to do" "by hand: $line"
expect_exit 1 "isoctl boot-params" -- "$ISOCTL" --no-color boot-params
expect_in "says none" "Bootloader:  none isolatord writes for"
expect_daemon_stops "isolatord stops"
finish
