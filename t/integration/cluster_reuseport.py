#!/usr/bin/env python3
"""Broker nodes sharing one MQTT port, and shared subscriptions once per
cluster (issue 6), end to end on loopback.

Usage:
    cluster_reuseport.py --broker-cmd PATH --epmd PATH [-v] [--keep]

Every node runs with our epmd on a free port (ERL_EPMD_PORT and
epmd_port) and names only a node name and a cookie in its YAML: the
embedded agent's default local_epmd topology finds the others, so the
nodes cluster themselves.

  * reuseport_spread: two nodes with `listen_reuseport: true` listen on
    one MQTT port (and each on a private one, to read its
    $SYS/broker/clients/connected); 40 clients connect to the shared port
    and both nodes get some.
  * reuseport_publish_everywhere: those 40 clients subscribe to one
    topic; each of 5 publishers on the shared port publishes once (QoS 1)
    and every subscriber, on either node, gets each message once.
  * reuseport_client_id_once: a client id connected through the shared
    port, then again through it on the other node (told apart by the
    nodes' debug logs of the accepting address), is connected once: the
    first connection is closed.
  * shared_once_per_cluster: three nodes, members of $share/g/F on two
    of them (two on one, one on the other); 60 QoS 1 publishes spread
    over the three nodes make exactly 60 deliveries in the group, each
    message once, and both nodes' members get some; a plain subscription
    to F made and withdrawn on a member's node leaves the group routed;
    after one member node is killed, 20 more publishes all reach the
    other node's members (the pick falls back).

Output is TAP (mqtt_harness.py's runner).  Every process is killed by
pid; every wait is bounded.  Python 3 standard library only.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Conn, Fail, check, eq, uniq, connect_pkt,  # noqa
                          publish_pkt, ack_pkt, subscribe, publish,
                          unsubscribe_pkt, CONNACK, PUBLISH, PUBACK,
                          UNSUBACK, test)

LINK_TIMEOUT = 20.0
COOKIE = 'reuseport-test-cookie'


def clean_env():
    env = dict(os.environ)
    for k in ('ERL_EPMD_PORT', 'ERL_EPMD_ADDRESS', 'CAIRN_BROKER_SOCKET',
              'CAIRN_AGENT_SOCKET', 'LISTEN_FDS', 'LISTEN_PID'):
        env.pop(k, None)
    return env


class Epmd:
    def __init__(self):
        self.port = h.free_port()
        self.errf = tempfile.TemporaryFile(dir=h.TMP)
        self.proc = subprocess.Popen(
            [h.ARGS.epmd, '-port', str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            env=clean_env(), close_fds=True)
        h.track(self.proc)
        deadline = time.monotonic() + h.START_TIMEOUT
        while time.monotonic() < deadline:
            s = socket.socket()
            s.settimeout(0.5)
            try:
                s.connect(('127.0.0.1', self.port))
                s.sendall(b'\x00\x01n')
                if len(h.recv_exact(s, 4, 1.0)) == 4:
                    return
            except OSError:
                pass
            finally:
                s.close()
            time.sleep(0.05)
        raise Fail('epmd not answering on port %d' % self.port)


class Node:
    """One self-clustering cairn-broker: MQTT on its private port `port`,
    and on `shared` too when given (listen_reuseport)."""

    def __init__(self, name, epmd, shared=None):
        self.short = uniq(name).replace('-', '')
        self.node = '%s@localhost' % self.short
        self.port = h.free_port()
        self.shared = shared
        self.sock = h.scratch(self.short + '.sock')
        self.logpath = h.scratch(self.short + '.log')
        conf = h.scratch(self.short + '.yaml')
        ls = ['127.0.0.1:%d' % self.port]
        if shared:
            ls.append('127.0.0.1:%d' % shared)
        with open(conf, 'w') as f:
            f.write('listeners: [%s]\n' % ', '.join(ls))
            if shared:
                f.write('listen_reuseport: true\n')
            f.write('sys_interval: 1s\n'
                    'node_name: %s\n'
                    'cookie: %s\n'
                    'epmd_port: %d\n'
                    'control_socket: %s\n'
                    'tick_interval: 250ms\n'
                    'dead_after: 1500ms\n'
                    % (self.node, COOKIE, epmd.port, self.sock))
        env = clean_env()
        env['ERL_EPMD_PORT'] = str(epmd.port)
        self.logf = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(
            [h.ARGS.broker_cmd, '-d', '-v', '-c', conf],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            env=env, close_fds=True)
        h.track(self.proc)
        deadline = time.monotonic() + h.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail('node %s exited (rc %r):\n%s'
                           % (self.short, self.proc.returncode, self.tail()))
            if os.path.exists(self.sock) and \
                    'listening on 127.0.0.1:%d' % self.port in self.log():
                return
            time.sleep(0.05)
        raise Fail('node %s not ready:\n%s' % (self.short, self.tail()))

    def log(self):
        try:
            with open(self.logpath, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def tail(self, n=20):
        return '\n'.join('  [%s] %s' % (self.short, ln)
                         for ln in self.log().splitlines()[-n:])

    def kill9(self):
        h.kill_proc(self.proc)

    def status(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(self.sock)
            s.sendall(b'cluster status\n')
            buf = b''
            while not buf.endswith(b'\n'):
                b = s.recv(65536)
                if not b:
                    break
                buf += b
            return json.loads(buf.decode())
        except (OSError, ValueError):
            return {}
        finally:
            s.close()

    def peer(self, other):
        for p in self.status().get('peers', []):
            if p.get('node') == other.node:
                return p
        return {}

    def connect(self, client_id=None, port=None):
        c = Conn(port or self.port)
        c.send(connect_pkt(client_id or uniq('c')))
        p = c.expect(CONNACK, 'CONNACK from %s' % self.short)
        eq(p.body[1], 0, 'CONNACK code')
        return c

    def connected(self, want):
        """$SYS/broker/clients/connected of this node: the first value
        at least want within 5s (the retained one may be older), else
        the last one seen."""
        c = self.connect()
        last = None
        try:
            subscribe(c, '$SYS/broker/clients/connected')
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                p = c.recv(0.5)
                if p is not None and p.type == PUBLISH:
                    last = int(p.payload)
                    if last >= want:
                        break
        finally:
            c.close()
        if last is None:
            raise Fail('no $SYS/broker/clients/connected from %s'
                       % self.short)
        return last


def wait_until(pred, timeout, what, nodes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise Fail('%s: not true after %.0fs\n%s'
               % (what, timeout, '\n'.join(n.tail() for n in nodes)))


def wait_mesh(nodes):
    wait_until(lambda: all(n.peer(m).get('state') == 'up' for n in nodes
                           for m in nodes if m is not n),
               LINK_TIMEOUT, 'full mesh', nodes)


def landed(nodes, port, timeout=5.0):
    """The node whose debug log shows it accepted 127.0.0.1:port."""
    pat = '127.0.0.1:%d: accepted' % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in nodes:
            if pat in n.log():
                return n
        time.sleep(0.05)
    raise Fail('no node logged %r' % pat)


def publishes(c, wait):
    got = []
    for p in c.drain(wait):
        if p.type == PUBLISH:
            got.append(p)
            if p.qos == 1:
                c.send(ack_pkt(PUBACK, p.pid))
    return got


# --------------------------------------------------------- two on one port

PAIR = {}
NCLIENTS = 40


def pair():
    """Two nodes on one shared port, meshed, with NCLIENTS clients."""
    if PAIR:
        for n in PAIR['nodes']:
            check(n.proc.poll() is None, 'node %s died:\n%s'
                  % (n.short, n.tail()))
        return PAIR
    epmd = Epmd()
    shared = h.free_port()
    nodes = [Node('rpa', epmd, shared), Node('rpb', epmd, shared)]
    wait_mesh(nodes)
    clients = [Conn(shared) for _ in range(NCLIENTS)]
    for c in clients:
        c.send(connect_pkt(uniq('sp')))
    for c in clients:
        p = c.expect(CONNACK, 'CONNACK on the shared port')
        eq(p.body[1], 0, 'CONNACK code')
    PAIR.update(epmd=epmd, shared=shared, nodes=nodes, clients=clients)
    return PAIR


@test('reuseport_spread')
def t_spread():
    pr = pair()
    a, b = pr['nodes']
    # Where each client landed: the node that logged its address.
    on = [landed(pr['nodes'], c.s.getsockname()[1]) for c in pr['clients']]
    na, nb = on.count(a), on.count(b)
    # $SYS agrees: at least that many (our probe may count, or not yet).
    sa, sb = a.connected(na), b.connected(nb)
    print('# %d clients: %d on %s, %d on %s; $SYS clients/connected %d, %d'
          % (NCLIENTS, na, a.short, nb, b.short, sa, sb))
    eq(na + nb, NCLIENTS, 'clients found in the two nodes\' logs')
    check(na > 0 and nb > 0, 'both nodes got clients (%d, %d)' % (na, nb))
    check(na <= sa <= na + 1 and nb <= sb <= nb + 1,
          '$SYS clients/connected %d, %d for %d, %d clients'
          % (sa, sb, na, nb))


@test('reuseport_publish_everywhere')
def t_publish():
    pr = pair()
    clients = pr['clients']
    topic = uniq('rp/all')
    for c in clients:
        subscribe(c, [(topic, 1)])
    pub = Conn(pr['shared'])
    pub.send(connect_pkt(uniq('rppub')))
    pub.expect(CONNACK, 'publisher CONNACK')
    # Probe until every subscriber, on either node, hears the topic.
    heard = set()
    deadline = time.monotonic() + 15
    while len(heard) < len(clients) and time.monotonic() < deadline:
        pub.send(publish_pkt(topic, b'probe', 0))
        for i, c in enumerate(clients):
            if publishes(c, 0.02):
                heard.add(i)
    eq(len(heard), len(clients), 'subscribers reached by probes')
    time.sleep(0.5)
    for c in clients:
        publishes(c, 0.01)
    pubs = [pub] + [Conn(pr['shared']) for _ in range(4)]
    for p in pubs[1:]:
        p.send(connect_pkt(uniq('rppub')))
        p.expect(CONNACK, 'publisher CONNACK')
    for i, p in enumerate(pubs):
        publish(p, topic, b'm%d' % i, 1)
    want = sorted(b'm%d' % i for i in range(len(pubs)))
    for i, c in enumerate(clients):
        got = h.recv_publishes(c, len(pubs), timeout=5)
        eq(sorted(p.payload for p in got), want,
           'messages at subscriber %d' % i)
        eq(publishes(c, 0.05), [], 'duplicates at subscriber %d' % i)
    for p in pubs:
        p.close()


@test('reuseport_client_id_once')
def t_claim():
    pr = pair()
    a, b = pr['nodes']
    cid = uniq('twice')
    c1 = Conn(pr['shared'])
    n1 = landed(pr['nodes'], c1.s.getsockname()[1])
    c1.send(connect_pkt(cid, clean=False))
    c1.expect(CONNACK, 'first CONNACK')
    # Open connections to the shared port until one lands on the other
    # node; the kernel hashes each new source port.
    other, spare = None, []
    for _ in range(40):
        c = Conn(pr['shared'])
        if landed(pr['nodes'], c.s.getsockname()[1]) is not n1:
            other = c
            break
        spare.append(c)
    for c in spare:
        c.close()
    check(other is not None, 'no connection landed on the other node')
    other.send(connect_pkt(cid, clean=False))
    p = other.expect(CONNACK, 'second CONNACK')
    eq(p.body[1], 0, 'second CONNACK code')
    c1.wait_closed(5)       # Fail if the first one stays open
    check(other.is_open(0.5), 'the second connection is open')
    # The old node closes it on the CLAIM ("taken over by a connection on
    # node ...") or, when SESSION_TAKE is handled first, as the session
    # leaves ("session moved to node ..."): either line names the client.
    taken = [n for n in pr['nodes']
             if re.search(r'client %s \(.*\): closed: (taken over|session '
                          r'moved to node)' % re.escape(cid), n.log())]
    check(taken, 'no node logged the takeover of %s:\n%s'
          % (cid, '\n'.join(n.log()[-2000:] for n in pr['nodes'])))
    other.close()


# --------------------------------------------------- shared subscriptions

@test('shared_once_per_cluster')
def t_shared():
    epmd = Epmd()
    a, b, c = Node('sha', epmd), Node('shb', epmd), Node('shc', epmd)
    nodes = [a, b, c]
    wait_mesh(nodes)
    f = uniq('sh/t')
    group = '$share/g/' + f
    members = [a.connect(), a.connect(), b.connect()]
    for m in members:
        subscribe(m, [(group, 1)])
    # Each node holds the other member node's route.
    for at, of in ((a, b), (b, a), (c, a), (c, b)):
        wait_until(lambda: at.peer(of).get('routes', 0) >= 1,
                   LINK_TIMEOUT, '%s to hold the route of %s'
                   % (at.short, of.short), nodes)
    pubs = [a.connect(), b.connect(), c.connect()]

    def run(n, tag, targets):
        for i in range(n):
            publish(pubs[i % len(pubs)] if targets is None else
                    targets[i % len(targets)], f, b'%s%d' % (tag, i), 1)
        got = [[] for _ in members]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for k, m in enumerate(members):
                got[k] += [p.payload for p in publishes(m, 0.05)]
            if sum(len(g) for g in got) >= n:
                break
        time.sleep(1.0)
        for k, m in enumerate(members):
            got[k] += [p.payload for p in publishes(m, 0.05)]
        return got

    got = run(60, b'x', None)
    every = [p for g in got for p in g]
    print('# 60 publishes: %s deliveries per member (a, a, b)'
          % [len(g) for g in got])
    eq(len(every), 60, 'deliveries in the group (each member: %s)'
       % [len(g) for g in got])
    eq(sorted(every), sorted(b'x%d' % i for i in range(60)),
       'each message once')
    check(got[0] or got[1], 'no delivery on %s' % a.short)
    check(got[2], 'no delivery on %s' % b.short)

    # A plain route F added and withdrawn on b must leave b's membership.
    plain = b.connect()
    subscribe(plain, [(f, 1)])
    time.sleep(0.5)
    plain.send(unsubscribe_pkt(plain.pid(), [f]))
    plain.expect(UNSUBACK, 'UNSUBACK')
    plain.close()
    time.sleep(1.0)
    got = run(30, b'y', [c.connect()])
    eq(sum(len(g) for g in got), 30, 'deliveries after F came and went')
    check(got[2], 'b lost its group membership when F was withdrawn '
          '(deliveries %s)' % [len(g) for g in got])

    # b dies: c and a pick among a's members only.
    b.kill9()
    wait_until(lambda: c.peer(b).get('state') != 'up' and
               a.peer(b).get('state') != 'up', 10, 'b seen down', [a, c])
    members = members[:2]
    got = run(20, b'z', [pubs[0], pubs[2]])
    eq(len(got[0]) + len(got[1]), 20, 'deliveries on a after b died '
       '(%s)' % [len(g) for g in got])
    eq(sorted(got[0] + got[1]), sorted(b'z%d' % i for i in range(20)),
       'each message once after b died')
    for n in (a, c):
        n.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--epmd', required=True, help='our epmd binary')

    def setup():
        h.ARGS.epmd = os.path.abspath(h.ARGS.epmd)
        if not os.access(h.ARGS.epmd, os.X_OK):
            return 'epmd binary %s not executable' % h.ARGS.epmd
        if not hasattr(socket, 'SO_REUSEPORT'):
            return 'no SO_REUSEPORT here'
        return None
    return h.main(ap, setup)


if __name__ == '__main__':
    sys.exit(main())
