#!/usr/bin/env python3
"""QEMU's two control channels, for the VM test: QMP (the machine: hot-plug, wake-up,
status, quit) and the guest agent (commands in the guest with their exit codes and
output, files in and out). Standard library only.

As a module: Qmp(path) and Agent(path). As a command, for shell tests:
  qemu.py qmp SOCK COMMAND [ARGS-JSON]         prints the "return" value as JSON
  qemu.py qmp-wait SOCK STATUS [--timeout S]   until query-status says STATUS
  qemu.py ping SOCK [--timeout S]              until the agent answers
  qemu.py exec SOCK [--timeout S] -- ARGV...   runs ARGV, its output and exit status
  qemu.py spawn SOCK -- ARGV...                starts ARGV, prints the agent's pid for it
  qemu.py collect SOCK PID [--timeout S]       the output and exit status of a spawn
  qemu.py put SOCK LOCAL REMOTE [MODE]         copies a file into the guest
  qemu.py json EXPR                            evaluates EXPR with d = the JSON on stdin
Exit statuses of exec/collect: the guest command's own; 124 when it did not end in time,
125 when the channel failed (the reason on stderr).
"""

import base64
import json
import os
import random
import socket
import sys
import time

GUEST_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
             "HOME=/root", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "TERM=dumb"]


class ChannelError(Exception):
    pass


class _Lines:
    """A unix socket read as newline-terminated JSON documents."""

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise ChannelError(f"cannot connect to {path}: {e}") from e
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, obj, prefix=b""):
        self.sock.sendall(prefix + json.dumps(obj).encode() + b"\n")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelError("no answer in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise ChannelError("no answer in time") from e
        if not chunk:
            raise ChannelError("the channel closed")
        self.buf += chunk

    def skip_to(self, marker, deadline):
        while marker not in self.buf:
            self.buf = b""
            self._fill(deadline)
        self.buf = self.buf[self.buf.index(marker) + 1:]

    def read(self, deadline):
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.strip()
        if not line:
            return self.read(deadline)
        try:
            return json.loads(line)
        except ValueError as e:
            raise ChannelError(f"not JSON: {line[:200]!r}") from e


class Qmp:
    """The machine's monitor. Events that arrive between answers are kept in .events."""

    def __init__(self, path, timeout=10):
        self.timeout = timeout
        self.ch = _Lines(path, timeout)
        self.events = []
        greeting = self.ch.read(time.monotonic() + timeout)
        if "QMP" not in greeting:
            raise ChannelError(f"not a QMP greeting: {greeting}")
        self.command("qmp_capabilities")

    def close(self):
        self.ch.close()

    def command(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.ch.send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self.ch.read(deadline)
            if "event" in answer:
                self.events.append(answer)
                continue
            if "error" in answer:
                raise ChannelError(f"{name}: {answer['error'].get('desc', answer['error'])}")
            return answer.get("return")

    def status(self):
        return self.command("query-status")["status"]


class Agent:
    """qemu-guest-agent on its virtio-serial port. Each connection starts with
    guest-sync-delimited: the 0xFF byte resets the agent's parser, and the answer carrying
    our random id (after the agent's own 0xFF) tells that whatever came before it (an answer
    a previous client never read) is behind us."""

    def __init__(self, path, timeout=30, connect_timeout=90):
        self.path = path
        self.timeout = timeout
        # A guest whose housekeeping CPUs are loaded (the benchmark's stress-ng, TCG on a
        # shared host) may leave the agent unscheduled for a while: try again until then.
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._connect()
                return
            except (ChannelError, OSError):
                if getattr(self, "ch", None):
                    self.ch.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def _connect(self):
        timeout = min(self.timeout, 15)
        self.ch = _Lines(self.path, timeout)
        sync_id = random.randrange(1, 2**31)
        self.ch.send({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}, prefix=b"\xff")
        deadline = time.monotonic() + timeout
        while True:
            self.ch.skip_to(b"\xff", deadline)
            answer = self.ch.read(deadline)
            if answer.get("return") == sync_id:
                break

    def close(self):
        self.ch.close()

    def command(self, name, timeout=None, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.ch.send(msg)
        answer = self.ch.read(time.monotonic() + (timeout or self.timeout))
        if "error" in answer:
            raise ChannelError(f"{name}: {answer['error'].get('desc', answer['error'])}")
        return answer.get("return")

    def spawn(self, argv, stdin=None):
        args = {"path": argv[0], "arg": list(argv[1:]), "env": GUEST_ENV, "capture-output": True}
        if stdin is not None:
            args["input-data"] = base64.b64encode(stdin).decode()
        return self.command("guest-exec", timeout=max(self.timeout, 120), **args)["pid"]

    def collect(self, pid, timeout):
        """(exit status, stdout bytes, stderr bytes); status 124 when not ended in time."""
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            try:
                st = self.command("guest-exec-status", pid=pid)
            except (ChannelError, OSError):
                # A guest busy enough (TCG, every CPU loaded) answers late: asking again is
                # harmless, on a fresh connection so that a late answer is not taken for this one.
                if time.monotonic() > deadline:
                    raise
                self.ch.close()
                time.sleep(0.2)  # a guest powering off closes the channel: no busy loop until the deadline
                try:
                    self._connect()
                except ChannelError:
                    pass
                continue
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", ""))
                err = base64.b64decode(st.get("err-data", ""))
                code = st.get("exitcode")
                if code is None:
                    code = 128 + st.get("signal", 0)
                return code, out, err
            if time.monotonic() > deadline:
                return 124, b"", f"guest process {pid} did not end within {timeout} s\n".encode()
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)

    def run(self, argv, timeout=120, stdin=None):
        return self.collect(self.spawn(argv, stdin), timeout)

    def put(self, local, remote, mode=None):
        with open(local, "rb") as f:
            data = f.read()
        handle = self.command("guest-file-open", path=remote, mode="w")
        try:
            for i in range(0, max(len(data), 1), 48 * 1024):
                chunk = data[i:i + 48 * 1024]
                self.command("guest-file-write", handle=handle, **{"buf-b64": base64.b64encode(chunk).decode()})
        finally:
            self.command("guest-file-close", handle=handle)
        if mode:
            code, out, err = self.run(["/bin/chmod", mode, remote], timeout=60)
            if code != 0:
                raise ChannelError(f"chmod {mode} {remote}: {err.decode(errors='replace')}")


def _timeout(args, default):
    if "--timeout" in args:
        i = args.index("--timeout")
        value = float(args[i + 1])
        del args[i:i + 2]
        return value
    return default


def _argv(args):
    if "--" not in args:
        raise SystemExit("usage: ... -- ARGV")
    return args[args.index("--") + 1:]


def _write(out, err):
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    verb, args = argv[1], argv[2:]
    try:
        if verb == "json":
            # Never fails: a document that is not what EXPR expects prints why, which the
            # assertion comparing it then shows. items: the document's list (isoctl prints
            # some answers as a list, others as an object holding one).
            text = sys.stdin.read()
            try:
                d = json.loads(text)
                items = d if isinstance(d, list) else next((v for v in d.values() if isinstance(v, list)), [])
                value = eval(args[0], {"d": d, "items": items})  # noqa: S307 - the test's own expressions
            except Exception as e:  # noqa: BLE001
                print(f"(json: {type(e).__name__}: {e}; input: {text[:300]!r})")
                return 0
            print(json.dumps(value) if isinstance(value, (dict, list)) or value is None else value)
            return 0
        if verb == "qmp":
            qmp = Qmp(args[0])
            extra = json.loads(args[2]) if len(args) > 2 else {}
            print(json.dumps(qmp.command(args[1], **extra)))
            return 0
        if verb == "qmp-wait":
            timeout = _timeout(args, 60)
            deadline = time.monotonic() + timeout
            last = None
            while time.monotonic() < deadline:
                try:
                    qmp = Qmp(args[0])
                    last = qmp.status()
                    qmp.close()
                except ChannelError as e:
                    last = str(e)
                if last == args[1]:
                    return 0
                time.sleep(0.2)
            print(f"status {last!r}, not {args[1]!r} within {timeout} s", file=sys.stderr)
            return 124
        if verb == "ping":
            timeout = _timeout(args, 300)
            deadline = time.monotonic() + timeout
            last = ""
            while time.monotonic() < deadline:
                try:
                    agent = Agent(args[0], timeout=min(5, max(deadline - time.monotonic(), 0.1)), connect_timeout=0)
                    agent.command("guest-ping")
                    agent.close()
                    return 0
                except (ChannelError, OSError) as e:
                    last = str(e)
                time.sleep(1)
            print(f"the guest agent did not answer within {timeout} s ({last})", file=sys.stderr)
            return 124
        agent = Agent(args[0])
        if verb == "exec":
            timeout = _timeout(args, 120)
            code, out, err = agent.run(_argv(args), timeout=timeout)
            _write(out, err)
            return code
        if verb == "spawn":
            print(agent.spawn(_argv(args)))
            return 0
        if verb == "collect":
            timeout = _timeout(args, 120)
            code, out, err = agent.collect(int(args[1]), timeout)
            _write(out, err)
            return code
        if verb == "put":
            agent.put(args[1], args[2], args[3] if len(args) > 3 else None)
            return 0
        raise SystemExit(__doc__)
    except (ChannelError, OSError) as e:
        print(f"qemu.py {verb}: {e}", file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv))
