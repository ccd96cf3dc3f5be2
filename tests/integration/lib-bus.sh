# shellcheck shell=bash
# A private system bus with the project's own policy, and isolatord on it; sourced by the
# integration tests and tools/demo. Needs: ISOLATORD, DBUS_POLICY_DIR (the dbus/ folder).
# Everything lives under one folder and is stopped by bus_cleanup.

# bus_start DIR [EXTRA_POLICY_FILE...]: Debian's system.conf without <user>, <fork>,
# <syslog>, the service helper and the system's own policy folders, listening in DIR.
BUS_SOCKET_DIRS=()
bus_start() {
  BUS_DIR=$1; shift
  mkdir -p "$BUS_DIR/system.d"
  chmod 755 "$BUS_DIR" # an unprivileged caller must reach the socket
  # dbus-daemon refuses a socket path over 99 bytes, which a clone in a deep folder
  # reaches (build folder + test folder): then the socket lives in a short folder of /tmp.
  local socket="$BUS_DIR/system_bus_socket"
  if [ ${#socket} -gt 99 ]; then
    BUS_SOCKET_DIRS+=("$(mktemp -d /tmp/isolatord-bus-XXXXXX)")
    chmod 755 "${BUS_SOCKET_DIRS[-1]}"
    socket="${BUS_SOCKET_DIRS[-1]}/system_bus_socket"
  fi
  cp "$DBUS_POLICY_DIR/org.rtaudio.Isolator.conf" "$BUS_DIR/system.d/"
  for extra in "$@"; do cp "$extra" "$BUS_DIR/system.d/"; done
  sed -e '/<user>/d' -e '/<fork\/>/d' -e '/<syslog\/>/d' -e '/<pidfile>/d' \
      -e '/<servicehelper>/d' -e '/<standard_system_servicedirs\/>/d' \
      -e '/<listen>/d' -e '/<includedir>/d' -e '/<include /d' \
      -e "s|</busconfig>|  <listen>unix:path=$socket</listen>\n  <includedir>$BUS_DIR/system.d</includedir>\n</busconfig>|" \
      /usr/share/dbus-1/system.conf >"$BUS_DIR/bus.conf"
  dbus-daemon --config-file="$BUS_DIR/bus.conf" --nofork --print-address=3 \
    3>"$BUS_DIR/address" >"$BUS_DIR/bus.log" 2>&1 &
  BUS_PID=$!
  for _ in $(seq 100); do [ -s "$BUS_DIR/address" ] && break; sleep 0.05; done
  [ -s "$BUS_DIR/address" ] || { echo "private bus did not start: $(cat "$BUS_DIR/bus.log")" >&2; return 1; }
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$socket"
}

# bus_has_owner NAME: true when NAME is owned on the private bus.
bus_has_owner() {
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    NameHasOwner s "$1" 2>/dev/null | grep -q true
}

# daemon_start ARGS...: isolatord with ARGS, waiting until it owns its name and has
# applied the partition (it applies once the name is owned, and answers calls after:
# a GetStatus that returns is the bus's READY=1).
daemon_start() {
  "$ISOLATORD" "$@" >>"$BUS_DIR/daemon.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 200); do
    bus_has_owner org.rtaudio.Isolator &&
      busctl --system --timeout=60 call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 \
        GetStatus >/dev/null 2>&1 && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "isolatord did not start; its log:" >&2; cat "$BUS_DIR/daemon.log" >&2
  return 1
}

# daemon_stop: SIGTERM and wait; returns the daemon's exit status.
daemon_stop() {
  [ -n "${DAEMON_PID:-}" ] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  local status=0
  wait "$DAEMON_PID" || status=$?
  DAEMON_PID=
  # The name goes with the connection; wait for the bus to notice.
  for _ in $(seq 100); do bus_has_owner org.rtaudio.Isolator || break; sleep 0.02; done
  return $status
}

# Runs from an EXIT trap under set -e: nothing here may stop it half-way.
# expect_daemon_stops DESCRIPTION: SIGTERM, and isolatord exits 0 (not through
# expect_exit, whose subshell could not wait for the daemon).
expect_daemon_stops() {
  checks=$((checks + 1))
  local status=0
  daemon_stop || status=$?
  [ "$status" -eq 0 ] || fail "$1: isolatord exited $status, expected 0"
}

# MOCK_PYTHON: Debian's own interpreter, the one python3-dbusmock is installed for.
MOCK_PYTHON=/usr/bin/python3
# mock_require: a test that needs python3-dbusmock skips (77) without it.
mock_require() {
  "$MOCK_PYTHON" -c 'import dbusmock' 2>/dev/null && return 0
  echo "python3-dbusmock is not installed (tools/deps installs it)" >&2
  exit 77
}
# mock_start TEMPLATE NAME LOG: python-dbusmock's TEMPLATE on the private system bus (its
# policy file given to bus_start), waiting until it owns NAME; MOCK_PID.
mock_start() {
  "$MOCK_PYTHON" -m dbusmock --system --template "$1" >"$3" 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 200); do bus_has_owner "$2" && return 0; sleep 0.05; done
  echo "dbusmock's $1 did not start: $(cat "$3")" >&2
  return 1
}

# session_bus_start: a private session bus (a desktop's or a bridge's), stopped by
# bus_cleanup; SESSION_BUS_ADDRESS. Not exported: given to the one process that needs it.
session_bus_start() {
  { read -r SESSION_BUS_ADDRESS; read -r SESSION_BUS_PID; } < <(dbus-daemon --session --fork --print-address=1 --print-pid=1)
}

# work_start NAME: the test's private folder $work (readable by the unprivileged callers),
# removed at exit with the bus, the daemon and every pid the test adds to children.
work_start() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-$1-XXXXXX")
  children=()
  trap 'for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done; bus_cleanup; rm -rf "$work"' EXIT
  chmod 755 "$work"
}

bus_cleanup() {
  if [ -n "${DAEMON_PID:-}" ]; then kill -KILL "$DAEMON_PID" 2>/dev/null || true; fi
  if [ -n "${MOCK_PID:-}" ]; then kill "$MOCK_PID" 2>/dev/null || true; fi
  if [ -n "${SESSION_BUS_PID:-}" ]; then kill "$SESSION_BUS_PID" 2>/dev/null || true; fi
  if [ -n "${BUS_PID:-}" ]; then kill "$BUS_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  for dir in "${BUS_SOCKET_DIRS[@]}"; do rm -rf "$dir"; done
}

# systemd_manager_start CGNAME: a `systemd --user` standing in for the system's manager
# (TESTING.md's recipe; the caller is root in a mount namespace of its own): its own
# /run/systemd, this shell moved into the cgroup CGNAME of each hierarchy there is, and
# its runtime folder in $work/xdg. Sets SD_PID and XDG_RUNTIME_DIR; its log is
# $work/systemd.log. The caller kills SD_PID and removes CGNAME at exit.
systemd_manager_start() {
  mount -t tmpfs tmpfs /run/systemd
  mkdir -p /run/systemd/system
  for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h" ] || continue
    mkdir -p "/sys/fs/cgroup/$h/$1"; echo $$ >"/sys/fs/cgroup/$h/$1/cgroup.procs"
  done
  export XDG_RUNTIME_DIR="$work/xdg"
  mkdir -m 700 "$XDG_RUNTIME_DIR"
  /lib/systemd/systemd --user >"$work/systemd.log" 2>&1 &
  SD_PID=$!
  for _ in $(seq 100); do [ -S "$XDG_RUNTIME_DIR/systemd/private" ] && break; sleep 0.05; done
  [ -S "$XDG_RUNTIME_DIR/systemd/private" ] || { echo "systemd --user did not start:"; cat "$work/systemd.log"; exit 1; }
}
