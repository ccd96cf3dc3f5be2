#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compares an interface as documented (dbus/*.xml) with the daemon's live introspection:
the same methods, arguments, properties and signals, with the same names, types and
directions. Usage: check-introspection.py DOC.xml LIVE.xml INTERFACE"""
import sys
import xml.etree.ElementTree as ET


def describe(path, name):
    iface = next((i for i in ET.parse(path).getroot().iter("interface") if i.get("name") == name), None)
    if iface is None:
        sys.exit(f"{path}: no interface {name}")
    out = set()
    for m in iface.findall("method"):
        args = tuple((a.get("name"), a.get("type"), a.get("direction", "in")) for a in m.findall("arg"))
        out.add(("method", m.get("name"), args))
    for s in iface.findall("signal"):
        args = tuple((a.get("name"), a.get("type")) for a in s.findall("arg"))
        out.add(("signal", s.get("name"), args))
    for p in iface.findall("property"):
        emits = next((a.get("value") for a in p.findall("annotation")
                      if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal"), "true")
        out.add(("property", p.get("name"), (p.get("type"), p.get("access"), emits)))
    return out


def main():
    doc, live, name = sys.argv[1:4]
    d, l = describe(doc, name), describe(live, name)
    for item in sorted(d - l, key=str):
        print(f"documented but not served: {item}")
    for item in sorted(l - d, key=str):
        print(f"served but not documented: {item}")
    if d != l:
        return 1
    print(f"{name}: {len(d)} members match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
