#!/usr/bin/env bash
# The man pages render without a warning (groff -ww), and say what --help says: every
# command and option of isoctl --help is in isoctl(1), every option and verb of
# isolatord --help in isolatord(8), every key the configuration takes in
# isolatord.conf(5). The bash completion offers the commands, and the groups of a
# running isolatord (on a private bus) after "isoctl set".
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${MAN_DIR:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${SOURCE_ROOT:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-man-XXXXXX")
trap 'bus_cleanup; rm -rf "$work"' EXIT
chmod 755 "$work"

for page in isolatord.8 isoctl.1 isolatord.conf.5; do
  checks=$((checks + 1))
  [ -s "$MAN_DIR/$page" ] || { fail "$page was not built"; continue; }
  warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z -K utf8 "$MAN_DIR/$page" 2>&1 || true)
  [ -z "$warnings" ] || fail "$page renders with warnings: $warnings"
done
text() { LC_ALL=C.UTF-8 groff -man -Tutf8 -K utf8 "$MAN_DIR/$1" 2>/dev/null | col -b; }
isoctl_page=$(text isoctl.1)
isolatord_page=$(text isolatord.8)
conf_page=$(text isolatord.conf.5)

# isoctl --help: each command (the first word of the lines under "Commands:") and option.
"$ISOCTL" --help >"$work/isoctl.help"
for cmd in $(sed -n '/^Commands:/,/^$/p' "$work/isoctl.help" | awk 'NR > 1 && NF {print $1}'); do
  checks=$((checks + 1))
  grep -qE "^ {7}$cmd( |$)" <<<"$isoctl_page" || fail "isoctl(1) lacks the command $cmd"
done
for opt in $(grep -oE -- '--[a-z-]+' "$work/isoctl.help" | sort -u); do
  checks=$((checks + 1))
  grep -qF -- "$opt" <<<"$isoctl_page" || fail "isoctl(1) lacks $opt"
done
# isolatord --help: every option and verb.
"$ISOLATORD" --help >"$work/isolatord.help"
for opt in $(grep -oE -- '--[a-z-]+' "$work/isolatord.help" | sort -u); do
  checks=$((checks + 1))
  grep -qF -- "$opt" <<<"$isolatord_page" || fail "isolatord(8) lacks $opt"
done
# isolatord.conf(5): every key of the schema's table (daemon/model/config-schema.c), and
# never none (a moved file would make this check nothing).
keys=$(sed -n 's/^ *{ "[A-Za-z ]*", *"\([A-Za-z]*\)",.*/\1/p' "$SOURCE_ROOT/daemon/model/config-schema.c" | sort -u)
expect_eq "the schema's keys are read" "True" "$([ "$(wc -w <<<"$keys")" -ge 25 ] && echo True || echo False)"
for key in $keys; do
  checks=$((checks + 1))
  grep -qE "$key=" <<<"$conf_page" || fail "isolatord.conf(5) lacks $key="
done

# Completion: the commands, then the daemon's groups after "set".
complete_words() { # the words COMPREPLY holds for the command line "$@" (the last one being completed)
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _isoctl; printf "%s\n" "${COMPREPLY[@]}"' \
    sh "$SOURCE_ROOT/client/isoctl.bash" "$@"
}
out=$(complete_words isoctl "")
expect_in "completion offers status" "status"
expect_in "completion offers kernel-audit" "kernel-audit"
out=$(complete_words isoctl --j)
expect_eq "completion of an option" "--json" "$out"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
printf '[Sampler]\nEnabled=false\n' >"$work/isolatord.conf"
bus_start "$work/bus"
daemon_start --root "$work/root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
out=$(PATH="$(dirname "$ISOCTL"):$PATH" complete_words isoctl set "")
expect_eq "completion offers the running daemon's groups" "diretta hqplayer" "$(sort <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
out=$(PATH="$(dirname "$ISOCTL"):$PATH" complete_words isoctl set h)
expect_eq "completion of a group" "hqplayer" "$out"
expect_daemon_stops "isolatord stops"
finish
