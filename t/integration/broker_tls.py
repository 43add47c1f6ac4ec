#!/usr/bin/env python3
"""Issue 14 A: listeners with TLS, reload on SIGHUP, log reopen (cairn-broker).

Usage:
    broker_tls.py --broker-cmd PATH [--only REGEX] [--keep] [-v]
                  [--deadline S]

Each case starts its own cairn-broker on free loopback ports, with a
plain listener (the readiness probe) and TLS listeners as the case
needs, and kills it by pid.  Certificates are made by the test with the
`openssl` command: two CAs, a server certificate per CA (CN localhost,
SAN IP 127.0.0.1), client certificates (CN alice; one from a CA the
broker does not trust; one expired, notAfter yesterday).  Real clients:
mosquitto_pub and mosquitto_sub (--cafile, --cert/--key), paho-mqtt,
openssl s_client.  Output is TAP.

  * mosquitto_over_tls: mosquitto_sub gets what mosquitto_pub sends,
    both over TLS with --cafile.
  * client_certificate_identity: require_certificate and
    use_identity_as_username with an ACL for user alice only and
    allow_anonymous false: alice's certificate is her credential
    (alice/x delivered; bob/x, which the ACL denies her, is not).
  * refusals_logged: a client certificate of an unknown CA, an expired
    one and none at all are each refused with their own log line.
  * s_client_versions_and_resumption: min_version tlsv1.3 refuses a TLS
    1.2-only s_client and takes 1.3; the default takes 1.2; a saved
    session is resumed ("Reused"), a TLS 1.2 one and a TLS 1.3 ticket
    (twice).
  * paho_over_tls: paho-mqtt with tls_set() publishes and receives.
  * slow_handshake_holds_nobody: a ClientHello sent one byte a second
    does not delay another TLS client's connect and publish, and is
    closed at connect_timeout with its log line.
  * reload_listeners_passwords_certificates: SIGHUP with a listener
    removed and one added, a changed password file and a rotated
    certificate: the connected client and its session stay, the old
    port is closed, the old password refused, the new one and the new
    CA taken; then a broken file: one log line, the old configuration
    still serves.
  * listener_max_connections: a TLS listener with max_connections 2
    refuses a third connection with its log line; the plain one does
    not.
  * max_tls_handshakes: two TCP connections that never say a word hold
    both handshake places; a third TLS client is refused with its line,
    and gets in once they left; a connected client does not count.
  * log_file_reopen: after the log file is renamed, SIGUSR1 makes a new
    one and later lines go there.

By hand, from the top of the tree:

    python3 t/integration/broker_tls.py \\
        --broker-cmd BUILDDIR/broker/cairn-broker [--only NAME] [-v]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Fail, Skip, check, eq, test, uniq,  # noqa: E402
                          subscribe, publish, recv_publishes, ping)

ST = {}
PKI_LOCK = threading.Lock()
WAIT = 5.0              # for a log line or a client's result


# ---------------------------------------------------------- certificates

def openssl(*args):
    rc, out, err = h.run_cmd(['openssl'] + list(args), timeout=30)
    if rc != 0:
        raise Fail('openssl %s: rc %d: %s' % (' '.join(args[:2]), rc,
                                             err.decode('utf-8', 'replace')))
    return out


def genkey(path):
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt',
            'ec_paramgen_curve:P-256', '-out', path)
    os.chmod(path, 0o600)


def make_ca(tag):
    d = h.scratch('pki')
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, tag + '-ca.key')
    crt = os.path.join(d, tag + '-ca.crt')
    genkey(key)
    openssl('req', '-x509', '-new', '-key', key, '-out', crt, '-days', '2',
            '-subj', '/CN=cairn test %s CA' % tag,
            '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    return dict(key=key, crt=crt, tag=tag)


def make_cert(ca, cn, days='2'):
    """(certfile, keyfile) for cn, signed by ca; days '-1': expired."""
    d = h.scratch('pki')
    base = os.path.join(d, uniq(ca['tag'] + '-' + cn))
    key, csr, crt, ext = (base + '.key', base + '.csr', base + '.crt',
                          base + '.ext')
    genkey(key)
    openssl('req', '-new', '-key', key, '-out', csr, '-subj', '/CN=%s' % cn)
    with open(ext, 'w') as f:
        f.write('basicConstraints=CA:FALSE\n'
                'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
    openssl('x509', '-req', '-in', csr, '-CA', ca['crt'], '-CAkey', ca['key'],
            '-CAcreateserial', '-out', crt, '-days', days, '-extfile', ext)
    return crt, key


def pki():
    # Slow cases run in threads beside the fast ones: make it once.
    with PKI_LOCK:
        return pki_locked()


def pki_locked():
    if 'skip' in ST:
        raise Skip(ST['skip'])
    if 'done' in ST:
        return ST
    ST['ca'] = make_ca('one')
    ST['ca2'] = make_ca('two')
    ST['rogue'] = make_ca('rogue')
    ST['server'] = make_cert(ST['ca'], 'localhost')
    ST['server2'] = make_cert(ST['ca2'], 'localhost')
    ST['alice'] = make_cert(ST['ca'], 'alice')
    ST['alice_rogue'] = make_cert(ST['rogue'], 'alice')
    ST['alice_expired'] = make_cert(ST['ca'], 'alice', days='-1')
    ST['done'] = True
    return ST


def setup():
    for tool in ('openssl', 'mosquitto_pub', 'mosquitto_sub'):
        if shutil.which(tool) is None:
            ST['skip'] = 'the %s command is not installed' % tool
    return None


# ---------------------------------------------------------------- broker

def q(s):
    return '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')


def tls_map(crt, key, **kw):
    out = {'certfile': crt, 'keyfile': key}
    out.update(kw)
    return out


def listener_yaml(lst):
    """listeners: plain "host:port" strings or dicts (tls: a dict)."""
    lines = ['listeners:']
    for item in lst:
        if isinstance(item, str):
            lines.append('  - %s' % q(item))
            continue
        first = True
        for k, v in item.items():
            lead = '  - ' if first else '    '
            first = False
            if isinstance(v, dict):
                lines.append('%s%s:' % (lead, k))
                for k2, v2 in v.items():
                    if isinstance(v2, bool):
                        v2 = 'true' if v2 else 'false'
                    elif isinstance(v2, str):
                        v2 = q(v2)
                    lines.append('      %s: %s' % (k2, v2))
            else:
                lines.append('%s%s: %s' % (lead, k, q(v) if
                                           isinstance(v, str) else v))
    return '\n'.join(lines) + '\n'


class TlsBroker:
    """cairn-broker -d with a plain port (self.port) and TLS listeners."""

    def __init__(self, tls_listeners, extra=''):
        self.port = h.free_port()
        self.conf = h.scratch(uniq('tls') + '.yaml')
        self.log = None
        m = re.search(r'^log_file: "(.*)"$', extra, re.M)
        if m:
            self.log = m.group(1)
        self.write(tls_listeners, extra)
        self.errf = open(h.scratch(uniq('stderr')), 'w+b')
        self.proc = subprocess.Popen(
            [h.ARGS.broker_cmd, '-d', '-c', self.conf],
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            close_fds=True)
        h.track(self.proc)
        self.wait_ready()

    def write(self, tls_listeners, extra=''):
        text = listener_yaml(['127.0.0.1:%d' % self.port] +
                             list(tls_listeners))
        text += 'sys_interval: 0\nconnect_timeout: 2s\n' + extra
        with open(self.conf + '.new', 'w') as f:
            f.write(text)
        os.replace(self.conf + '.new', self.conf)

    def write_raw(self, text):
        with open(self.conf, 'w') as f:
            f.write(text)

    def output(self):
        if self.log is not None:
            try:
                with open(self.log, 'rb') as f:
                    return f.read().decode('utf-8', 'replace')
            except OSError:
                return ''
        self.errf.flush()
        self.errf.seek(0)
        return self.errf.read().decode('utf-8', 'replace')

    def wait_log(self, pattern, what, since=0):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            out = self.output()
            if re.search(pattern, out[since:]):
                return out
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise Fail('%s: no log line /%s/; log:\n%s'
                   % (what, pattern, self.output()[-2500:]))

    def wait_ready(self):
        deadline = time.monotonic() + h.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail('broker exited early (rc %r):\n%s'
                           % (self.proc.returncode, self.output()))
            try:
                # Any CONNACK: some cases refuse anonymous clients.
                c = h.Conn(self.port, timeout=1.0)
                try:
                    c.send(h.connect_pkt(uniq('probe')))
                    c.expect(h.CONNACK, 'probe')
                    return
                finally:
                    c.close()
            except (Fail, h.Closed, OSError):
                time.sleep(0.05)
        raise Fail('broker not ready:\n' + self.output())

    def hup(self, sig=signal.SIGHUP):
        os.kill(self.proc.pid, sig)

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        alive = self.proc.poll() is None
        if typ is not None and h.ARGS.verbose:
            sys.stdout.write(''.join('# broker: %s\n' % ln for ln in
                                     self.output().splitlines()[-40:]))
        h.kill_proc(self.proc)
        self.errf.close()
        if typ is None and not alive:
            raise Fail('broker died (rc %r)' % self.proc.returncode)
        return False


def mosq(tool, port, args, timeout=10):
    cmd = [tool, '-h', '127.0.0.1', '-p', str(port)] + args
    rc, out, err = h.run_cmd(cmd, timeout=timeout)
    return rc, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


def sub_start(port, topic, n, tls_args):
    return h.spawn(['mosquitto_sub', '-h', '127.0.0.1', '-p', str(port),
                    '-t', topic, '-C', str(n), '-W', '8', '-v',
                    '-i', uniq('sub')] + tls_args)


def sub_wait(p):
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        h.kill_proc(p)
        raise Fail('mosquitto_sub did not finish')
    h.untrack(p)
    return p.returncode, out.decode(), err.decode()


def wait_subscribed(b, since):
    # mosquitto_sub has no "subscribed" signal: a retained-free round
    # trip is not possible from outside, so wait until the broker has a
    # client of that listener (the debug line is off): a short sleep
    # bounded by the next publish's own retries.
    time.sleep(0.4)


# ----------------------------------------------------------------- cases

@test('mosquitto_over_tls')
def t_mosquitto():
    st = pki()
    tp = h.free_port()
    ca = ['--cafile', st['ca']['crt']]
    with TlsBroker([{'address': '127.0.0.1', 'port': tp,
                     'tls': tls_map(*st['server'])}]) as b:
        b.wait_log(r'listening on 127\.0\.0\.1:%d \(mqtt, tls\)' % tp,
                   'start line')
        s = sub_start(tp, 'x/#', 1, ca)
        wait_subscribed(b, 0)
        rc, out, err = mosq('mosquitto_pub', tp, ['-t', 'x/1', '-m', 'hello',
                                                  '-q', '1'] + ca)
        eq(rc, 0, 'mosquitto_pub over TLS rc (stderr %s)' % err)
        rc, out, err = sub_wait(s)
        eq((rc, out.strip()), (0, 'x/1 hello'), 'mosquitto_sub over TLS '
           '(stderr %s)' % err)
        # Control: the same client without --cafile refuses our
        # certificate, so the test does check the chain.
        rc, out, err = mosq('mosquitto_pub', tp, ['-t', 'x/1', '-m', 'x',
                                                  '--cafile',
                                                  st['ca2']['crt']])
        check(rc != 0, 'mosquitto_pub trusting another CA connected')


@test('client_certificate_identity')
def t_identity():
    st = pki()
    tp = h.free_port()
    acl = h.scratch(uniq('acl'))
    with open(acl, 'w') as f:
        f.write('user alice\ntopic readwrite alice/#\n')
    pw = h.scratch(uniq('pw'))
    with open(pw, 'w') as f:
        f.write('')
    tls = tls_map(*st['server'], cafile=st['ca']['crt'],
                  require_certificate=True, use_identity_as_username=True)
    cert = ['--cafile', st['ca']['crt'], '--cert', st['alice'][0],
            '--key', st['alice'][1]]
    with TlsBroker([{'address': '127.0.0.1', 'port': tp, 'tls': tls}],
                   'allow_anonymous: false\nacl_file: %s\n'
                   'password_file: %s\n' % (q(acl), q(pw))) as b:
        s = sub_start(tp, '#', 1, cert)
        wait_subscribed(b, 0)
        # Denied by the ACL to alice: never delivered.
        rc, _, err = mosq('mosquitto_pub', tp, ['-t', 'bob/x', '-m', 'no',
                                                '-q', '1'] + cert)
        eq(rc, 0, 'publish to bob/x rc (stderr %s)' % err)
        rc, _, err = mosq('mosquitto_pub', tp, ['-t', 'alice/x', '-m', 'yes',
                                                '-q', '1'] + cert)
        eq(rc, 0, 'publish to alice/x rc (stderr %s)' % err)
        rc, out, err = sub_wait(s)
        eq(out.strip(), 'alice/x yes', 'what alice received (stderr %s)'
           % err)
        # Control: the plain port wants a password (allow_anonymous
        # false, empty password file): the certificate is what let
        # alice in.
        c, _ = h.mqtt_connect(b.port, uniq('anon'), rc=5)
        c.close()


@test('refusals_logged')
def t_refusals():
    st = pki()
    tp = h.free_port()
    tls = tls_map(*st['server'], cafile=st['ca']['crt'],
                  require_certificate=True)
    ca = ['--cafile', st['ca']['crt']]
    cases = [
        ('unknown CA', ['--cert', st['alice_rogue'][0], '--key',
                        st['alice_rogue'][1]],
         r'tls: peer certificate refused: unable to get local issuer'),
        ('expired', ['--cert', st['alice_expired'][0], '--key',
                     st['alice_expired'][1]],
         r'tls: peer certificate refused: certificate has expired'),
        ('no certificate', [],
         r'tls: peer did not return a certificate'),
    ]
    with TlsBroker([{'address': '127.0.0.1', 'port': tp, 'tls': tls}]) as b:
        for what, args, pat in cases:
            since = len(b.output())
            rc, _, err = mosq('mosquitto_pub', tp, ['-t', 't', '-m', 'x'] +
                              ca + args)
            check(rc != 0, '%s: mosquitto_pub was let in' % what)
            b.wait_log(r'client - \(127\.0\.0\.1:\d+\): closed: ' + pat,
                       what, since)
        # Control: alice's good certificate gets in.
        rc, _, err = mosq('mosquitto_pub', tp, ['-t', 't', '-m', 'x'] + ca +
                          ['--cert', st['alice'][0], '--key',
                           st['alice'][1]])
        eq(rc, 0, 'a valid client certificate (stderr %s)' % err)


def s_client(port, args, stdin=b''):
    cmd = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % port,
           '-CAfile', ST['ca']['crt'], '-verify_return_error',
           '-servername', 'localhost'] + args
    rc, out, err = h.run_cmd(cmd, timeout=10, input=stdin or b'\n')
    return rc, out.decode('utf-8', 'replace') + err.decode('utf-8', 'replace')


@test('s_client_versions_and_resumption')
def t_s_client():
    st = pki()
    p13, p12 = h.free_port(), h.free_port()
    with TlsBroker([
            {'address': '127.0.0.1', 'port': p13,
             'tls': tls_map(*st['server'], min_version='tlsv1.3')},
            {'address': '127.0.0.1', 'port': p12,
             'tls': tls_map(*st['server'])}]) as b:
        rc, out = s_client(p13, ['-tls1_2'])
        check('Cipher is (NONE)' in out and
              re.search(r'alert protocol version|no protocols available|'
                        r'unsupported protocol', out),
              'TLS 1.2 against min_version tlsv1.3 not refused: %s'
              % out[-800:])
        rc, out = s_client(p13, ['-tls1_3'])
        check(re.search(r'Protocol\s*: TLSv1\.3', out) or
              'TLSv1.3' in out, 'TLS 1.3 not taken: %s' % out[-800:])
        rc, out = s_client(p12, ['-tls1_2'])
        check(re.search(r'Protocol\s*: TLSv1\.2', out),
              'TLS 1.2 not taken by the default listener: %s' % out[-800:])
        # Resumption: TLS 1.2 with a ticket.
        sess = h.scratch(uniq('sess'))
        rc, out = s_client(p12, ['-tls1_2', '-sess_out', sess])
        check(os.path.exists(sess), 'no session saved: %s' % out[-500:])
        rc, out = s_client(p12, ['-tls1_2', '-sess_in', sess])
        check(re.search(r'^Reused, ', out, re.M),
              'session not resumed: %s' % out[-800:])
        # TLS 1.3: the ticket comes after the handshake, so the first
        # client stays until the broker closes it (CONNECT, then
        # DISCONNECT); the ticket is good twice (stateless).
        bye = h.connect_pkt(uniq('t13')) + b'\xe0\x00'
        sess13 = h.scratch(uniq('sess13'))
        rc, out = s_client(p13, ['-tls1_3', '-ign_eof', '-sess_out', sess13],
                           bye)
        check(re.search(r'^New, TLSv1\.3', out, re.M) and
              os.path.exists(sess13), 'TLS 1.3 session: %s' % out[-800:])
        for i in range(2):
            rc, out = s_client(p13, ['-tls1_3', '-ign_eof', '-sess_in',
                                     sess13], bye)
            check(re.search(r'^Reused, TLSv1\.3', out, re.M),
                  'TLS 1.3 session not resumed (%d): %s' % (i, out[-800:]))
        check(b.proc.poll() is None, 'broker died')


@test('paho_over_tls')
def t_paho():
    st = pki()
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise Skip('no paho-mqtt')
    tp = h.free_port()
    with TlsBroker([{'address': '127.0.0.1', 'port': tp,
                     'tls': tls_map(*st['server'])}]):
        got = []
        cl = mqtt.Client(client_id=uniq('paho'))
        cl.tls_set(ca_certs=st['ca']['crt'])
        cl.on_message = lambda c, u, m: got.append((m.topic, m.payload))
        cl.connect('127.0.0.1', tp, keepalive=10)
        cl.loop_start()
        try:
            r, _ = cl.subscribe('p/#', qos=1)
            eq(r, 0, 'paho subscribe')
            time.sleep(0.3)
            cl.publish('p/1', b'over tls', qos=1).wait_for_publish(5)
            deadline = time.monotonic() + WAIT
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
            eq(got, [('p/1', b'over tls')], 'paho received')
        finally:
            cl.disconnect()
            cl.loop_stop()


def client_hello():
    """A real ClientHello's bytes (Python's ssl, TLS 1.2+)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, out, server_hostname='localhost')
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


@test('slow_handshake_holds_nobody', slow=True)
def t_slow():
    st = pki()
    tp = h.free_port()
    ca = ['--cafile', st['ca']['crt']]
    hello = client_hello()
    with TlsBroker([{'address': '127.0.0.1', 'port': tp,
                     'tls': tls_map(*st['server'])}]) as b:
        slow = socket.create_connection(('127.0.0.1', tp), timeout=3)
        try:
            slow.sendall(hello[:1])
            t0 = time.monotonic()
            s = sub_start(tp, 's/#', 1, ca)
            sent = 1
            # One byte a second while another client connects and
            # publishes over TLS.
            time.sleep(0.5)
            rc, _, err = mosq('mosquitto_pub', tp, ['-t', 's/1', '-m', 'fast',
                                                    '-q', '1'] + ca)
            took = time.monotonic() - t0
            eq(rc, 0, 'mosquitto_pub during a slow handshake (%s)' % err)
            rc, out, err = sub_wait(s)
            eq(out.strip(), 's/1 fast', 'delivery during a slow handshake')
            # Served while the slow handshake is still open (not after
            # its deadline closed it): nothing waited for it.
            slow.setblocking(False)
            try:
                still = slow.recv(1) != b''
            except BlockingIOError:
                still = True
            slow.setblocking(True)
            check(still, 'the slow handshake was closed before the fast '
                  'client was served (%.2fs)' % took)
            closed = False
            deadline = time.monotonic() + 4
            while sent < len(hello) and time.monotonic() < deadline:
                time.sleep(1.0)
                try:
                    slow.sendall(hello[sent:sent + 1])
                    sent += 1
                except OSError:
                    closed = True
                    break
            b.wait_log(r'closed: tls handshake not done within '
                       r'connect_timeout', 'handshake deadline')
            if not closed:
                slow.settimeout(2)
                try:
                    closed = slow.recv(1) == b''
                except OSError:
                    closed = True
            check(closed, 'the slow handshake was not closed')
        finally:
            slow.close()


def mqtt_tls_connect(port, cafile, cid, user, pw, clean=True):
    """A raw MQTT CONNECT over Python's ssl: the CONNACK return code."""
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(('127.0.0.1', port), timeout=3) as raw:
        with ctx.wrap_socket(raw, server_hostname='localhost') as s:
            s.sendall(h.connect_pkt(cid, clean=clean, username=user,
                                    password=pw))
            r = b''
            while len(r) < 4:
                chunk = s.recv(4 - len(r))
                if not chunk:
                    break
                r += chunk
            check(len(r) == 4 and r[0] == 0x20, 'CONNACK over TLS: %r' % r)
            return r[3]


@test('reload_listeners_passwords_certificates')
def t_reload():
    st = pki()
    p1, p2 = h.free_port(), h.free_port()
    d = h.scratch(uniq('live'))
    os.makedirs(d)
    crt, key = os.path.join(d, 'server.crt'), os.path.join(d, 'server.key')
    shutil.copy(st['server'][0], crt)
    shutil.copy(st['server'][1], key)
    pw = os.path.join(d, 'passwd')
    rc, _, err = h.run_cmd(['mosquitto_passwd', '-b', '-c', pw, 'u1', 'pw1'])
    if rc != 0:
        raise Skip('mosquitto_passwd: %s' % err)
    extra = 'allow_anonymous: false\npassword_file: %s\n' % q(pw)
    with TlsBroker([{'address': '127.0.0.1', 'port': p1,
                     'tls': tls_map(crt, key)}], extra) as b:
        eq(mqtt_tls_connect(p1, st['ca']['crt'], uniq('a'), 'u1', b'pw1'), 0,
           'before: u1 over TLS')
        # A persistent subscriber on the plain port: it must stay.
        keep, _ = h.mqtt_connect(b.port, 'keeper', clean=False,
                                 username='u1', password=b'pw1')
        subscribe(keep, [('k/#', 1)])
        # Change: p1 goes, p2 comes (with the rotated certificate, of
        # CA two, at the same paths), u1 becomes u2.
        shutil.copy(st['server2'][0], crt)
        shutil.copy(st['server2'][1], key)
        rc, _, err = h.run_cmd(['mosquitto_passwd', '-b', '-c', pw, 'u2',
                                'pw2'])
        eq(rc, 0, 'mosquitto_passwd: %s' % err)
        b.write([{'address': '127.0.0.1', 'port': p2,
                  'tls': tls_map(crt, key)}],
                extra + 'max_packet_size: 512KiB\n')
        since = len(b.output())
        b.hup()
        b.wait_log(r'reloaded ', 'reload', since)
        out = b.output()[since:]
        check('no longer listening on 127.0.0.1:%d' % p1 in out and
              'now listening on 127.0.0.1:%d' % p2 in out,
              'listener lines: %s' % out)
        check('reload: max_packet_size changed, but applies only at the '
              'next restart' in out and 'reload: password_file' not in out,
              'restart-only key not named: %s' % out)
        ping(keep, 'the connected client after the reload')
        try:
            socket.create_connection(('127.0.0.1', p1), timeout=2).close()
            raise Fail('the removed listener still accepts')
        except ConnectionRefusedError:
            pass
        eq(mqtt_tls_connect(p2, st['ca2']['crt'], uniq('b'), 'u2', b'pw2'), 0,
           'after: u2 over TLS with the rotated certificate')
        eq(mqtt_tls_connect(p2, st['ca2']['crt'], uniq('c'), 'u1', b'pw1'), 4,
           'after: u1 (removed from the password file)')
        try:
            mqtt_tls_connect(p2, st['ca']['crt'], uniq('d'), 'u2', b'pw2')
            raise Fail('the old CA still verifies the rotated certificate')
        except ssl.SSLError:
            pass
        pub, _ = h.mqtt_connect(b.port, uniq('p'), username='u2',
                                password=b'pw2')
        publish(pub, 'k/1', b'after reload', qos=1)
        got = recv_publishes(keep, 1)
        eq(got[0].payload, b'after reload', 'the session kept its '
           'subscription')
        pub.close()
        # A broken file: one line, everything as it was.
        since = len(b.output())
        b.write_raw(open(b.conf).read() + 'no_such_key: 1\n')
        b.hup()
        b.wait_log(r'reload of .* failed, keeping the running configuration:'
                   r' .*no_such_key', 'broken file', since)
        ping(keep, 'the connected client after a failed reload')
        eq(mqtt_tls_connect(p2, st['ca2']['crt'], uniq('e'), 'u2', b'pw2'), 0,
           'after a failed reload')
        # A TLS file gone bad: refused by the reload, not by the next
        # connection.
        since = len(b.output())
        b.write([{'address': '127.0.0.1', 'port': p2,
                  'tls': tls_map(crt, st['server'][1])}], extra)
        b.hup()
        b.wait_log(r'reload of .* failed, keeping the running configuration:'
                   r' .*listener 127\.0\.0\.1:%d' % p2, 'mismatched key',
                   since)
        eq(mqtt_tls_connect(p2, st['ca2']['crt'], uniq('f'), 'u2', b'pw2'), 0,
           'after a refused key')
        keep.close()


@test('listener_max_connections')
def t_listener_max():
    # Guards: a listener's own max_connections refuses the next
    # connection with one log line, and leaves the other listener be.
    st = pki()
    tp = h.free_port()
    with TlsBroker([{'address': '127.0.0.1', 'port': tp,
                     'max_connections': 2,
                     'tls': tls_map(*st['server'])}]) as b:
        held = []
        try:
            for i in range(2):
                ctx = ssl.create_default_context(cafile=st['ca']['crt'])
                raw = socket.create_connection(('127.0.0.1', tp), timeout=3)
                s = ctx.wrap_socket(raw, server_hostname='localhost')
                s.sendall(h.connect_pkt(uniq('m')))
                eq(s.recv(4)[:1], b'\x20', 'CONNACK %d' % i)
                held.append(s)
            raw = socket.create_connection(('127.0.0.1', tp), timeout=3)
            try:
                raw.settimeout(3)
                got = raw.recv(1)
            except OSError:
                got = b''
            finally:
                raw.close()
            eq(got, b'', 'a third connection past max_connections 2')
            b.wait_log(r'refused, listener 127\.0\.0\.1:%d max_connections 2'
                       r' reached' % tp, 'refusal line')
            # The plain listener has no such limit.
            c, _ = h.mqtt_connect(b.port, uniq('plain'))
            c.close()
        finally:
            for s in held:
                s.close()


@test('max_tls_handshakes')
def t_max_hs():
    # Guards: strangers that open TCP connections and never finish a
    # handshake hold at most max_tls_handshakes; past it a new TLS
    # connection is refused with one line, and a finished handshake
    # no longer counts.
    st = pki()
    tp = h.free_port()
    ca = ['--cafile', st['ca']['crt']]
    with TlsBroker([{'address': '127.0.0.1', 'port': tp,
                     'tls': tls_map(*st['server'])}],
                   'max_tls_handshakes: 2\n') as b:
        # Control: a client gets in while nothing is pending.
        rc, _, err = mosq('mosquitto_pub', tp, ['-t', 't', '-m', 'x'] + ca)
        eq(rc, 0, 'before: mosquitto_pub (%s)' % err)
        # A connected TLS client does not count.
        keep = ssl.create_default_context(cafile=st['ca']['crt']).wrap_socket(
            socket.create_connection(('127.0.0.1', tp), timeout=3),
            server_hostname='localhost')
        keep.sendall(h.connect_pkt(uniq('k')))
        eq(keep.recv(4)[:1], b'\x20', 'CONNACK of the kept client')
        stuck = [socket.create_connection(('127.0.0.1', tp), timeout=3)
                 for _ in range(2)]
        try:
            time.sleep(0.3)
            rc, _, err = mosq('mosquitto_pub', tp, ['-t', 't', '-m', 'x'] +
                              ca)
            check(rc != 0, 'a third handshake was let in')
            b.wait_log(r'refused, max_tls_handshakes 2 in progress',
                       'refusal line')
        finally:
            for s in stuck:
                s.close()
        deadline = time.monotonic() + WAIT
        while True:
            rc, _, err = mosq('mosquitto_pub', tp, ['-t', 't', '-m', 'x'] +
                              ca)
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        eq(rc, 0, 'after the stuck ones left (%s)' % err)
        keep.close()


@test('log_file_reopen')
def t_logrotate():
    d = h.scratch(uniq('logs'))
    os.makedirs(d)
    log = os.path.join(d, 'broker.log')
    with TlsBroker([], 'log_file: "%s"\n' % log) as b:
        b.wait_log(r'listening on 127\.0\.0\.1:%d' % b.port, 'start line')
        os.rename(log, log + '.1')
        b.hup(signal.SIGUSR1)
        deadline = time.monotonic() + WAIT
        while not os.path.exists(log) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(os.path.exists(log), 'no new log file after SIGUSR1')
        b.hup()
        b.wait_log(r'reloaded ', 'reload line in the new file')
        old = open(log + '.1').read()
        check('reloaded' not in old, 'the reload line went to the old file')
        check(re.search(r'^\d{4}-\d\d-\d\dT\S+ cairn-broker\[\d+\]: '
                        r'listening on', old, re.M),
              'log file line format: %r' % old[:300])


if __name__ == '__main__':
    sys.exit(h.main(argparse.ArgumentParser(description=__doc__), setup))
