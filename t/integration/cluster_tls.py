#!/usr/bin/env python3
"""Cluster links over TLS 1.3 (cluster_certfile, cluster_keyfile,
cluster_cafile), against real nodes.

Usage (the namespace case as root, or with CAP_NET_ADMIN/CAP_SYS_ADMIN):
    cluster_tls.py --broker-cmd PATH --epmd PATH --cairn PATH
                   [--only REGEX] [--keep] [-v] [--deadline S]

Certificates are made at run time with the `openssl` command in the
run's scratch directory (nothing is kept in the tree): one CA for the
cluster, one foreign CA, and a certificate per node (CN the node name,
subjectAltName its address), keys owner-only.  Without `openssl` every
case is skipped, saying so.

  * three_nodes_two_namespaces_*: t1 in one network namespace, t2 and t3
    in another (a veth pair, 10.231.79.1 and .2, only inside them), all
    three on TLS with static peers: the full mesh comes up, a QoS 1
    message published on t2 and on t3 reaches a QoS 1 subscriber on t1,
    and a plain HELLO sent to t2's cluster port gets no HELLO back (the
    port speaks TLS only).  Skipped where `ip netns add` is refused.
  * foreign_ca_* and plain_node_*: a node whose certificate comes from
    another CA, and a node without TLS, each with the right cookie and
    each naming the TLS node in `peers` (and named by it): never up, and
    a line on both sides about the refused link.
  * wrong_cookie_inside_tls_*: a valid certificate and the wrong cookie:
    refused, "wrong cookie?" on both sides.
  * s_client_*: `openssl s_client` with a valid node certificate sends a
    HELLO and gets the node's HELLO (the positive control); without a
    client certificate it gets no application data at all.
  * idle_and_half_tls_connections_*: 128 strangers held on a TLS port
    (idle, or stalled after a record header) do not keep a TLS peer out.

Status at 9f4b00b: every case passes (about 12 s) but
plain_node_refused_by_a_tls_node_with_a_line_on_both_sides: the TLS node
says "TLS handshake: wrong version number" (and "TLS handshake: closed
by the peer" on its dials), but the plain node only "read: Connection
reset by peer" and "frame over the pre-authentication limit 1024", with
nothing that tells an operator the other node runs TLS.

Every process is killed by pid, namespaces are deleted at the end; every
wait is bounded; output is TAP (mqtt_harness.py's runner).  By hand:

    B=BUILDDIR; python3 t/integration/cluster_tls.py \\
        --broker-cmd $B/broker/cairn-broker --epmd $B/epmd/epmd \\
        --cairn $B/cli/cairn [--only NAME] [-v]
"""

import argparse
import os
import re
import shutil
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import (Fail, Skip, check, eq, test, uniq,  # noqa: E402
                          subscribe, publish, recv_publishes)
from cluster_harness import (Node, Epmd, NsPair, wait_until,  # noqa: E402
                             wait_mesh, probe_until, yq)

HELLO, AUTH = 1, 2
VERSION = 3
EPMD_PORT = 4369
REFUSE_WAIT = 8.0       # for the refusal lines of a few redials

ST = {}


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


def make_cert(ca, node, host):
    """(certfile, keyfile) for node name@host, signed by ca."""
    d = h.scratch('pki')
    base = os.path.join(d, uniq(node.replace('@', '-at-')))
    key, csr, crt, ext = (base + '.key', base + '.csr', base + '.crt',
                          base + '.ext')
    genkey(key)
    openssl('req', '-new', '-key', key, '-out', csr, '-subj', '/CN=%s' % node)
    short = node.split('@')[0]
    with open(ext, 'w') as f:
        f.write('basicConstraints=CA:FALSE\n'
                'keyUsage=critical,digitalSignature\n'
                'extendedKeyUsage=serverAuth,clientAuth\n'
                'subjectAltName=DNS:%s,DNS:localhost,IP:%s\n' % (short, host))
    openssl('x509', '-req', '-in', csr, '-CA', ca['crt'], '-CAkey', ca['key'],
            '-CAcreateserial', '-out', crt, '-days', '2', '-extfile', ext)
    return crt, key


def pki():
    """The cluster CA and the foreign CA, made once."""
    if 'skip' in ST:
        raise Skip(ST['skip'])
    if 'ca' not in ST:
        if shutil.which('openssl') is None:
            ST['skip'] = 'the openssl command is not installed'
            raise Skip(ST['skip'])
        ST['ca'] = make_ca('cluster')
        ST['foreign'] = make_ca('foreign')
    return ST['ca'], ST['foreign']


def tls_lines(ca, node, host):
    crt, key = make_cert(ca, node, host)
    return ['cluster_certfile: %s' % yq(crt),
            'cluster_keyfile: %s' % yq(key),
            'cluster_cafile: %s' % yq(ca['crt'])]


def tls_node(name, epmd, ca=None, tls=True, host='127.0.0.1', extra=(),
             start=False, **kw):
    """A Node whose YAML carries TLS keys from ca (default: the cluster
    CA), or none when tls is False.  Not started unless start."""
    ca = ca or ST['ca']
    lines = (tls_lines(ca, '%s@%s' % (name, host), host) if tls else []) + \
        list(extra)
    return Node(name, epmd, host=host, extra=lines, start=start, **kw)


def new_epmd():
    """An Epmd on a free loopback port.  Ours, like OTP's, exits 0 when
    the port is taken ("already running"), which a port free on
    127.0.0.1 can be on another loopback address: retry."""
    last = None
    for _ in range(5):
        try:
            return Epmd()
        except Fail as e:
            if 'exited early' not in str(e):
                raise
            last = e
    raise last


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


def note(msg):
    for ln in msg.splitlines():
        print('# ' + ln)
    sys.stdout.flush()


def hello_frame(name, nonce=None):
    name = name.encode()
    body = bytes([VERSION]) + struct.pack('>H', len(name)) + name + \
        (nonce or os.urandom(32))
    return struct.pack('>IB', 1 + len(body), HELLO) + body


def lines_about(node, patterns, since=0):
    """Lines of node's log (after offset since) matching every pattern."""
    if isinstance(patterns, str):
        patterns = [patterns]
    return [ln for ln in node.log()[since:].splitlines()
            if all(re.search(p, ln, re.I) for p in patterns)]


REFUSAL = r'(closed|refused|fail|error|denied)'
TLS_WORDS = r'(certificate|tls|ssl|alert|unknown ca|verify|wrong version|' \
    r'record|handshake failure)'


def never_up(a, b, secs):
    """Neither lists the other up for secs."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        for x, y in ((a, b), (b, a)):
            st = x.peers_state().get(y.node)
            check(st != 'up', '%s lists %s up%s' % (x.short, y.short,
                                                   ch.dumps((a, b))))
        time.sleep(0.2)


# ------------------------------------------------------------------ cases

@test('three_nodes_two_namespaces_tls_mesh_qos1_crosses')
def t_three_nodes_netns():
    # Guards: TLS links across a routed (veth) network: three nodes (one
    # in namespace a, two in namespace b) with certificates of one CA link
    # into a full mesh, a QoS 1 message crosses from b to a, and the
    # cluster port refuses a plain HELLO (no HELLO comes back).
    pki()
    try:
        p = NsPair('tls', subnet='10.231.79')
    except Skip:
        raise Skip('namespaces not permitted')
    ea = eb = None
    nodes = []
    try:
        ea = Epmd(EPMD_PORT, ns=p.a)
        eb = Epmd(EPMD_PORT, ns=p.b)
        peers = ['t1@%s:4370' % p.addr_a, 't2@%s:4370' % p.addr_b,
                 't3@%s:4371' % p.addr_b]
        t1 = tls_node('t1', ea, ns=p.a, host=p.addr_a, cport=4370,
                      mport=1883, peers=peers)
        t2 = tls_node('t2', eb, ns=p.b, host=p.addr_b, cport=4370,
                      mport=1883, peers=peers)
        t3 = tls_node('t3', eb, ns=p.b, host=p.addr_b, cport=4371,
                      mport=1884, peers=peers)
        nodes = [t1, t2, t3]
        t0 = time.monotonic()
        for n in nodes:
            n.start(wait=False)
        for n in nodes:
            n.wait_ready()
        wait_mesh(nodes)
        note('TLS mesh of 3 across 2 namespaces up %.2fs after the starts'
             % (time.monotonic() - t0))
        sub, _ = t1.connect()
        subscribe(sub, [('tls/#', 1)])
        for src in (t2, t3):
            pc, _ = src.connect()
            topic = 'tls/%s' % src.short
            probe_until(pc, sub, topic, what='route of t1 on %s' % src.short)
            publish(pc, topic, b'qos1-over-tls-from-' + src.short.encode(),
                    qos=1)
            got = recv_publishes(sub, 1, timeout=5.0)
            eq((got[0].topic, got[0].payload, got[0].qos),
               (topic, b'qos1-over-tls-from-' + src.short.encode(), 1),
               'QoS 1 message from %s on t1' % src.short)
            pc.close()
        sub.close()
        # The port speaks TLS only: a plain HELLO from namespace a to t2.
        s = ch.ns_socket(p.a)
        s.settimeout(3)
        s.connect((p.addr_b, 4370))
        s.sendall(hello_frame('plain@%s' % p.addr_a))
        got = b''
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                b = s.recv(4096)
            except OSError:
                break
            if not b:
                break
            got += b
        s.close()
        check(not (len(got) >= 5 and got[4] == HELLO and got[5] == VERSION),
              'a plain HELLO on the TLS port got a HELLO back: %r' % got[:40])
        note('plain HELLO to a TLS port: %d bytes back (%r...), closed'
             % (len(got), got[:8]))
    finally:
        stop(*nodes)
        stop(ea, eb)
        p.delete()


def refused_both_sides(a, b, pat_a, pat_b, what):
    """a and b (each naming the other in peers) never link, and each log
    gets a line matching its pattern.  Returns (a's lines, b's lines)."""
    a.start()
    b.start()
    got = wait_until(lambda: (lines_about(a, pat_a), lines_about(b, pat_b))
                     if lines_about(a, pat_a) and lines_about(b, pat_b)
                     else None, REFUSE_WAIT,
                     '%s: a refusal line on both sides' % what, (a, b))
    never_up(a, b, 1.0)
    return got


@test('foreign_ca_node_refused_with_a_line_on_both_sides')
def t_foreign_ca():
    # Guards: a node with the right cookie but a certificate of another CA
    # (trusting only that CA) is refused at TLS: never up, and both logs
    # say why (certificate / TLS alert), whichever side dialled.
    ca, foreign = pki()
    ea, eb = new_epmd(), new_epmd()
    a = tls_node('tfa', ea)
    b = tls_node('tfb', eb, ca=foreign)
    a.peers, b.peers = [b.addr], [a.addr]
    a.write_conf()
    b.write_conf()
    try:
        pat = [REFUSAL, TLS_WORDS]
        la, lb = refused_both_sides(a, b, pat, pat, 'foreign CA')
        note('foreign CA, the cluster node: %s' % la[0])
        note('foreign CA, the foreign node: %s' % lb[0])
    finally:
        stop(a, b, ea, eb)


@test('plain_node_refused_by_a_tls_node_with_a_line_on_both_sides')
def t_plain_node():
    # Guards: a node without TLS (right cookie) and a TLS node never link,
    # whichever dials, and each log says why in words an operator can act
    # on: a refusal line that names TLS on both sides (the plain node
    # reads a TLS record where it expects a HELLO, or a reset after its
    # HELLO: "Connection reset by peer" alone does not tell that the
    # other node runs TLS).
    pki()
    ea, eb = new_epmd(), new_epmd()
    a = tls_node('tpa', ea)
    b = tls_node('tpb', eb, tls=False)
    a.peers, b.peers = [b.addr], [a.addr]
    a.write_conf()
    b.write_conf()
    try:
        pat_a = [REFUSAL, TLS_WORDS]
        pat_b = [REFUSAL, r'(%s|127\.0\.0\.1:%d)' % (re.escape(a.node),
                                                      a.cport)]
        try:
            la, lb = refused_both_sides(a, b, pat_a, pat_b, 'plain node')
        finally:
            for n in (a, b):
                note('plain node case, %s (%s) logged:' % (
                    n.short, 'TLS' if n is a else 'plain'))
                for ln in lines_about(n, [REFUSAL, r'link'])[:4]:
                    note('  | ' + ln)
        check(lines_about(b, [REFUSAL, r'\btls\b']),
              'the plain node refused or lost its links to the TLS node '
              'without saying TLS: %r' % lb[:3])
    finally:
        stop(a, b, ea, eb)


@test('wrong_cookie_inside_tls_refused_wrong_cookie_on_both_sides')
def t_wrong_cookie_tls():
    # Guards: a valid certificate does not stand for the cookie: two nodes
    # of the same CA with different cookies never link and both logs say
    # "wrong cookie?" (the cookie handshake runs inside TLS, bound to it).
    pki()
    ea, eb = new_epmd(), new_epmd()
    a = tls_node('twa', ea)
    b = tls_node('twb', eb, cookie='another-cookie')
    a.peers, b.peers = [b.addr], [a.addr]
    a.write_conf()
    b.write_conf()
    try:
        la, lb = refused_both_sides(a, b, r'wrong cookie', r'wrong cookie',
                                    'wrong cookie inside TLS')
        note('wrong cookie in TLS: %s' % la[0])
        note('wrong cookie in TLS: %s' % lb[0])
    finally:
        stop(a, b, ea, eb)


def s_client(port, stdin_bytes, cert=None, key=None):
    """openssl s_client to 127.0.0.1:port, TLS 1.3, our stdin bytes, until
    the node closes: (rc, stdout bytes, stderr text)."""
    args = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % port,
            '-tls1_3', '-quiet', '-CAfile', ST['ca']['crt'],
            '-verify_return_error']
    if cert:
        args += ['-cert', cert, '-key', key]
    rc, out, err = h.run_cmd(args, timeout=15, input=stdin_bytes)
    return rc, out, err.decode('utf-8', 'replace')


@test('s_client_with_a_node_certificate_gets_hello_without_one_no_data')
def t_s_client():
    # Guards: a TLS client without a certificate (the node requires one)
    # gets no application data: the node's HELLO_R (its name and nonce)
    # is never sent to it.  Positive control: the same client with a node
    # certificate of the cluster CA sends a HELLO_I and gets HELLO_R.
    pki()
    ep = new_epmd()
    a = tls_node('tsc', ep, extra=['handshake_timeout: 2s'], start=True)
    try:
        crt, key = make_cert(ST['ca'], 'sclient@127.0.0.1', '127.0.0.1')
        hello = hello_frame('sclient@127.0.0.1')
        rc, out, err = s_client(a.cport, hello, crt, key)
        check(len(out) >= 5 and out[4] == HELLO, 'control: s_client with a '
              'certificate got no HELLO_R: rc %d, stdout %r, stderr %s'
              % (rc, out[:64], err[-600:]))
        n = struct.unpack('>H', out[6:8])[0]
        eq((out[5], out[8:8 + n].decode('utf-8', 'replace')),
           (VERSION, a.node), 'control: HELLO_R version and name')
        rc, out, err = s_client(a.cport, hello)
        eq(out, b'', 's_client without a certificate: application data '
           '(stderr %s)' % err[-600:])
        alert = [ln for ln in err.splitlines() if re.search(
            r'alert|error|certificate', ln, re.I)]
        note('s_client without a certificate: rc %d, %s'
             % (rc, alert[:2] or err[-200:]))
        check(a.alive(), 'the node died')
        eq([p.get('node') for p in a.status().get('peers', [])], [],
           'peers listed after the s_client runs')
    finally:
        stop(a, ep)


@test('idle_and_half_tls_connections_do_not_keep_a_tls_peer_out')
def t_tls_idle_flood():
    # Guards: the strangers' caps hold while TLS handshakes are pending:
    # 128 connections held on a TLS node's cluster port (from 127.0.0.1,
    # the real peer's address, and 15 others; half idle, half having
    # sent the first 5 bytes of a TLS record and stalled), with
    # handshake_timeout 10s so that only eviction frees a slot: a TLS
    # peer with the cookie started then links within 5 s, and at most
    # max_handshakes (64) of the 128 are still open.
    pki()
    ea, eb = new_epmd(), new_epmd()
    a = tls_node('tia', ea, extra=['handshake_timeout: 10s'])
    b = tls_node('tib', eb, extra=['handshake_timeout: 10s'])
    b.peers = [a.addr]
    b.write_conf()
    held = []
    try:
        a.start()
        srcs = ['127.0.0.1'] + ['127.0.0.%d' % i for i in range(60, 75)]
        for i in range(128):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(3)
            try:
                # IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect.
                s.setsockopt(socket.IPPROTO_IP, 24, 1)
            except OSError:
                pass
            try:
                s.bind((srcs[i % len(srcs)], 0))
                s.connect(('127.0.0.1', a.cport))
                if i % 2:
                    s.sendall(b'\x16\x03\x01\x02\x00')   # a record header
            except OSError:
                s.close()
                continue
            held.append(s)
        t0 = time.monotonic()
        b.start()
        wait_mesh([a, b], timeout=5.0)
        took = time.monotonic() - t0
        time.sleep(0.2)
        still = 0
        for s in held:
            s.setblocking(False)
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
            except BlockingIOError:
                still += 1
            except OSError:
                pass
        note('TLS strangers: %d held, %d still open after the peer linked '
             '%.2fs after its start' % (len(held), still, took))
        check(still <= 64, '%d TLS strangers still open: more than '
              'max_handshakes (64)' % still)
    finally:
        for s in held:
            s.close()
        stop(a, b, ea, eb)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sys.exit(ch.main(ap))
