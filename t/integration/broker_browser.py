#!/usr/bin/env python3
"""A real browser as an MQTT client: headless Chromium runs MQTT.js over
ws:// and wss:// against the broker.

Usage:
    broker_browser.py --broker-cmd PATH [--mode cairn|mosquitto]
                      [--shot-dir DIR] [--only REGEX] [--keep] [-v]

Each case starts a broker with websockets listeners (ws_harness.py), and
serves t/browser/page.html with MQTT.js's browser bundle (copied from
t/browser/node_modules, which t/browser/install.sh fills from
package-lock.json; never from a CDN) over a loopback HTTP server, so
that the page has a real Origin, which the listeners allow.  Debian's
chromium loads the page headless with a fresh profile: the page
subscribes, publishes, receives its own message and one this script
published over plain MQTT (retained), and publishes its verdict to a
topic this script waits on.  The page's last state is kept as a
screenshot in --shot-dir (meson's log directory when run by meson),
taken through chromium's DevTools protocol (see screenshot()).

wss:// uses the test's own CA, which chromium does not trust: the wss
case alone runs chromium with --ignore-certificate-errors (the TLS
handshake, the upgrade and MQTT still all happen; only the chain check
is skipped).  A third case serves the page from an origin the listener
does not allow: the browser gets no connection (HTTP 403) and the
broker logs why.

Without chromium or MQTT.js every case is a SKIP with the reason, never
a pass.  `--mode mosquitto` runs the two client cases against
mosquitto's websockets listener.
"""

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Fail, Skip, check, eq, test, uniq,  # noqa: E402
                          mqtt_connect, subscribe, recv_publishes)
from ws_harness import (WsBroker, WsConn, broker_log,  # noqa: E402
                        cairn_only, frame)

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, '..', 'browser')
BUNDLE = os.path.join(BROWSER_DIR, 'node_modules', 'mqtt', 'dist',
                      'mqtt.min.js')
CHROMIUM = None
SHOT_DIR = None
PAGE_TIMEOUT = 25.0


def chromium_path():
    for c in ('chromium', 'chromium-browser'):
        p = shutil.which(c)
        if p:
            return p
    return '/usr/bin/chromium' if os.access('/usr/bin/chromium',
                                            os.X_OK) else None


class PageServer:
    """The page and MQTT.js on a loopback HTTP server (a thread)."""

    def __init__(self):
        self.dir = h.scratch(uniq('page'))
        os.makedirs(self.dir)
        shutil.copy(os.path.join(BROWSER_DIR, 'page.html'),
                    os.path.join(self.dir, 'index.html'))
        shutil.copy(BUNDLE, os.path.join(self.dir, 'mqtt.min.js'))
        handler = functools.partial(Quiet, directory=self.dir)
        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                   handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.origin = 'http://127.0.0.1:%d' % self.port
        self.th = threading.Thread(target=self.srv.serve_forever,
                                   daemon=True)
        self.th.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def run_page(page, url, base, insecure=False):
    """Chromium on the page, with a fresh profile and DevTools on a
    loopback port of its choosing (for the screenshot); returns its
    Popen, with .profile."""
    prof = h.scratch(uniq('chromium-profile'))
    cmd = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
           '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--user-data-dir=' + prof,
           '--window-size=900,360', '--remote-debugging-address=127.0.0.1',
           '--remote-debugging-port=0']
    if insecure:
        cmd.append('--ignore-certificate-errors')
    cmd.append('%s/index.html?url=%s&base=%s' % (page.origin, url, base))
    # Its own process group, so that its zygote and renderers go with
    # it (killed by the group of the pid we started, nothing wider).
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    h.track(p)
    p.profile = prof
    return p


def screenshot(p, shot):
    """The page as it is now, into shot (PNG), through DevTools'
    Page.captureScreenshot over its WebSocket (our raw client).  Not
    chromium's --screenshot: that one shoots when virtual time runs out,
    which races the page's MQTT round trips (virtual time jumps ahead
    while only a WebSocket is busy)."""
    portf = os.path.join(p.profile, 'DevToolsActivePort')
    h.wait_until(lambda: os.path.exists(portf) and
                 open(portf).read().strip(), 10, 'DevToolsActivePort')
    port = int(open(portf).read().split()[0])
    with urllib.request.urlopen('http://127.0.0.1:%d/json/list' % port,
                                timeout=3) as r:
        targets = json.load(r)
    pages = [t for t in targets if t.get('type') == 'page']
    check(pages, 'no page among the DevTools targets: %r' % targets)
    path = urllib.parse.urlparse(pages[0]['webSocketDebuggerUrl']).path
    c = WsConn(port)
    try:
        st, _, _ = c.upgrade(path=path, proto=None)
        eq(st, 101, 'DevTools upgrade')
        c.send(frame(1, json.dumps({'id': 1, 'method':
                                    'Page.captureScreenshot',
                                    'params': {'format': 'png'}}).encode()))
        deadline = time.monotonic() + 10
        while True:
            op, data = c.recv_frame(max(0.1, deadline - time.monotonic()))
            if op != 1:
                continue
            m = json.loads(data)
            if m.get('id') == 1:
                break
        check('result' in m, 'captureScreenshot: %r' % m)
        with open(shot, 'wb') as f:
            f.write(base64.b64decode(m['result']['data']))
    finally:
        c.close()


def stop_page(p, wait):
    """Lets chromium finish (its screenshot) for up to wait seconds, then
    kills its process group."""
    try:
        p.wait(wait)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    h.kill_proc(p)


def browser_case(tls, name):
    page = PageServer()
    try:
        # The listeners allow the page's origin (and only it).
        with WsBroker(tls=tls, origins=[page.origin]) as b:
            base = uniq('browser')
            c, _ = mqtt_connect(b.port)
            subscribe(c, [(base + '/result', 1)])
            h.publish(c, base + '/from-python', b'hello from python', 1,
                      retain=True)
            url = ('wss://127.0.0.1:%d/mqtt' % b.wss_port if tls
                   else 'ws://127.0.0.1:%d/mqtt' % b.ws_port)
            shot = os.path.join(SHOT_DIR, 'broker_browser_%s.png' % name)
            p = run_page(page, url, base, insecure=tls)
            try:
                try:
                    got = recv_publishes(c, 1, timeout=PAGE_TIMEOUT)[0]
                    # The page shows the verdict on its PUBACK, just after.
                    time.sleep(0.3)
                finally:
                    screenshot(p, shot)
            finally:
                stop_page(p, 0)
            eq(got.payload, b'PASS hello from chromium / hello from python',
               "the page's verdict")
            check(os.path.exists(shot), 'screenshot %s' % shot)
            print('# screenshot: %s' % shot)
            c.close()
    finally:
        page.stop()


@test('chromium: MQTT.js over ws:// subscribes, publishes, receives')
def _():
    browser_case(False, 'ws')


@test('chromium: MQTT.js over wss:// (test CA: --ignore-certificate-errors)')
def _():
    browser_case(True, 'wss')


@test('chromium: a page from an origin not allowed gets no connection')
def _():
    cairn_only()
    page = PageServer()
    try:
        with WsBroker(origins=['http://allowed.example']) as b:
            base = uniq('browser')
            c, _ = mqtt_connect(b.port)
            subscribe(c, [(base + '/result', 1)])
            shot = os.path.join(SHOT_DIR, 'broker_browser_origin.png')
            p = run_page(page, 'ws://127.0.0.1:%d/mqtt' % b.ws_port, base)
            try:
                h.wait_until(lambda: 'Origin not allowed' in broker_log(b),
                             PAGE_TIMEOUT, 'the refusal in the log')
                time.sleep(0.3)
                screenshot(p, shot)
            finally:
                stop_page(p, 0)
            check(c.is_open(0.5), 'the MQTT client is still connected')
            eq(c.drain(0.3), [], 'no verdict from the page')
            c.close()
    finally:
        page.stop()


def setup():
    global CHROMIUM, SHOT_DIR
    CHROMIUM = chromium_path()
    SHOT_DIR = os.path.abspath(h.ARGS.shot_dir or h.TMP)
    os.makedirs(SHOT_DIR, exist_ok=True)
    if CHROMIUM is None:
        return 'chromium is not installed (Debian: apt-get install chromium)'
    if not os.path.exists(BUNDLE):
        return 'MQTT.js is not installed: run t/browser/install.sh'
    return None


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--shot-dir', default=None,
                    help='where the screenshots go (default: scratch)')
    sys.exit(h.main(ap, setup))
