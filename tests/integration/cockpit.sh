#!/usr/bin/env bash
# The Cockpit page (cockpit/isolator) in a real headless Chromium, against cockpit-ws
# --local-session=cockpit-bridge, whose bridge talks to the test's private system bus
# with isolatord on the simulated 7700X (cgroupfs backend, sampler on): the page shows
# the partition (a CPU grid of 16, the groups), findings with their fixes, a latency
# histogram with bars and the IRQ and noise tables; a mouse click on Verify reaches the
# daemon (its verify count goes up). The screenshot is kept in the build folder
# (cockpit-isolator.png).
set -euo pipefail

: "${ISOLATORD:?}" "${ISOCTL:?}" "${ISOLATORD_FIXTURES:?}" "${DBUS_POLICY_DIR:?}" "${ISOLATORD_PYTHON:?}"
: "${COCKPIT_PAGE:?}" "${ARTIFACT_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-test.sh"
. "$here/lib-bus.sh"

ws=/usr/lib/cockpit/cockpit-ws
if [ ! -x "$ws" ] || ! command -v cockpit-bridge >/dev/null || ! command -v chromium >/dev/null; then
  echo "cockpit-ws, cockpit-bridge and chromium are missing (tools/deps installs them)" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-cockpit-XXXXXX")
ws_pid=
cleanup() {
  if [ -n "$ws_pid" ]; then kill "$ws_pid" 2>/dev/null || true; wait "$ws_pid" 2>/dev/null || true; fi
  bus_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
cp -a "$ISOLATORD_FIXTURES/ryzen-7700x" "$work/root"
printf '[Sampler]\nEnabled=true\n[Daemon]\nCgroupBackend=cgroupfs\n' >"$work/isolatord.conf"

bus_start "$work/bus"
daemon_start --root "$work/root" --config "$work/isolatord.conf" --runtime-dir "$work/run"
sleep 1.5 # samples, and the noise monitor's two readings

# The page found without installing it; a session bus of the test's own for the bridge
# (else it starts one that outlives it); no login (--local-session).
mkdir -p "$work/share/cockpit" "$work/xdg-config"
ln -s "$COCKPIT_PAGE" "$work/share/cockpit/isolator"
session_bus_start
port=$("$ISOLATORD_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
XDG_DATA_DIRS="$work/share:/usr/share" XDG_CONFIG_DIRS="$work/xdg-config" DBUS_SESSION_BUS_ADDRESS="$SESSION_BUS_ADDRESS" \
  "$ws" --port "$port" --address 127.0.0.1 --local-session=cockpit-bridge >"$work/ws.log" 2>&1 &
ws_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

verifies() { busctl --system call org.rtaudio.Isolator /org/rtaudio/Isolator org.rtaudio.Isolator1 GetStatus -j |
  "$ISOLATORD_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["verify_count"]["data"])'; }

shot="$ARTIFACT_DIR/cockpit-isolator.png"
url="http://127.0.0.1:$port/cockpit/@localhost/isolator/index.html"
"$ISOLATORD_PYTHON" - "$url" "$shot" >"$work/steps.json" <<'PY'
import json, sys
url, shot = sys.argv[1:3]
counter = "parseInt((document.getElementById('counters').textContent.match(/verifies: (\\d+)/) || [0, -1])[1], 10)"
text = lambda id: f"document.getElementById('{id}').innerText"
steps = [
    {"open": url, "width": 1280, "height": 1500},
    {"wait": "document.querySelectorAll('#cpus .cpu').length === 16", "what": "a CPU grid of 16", "timeout": 30},
    {"wait": f"{text('cpus')}.includes('housekeeping')", "what": "CPUs marked housekeeping"},
    {"wait": f"['diretta', 'hqplayer', '1-2,9-10', '3-7,11-15'].every(t => {text('groups')}.includes(t))",
     "what": "both groups and their CPUs in the partition table"},
    {"wait": "[...document.querySelectorAll('#findings tr.required td:last-child')].some(td => td.textContent.length > 10)",
     "what": "a required finding with its why and fix"},
    {"wait": "document.querySelectorAll('#latency svg.histogram rect.bar').length > 3", "what": "a latency histogram with bars"},
    {"wait": f"{text('latency')}.includes('CPU 1: p99')", "what": "CPU 1's figures under its histogram"},
    {"wait": "document.querySelectorAll('#noise tr').length > 14", "what": "the noise table, a row per audio CPU"},
    {"wait": f"{text('last-spike')}.startsWith('Last spike: ')", "what": "the last spike's line"},
    {"wait": f"{text('irqs')}.trim() === 'none'", "what": "no IRQ reaching the groups' CPUs: all pinned"},
    {"wait": f"{counter} >= 1", "what": "the verify count after the page's own first verify"},
    {"eval": f"window.before = {counter}", "print": "before"},
    {"click": "#verify"},
    {"wait": f"{counter} > window.before", "what": "the verify count after a click on Verify"},
    {"eval": "document.getElementById('error').hidden", "print": "no_error"},
    {"screenshot": shot},
]
json.dump(steps, sys.stdout, indent=1)
PY
expect_exit 0 "the page in Chromium (cdp.py)" -- "$ISOLATORD_PYTHON" "$here/cdp.py" "$work/steps.json"
before=$(sed -n 's/^before=//p' <<<"$out")
expect_in "no error shown" "no_error=true"
after=$(verifies)
checks=$((checks + 1))
[ -n "$before" ] && [ "$after" -gt "$before" ] ||
  fail "a click on Verify did not reach the daemon: verify count $before before, $after after; ws log: $(cat "$work/ws.log")"
checks=$((checks + 1))
[ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
  fail "no PNG screenshot at $shot"

finish
