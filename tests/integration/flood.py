#!/usr/bin/python3
# flood.py METHOD CONNECTIONS INFLIGHT SECONDS: CONNECTIONS connections of their own to
# the system bus (DBUS_SYSTEM_BUS_ADDRESS), each sending INFLIGHT calls of METHOD on
# org.rtaudio.Isolator1 at once. SECONDS 0: waits for those answers. Otherwise sends a new
# call for each answer for SECONDS, then waits for the last answers (5 s at most). Prints
# "flooding" once every connection has sent its calls, then how many calls got each
# outcome ("N answered", "N <error name>"), most first; at once on SIGTERM. Run as the
# user that floods.
import os
import signal
import sys

from gi.repository import Gio, GLib

method, conns, inflight, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket")
flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
loop = GLib.MainLoop()
outcomes = {}
state = {"flooding": seconds > 0, "in_flight": 0}


def send(conn):
    state["in_flight"] += 1
    conn.call("org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1", method, None, None,
              Gio.DBusCallFlags.NONE, 120000, None, done, conn)


def done(conn, res, _conn):
    state["in_flight"] -= 1
    try:
        conn.call_finish(res)
        outcome = "answered"
    except GLib.Error as e:
        outcome = Gio.DBusError.get_remote_error(e) or e.message
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if state["flooding"]:
        send(conn)
    elif state["in_flight"] == 0:
        loop.quit()


def stop():
    state["flooding"] = False
    if state["in_flight"] == 0:
        loop.quit()
    GLib.timeout_add_seconds(5, loop.quit)
    return False


connections = [Gio.DBusConnection.new_for_address_sync(address, flags, None, None) for _ in range(conns)]
for c in connections:
    for _ in range(inflight):
        send(c)
    c.flush_sync(None)
print("flooding", flush=True)
if seconds > 0:
    GLib.timeout_add(int(seconds * 1000), stop)
GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, loop.quit)
loop.run()
for outcome, n in sorted(outcomes.items(), key=lambda kv: -kv[1]):
    print(n, outcome)
