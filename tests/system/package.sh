#!/usr/bin/env bash
# The Debian package, built from the tree as a user would (dpkg-buildpackage -us -uc -b
# on a copy of the tracked files), checked by lintian (no error; every warning fails too
# unless overridden with a reason in debian/), and its contents: the binaries, the unit
# and slices without a CPU list, the bus and polkit files, the man pages, the completion
# and the configuration as a conffile.
set -euo pipefail
: "${SOURCE_ROOT:?}"
. "$SOURCE_ROOT/tests/integration/lib-test.sh"

for tool in dpkg-buildpackage dh lintian git; do
  command -v "$tool" >/dev/null || { echo "needs $tool (tools/deps installs it)" >&2; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-package-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/isolatord"
(cd "$SOURCE_ROOT" && git ls-files -z | tar --null -T - -c) | tar -x -C "$work/isolatord"

expect_exit 0 "dpkg-buildpackage -us -uc -b" -- sh -c "cd '$work/isolatord' && dpkg-buildpackage -us -uc -b"
deb=$(ls "$work"/isolatord_*_*.deb 2>/dev/null | head -1)
checks=$((checks + 1))
[ -n "$deb" ] || { fail "no .deb was built"; finish; }

expect_exit 0 "lintian" -- lintian --fail-on error,warning "$work"/isolatord_*.changes
expect_not_in "no lintian error" "E: "
expect_not_in "no lintian warning" "W: "

out=$(dpkg -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/isolatord ./usr/bin/isoctl ./lib/systemd/system/isolatord.service \
         ./lib/systemd/system/hqplayer.slice ./lib/systemd/system/diretta.slice \
         ./usr/share/dbus-1/system.d/org.rtaudio.Isolator.conf \
         ./usr/share/dbus-1/system-services/org.rtaudio.Isolator.service \
         ./usr/share/polkit-1/actions/org.rtaudio.isolator.policy \
         ./usr/share/man/man8/isolatord.8.gz ./usr/share/man/man1/isoctl.1.gz ./usr/share/man/man5/isolatord.conf.5.gz \
         ./usr/share/bash-completion/completions/isoctl ./etc/isolatord/isolatord.conf \
         ./usr/share/cockpit/isolator/manifest.json ./usr/share/cockpit/isolator/index.html \
         ./usr/share/cockpit/isolator/isolator.js ./usr/share/cockpit/isolator/isolator.css; do
  expect_in "the package has $f" "$f"
done
expect_not_in "no drop-in of its own for init.scope" "init.scope.d"
expect_not_in "no drop-in of its own for system.slice" "system.slice.d"
dpkg-deb -x "$deb" "$work/tree"
dpkg-deb -e "$deb" "$work/control"
out=$(cat "$work/tree/lib/systemd/system/"*.slice "$work/tree/lib/systemd/system/isolatord.service" | grep -v '^#')
expect_not_in "no CPU list in the unit and slices" "AllowedCPUs="
expect_not_in "nor CPUAffinity" "CPUAffinity="
out=$(cat "$work/control/conffiles")
expect_in "the configuration is a conffile" "/etc/isolatord/isolatord.conf"
out=$(cat "$work/control/postinst" 2>/dev/null || true)
expect_not_in "the installation does not start the service" "deb-systemd-invoke start"
finish
