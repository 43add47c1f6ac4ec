#!/usr/bin/env python3
"""The broker's status page (/, broker/status.html) in headless Chromium.

Usage:
    http_status_page.py --broker-cmd PATH --epmd PATH --cairn PATH
                        [--chromium PATH] [--log-dir DIR] [--only REGEX]
                        [-v]

Three nodes with http_listen (cluster_harness.py).  Chromium loads
h1's page with ?peers= naming h2's and h3's endpoints, runs its
scripts for a few seconds of virtual time (--virtual-time-budget) and
dumps the DOM (--dump-dom): the page must show three nodes up and six
link ends up (each node draws its own half of each link).  Then h3 is
killed with SIGKILL and, within a few seconds, the page shows h3 down
and the link ends towards it from h1 and h2 down.  A screenshot of the
page is kept with the test logs (--log-dir; meson passes its
meson-logs directory: http_status_page.png) and
decoded with zlib: it must hold more than one colour.

Chromium runs with a fresh --user-data-dir, no sandbox, no GPU, no
network beyond loopback (no QUIC, no background or component updates,
no sync).  Without a chromium binary the file is a SKIP with the reason.
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import Fail, check, eq, test, uniq  # noqa: E402
from cluster_harness import Node, Epmd, wait_mesh  # noqa: E402

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--disable-extensions', '--disable-dev-shm-usage']
CHROMIUM_TIMEOUT = 60.0


def chromium(args, what):
    """Runs chromium once with a fresh profile; its stdout (bytes)."""
    prof = tempfile.mkdtemp(prefix='chromium-', dir=h.TMP)
    cmd = [h.ARGS.chromium] + CHROMIUM_FLAGS + \
        ['--user-data-dir=' + prof] + args
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    h.track(p)
    try:
        out, err = p.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        h.kill_proc(p)
        raise Fail('%s: chromium took more than %.0fs' % (what,
                                                          CHROMIUM_TIMEOUT))
    finally:
        h.untrack(p)
        shutil.rmtree(prof, ignore_errors=True)
    if p.returncode != 0:
        raise Fail('%s: chromium rc %d: %r' % (what, p.returncode,
                                                err[-500:]))
    return out


def page_url(nodes):
    return 'http://127.0.0.1:%d/?peers=%s' % (
        nodes[0].hport, ','.join('127.0.0.1:%d' % n.hport
                                 for n in nodes[1:]))


def dom(nodes, budget_ms=4000):
    out = chromium(['--virtual-time-budget=%d' % budget_ms, '--dump-dom',
                    page_url(nodes)], 'dump-dom')
    return out.decode('utf-8', 'replace')


def node_states(html):
    """{node: state} of the graph's node groups."""
    return dict(re.findall(r'<g class="node" data-node="([^"]+)" '
                           r'data-state="([^"]+)"', html))


def link_ends(html):
    """[(from, to, state)] of the drawn link ends."""
    out = []
    for m in re.finditer(r'<line [^>]*class="linkend"[^>]*>', html):
        tag = m.group(0)
        a = dict(re.findall(r'(data-from|data-to|data-state)="([^"]*)"',
                            tag))
        out.append((a.get('data-from'), a.get('data-to'),
                    a.get('data-state')))
    return out


def png_colours(path):
    """How many distinct RGB(A) pixels a PNG (8-bit, no interlace) holds;
    enough of a decoder for Chromium's screenshots."""
    data = open(path, 'rb').read()
    check(data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG: %r' % data[:8])
    pos, idat, w = 8, b'', None
    while pos < len(data):
        ln, typ = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b'IHDR':
            w, hgt, depth, ctype, _, _, inter = struct.unpack('>IIBBBBB',
                                                              body)
            check(depth == 8 and ctype in (2, 6) and inter == 0,
                  'PNG depth %d colour type %d interlace %d'
                  % (depth, ctype, inter))
            bpp = 3 if ctype == 2 else 4
        elif typ == b'IDAT':
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    i = 0
    for _ in range(hgt):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        for x in range(0, stride, bpp * 7):     # a sample is enough
            colours.add(bytes(line[x:x + 3]))
            if len(colours) > 16:
                return len(colours)
        prev = line
    return len(colours)


class Cluster:
    def __init__(self):
        self.epmd = Epmd()
        self.nodes = []
        try:
            for i in range(3):
                port = h.free_port()
                n = Node('p%d' % (i + 1), self.epmd,
                         extra=['http_listen: "127.0.0.1:%d"' % port])
                n.hport = port
                self.nodes.append(n)
            wait_mesh(self.nodes)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for n in self.nodes:
            n.stop()
        self.epmd.kill9()


@test('page_shows_three_nodes_six_link_ends_then_a_dead_node')
def t_page():
    cl = Cluster()
    try:
        nodes = cl.nodes
        html = dom(nodes)
        st = node_states(html)
        eq(sorted(st.items()), sorted((n.node, 'up') for n in nodes),
           'nodes on the page')
        ends = link_ends(html)
        up = sorted((a, b) for a, b, s in ends if s == 'up')
        want = sorted((a.node, b.node) for a in nodes for b in nodes
                      if a is not b)
        eq(up, want, 'link ends up')
        shot = os.path.join(h.TMP, 'status-page.png')
        chromium(['--virtual-time-budget=3000', '--window-size=800,700',
                  '--screenshot=' + shot, page_url(nodes)], 'screenshot')
        check(os.path.getsize(shot) > 1000, 'screenshot of %d bytes'
              % os.path.getsize(shot))
        n = png_colours(shot)
        check(n > 1, 'the screenshot holds %d colour(s): blank' % n)
        if h.ARGS.log_dir:
            os.makedirs(h.ARGS.log_dir, exist_ok=True)
            kept = os.path.join(h.ARGS.log_dir, 'http_status_page.png')
            shutil.copyfile(shot, kept)
            shot = kept
        print('# screenshot: %s (%d+ colours)' % (shot, n))
        dead = nodes[2]
        dead.kill9()
        t0 = time.monotonic()
        # The page polls every second; the links notice at dead_after
        # (1.5 s): a page loaded now and run for 4 s shows it all.
        html = dom(nodes, budget_ms=4000)
        st = node_states(html)
        eq(st.get(dead.node), 'down', 'the killed node on the page '
           '(states %r)' % st)
        eq(st.get(nodes[0].node), 'up', 'p1')
        eq(st.get(nodes[1].node), 'up', 'p2')
        towards = {(a, s) for a, b, s in link_ends(html) if b == dead.node}
        eq(sorted(towards), sorted((x.node, 'down') for x in nodes[:2]),
           'link ends towards the killed node')
        print('# the page showed %s down %.1fs after the kill'
              % (dead.short, time.monotonic() - t0))
    finally:
        cl.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--chromium', default=None,
                    help='chromium binary (default: chromium on PATH)')
    args, _ = ap.parse_known_args()
    path = args.chromium or shutil.which('chromium') or \
        shutil.which('chromium-browser')
    if path is None or not os.access(path, os.X_OK):
        print('1..0 # SKIP chromium is not installed (Debian: chromium)')
        return 0
    sys.argv = [a for a in sys.argv if not a.startswith('--chromium')]
    if args.chromium:
        sys.argv = [a for a in sys.argv if a != args.chromium]
    ap2 = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap2.set_defaults(chromium=path)
    ap2.add_argument('--log-dir', default=None,
                     help='where the screenshot is kept (the test logs)')
    return ch.main(ap2)


if __name__ == '__main__':
    sys.exit(main())
