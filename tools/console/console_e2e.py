#!/usr/bin/python3
"""Drives the `mpi console` page in headless Chromium through the Chrome DevTools protocol.

Opens the page, checks that Start is disabled and refused without the scanner key, gives the key file to
the page's file input, starts a scan through the confirmation dialog, measures how often the live image is
redrawn (at least --min-updates times over --measure seconds; --min-rate Hz when given), prints "image update rate: ..." and then waits for
the fault banner (the caller injects the fault), saves a screenshot and exits 0 only if everything held.
Chromium and its profile folder are removed on every way out (also on SIGTERM).

Needs Debian's chromium and python3-websocket:
    console_e2e.py --url http://127.0.0.1:PORT/ --key scanner.key --screenshot console.png --expect-fault INTERLOCK
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket


class Failure(Exception):
    pass


def log(text):
    print(text, flush=True)


class DevTools:
    """One page target's DevTools connection: commands by id, events ignored."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 1

    def call(self, method, **params):
        ident = self.next_id
        self.next_id += 1
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == ident:
                if "error" in reply:
                    raise Failure(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise Failure(f"page script error in {expression!r}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout_s, what):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise Failure(f"timed out after {timeout_s} s waiting for {what}")

    def click(self, element_id):
        if not self.evaluate(f"(() => {{ const e = document.getElementById('{element_id}'); if (!e || e.disabled) return false; e.click(); return true; }})()"):
            raise Failure(f"#{element_id} is missing or disabled")

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def start_chromium(chromium, profile, url):
    argv = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
            f"--user-data-dir={profile}", "--remote-allow-origins=*", "--window-size=1400,1500",
            "--no-first-run", "--no-default-browser-check", url]
    # Its own process group (ended as a whole), at the lowest CPU priority: on a small machine the browser
    # must not starve the simulated scanner's real-time threads (the board's watchdog would end the scan).
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "chromium.log"), "w"),
                               start_new_session=True, preexec_fn=lambda: os.nice(19))
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure(f"chromium exited with {process.returncode} before it opened its DevTools port")
        try:
            with open(port_file) as f:
                port = int(f.readline().strip())
            return process, port
        except (OSError, ValueError):
            time.sleep(0.1)
    raise Failure("chromium did not write DevToolsActivePort within 30 s")


def stop_chromium(process):
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def page_target(port, url):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            for target in json.load(r):
                if target.get("type") == "page" and target.get("url", "").startswith(url):
                    return target["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise Failure(f"no page target for {url}")


def run(args, profile):
    process = None
    tools = None
    try:
        process, port = start_chromium(args.chromium, profile, args.url)
        tools = DevTools(page_target(port, args.url))
        tools.call("Page.enable")
        tools.call("Runtime.enable")
        ok = True

        tools.wait_for("window.consoleStats && consoleStats.pageLinkOpen", 60, "the page's WebSocket")
        tools.wait_for("document.getElementById('board-connection').textContent === 'connected'", 60, "the board connection")
        log("page open; board connected, mode " + tools.evaluate("document.getElementById('board-mode').textContent"))

        # Without the key: the buttons are disabled and a start sent anyway is refused by the console.
        if not tools.evaluate("document.getElementById('start').disabled"):
            raise Failure("Start is enabled before the key was proven")
        tools.evaluate("socket.send(JSON.stringify({type: 'start'}))")
        refusal = tools.wait_for("Array.from(document.querySelectorAll('#messages li')).map(e => e.textContent)"
                                 ".find(t => t.includes('start: refused')) || ''", 30, "the refusal of an unauthenticated start")
        log("without the key: Start disabled; a start sent anyway: " + refusal.split("  ", 1)[-1])

        # The key file through the page's file input; the page proves it (WebCrypto HMAC), the key stays here.
        document = tools.call("DOM.getDocument")
        node = tools.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#key-file")
        tools.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[os.path.abspath(args.key)])
        tools.click("key-submit")
        tools.wait_for("consoleStats.authenticated", 30, "the key proof to be accepted")
        tools.wait_for("!document.getElementById('start').disabled", 30, "Start to be enabled")
        log("key proven: " + tools.evaluate("document.getElementById('auth-message').textContent"))

        # Start behind the confirmation dialog.
        tools.click("start")
        tools.wait_for("!document.getElementById('confirm-modal').hidden", 20, "the confirmation dialog")
        tools.click("confirm-ok")
        tools.wait_for("consoleStats.imageUpdates >= 5", 60, "the live image")
        u0, f0, t0 = tools.evaluate("[consoleStats.imageUpdates, consoleStats.frames, performance.now()]")
        time.sleep(args.measure)
        u1, f1, t1 = tools.evaluate("[consoleStats.imageUpdates, consoleStats.frames, performance.now()]")
        # A loaded machine slows the simulated scanner and the page: wait (bounded) for the redraws.
        deadline = time.monotonic() + args.update_timeout
        while u1 - u0 < args.min_updates and time.monotonic() < deadline:
            time.sleep(0.2)
            u1, f1, t1 = tools.evaluate("[consoleStats.imageUpdates, consoleStats.frames, performance.now()]")
        seconds = (t1 - t0) / 1000.0
        rate = (u1 - u0) / seconds
        log(f"image update rate: {rate:.1f} Hz over {seconds:.2f} s ({u1 - u0} updates; scan frames {f0} -> {f1}; "
            f"page shows {tools.evaluate('consoleStats.rateHz'):.1f} Hz)")
        if u1 - u0 < args.min_updates:
            log(f"FAIL: the image was redrawn only {u1 - u0} times in {seconds:.2f} s, fewer than {args.min_updates}")
            ok = False
        if rate < args.min_rate:
            log(f"FAIL: the image updated at {rate:.1f} Hz, less than {args.min_rate} Hz")
            ok = False
        if f1 <= f0:
            log("FAIL: the frame count did not advance")
            ok = False

        # The caller injects a fault now; the banner must name it.
        log("waiting for the fault banner")
        banner = tools.wait_for("consoleStats.faultText", args.fault_timeout, "the fault banner")
        visible = tools.evaluate("!document.getElementById('fault-banner').hidden")
        log(f"fault banner: {banner}")
        if not visible or args.expect_fault not in banner:
            log(f"FAIL: the banner is {'shown' if visible else 'hidden'} and does not name {args.expect_fault}")
            ok = False
        time.sleep(0.5)  # the scan's end reaches the page
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        log(f"screenshot: {os.path.abspath(args.screenshot)}")
        return ok
    finally:
        if tools is not None:
            tools.close()
        stop_chromium(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the console's page, as `mpi console` prints it")
    parser.add_argument("--key", required=True, help="the scanner's link key file")
    parser.add_argument("--screenshot", required=True, help="PNG to write")
    parser.add_argument("--expect-fault", default="", help="text the fault banner must contain")
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--min-updates", type=int, default=10, help="image redraws the measuring window must see")
    parser.add_argument("--update-timeout", type=float, default=40.0,
                        help="seconds the window may be extended until it saw --min-updates redraws")
    parser.add_argument("--min-rate", type=float, default=0.0,
                        help="lowest acceptable image update rate (Hz; 0: measured and printed only, as a shared machine may be slow)")
    parser.add_argument("--measure", type=float, default=2.5, help="seconds over which the rate is measured")
    parser.add_argument("--fault-timeout", type=float, default=30.0)
    args = parser.parse_args()
    if shutil.which(args.chromium) is None:
        print(f"console_e2e: {args.chromium} not found: install Debian's chromium (tools/setup.sh)", file=sys.stderr)
        return 2
    # SIGTERM (the test ending us) unwinds through the finally blocks: Chromium and the profile go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    profile = tempfile.mkdtemp(prefix="mpi-console-chromium-")
    try:
        return 0 if run(args, profile) else 1
    except Failure as e:
        print(f"console_e2e: FAIL: {e}", flush=True)
        return 1
    finally:
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
