#!/usr/bin/env python3
"""Seeds t/fuzz/corpus/mqtt/ from real MQTT traffic.

usage: mqtt_capture.py OUT_DIR

Starts Debian's `mosquitto` on a free loopback port, puts a recording
relay in front of it on another, and runs mosquitto_pub / mosquitto_sub
through the relay at MQTT 3.1.1 and 3.1 (QoS 0, 1, 2, retain, a will,
user name and password, several filters, unsubscribe).  Each connection
gives two files: what the client sent (c2s) and what the broker sent
(s2c), each the raw stream of whole packets, so the fuzz target frames
them as a peer would.  Everything stays on 127.0.0.1; the broker and the
clients are stopped by pid at the end.
"""
import os
import socket
import subprocess
import sys
import threading
import time

HOST = '127.0.0.1'


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def whole_packets(buf):
    """The longest prefix of buf made of whole MQTT packets."""
    off = 0
    while off + 2 <= len(buf):
        n, mult, i = 0, 1, off + 1
        while i < len(buf) and i < off + 5:
            n += (buf[i] & 0x7f) * mult
            mult *= 128
            i += 1
            if buf[i - 1] & 0x80 == 0:
                break
        else:
            break
        if i + n > len(buf):
            break
        off = i + n
    return buf[:off]


class Relay:
    """Accepts clients on a port, pipes each to the broker, records both
    directions under the name given by the next expect()."""

    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.records = []  # (name, c2s bytearray, s2c bytearray)
        self.name = 'x'
        self.seq = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def expect(self, name):
        self.name = name
        self.seq = 0

    def accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.create_connection((HOST, self.broker_port))
            self.seq += 1
            rec = ('%s_%d' % (self.name, self.seq), bytearray(), bytearray())
            self.records.append(rec)
            threading.Thread(target=self.pipe, args=(c, s, rec[1]),
                             daemon=True).start()
            threading.Thread(target=self.pipe, args=(s, c, rec[2]),
                             daemon=True).start()

    @staticmethod
    def pipe(src, dst, log):
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b''
            if not b:
                break
            log += b
            try:
                dst.sendall(b)
            except OSError:
                break
        for sk in (src, dst):
            try:
                sk.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def run(args, timeout=10):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    bport = free_port()
    broker = subprocess.Popen(['mosquitto', '-p', str(bport)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        relay = Relay(bport)
        rp = ['-h', HOST, '-p', str(relay.port)]
        for v, tag in (('mqttv311', 'v311'), ('mqttv31', 'v31')):
            for q in ('0', '1', '2'):
                relay.expect('%s_pub_qos%s' % (tag, q))
                run(['mosquitto_pub', '-V', v] + rp +
                    ['-i', 'pub' + q, '-t', 'sensors/room1/temp', '-q', q,
                     '-m', 'payload qos ' + q])
            relay.expect(tag + '_pub_retain_auth')
            run(['mosquitto_pub', '-V', v] + rp +
                ['-i', 'cairn-fuzz', '-u', 'alice', '-P', 's3cr\u00e9t',
                 '-k', '5', '-r', '-q', '1', '-t', 'r/\u00e9t\u00e9',
                 '-m', 'retained'])
            relay.expect(tag + '_pub_will')
            run(['mosquitto_pub', '-V', v] + rp +
                ['-i', 'willer', '--will-topic', 'clients/willer/gone',
                 '--will-payload', 'bye', '--will-qos', '2',
                 '--will-retain', '-u', 'bob', '-t', 'a', '-n'])
            relay.expect(tag + '_pub_empty_id')
            run(['mosquitto_pub', '-V', v] + rp +
                ['-t', 'x/y', '-n'])
            # A subscriber that gets one message at each QoS (the broker
            # sends PUBLISH with QoS 2, the client PUBREC/PUBCOMP).
            for q in ('0', '1', '2'):
                relay.expect('%s_sub_qos%s' % (tag, q))
                sub = subprocess.Popen(
                    ['mosquitto_sub', '-V', v] + rp +
                    ['-i', 'sub' + q, '-c', '-q', q, '-C', '2',
                     '-t', 'sensors/+/temp', '-t', 'sensors/#',
                     '-t', 'r/#', '-W', '5'],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.4)
                run(['mosquitto_pub', '-V', v, '-h', HOST, '-p', str(bport),
                     '-t', 'sensors/room2/temp', '-q', q, '-m', 'hot'])
                try:
                    sub.wait(8)
                except subprocess.TimeoutExpired:
                    sub.kill()
                    sub.wait()
            relay.expect(tag + '_unsub')
            run(['mosquitto_sub', '-V', v] + rp +
                ['-i', 'unsub', '-t', 'a/b', '-U', 'a/b', '-U', 'c/+',
                 '-E'])
        time.sleep(0.5)
        n = 0
        for name, c2s, s2c in relay.records:
            for d, buf in (('c2s', c2s), ('s2c', s2c)):
                buf = whole_packets(bytes(buf))
                if not buf:
                    continue
                with open(os.path.join(out, '%s_%s.bin' % (name, d)),
                          'wb') as f:
                    f.write(buf)
                n += 1
        print('%d files' % n)
    finally:
        broker.terminate()
        broker.wait()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
