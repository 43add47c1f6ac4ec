#!/usr/bin/env python3
"""Custody across cluster links (issue 12; broker/cluster/CLUSTER.md,
"Custody"): nothing a publisher was acknowledged is lost between nodes.

Usage:
    cluster_custody.py --broker-cmd PATH --epmd PATH --cairn PATH
                       [--only REGEX] [--keep] [-v] [--deadline S]

Nodes register with one of our epmd daemons on a free loopback port and
find each other through the default topology (as cluster_local.py).
Clients are raw MQTT over loopback sockets (mqtt_harness.py); every
message's payload is its decimal sequence number, counted at the
subscriber.  Every process is killed by pid at the end; every wait and
every traffic loop is bounded in count and time.  Output is TAP.

    B=BUILDDIR; /usr/bin/python3 t/integration/cluster_custody.py \\
        --broker-cmd $B/broker/cairn-broker --epmd $B/epmd/epmd \\
        --cairn $B/cli/cairn [--only NAME] [-v]

Before custody (main at 574a2f1) the burst case lost messages at the
subscriber's node: its 1,000-message queue overflowed after the
publisher's PUBACK ("dropping messages (max_queued_messages)").
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import (Fail, check, eq, test, uniq,  # noqa: E402
                          subscribe, publish_pkt, ack_pkt, PUBLISH, PUBACK)
from cluster_harness import (Node, Epmd, wait_until, wait_mesh,  # noqa: E402
                             wait_routes)


class SlowReceiver(threading.Thread):
    """Reads a QoS 1 subscription on its own thread, acks every PUBLISH,
    and sleeps `nap` seconds every `every` messages: a client that
    reads slower than a publisher can publish.  Records the decimal
    payloads."""

    def __init__(self, conn, nap=0.01, every=10):
        super().__init__(daemon=True)
        self.c = conn
        self.nap = nap
        self.every = every
        self.got = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.error = None

    def run(self):
        n = 0
        try:
            while not self.stop_ev.is_set():
                p = self.c.recv(0.2)
                if p is None or p.type != PUBLISH:
                    continue
                if p.qos == 1:
                    self.c.send(ack_pkt(PUBACK, p.pid))
                try:
                    v = int(p.payload)
                except ValueError:
                    continue
                with self.lock:
                    self.got.append(v)
                n += 1
                if n % self.every == 0:
                    time.sleep(self.nap)
        except Exception as e:  # noqa: B902 - reported by the case
            self.error = '%s: %s' % (type(e).__name__, e)

    def seqs(self):
        with self.lock:
            return list(self.got)

    def finish(self):
        self.stop_ev.set()
        self.join(3)


def publish_burst(pubc, topic, count, window=1000, batch=50,
                  ack_timeout=60.0, budget=300.0):
    """count QoS 1 PUBLISHes of payload 1..count on pubc (connected), as
    fast as a window of `window` unacknowledged allows, written in
    batches of `batch` packets by this thread while another counts the
    PUBACKs (the only packets a publisher gets).  Returns the set of
    seqs PUBACKed.  A PUBACK may take long while the cluster holds
    publishers (that is the point); none for ack_timeout fails, and so
    does a burst longer than budget."""
    import select
    import socket
    s = pubc.s
    s.settimeout(None)
    lock = threading.Condition()
    st = {'out': {}, 'acked': set(), 'err': None, 'last': time.monotonic(),
          'stop': False}

    def reader():
        buf = pubc.buf
        try:
            while True:
                with lock:
                    if st['stop']:
                        return
                r, _, _ = select.select([s], [], [], 0.2)
                if not r:
                    continue
                b = s.recv(65536)
                if not b:
                    raise Fail('publisher: connection closed')
                buf += b
                n = len(buf) // 4 * 4
                with lock:
                    for i in range(0, n, 4):
                        if buf[i] != 0x40 or buf[i + 1] != 2:
                            raise Fail('publisher: not a PUBACK: %r'
                                       % buf[i:i + 4])
                        pid = buf[i + 2] << 8 | buf[i + 3]
                        seq = st['out'].pop(pid, None)
                        if seq is not None:
                            st['acked'].add(seq)
                    st['last'] = time.monotonic()
                    lock.notify_all()
                buf = buf[n:]
        except Exception as e:  # noqa: B902 - reported below
            with lock:
                st['err'] = '%s: %s' % (type(e).__name__, e)
                lock.notify_all()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    deadline = time.monotonic() + budget

    def wait_room(room):
        with lock:
            while len(st['out']) > window - room and st['err'] is None:
                if time.monotonic() - st['last'] > ack_timeout:
                    raise Fail('publisher: no PUBACK within %.0fs (%d '
                               'outstanding, %d acked)'
                               % (ack_timeout, len(st['out']),
                                  len(st['acked'])))
                if time.monotonic() > deadline:
                    raise Fail('publisher: burst over %.0fs' % budget)
                lock.wait(0.5)
            if st['err'] is not None:
                raise Fail(st['err'])
    try:
        seq = 1
        while seq <= count:
            n = min(batch, count - seq + 1)
            wait_room(n)
            pkts = []
            with lock:
                for k in range(seq, seq + n):
                    pid = (k - 1) % 65535 + 1
                    st['out'][pid] = k
                    pkts.append(publish_pkt(topic, b'%d' % k, 1, pid=pid))
                st['last'] = max(st['last'], time.monotonic())
            s.sendall(b''.join(pkts))
            seq += n
        wait_room(window)
        with lock:
            return set(st['acked'])
    finally:
        with lock:
            st['stop'] = True
        th.join(2)


def counted(rx, want, settle, what):
    """Waits (at most settle s) until rx has every seq of want; returns
    (missing, duplicated)."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        if rx.error or want <= set(rx.seqs()):
            break
        time.sleep(0.2)
    time.sleep(0.5)
    got = rx.seqs()
    seen, dups = set(), []
    for n in got:
        if n in seen:
            dups.append(n)
        seen.add(n)
    return sorted(want - seen), dups


@test('burst_20000_qos1_to_a_slow_subscriber_on_another_node_none_lost')
def t_burst():
    """Default limits (max_queued_messages 1000, max_forward_buffer
    10000, forward_credit 1000): 20,000 QoS 1 messages published on c1
    as fast as a window of 200 allows, to a subscriber on c2 that reads
    slower.  Every PUBACKed message arrives; c2 held forwards rather
    than dropping them (custody.held > 0: the case did overflow the
    queue), and nothing was dropped on either node."""
    ep = Epmd()
    nodes = []
    try:
        c1 = Node('k1', ep)
        c2 = Node('k2', ep)
        nodes = [c1, c2]
        wait_mesh(nodes)
        u = uniq('burst')
        topic = '%s/t' % u
        sc, _ = c2.connect(client_id=uniq('slow'))
        subscribe(sc, [(topic, 1)])
        wait_routes(c1, c2, 1, nodes=nodes)
        rx = SlowReceiver(sc)
        rx.start()
        pc, _ = c1.connect(client_id=uniq('pub'))
        t0 = time.monotonic()
        try:
            acked = publish_burst(pc, topic, 20000)
            took = time.monotonic() - t0
            missing, dups = counted(rx, acked, 120.0, 'burst')
        finally:
            rx.finish()
        s1, s2 = c1.status(), c2.status()
        if h.ARGS.verbose:
            print('# published and acked %d in %.1fs; received %d; c1 '
                  'custody %r; c2 custody %r' % (len(acked), took,
                                                 len(rx.seqs()),
                                                 s1.get('custody'),
                                                 s2.get('custody')))
        check(rx.error is None, 'subscriber: %s' % rx.error)
        eq(len(acked), 20000, 'messages PUBACKed to the publisher')
        check(not missing, '%d PUBACKed messages lost: %s'
              % (len(missing), ch.ranges(missing)))
        # QoS 1 allows duplicates, but no link flapped here.
        check(not dups, '%d duplicated: %s' % (len(dups),
                                               ch.ranges(set(dups))))
        check(s2['custody']['held'] > 0, 'c2 never held a forward: the '
              'subscriber was not slow enough to fill its queue (custody '
              '%r)' % s2['custody'])
        for n, s in ((c1, s1), (c2, s2)):
            eq(s['custody']['dropped'], {'spool_full': 0, 'buffer_full': 0,
                                         'forgotten': 0, 'nomem': 0,
        'expired': 0},
               '%s: forwards dropped' % n.short)
            check('dropping messages' not in n.log(), '%s dropped '
                  'messages:\n%s' % (n.short, n.tail()))
    finally:
        for n in nodes:
            n.stop()
        ep.kill9()


def paho_connect(node, cid, clean, timeout=10.0):
    """A paho client (Debian's python3-paho-mqtt, MQTT 3.1.1) connected
    to node as cid; returns (client, session present flag).  The caller
    stops it with paho_stop()."""
    import paho.mqtt.client as mqtt
    got = {}
    ev = threading.Event()
    cl = mqtt.Client(client_id=cid, clean_session=clean,
                     protocol=mqtt.MQTTv311)

    def on_connect(client, userdata, flags, rc):
        got['rc'] = rc
        got['sp'] = flags.get('session present')
        ev.set()
    cl.on_connect = on_connect
    cl.connect('127.0.0.1', node.mport, keepalive=30)
    cl.loop_start()
    if not ev.wait(timeout):
        paho_stop(cl)
        raise Fail('paho %s: no CONNACK from %s within %.0fs'
                   % (cid, node.short, timeout))
    eq(got['rc'], 0, 'paho %s: CONNACK return code' % cid)
    return cl, got['sp']


def paho_stop(cl):
    try:
        cl.disconnect()
    finally:
        cl.loop_stop()


@test('connack_session_present_1_after_a_session_moved_paho')
def t_session_present():
    """MQTT-3.2.2-2: a paho client (clean_session False) with a session
    on k1 connects to k2: the session moves, and k2's CONNACK, sent once
    k1 answered, says session present 1.  A client id with no session
    anywhere gets 0, and so does the same id with clean_session True."""
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        raise h.Skip('python3-paho-mqtt missing')
    ep = Epmd()
    nodes = []
    try:
        c1 = Node('p1', ep)
        c2 = Node('p2', ep)
        nodes = [c1, c2]
        wait_mesh(nodes)
        cid = uniq('sp')
        cl, sp = paho_connect(c1, cid, clean=False)
        eq(sp, 0, 'first CONNECT of %s on p1: session present' % cid)
        r, _ = cl.subscribe('%s/t' % cid, qos=1)
        eq(r, 0, 'paho subscribe')
        wait_until(lambda: (c2.peer(c1.node) or {}).get('routes', 0) >= 1,
                   ch.ROUTE_TIMEOUT, 'the route on p2', nodes)
        paho_stop(cl)
        cl, sp = paho_connect(c2, cid, clean=False)
        paho_stop(cl)
        eq(sp, 1, 'CONNECT of %s on p2, its session on p1: session present'
           % cid)
        check('session taken from node %s' % c1.node in c2.log(),
              'p2 did not log the session taken from p1:\n%s' % c2.tail())
        cl, sp = paho_connect(c2, uniq('fresh'), clean=False)
        paho_stop(cl)
        eq(sp, 0, 'a fresh persistent client id: session present')
        cl, sp = paho_connect(c1, cid, clean=True)
        paho_stop(cl)
        eq(sp, 0, 'clean_session True: session present')
    finally:
        for n in nodes:
            n.stop()
        ep.kill9()


def listed(node, peer):
    return node.peer(peer.node) is not None


def stays(pred, secs, what, nodes):
    """pred() holds for secs (sampled every 0.1s), else Fail: the
    behaviour it replaces broke within 0.1-0.5s."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if not pred():
            raise Fail('%s: broke after %.1fs\n%s'
                       % (what, secs - (deadline - time.monotonic()),
                          ch.dumps(nodes)))
        time.sleep(0.1)


@test('remove_and_leave_stick_while_epmd_lists_the_node_until_join')
def t_stick():
    """`cluster remove m2` on m1 and `cluster leave` on m3 stick for 4s
    while epmd still lists every node (before: the link was back in
    100-500 ms), until `cluster join`; a removed node that restarts (a
    new incarnation) links again by itself."""
    ep = Epmd()
    nodes = []
    try:
        m1, m2, m3 = Node('m1', ep), Node('m2', ep), Node('m3', ep)
        nodes = [m1, m2, m3]
        wait_mesh(nodes)
        out = m1.remove(m2.node)
        check('"ok":true' in out, 'remove: %r' % out)
        check('m2' in ep.names(), 'epmd no longer lists m2: %r'
              % ep.names())
        stays(lambda: not listed(m1, m2), 4.0, 'm2 stays out of m1', nodes)
        out = m1.join(m2.node)
        wait_until(lambda: (m1.peer(m2.node) or {}).get('state') == 'up',
                   ch.LINK_TIMEOUT, 'm1 links m2 after `cluster join`',
                   nodes)
        # Removed again, then restarted: a new incarnation links.
        out = m1.remove(m2.node)
        check('"ok":true' in out, 'remove again: %r' % out)
        stays(lambda: not listed(m1, m2), 1.0, 'm2 out of m1 again', nodes)
        m2.kill9()
        m2.start()
        wait_until(lambda: (m1.peer(m2.node) or {}).get('state') == 'up',
                   ch.LINK_TIMEOUT, 'm1 links m2 once m2 restarted',
                   nodes)
        wait_mesh(nodes)
        # Leave: m3 links with nobody, though epmd lists all of them.
        out = m3.control('cluster leave')
        check('"ok":true' in out, 'leave: %r' % out)
        stays(lambda: not m3.status().get('peers') and
              (m1.peer(m3.node) or {}).get('state') != 'up', 4.0,
              'm3 stays out after its leave', nodes)
        eq(m3.status().get('peers'), [], 'm3 peers after its leave')
        out = m3.join(m1.node)
        wait_mesh(nodes)
    finally:
        for n in nodes:
            n.stop()
        ep.kill9()


@test('killed_peer_forgotten_after_forget_after_and_no_longer_dialled')
def t_forget():
    """forget_after 3s on f1: f2 killed with -9 (so epmd no longer lists
    it) is listed "down" first, then no more (within dead_after +
    forget_after + the agent's last connect attempt), and is no longer
    dialled: a listener on its old cluster port sees no connection for
    3s after that."""
    import socket
    ep = Epmd()
    nodes = []
    lst = None
    try:
        f1 = Node('f1', ep, extra=['forget_after: 3s'])
        f2 = Node('f2', ep)
        nodes = [f1, f2]
        wait_mesh(nodes)
        f2.kill9()
        wait_until(lambda: (f1.peer(f2.node) or {}).get('state') not in
                   ('up', None), ch.DEAD_S + 3, 'f1 sees f2 down', nodes)
        t0 = time.monotonic()
        # dead_after, forget_after, the sweep (a quarter of it), and the
        # agent's connect attempt still running when epmd dropped f2
        # (it asks for the link until its own timeout): generous, as a
        # sanitizer build is slow.
        wait_until(lambda: not listed(f1, f2), ch.DEAD_S + 3 + 30,
                   'f2 forgotten by f1', nodes)
        took = time.monotonic() - t0
        check('node %s forgotten' % f2.node in f1.log(),
              'no "forgotten" line:\n%s' % f1.tail())
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(('127.0.0.1', f2.cport))
        lst.listen(8)
        lst.settimeout(3.0)
        try:
            conn, addr = lst.accept()
            conn.close()
            raise Fail('f1 dialled the forgotten f2 from %r' % (addr,))
        except socket.timeout:
            pass
        if h.ARGS.verbose:
            print('# f2 forgotten %.1fs after f1 saw it down' % took)
    finally:
        if lst is not None:
            lst.close()
        for n in nodes:
            n.stop()
        ep.kill9()


if __name__ == '__main__':
    sys.exit(ch.main(argparse.ArgumentParser(
        description=__doc__.split('\n')[0])))
