#!/usr/bin/env python3
"""The HTTP endpoint (http_listen) of cairn-broker and cairn-agent.

Usage:
    http_endpoint.py --broker-cmd PATH --epmd PATH --cairn PATH
                     --agent PATH [--only REGEX] [-v] [--deadline S]

A three-node cluster (cluster_harness.py: one of our epmd daemons, each
node with http_listen on a free loopback port) under a short load:

  * /metrics parses with prometheus_client's text parser
    (text_string_to_metric_families) and its counters match what the
    test's clients sent and received (per QoS, payload bytes), the links
    (cairn_cluster_peer_up), the routes and the forward round-trip
    histogram (QoS 1 forwards were acked);
  * /api/v1/cluster is what `cluster status` says (same node, peers and
    states), /api/v1/members what `cairn members --json` does;
  * /readyz: 503 with "not registered with epmd" once the epmd is
    killed, 200 again once it is back; with quorum 3, 503 "quorum not
    reached" when a node dies, 200 when it is back;
  * attacks are bounded: a 100 KiB header gets 431 (or a close), slow
    clients holding every slot are closed at http_timeout and the fds
    the broker holds stay under the limit meanwhile, MQTT goes on;
  * http_auth asks for password_file's users (401 without, 200 with),
    probes stay open; the API is readable cross-origin only from a
    loopback page;
  * cairn-agent's endpoint: /metrics parses, /readyz follows quorum.

When python3-prometheus-client is missing the whole file is a SKIP.
Every process is killed by pid; every wait is bounded.  TAP output.
"""

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import (Fail, check, eq, test, uniq,  # noqa: E402
                          subscribe, publish, recv_publishes, ping)
from cluster_harness import Node, Epmd, wait_until, wait_mesh  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    text_string_to_metric_families = None


# ------------------------------------------------------------- HTTP client

def http_get(port, path, headers=None, timeout=3.0):
    """(status, {header: value}, body bytes) of one GET on 127.0.0.1."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        req = 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' \
            % path
        for k, v in (headers or {}).items():
            req += '%s: %s\r\n' % (k, v)
        s.sendall((req + '\r\n').encode())
        data = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    if not lines or not lines[0].startswith('HTTP/1.'):
        raise Fail('GET %s: not an HTTP answer: %r' % (path, data[:200]))
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def metrics(port):
    """{(name, frozenset(labels)): value} of one scrape, parsed by
    prometheus_client (a parse error fails the case)."""
    st, _, body = http_get(port, '/metrics')
    eq(st, 200, '/metrics status')
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def mval(m, name, **labels):
    k = (name, frozenset(labels.items()))
    if k not in m:
        raise Fail('no %s%r in /metrics' % (name, labels))
    return m[k]


class Cluster:
    """An epmd and three nodes with http_listen (extra: more YAML)."""

    def __init__(self, n=3, extra=()):
        self.epmd = Epmd()
        self.nodes = []
        self.hport = {}
        try:
            for i in range(n):
                self.add('h%d' % (i + 1), extra)
            wait_mesh(self.nodes)
        except BaseException:
            self.stop()
            raise

    def add(self, name, extra=()):
        port = h.free_port()
        node = Node(name, self.epmd, extra=['http_listen: "127.0.0.1:%d"'
                                            % port] + list(extra))
        node.hport = port
        self.nodes.append(node)
        return node

    def stop(self):
        for n in self.nodes:
            n.stop()
        self.epmd.kill9()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        return False


SHARED = {}


def shared():
    cl = SHARED.get('cl')
    if cl is None:
        cl = SHARED['cl'] = Cluster()
    for n in cl.nodes:
        check(n.alive(), 'shared node %s died (rc %r); log:\n%s'
              % (n.short, n.proc.returncode, n.tail()))
    return cl.nodes


def ready(node):
    st, _, body = http_get(node.hport, '/readyz')
    return st, body.decode('utf-8', 'replace')


# -------------------------------------------------------------------- cases

@test('metrics_parse_and_match_what_clients_counted')
def t_metrics_load():
    n1, n2, n3 = shared()
    topic = uniq('load')
    s2, _ = n2.connect()
    subscribe(s2, [(topic + '/#', 1)])
    s3, _ = n3.connect()
    subscribe(s3, [(topic + '/#', 0)])
    wait_until(lambda: mval(metrics(n1.hport), 'cairn_routes',
                            kind='remote') >= 2, ch.ROUTE_TIMEOUT,
               'both routes on h1')
    b1, b2, b3 = metrics(n1.hport), metrics(n2.hport), metrics(n3.hport)
    p, _ = n1.connect()
    NQ1, NQ0, SIZE = 150, 100, 100
    for i in range(NQ1):
        publish(p, topic + '/a', b'q' * SIZE, qos=1)
    for i in range(NQ0):
        publish(p, topic + '/b', b'z' * SIZE, qos=0)
    eq(ping(p), [], 'publisher')
    got2 = recv_publishes(s2, NQ1 + NQ0, timeout=15)
    got3 = recv_publishes(s3, NQ1 + NQ0, timeout=15)
    q2 = {0: sum(1 for g in got2 if g.qos == 0),
          1: sum(1 for g in got2 if g.qos == 1)}
    eq(q2, {0: NQ0, 1: NQ1}, 'QoS of what h2 got')
    eq(sum(1 for g in got3 if g.qos == 0), NQ1 + NQ0, 'h3 got QoS 0')
    # A scrape right after the last delivery: counters are read live.
    a1, a2, a3 = metrics(n1.hport), metrics(n2.hport), metrics(n3.hport)

    def d(a, b, name, **lb):
        return mval(a, name, **lb) - mval(b, name, **lb)
    eq(d(a1, b1, 'cairn_messages_received_total', qos='1'), NQ1,
       'h1 QoS 1 received')
    eq(d(a1, b1, 'cairn_messages_received_total', qos='0'), NQ0,
       'h1 QoS 0 received')
    eq(d(a1, b1, 'cairn_publish_bytes_received_total', qos='1'),
       NQ1 * SIZE, 'h1 QoS 1 payload bytes received')
    eq(d(a1, b1, 'cairn_publish_bytes_received_total', qos='0'),
       NQ0 * SIZE, 'h1 QoS 0 payload bytes received')
    eq(d(a2, b2, 'cairn_publish_bytes_sent_total', qos='1'),
       q2[1] * SIZE, 'h2 QoS 1 payload bytes sent')
    eq(d(a2, b2, 'cairn_messages_sent_total', qos='1'), q2[1],
       'h2 QoS 1 sent')
    eq(d(a2, b2, 'cairn_messages_sent_total', qos='0'), q2[0],
       'h2 QoS 0 sent')
    eq(d(a3, b3, 'cairn_messages_sent_total', qos='0'), len(got3),
       'h3 QoS 0 sent')
    eq(d(a3, b3, 'cairn_publish_bytes_sent_total', qos='0'),
       len(got3) * SIZE, 'h3 payload bytes sent')
    for node, m in ((n1, a1), (n2, a2), (n3, a3)):
        eq(mval(m, 'cairn_cluster_peers_up'), 2, '%s peers up' % node.short)
        for peer in (x for x in (n1, n2, n3) if x is not node):
            eq(mval(m, 'cairn_cluster_peer_up', peer=peer.node,
                    state='up'), 1, '%s -> %s up' % (node.short, peer.short))
        eq(mval(m, 'cairn_epmd_registered'), 1, '%s registered'
           % node.short)
        eq(mval(m, 'cairn_ready'), 1, '%s ready' % node.short)
    # h1 forwarded NQ1 QoS 1 copies to h2 and h3 (h3 subscribed at QoS 0
    # but the forward keeps the publish's QoS): every ack was timed.
    rtt = d(a1, b1, 'cairn_cluster_forward_rtt_seconds_count')
    check(rtt >= NQ1, 'forward round trips counted on h1: %r < %d'
          % (rtt, NQ1))
    eq(mval(a1, 'cairn_cluster_forward_rtt_seconds_bucket', le='+Inf'),
       mval(a1, 'cairn_cluster_forward_rtt_seconds_count'),
       'histogram +Inf bucket = count')
    eq(mval(a2, 'cairn_sessions', state='online') >= 1, True,
       'h2 online sessions')
    for c in (p, s2, s3):
        c.disconnect()


@test('api_v1_matches_cluster_status_and_members')
def t_api():
    for node in shared():
        st, hd, body = http_get(node.hport, '/api/v1/cluster')
        eq(st, 200, '/api/v1/cluster status')
        check(hd.get('content-type', '').startswith('application/json'),
              'content type %r' % hd.get('content-type'))
        api = json.loads(body)
        cs = node.status()
        eq(api['node'], cs['node'], 'node')
        eq(api['port'], cs['port'], 'port')
        eq(sorted((p['node'], p['state']) for p in api['peers']),
           sorted((p['node'], p['state']) for p in cs['peers']),
           'peers and states of %s' % node.short)
        eq(sorted(api.keys()), sorted(cs.keys()), 'members of the object')
        rc, out, err = h.run_cmd([h.ARGS.cairn, 'members', '--json', '-s',
                                  node.sock], timeout=10,
                                 env=ch.clean_env())
        eq(rc, 0, 'cairn members --json: %r' % err)
        cli = json.loads(out)
        st, _, body = http_get(node.hport, '/api/v1/members')
        eq(st, 200, '/api/v1/members status')
        api = json.loads(body)
        eq((api['state'], api['quorum'],
            sorted(m['node'] for m in api['members'])),
           (cli['state'], cli['quorum'],
            sorted(m['node'] for m in cli['members'])),
           'members of %s' % node.short)
        st, _, body = http_get(node.hport, '/api/v1/status')
        eq(json.loads(body)['node'], node.node, '/api/v1/status node')


@test('readyz_flips_when_epmd_goes_and_comes_back')
def t_readyz_epmd():
    with Cluster(n=1) as cl:
        n = cl.nodes[0]
        wait_until(lambda: ready(n)[0] == 200, 10, 'ready at start')
        eq(http_get(n.hport, '/healthz')[0], 200, '/healthz')
        cl.epmd.kill9()
        wait_until(lambda: ready(n)[0] == 503, 10,
                   '503 once epmd is gone', dump=[n])
        check('not registered with epmd' in ready(n)[1],
              'reason: %r' % ready(n)[1])
        eq(http_get(n.hport, '/healthz')[0], 200, '/healthz stays 200')
        cl.epmd.start()
        wait_until(lambda: ready(n)[0] == 200, 15,
                   'ready once epmd is back', dump=[n])


@test('readyz_flips_when_quorum_is_lost_and_back')
def t_readyz_quorum():
    with Cluster(extra=['quorum: 3']) as cl:
        n1, n2, n3 = cl.nodes
        wait_until(lambda: ready(n1)[0] == 200, 15, 'ready with 3 of 3',
                   dump=cl.nodes)
        n3.kill9()
        wait_until(lambda: ready(n1)[0] == 503, 20,
                   '503 once h3 is gone', dump=cl.nodes)
        check('quorum not reached' in ready(n1)[1], 'reason: %r'
              % ready(n1)[1])
        m = metrics(n1.hport)
        eq(mval(m, 'cairn_agent_state', state='degraded'), 1,
           'agent state degraded')
        n3.start()
        wait_until(lambda: ready(n1)[0] == 200, 20,
                   'ready once h3 is back', dump=cl.nodes)


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


@test('http_attacks_bounded')
def t_attacks():
    with Cluster(n=1, extra=['http_max_connections: 8',
                             'http_timeout: 2s']) as cl:
        n = cl.nodes[0]
        # A 100 KiB header: refused (431) or closed, never buffered.
        s = socket.create_connection(('127.0.0.1', n.hport), timeout=5)
        try:
            s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ' +
                      b'a' * 100000 + b'\r\n\r\n')
        except OSError:
            pass
        try:
            ans = s.recv(200)
        except OSError:
            ans = b''
        s.close()
        check(ans == b'' or b' 431 ' in ans.split(b'\r\n')[0],
              'answer to a 100 KiB header: %r' % ans[:100])
        eq(http_get(n.hport, '/healthz')[0], 200, '/healthz after it')
        base = fd_count(n.pid)
        # Slowloris: 20 clients, each a few header bytes, never ending.
        # 8 get a slot; the rest wait in the kernel's backlog (no fd of
        # the broker's) and get one as the first are timed out.
        slow = []
        for i in range(20):
            c = socket.create_connection(('127.0.0.1', n.hport), timeout=5)
            c.sendall(b'GET / HTTP/1.1\r\nX-a: ')
            slow.append(c)
        time.sleep(0.5)
        held = fd_count(n.pid) - base
        check(held <= 8, 'the broker holds %d more fds with 20 slow '
              'clients (http_max_connections 8)' % held)
        # MQTT is not touched by it.
        c, _ = n.connect()
        eq(ping(c), [], 'MQTT during the attack')
        c.disconnect()
        # The broker closes that MQTT client's fd when it reads the
        # DISCONNECT: wait for it (slow under ASan) before counting.
        wait_until(lambda: fd_count(n.pid) - base <= 8, 5,
                   'the MQTT client\'s fd closed after DISCONNECT')
        # http_timeout (2s) closes the slow ones that got a slot, then
        # the next ones: three rounds of 8, about 6 s.
        deadline = time.monotonic() + 15
        open_ = list(slow)
        while open_ and time.monotonic() < deadline:
            check(fd_count(n.pid) - base <= 8, 'the broker holds %d more '
                  'fds' % (fd_count(n.pid) - base))
            for x in list(open_):
                x.settimeout(0.05)
                try:
                    if x.recv(100) == b'':
                        open_.remove(x)
                except socket.timeout:
                    pass
                except OSError:
                    open_.remove(x)
        for x in slow:
            x.close()
        check(not open_, '%d slow clients still open after 15s '
              '(http_timeout 2s, 8 at a time)' % len(open_))
        wait_until(lambda: http_get(n.hport, '/healthz')[0] == 200, 5,
                   '/healthz after the attack')


@test('http_auth_password_file_probes_open_cors_loopback_only')
def t_auth():
    pw = h.scratch(uniq('pw'))
    rc, _, err = h.run_cmd([h.ARGS.cairn, 'passwd', '-c', '-b', pw, 'ops',
                            's3cret'], timeout=20)
    eq(rc, 0, 'cairn passwd: %r' % err)
    with Cluster(n=1, extra=['http_auth: true',
                             'password_file: "%s"' % pw]) as cl:
        n = cl.nodes[0]
        good = 'Basic ' + base64.b64encode(b'ops:s3cret').decode()
        bad = 'Basic ' + base64.b64encode(b'ops:wrong').decode()
        st, hd, _ = http_get(n.hport, '/metrics')
        eq(st, 401, '/metrics without credentials')
        check('basic' in hd.get('www-authenticate', '').lower(),
              'WWW-Authenticate %r' % hd.get('www-authenticate'))
        eq(http_get(n.hport, '/metrics', {'Authorization': bad})[0], 401,
           'a wrong password')
        eq(http_get(n.hport, '/', {'Authorization': good})[0], 200,
           'the page with the password')
        eq(http_get(n.hport, '/healthz')[0], 200, '/healthz, no password')
        check(http_get(n.hport, '/readyz')[0] in (200, 503),
              '/readyz, no password')
    for node in shared()[:1]:
        _, hd, _ = http_get(node.hport, '/api/v1/status',
                            {'Origin': 'http://127.0.0.1:9999'})
        eq(hd.get('access-control-allow-origin'), 'http://127.0.0.1:9999',
           'a loopback page may read the API')
        _, hd, _ = http_get(node.hport, '/api/v1/status',
                            {'Origin': 'http://evil.example'})
        eq(hd.get('access-control-allow-origin'), None,
           'another page may not')
        _, hd, _ = http_get(node.hport, '/api/v1/status',
                            {'Origin': 'http://127.0.0.1.evil.example'})
        eq(hd.get('access-control-allow-origin'), None,
           'a name that starts like loopback may not')


@test('agent_endpoint_metrics_and_readyz')
def t_agent():
    ep = Epmd()
    port = h.free_port()
    conf = h.scratch(uniq('agent') + '.yaml')
    with open(conf, 'w') as f:
        f.write('http_listen: "127.0.0.1:%d"\ncontrol_socket: "%s"\n'
                'quorum: 2\ntopologies:\n  s:\n    strategy: epmd\n'
                '    config: {hosts: [a@localhost, b@nowhere.invalid]}\n'
                '    connector: none\n' % (port, h.scratch(uniq('a.sock'))))
    proc = subprocess.Popen([h.ARGS.agent, '-d', '-c', conf],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ch.clean_env())
    h.track(proc)
    try:
        def up():
            try:
                return http_get(port, '/healthz')[0] == 200
            except OSError:
                return False
        wait_until(up, 5, 'agent /healthz')
        m = metrics(port)
        check(('cairn_agent_quorum', frozenset()) in m, 'quorum metric')
        eq(mval(m, 'cairn_agent_quorum'), 2, 'quorum')
        wait_until(lambda: mval(metrics(port), 'cairn_agent_connected') == 2,
                   10, 'both nodes connected (connector none)')
        eq(http_get(port, '/readyz')[0], 200, 'ready with 2 of quorum 2')
        st, _, body = http_get(port, '/api/v1/members')
        eq(st, 200, '/api/v1/members')
        eq(len(json.loads(body)['members']), 2, 'two members')
    finally:
        h.kill_proc(proc)
        ep.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--agent', required=True, help='cairn-agent binary')
    if text_string_to_metric_families is None:
        print('1..0 # SKIP python3-prometheus-client is not installed')
        return 0
    try:
        return ch.main(ap)
    finally:
        cl = SHARED.get('cl')
        if cl is not None:
            cl.stop()


if __name__ == '__main__':
    sys.exit(main())
