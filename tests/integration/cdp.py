#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A headless Chromium driven over the DevTools protocol (--remote-debugging-pipe:
commands on fd 3, answers on fd 4, each a JSON text ended by a NUL byte), with the
standard library only. For the Cockpit page's test: open a URL, wait for what the page
shows, click, take a screenshot.

Usage as a script: cdp.py SCRIPT.json, where SCRIPT.json is a list of steps:
  {"open": URL, "width": W, "height": H}
  {"wait": JS_EXPRESSION, "timeout": SECONDS, "what": TEXT}   until it is truthy
  {"click": CSS_SELECTOR}                                      a real mouse click
  {"eval": JS_EXPRESSION, "print": NAME}                       prints NAME=value
  {"screenshot": PATH}
Exit 0 when every step passed, 1 with the failing step on stderr."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, chromium="chromium"):
        self.profile = tempfile.mkdtemp(prefix="isolatord-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on its fd 3 and writes answers on its fd 4.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}

        def child_fds():
            # Fresh copies first: dup2 onto another number drops close-on-exec, and
            # neither end may be overwritten before it is copied.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        # close_fds=False: the other descriptors are close-on-exec already (PEP 446);
        # subprocess would otherwise close 3 and 4 after preexec_fn made them.
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
             "--user-data-dir=" + self.profile, "about:blank"],
            preexec_fn=child_fds, close_fds=False, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            answer = self.receive()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def receive(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        text, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(text)

    def open(self, url, width, height):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def wait(self, expression, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.1)
        return False

    def click(self, selector):
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        if not box:
            raise RuntimeError(f"nothing to click at {selector}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.profile], check=False)


def main():
    with open(sys.argv[1]) as f:
        steps = json.load(f)
    browser = Browser(os.environ.get("CHROMIUM", "chromium"))
    try:
        for step in steps:
            if "open" in step:
                browser.open(step["open"], step.get("width", 1280), step.get("height", 1400))
            elif "wait" in step:
                if not browser.wait(step["wait"], step.get("timeout", 15)):
                    page = browser.evaluate("document.body ? document.body.innerText : ''")
                    print(f"cdp: not within {step.get('timeout', 15)} s: {step.get('what', step['wait'])}\n"
                          f"the page says:\n{page}", file=sys.stderr)
                    return 1
            elif "click" in step:
                browser.click(step["click"])
            elif "eval" in step:
                print(f"{step['print']}={json.dumps(browser.evaluate(step['eval']))}")
            elif "screenshot" in step:
                browser.screenshot(step["screenshot"])
        return 0
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
