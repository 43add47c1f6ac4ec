"""Shared code of the WebSocket suites (broker_ws.py, broker_browser.py).

Not a test on its own: a test CA and server certificate made with
`openssl`, a broker with ws:// and wss:// listeners (either dialect,
from mqtt_harness), a raw WebSocket client that can also break the
rules, and paho-mqtt clients with transport="websockets".
"""

import base64
import os
import socket
import ssl
import struct
import threading
import time

import mqtt_harness as h
from mqtt_harness import (Broker, Fail, Skip, check, eq, uniq,  # noqa: F401
                          connect_pkt, wait_until, free_port, scratch,
                          yaml_str)

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
CONNACK, PUBLISH, SUBACK, PINGRESP = 2, 3, 9, 13


class Closed(Exception):
    pass


# ------------------------------------------------------- certificates

CERTS = {}
CERTS_LOCK = threading.Lock()


def certs():
    """A CA and a server certificate for 127.0.0.1/localhost (once)."""
    with CERTS_LOCK:
        if CERTS:
            return CERTS
        d = scratch('pki')
        os.makedirs(d, exist_ok=True)
        ca_key, ca = os.path.join(d, 'ca.key'), os.path.join(d, 'ca.pem')
        key, csr = os.path.join(d, 'srv.key'), os.path.join(d, 'srv.csr')
        crt, ext = os.path.join(d, 'srv.pem'), os.path.join(d, 'ext.cnf')
        with open(ext, 'w') as f:
            f.write('subjectAltName=IP:127.0.0.1,DNS:localhost\n'
                    'basicConstraints=CA:FALSE\n')
        for cmd in (
            ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
             'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', ca_key,
             '-out', ca, '-days', '2', '-subj', '/CN=cairn test CA'],
            ['openssl', 'req', '-newkey', 'ec', '-pkeyopt',
             'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key,
             '-out', csr, '-subj', '/CN=127.0.0.1'],
            ['openssl', 'x509', '-req', '-in', csr, '-CA', ca, '-CAkey',
             ca_key, '-CAcreateserial', '-out', crt, '-days', '2',
             '-extfile', ext]):
            rc, out, err = h.run_cmd(cmd, timeout=20)
            check(rc == 0, '%s: %s' % (' '.join(cmd[:2]), err))
        CERTS.update(ca=ca, cert=crt, key=key)
        return CERTS


# ------------------------------------------------------------ brokers

class WsBroker(Broker):
    """A broker with an MQTT listener (port), ws (ws_port) and, when
    tls, wss (wss_port)."""

    def __init__(self, tls=False, origins=None, max_packet_size=None,
                 connect_timeout=None):
        self.ws_port = free_port()
        self.wss_port = free_port() if tls else None
        sc = {}
        if max_packet_size:
            sc['max_packet_size'] = max_packet_size
        if connect_timeout:
            sc['connect_timeout'] = connect_timeout
        if h.mode() == 'mosquitto':
            lines = ['listener %d 127.0.0.1' % self.ws_port,
                     'protocol websockets']
            if tls:
                c = certs()
                lines += ['listener %d 127.0.0.1' % self.wss_port,
                          'protocol websockets', 'certfile ' + c['cert'],
                          'keyfile ' + c['key']]
        else:
            lines = ['listeners:',
                     '  - address: 127.0.0.1',
                     '    port: %d' % self.ws_port,
                     '    protocol: websockets']
            if origins:
                lines.append('    allowed_origins: [%s]' %
                             ', '.join(yaml_str(o) for o in origins))
            if tls:
                c = certs()
                lines += ['  - address: 127.0.0.1',
                          '    port: %d' % self.wss_port,
                          '    protocol: websockets']
                if origins:
                    lines.append('    allowed_origins: [%s]' %
                                 ', '.join(yaml_str(o) for o in origins))
                lines += ['    tls:',
                          '      certfile: ' + yaml_str(c['cert']),
                          '      keyfile: ' + yaml_str(c['key'])]
        sc['extra'] = '\n'.join(lines)
        Broker.__init__(self, sc)


# ------------------------------------------------ a raw WebSocket client

def frame(op, payload, fin=True, mask=True, length=None):
    """A client frame; length overrides the header's payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | op
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack('!BB', b0, m | n)
    elif n < 65536:
        hdr = struct.pack('!BBH', b0, m | 126, n)
    else:
        hdr = struct.pack('!BBQ', b0, m | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class WsConn:
    """One raw WebSocket connection: upgrade, frames, MQTT packets."""

    def __init__(self, port, tls=False):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=3)
        if tls:
            ctx = ssl.create_default_context(cafile=certs()['ca'])
            self.s = ctx.wrap_socket(self.s, server_hostname='127.0.0.1')
        self.port = port
        self.buf = b''
        self.mqtt = b''

    def request(self, origin=None, proto='mqtt', key=None, extra='',
                path='/mqtt'):
        key = key or base64.b64encode(os.urandom(16)).decode()
        self.key = key
        r = ('GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n'
             'Upgrade: websocket\r\nConnection: Upgrade\r\n'
             'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n'
             % (path, self.port, key))
        if proto:
            r += 'Sec-WebSocket-Protocol: %s\r\n' % proto
        if origin:
            r += 'Origin: %s\r\n' % origin
        return r + extra + '\r\n'

    def upgrade(self, **kw):
        """Sends a request; returns (status, headers dict, raw head)."""
        self.s.sendall(self.request(**kw).encode())
        return self.read_answer()

    def read_answer(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while b'\r\n\r\n' not in self.buf:
            self._fill(deadline)
        head, _, self.buf = self.buf.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(':')
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs, head

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail('WebSocket: nothing within the timeout (have %r)'
                       % self.buf[:80])
        self.s.settimeout(left)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            raise Fail('WebSocket: nothing within the timeout (have %r)'
                       % self.buf[:80])
        except (ConnectionResetError, ssl.SSLError) as e:
            raise Closed(str(e))
        if not d:
            raise Closed('EOF')
        self.buf += d

    def send(self, data):
        self.s.sendall(data)

    def send_mqtt(self, data):
        self.s.sendall(frame(2, data))

    def recv_frame(self, timeout=3.0):
        """(opcode, payload) of the next server frame."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                check(not (b1 & 0x80), 'a server frame is masked')
                n, off = b1 & 0x7f, 2
                if n == 126 and len(self.buf) >= 4:
                    n, off = struct.unpack('!H', self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, off = struct.unpack('!Q', self.buf[2:10])[0], 10
                if (b1 & 0x7f) < 126 or off > 2:
                    if len(self.buf) >= off + n:
                        p = self.buf[off:off + n]
                        self.buf = self.buf[off + n:]
                        return b0 & 0x0f, p
            self._fill(deadline)

    def recv_mqtt(self, timeout=3.0):
        """The next MQTT packet (type, body) from binary frames."""
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._mqtt_packet()
            if pkt:
                return pkt
            op, p = self.recv_frame(max(0.01, deadline - time.monotonic()))
            check(op in (0, 2), 'a non-binary frame %d: %r' % (op, p))
            self.mqtt += p

    def _mqtt_packet(self):
        b = self.mqtt
        if len(b) < 2:
            return None
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(b):
                return None
            n += (b[i] & 0x7f) * mult
            mult *= 128
            i += 1
            if not b[i - 1] & 0x80:
                break
        if len(b) < i + n:
            return None
        self.mqtt = b[i + n:]
        return b[0] >> 4, b[i:i + n]

    def expect_close(self, code, timeout=3.0):
        """A close frame with code, then EOF."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                op, p = self.recv_frame(max(0.01,
                                            deadline - time.monotonic()))
            except Closed:
                raise Fail('EOF with no close frame (wanted %d)' % code)
            if op == 8:
                break
        got = struct.unpack('!H', p[:2])[0] if len(p) >= 2 else None
        eq(got, code, 'close code')
        self.expect_eof(deadline - time.monotonic())

    def expect_eof(self, timeout=3.0):
        deadline = time.monotonic() + max(0.1, timeout)
        try:
            while True:
                self._fill(deadline)
                self.buf = b''
        except Closed:
            return

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def ws_open(port, tls=False, client_id=None, origin=None):
    """An upgraded raw connection with CONNECT done."""
    c = WsConn(port, tls)
    st, hdrs, _ = c.upgrade(origin=origin)
    eq(st, 101, 'upgrade status')
    c.send_mqtt(connect_pkt(client_id or uniq('raw')))
    t, body = c.recv_mqtt()
    eq((t, body), (CONNACK, b'\x00\x00'), 'CONNACK')
    return c


# --------------------------------------------------------------- paho

def paho_client(port, tls=False, client_id=None):
    """A connected paho client over websockets (loop thread running)."""
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id=client_id or uniq('paho'),
                    transport='websockets')
    if tls:
        c.tls_set(ca_certs=certs()['ca'])
    got = []
    ev = threading.Event()
    c.on_connect = lambda c_, u, f, rc: (got.append(('connack', rc)),
                                         ev.set())
    c.on_message = lambda c_, u, m: got.append((m.topic, m.payload, m.qos))
    c.connect('127.0.0.1', port, 30)
    c.loop_start()
    if not ev.wait(5):
        c.loop_stop()
        raise Fail('paho: no CONNACK over %s within 5s'
                   % ('wss' if tls else 'ws'))
    eq(got.pop(0), ('connack', 0), 'paho CONNACK')
    c.got = got
    return c


def paho_roundtrip(port, tls=False, n=20, size=64):
    """Subscriber and publisher over websockets: n messages at QoS 0
    and 1, and the same topic published over plain MQTT."""
    sub = paho_client(port, tls)
    pub = paho_client(port, tls)
    try:
        topic = uniq('ws/t')
        r = sub.subscribe(topic + '/#', 1)
        check(r[0] == 0, 'paho subscribe: %r' % (r,))
        time.sleep(0.3)
        want = []
        for i in range(n):
            payload = (b'%05d' % i) * (size // 5 + 1)
            payload = payload[:size]
            qos = i % 2
            info = pub.publish('%s/%d' % (topic, i), payload, qos)
            info.wait_for_publish(5) if hasattr(info, 'wait_for_publish') \
                else None
            want.append(('%s/%d' % (topic, i), payload, qos))
        wait_until(lambda: len(sub.got) >= n, 10, 'paho got %d messages' % n)
        eq(sorted(sub.got), sorted(want), 'messages over websockets')
        return sub, pub, topic
    except Exception:
        sub.loop_stop()
        pub.loop_stop()
        raise


def paho_stop(*cs):
    for c in cs:
        try:
            c.disconnect()
        except Exception:
            pass
        c.loop_stop()


def still_serves(b, tls=False):
    """Another client on the same listener still works; broker alive."""
    sub, pub, _ = paho_roundtrip(b.wss_port if tls else b.ws_port, tls,
                                 n=4)
    paho_stop(sub, pub)
    check(b.alive(), 'broker alive')


def cairn_only():
    if h.mode() != 'cairn':
        raise Skip("Cairn's answers to attacks (statuses, close codes, "
                   "log lines); libwebsockets' differ")


def broker_log(b):
    try:
        b.errf.seek(0)
        return b.errf.read().decode('utf-8', 'replace')
    except Exception:
        return ''
