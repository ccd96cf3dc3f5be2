#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""isolator-tray under Xvfb on a private session bus, with a StatusNotifierWatcher of this
test's own and isolatord on the test's private system bus (simulated 7700X).

Usage: tray.py TRAY ISOLATORD ROOT CONFIG RUNTIME_DIR LOG SCREENSHOT
DISPLAY, DBUS_SESSION_BUS_ADDRESS and DBUS_SYSTEM_BUS_ADDRESS are the test's. Prints one
line a check; exit 0 when all passed."""

import os
import subprocess
import sys
import time

import gi

gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gio, GLib  # noqa: E402

WATCHER_XML = """<node><interface name="org.kde.StatusNotifierWatcher">
  <method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
  <method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
  <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
  <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
  <property name="ProtocolVersion" type="i" access="read"/>
  <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
  <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
  <signal name="StatusNotifierHostRegistered"/>
</interface></node>"""

tray_bin, isolatord, root, config, runtime, log_path, screenshot = sys.argv[1:8]
failures = 0
checks = 0
items = []  # (bus name, object path) of registered items


def check(what, ok, detail=""):
    global failures, checks
    checks += 1
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures += 1


def spin(until, timeout):
    """Runs the main loop (the watcher answers) until until() or timeout seconds."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while ctx.pending():
            ctx.iteration(False)
        try:
            if until():
                return True
        except GLib.Error:
            pass
        time.sleep(0.05)
    return False


session = Gio.bus_get_sync(Gio.BusType.SESSION, None)
system = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "RegisterStatusNotifierItem":
        service = params.unpack()[0]
        items.append((sender, service) if service.startswith("/") else (service, "/StatusNotifierItem"))
    invocation.return_value(None)


def on_get(conn, sender, path, iface, prop):
    return {"RegisteredStatusNotifierItems": GLib.Variant("as", [f"{n}{p}" for n, p in items]),
            "IsStatusNotifierHostRegistered": GLib.Variant("b", True),
            "ProtocolVersion": GLib.Variant("i", 0)}[prop]


NOTIFICATIONS_XML = """<node><interface name="org.freedesktop.Notifications">
  <method name="Notify">
    <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
    <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="as" direction="in"/>
    <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/><arg type="u" direction="out"/>
  </method>
</interface></node>"""
notifications = []  # (summary, body)


def on_notify(conn, sender, path, iface, method, params, invocation):
    args = params.unpack()
    notifications.append((args[3], args[4]))
    invocation.return_value(GLib.Variant("(u)", (len(notifications),)))


notify_node = Gio.DBusNodeInfo.new_for_xml(NOTIFICATIONS_XML)
session.register_object("/org/freedesktop/Notifications", notify_node.interfaces[0], on_notify, None, None)
session.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
                  GLib.Variant("(su)", ("org.freedesktop.Notifications", 4)), None, 0, -1, None)

node = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML)
session.register_object("/StatusNotifierWatcher", node.interfaces[0], on_call, on_get, None)
session.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
                  GLib.Variant("(su)", ("org.kde.StatusNotifierWatcher", 4)), None, 0, -1, None)


def owned():
    return system.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                            GLib.Variant("(s)", ("org.rtaudio.Isolator",)), None, 0, -1, None).unpack()[0]


def start_daemon():
    log = open(log_path, "a")
    d = subprocess.Popen([isolatord, "--root", root, "--config", config, "--runtime-dir", runtime],
                         stdout=log, stderr=log)
    spin(owned, 10)
    isolator("GetStatus")  # it applies once it owns the name; a call returns after that
    return d


def isolator(method):
    return system.call_sync("org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1", method, None,
                            None, 0, 30000, None).unpack()


def item_props():
    name, path = items[0]
    return session.call_sync(name, path, "org.freedesktop.DBus.Properties", "GetAll",
                             GLib.Variant("(s)", ("org.kde.StatusNotifierItem",)), None, 0, 5000, None).unpack()[0]


def follows(what, status, icon, title_has, timeout=15):
    seen = {}

    def ok():
        seen.update(item_props())
        return seen.get("Status") == status and seen.get("IconName") == icon and title_has in seen.get("Title", "")
    good = spin(ok, timeout)
    check(f"{what}: Status {status}, IconName {icon}, Title with \"{title_has}\"", good,
          f"Status {seen.get('Status')}, IconName {seen.get('IconName')}, Title {seen.get('Title')!r}")


def menu_labels(layout, out):
    _id, props, children = layout
    out.append((_id, props.get("label", "")))
    for child in children:
        menu_labels(child, out)
    return out


cpuset = os.path.join(root, "sys/fs/cgroup/system.slice/cpuset.cpus")
daemon = start_daemon()
tray = subprocess.Popen([tray_bin], stdout=open(log_path, "a"), stderr=subprocess.STDOUT)
try:
    check("the tray registers its item with the watcher", spin(lambda: items, 20), "no RegisterStatusNotifierItem")
    if not items:
        sys.exit(1)
    follows("active", "Active", "emblem-default", "isolatord: active")
    # ThresholdUs=1 (tray.sh): every wake-up is late, LatencyExceeded comes once a
    # second; the tray tells the desktop once, then waits 30 s.
    latency_notes = lambda: [n for n in notifications if n[0] == "Audio CPU latency exceeded"]
    check("LatencyExceeded raises a desktop notification", spin(lambda: latency_notes(), 10), notifications)
    spin(lambda: False, 3)
    check("at most one a kind every 30 s", len(latency_notes()) == 1, latency_notes())

    # A drift that cannot be put back: a foreign value bind-mounted read-only over the
    # slice's cpuset.cpus (a mount is no inotify event: the Verify finds it).
    foreign = os.path.join(os.path.dirname(runtime), "foreign-cpus")
    with open(foreign, "w") as f:
        f.write("0-15\n")
    subprocess.run(["mount", "--bind", foreign, cpuset], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", cpuset], check=True)
    try:
        isolator("Verify")
        follows("a drift that stays: degraded", "NeedsAttention", "dialog-warning", "isolatord: degraded")
    finally:
        subprocess.run(["umount", cpuset], check=True)

    daemon.terminate()
    daemon.wait()
    follows("the daemon stopped: not running", "Passive", "process-stop", "not running")
    daemon = start_daemon()  # its first apply puts system.slice back
    follows("the daemon back: active", "Active", "emblem-default", "isolatord: active")

    menu_path = item_props().get("Menu")
    check("the item has a menu", bool(menu_path), "no Menu property")
    labels = []

    def layout_has_groups():
        labels.clear()
        _rev, layout = session.call_sync(items[0][0], menu_path, "com.canonical.dbusmenu", "GetLayout",
                                         GLib.Variant("(iias)", (0, -1, [])), None, 0, 5000, None).unpack()
        menu_labels(layout, labels)
        return any(text.startswith("hqplayer: CPUs 3-7,11-15") for _i, text in labels)
    spin(layout_has_groups, 15)
    texts = [text for _i, text in labels]
    for want in ("State: active", "Verify now", "Latency window…", "Apply", "Revert", "Quit"):
        check(f"the menu lists \"{want}\"", want in texts, texts)
    # ThresholdUs=1: spikes all the time; this fake root has no tracefs, and its counters
    # do not move: the line says so.
    check("the menu names the last spike and its first cause",
          any(t.startswith("Last spike: CPU 1, ") and t.endswith(" µs: no counter moved") for t in texts), texts)
    # This machine has CPUs 0 and 1: of the groups' CPUs only diretta's CPU 1 is measured.
    check("the menu lists each group with its worst latency",
          any(t.startswith("diretta: CPUs 1-2,9-10 — worst p99 ") for t in texts) and
          "hqplayer: CPUs 3-7,11-15 — not measured" in texts, texts)

    def click(label):
        item_id = next(i for i, text in labels if text == label)
        session.call_sync(items[0][0], menu_path, "com.canonical.dbusmenu", "Event",
                          GLib.Variant("(isvu)", (item_id, "clicked", GLib.Variant("s", ""), 0)), None, 0, 5000, None)

    before = isolator("GetStatus")[0]["verify_count"]
    click("Verify now")
    check("\"Verify now\" reaches the daemon",
          spin(lambda: isolator("GetStatus")[0]["verify_count"] > before, 10), f"verify count stays {before}")

    click("Latency window…")
    Gdk.init([])
    window = Gdk.get_default_root_window()
    shot = {"bars": 0}

    def bars_drawn():
        """The window at 0,0 (no window manager), redrawn every second: its bars' blue."""
        spin(lambda: False, 0.5)
        pixbuf = Gdk.pixbuf_get_from_window(window, 0, 0, 640, 150)
        if not pixbuf:
            return False
        pixels, stride, channels = pixbuf.get_pixels(), pixbuf.get_rowstride(), pixbuf.get_n_channels()
        shot["bars"] = sum(1 for y in range(pixbuf.get_height()) for x in range(pixbuf.get_width())
                           if pixels[y * stride + x * channels:y * stride + x * channels + 3] == bytes((0, 102, 204)))
        pixbuf.savev(screenshot, "png", [], [])
        return shot["bars"] > 100
    check("the latency window shows bars (pixels of the bars' blue in the screenshot)",
          spin(bars_drawn, 15), f"{shot['bars']} pixels")
finally:
    tray.terminate()
    tray.wait()
    daemon.terminate()
    daemon.wait()

print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
