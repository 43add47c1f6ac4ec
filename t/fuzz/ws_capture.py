#!/usr/bin/env python3
"""Writes the seed corpus of t/fuzz/fuzz_ws.c: real clients' bytes.

Usage: ws_capture.py OUT_DIR

A minimal WebSocket server on a free loopback port records what
paho-mqtt (transport="websockets") and MQTT.js (node, from
t/browser/node_modules) send: the upgrade request, then, after our 101
answer, their first frames (CONNECT, and for some a SUBSCRIBE or a
PUBLISH).  Each seed is one byte (the fuzz target's read size) and the
bytes as read.  Hand-made attack seeds (unmasked, text, huge lengths,
pings, a bad upgrade) are added beside them.  MQTT.js is skipped, with
a line, when node or the module is missing.
"""
import base64
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "..", "browser")


def serve_one(lsock, out):
    """Accepts one client, answers its upgrade, records ~1 s of bytes."""
    lsock.settimeout(10)
    c, _ = lsock.accept()
    c.settimeout(1)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 8192:
        d = c.recv(4096)
        if not d:
            break
        data += d
    key = b""
    proto = b""
    for line in data.split(b"\r\n"):
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"sec-websocket-key":
            key = v.strip()
        if k.strip().lower() == b"sec-websocket-protocol":
            proto = v.strip().split(b",")[0].strip()
    acc = base64.b64encode(hashlib.sha1(key + GUID).digest())
    ans = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n")
    if proto:
        ans += b"Sec-WebSocket-Protocol: " + proto + b"\r\n"
    c.sendall(ans + b"\r\n")
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        try:
            d = c.recv(4096)
        except socket.timeout:
            continue
        if not d:
            break
        data += d
        # CONNACK, so that the client goes on to its next packet.
        if len(data) and b"\x82\x04\x20\x02" not in ans:
            c.sendall(b"\x82\x04\x20\x02\x00\x00")
            ans += b"\x82\x04\x20\x02"
    c.close()
    out.append(data)


def capture(client_argv):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    got = []
    t = threading.Thread(target=serve_one, args=(lsock, got))
    t.start()
    p = subprocess.Popen([a.replace("PORT", str(port)) for a in client_argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.join(15)
    p.kill()
    p.wait()
    lsock.close()
    return got[0] if got else None


PAHO = r"""
import sys, time, paho.mqtt.client as mqtt
c = mqtt.Client(client_id="seed-paho", transport="websockets")
c.on_connect = lambda c, u, f, rc: (c.subscribe("seed/#", 1),
                                    c.publish("seed/t", b"hello", 1))
c.connect("127.0.0.1", int(sys.argv[1]), 30)
c.loop_start(); time.sleep(1.2); c.loop_stop()
"""

MQTTJS = r"""
const mqtt = require(process.argv[1]);
const c = mqtt.connect('ws://127.0.0.1:' + process.argv[2] + '/mqtt',
  {clientId: 'seed-mqttjs', protocolVersion: Number(process.argv[3]),
   reconnectPeriod: 0});
c.on('connect', () => { c.subscribe('seed/#', {qos: 1});
  c.publish('seed/t', 'hello', {qos: 1}); });
setTimeout(() => process.exit(0), 1200);
"""


def frame(op, payload, fin=True, mask=True, key=b"\x01\x02\x03\x04"):
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return h + payload
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    paho = capture([sys.executable, "-c", PAHO, "PORT"])
    if paho:
        seeds["paho"] = paho
    mod = os.path.join(BROWSER, "node_modules", "mqtt")
    if shutil.which("node") and os.path.isdir(mod):
        for v in (4, 3):
            got = capture(["node", "-e", MQTTJS, mod, "PORT", str(v)])
            if got:
                seeds["mqttjs_v%d" % v] = got
    else:
        print("ws_capture: no node or MQTT.js: t/browser/install.sh")
    req = seeds.get("paho", b"GET / HTTP/1.1\r\n\r\n")
    req = req[:req.index(b"\r\n\r\n") + 4] if b"\r\n\r\n" in req else req
    connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
    seeds["unmasked"] = req + frame(2, connect, mask=False)
    seeds["text"] = req + frame(1, b"hello")
    seeds["huge_len"] = req + b"\x82\xff\x80" + b"\0" * 7 + b"\1\2\3\4x"
    seeds["over_cap"] = req + frame(2, b"x" * 600)
    seeds["fragments_ping"] = (req + frame(2, connect[:5], fin=False) +
                               frame(9, b"ping") +
                               frame(0, connect[5:]) + frame(8, b"\x03\xe8"))
    seeds["bad_upgrade"] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    seeds["origin"] = req.replace(b"\r\n\r\n",
                                  b"\r\nOrigin: http://evil\r\n\r\n")
    for name, data in sorted(seeds.items()):
        for step in (0x07, 0x80 | 0x3f):
            path = os.path.join(out, "%s_%02x" % (name, step))
            with open(path, "wb") as f:
                f.write(bytes([step]) + data)
    print("ws_capture: %d seeds in %s" % (2 * len(seeds), out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
