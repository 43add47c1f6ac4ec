#!/usr/bin/env python3
"""MQTT 5.0 enhanced authentication with SCRAM-SHA-256, black-box.

Usage:
    broker_scram.py --broker-cmd PATH --cairn PATH [--mode cairn]
                    [--only REGEX] [--deadline SECONDS] [-v]

The client is written here, over raw MQTT 5.0 bytes, with the standard
library's hashlib and hmac (RFC 5802 and RFC 7677): CONNECT carries
authentication method "SCRAM-SHA-256" and client-first, the broker answers
AUTH 0x18 with server-first, the client sends AUTH 0x18 with client-final,
and the broker's CONNACK 0x00 carries server-final, which the client
checks (the broker proves it holds the user's ServerKey).  The password
file is written by `cairn passwd --scram`.

Cases: success (and the connection then works), a wrong password (CONNACK
0x86), an unknown user (a server-first that looks like a real user's: the
same salt every time, the real round count; then 0x86), another method
(0x8C, no AUTH sent), a tampered nonce, a client-final replayed on a new
connection, AUTH without a method at CONNECT (protocol error), a changed
method in AUTH (protocol error), the exchange bounded by connect_timeout,
re-authentication, a re-authentication left unanswered (DISCONNECT 0x87
at connect_timeout, QoS 1 PUBLISH acked until then), another packet
during the exchange (0x82), a user added to the password file and read on
SIGHUP, a 3.1.1 client with the plain password of a SCRAM entry, and
SASLprep (RFC 4013): a password written in
a form that NFKC alone does not make canonical, proved by a client that
prepares it, a user name sent decomposed, and a user name SASLprep refuses
(0x86 and a log line).

The same broker against a SCRAM client that is not ours: Perl's
Authen::SCRAM::Client (Debian's libauthen-scram-perl, installed by
.ci/install-deps) in a co-process, fixtures/scram_client.pl, makes
client-first and client-final and checks server-final, while this file
does the MQTT framing.  Cases: success (its validate() of the CONNACK's
server-final passes, and fails for a server-final with one byte changed),
a wrong password (CONNACK 0x86), passwords that only SASLprep makes equal
(RFC 4013's "I<U+00AD>X" and a no-break space), given to the Perl client
unprepared, re-authentications, then one with a wrong password
(DISCONNECT 0x87).  Without perl or the module these cases fail: they do
not skip.

mosquitto has no SCRAM (its enhanced authentication is plugin-only), so
there is no mosquitto run of this file: --mode cairn only.  Output is TAP;
each case starts its own broker on a free loopback port and kills it by pid.
"""

import argparse
import base64
import hashlib
import hmac
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Broker, Closed, Conn, Fail, check, eq, test,  # noqa
                          uniq, fixed, mstr, varint, connect_pkt, CONNACK,
                          PINGREQ, PINGRESP, DISCONNECT, SUBACK, PUBLISH,
                          PUBACK)

AUTH = 15
METHOD = 'SCRAM-SHA-256'
P_METHOD, P_DATA = 0x15, 0x16
RC_CONTINUE, RC_REAUTH = 0x18, 0x19
CAIRN = None            # the cairn CLI, for `cairn passwd`
USERS = {'sam': 'pencil', 'a,b=c': 'odd name', 'plain': 'plain pw'}


# --------------------------------------------------------- MQTT 5.0 bytes

def props(*items):
    """Property block from (id, value) pairs: 0x15 a string, 0x16 bytes."""
    out = b''
    for pid, val in items:
        if isinstance(val, str):
            val = val.encode()
        out += bytes([pid]) + struct.pack('>H', len(val)) + val
    return varint(len(out)) + out


def read_varint(b, i):
    n, mult = 0, 1
    while True:
        n += (b[i] & 0x7f) * mult
        mult *= 128
        i += 1
        if not b[i - 1] & 0x80:
            return n, i


def parse_props(b, i):
    """{id: value} of a property block at b[i:], and the offset after it.
    Only the properties this test meets are understood."""
    n, i = read_varint(b, i)
    end, out = i + n, {}
    while i < end:
        pid = b[i]
        i += 1
        if pid in (0x15, 0x16, 0x1f, 0x12, 0x1a, 0x1c):   # string/binary
            ln = struct.unpack('>H', b[i:i + 2])[0]
            out[pid] = b[i + 2:i + 2 + ln]
            i += 2 + ln
        elif pid in (0x24, 0x25, 0x28, 0x29, 0x2a, 0x17, 0x19, 0x01):
            out[pid] = b[i]
            i += 1
        elif pid in (0x13, 0x21, 0x22, 0x23):
            out[pid] = struct.unpack('>H', b[i:i + 2])[0]
            i += 2
        elif pid in (0x11, 0x27, 0x02, 0x18):
            out[pid] = struct.unpack('>I', b[i:i + 4])[0]
            i += 4
        elif pid == 0x0b:
            out[pid], i = read_varint(b, i)
        elif pid == 0x26:
            for _ in range(2):
                ln = struct.unpack('>H', b[i:i + 2])[0]
                i += 2 + ln
        else:
            raise Fail('unexpected property 0x%02x in %r' % (pid, b))
    return out, end


def connect5(client_id, method=None, data=None, username=None,
             keepalive=60):
    """A clean-start 5.0 CONNECT, with authentication method and data."""
    items = []
    if method is not None:
        items.append((P_METHOD, method))
    if data is not None:
        items.append((P_DATA, data))
    flags = 0x02 | (0x80 if username is not None else 0)
    body = mstr('MQTT') + bytes([5, flags]) + struct.pack('>H', keepalive)
    body += props(*items) + mstr(client_id)
    if username is not None:
        body += mstr(username)
    return fixed(1, 0, body)


def auth_pkt(rc, method=None, data=None):
    items = []
    if method is not None:
        items.append((P_METHOD, method))
    if data is not None:
        items.append((P_DATA, data))
    return fixed(AUTH, 0, bytes([rc]) + props(*items))


def reason(p):
    """Reason code and properties of a CONNACK, AUTH or DISCONNECT."""
    if p.type == CONNACK:
        pr, _ = parse_props(p.body, 2) if len(p.body) > 2 else ({}, 2)
        return p.body[1], pr
    if not p.body:
        return 0, {}
    pr, _ = parse_props(p.body, 1) if len(p.body) > 1 else ({}, 1)
    return p.body[0], pr


def expect_any(c, what):
    try:
        p = c.recv()
    except Closed as e:
        raise Fail('%s: closed (%s)' % (what, e))
    if p is None:
        raise Fail('%s: nothing within %.1fs' % (what, h.IO_TIMEOUT))
    return p


def expect_connack(c, rc, what):
    p = expect_any(c, what)
    check(p.type == CONNACK, '%s: got %r, want CONNACK' % (what, p))
    got, pr = reason(p)
    eq(got, rc, '%s: CONNACK reason code' % what)
    return pr


def expect_closed(c, what):
    got = c.wait_closed()
    check(all(p.type in (DISCONNECT,) for p in got),
          '%s: sent %r before closing' % (what, got))
    return got


# ------------------------------------------------------------- SCRAM client

# RFC 4013 section 2 as a client applies it, for the strings these cases
# send: non-ASCII spaces (RFC 3454 C.1.2) become U+0020, the characters
# commonly mapped to nothing (B.1) go, then NFKC.  (The prohibited and
# bidirectional checks are the server's to prove, not ours.)
C12_SPACES = {0x00a0, 0x1680, 0x202f, 0x205f, 0x3000} | \
    set(range(0x2000, 0x200c))
B1_NOTHING = {0x00ad, 0x034f, 0x1806, 0x200b, 0x200c, 0x200d, 0x2060,
              0xfeff} | set(range(0x180b, 0x180e)) | \
    set(range(0xfe00, 0xfe10))


def saslprep(s):
    out = []
    for ch in s:
        cp = ord(ch)
        if cp in C12_SPACES:
            out.append(' ')
        elif cp not in B1_NOTHING:
            out.append(ch)
    return unicodedata.normalize('NFKC', ''.join(out))


def saslname(user):
    return user.replace('=', '=3D').replace(',', '=2C')


class Scram:
    """The client side of one exchange (RFC 5802 section 3)."""

    def __init__(self, user, password, cnonce=None):
        self.user, self.password = user, password.encode()
        self.cnonce = cnonce or base64.b64encode(os.urandom(18)).decode()
        self.bare = 'n=%s,r=%s' % (saslname(user), self.cnonce)

    def first(self):
        return ('n,,' + self.bare).encode()

    def final(self, server_first, nonce=None):
        """client-final for server_first; nonce overrides the one to send
        (a tampered one).  Keeps the ServerSignature to expect."""
        sf = server_first.decode()
        m = re.fullmatch(r'r=([^,]+),s=([^,]+),i=(\d+)', sf)
        check(m is not None, 'server-first %r' % sf)
        full, salt, iters = m.group(1), base64.b64decode(m.group(2)), \
            int(m.group(3))
        check(full.startswith(self.cnonce) and len(full) > len(self.cnonce),
              'server nonce does not extend ours: %r' % full)
        self.salt, self.iters, self.snonce = salt, iters, full
        salted = hashlib.pbkdf2_hmac('sha256', self.password, salt, iters)
        ckey = hmac.new(salted, b'Client Key', 'sha256').digest()
        stored = hashlib.sha256(ckey).digest()
        skey = hmac.new(salted, b'Server Key', 'sha256').digest()
        without = 'c=biws,r=%s' % (nonce or full)
        am = ('%s,%s,%s' % (self.bare, sf, without)).encode()
        sig = hmac.new(stored, am, 'sha256').digest()
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        self.want = b'v=' + base64.b64encode(
            hmac.new(skey, am, 'sha256').digest())
        return ('%s,p=%s' % (without, base64.b64encode(proof).decode())
                ).encode()


class PerlError(Exception):
    pass


PERL_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'fixtures', 'scram_client.pl')
PERL_TIMEOUT = 30.0     # one answer; PBKDF2 of 4096 rounds takes ~10 ms


class PerlScram:
    """The client side of exchanges done by Perl's Authen::SCRAM::Client
    (fixtures/scram_client.pl, a co-process), which prepares user and
    password with SASLprep itself.  first(), final() and valid() mirror
    Scram's, so server_first() takes either.  A missing perl or module
    is a Fail, never a skip: .ci/install-deps installs them.

    Authen::SCRAM 0.011 escapes ',' and '=' in a user name as "=2c" and
    "=3d" (lower case; RFC 5802 writes "=2C", in ABNF, where case does
    not matter): the broker takes both."""

    def __init__(self, user, password):
        self.err = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                ['perl', PERL_CLIENT], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self.err, bufsize=0)
        except OSError as e:
            raise Fail('perl: %s (.ci/install-deps installs perl and '
                       'libauthen-scram-perl)' % e)
        h.track(self.proc)
        self.version = self._ask('new', user, password).decode()
        self.error = None

    def _stderr(self):
        self.err.seek(0)
        return self.err.read().decode('utf-8', 'replace').strip()

    def _ask(self, cmd, *args):
        """One request; the answer's data (bytes), or PerlError."""
        line = ' '.join([cmd] + [(a.encode() if isinstance(a, str) else a)
                                 .hex() for a in args]) + '\n'
        ans = b''
        try:
            self.proc.stdin.write(line.encode())
            deadline = time.monotonic() + PERL_TIMEOUT
            while not ans.endswith(b'\n'):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.proc.stdout], [],
                                                  [], left)[0]:
                    raise Fail('perl SCRAM client: no answer to %r in '
                               '%.0fs' % (cmd, PERL_TIMEOUT))
                b = self.proc.stdout.read(1)
                if not b:
                    break
                ans += b
        except BrokenPipeError:
            pass
        if not ans.endswith(b'\n'):
            self.proc.wait(timeout=10)
            raise Fail('perl SCRAM client ended (rc %r) at %r: %s '
                       '(.ci/install-deps installs libauthen-scram-perl)'
                       % (self.proc.returncode, cmd, self._stderr()))
        word, _, data = ans.decode().rstrip('\n').partition(' ')
        data = bytes.fromhex(data)
        if word != 'ok':
            raise PerlError(data.decode('utf-8', 'replace').strip())
        return data

    def first(self):
        """client-first; each call starts a new exchange."""
        return self._ask('first')

    def final(self, server_first):
        return self._ask('final', server_first)

    def valid(self, server_final):
        """Authen::SCRAM::Client::validate(): True, or False with
        self.error saying why."""
        try:
            self._ask('validate', server_final)
            self.error = None
            return True
        except PerlError as e:
            self.error = str(e)
            return False

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            h.kill_proc(self.proc)
        h.untrack(self.proc)
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        self.close()
        return False


def server_first(c, sc, cid=None, what='server-first'):
    """CONNECT with client-first; the AUTH 0x18's server-first."""
    c.send(connect5(cid or uniq('s'), METHOD, sc.first()))
    p = expect_any(c, what)
    check(p.type == AUTH, '%s: got %r, want AUTH' % (what, p))
    rc, pr = reason(p)
    eq(rc, RC_CONTINUE, '%s: AUTH reason code' % what)
    eq(pr.get(P_METHOD), METHOD.encode(), '%s: method' % what)
    check(P_DATA in pr, '%s: no authentication data' % what)
    return pr[P_DATA]


def login(port, user, password, cid=None):
    """A whole exchange that must succeed: (conn, the client-final)."""
    c = Conn(port)
    sc = Scram(user, password)
    cf = sc.final(server_first(c, sc, cid))
    c.send(auth_pkt(RC_CONTINUE, METHOD, cf))
    pr = expect_connack(c, 0x00, 'client-final of %s' % user)
    eq(pr.get(P_METHOD), METHOD.encode(), 'CONNACK method')
    eq(pr.get(P_DATA), sc.want, 'CONNACK server-final')
    return c, cf


def perl_login(port, ps, cid=None):
    """A whole exchange by the Perl client that must succeed, its
    validate() of the CONNACK's server-final included: (conn,
    server-final)."""
    c = Conn(port)
    cf = ps.final(server_first(c, ps, cid or uniq('pl')))
    c.send(auth_pkt(RC_CONTINUE, METHOD, cf))
    pr = expect_connack(c, 0x00, 'client-final from Authen::SCRAM')
    eq(pr.get(P_METHOD), METHOD.encode(), 'CONNACK method')
    check(P_DATA in pr, 'CONNACK without server-final')
    check(ps.valid(pr[P_DATA]), 'Authen::SCRAM::Client refused the '
          'server-final %r: %s' % (pr[P_DATA], ps.error))
    return c, pr[P_DATA]


def publish1(c, topic, payload, pid, what):
    """A 5.0 QoS 1 PUBLISH (no properties) and its PUBACK."""
    c.send(fixed(PUBLISH, 2, mstr(topic) + struct.pack('>H', pid) +
                 varint(0) + payload))
    p = c.expect(PUBACK, what)
    eq(struct.unpack('>H', p.body[:2])[0], pid, '%s: PUBACK id' % what)
    # 0x00, or 0x10 (no matching subscribers): both accept it.
    if len(p.body) > 2:
        check(p.body[2] in (0x00, 0x10), '%s: PUBACK reason 0x%02x'
              % (what, p.body[2]))


def password_file():
    path = h.scratch(uniq('pw'))
    for i, (user, pw) in enumerate(sorted(USERS.items())):
        args = [CAIRN, 'passwd', '-b'] + (['-c'] if i == 0 else []) + \
            ([] if user == 'plain' else ['--scram']) + [path, user, pw]
        p = subprocess.run(args, capture_output=True, timeout=30)
        check(p.returncode == 0, 'cairn passwd: %r' % p.stderr)
    return path


def broker(**kw):
    sc = {'allow_anonymous': False, 'password_file': password_file()}
    sc.update(kw)
    return Broker(sc)


def ping5(c, what):
    c.send(fixed(PINGREQ, 0, b''))
    p = expect_any(c, what)
    check(p.type == PINGRESP, '%s: got %r, want PINGRESP' % (what, p))


# ------------------------------------------------------------------- cases

@test('scram_success_and_server_signature')
def t_success():
    with broker() as b:
        for user in ('sam', 'a,b=c'):
            c, _ = login(b.port, user, USERS[user])
            ping5(c, 'PINGREQ after SCRAM')
            # Subscribe and get our own message back: a full session.
            c.send(fixed(8, 2, struct.pack('>H', 1) + varint(0) +
                         mstr('scram/t') + bytes([0])))
            p = c.expect(SUBACK, 'SUBACK')
            eq(p.body[-1], 0, 'SUBACK reason')
            c.send(fixed(3, 0, mstr('scram/t') + varint(0) + b'hi'))
            p = c.expect(PUBLISH, 'own PUBLISH')
            check(p.body.endswith(b'hi'), 'payload %r' % p.body)
            c.send(fixed(DISCONNECT, 0, b''))
            c.close()


@test('scram_wrong_password_0x86')
def t_wrong_password():
    with broker() as b:
        c = Conn(b.port)
        sc = Scram('sam', 'pencil2')
        c.send(auth_pkt(RC_CONTINUE, METHOD, sc.final(server_first(c, sc))))
        expect_connack(c, 0x86, 'wrong password')
        expect_closed(c, 'wrong password')


@test('scram_unknown_user_looks_known_then_0x86')
def t_unknown_user():
    with broker() as b:
        seen = []
        for _ in range(2):
            c = Conn(b.port)
            sc = Scram('mallory', 'pencil')
            cf = sc.final(server_first(c, sc))
            seen.append((sc.salt, sc.iters))
            c.send(auth_pkt(RC_CONTINUE, METHOD, cf))
            expect_connack(c, 0x86, 'unknown user')
            expect_closed(c, 'unknown user')
        eq(seen[0], seen[1], 'salt and count asked twice')
        eq(len(seen[0][0]), 16, 'fake salt length (a real one is 16)')
        eq(seen[0][1], 4096, 'round count (the real users have 4096)')
        # A user with a $7$ entry (no SCRAM keys) fails the same way.
        c = Conn(b.port)
        sc = Scram('plain', USERS['plain'])
        c.send(auth_pkt(RC_CONTINUE, METHOD, sc.final(server_first(c, sc))))
        expect_connack(c, 0x86, '$7$ user over SCRAM')


@test('other_method_0x8c')
def t_other_method():
    with broker() as b:
        c = Conn(b.port)
        c.send(connect5(uniq('m'), 'PLAIN-X', b'\x00sam\x00pencil'))
        expect_connack(c, 0x8C, 'method PLAIN-X')
        expect_closed(c, 'method PLAIN-X')
        # The name is exact: no case folding.
        c = Conn(b.port)
        c.send(connect5(uniq('m'), 'scram-sha-256', Scram('sam', 'x').first()))
        expect_connack(c, 0x8C, 'method scram-sha-256')


@test('scram_tampered_nonce_0x86')
def t_tampered_nonce():
    with broker() as b:
        c = Conn(b.port)
        sc = Scram('sam', USERS['sam'])
        first = server_first(c, sc)
        full = re.match(rb'r=([^,]+)', first).group(1).decode()
        bad = full[:-1] + ('A' if full[-1] != 'A' else 'B')
        # The proof is right for the tampered AuthMessage: only the nonce
        # is wrong.
        c.send(auth_pkt(RC_CONTINUE, METHOD, sc.final(first, nonce=bad)))
        expect_connack(c, 0x86, 'tampered nonce')
        expect_closed(c, 'tampered nonce')


@test('scram_replayed_client_final_0x86')
def t_replay():
    with broker() as b:
        c, cf = login(b.port, 'sam', USERS['sam'])
        c.close()
        # Same client nonce, new connection: the server's half differs,
        # so the old proof is worthless.
        old = re.search(rb'r=([^,]+)', cf).group(1).decode()
        c = Conn(b.port)
        sc = Scram('sam', USERS['sam'], cnonce=old[:24])
        c.send(connect5(uniq('r'), METHOD, sc.first()))
        p = expect_any(c, 'replay server-first')
        eq(p.type, AUTH, 'replay: AUTH')
        _, pr = reason(p)
        check(not pr[P_DATA].startswith(b'r=' + old.encode()),
              'server nonce repeated')
        c.send(auth_pkt(RC_CONTINUE, METHOD, cf))
        expect_connack(c, 0x86, 'replayed client-final')
        expect_closed(c, 'replayed client-final')


@test('auth_without_method_is_protocol_error')
def t_auth_without_method():
    with broker(allow_anonymous=True) as b:
        # CONNECT without a method, then AUTH: 0x82 [MQTT-4.12.0-6].
        c = Conn(b.port)
        c.send(connect5(uniq('n')))
        expect_connack(c, 0x00, 'CONNECT without a method')
        c.send(auth_pkt(RC_REAUTH, METHOD, Scram('sam', 'x').first()))
        got = expect_closed(c, 'AUTH after CONNECT without a method')
        check(got and reason(got[0])[0] == 0x82,
              'DISCONNECT 0x82, got %r' % got)
        # Authentication data without a method: a protocol error, which
        # the server MAY answer with CONNACK 0x82 before closing (3.1.4).
        c = Conn(b.port)
        c.send(connect5(uniq('n'), None, b'n,,n=sam,r=abc'))
        got = c.wait_closed()
        check(all(p.type == CONNACK and reason(p)[0] == 0x82 for p in got),
              'data without method: %r' % got)


@test('auth_changed_method_is_protocol_error')
def t_changed_method():
    with broker() as b:
        c = Conn(b.port)
        sc = Scram('sam', USERS['sam'])
        cf = sc.final(server_first(c, sc))
        c.send(auth_pkt(RC_CONTINUE, 'SCRAM-SHA-1', cf))
        expect_connack(c, 0x82, 'AUTH with another method')
        expect_closed(c, 'AUTH with another method')


@test('other_packet_during_exchange_0x82')
def t_other_packet():
    with broker() as b:
        c = Conn(b.port)
        server_first(c, Scram('sam', USERS['sam']))
        c.send(fixed(PINGREQ, 0, b''))
        expect_connack(c, 0x82, 'PINGREQ during the exchange')
        expect_closed(c, 'PINGREQ during the exchange')


@test('sighup_reload_reads_new_scram_users')
def t_reload():
    with broker() as b:
        pw = b.sc['password_file']
        c = Conn(b.port)
        sc = Scram('newbie', 'fresh pw')
        c.send(auth_pkt(RC_CONTINUE, METHOD, sc.final(server_first(c, sc))))
        expect_connack(c, 0x86, 'newbie before the reload')
        p = subprocess.run([CAIRN, 'passwd', '-b', '--scram', pw, 'newbie',
                            'fresh pw'], capture_output=True, timeout=30)
        check(p.returncode == 0, 'cairn passwd: %r' % p.stderr)
        os.kill(b.pid, signal.SIGHUP)
        # The reload is asynchronous: try a bounded number of times.
        for _ in range(50):
            c = Conn(b.port)
            sc = Scram('newbie', 'fresh pw')
            c.send(auth_pkt(RC_CONTINUE, METHOD,
                            sc.final(server_first(c, sc))))
            p = expect_any(c, 'newbie after the reload')
            c.close()
            if p.type == CONNACK and reason(p)[0] == 0:
                break
            time.sleep(0.1)
        else:
            raise Fail('newbie refused after SIGHUP: %r' % p)
        eq(reason(p)[1].get(P_DATA), sc.want, 'server-final after reload')
        login(b.port, 'sam', USERS['sam'])[0].close()


@test('connect_timeout_bounds_the_exchange')
def t_timeout():
    with broker(connect_timeout=1) as b:
        c = Conn(b.port)
        sc = Scram('sam', USERS['sam'])
        server_first(c, sc)
        # No client-final: the broker closes once connect_timeout passed
        # (wait_closed allows 10 s; this checks that, not the timing).
        got = c.wait_closed(timeout=10)
        check(all(p.type in (CONNACK, DISCONNECT) for p in got),
              'sent %r' % got)


@test('reauthentication')
def t_reauth():
    with broker() as b:
        c, _ = login(b.port, 'sam', USERS['sam'])
        sc = Scram('sam', USERS['sam'])
        c.send(auth_pkt(RC_REAUTH, METHOD, sc.first()))
        p = expect_any(c, 're-auth server-first')
        eq(p.type, AUTH, 're-auth: AUTH')
        rc, pr = reason(p)
        eq(rc, RC_CONTINUE, 're-auth: continue')
        c.send(auth_pkt(RC_CONTINUE, METHOD, sc.final(pr[P_DATA])))
        p = expect_any(c, 're-auth server-final')
        eq(p.type, AUTH, 're-auth: AUTH success')
        rc, pr = reason(p)
        eq(rc, 0x00, 're-auth: success')
        eq(pr.get(P_DATA), sc.want, 're-auth server-final')
        ping5(c, 'PINGREQ after re-authentication')
        # Re-authenticating as someone else is refused: 0x87 by
        # DISCONNECT, and the connection closes.
        sc = Scram('a,b=c', USERS['a,b=c'])
        c.send(auth_pkt(RC_REAUTH, METHOD, sc.first()))
        got = expect_closed(c, 're-auth as another user')
        check(got and got[0].type == DISCONNECT, 'DISCONNECT: %r' % got)
        eq(reason(got[0])[0], 0x87, 'DISCONNECT reason code')



REAUTH_TIMEOUT = 2      # connect_timeout of the broker below, seconds


def reauth_start(c, sc, what):
    """AUTH 0x19 with client-first; server-first from the AUTH 0x18."""
    c.send(auth_pkt(RC_REAUTH, METHOD, sc.first()))
    p = expect_any(c, what)
    eq(p.type, AUTH, '%s: AUTH' % what)
    rc, pr = reason(p)
    eq(rc, RC_CONTINUE, '%s: continue' % what)
    return pr[P_DATA]


@test('reauth_unanswered_disconnect_0x87_at_connect_timeout', slow=True)
def t_reauth_timeout():
    with broker(connect_timeout=REAUTH_TIMEOUT) as b:
        c, _ = login(b.port, 'sam', USERS['sam'])
        # A re-authentication that completes stops the timer: still
        # open well past connect_timeout.
        sc = Scram('sam', USERS['sam'])
        c.send(auth_pkt(RC_CONTINUE, METHOD,
                        sc.final(reauth_start(c, sc, 'completed re-auth'))))
        p = expect_any(c, 'completed re-auth: server-final')
        eq((p.type, reason(p)[0]), (AUTH, 0x00), 'completed re-auth')
        time.sleep(REAUTH_TIMEOUT + 1)
        ping5(c, 'PINGREQ after a completed re-auth')
        # Now one left unanswered.  The connection goes on working
        # meanwhile (4.12.1), and that traffic does not extend it.
        reauth_start(c, Scram('sam', USERS['sam']), 'unanswered re-auth')
        t0 = time.monotonic()
        acks, got = 0, []
        while not got and time.monotonic() - t0 < REAUTH_TIMEOUT + 3:
            pid = acks + 1
            c.send(fixed(PUBLISH, 2, mstr('scram/reauth') +
                         struct.pack('>H', pid) + varint(0) + b'x'))
            p = expect_any(c, 'PUBACK %d during the re-auth' % pid)
            if p.type == DISCONNECT:
                got.append(p)
                break
            eq((p.type, p.body[:2]), (PUBACK, struct.pack('>H', pid)),
               'PUBACK %d during the re-auth' % pid)
            acks += 1
            time.sleep(0.25)
        took = time.monotonic() - t0
        got += c.wait_closed()
        check(acks >= 2, 'only %d PUBACKs during the re-auth' % acks)
        check(REAUTH_TIMEOUT - 0.5 <= took <= REAUTH_TIMEOUT + 2,
              'closed %.2fs after server-first; connect_timeout %ds'
              % (took, REAUTH_TIMEOUT))
        check([p.type for p in got] == [DISCONNECT],
              'want one DISCONNECT, got %r' % got)
        eq(reason(got[0])[0], 0x87, 'DISCONNECT reason code')
        deadline = time.monotonic() + 5
        while 'within connect_timeout' not in b.output() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        check('re-authentication not done within connect_timeout' in
              b.output(), 'no log line:\n%s' % b.output())


@test('plain_password_of_a_scram_entry_311')
def t_plain_311():
    with broker() as b:
        c = Conn(b.port)
        c.send(connect_pkt(uniq('p'), username='sam', password='pencil'))
        p = c.expect(CONNACK, '3.1.1 CONNECT')
        eq(p.body[1], 0, 'CONNACK for the right password')
        c.close()
        c = Conn(b.port)
        c.send(connect_pkt(uniq('p'), username='sam', password='pencil!'))
        p = c.expect(CONNACK, '3.1.1 CONNECT')
        eq(p.body[1], 4, 'CONNACK for a wrong password')


# U+2168 ROMAN NUMERAL NINE, a no-break space and a soft hyphen: NFKC
# alone keeps the soft hyphen, SASLprep drops it ("IX password").
SP_RAW = '\u2168\u00a0pass\u00adword'
SP_USER = 'caf\u00e9'                  # NFC: SASLprep leaves it as it is


@test('scram_saslprep_password_and_user_name')
def t_saslprep():
    check(saslprep(SP_RAW) == 'IX password', 'client SASLprep: %r'
          % saslprep(SP_RAW))
    check(unicodedata.normalize('NFKC', SP_RAW) != saslprep(SP_RAW),
          'NFKC alone must differ from SASLprep here')
    pw = h.scratch(uniq('pw'))
    for user, password in ((SP_USER, SP_RAW), ('sam', USERS['sam'])):
        p = subprocess.run([CAIRN, 'passwd', '-b', '--scram'] +
                           (['-c'] if user == SP_USER else []) +
                           [pw, user, password], capture_output=True,
                           timeout=30)
        check(p.returncode == 0, 'cairn passwd: %r' % p.stderr)
    with broker(password_file=pw) as b:
        # A client that prepares the password, as RFC 5802 asks, and
        # one that sends the prepared form; the name sent decomposed
        # (e + U+0301) is looked up as SASLprep composes it.
        for user in (SP_USER, 'cafe\u0301'):
            c, _ = login(b.port, user, saslprep(SP_RAW))
            ping5(c, 'PINGREQ after a SASLprep login as %r' % user)
            c.close()
        login(b.port, SP_USER, 'IX password')[0].close()
        # The raw bytes are not the password's keys: only a client can
        # prepare what it proves with.
        c = Conn(b.port)
        sc = Scram(SP_USER, SP_RAW)
        c.send(auth_pkt(RC_CONTINUE, METHOD, sc.final(server_first(c, sc))))
        expect_connack(c, 0x86, 'unprepared password')
        # A plain 3.1.1 password against the SCRAM entry: either form.
        for password in (SP_RAW, 'IX password'):
            c = Conn(b.port)
            c.send(connect_pkt(uniq('p'), username=SP_USER,
                               password=password))
            p = c.expect(CONNACK, '3.1.1 CONNECT')
            eq(p.body[1], 0, 'CONNACK for %r' % password)
            c.close()
        # ASCII is unchanged by SASLprep: sam as before.
        login(b.port, 'sam', USERS['sam'])[0].close()
        # A user name SASLprep refuses (a control character; mixed
        # right-to-left text): CONNACK 0x86 at client-first, one line.
        for bad in ('bad\u0007name', '\u0627\u0031'):
            c = Conn(b.port)
            c.send(connect5(uniq('b'), METHOD, Scram(bad, 'x').first()))
            expect_connack(c, 0x86, 'user name %r' % bad)
            expect_closed(c, 'user name %r' % bad)
        deadline = time.monotonic() + 5
        while 'refused by SASLprep' not in b.output() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        check('SCRAM user name refused by SASLprep' in b.output(),
              'no log line for the refused name:\n%s' % b.output())



# ---------------------------------------- Authen::SCRAM (Perl) as the peer

@test('perl_scram_success_and_validate')
def t_perl_success():
    with broker() as b, PerlScram('sam', USERS['sam']) as ps:
        c, final = perl_login(b.port, ps)
        # The check above means something: one byte of the signature
        # changed and validate() refuses it.
        bad = final[:-2] + (b'A' if final[-2:-1] != b'A' else b'B') + \
            final[-1:]
        check(not ps.valid(bad), 'validate() took a changed server-final')
        ping5(c, 'PINGREQ after an Authen::SCRAM login')
        publish1(c, 'scram/perl', b'hi', 1, 'QoS 1 after Authen::SCRAM')
        c.send(fixed(DISCONNECT, 0, b''))
        c.close()
    # ',' and '=' in the user name: Authen::SCRAM escapes them "=2c" and
    # "=3d" (before, CONNACK 0x86: malformed client-first).
    with broker() as b, PerlScram('a,b=c', USERS['a,b=c']) as ps:
        c, _ = perl_login(b.port, ps)
        ping5(c, 'PINGREQ after an Authen::SCRAM login as a,b=c')
        c.close()


@test('perl_scram_wrong_password_0x86')
def t_perl_wrong_password():
    with broker() as b, PerlScram('sam', 'pencil2') as ps:
        c = Conn(b.port)
        c.send(auth_pkt(RC_CONTINUE, METHOD, ps.final(server_first(c, ps))))
        expect_connack(c, 0x86, 'wrong password from Authen::SCRAM')
        expect_closed(c, 'wrong password from Authen::SCRAM')


# RFC 4013 section 3's "I<U+00AD>X" (a soft hyphen, mapped to nothing)
# and a no-break space (mapped to U+0020), set with `cairn passwd
# --scram` as typed.
PERL_PREP = {'rfc4013': ('I\u00adX', 'IX'),
             'nbsp': ('two\u00a0words', 'two words'),
             SP_USER: (SP_RAW, 'IX password')}


@test('perl_scram_saslprep_unprepared_password')
def t_perl_saslprep():
    pw = h.scratch(uniq('pw'))
    for i, (user, (raw, _)) in enumerate(sorted(PERL_PREP.items())):
        p = subprocess.run([CAIRN, 'passwd', '-b', '--scram'] +
                           (['-c'] if i == 0 else []) + [pw, user, raw],
                           capture_output=True, timeout=30)
        check(p.returncode == 0, 'cairn passwd: %r' % p.stderr)
    with broker(password_file=pw) as b:
        for user, (raw, prepped) in sorted(PERL_PREP.items()):
            check(saslprep(raw) == prepped and raw != prepped,
                  'case data: %r' % raw)
            # As typed, and as SASLprep leaves it: both are the password.
            for given in (raw, prepped):
                with PerlScram(user, given) as ps:
                    c, _ = perl_login(b.port, ps)
                    ping5(c, 'PINGREQ after %r / %r' % (user, given))
                    c.close()
        # The user name decomposed (e + U+0301): Authen::SCRAM composes
        # it, and it is the same user.
        with PerlScram('cafe\u0301', SP_RAW) as ps:
            perl_login(b.port, ps)[0].close()
        # Not any password passes: one letter off is refused.
        with PerlScram('rfc4013', 'I\u00adY') as ps:
            c = Conn(b.port)
            c.send(auth_pkt(RC_CONTINUE, METHOD,
                            ps.final(server_first(c, ps))))
            expect_connack(c, 0x86, 'I<U+00AD>Y for I<U+00AD>X')


@test('perl_scram_reauthentication')
def t_perl_reauth():
    with broker() as b, PerlScram('sam', USERS['sam']) as ps:
        c, _ = perl_login(b.port, ps)
        for n in range(2):
            # first() again starts a new exchange on the same client.
            c.send(auth_pkt(RC_REAUTH, METHOD, ps.first()))
            p = expect_any(c, 're-auth %d: server-first' % n)
            eq(p.type, AUTH, 're-auth %d: AUTH' % n)
            rc, pr = reason(p)
            eq(rc, RC_CONTINUE, 're-auth %d: continue' % n)
            eq(pr.get(P_METHOD), METHOD.encode(), 're-auth %d: method' % n)
            c.send(auth_pkt(RC_CONTINUE, METHOD, ps.final(pr[P_DATA])))
            p = expect_any(c, 're-auth %d: server-final' % n)
            eq(p.type, AUTH, 're-auth %d: AUTH' % n)
            rc, pr = reason(p)
            eq(rc, 0x00, 're-auth %d: success' % n)
            check(ps.valid(pr.get(P_DATA, b'')), 're-auth %d: validate() '
                  'refused %r: %s' % (n, pr.get(P_DATA), ps.error))
            ping5(c, 'PINGREQ after re-authentication %d' % n)
        # Then as the same user with a wrong password: DISCONNECT 0x87.
        # Not 0x86, a CONNACK code that DISCONNECT does not have
        # (3.14.2.1).
        with PerlScram('sam', 'pencil2') as bad:
            c.send(auth_pkt(RC_REAUTH, METHOD, bad.first()))
            p = expect_any(c, 'wrong re-auth: server-first')
            eq((p.type, reason(p)[0]), (AUTH, RC_CONTINUE),
               'wrong re-auth: continue')
            c.send(auth_pkt(RC_CONTINUE, METHOD,
                            bad.final(reason(p)[1][P_DATA])))
            got = expect_closed(c, 'wrong password at re-auth')
            check([p.type for p in got] == [DISCONNECT],
                  'want one DISCONNECT, got %r' % got)
            eq(reason(got[0])[0], 0x87, 'DISCONNECT reason code')


def setup():
    global CAIRN
    CAIRN = h.ARGS.cairn
    if h.ARGS.mode != 'cairn':
        return 'SCRAM is cairn-broker\'s: mosquitto has no SCRAM method'
    return None


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cairn', required=True)
    sys.exit(h.main(ap, setup=setup))
