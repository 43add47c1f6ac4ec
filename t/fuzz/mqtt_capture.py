#!/usr/bin/env python3
"""Seeds t/fuzz/corpus/mqtt/ from real MQTT traffic.

usage: mqtt_capture.py OUT_DIR

Starts Debian's `mosquitto` on a free loopback port, puts a recording
relay in front of it on another, and runs mosquitto_pub / mosquitto_sub
through the relay at MQTT 5.0, 3.1.1 and 3.1 (QoS 0, 1, 2, retain, a
will, user name and password, several filters, unsubscribe), then 5.0
with properties on every packet that has them (mosquitto_pub/sub -D)
and Debian's paho-mqtt as an MQTTv5 client (subscription options,
topic alias, DISCONNECT with reason 0x04; run with /usr/bin/python3).  Each connection
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


def capture_v5(relay, rp, bport):
    """5.0 with properties: mosquitto's clients, then paho."""
    relay.expect('v5_pub_props')
    run(['mosquitto_pub', '-V', 'mqttv5'] + rp +
        ['-i', 'v5pub', '-q', '1', '-t', 't/v5', '-m', 'h\u00e9llo',
         '-D', 'connect', 'session-expiry-interval', '60',
         '-D', 'connect', 'receive-maximum', '10',
         '-D', 'connect', 'maximum-packet-size', '100000',
         '-D', 'connect', 'topic-alias-maximum', '5',
         '-D', 'connect', 'request-problem-information', '1',
         '-D', 'connect', 'request-response-information', '1',
         '-D', 'connect', 'user-property', 'who', 'fuzz',
         '-D', 'publish', 'user-property', 'a', 'b',
         '-D', 'publish', 'user-property', 'a', 'c',
         '-D', 'publish', 'content-type', 'text/plain',
         '-D', 'publish', 'response-topic', 'resp/1',
         '-D', 'publish', 'correlation-data', '1234',
         '-D', 'publish', 'message-expiry-interval', '30',
         '-D', 'publish', 'payload-format-indicator', '1',
         '-D', 'publish', 'topic-alias', '1',
         '--will-topic', 'w/v5', '--will-payload', 'gone',
         '-D', 'will', 'will-delay-interval', '5',
         '-D', 'will', 'content-type', 'text/plain',
         '-D', 'will', 'user-property', 'k', 'v',
         '-D', 'disconnect', 'session-expiry-interval', '0'])
    relay.expect('v5_sub_props')
    sub = subprocess.Popen(
        ['mosquitto_sub', '-V', 'mqttv5'] + rp +
        ['-i', 'v5sub', '-q', '2', '-C', '1', '-W', '5', '-t', 'v5/#',
         '-D', 'subscribe', 'subscription-identifier', '7',
         '-D', 'subscribe', 'user-property', 's', 'v',
         '-D', 'connect', 'session-expiry-interval', '3600'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    run(['mosquitto_pub', '-V', 'mqttv5', '-h', HOST, '-p', str(bport),
         '-t', 'v5/a', '-q', '2', '-m', 'x',
         '-D', 'publish', 'user-property', 'u', 'p',
         '-D', 'publish', 'correlation-data', 'c0'])
    try:
        sub.wait(8)
    except subprocess.TimeoutExpired:
        sub.kill()
        sub.wait()
    relay.expect('v5_unsub_props')
    run(['mosquitto_sub', '-V', 'mqttv5'] + rp +
        ['-i', 'v5unsub', '-t', 'a/b', '-U', 'a/b', '-E',
         '-D', 'unsubscribe', 'user-property', 'x', 'y'])
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.subscribeoptions import SubscribeOptions
    except ImportError:
        return
    relay.expect('v5_paho')
    c = mqtt.Client(client_id='v5paho', protocol=mqtt.MQTTv5)
    cp = Properties(PacketTypes.CONNECT)
    cp.SessionExpiryInterval = 30
    cp.TopicAliasMaximum = 4
    c.connect(HOST, relay.port, 10, clean_start=True, properties=cp)
    c.loop_start()
    time.sleep(0.3)
    c.subscribe('req/#', options=SubscribeOptions(
        qos=1, noLocal=True, retainAsPublished=True, retainHandling=1))
    c.subscribe('resp/#', options=SubscribeOptions(qos=2))
    pp = Properties(PacketTypes.PUBLISH)
    pp.ResponseTopic = 'resp/v5paho'
    pp.CorrelationData = b'\x00\x01\x02'
    pp.UserProperty = ('trace', '42')
    pp.TopicAlias = 2
    c.publish('resp/v5paho', b'ping', qos=1, properties=pp).wait_for_publish(3)
    c.publish('req/x', b'', qos=2, retain=True).wait_for_publish(3)
    c.unsubscribe('req/#')
    time.sleep(0.5)
    dp = Properties(PacketTypes.DISCONNECT)
    dp.SessionExpiryInterval = 0
    c.disconnect(reasoncode=mqtt.ReasonCodes(PacketTypes.DISCONNECT,
                                             'Disconnect with will message'),
                 properties=dp)
    time.sleep(0.3)
    c.loop_stop()


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
        for v, tag in (('mqttv5', 'v5'), ('mqttv311', 'v311'),
                       ('mqttv31', 'v31')):
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
        capture_v5(relay, rp, bport)
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
