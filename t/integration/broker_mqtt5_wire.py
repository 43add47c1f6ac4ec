"""MQTT 5.0 packets for the black-box suites (broker_mqtt5.py,
cluster_mqtt5.py).

Not a test on its own.  A hand-made MQTT 5.0 encoder and decoder over
mqtt_harness.py's raw connections (Conn, its bounded reader), written
from the OASIS standard (2019), not from any broker's code, so that a
broker's codec cannot agree with itself: properties of every type
(byte, two and four byte integers, variable byte integer, UTF-8 string,
binary data, string pair) in the order given, CONNECT with will
properties, PUBLISH, the acks with reason codes and properties,
SUBSCRIBE with subscription options, UNSUBSCRIBE, DISCONNECT, AUTH.

A received PUBLISH is decoded into a Msg, with the connection's inbound
topic aliases resolved (an alias the broker never set is a Fail: the
broker must not use one, MQTT 5 3.3.2.3.4).  Python 3 standard library
only.
"""

import struct
import time

import mqtt_harness as h
from mqtt_harness import (Closed, Fail, check, eq, fixed, mstr, varint,
                          uniq, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC,
                          PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
                          UNSUBACK, PINGREQ, PINGRESP, DISCONNECT)

AUTH = 15
h.NAMES[AUTH] = 'AUTH'

# Property identifiers (MQTT 5 2.2.2.2) and their types.
PFI = 0x01                  # payload format indicator, byte
MSG_EXPIRY = 0x02           # message expiry interval, u32
CONTENT_TYPE = 0x03         # string
RESPONSE_TOPIC = 0x08       # string
CORRELATION = 0x09          # binary
SUB_ID = 0x0B               # variable byte integer
SESSION_EXPIRY = 0x11       # u32
ASSIGNED_ID = 0x12          # string
SERVER_KEEPALIVE = 0x13     # u16
AUTH_METHOD = 0x15          # string
AUTH_DATA = 0x16            # binary
REQ_PROBLEM = 0x17          # byte
WILL_DELAY = 0x18           # u32
REQ_RESPONSE = 0x19         # byte
RESPONSE_INFO = 0x1A        # string
SERVER_REF = 0x1C           # string
REASON_STRING = 0x1F        # string
RECEIVE_MAX = 0x21          # u16
TOPIC_ALIAS_MAX = 0x22      # u16
TOPIC_ALIAS = 0x23          # u16
MAX_QOS = 0x24              # byte
RETAIN_AVAIL = 0x25         # byte
USER_PROP = 0x26            # string pair
MAX_PACKET = 0x27           # u32
WILDCARD_AVAIL = 0x28       # byte
SUB_ID_AVAIL = 0x29         # byte
SHARED_AVAIL = 0x2A         # byte

BYTE, U16, U32, VBI, STR, BIN, PAIR = range(7)
PTYPE = {PFI: BYTE, MSG_EXPIRY: U32, CONTENT_TYPE: STR, RESPONSE_TOPIC: STR,
         CORRELATION: BIN, SUB_ID: VBI, SESSION_EXPIRY: U32,
         ASSIGNED_ID: STR, SERVER_KEEPALIVE: U16, AUTH_METHOD: STR,
         AUTH_DATA: BIN, REQ_PROBLEM: BYTE, WILL_DELAY: U32,
         REQ_RESPONSE: BYTE, RESPONSE_INFO: STR, SERVER_REF: STR,
         REASON_STRING: STR, RECEIVE_MAX: U16, TOPIC_ALIAS_MAX: U16,
         TOPIC_ALIAS: U16, MAX_QOS: BYTE, RETAIN_AVAIL: BYTE,
         USER_PROP: PAIR, MAX_PACKET: U32, WILDCARD_AVAIL: BYTE,
         SUB_ID_AVAIL: BYTE, SHARED_AVAIL: BYTE}

# Reason codes used by the suites (MQTT 5 2.4).
RC_SUCCESS = 0x00
RC_DISCONNECT_WITH_WILL = 0x04
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_IMPL_SPECIFIC = 0x83
RC_UNSUPPORTED_VERSION = 0x84
RC_CLIENT_ID_NOT_VALID = 0x85
RC_BAD_USER_OR_PASSWORD = 0x86
RC_NOT_AUTHORIZED = 0x87
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_BAD_AUTH_METHOD = 0x8C
RC_KEEPALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_RECEIVE_MAX_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_QUOTA_EXCEEDED = 0x97
RC_PAYLOAD_FORMAT_INVALID = 0x99
RC_SHARED_NOT_SUPPORTED = 0x9E
RC_SUB_IDS_NOT_SUPPORTED = 0xA1
RC_WILDCARDS_NOT_SUPPORTED = 0xA2


# ---------------------------------------------------------------- encoding

def enc_props(props):
    """props: [(id, value)] in order; value bytes/str for strings and
    binary, (k, v) for a user property, int otherwise.  Returns the
    property length and the properties."""
    out = b''
    for pid, v in props:
        t = PTYPE[pid]
        out += varint(pid)
        if t == BYTE:
            out += bytes([v])
        elif t == U16:
            out += struct.pack('>H', v)
        elif t == U32:
            out += struct.pack('>I', v)
        elif t == VBI:
            out += varint(v)
        elif t in (STR, BIN):
            out += mstr(v)
        else:
            out += mstr(v[0]) + mstr(v[1])
    return varint(len(out)) + out


def connect5(client_id, clean=True, keepalive=60, props=(), will=None,
             username=None, password=None):
    """will: dict(topic, payload, qos=0, retain=False, props=())."""
    flags = 0x02 if clean else 0
    payload = mstr(client_id) if client_id is not None else b''
    if will:
        flags |= 0x04 | (will.get('qos', 0) << 3) | \
            (0x20 if will.get('retain') else 0)
        payload += enc_props(will.get('props', ())) + \
            mstr(will['topic']) + mstr(will['payload'])
    if username is not None:
        flags |= 0x80
        payload += mstr(username)
    if password is not None:
        flags |= 0x40
        payload += mstr(password)
    body = mstr('MQTT') + bytes([5, flags]) + struct.pack('>H', keepalive) \
        + enc_props(props)
    return fixed(CONNECT, 0, body + payload)


def publish5(topic, payload=b'', qos=0, retain=False, dup=False, pid=None,
             props=()):
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = mstr(topic)
    if qos:
        body += struct.pack('>H', pid)
    return fixed(PUBLISH, flags, body + enc_props(props) + payload)


def ack5(ptype, pid, rc=0, props=()):
    body = struct.pack('>H', pid)
    if rc or props:
        body += bytes([rc])
    if props:
        body += enc_props(props)
    return fixed(ptype, 2 if ptype == PUBREL else 0, body)


def sub_opts(qos=0, nl=0, rap=0, rh=0):
    return qos | (nl << 2) | (rap << 3) | (rh << 4)


def subscribe5(pid, filters, props=()):
    """filters: [(filter, options byte)]."""
    body = struct.pack('>H', pid) + enc_props(props)
    for f, o in filters:
        body += mstr(f) + bytes([o])
    return fixed(SUBSCRIBE, 2, body)


def unsubscribe5(pid, filters, props=()):
    body = struct.pack('>H', pid) + enc_props(props)
    for f in filters:
        body += mstr(f)
    return fixed(UNSUBSCRIBE, 2, body)


def disconnect5(rc=0, props=()):
    if not rc and not props:
        return fixed(DISCONNECT, 0, b'')
    return fixed(DISCONNECT, 0, bytes([rc]) + (enc_props(props)
                                               if props else b''))


# ---------------------------------------------------------------- decoding

class Cursor:
    def __init__(self, b, what):
        self.b = b
        self.i = 0
        self.what = what

    def left(self):
        return len(self.b) - self.i

    def take(self, n):
        if self.left() < n:
            raise Fail('%s: truncated (%d bytes wanted at %d of %r)'
                       % (self.what, n, self.i, self.b[:64]))
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack('>H', self.take(2))[0]

    def u32(self):
        return struct.unpack('>I', self.take(4))[0]

    def vbi(self):
        n, mult = 0, 1
        for k in range(4):
            b = self.u8()
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                return n
        raise Fail('%s: variable byte integer longer than 4 bytes'
                   % self.what)

    def bin(self):
        return self.take(self.u16())

    def str(self):
        raw = self.bin()
        try:
            return raw.decode('utf-8')
        except UnicodeDecodeError:
            raise Fail('%s: string not UTF-8: %r' % (self.what, raw))

    def props(self):
        n = self.vbi()
        sub = Cursor(self.take(n), self.what + ' properties')
        out = []
        while sub.left():
            pid = sub.vbi()
            t = PTYPE.get(pid)
            if t is None:
                raise Fail('%s: unknown property 0x%02x' % (self.what, pid))
            if t == BYTE:
                v = sub.u8()
            elif t == U16:
                v = sub.u16()
            elif t == U32:
                v = sub.u32()
            elif t == VBI:
                v = sub.vbi()
            elif t == STR:
                v = sub.str()
            elif t == BIN:
                v = sub.bin()
            else:
                v = (sub.str(), sub.str())
            out.append((pid, v))
        return out


def pget(props, pid, default=None):
    for k, v in props:
        if k == pid:
            return v
    return default


def pall(props, pid):
    return [v for k, v in props if k == pid]


def check_props(props, where):
    """No property twice except user properties and subscription
    identifiers (MQTT 5 2.2.2.2: a Protocol Error)."""
    seen = set()
    for k, _ in props:
        if k in seen and k not in (USER_PROP, SUB_ID):
            raise Fail('%s: property 0x%02x twice in %r' % (where, k, props))
        seen.add(k)


class Connack:
    def __init__(self, pkt):
        c = Cursor(pkt.body, 'CONNACK')
        self.sp = c.u8()
        self.rc = c.u8()
        self.props = c.props() if c.left() else []
        check(c.left() == 0, 'CONNACK: %d trailing bytes' % c.left())
        check(self.sp in (0, 1), 'CONNACK flags 0x%02x' % self.sp)
        check_props(self.props, 'CONNACK')

    def get(self, pid, default=None):
        return pget(self.props, pid, default)

    def __repr__(self):
        return 'CONNACK(sp=%d rc=0x%02x %r)' % (self.sp, self.rc, self.props)


class Ack:
    """PUBACK/PUBREC/PUBREL/PUBCOMP: packet id, reason code, props."""

    def __init__(self, pkt):
        c = Cursor(pkt.body, pkt.name)
        self.type = pkt.type
        self.pid = c.u16()
        self.rc = c.u8() if c.left() else 0
        self.props = c.props() if c.left() else []
        check(c.left() == 0, '%s: trailing bytes' % pkt.name)

    def __repr__(self):
        return '%s(id=%d rc=0x%02x %r)' % (h.NAMES[self.type], self.pid,
                                           self.rc, self.props)


class Subacks:
    """SUBACK/UNSUBACK: packet id, props, one reason code per filter."""

    def __init__(self, pkt):
        c = Cursor(pkt.body, pkt.name)
        self.pid = c.u16()
        self.props = c.props()
        self.codes = list(c.take(c.left()))


class Disconnect:
    def __init__(self, pkt):
        c = Cursor(pkt.body, 'DISCONNECT')
        self.rc = c.u8() if c.left() else 0
        self.props = c.props() if c.left() else []

    def __repr__(self):
        return 'DISCONNECT(rc=0x%02x %r)' % (self.rc, self.props)


class Msg:
    """A received PUBLISH; topic resolved through the connection's
    aliases (alias: the alias number it came with, or None)."""

    def __init__(self, pkt, aliases):
        c = Cursor(pkt.body, 'PUBLISH')
        self.qos = pkt.qos
        self.retain = pkt.retain
        self.dup = pkt.dup
        check(self.qos != 3, 'PUBLISH with QoS 3')
        self.topic = c.str()
        self.raw_topic = self.topic     # as sent: '' when only an alias
        self.pid = c.u16() if self.qos else None
        self.props = c.props()
        self.payload = c.take(c.left())
        self.size = len(pkt.raw)
        check_props(self.props, 'PUBLISH')
        self.alias = pget(self.props, TOPIC_ALIAS)
        if self.alias is not None:
            check(1 <= self.alias <= aliases['max'],
                  'PUBLISH topic alias %d past our maximum %d'
                  % (self.alias, aliases['max']))
            if self.topic:
                aliases[self.alias] = self.topic
            else:
                check(self.alias in aliases,
                      'PUBLISH alias %d never set' % self.alias)
                self.topic = aliases[self.alias]
        check(self.topic != '', 'PUBLISH with an empty topic and no alias')

    def get(self, pid, default=None):
        return pget(self.props, pid, default)

    def user(self):
        return pall(self.props, USER_PROP)

    def sub_ids(self):
        return pall(self.props, SUB_ID)

    def carried(self):
        """The properties that are the message's own (not per delivery)."""
        return [(k, v) for k, v in self.props
                if k not in (TOPIC_ALIAS, SUB_ID, MSG_EXPIRY)]

    def __repr__(self):
        return 'Msg(%r, %r, q%d%s%s %r)' % (
            self.topic, self.payload[:40], self.qos,
            ' r' if self.retain else '', ' dup' if self.dup else '',
            self.props)


# ------------------------------------------------------------ a 5.0 client

class C5:
    """One MQTT 5.0 client over a raw connection (conn: a Conn or a
    cluster NsConn, already connected)."""

    def __init__(self, conn, alias_max=0):
        self.c = conn
        self.aliases = {'max': alias_max}
        self.msgs = []      # PUBLISHes held back while an ack was awaited

    def send(self, data):
        self.c.send(data)

    def pid(self):
        return self.c.pid()

    def recv_pkt(self, timeout=h.IO_TIMEOUT):
        return self.c.recv(timeout)

    def expect(self, ptype, what, timeout=h.IO_TIMEOUT):
        """The next packet of ptype; PUBLISHes before it are kept."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail('%s: no %s within %.1fs' % (what, h.NAMES[ptype],
                                                      timeout))
            try:
                p = self.c.recv(left)
            except Closed as e:
                raise Fail('%s: connection closed (%s) waiting for %s'
                           % (what, e, h.NAMES[ptype]))
            if p is None:
                continue
            if p.type == ptype:
                return p
            if p.type == PUBLISH:
                self.msgs.append(self._msg(p))
                continue
            if p.type == DISCONNECT:
                raise Fail('%s: %r waiting for %s'
                           % (what, Disconnect(p), h.NAMES[ptype]))
            raise Fail('%s: got %r, want %s' % (what, p, h.NAMES[ptype]))

    def _msg(self, p):
        return Msg(p, self.aliases)

    def subscribe(self, filters, props=(), want=None, sub_id=None):
        """filters: [(filter, options byte)] or one filter (QoS 0).
        Returns the reason codes (checked against want if given)."""
        if isinstance(filters, str):
            filters = [(filters, 0)]
        if sub_id is not None:
            props = [(SUB_ID, sub_id)] + list(props)
        pid = self.pid()
        self.send(subscribe5(pid, filters, props))
        s = Subacks(self.expect(SUBACK, 'SUBSCRIBE %r' % (filters,)))
        eq(s.pid, pid, 'SUBACK packet id')
        eq(len(s.codes), len(filters), 'SUBACK reason codes')
        if want is None:
            want = [o & 3 for _, o in filters]
        eq(s.codes, want, 'SUBACK reason codes for %r' % (filters,))
        return s.codes

    def unsubscribe(self, filters, want=None):
        pid = self.pid()
        self.send(unsubscribe5(pid, filters))
        s = Subacks(self.expect(UNSUBACK, 'UNSUBSCRIBE %r' % (filters,)))
        eq(s.pid, pid, 'UNSUBACK packet id')
        if want is not None:
            eq(s.codes, want, 'UNSUBACK reason codes')
        return s.codes

    def publish(self, topic, payload, qos=0, retain=False, props=(),
                want_rc=None):
        """PUBLISH with its whole ack flow; the PUBACK/PUBREC reason code
        (None for QoS 0), checked against want_rc if given."""
        if qos == 0:
            self.send(publish5(topic, payload, 0, retain, props=props))
            return None
        pid = self.pid()
        self.send(publish5(topic, payload, qos, retain, pid=pid,
                           props=props))
        a = Ack(self.expect(PUBACK if qos == 1 else PUBREC,
                            'PUBLISH %r' % topic))
        eq(a.pid, pid, 'ack packet id')
        if want_rc is not None:
            eq(a.rc, want_rc, 'reason code of the ack for %r' % topic)
        if qos == 2 and a.rc < 0x80:
            self.send(ack5(PUBREL, pid))
            c = Ack(self.expect(PUBCOMP, 'PUBCOMP for %r' % topic))
            eq((c.pid, c.rc), (pid, 0), 'PUBCOMP')
        return a.rc

    def recv(self, n, timeout=h.IO_TIMEOUT, ack=True):
        """n PUBLISHes (QoS 1/2 acked unless ack is False)."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            if self.msgs:
                m = self.msgs.pop(0)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    p = self.c.recv(left)
                except Closed as e:
                    raise Fail('closed (%s) after %d of %d publishes: %r'
                               % (e, len(got), n, got))
                if p is None:
                    break
                if p.type == PUBREL:
                    self.send(ack5(PUBCOMP, Ack(p).pid))
                    continue
                if p.type == DISCONNECT:
                    raise Fail('%r after %d of %d publishes: %r'
                               % (Disconnect(p), len(got), n, got))
                if p.type != PUBLISH:
                    raise Fail('want PUBLISH, got %r' % p)
                m = self._msg(p)
            got.append(m)
            if ack:
                self.ack(m)
        if len(got) < n:
            raise Fail('%d of %d publishes within %.1fs: %r'
                       % (len(got), n, timeout, got))
        return got

    def ack(self, m):
        if m.qos == 1:
            self.send(ack5(PUBACK, m.pid))
        elif m.qos == 2:
            self.send(ack5(PUBREC, m.pid))
            r = Ack(self.expect(PUBREL, 'PUBREL for %r' % m))
            eq(r.pid, m.pid, 'PUBREL id')
            self.send(ack5(PUBCOMP, m.pid))

    def drain(self, wait=0.4, ack=True):
        """The PUBLISHes that arrive within wait seconds."""
        got = list(self.msgs)
        self.msgs = []
        for m in got:
            if ack:
                self.ack(m)
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                p = self.c.recv(left)
            except Closed:
                return got
            if p is None:
                return got
            if p.type == PUBLISH:
                m = self._msg(p)
                got.append(m)
                if ack:
                    self.ack(m)
            elif p.type == PUBREL:
                self.send(ack5(PUBCOMP, Ack(p).pid))
            elif p.type == DISCONNECT:
                raise Fail('%r while draining (had %r)' % (Disconnect(p),
                                                           got))

    def ping(self):
        """PINGREQ round trip; the PUBLISHes before PINGRESP are kept."""
        self.send(fixed(PINGREQ, 0, b''))
        self.expect(PINGRESP, 'PINGREQ')

    def disconnect(self, rc=0, props=()):
        try:
            self.c.send(disconnect5(rc, props))
        except Closed:
            pass
        self.c.close()

    def close(self):
        self.c.shutdown()

    def wait_disconnect(self, timeout=h.IO_TIMEOUT):
        """The broker closes: (Disconnect or None, packets before it)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail('connection still open after %.1fs (got %r)'
                           % (timeout, got))
            try:
                p = self.c.recv(left)
            except Closed:
                return None, got
            if p is None:
                continue
            if p.type == DISCONNECT:
                d = Disconnect(p)
                try:
                    rest = self.c.wait_closed(left)
                except Fail:
                    raise Fail('still open after %r' % d)
                check(rest == [], 'packets after %r: %r' % (d, rest))
                return d, got
            got.append(p)


def connect(conn, client_id=None, rc=0, alias_max=0, **kw):
    """CONNECT (5.0) on conn; returns (C5, Connack), the reason code
    checked.  kw: connect5's (clean, keepalive, props, will, username,
    password); alias_max: the Topic Alias Maximum we send."""
    props = list(kw.pop('props', ()))
    if alias_max:
        props.append((TOPIC_ALIAS_MAX, alias_max))
    cid = client_id if client_id is not None else uniq('v5')
    conn.send(connect5(cid, props=props, **kw))
    p = conn.expect(CONNACK, 'CONNECT %r' % cid)
    ca = Connack(p)
    eq(ca.rc, rc, 'CONNACK reason code for %r (%r)' % (cid, ca))
    return C5(conn, alias_max), ca
