#!/usr/bin/env bash
# A full runtime folder (issue 20, item 5): the saved originals live on a tmpfs of 64 KiB
# with two pages left, one for the lock file and one for the journal, so that the first
# append of the journal (some 6 KiB) stops inside a line (ENOSPC). Nothing is glued to that fragment: it is cut back at once, the batch is
# written whole once the space is back (an Apply), and after SIGKILL, a restart and a
# revert every file of the fake machine is byte for byte as it was. A second isolatord
# on the same runtime folder changes nothing.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}"
if [ -z "${ISOLATORD_IN_NS:-}" ]; then
  if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
    echo "SKIP: a tmpfs in a private mount namespace needs root and unshare (declared in meson: ISOLATORD_SKIP_DECLARED)"
    exit 77
  fi
  ISOLATORD_IN_NS=1 exec unshare -m --propagation private -- "$0" "$@"
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

work_start originals-full
trap 'umount "$work/run" 2>/dev/null || true; bus_cleanup; rm -rf "$work"' EXIT
root="$work/root"
pristine="$ISOLATORD_FIXTURES/ryzen-7700x"
cp -a "$pristine" "$root"
printf '[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\n' >"$work/isolatord.conf"
mkdir "$work/run"
mount -t tmpfs -o size=64k,mode=0755 isolatord-run "$work/run"
head -c $((56 * 1024)) /dev/zero >"$work/run/filler"
# What the folder holds, for a failure's message.
run_state() { ls -ls "$work/run"; df -k "$work/run" | tail -1; tail -5 "$BUS_DIR/daemon.log"; }

# Every line of the journal whole and of the writer's form: "+", key, value or "-", key.
journal_whole() {
  "$ISOLATORD_PYTHON" - "$work/run/originals" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
if data and not data.endswith(b"\n"):
    sys.exit("a line without its newline: %r" % data[-80:])
lines = data.split(b"\n")[:-1]
if lines[:1] != [b"isolatord-originals 3"] or not lines[1].startswith(b"identity "):
    sys.exit("no header: %r" % lines[:2])
for line in lines[2:]:
    f = line.split(b"\t")
    if not ((f[0] == b"+" and len(f) == 3) or (f[0] == b"-" and len(f) == 2)):
        sys.exit("a line not of the writer's form: %r" % line)
PY
}

bus_start "$work/bus"
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
checks=$((checks + 1))
grep -q "No space left on device" "$BUS_DIR/daemon.log" ||
  fail "the runtime folder did not fill up: $(run_state)"
size=$(stat -c %s "$work/run/originals" 2>/dev/null || echo 0)
checks=$((checks + 1))
[ "$size" -le 4096 ] || fail "the journal grew past the room left: $size bytes; $(run_state)"
if [ "$size" -gt 0 ]; then
  expect_exit 0 "the failed append cut back to its last whole line" -- journal_whole
fi

# Room again: the batches that failed are written whole.
rm "$work/run/filler"
expect_exit 0 "apply with room again" -- "$ISOCTL" apply
expect_in "applied" "Applied"
expect_exit 0 "every line of the journal whole" -- journal_whole
checks=$((checks + 1))
[ "$(stat -c %s "$work/run/originals")" -gt 4096 ] || fail "the journal did not grow once there was room: $(run_state)"

# A crash, a restart with the journal read back, a revert.
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
for _ in $(seq 100); do bus_has_owner org.rtaudio.Isolator || break; sleep 0.02; done
daemon_start --root "$root" --config "$work/isolatord.conf" --runtime-dir "$work/run"

# A second isolatord on the same runtime folder (a hand-run copy, RestoreOnExit= even)
# would read the journal mid-write and revert the running one's partition at its stop:
# it changes nothing and says who holds the folder.
cp -a "$root" "$work/before-second"
{ cat "$work/isolatord.conf"; printf 'RestoreOnExit=true\n'; } >"$work/second.conf"
expect_exit 1 "a second isolatord on the same runtime folder" -- \
  "$ISOLATORD" --root "$root" --config "$work/second.conf" --runtime-dir "$work/run"
expect_in "it names the one that runs" "another isolatord (pid $DAEMON_PID) keeps the partition with the runtime folder $work/run: this one changes nothing and exits"
expect_exit 0 "the machine untouched by it" -- diff -r --no-dereference "$work/before-second" "$root"
rm -rf "$work/before-second"
expect_exit 0 "the first one still answers" -- "$ISOCTL" status

expect_exit 0 "revert" -- "$ISOCTL" revert
expect_in "every original restored" "restored"
expect_exit 0 "identical to a pristine machine after revert" -- diff -r --no-dereference "$pristine" "$root"
expect_daemon_stops "stop after revert"

finish
