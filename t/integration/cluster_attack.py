#!/usr/bin/env python3
"""Attacks on the cluster link's handshake, each against a real node.

Usage:
    cluster_attack.py --broker-cmd PATH --epmd PATH --cairn PATH
                      [--only REGEX] [--keep] [-v] [--deadline S]

The link handshake of version 1 (HMAC(cookie, "cairn-link/1" | challenge
| self | peer), both HELLOs at once, every stranger a peer entry) fell to
five attacks; version 2 (project issue 9; broker/cluster/CLUSTER.md, "The
handshake"; broker/cluster/link_hs.h) is meant to stop each.  This suite speaks
version 2 itself, in Python (stdlib: hmac, hashlib, HKDF of RFC 5869),
as initiator and as responder, replays each attack against a
cairn-broker node, and checks the defence.  Each case says in a comment
what version 1 did and what the case guards.

  * positive_control_*: our initiator, and our responder (the node dials
    it), with the right cookie, get a link up both ways; a FORWARD we
    inject over it reaches a subscriber on the node.  It runs first; if
    it fails, every refusal case fails too ("proves nothing"), since a
    client that cannot get in with the cookie proves nothing by being
    refused without it.
  * repl_ack_beyond_what_was_sent_*: an authenticated peer acking
    replica frames the node never sent it loses its link, with one line.
  * wrong_cookie_*, reflection_*, peer_table_flood_*, idle_slots_*,
    preauth_memory_*, handshake_deadline_*, log_flood_*, version_1_hello_*:
    the attacks (FORWARD, RETAIN, ROUTE_ADD, CLAIM and SESSION_TAKE are
    injected on every refused connection; the control shows the same
    frames act on an authenticated link);
    idle_slots_squatters_* also probes version 2's own rule that a
    HELLO naming a known node keeps its slot (strangers naming the
    restarting peer, from its address).

Status at 9f4b00b (link version 2, 71b21e4): every case passes but
version_1_hello_refused_with_a_line_naming_version_1: the refusal line
says "the peer speaks an older link version (upgrade every node)",
without the version.  Typical numbers: the relink of a restarted peer
is ~10 ms from its listener (~50 ms from its start) with or without
2 x 128 idle connections (with squatters too, now and then ~200 ms: one
redial); RSS +0.1 MiB under 120 x 4 MiB announcements
(version 1: 23 -> 502 MB); 3 log lines for 3,000 strangers in 12 s, one
of them "2500 more like it" (version 1: 13,730 lines in 25 s).

A connect from a bound 127.0.0.x source now and then waits out one SYN
retransmission (1 s) during the floods; it happens against a plain
Python listener too (a loopback effect), and the cases allow for it.

Every node is started by the test on free loopback ports with its own
epmd, and killed by pid; attack sockets are bound to 127.0.0.x source
addresses (all loopback) so that per-address caps are exercised; every
loop is bounded in count and time.  Output is TAP (mqtt_harness.py's
runner).  By hand, from the top:

    B=BUILDDIR; python3 t/integration/cluster_attack.py \\
        --broker-cmd $B/broker/cairn-broker --epmd $B/epmd/epmd \\
        --cairn $B/cli/cairn [--only NAME] [-v]
"""

import argparse
import hashlib
import hmac
import os
import re
import selectors
import socket
import statistics
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import Fail, check, eq, test, subscribe  # noqa: E402
from cluster_harness import (Node, Epmd, wait_until, wait_mesh,  # noqa: E402
                             publishes)

COOKIE = 'cairn-test-cookie'        # cluster_harness.Node's default

# ------------------------------------------------------------ the wire (v2)

HELLO, AUTH, TICK, ROUTE_ADD, ROUTE_DEL, ROUTES_BEGIN, ROUTES_END = \
    1, 2, 3, 4, 5, 6, 7
FORWARD, FORWARD_ACK, RETAIN, CLAIM, SESSION_TAKE, SESSION_DATA, PEERS = \
    8, 9, 10, 11, 12, 13, 14
TYPE_NAMES = {1: 'HELLO', 2: 'AUTH', 3: 'TICK', 4: 'ROUTE_ADD',
              5: 'ROUTE_DEL', 6: 'ROUTES_BEGIN', 7: 'ROUTES_END',
              8: 'FORWARD', 9: 'FORWARD_ACK', 10: 'RETAIN', 11: 'CLAIM',
              12: 'SESSION_TAKE', 13: 'SESSION_DATA', 14: 'PEERS',
              15: 'REPL_SESSION', 16: 'REPL_SUB', 17: 'REPL_MSGS',
              18: 'REPL_STATE', 19: 'REPL_DROP', 20: 'CREDIT',
              21: 'SESSION_NONE', 22: 'REPL_ACK'}
REPL_ACK = 22
VERSION = 3
NONCE_LEN = 32
PREAUTH_MAX = 1024          # largest length field read before auth
LABEL = b'cairn-link/2'
LABEL_I = b'cairn-link/2 initiator finished'
LABEL_R = b'cairn-link/2 responder finished'
READ_MAX = 16 << 20         # what our reader accepts from an UP node
# Linux: a source address bound with port 0 gets its port at connect(),
# which then avoids a 4-tuple the node still holds in TIME_WAIT (else a
# SYN meets it and the connect waits out a 1 s retransmission).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, 'IP_BIND_ADDRESS_NO_PORT', 24)


def bind_src(s, src):
    try:
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    except OSError:
        pass
    s.bind((src, 0))


def frame(ftype, body=b''):
    return struct.pack('>IB', 1 + len(body), ftype) + body


def str16(s):
    if isinstance(s, str):
        s = s.encode('utf-8')
    return struct.pack('>H', len(s)) + s


def hello_body(name, nonce, version=VERSION):
    return bytes([version]) + str16(name) + nonce


def parse_hello(body):
    """(version, name bytes, nonce) of a HELLO body; Fail if malformed."""
    check(len(body) >= 3, 'HELLO body too short: %r' % body)
    n = struct.unpack('>H', body[1:3])[0]
    check(len(body) == 3 + n + NONCE_LEN, 'HELLO body of %d bytes with a '
          'name of %d: %r' % (len(body), n, body[:64]))
    return body[0], body[3:3 + n], body[3 + n:]


def forward_body(topic, payload, seq=0, qos=0, retain=0):
    return struct.pack('>QBB', seq, qos, retain) + str16(topic) + \
        struct.pack('>I', len(payload)) + payload


def retain_body(topic, payload, origin, stamp=None, qos=0):
    stamp = stamp if stamp is not None else int(time.time() * 1000) + 10**6
    return struct.pack('>Q', stamp) + str16(origin) + str16(topic) + \
        bytes([qos]) + struct.pack('>I', len(payload)) + payload


def lp(b):
    return struct.pack('>I', len(b)) + b


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    out, t, i = b'', b'', 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def transcript(vi, name_i, nonce_i, vr, name_r, nonce_r, binding=b''):
    if isinstance(name_i, str):
        name_i = name_i.encode('utf-8')
    if isinstance(name_r, str):
        name_r = name_r.encode('utf-8')
    return lp(LABEL) + lp(bytes([vi])) + lp(name_i) + lp(nonce_i) + \
        lp(bytes([vr])) + lp(name_r) + lp(nonce_r) + lp(binding)


def finished(cookie, role, t):
    """AUTH_I (role 'i') or AUTH_R ('r') over transcript bytes t."""
    if isinstance(cookie, str):
        cookie = cookie.encode('utf-8')
    prk = hkdf_extract(LABEL, cookie)
    key = hkdf_expand(prk, LABEL_I if role == 'i' else LABEL_R, 32)
    return hmac.new(key, hashlib.sha256(t).digest(), hashlib.sha256).digest()


class Closed(Exception):
    pass


class Link:
    """One TCP connection speaking link frames, with a bounded reader."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b''
        self.eof = False
        self.why = ''

    @classmethod
    def dial(cls, port, src=None, host='127.0.0.1', timeout=3.0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            if src:
                bind_src(s, src)
            s.connect((host, port))
        except OSError as e:
            s.close()
            raise Fail('connect %s:%d from %s: %s' % (host, port, src, e))
        return cls(s)

    def send(self, data):
        """False if the peer had closed (EPIPE, reset)."""
        try:
            self.s.sendall(data)
            return True
        except OSError:
            return False

    def sendf(self, ftype, body=b''):
        return self.send(frame(ftype, body))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.s.settimeout(left)
        try:
            b = self.s.recv(262144)
        except socket.timeout:
            return False
        except OSError as e:
            self.eof = True
            self.why = str(e)
            raise Closed(str(e))
        if not b:
            self.eof = True
            self.why = 'eof'
            raise Closed('eof')
        self.buf += b
        return True

    def recv(self, timeout=h.IO_TIMEOUT):
        """(type, body) of the next frame, None on timeout; Closed."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack('>I', self.buf[:4])[0]
                if n < 1 or n > READ_MAX:
                    raise Fail('bad frame length %d from the node' % n)
                if len(self.buf) >= 4 + n:
                    t, body = self.buf[4], self.buf[5:4 + n]
                    self.buf = self.buf[4 + n:]
                    return t, body
            if self.eof:
                raise Closed(self.why)
            if not self._fill(deadline):
                return None

    def expect(self, ftype, what, timeout=h.IO_TIMEOUT):
        try:
            f = self.recv(timeout)
        except Closed as e:
            raise Fail('%s: closed (%s) waiting for %s'
                       % (what, e, TYPE_NAMES[ftype]))
        if f is None:
            raise Fail('%s: no %s within %.1fs' % (what, TYPE_NAMES[ftype],
                                                  timeout))
        if f[0] != ftype:
            raise Fail('%s: got %s (%r), want %s'
                       % (what, TYPE_NAMES.get(f[0], f[0]), f[1][:64],
                          TYPE_NAMES[ftype]))
        return f[1]

    def closed_now(self):
        """True if the node has closed (or reset) this connection.  Reads
        what is there into the frame buffer (a HELLO_R may come before
        the close)."""
        # Python waits out a socket's timeout even with MSG_DONTWAIT:
        # non-blocking for the look, then the timeout back.
        prev = self.s.gettimeout()
        self.s.setblocking(False)
        try:
            for _ in range(64):
                if self.eof:
                    return True
                try:
                    b = self.s.recv(262144)
                except (BlockingIOError, InterruptedError):
                    return False
                except OSError as e:
                    self.eof, self.why = True, str(e)
                    return True
                if not b:
                    self.eof, self.why = True, 'eof'
                    return True
                self.buf += b
            return False
        finally:
            self.s.settimeout(prev)

    def until_closed(self, timeout):
        """(frames received, closed?) within timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                f = self.recv(max(0.0, deadline - time.monotonic()))
            except Closed:
                return got, True
            except Fail:
                return got, True
            if f is None:
                break
            got.append(f)
        return got, False

    def refused(self, what, timeout=2.0, allow=()):
        """The node closes within timeout, having sent no frame but those
        of the types in allow.  Returns the frames."""
        got, closed = self.until_closed(timeout)
        bad = [f for f in got if f[0] not in allow]
        check(not bad, '%s: the node sent %s before closing'
              % (what, [(TYPE_NAMES.get(t, t), b[:40]) for t, b in bad]))
        check(closed, '%s: still open after %.1fs (got %s)'
              % (what, timeout, [TYPE_NAMES.get(t, t) for t, _ in got]))
        self.close()
        return got


class Dialee:
    """A listening socket the node dials (YAML peers or cluster join)."""

    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]

    def accept(self, timeout, what):
        self.ls.settimeout(timeout)
        try:
            s, _ = self.ls.accept()
        except socket.timeout:
            raise Fail('%s: the node did not dial us within %.1fs'
                       % (what, timeout))
        return Link(s)

    def close(self):
        self.ls.close()


# -------------------------------------------------------------- handshakes

def nonce():
    return os.urandom(NONCE_LEN)


class Initiator:
    """Our side of a link we dial: HELLO_I, then what the case wants."""

    def __init__(self, port, name, cookie=COOKIE, src=None, n=None,
                 version=VERSION):
        self.name = name
        self.cookie = cookie
        self.nonce = n if n is not None else nonce()
        self.version = version
        self.l = Link.dial(port, src)
        self.l.sendf(HELLO, hello_body(name, self.nonce, version))
        self.hello_r = None

    def read_hello_r(self, what, timeout=h.IO_TIMEOUT):
        vr, nr, rr = parse_hello(self.l.expect(HELLO, what, timeout))
        eq(vr, VERSION, '%s: HELLO_R version' % what)
        self.hello_r = (vr, nr, rr)
        return self.hello_r

    def t(self):
        vr, nr, rr = self.hello_r
        return transcript(self.version, self.name, self.nonce, vr, nr, rr)

    def auth_i(self):
        return finished(self.cookie, 'i', self.t())

    def auth_r(self):
        return finished(self.cookie, 'r', self.t())


def status_names(node):
    return {p.get('node'): p.get('state')
            for p in node.status().get('peers', [])}


def listed(node, names):
    """The names of `names` that node's cluster status lists."""
    st = status_names(node)
    return sorted(n for n in names if n in st)


def subscriber(node, topic_filter):
    c, _ = node.connect()
    subscribe(c, [(topic_filter, 0)])
    return c


def logged(node, pattern, since=0):
    """Lines of node's log after byte offset `since` matching pattern."""
    return [ln for ln in node.log()[since:].splitlines()
            if re.search(pattern, ln, re.I)]


def log_len(node):
    return len(node.log())


def new_epmd():
    """An Epmd on a free port.  Our epmd, like OTP's, exits 0 when its
    port is taken ("already running"); a port free on 127.0.0.1 may be
    taken on another loopback address by the attacks' sockets: retry."""
    last = None
    for _ in range(5):
        try:
            return Epmd()
        except Fail as e:
            if 'exited early' not in str(e):
                raise
            last = e
    raise last


def start_node(tag, extra=(), peers=(), verbose=True, cookie=COOKIE):
    """One node with its own epmd: (epmd, node).  session_take_timeout
    0: our Python peers do not answer SESSION_TAKE (a real node answers
    SESSION_DATA or SESSION_NONE), and a persistent client's CONNACK
    would wait for them while their links, not ticking meanwhile, die."""
    ep = new_epmd()
    n = Node(tag, ep, cookie=cookie, extra=['session_take_timeout: 0'] +
             list(extra), peers=list(peers), verbose=verbose)
    return ep, n


def stop(*things):
    for t in things:
        if t is None:
            continue
        try:
            if isinstance(t, Node):
                t.stop()
            else:
                t.kill9()
        except Exception:
            pass


def vmrss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for ln in f:
                if ln.startswith('VmRSS:'):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def vmhwm_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for ln in f:
                if ln.startswith('VmHWM:'):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def note(msg):
    """A TAP comment (always printed: these are the report's numbers)."""
    for ln in msg.splitlines():
        print('# ' + ln)
    sys.stdout.flush()


CONTROL = {'ok': False, 'why': 'positive control not run'}


def require_control():
    if not CONTROL['ok']:
        raise Fail('positive control failed (%s): a refusal proves nothing'
                   % CONTROL['why'])


# ----------------------------------------------------------------- cases

@test('hkdf_rfc5869_vectors_and_transcript_layout')
def t_hkdf():
    # Our client is only as good as its HKDF: RFC 5869 A.1 and A.3.
    prk = hkdf_extract(bytes(range(13)), b'\x0b' * 22)
    eq(prk.hex(), '077709362c2e32df0ddc3f0dc47bba63'
       '90b6c73bb50f9c3122ec844ad7c2b3e5', 'RFC 5869 A.1 PRK')
    eq(hkdf_expand(prk, bytes(range(0xf0, 0xfa)), 42).hex(),
       '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf'
       '34007208d5b887185865', 'RFC 5869 A.1 OKM')
    prk = hkdf_extract(b'', b'\x0b' * 22)
    eq(prk.hex(), '19ef24a32c717b167f33a91d6f648bdf'
       '96596776afdb6377ac434c1c293ccb04', 'RFC 5869 A.3 PRK')
    eq(hkdf_expand(prk, b'', 42).hex(),
       '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d'
       '9d201395faa4b61a96c8', 'RFC 5869 A.3 OKM')
    # Length prefixes: moving a byte from one name to the next changes
    # the transcript (the version 1 ambiguity, issue 9).
    n1, n2 = nonce(), nonce()
    check(transcript(2, 'ab@h', n1, 2, 'c@h', n2) !=
          transcript(2, 'a', n1, 2, 'b@hc@h', n2), 'transcript ambiguous')
    t = transcript(2, 'a@h', n1, 2, 'b@h', n2)
    check(finished(COOKIE, 'i', t) != finished(COOKIE, 'r', t),
          'AUTH_I == AUTH_R: a proof could be reflected')


@test('positive_control_python_initiator_and_responder_link_up_with_the_'
      'cookie')
def t_control():
    # Guards the suite itself: with the right cookie our client gets a
    # link up as initiator (AUTH_R verified with k_r, then ROUTES_BEGIN
    # and TICK) and as responder (the node's AUTH_I verifies with k_i;
    # ours is accepted; the node lists us up), and a FORWARD we inject
    # reaches a subscriber on the node.  Every refusal case below
    # requires this one to have passed.
    CONTROL['why'] = 'it failed'
    dialee = Dialee()
    resp_name = 'ctlr@127.0.0.1'
    ep, a = start_node('kctl', peers=['%s:%d' % (resp_name, dialee.port)])
    li = lr = None
    try:
        # --- responder first: the node dials us as it starts (YAML
        # peers), and its handshake has handshake_timeout to finish.
        lr = dialee.accept(5.0, 'control responder')
        vi, ni, nn = parse_hello(lr.expect(HELLO, 'control responder: '
                                           'HELLO_I'))
        eq(vi, VERSION, 'HELLO_I version')
        eq(ni.decode(), a.node, 'HELLO_I name')
        my = nonce()
        lr.sendf(HELLO, hello_body(resp_name, my))
        t = transcript(vi, ni, nn, VERSION, resp_name, my)
        mac = lr.expect(AUTH, 'control responder: AUTH_I')
        check(hmac.compare_digest(mac, finished(COOKIE, 'i', t)),
              'the node\'s AUTH_I does not verify with k_i')
        lr.sendf(AUTH, finished(COOKIE, 'r', t))
        lr.sendf(ROUTES_BEGIN)
        lr.sendf(ROUTES_END)
        wait_until(lambda: status_names(a).get(resp_name) == 'up', 3.0,
                   'the node lists our responder up', (a,))
        f = lr.recv(2.0)
        check(f is not None and f[0] in TYPE_NAMES,
              'responder: no frame after AUTH_R: %r' % (f,))

        # --- initiator
        sub = subscriber(a, 'ctl/#')
        ini = Initiator(a.cport, 'ctli@127.0.0.1')
        li = ini.l
        vr, nr, rr = ini.read_hello_r('control initiator')
        eq(nr.decode(), a.node, 'HELLO_R name')
        eq(len(rr), NONCE_LEN, 'HELLO_R nonce length')
        check(rr != ini.nonce, 'HELLO_R echoed our nonce')
        li.sendf(AUTH, ini.auth_i())
        mac = li.expect(AUTH, 'control initiator: AUTH_R')
        check(hmac.compare_digest(mac, ini.auth_r()),
              'AUTH_R does not verify with k_r over the transcript: got %s, '
              'want %s' % (mac.hex(), ini.auth_r().hex()))
        seen = set()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and \
                not {ROUTES_BEGIN, TICK} <= seen:
            f = li.recv(max(0.0, deadline - time.monotonic()))
            if f is None:
                break
            seen.add(f[0])
        check({ROUTES_BEGIN, TICK} <= seen, 'after AUTH_R: want ROUTES_BEGIN '
              'and TICK, got %s' % sorted(TYPE_NAMES.get(t, t) for t in seen))
        li.sendf(ROUTES_BEGIN)
        li.sendf(ROUTES_END)
        wait_until(lambda: status_names(a).get('ctli@127.0.0.1') == 'up',
                   3.0, 'the node lists our initiator up', (a,))
        li.sendf(FORWARD, forward_body('ctl/x', b'control-forward'))
        got = [p.payload for p in publishes(sub, 1.0)]
        check(b'control-forward' in got, 'a FORWARD over our authenticated '
              'link did not reach the subscriber (got %r)' % got)
        # The other injections of the refusal cases, accepted here: a
        # RETAIN is stored, a CLAIM takes the client over.
        vc = victim(a, 'ctl')
        li.sendf(TICK)
        li.sendf(RETAIN, retain_body('ctl/r', b'control-retain',
                                     'ctli@127.0.0.1'))
        li.sendf(CLAIM, claim_body('ctl-victim', 'ctli@127.0.0.1'))
        vc.wait_closed(3.0)
        c = subscriber(a, 'ctl/r')
        got = [p.payload for p in publishes(c, 1.0)]
        c.close()
        check(b'control-retain' in got, 'a RETAIN over our authenticated '
              'link was not stored (got %r)' % got)
        CONTROL['ok'] = True
        CONTROL['why'] = ''
    finally:
        for x in (li, lr):
            if x:
                x.close()
        dialee.close()
        stop(a, ep)


@test('wrong_cookie_refused_no_auth_r_one_log_line')
def t_wrong_cookie():
    # Version 1: a wrong cookie was refused, but the acceptor had sent its
    # HELLO and its MAC at once, to anyone.  Guards: an initiator with a
    # wrong cookie gets HELLO_R and nothing else (no AUTH_R: no MAC to
    # guess the cookie against offline), is closed, and the node logs one
    # line ("wrong cookie?").  And the other way: the node dials us, we
    # answer with a wrong AUTH_R: refused, one line, no link.
    require_control()
    dialee = Dialee()
    ep, a = start_node('kwc', verbose=False)
    try:
        sub = subscriber(a, 'wc/#')
        ini = Initiator(a.cport, 'wrongcookie@127.0.0.1', cookie='not-it')
        ini.read_hello_r('wrong cookie')
        ini.l.sendf(AUTH, ini.auth_i())
        ini.l.sendf(FORWARD, forward_body('wc/x', b'injected'))
        ini.l.refused('wrong cookie initiator')
        lines = wait_until(lambda: logged(a, r'wrong cookie'), 2.0,
                           'a "wrong cookie?" line', (a,))
        time.sleep(0.5)
        lines = logged(a, r'wrong cookie')
        eq(len(lines), 1, 'log lines about the one wrong cookie (%r)'
           % lines)
        note('wrong cookie (initiator): %s' % lines[0])
        got = publishes(sub, 0.5)
        eq(got, [], 'publishes from a wrong-cookie FORWARD')
        eq(listed(a, ['wrongcookie@127.0.0.1']), [], 'listed in status')

        # The node dials us; we do not hold the cookie.  A node of its
        # own, so that a rate limit shared with the first line cannot
        # hide this one.
        stop(a, ep)
        ep, a = start_node('kwc2', verbose=False)
        off = log_len(a)
        name = 'wcresp@127.0.0.1'
        r = a.join('%s:%d' % (name, dialee.port))
        check('"ok":true' in r, 'cluster join: %r' % r)
        l = dialee.accept(5.0, 'wrong cookie responder')
        vi, ni, nn = parse_hello(l.expect(HELLO, 'HELLO_I'))
        my = nonce()
        l.sendf(HELLO, hello_body(name, my))
        l.expect(AUTH, 'the node\'s AUTH_I')
        t = transcript(vi, ni, nn, VERSION, name, my)
        l.sendf(AUTH, finished('not-it', 'r', t))
        l.refused('wrong AUTH_R', allow=(TICK,))
        wait_until(lambda: logged(a, r'wrong cookie', off), 2.0,
                   'a "wrong cookie?" line (responder)', (a,))
        note('wrong cookie (responder): %s'
             % logged(a, r'wrong cookie', off)[0])
        check(status_names(a).get(name) != 'up', 'wrong-cookie responder '
              'is up')
        a.remove(name)
    finally:
        dialee.close()
        stop(a, ep)


def claim_body(client_id, node, stamp=None):
    stamp = stamp if stamp is not None else int(time.time() * 1000) + 10**6
    return str16(client_id) + struct.pack('>Q', stamp) + str16(node)


def fwd_injections(links, topic):
    """Send a FORWARD, a RETAIN, a ROUTE_ADD, and a CLAIM and a
    SESSION_TAKE of the client `topic`-victim on every link (closed ones
    ignored)."""
    for l in links:
        l.sendf(FORWARD, forward_body(topic + '/f', b'injected-forward'))
        l.sendf(RETAIN, retain_body(topic + '/r', b'injected-retain',
                                    'mallory@127.0.0.1'))
        l.sendf(ROUTE_ADD, str16(topic + '/#'))
        l.sendf(CLAIM, claim_body(topic + '-victim', 'mallory@127.0.0.1'))
        l.sendf(SESSION_TAKE, str16(topic + '-victim'))


def victim(a, topic):
    """A client on the node whose id fwd_injections claims."""
    c, _ = a.connect(topic + '-victim', clean=False)
    return c


def nothing_delivered(a, sub, topic, vc):
    h.ping(vc, 'the client %s-victim after a CLAIM injected without the '
           'cookie' % topic)
    got = publishes(sub, 1.0)
    eq([(p.topic, p.payload) for p in got], [],
       'publishes from FORWARDs injected without the cookie')
    c = subscriber(a, topic + '/#')
    try:
        got = publishes(c, 0.5)
        eq([(p.topic, p.payload) for p in got], [],
           'retained messages injected without the cookie')
    finally:
        c.close()


@test('reflection_i_two_connections_names_AZ_ZA_nonce_reflected_no_link')
def t_reflection_two_conns():
    # Version 1: connection 1 as A+"Z" kept the node's challenge c1;
    # connection 2 as "Z"+A sent c1 back as its own challenge and the node
    # answered MAC(c1, A, "Z"+A), the very bytes connection 1 had to
    # present: a link without the cookie.  Version 2: length-prefixed
    # transcript, a key per direction, no MAC before the initiator's,
    # and a nonce outstanding on one of the node's handshakes is refused.
    # Guards: connection 2 (the node's nonce reflected) gets no HELLO_R;
    # the node, made to dial us as "Z"+A, is handed its own nonce from
    # connection 1 and gives no AUTH_I; whatever came back is presented on
    # connection 1 and gets no AUTH_R; FORWARD/RETAIN injected on both go
    # nowhere; the node never lists A+"Z" and never has "Z"+A up.
    require_control()
    A = 'mallory@127.0.0.1'
    az, za = A + 'Z', 'Z' + A
    dialee = Dialee()
    ep, a = start_node('krf1')
    links = []

    def conn1():
        c = Initiator(a.cport, az)
        links.append(c.l)
        c.read_hello_r('connection 1 (%s)' % az)
        return c
    try:
        sub = subscriber(a, 'rf1/#')
        vc = victim(a, 'rf1')
        c1 = conn1()
        r1 = c1.hello_r[2]
        # Cross-role: the node dials "Z"+A and we answer with its own
        # nonce r1, outstanding on connection 1: no AUTH_I may come.
        r = a.join('%s:%d' % (za, dialee.port))
        check('"ok":true' in r, 'cluster join: %r' % r)
        ld = dialee.accept(5.0, 'reflection dial')
        links.append(ld)
        parse_hello(ld.expect(HELLO, 'the node\'s HELLO_I'))
        ld.sendf(HELLO, hello_body(za, r1))
        gotd = ld.refused('our HELLO_R carrying r1 (the node\'s nonce on '
                          'connection 1)')
        macs = [b for t, b in gotd if t == AUTH]
        # Connection 2 as "Z"+A reflects the node's nonce of connection 1
        # (a fresh connection 1 if the node dropped the first).
        if c1.l.closed_now():
            note('reflection (i): the node closed connection 1 after the '
                 'reflected dial; a fresh connection 1 is used')
            c1 = conn1()
            r1 = c1.hello_r[2]
        c2 = Initiator(a.cport, za, n=r1)
        links.append(c2.l)
        got2, closed2 = c2.l.until_closed(2.0)
        check(not any(t == HELLO for t, _ in got2),
              'connection 2 (the node\'s nonce r1 reflected as ours) got a '
              'HELLO_R: %r' % got2)
        check(closed2, 'connection 2 still open after 2s')
        # Present on connection 1 whatever we got (a MAC from the node if
        # there was one, else the version-1 style guess).
        nr = c1.hello_r[1]
        guess = macs[0] if macs else hmac.new(
            b'', b'cairn-link/1' + r1 + az.encode() + nr,
            hashlib.sha256).digest()
        c1.l.sendf(AUTH, guess)
        fwd_injections(links, 'rf1')
        got1 = c1.l.refused('connection 1 with a MAC it could not make')
        check(not any(t == AUTH for t, _ in got1), 'AUTH_R on connection 1')
        nothing_delivered(a, sub, 'rf1', vc)
        eq(listed(a, [az]), [], 'attacker names in cluster status')
        check(status_names(a).get(za) != 'up', '"Z"+A is up')
        a.remove(za)
    finally:
        for l in links:
            l.close()
        dialee.close()
        stop(a, ep)


@test('reflection_ii_node_nonce_sent_back_on_a_second_connection_refused')
def t_reflection_nonce():
    # Version 1: a challenge was taken from anyone and MAC'd by the node.
    # Guards: the node's own HELLO_R nonce, sent back as our nonce on a
    # second connection (while the first is still in its handshake), is
    # refused with no HELLO_R; so is a HELLO with the node's own name; a
    # FORWARD before any handshake goes nowhere; none of these names is
    # listed.
    require_control()
    ep, a = start_node('krf2')
    links = []
    try:
        sub = subscriber(a, 'rf2/#')
        vc = victim(a, 'rf2')
        c1 = Initiator(a.cport, 'eve1@127.0.0.1')
        links.append(c1.l)
        _, _, r1 = c1.read_hello_r('connection 1')
        c2 = Initiator(a.cport, 'eve2@127.0.0.1', n=r1)
        links.append(c2.l)
        c2.l.refused('HELLO_I with the node\'s nonce r1')
        c3 = Initiator(a.cport, a.node)
        links.append(c3.l)
        c3.l.refused('HELLO_I with the node\'s own name')
        # A FORWARD as the first frame: no handshake at all.
        c4 = Link.dial(a.cport)
        links.append(c4)
        c4.sendf(FORWARD, forward_body('rf2/f', b'no-handshake'))
        c4.refused('a FORWARD before any HELLO')
        fwd_injections([c1.l], 'rf2')
        c1.l.sendf(AUTH, bytes(32))
        c1.l.refused('connection 1, zero AUTH')
        nothing_delivered(a, sub, 'rf2', vc)
        eq(listed(a, ['eve1@127.0.0.1', 'eve2@127.0.0.1']), [],
           'attacker names in cluster status')
    finally:
        for l in links:
            l.close()
        stop(a, ep)


@test('reflection_iii_responder_echoing_the_nodes_nonce_and_name_refused')
def t_reflection_responder():
    # Version 1: both sides sent HELLO at once, so a responder could echo
    # the dialler's challenge and name.  Guards: when the node dials us,
    # a HELLO_R that echoes its nonce and name, or its nonce under the
    # name it dialled, or its name with a fresh nonce, is refused: no
    # AUTH_I (no MAC for the attacker), the link is closed, never up.
    require_control()
    ep, a = start_node('krf3')
    links, dialees = [], []
    try:
        sub = subscriber(a, 'rf3/#')
        vc = victim(a, 'rf3')
        variants = [('its name and its nonce', lambda d, ni, nn: (ni, nn)),
                    ('its nonce, under the dialled name',
                     lambda d, ni, nn: (d.encode(), nn)),
                    ('its name, a fresh nonce',
                     lambda d, ni, nn: (ni, nonce()))]
        for k, (what, fn) in enumerate(variants):
            # One dial per variant: `cluster join` dials at once.
            d = Dialee()
            dialees.append(d)
            name = 'echo%d@127.0.0.1' % k
            r = a.join('%s:%d' % (name, d.port))
            check('"ok":true' in r, 'cluster join: %r' % r)
            l = d.accept(5.0, 'dial for "%s"' % what)
            links.append(l)
            vi, ni, nn = parse_hello(l.expect(HELLO, 'HELLO_I'))
            rn, rnonce = fn(name, ni, nn)
            l.sendf(HELLO, hello_body(rn, rnonce))
            got = l.refused('HELLO_R echoing %s' % what)
            check(not any(t == AUTH for t, _ in got), 'AUTH_I after %s'
                  % what)
            fwd_injections([l], 'rf3')
            check(status_names(a).get(name) != 'up', 'up after %s' % what)
            a.remove(name)
        nothing_delivered(a, sub, 'rf3', vc)
        up = [n for n, st in status_names(a).items() if st == 'up']
        eq(up, [], 'peers up after the echoes')
    finally:
        for l in links:
            l.close()
        for d in dialees:
            d.close()
        stop(a, ep)


def fake_hellos(port, count, tag, srcs, held):
    """count strangers with distinct names: a quarter HELLO + garbage
    AUTH, a quarter HELLO then idle, a quarter no bytes, a quarter half a
    HELLO.  Sockets kept open are appended to held."""
    kinds = {'garbage_auth': 0, 'hello_idle': 0, 'no_bytes': 0,
             'half_hello': 0, 'connect_failed': 0, 'slow_connects': []}
    for i in range(count):
        src = srcs[i % len(srcs)]
        name = '%s%03d@10.66.%d.%d' % (tag, i, i // 250, i % 250)
        t0 = time.monotonic()
        try:
            l = Link.dial(port, src, timeout=3.0)
        except Fail:
            kinds['connect_failed'] += 1
            continue
        if time.monotonic() - t0 > 0.5:
            kinds['slow_connects'].append((i, round(time.monotonic() - t0,
                                                    2)))
        k = i % 4
        if k == 0:
            l.sendf(HELLO, hello_body(name, nonce()))
            l.sendf(AUTH, os.urandom(32))
            kinds['garbage_auth'] += 1
        elif k == 1:
            l.sendf(HELLO, hello_body(name, nonce()))
            kinds['hello_idle'] += 1
        elif k == 2:
            kinds['no_bytes'] += 1
        else:
            b = frame(HELLO, hello_body(name, nonce()))
            l.send(b[:len(b) // 2])
            kinds['half_hello'] += 1
        held.append(l)
    return kinds


@test('peer_table_flood_200_fake_hellos_then_a_real_node_links')
def t_peer_flood():
    # Version 1: every HELLO made a peer entry before authentication;
    # after 70 fake HELLOs a legitimate node with the right cookie was
    # refused ("max_peers reached"), for good.  Guards: 200 strangers with
    # distinct names (garbage AUTH, idle after HELLO, no bytes at all,
    # half a HELLO; from 127.0.0.1 and 20 other loopback addresses, held
    # open, handshake_timeout 10s so that only eviction frees a slot)
    # leave no peer entry, and a real node with the cookie, dialling from
    # 127.0.0.1 while they are held, links (both sides "up"); the node
    # lists no fake name.
    require_control()
    ea, a = start_node('kfa', extra=['handshake_timeout: 10s'])
    eb = b = None
    held = []
    try:
        off = log_len(a)
        srcs = ['127.0.0.1'] + ['127.0.0.%d' % i for i in range(2, 22)]
        t0 = time.monotonic()
        kinds = fake_hellos(a.cport, 200, 'fake', srcs, held)
        took = time.monotonic() - t0
        st = a.status()
        fakes = [p.get('node') for p in st.get('peers', [])]
        eq(fakes, [], 'peers listed after 200 fake HELLOs')
        eb = new_epmd()
        b = Node('kfb', eb, peers=[a.addr], start=False)
        t1 = time.monotonic()
        b.start()
        up = wait_mesh([a, b], timeout=10.0)
        linked = time.monotonic() - t1
        names = [p.get('node') for p in a.status().get('peers', [])]
        eq(names, [b.node], 'the node lists exactly the real peer')
        time.sleep(0.2)
        open_now = sum(1 for l in held if not l.closed_now())
        lines = len(a.log()[off:].splitlines())
        note('peer flood: %d strangers (%s) sent in %.2fs; the real node '
             'linked %.2fs after its start (%.2fs after it answered MQTT); '
             '%d strangers still open; node log +%d lines (-v)'
             % (len(held), kinds, took, linked, up, open_now, lines))
        check(open_now <= 64, '%d strangers still open: more than '
              'max_handshakes (64)' % open_now)
    finally:
        for l in held:
            l.close()
        stop(b, eb, a, ea)


class IdleFlood(threading.Thread):
    """Holds n idle TCP connections (no bytes) to each port, reopening
    each one the node closes, at most `rate` connects per second per
    port, for at most `limit` seconds or until stop().  hello: {port:
    fn() -> bytes} sent on each new connection to that port (a squatter's
    HELLO) instead of nothing."""

    def __init__(self, ports, n=128, srcs=('127.0.0.1',), rate=300,
                 limit=120.0, hello=None):
        super().__init__(daemon=True)
        self.hello = dict(hello or {})
        self.ports = list(ports)
        self.n = n
        self.srcs = list(srcs)
        self.rate = rate
        self.limit = limit
        self.stop_ev = threading.Event()
        self.opened = 0
        self.closed_by_node = 0
        self.refused = 0
        self.error = None
        self.sel = selectors.DefaultSelector()
        self.open = {p: 0 for p in self.ports}

    def stop(self):
        self.stop_ev.set()
        self.join(5)

    def _connect(self, port, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.2)
        try:
            bind_src(s, self.srcs[i % len(self.srcs)])
            s.connect(('127.0.0.1', port))
            if port in self.hello:
                s.sendall(self.hello[port]())
        except OSError:
            s.close()
            self.refused += 1
            return False
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, (port, i))
        self.opened += 1
        self.open[port] += 1
        return True

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: B902 - reported by the case
            self.error = '%s: %s' % (type(e).__name__, e)
        finally:
            for k in list(self.sel.get_map().values()):
                try:
                    k.fileobj.close()
                except OSError:
                    pass
            self.sel.close()

    def _run(self):
        deadline = time.monotonic() + self.limit
        want = [(p, i) for p in self.ports for i in range(self.n)]
        budget = {p: 0.0 for p in self.ports}
        last = time.monotonic()
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            for p in self.ports:
                budget[p] = min(self.rate * 0.05,
                                budget[p] + (now - last) * self.rate)
            last = now
            rest = []
            for p, i in want:
                if budget[p] >= 1 and not self.stop_ev.is_set():
                    budget[p] -= 1
                    if self._connect(p, i):
                        continue
                rest.append((p, i))
            want = rest
            for key, _ in self.sel.select(0.01):
                s = key.fileobj
                try:
                    b = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    b = b''
                if b:
                    continue        # the node said something: ignore
                self.sel.unregister(s)
                s.close()
                self.closed_by_node += 1
                self.open[key.data[0]] -= 1
                want.append(key.data)


def relink_round(a, b, probe_port):
    """kill -9 b, wait until a sees it down, restart b (same name and
    ports), and time: (from b's start to both up, from b's cluster
    listener accepting to both up, a's dir of the link)."""
    b.kill9()
    wait_until(lambda: status_names(a).get(b.node) != 'up', 5.0,
               '%s to see %s down' % (a.short, b.short), (a,))
    listen_at = [None]
    stop_probe = threading.Event()

    def probe():
        # A connect that succeeds means b's listener is up; no bytes.
        deadline = time.monotonic() + 10
        while not stop_probe.is_set() and time.monotonic() < deadline:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.2)
            try:
                s.connect(('127.0.0.1', probe_port))
                listen_at[0] = time.monotonic()
                s.close()
                return
            except OSError:
                s.close()
            time.sleep(0.003)
    t0 = time.monotonic()
    b.start(wait=False)
    th = threading.Thread(target=probe, daemon=True)
    th.start()
    both = None
    deadline = t0 + 10.0
    while time.monotonic() < deadline:
        try:
            if status_names(a).get(b.node) == 'up' and \
                    status_names(b).get(a.node) == 'up':
                both = time.monotonic()
                break
        except Fail:
            pass            # b's control socket not there yet
        time.sleep(0.01)
    stop_probe.set()
    th.join(2)
    if both is None:
        raise Fail('%s and %s not both up within 10s of the restart%s'
                   % (a.short, b.short, ch.dumps((a, b))))
    la = listen_at[0] if listen_at[0] is not None else t0
    p = a.peer(b.node) or {}
    return both - t0, both - la, p.get('dir')


def relink_trial(tag, squat):
    """Two nodes naming each other in peers (handshake_timeout 10s);
    3 relink rounds (relink_round) without an attack, then 3 under 128
    idle connections per node (half from 127.0.0.1, the peer's own
    address), and with squat, also 8 connections from 127.0.0.1 to a
    that each send a HELLO naming b (the node a knows) and stay idle,
    reopened when a closes them.  Asserts the attack adds < 1 s to the
    median relink timed from b's listener, and every attacked relink
    stays under 1 s; notes the numbers."""
    extra = ['handshake_timeout: 10s']
    ea, eb = new_epmd(), new_epmd()
    a = Node(tag + 'a', ea, extra=extra, start=False)
    b = Node(tag + 'b', eb, extra=extra, start=False)
    a.peers = [b.addr]
    b.peers = [a.addr]
    a.write_conf()
    b.write_conf()
    floods = []
    try:
        a.start()
        b.start()
        wait_mesh([a, b])
        ctl = [relink_round(a, b, b.cport) for _ in range(3)]
        srcs = ['127.0.0.1'] + ['127.0.0.%d' % i for i in range(30, 38)]
        # Half from 127.0.0.1: every other source after it.
        srcs = ['127.0.0.1' if i % 2 == 0 else srcs[1 + (i // 2) % 8]
                for i in range(16)]
        if squat:
            sq = IdleFlood([a.cport], n=8, srcs=['127.0.0.1'], rate=100,
                           hello={a.cport: lambda: frame(
                               HELLO, hello_body(b.node, nonce()))})
            floods.append(sq)
        flood = IdleFlood([a.cport, b.cport], n=128, srcs=srcs, rate=300)
        floods.append(flood)
        for f in floods:
            f.start()
        time.sleep(1.5)             # let it fill every slot
        filled = dict(flood.open)
        atk = [relink_round(a, b, b.cport) for _ in range(3)]
        for f in floods:
            f.stop()
            check(f.error is None, 'a flood thread: %s' % f.error)
        med_c = statistics.median(r[0] for r in ctl)
        med_a = statistics.median(r[0] for r in atk)
        lis_c = statistics.median(r[1] for r in ctl)
        lis_a = statistics.median(r[1] for r in atk)
        what = '2x128 idle connections' + (
            ' and 8 squatters naming %s' % b.short if squat else '')
        note('relink without attack (s from start / from listen, dir of '
             'the link on %s): %s' % (a.short, ['%.3f/%.3f/%s' % r
                                                 for r in ctl]))
        note('relink under %s: %s' % (what, ['%.3f/%.3f/%s' % r
                                              for r in atk]))
        note('medians from the listener: %.3fs without, %.3fs with '
             '(+%.3fs); from the start: %.3fs without, %.3fs with (+%.3fs: '
             'start-up under the flood\'s CPU); flood: %d connects, %d '
             'closed by the nodes, %d refused, open before the rounds %s%s'
             % (lis_c, lis_a, lis_a - lis_c, med_c, med_a, med_a - med_c,
                flood.opened, flood.closed_by_node, flood.refused, filled,
                '; squatters: %d connects, %d closed by %s'
                % (floods[0].opened, floods[0].closed_by_node, a.short)
                if squat else ''))
        check(flood.opened >= 256, 'the flood did not get its connections '
              'open (%d)' % flood.opened)
        check(lis_a - lis_c < 1.0, 'the attack added %.3fs to the relink '
              '(median from the restarted node\'s listener: %.3fs with, '
              '%.3fs without)' % (lis_a - lis_c, lis_a, lis_c))
        check(max(r[1] for r in atk) < 1.0, 'a relink under the attack took '
              '%.3fs from the restarted node\'s listener'
              % max(r[1] for r in atk))
    finally:
        for f in floods:
            f.stop()
        stop(a, b, ea, eb)


@test('idle_slots_128_idle_connections_per_node_do_not_delay_a_relink')
def t_idle_slots():
    # Version 1: 128 idle TCP connections, reopened every 5 s, held every
    # link slot: new links were locked out and a restarted peer took
    # seconds instead of ~70 ms to relink.  Guards: with 128 idle
    # connections (no bytes) held on each node's cluster port (half from
    # 127.0.0.1, the real peer's own address, half from 8 others; each
    # reopened as soon as the node closes it, at most 300 connects/s per
    # port; handshake_timeout 10s so that only eviction frees a slot), a
    # peer killed with -9 and restarted (same name and ports) relinks
    # within 1 s of the same restart measured without the attack
    # (medians of 3 rounds each, from the moment its cluster listener
    # accepts; the time from its process start is reported too, and
    # includes its start-up slowed by the flood's CPU).
    require_control()
    relink_trial('ki', squat=False)


@test('idle_slots_squatters_naming_the_peer_do_not_delay_its_relink')
def t_idle_slots_squat():
    # Not a version 1 repro: it probes version 2's own rule that a
    # handshake whose HELLO names a known node keeps its slot (one per
    # name).  A stranger can send that HELLO without the cookie: 8 of
    # them from the peer's own address (127.0.0.1, the per-address cap),
    # naming the peer and staying idle (handshake_timeout 10s), reopened
    # as the node closes them, on top of the idle flood of the case
    # above.  Guards: the restarted peer's own connection still gets in
    # and relinks within 1 s of the control (as above).
    require_control()
    relink_trial('ks', squat=True)


@test('preauth_memory_120_connections_announcing_4MiB_closed_rss_bounded')
def t_preauth_memory():
    # Version 1: up to max_frame (4 MiB) was buffered per connection
    # before the handshake: 120 connections part-way through a 4 MiB HELLO
    # took the node's RSS from 23 MB to 502 MB.  Guards: a length field
    # over 1024 before authentication closes the connection at once: each
    # of 120 connections announcing a 4 MiB HELLO and sending 64 KiB of it
    # is closed within 1 s (handshake_timeout is 10s here, so this is the
    # length check, not the deadline), and 120 more held part-way through
    # legal 1024-byte frames are bounded too; the node's RSS (VmRSS,
    # sampled every 10 ms) grows by less than 8 MiB over it all.
    require_control()
    BOUND = 8 * 1024        # KiB
    ep, a = start_node('kmem', extra=['handshake_timeout: 10s'])
    links = []
    samples = []
    stop_ev = threading.Event()

    def sampler():
        deadline = time.monotonic() + 60
        while not stop_ev.is_set() and time.monotonic() < deadline:
            v = vmrss_kib(a.pid)
            if v is not None:
                samples.append(v)
            time.sleep(0.01)
    try:
        time.sleep(0.5)
        base = vmrss_kib(a.pid)
        hwm0 = vmhwm_kib(a.pid)
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        srcs = ['127.0.0.%d' % i for i in range(40, 55)]     # 15 x 8
        hdr = struct.pack('>IB', 4 << 20, HELLO)
        chunk = os.urandom(64 * 1024)
        t0 = time.monotonic()
        for i in range(120):
            l = Link.dial(a.cport, srcs[i % len(srcs)])
            l.s.setblocking(False)
            l.sent_at = time.monotonic()
            try:
                l.s.send(hdr)
                l.s.send(chunk)
            except OSError:
                pass
            links.append(l)
        slow = []
        for l in links:
            l.s.setblocking(True)
            left = l.sent_at + 1.0 - time.monotonic()
            _, closed = l.until_closed(max(0.05, left))
            if not closed:
                slow.append(l)
        big_took = time.monotonic() - t0
        check(not slow, '%d of 120 connections announcing 4 MiB still open '
              '1s after their header' % len(slow))
        for l in links:
            l.close()
        links = []
        # Legal frames part-way: 1019 of 1024 bytes each, held.
        hdr = struct.pack('>IB', PREAUTH_MAX, HELLO)
        for i in range(120):
            try:
                l = Link.dial(a.cport, srcs[i % len(srcs)], timeout=1.0)
            except Fail:
                continue
            l.send(hdr + os.urandom(PREAUTH_MAX - 6))
            links.append(l)
        time.sleep(1.0)
        stop_ev.set()
        th.join(2)
        peak = max(samples) if samples else None
        hwm = vmhwm_kib(a.pid)
        check(a.alive(), 'the node died')
        check(peak is not None, 'no VmRSS samples')
        note('pre-auth memory: VmRSS %d KiB before, peak %d KiB (+%d KiB), '
             'VmHWM %d -> %d KiB; 120 x 4 MiB announcements all closed '
             'in %.2fs; %d legal partial frames held'
             % (base, peak, peak - base, hwm0, hwm, big_took, len(links)))
        check(peak - base < BOUND, 'RSS grew by %d KiB (bound %d KiB)'
              % (peak - base, BOUND))
    finally:
        stop_ev.set()
        for l in links:
            l.close()
        stop(a, ep)


@test('handshake_deadline_closes_stalled_strangers')
def t_deadline():
    # Version 1: dead_after (5 s) was the handshake's deadline, and a
    # stranger that never finished held its slot that long.  Guards:
    # with handshake_timeout 1s, a connection that sends nothing, one
    # that sends half a HELLO, and one that gets HELLO_R and never sends
    # AUTH are each closed within 1 s + 1.5 s of slack, the last having
    # received HELLO_R only.
    require_control()
    TIMEOUT, SLACK = 1.0, 1.5
    ep, a = start_node('kdl', extra=['handshake_timeout: 1s'])
    links = []
    try:
        t0 = time.monotonic()
        idle = Link.dial(a.cport)
        half = Link.dial(a.cport)
        b = frame(HELLO, hello_body('half@127.0.0.1', nonce()))
        half.send(b[:len(b) // 2])
        ini = Initiator(a.cport, 'noauth@127.0.0.1')
        links = [idle, half, ini.l]
        took = {}
        for what, l in (('idle', idle), ('half a HELLO', half),
                        ('HELLO_R, no AUTH', ini.l)):
            got, closed = l.until_closed(t0 + TIMEOUT + SLACK -
                                         time.monotonic())
            check(closed, '%s: still open %.1fs after the connect (got %s)'
                  % (what, time.monotonic() - t0,
                     [TYPE_NAMES.get(t, t) for t, _ in got]))
            took[what] = time.monotonic() - t0
            if l is ini.l:
                eq([t for t, _ in got], [HELLO], 'frames to a stranger '
                   'that never sent AUTH')
        note('handshake_timeout 1s: closed after %s'
             % ', '.join('%s %.2fs' % kv for kv in took.items()))
    finally:
        for l in links:
            l.close()
        stop(a, ep)


def flood_one(port, kind, src, i):
    """One stranger of `kind`; closes its socket."""
    try:
        l = Link.dial(port, src, timeout=3.0)
    except Fail:
        return 'connect failed'
    try:
        name = 'flood%04d@127.0.0.1' % i
        if kind == 'idle_close':
            pass
        elif kind == 'garbage':
            l.send(struct.pack('>IB', 9, 0xEE) + os.urandom(8))
            l.until_closed(0.5)
        elif kind == 'wrong_cookie':
            ini_nonce = nonce()
            l.sendf(HELLO, hello_body(name, ini_nonce))
            f = None
            try:
                f = l.recv(0.5)
            except Closed:
                pass
            if f and f[0] == HELLO:
                vr, nr, rr = parse_hello(f[1])
                t = transcript(VERSION, name, ini_nonce, vr, nr, rr)
                l.sendf(AUTH, finished('not-the-cookie', 'i', t))
                l.until_closed(0.5)
        elif kind == 'version_1':
            l.sendf(HELLO, hello_body(name, nonce(), version=1))
            l.until_closed(0.5)
        elif kind == 'oversized':
            l.send(struct.pack('>IB', 4 << 20, HELLO) + os.urandom(1024))
            l.until_closed(0.5)
        return 'ok'
    finally:
        l.close()


@test('log_flood_3000_mixed_connections_bounded_lines_and_summary')
def t_log_flood():
    # Version 1: one line per refused link connection: 13,730 lines in
    # 25 s of reconnects.  Guards: 3,000 strangers over about 12 s (idle
    # close, garbage frame, wrong cookie, version 1 HELLO, oversized
    # frame; from 100 source addresses) add at most 20 lines to the log of
    # a node at its default level (no -v), and since the run spans more
    # than one 10 s interval, a "N more like it" summary appears.
    require_control()
    COUNT, SPAN, BOUND = 3000, 12.0, 20
    ep, a = start_node('klog', verbose=False)
    kinds = ['idle_close', 'garbage', 'wrong_cookie', 'version_1',
             'oversized']
    try:
        time.sleep(0.3)
        off = log_len(a)
        srcs = ['127.0.0.%d' % i for i in range(100, 200)]
        res = {}
        t0 = time.monotonic()
        hard = t0 + SPAN + 20
        for i in range(COUNT):
            if time.monotonic() > hard:
                break
            due = t0 + i * SPAN / COUNT
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            r = flood_one(a.cport, kinds[i % len(kinds)],
                          srcs[i % len(srcs)], i)
            res[r] = res.get(r, 0) + 1
        took = time.monotonic() - t0
        time.sleep(1.0)
        check(a.alive(), 'the node died')
        text = a.log()[off:]
        lines = text.splitlines()
        summary = [ln for ln in lines if re.search(r'more like', ln)]
        note('log flood: %d connections in %.1fs (%s); %d lines added, %d '
             'of them summaries:' % (sum(res.values()), took, res,
                                     len(lines), len(summary)))
        for ln in lines[:30]:
            note('  | ' + ln)
        eq(res.get('ok', 0), COUNT, 'strangers that got through the loop')
        check(len(lines) <= BOUND, '%d log lines for %d strangers (bound %d)'
              % (len(lines), COUNT, BOUND))
        check(summary, 'no "more like it" summary line in a %.1fs run'
              % took)
        note('per kind: a line naming version 1: %s; a "wrong cookie" '
             'line: %s' % (any(re.search(r'version 1\b', ln) for ln in lines),
                           any('wrong cookie' in ln for ln in lines)))
    finally:
        stop(a, ep)


@test('repl_ack_beyond_what_was_sent_closes_the_link_with_one_line')
def t_repl_ack():
    # REPL_ACK (issue 12) lets a replica holder release the owner's
    # FORWARD_ACKs.  Guards: a peer with the cookie that acks replica
    # frames the node never sent it (which would release acks for
    # copies nobody holds) has its link closed at once, with one line
    # naming the count, and the node lives.
    require_control()
    ep, a = start_node('krack', verbose=False)
    li = None
    try:
        ini = Initiator(a.cport, 'rack@127.0.0.1')
        li = ini.l
        ini.read_hello_r('REPL_ACK peer')
        li.sendf(AUTH, ini.auth_i())
        check(hmac.compare_digest(li.expect(AUTH, 'AUTH_R'), ini.auth_r()),
              'AUTH_R does not verify')
        li.sendf(ROUTES_BEGIN)
        li.sendf(ROUTES_END)
        wait_until(lambda: status_names(a).get('rack@127.0.0.1') == 'up',
                   3.0, 'the node lists our peer up', (a,))
        off = log_len(a)
        li.sendf(REPL_ACK, struct.pack('>Q', 5))
        _, closed = li.until_closed(3.0)
        check(closed, 'the link is still open after REPL_ACK 5 of 0 sent')
        lines = wait_until(lambda: logged(a, r'protocol error: REPL_ACK 5 '
                                          r'of 0', off), 2.0,
                           'a line naming the REPL_ACK', (a,))
        eq(len(lines), 1, 'lines for one bad REPL_ACK')
        note(lines[0])
        check(a.alive(), 'the node died')
    finally:
        if li:
            li.close()
        stop(a, ep)


@test('version_1_hello_refused_with_a_line_naming_version_1')
def t_version_1():
    # Version 1 is the broken handshake; a version-1 node must not get a
    # fallback (that would be the downgrade).  Guards: a version 1 HELLO
    # (its layout: version, name, 32-byte challenge) gets no HELLO_R and
    # is closed, with a line saying the peer speaks version 1; a version 2
    # HELLO (the handshake of version 3, without CREDIT after it: issue
    # 12) and a version VERSION + 1 HELLO are closed the same way.
    require_control()
    ep, a = start_node('kv1', verbose=False)
    try:
        l = Initiator(a.cport, 'oldnode@127.0.0.1', version=1).l
        l.refused('a version 1 HELLO')
        lines = wait_until(lambda: logged(a, r'version 1\b'), 2.0,
                           'a line naming version 1', (a,))
        note('version 1: %s' % lines[0])
        l = Initiator(a.cport, 'v2node@127.0.0.1', version=2).l
        l.refused('a version 2 HELLO')
        l = Initiator(a.cport, 'newnode@127.0.0.1', version=VERSION + 1).l
        l.refused('a version %d HELLO' % (VERSION + 1))
        eq(listed(a, ['oldnode@127.0.0.1', 'v2node@127.0.0.1',
                      'newnode@127.0.0.1']), [], 'listed in status')
    finally:
        stop(a, ep)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sys.exit(ch.main(ap))
