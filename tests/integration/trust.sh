#!/usr/bin/env bash
# The trust rule for workloads, tried as a local user (uid 65534) would try it, on a fake
# 2-CPU machine whose CPUs are this machine's: a symlink named like the workload, a
# user's copy in a user folder and in a sticky folder, a prctl rename, a process named
# like an IRQ thread: none is placed or gets real-time scheduling, each untrusted one is
# a finding. A root-owned executable in root-owned folders run by a User= user, a process
# and a placed process's child that executes another program (which keeps its slice and
# loses real-time) show the other side; a cgroup merely named like a Unit= unit is
# refused (trust-units.sh: units as a real manager reports them). Then hostile saved originals
# and originals of another machine: the daemon runs on, reports them, and Revert writes
# nothing outside the root and nothing of the other machine.
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

py=/usr/bin/python3
unified=/sys/fs/cgroup/unified
[ -d "$unified" ] || unified=/sys/fs/cgroup
if ! "$py" -c 'import os,sys; sys.exit(0 if {0,1} <= os.sched_getaffinity(0) else 1)' || [ "$(id -u)" != 0 ] ||
   [ ! -w "$unified/cgroup.procs" ]; then
  echo "SKIP: needs root, CPUs 0 and 1 and a writable cgroup v2 hierarchy (declared in meson: ISOLATORD_SKIP_DECLARED)"; exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-trust-XXXXXX")
unit="isotest-unit-$$.service"
children=()
cleanup() {
  for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done
  bus_cleanup
  for p in $(cat "$unified/$unit/cgroup.procs" 2>/dev/null); do echo "$p" >"$unified/cgroup.procs" 2>/dev/null || true; done
  rmdir "$unified/$unit" 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

root="$work/root"
cp -a "$ISOLATORD_FIXTURES/mini-2cpu" "$root"
slice="$root/sys/fs/cgroup/hq.slice"
conf="$work/isolatord.conf"
cat >"$conf" <<CONF
[Partition]
Housekeeping=0

[Group hq]
CPUs=1
Slice=hq.slice
Match=isotest-hq*;*isotest-hq*x
Unit=$unit
User=65534
SchedPolicy=fifo
SchedPriority=10

[Sampler]
Enabled=false

[Daemon]
CgroupBackend=cgroupfs
CONF

as_user() { setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}"; }
# bg_as UID COMMAND...: in the background, $! being the process itself.
bg_as() { setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}" & }
# not_placed DESCRIPTION PID: after a verify pass, neither the slice nor real-time.
not_placed() {
  "$ISOCTL" verify >/dev/null 2>&1 || true
  checks=$((checks + 1))
  local s; s=$(sched_of "$2")
  case $s in *" 1 "*|*" 2 "*) fail "$1: pid $2 got real-time scheduling ($s)";; esac
  checks=$((checks + 1))
  ! grep -qx "$2" "$slice/cgroup.procs" || fail "$1: pid $2 was moved into the slice"
}

# Executables: root's in root-owned folders; a user's in the user's folder and in a
# sticky folder; a symlink in the user's folder to a root-owned program.
bin="$work/bin"; mkdir -p "$bin"
cp /bin/sleep "$bin/isotest-hq"
cp "$(readlink -f "$py")" "$bin/isotest-hqpy"
home="$work/home"; mkdir -p "$home"; chown 65534:65534 "$home"
sticky="$work/sticky"; mkdir -p "$sticky"; chmod 1777 "$sticky"
as_user 65534 cp /bin/sleep "$home/isotest-hq-copy"
as_user 65534 cp /bin/sleep "$sticky/isotest-hq-sticky"
as_user 65534 ln -s /bin/sleep "$home/isotest-hq-link"
chmod 755 "$work/root" 2>/dev/null || true

bus_start "$work/bus"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"

# --- the tricks ---
bg_as 65534 "$home/isotest-hq-link" 60; link=$!; children+=("$link")
bg_as 65534 "$home/isotest-hq-copy" 60; copy=$!; children+=("$copy")
bg_as 65534 "$sticky/isotest-hq-sticky" 60; stickyp=$!; children+=("$stickyp")
cat >"$work/rename.py" <<'PY'
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)   # PR_SET_NAME
time.sleep(60)
PY
bg_as 65534 "$py" "$work/rename.py" isotest-hq-ren; renamed=$!; children+=("$renamed")
bg_as 65534 "$py" "$work/rename.py" irq/24-xhci_hcd; irqlike=$!; children+=("$irqlike")
# A name that is no text: invalid UTF-8 (which the bus refuses to send, failing the whole
# reply) and an escape character (a terminal or log reader would act on it).
bg_as 65534 "$py" -c 'import ctypes, time; ctypes.CDLL(None).prctl(15, b"isotest-hq\xff\x1b", 0, 0, 0); time.sleep(60)'
badname=$!; children+=("$badname")
# An executable whose name is no text (a file's name is any bytes its owner chose): with a
# Match= glob shaped like "*isotest-hq*x", GLib's matcher aborted the process on it, so
# one exec by any user stopped isolatord. Its own matcher answers.
as_user 65534 cp /bin/sleep "$home/isotest-hq"$'\xe2'
bg_as 65534 "$home/isotest-hq"$'\xe2' 60; badexe=$!; children+=("$badexe")
sleep 0.3
not_placed "a symlink named like the workload" "$link"
not_placed "a user's copy in a user folder" "$copy"
not_placed "a user's copy in a sticky folder" "$stickyp"
not_placed "a prctl rename" "$renamed"
not_placed "a process named like an IRQ thread" "$irqlike"
not_placed "a user's executable whose name is no text" "$badexe"
checks=$((checks + 1))
kill -0 "$DAEMON_PID" 2>/dev/null || fail "isolatord ended at the exec of a file whose name is no text"
expect_exit 1 "verify lists the refused processes" -- "$ISOCTL" verify --json
for p in "$link" "$copy" "$stickyp" "$renamed"; do
  expect_match "untrusted-workload finding for $p" "\"kind\":\"untrusted-workload\",\"object\":\"$p "
done
expect_in "the symlink: its real executable named" "is named isotest-hq-link, but its executable /usr/bin/sleep is not named by Match="
expect_in "the copy: why" "$home/isotest-hq-copy is not trusted: it is not owned by root"
expect_in "the sticky copy: why" "$sticky/isotest-hq-sticky is not trusted: it is not owned by root"
expect_in "the rename: why" "is named isotest-hq-ren, but its executable"
expect_in "the uid is named" " uid 65534 "
expect_in "a name that is no text is shown printable" $'isotest-hq\xef\xbf\xbd? not placed in group hq'
checks=$((checks + 1))
! grep -q $'\x1b' "$BUS_DIR/daemon.log" || fail "a process's name reached the log unprintable"
for p in "$link" "$copy" "$stickyp" "$renamed"; do
  expect_eq "the refusal of $p logged once" 1 "$(grep -c "^isolatord: process $p " "$BUS_DIR/daemon.log")"
done

# --- a flood of refusals: said a few times a minute per user, then counted; a user's
# copies of a program under 300 names are one user ---
home2="$work/home2"; mkdir -p "$home2"; chown 65533:65533 "$home2"
cat >"$work/flood.py" <<'PY'
import os, shutil, sys
names = []
for i in range(300):
    name = os.path.join(sys.argv[1], "isotest-hq-copy%d" % i)
    shutil.copy("/bin/sleep", name)
    names.append(name)
kids = [os.posix_spawn(names[i % 300], [names[i % 300], "2"], {}) for i in range(2000)]
for k in kids:
    os.waitpid(k, 0)
PY
before=$(grep -c "" "$BUS_DIR/daemon.log")
as_user 65533 "$py" "$work/flood.py" "$home2"
"$ISOCTL" verify >/dev/null 2>&1 || true # a pass says what was held back
flood_log=$(tail -n +"$((before + 1))" "$BUS_DIR/daemon.log")
said=$(grep -c "^isolatord: process [0-9]* uid 65533 .* not placed in group hq" <<<"$flood_log" || true)
echo "2000 execs of 300 copies of a user's: $said refusal line(s), $(grep -c "" <<<"$flood_log") log line(s) in all" >&2
checks=$((checks + 1))
[ "$said" -ge 1 ] && [ "$said" -le 5 ] || fail "2000 refusals of one user under 300 names said $said times, expected 1 to 5"
out=$flood_log
expect_match "the rest counted in one line" "\.\.\. and [0-9]+ more process\(es\) of uid 65533 refused a placement"

# --- what is trusted: root's executable run by a User= user, a Unit= process ---
bg_as 65534 "$bin/isotest-hq" 60; trusted=$!; children+=("$trusted")
wait_for "a root-owned executable in root-owned folders, run by a User= user, placed" placed "$trusted"
bg_as 65533 "$bin/isotest-hq" 60; other=$!; children+=("$other")
not_placed "the same executable run by a user not in User=" "$other"
expect_exit 1 "verify" -- "$ISOCTL" verify --json
expect_in "the other user is named" "it runs as uid 65533, not a User= of group hq"

# A cgroup named like the unit is not the unit: only the system manager says which unit
# a process runs in (trust-units.sh has one), and here none answers.
mkdir "$unified/$unit"
sh -c "echo \$\$ >'$unified/$unit/cgroup.procs'; exec setpriv --reuid=65534 --regid=65534 --clear-groups sleep 60" & inunit=$!
children+=("$inunit")
# Its exec of sleep as 65534 done (under load a pass could see sh first, which no group
# matches, and say nothing of it).
wait_for "the process in the unit's cgroup runs sleep" grep -qx sleep "/proc/$inunit/comm"
not_placed "a cgroup named like a Unit= unit, without a manager to say it is one" "$inunit"
expect_exit 1 "verify" -- "$ISOCTL" verify --json
expect_in "the refusal says why" "is named like Unit=$unit, which the system manager does not run there"

# --- a child of a placed process that executes another program: slice kept, real-time withdrawn ---
cat >"$work/parent.py" <<'PY'
import os, subprocess, sys, time
for _ in range(300):                      # until isolatord has placed this process
    if os.sched_getscheduler(0) == os.SCHED_FIFO:
        break
    time.sleep(0.01)
child = subprocess.Popen(["/bin/sleep", "60"])
print(child.pid, flush=True)
time.sleep(60)
PY
bg_as 65534 "$bin/isotest-hqpy" "$work/parent.py" >"$work/child.pid"; parent=$!; children+=("$parent")
wait_for "the parent placed" placed "$parent"
wait_for "the child started" test -s "$work/child.pid"
child=$(cat "$work/child.pid"); children+=("$child")
wait_for "the child's real-time withdrawn at its exec" sh -c "[ \"\$('$py' -c 'import os,sys; print(os.sched_getscheduler(int(sys.argv[1])))' $child)\" = 0 ]"
# (A fake root's cgroup.procs is a plain file: inheriting the slice is the kernel's to show.)
expect_eq "the child keeps the CPUs its parent started it on" "[1] 0 0" "$(sched_of "$child")"

# --- hostile saved originals: the daemon runs on, reports them, writes nothing outside ---
expect_daemon_stops "stop"
outside="$work/outside"; echo untouched >"$outside"
id=$(printf 'root=%s boot=%s' "$root" "$(cat "$root/proc/sys/kernel/random/boot_id")")
{
  echo "isolatord-originals 2"
  printf 'identity %s\n' "$id"
  printf '+\tproc/irq/0/../../../../outside\tpwned\n'
  printf '+\t%s\tpwned\n' "$outside"
  printf '+\t@cpuset created ../outside\t\n'
  printf '+\t@cpuset file etc/cron.d/evil\t* * * * * root sh\n'
  printf '+\t@workload cgroup 1 1 init\t/../../../outside\n'
  printf '+\tproc/irq/24/smp_affinity_list\t0-1\n'
} >"$work/run/originals"
# A symlink planted in the root where a kernel file should be: never written through.
irqlink=$(ls -d "$root"/proc/irq/[0-9]* | tail -n 1)/smp_affinity_list
rm "$irqlink"; ln -s "$outside" "$irqlink"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_exit 1 "verify reports the refused entries" -- "$ISOCTL" verify --json
expect_in "a climbing path refused" "proc/irq/0/../../../../outside: not a relative path"
expect_in "an absolute path refused" "$outside: not a relative path"
expect_in "an @ entry outside refused" "@cpuset created ../outside: the path is not one the cpuset enforcer creates"
expect_in "a cron file refused" "@cpuset file etc/cron.d/evil: the path is not one"
expect_in "a climbing cgroup refused" "the saved cgroup is not a path in the cgroup tree"
expect_exit 0 "revert" -- "$ISOCTL" revert
expect_eq "nothing written outside the root" "untouched" "$(cat "$outside")"
expect_eq "the valid entry restored" "0-1" "$(cat "$root/proc/irq/24/smp_affinity_list")"
checks=$((checks + 1))
[ ! -e "$root/etc/cron.d/evil" ] || fail "a cron file was written"
expect_daemon_stops "stop"

# --- originals of another machine (another fake root): set aside, never restored ---
other="$work/other"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$other"
cp "$root/proc/irq/24/smp_affinity_list" "$work/irq24.before"
{
  echo "isolatord-originals 2"
  printf 'identity root=%s boot=%s\n' "$other" "$(cat "$other/proc/sys/kernel/random/boot_id")"
  printf '+\tproc/irq/24/smp_affinity_list\t0-15\n'
} >"$work/run/originals"
daemon_start --root "$root" --config "$conf" --runtime-dir "$work/run"
expect_exit 1 "verify reports the set-aside file" -- "$ISOCTL" verify --json
expect_in "set aside with the reason" "it was written for another root or another boot"
checks=$((checks + 1))
ls "$work/run"/originals.foreign-* >/dev/null 2>&1 || fail "the foreign file was not kept aside"
expect_exit 0 "revert" -- "$ISOCTL" revert
checks=$((checks + 1))
! grep -qx "0-15" "$root/proc/irq/24/smp_affinity_list" || fail "the other machine's original was restored here"
expect_daemon_stops "stop"

finish
