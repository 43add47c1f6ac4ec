#!/usr/bin/env python3
"""Early refusal and bounded refusal logs: cairn-broker and epmd.

Usage:
    refusals.py --broker-cmd PATH --epmd PATH [--only REGEX] [--keep] [-v]

A peer that is not an MQTT client must cost the broker nothing: the first
packet on an MQTT connection has to be CONNECT, whose first byte is
exactly 0x10 (MQTT 3.1.1 section 2.2.2: CONNECT's flags are reserved, 0),
so anything else (an HTTP request, a PUBLISH, a CONNECT with flags) is
closed as soon as its first byte is read, not after connect_timeout
(10 s).  And no peer may turn the daemons' logs into a weapon: a line a
peer can cause is logged the first time, then counted (log_rate).

Cases:
  * `GET / HTTP/1.1` on the MQTT port is closed within 1 s; so is a
    PUBLISH sent first, and a CONNECT with reserved flags; a normal
    client still connects, subscribes and gets its publish;
  * 2,000 HTTP requests, then 500 PUBLISH-first and 500 malformed
    CONNECTs (in batches, bounded), leave at most 3 broker log lines per
    kind (before: 0 lines but each held 10 s, then a line per connection);
  * 500 connections past max_connections leave at most 3 lines;
  * the broker with RLIMIT_NOFILE 64 under 150 connections for 2 s
    writes at most 3 lines (it wrote one per loop turn, spinning) and
    serves a client once they are closed;
  * epmd with RLIMIT_NOFILE 64 (set in the child before exec) under
    connections for about 3 s writes at most 3 lines (it wrote one every
    100 ms), and answers NAMES once they are closed;
  * epmd -max_connections 8 and -max_names 2: 300 refusals each, at most
    3 lines each.

Everything talks to 127.0.0.1 only.  The broker harness is
mqtt_harness.py (processes tracked and killed by pid); epmd is started
and killed here by pid.  Output is TAP.
"""

import argparse
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Broker, Fail, Skip, check, eq, test, uniq,  # noqa
                          mqtt_connect, subscribe, publish, recv_publishes,
                          connect_pkt, publish_pkt, fixed, CONNECT)

HTTP_GET = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
MAX_LINES = 3           # a flood's log: the first line, maybe a count


def broker_log(b):
    """The broker's whole stderr so far, as text."""
    b.errf.flush()
    b.errf.seek(0)
    return b.errf.read().decode('utf-8', 'replace')


def closed_within(port, data, limit):
    """Send data on a fresh connection; seconds until the broker closed
    it (EOF or reset), or Fail if it is still open after limit."""
    s = socket.create_connection(('127.0.0.1', port), timeout=2)
    try:
        t0 = time.monotonic()
        s.sendall(data)
        s.settimeout(limit)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
        except socket.timeout:
            raise Fail('%r: connection still open after %.1fs'
                       % (data[:16], limit))
        except ConnectionResetError:
            pass
        return time.monotonic() - t0
    finally:
        s.close()


def flood(port, data, n, batch=100):
    """n connections, batch at a time: each sends data; then all close.
    Returns how many connected."""
    done = 0
    while done < n:
        socks = []
        for _ in range(min(batch, n - done)):
            try:
                s = socket.create_connection(('127.0.0.1', port), timeout=2)
            except OSError:
                continue
            try:
                s.sendall(data)
            except OSError:
                pass
            socks.append(s)
        # Wait (bounded) for the broker to close them.
        deadline = time.monotonic() + 2.0
        for s in socks:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()
        done += len(socks) or batch
    return done


def normal_client_works(port):
    sub, _ = mqtt_connect(port, uniq('sub'))
    subscribe(sub, 'early/t')
    pub, _ = mqtt_connect(port, uniq('pub'))
    publish(pub, 'early/t', b'still here', qos=1)
    got = recv_publishes(sub, 1)
    eq(got[0].payload, b'still here', 'payload through the broker')
    pub.disconnect()
    sub.disconnect()


# ------------------------------------------------------------------ broker

@test('broker_http_get_closed_at_once')
def t_http_get():
    with Broker() as b:
        took = closed_within(b.port, HTTP_GET, 1.0)
        check(took < 1.0, 'GET closed after %.2fs' % took)
        log = broker_log(b)
        check('first packet is not CONNECT' in log,
              'no line for the HTTP request:\n' + log)
        normal_client_works(b.port)


@test('broker_publish_first_closed_at_once')
def t_publish_first():
    with Broker() as b:
        took = closed_within(b.port, publish_pkt('a/b', b'x'), 1.0)
        check(took < 1.0, 'PUBLISH-first closed after %.2fs' % took)
        # One byte is enough: 0x30 can never start a CONNECT.
        took = closed_within(b.port, b'\x30', 1.0)
        check(took < 1.0, 'a lone PUBLISH byte closed after %.2fs' % took)
        normal_client_works(b.port)


@test('broker_connect_reserved_flags_closed')
def t_connect_flags():
    with Broker() as b:
        pkt = bytearray(connect_pkt(uniq('flags')))
        pkt[0] = 0x12           # CONNECT with a reserved flag bit
        took = closed_within(b.port, bytes(pkt), 1.0)
        check(took < 1.0, 'CONNECT 0x12 closed after %.2fs' % took)
        normal_client_works(b.port)


@test('broker_2000_http_requests_few_log_lines')
def t_http_flood():
    """2,000 HTTP requests, then 500 PUBLISH-first and 500 malformed
    CONNECTs (protocol name "MQTX"), each of which used to cost a line."""
    bad_connect = connect_pkt(uniq('bad')).replace(b'MQTT', b'MQTX', 1)
    kinds = [('HTTP GET', HTTP_GET, 2000, 'first packet is not CONNECT'),
             ('PUBLISH first', publish_pkt('a/b', b'x'), 500,
              'first packet is not CONNECT'),
             ('malformed CONNECT', bad_connect, 500, 'MQTX')]
    with Broker() as b:
        seen = 0
        for what, data, n, mark in kinds:
            t0 = time.monotonic()
            made = flood(b.port, data, n)
            took = time.monotonic() - t0
            check(made >= n, '%s: only %d connections made' % (what, made))
            log = broker_log(b).splitlines()
            new = log[seen:]
            seen = len(log)
            # Both the kind's lines and the counts of held-back ones.
            lines = [ln for ln in new if 'more like' in ln or
                     (mark in ln if mark != 'MQTX' else
                      'closed' in ln and 'CONNECT' in ln)]
            if h.ARGS.verbose:
                print('# %s: %d connections in %.1fs: %d log lines'
                      % (what, made, took, len(lines)))
            check(len(lines) <= MAX_LINES,
                  '%s: %d log lines for %d refused connections:\n%s'
                  % (what, len(lines), n, '\n'.join(lines[:10])))
            check(took < 30, '%s: %d connections took %.1fs (held?)'
                  % (what, n, took))
        check(any('first packet is not CONNECT' in ln for ln in log),
              'no line at all for the refused connections')
        normal_client_works(b.port)


@test('broker_past_max_connections_few_log_lines')
def t_max_connections():
    with Broker({'max_connections': 10}) as b:
        held = [mqtt_connect(b.port, uniq('held'))[0] for _ in range(10)]
        try:
            flood(b.port, b'', 500)
            log = broker_log(b)
            lines = [ln for ln in log.splitlines()
                     if 'max_connections' in ln and 'auto' not in ln]
            check(1 <= len(lines) <= MAX_LINES,
                  '%d log lines for 500 refused connections:\n%s'
                  % (len(lines), '\n'.join(lines[:10])))
        finally:
            for c in held:
                c.close()
        # Room again: a client gets in.
        h.wait_until(lambda: b.alive(), 1, 'broker alive')
        deadline = time.monotonic() + 3
        while True:
            try:
                normal_client_works(b.port)
                break
            except Fail:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@test('broker_fd_limit_few_log_lines', slow=True)
def t_broker_emfile():
    """RLIMIT_NOFILE 64 and max_connections 1000: accept(2) fails EMFILE
    while connections wait in the backlog (before: a line per loop turn,
    93,000 lines in 2 s, and a spinning loop)."""
    port = h.free_port()
    conf = h.scratch(uniq('emfile') + '.yaml')
    with open(conf, 'w') as f:
        f.write('listen: "127.0.0.1:%d"\nmax_connections: 1000\n' % port)
    errf = tempfile.TemporaryFile(dir=h.TMP)
    p = subprocess.Popen(
        [h.ARGS.broker_cmd, '-d', '-c', conf], stdin=subprocess.DEVNULL,
        stdout=errf, stderr=errf, close_fds=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                              (64, 64)))
    h.track(p)
    socks = []
    try:
        h.wait_until(lambda: b'listening' in (errf.seek(0) or errf.read()),
                     5, 'broker listening')
        for _ in range(150):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(('127.0.0.1', port))
            socks.append(s)
        time.sleep(2.0)
        errf.seek(0)
        lines = [ln for ln in errf.read().decode('utf-8', 'replace')
                 .splitlines() if 'accept' in ln or 'more like' in ln]
        check(any('Too many open files' in ln for ln in lines),
              'the fd limit was never reached: %r' % lines[:5])
        check(len(lines) <= MAX_LINES, '%d log lines at the fd limit:\n%s'
              % (len(lines), '\n'.join(lines[:10])))
        for s in socks:
            s.close()
        socks = []
        # Room again: a client gets in.
        deadline = time.monotonic() + 3
        while True:
            try:
                c, _ = mqtt_connect(port, uniq('after'))
                c.disconnect()
                break
            except (Fail, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        check(p.poll() is None, 'broker died')
    finally:
        for s in socks:
            s.close()
        h.kill_proc(p)
        errf.close()


# -------------------------------------------------------------------- epmd

class Epmd:
    """One epmd on a free loopback port, stderr in a file, killed by pid."""

    def __init__(self, args=(), nofile=None):
        self.port = h.free_port()
        self.errf = tempfile.TemporaryFile(dir=h.TMP)

        def pre():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(
            [ARGS_EPMD[0], '-port', str(self.port)] + list(args),
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            preexec_fn=pre, close_fds=True)
        h.track(self.proc)
        h.wait_until(self.answers, 5, 'epmd answering')

    def names(self, timeout=2.0):
        """The NAMES reply, or None."""
        try:
            s = socket.create_connection(('127.0.0.1', self.port),
                                         timeout=timeout)
        except OSError:
            return None
        try:
            s.settimeout(timeout)
            s.sendall(struct.pack('>HB', 1, ord('n')))
            out = b''
            while True:
                d = s.recv(4096)
                if not d:
                    break
                out += d
            return out
        except OSError:
            return None
        finally:
            s.close()

    def answers(self):
        r = self.names(0.5)
        return r is not None and len(r) >= 4

    def log(self):
        self.errf.flush()
        self.errf.seek(0)
        return self.errf.read().decode('utf-8', 'replace')

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        if typ is not None and h.ARGS.verbose:
            for ln in self.log().splitlines()[-20:]:
                print('# epmd: ' + ln)
        alive = self.proc.poll() is None
        h.kill_proc(self.proc)
        self.errf.close()
        if typ is None and not alive:
            raise Fail('epmd died during the case')
        return False


ARGS_EPMD = [None]


@test('epmd_fd_limit_few_log_lines', slow=True)
def t_epmd_emfile():
    with Epmd(nofile=64) as e:
        socks = []
        t0 = time.monotonic()
        try:
            # About 3 s past the limit: connections pile up in the
            # backlog while epmd cannot accept (bounded: 1,500 at most).
            while time.monotonic() - t0 < 3.0:
                if len(socks) < 1500:
                    s = socket.socket()
                    s.setblocking(False)
                    s.connect_ex(('127.0.0.1', e.port))
                    socks.append(s)
                else:
                    time.sleep(0.05)
                if len(socks) > 200:
                    time.sleep(0.005)
            log = e.log()
            lines = [ln for ln in log.splitlines()
                     if 'accept' in ln or 'more like' in ln]
            if h.ARGS.verbose:
                print('# %d connections over %.1fs: %d log lines'
                      % (len(socks), time.monotonic() - t0, len(lines)))
            check(any('Too many open files' in ln for ln in lines),
                  'the fd limit was never reached (%d connections):\n%s'
                  % (len(socks), log[-2000:]))
            check(len(lines) <= MAX_LINES,
                  '%d log lines at the fd limit:\n%s'
                  % (len(lines), '\n'.join(lines[:10])))
        finally:
            for s in socks:
                s.close()
        # Once they are gone epmd serves again.
        h.wait_until(e.answers, 5, 'epmd answering NAMES after the flood')


@test('epmd_max_connections_few_log_lines')
def t_epmd_max_conns():
    with Epmd(['-max_connections', '8']) as e:
        held = [socket.create_connection(('127.0.0.1', e.port), timeout=2)
                for _ in range(8)]
        try:
            for _ in range(300):
                s = socket.create_connection(('127.0.0.1', e.port),
                                             timeout=2)
                s.settimeout(2)
                try:
                    s.recv(16)
                except OSError:
                    pass
                s.close()
            lines = [ln for ln in e.log().splitlines()
                     if 'max_connections' in ln or 'more like' in ln]
            check(1 <= len(lines) <= MAX_LINES,
                  '%d log lines for 300 refusals:\n%s'
                  % (len(lines), '\n'.join(lines[:10])))
        finally:
            for s in held:
                s.close()
        h.wait_until(e.answers, 5, 'epmd answering after the refusals')


def alive2_req(name, port):
    name = name.encode()
    body = struct.pack('>BHBBHHH', ord('x'), port, 77, 0, 5, 5,
                       len(name)) + name + struct.pack('>H', 0)
    return struct.pack('>H', len(body)) + body


@test('epmd_max_names_few_log_lines')
def t_epmd_max_names():
    with Epmd(['-max_names', '2']) as e:
        keep = []
        try:
            for i in range(2):
                s = socket.create_connection(('127.0.0.1', e.port),
                                             timeout=2)
                s.sendall(alive2_req('n%d' % i, 5000 + i))
                r = h.recv_exact(s, 4, 2)
                eq(r[:2], b'y\x00', 'registration %d' % i)
                keep.append(s)
            for i in range(300):
                s = socket.create_connection(('127.0.0.1', e.port),
                                             timeout=2)
                s.sendall(alive2_req('x%d' % i, 6000))
                r = h.recv_exact(s, 4, 2)
                eq(r[:2], b'y\x01', 'refused registration %d' % i)
                s.close()
            lines = [ln for ln in e.log().splitlines()
                     if 'max_names' in ln or 'more like' in ln]
            check(1 <= len(lines) <= MAX_LINES,
                  '%d log lines for 300 refusals:\n%s'
                  % (len(lines), '\n'.join(lines[:10])))
        finally:
            for s in keep:
                s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--epmd', required=True, help='our epmd binary')
    # mqtt_harness parses the rest; read --epmd first.
    known, _ = ap.parse_known_args()
    ARGS_EPMD[0] = os.path.abspath(known.epmd)
    ap2 = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap2.add_argument('--epmd', required=True, help='our epmd binary')

    def setup():
        if h.mode() != 'cairn':
            return 'cairn-broker only (log lines and early close)'
        return None
    return h.main(ap2, setup=setup)


if __name__ == '__main__':
    sys.exit(main())
