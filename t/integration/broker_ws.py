#!/usr/bin/env python3
"""MQTT over WebSockets (RFC 6455): paho-mqtt over ws:// and wss://, and
raw-socket attacks, each closing only the client that made it.

Usage:
    broker_ws.py --broker-cmd PATH [--mode cairn|mosquitto]
                 [--only REGEX] [--keep] [-v]

Each case starts a broker with a plain MQTT listener (for the harness's
readiness probe and for cross-protocol checks), a `protocol: websockets`
listener and, for wss, one with `tls:` (a CA and a certificate for
127.0.0.1 made with `openssl` in the scratch directory).  Real clients:
paho-mqtt with transport="websockets", plain and over TLS.  Raw ones: a
minimal WebSocket client in this file, which can also do what no real
client does: unmasked frames, text frames, a 2^62 length, a frame past
max_packet_size, bad upgrades, a wrong Origin, an upgrade that never
ends.  After each attack a paho client on the same listener still
publishes and receives, and the broker is alive.

`--mode mosquitto` runs the paho cases against mosquitto's websockets
listener (mosquitto.conf `listener N` + `protocol websockets`): that is
how the expectations of those cases were proved.  The attack cases check
Cairn's answers (HTTP status, close codes, log lines) and are skipped
there: libwebsockets answers differently and some not at all.
"""

import argparse
import base64
import hashlib
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Broker, Fail, Skip, check, eq, test, uniq,  # noqa
                          connect_pkt, publish_pkt, subscribe_pkt, fixed,
                          mqtt_connect, subscribe, recv_publishes,
                          wait_until, free_port, scratch, yaml_str)

from ws_harness import (GUID, CONNACK, PINGRESP, Closed,  # noqa: E402
                        WsBroker, WsConn, frame, ws_open, paho_roundtrip,
                        paho_stop, still_serves, cairn_only, broker_log)


# --------------------------------------------------------------- cases

@test('paho over ws://: QoS 0 and 1, 64 B and 200 KiB, to and from TCP')
def _():
    with WsBroker() as b:
        sub, pub, topic = paho_roundtrip(b.ws_port)
        try:
            # A payload far over one read and over wslay's 4 KiB buffer.
            big = os.urandom(200 * 1024)
            pub.publish(topic + '/big', big, 1)
            wait_until(lambda: any(m[0] == topic + '/big' for m in sub.got),
                       10, 'the 200 KiB message')
            m = [m for m in sub.got if m[0] == topic + '/big'][0]
            check(m[1] == big, '200 KiB payload intact')
            # Plain MQTT to websockets, and websockets to plain MQTT.
            c, _ = mqtt_connect(b.port)
            subscribe(c, [(topic + '/tcp', 1)])
            h.publish(c, topic + '/x', b'from tcp', 1)
            wait_until(lambda: any(m[1] == b'from tcp' for m in sub.got),
                       5, 'TCP -> ws')
            pub.publish(topic + '/tcp', b'from ws', 1)
            p = recv_publishes(c, 1)[0]
            eq(p.payload, b'from ws', 'ws -> TCP')
            c.close()
        finally:
            paho_stop(sub, pub)


@test('paho over wss:// (TLS): QoS 0 and 1, 1 KiB')
def _():
    with WsBroker(tls=True) as b:
        sub, pub, _ = paho_roundtrip(b.wss_port, tls=True, size=1024)
        paho_stop(sub, pub)


@test('raw: CONNECT split over fragments and bytes, ping answered by pong')
def _():
    with WsBroker() as b:
        c = WsConn(b.ws_port)
        st, hdrs, _ = c.upgrade()
        eq(st, 101, 'status')
        acc = base64.b64encode(hashlib.sha1(c.key.encode() + GUID).digest())
        eq(hdrs.get('sec-websocket-accept'), acc.decode(), 'accept key')
        eq(hdrs.get('sec-websocket-protocol'), 'mqtt', 'subprotocol')
        pkt = connect_pkt(uniq('frag')) + fixed(12, 0, b'')
        # A fragmented message (binary, continuation, continuation) with a
        # ping between fragments; the frames cut the packets anywhere.
        data = (frame(2, pkt[:3], fin=False) + frame(9, b'hello') +
                frame(0, pkt[3:7], fin=False) + frame(0, pkt[7:]))
        for i in range(0, len(data), 5):
            c.send(data[i:i + 5])
            time.sleep(0.002)
        op, p = c.recv_frame()
        eq((op, p), (10, b'hello'), 'pong')
        eq(c.recv_mqtt(), (CONNACK, b'\x00\x00'), 'CONNACK')
        eq(c.recv_mqtt()[0], PINGRESP, 'PINGRESP')
        c.close()


@test('raw: unmasked frame -> close 1002, only that client')
def _():
    cairn_only()
    with WsBroker() as b:
        other = ws_open(b.ws_port)
        c = WsConn(b.ws_port)
        eq(c.upgrade()[0], 101, 'status')
        c.send(frame(2, connect_pkt(uniq('u')), mask=False))
        c.expect_close(1002)
        other.send_mqtt(fixed(12, 0, b''))
        eq(other.recv_mqtt()[0], PINGRESP, 'the other client')
        still_serves(b)
        check('unmasked' in broker_log(b), 'a log line says why')


@test('raw: text frame -> close 1003, only that client')
def _():
    cairn_only()
    with WsBroker() as b:
        c = ws_open(b.ws_port)
        c.send(frame(1, b'{"hello": 1}'))
        c.expect_close(1003)
        still_serves(b)
        check('text frame' in broker_log(b), 'a log line says why')


@test('raw: 2^62-byte length and a frame over max_packet_size -> 1009')
def _():
    cairn_only()
    with WsBroker(max_packet_size=4096) as b:
        c = ws_open(b.ws_port)
        c.send(frame(2, b'', length=1 << 62)[:10] + os.urandom(4) + b'x')
        c.expect_close(1009)
        c = ws_open(b.ws_port)
        c.send(frame(2, b'\x30' + b'x' * 5000))
        c.expect_close(1009)
        still_serves(b)
        check('max_packet_size' in broker_log(b), 'a log line says why')


@test('raw: bad upgrades answered 426 or 400, then closed')
def _():
    cairn_only()
    with WsBroker() as b:
        cases = [
            # A plain HTTP GET.
            (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 426),
            # A WebSocket version from before RFC 6455.
            (b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
             b'Connection: Upgrade\r\nSec-WebSocket-Key: '
             b'dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n'
             b'\r\n', 426),
            # A key of 4 bytes.
            (b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
             b'Connection: Upgrade\r\nSec-WebSocket-Key: AAAAAA==\r\n'
             b'Sec-WebSocket-Version: 13\r\n\r\n', 400),
            # Subprotocols, none MQTT.
            (b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
             b'Connection: Upgrade\r\nSec-WebSocket-Key: '
             b'dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
             b'Sec-WebSocket-Protocol: chat\r\n\r\n', 400),
            # Not HTTP at all: an MQTT CONNECT on the websockets port.
            (connect_pkt('tcp-on-ws'), 400),
            # A request past the byte cap (8 KiB).
            (b'GET / HTTP/1.1\r\nHost: x\r\n' +
             b''.join(b'X-Pad-%d: %s\r\n' % (i, b'y' * 100)
                      for i in range(100)), 400),
        ]
        for req, want in cases:
            c = WsConn(b.ws_port)
            try:
                c.send(req)
            except OSError:
                pass
            st, hdrs, head = c.read_answer()
            eq(st, want, 'status for %r' % req[:40])
            if want == 426:
                eq(hdrs.get('sec-websocket-version'), '13', 'our version')
            c.expect_eof()
        still_serves(b)


@test('raw: Origin not in allowed_origins -> 403; an allowed one -> 101')
def _():
    cairn_only()
    with WsBroker(origins=['http://good.example', 'https://127.0.0.1']) as b:
        c = WsConn(b.ws_port)
        st, _, _ = c.upgrade(origin='http://evil.example')
        eq(st, 403, 'status for a foreign Origin')
        c.expect_eof()
        c = WsConn(b.ws_port)
        eq(c.upgrade()[0], 403, 'status without Origin')
        c.expect_eof()
        c = WsConn(b.ws_port)
        eq(c.upgrade(origin='http://good.example')[0], 101, 'allowed')
        c.close()
        check('Origin not allowed' in broker_log(b), 'a log line says why')


@test('raw: an upgrade that never ends is dropped at connect_timeout')
def _():
    cairn_only()
    with WsBroker(connect_timeout=1) as b:
        c = WsConn(b.ws_port)
        t0 = time.monotonic()
        c.send(b'GET /mqtt HTTP/1.1\r\nHost: x\r\n')
        # One header line a second would go on forever.
        deadline = t0 + 4
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                c.send(b'X: y\r\n')
                c._fill(time.monotonic() + 0.3)
            except Fail:
                continue
            except (Closed, OSError):
                closed = True
        check(closed, 'still open after %.1fs' % (time.monotonic() - t0))
        check(time.monotonic() - t0 < 3.5, 'closed after %.1fs'
              % (time.monotonic() - t0))
        still_serves(b)


@test('raw: over wss://, an unmasked frame -> close 1002')
def _():
    cairn_only()
    with WsBroker(tls=True) as b:
        c = WsConn(b.wss_port, tls=True)
        eq(c.upgrade()[0], 101, 'status')
        c.send(frame(2, connect_pkt(uniq('u')), mask=False))
        c.expect_close(1002)
        still_serves(b, tls=True)


@test('reload: open ws clients keep working, new allowed_origins applies')
def _():
    cairn_only()
    with WsBroker(origins=['http://old.example']) as b:
        c = ws_open(b.ws_port, origin='http://old.example')
        c2 = WsConn(b.ws_port)
        # An upgrade under way across the reload: the settings it was
        # accepted with (freed with the old listener) stay its own.
        req = c2.request(origin='http://old.example').encode()
        c2.send(req[:40])
        # Accepted (and its settings taken) before the reload, which
        # keeps the listening socket: a connection still in the backlog
        # would be accepted under the new settings.
        time.sleep(0.3)
        with open(b.conf) as f:
            text = f.read()
        with open(b.conf, 'w') as f:
            f.write(text.replace('http://old.example', 'http://new.example'))
        since = len(broker_log(b))
        os.kill(b.pid, signal.SIGHUP)
        wait_until(lambda: 'reloaded' in broker_log(b)[since:], 5,
                   'the reload in the log')
        c.send_mqtt(fixed(12, 0, b''))
        eq(c.recv_mqtt()[0], PINGRESP, 'a ws client from before the reload')
        c2.send(req[40:])
        eq(c2.read_answer()[0], 101, 'the upgrade under way, old settings')
        c3 = WsConn(b.ws_port)
        eq(c3.upgrade(origin='http://old.example')[0], 403, 'old origin')
        c3 = WsConn(b.ws_port)
        eq(c3.upgrade(origin='http://new.example')[0], 101, 'new origin')
        for x in (c, c2, c3):
            x.close()


def setup():
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        return 'paho-mqtt is not installed (python3-paho-mqtt)'
    return None


if __name__ == '__main__':
    sys.exit(h.main(argparse.ArgumentParser(description=__doc__), setup))
