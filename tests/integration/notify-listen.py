#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Stands in for systemd's notify socket: binds SOCKET, writes every datagram received
(sd_notify messages) to OUT, one per line, until killed. Usage: notify-listen.py SOCKET OUT"""
import os
import socket
import sys

sock_path, out_path = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
os.chmod(sock_path, 0o777)
with open(out_path, "a", buffering=1) as out:
    out.write("LISTENING\n")
    while True:
        data = s.recv(4096).decode(errors="replace")
        out.write(data.replace("\n", " | ") + "\n")
