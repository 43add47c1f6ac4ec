#!/usr/bin/env python3
"""Sessions that outlive their node: session replicas (issue 12).

Usage:
    cluster_replica.py --broker-cmd PATH --epmd PATH --cairn PATH
                       [--only REGEX] [--keep] [-v] [--deadline S]

Three nodes A, B, C (one epmd, a full mesh).  The subscriber is Debian's
paho-mqtt (clean_session False, one QoS 1 and one QoS 2 subscription,
the same Client object across reconnects, so that its QoS 2 state
carries over as a real client's would); publishers are raw MQTT.  The
replica holder of the subscriber's session is found with `cluster
status` ("replicas": "held" on exactly one of the other two nodes).

  * offline_session_resumes_on_its_holder: the subscriber subscribes on
    A and leaves; N QoS 1 and N QoS 2 messages are published on the
    node that is not the holder, each acknowledged (PUBACK / PUBCOMP);
    once the holder holds all 2N in the replica, A is killed with -9.
    The subscriber reconnects to the holder: CONNACK session present 1,
    every message of both streams, QoS 2 exactly once, and both
    subscriptions still deliver what is published after.
  * offline_session_resumes_on_another_node: the same, reconnecting to
    the node that is not the holder (SESSION_TAKE answered from the
    promoted replica): every message, QoS 2 exactly once.
  * holder_killed_replica_moves: the holder is killed with -9: A puts
    the replica on the remaining node (the next on the ring), whole;
    then A is killed too and the subscriber resumes there with every
    message.
  * local_puback_waits_for_the_replica: the subscriber's session is on
    A with its replica on the holder, and the publisher is on A too.
    With the holder stopped (SIGSTOP), A's PUBACK for a QoS 1 message
    to the session does not come (0.8 s watched) while a PUBACK for a
    topic no persistent session takes comes at once to another
    publisher; SIGCONT, and the
    PUBACK comes.  Stopped again, a QoS 2 PUBREC waits until A declares
    the holder dead (its marks let go: replicas.acks_released), then
    comes without SIGCONT.  Every message reaches the subscriber.
    Before the gate, the PUBACK came at once with the holder stopped.
  * stream_kill_owner_midstream: the subscriber is connected to A while
    a publisher on the node that is not the holder sends a QoS 1 and a
    QoS 2 stream (M each, acknowledged one by one); A is killed with -9
    halfway; the subscriber reconnects to the holder: session present
    1, no QoS 2 message twice, and the messages published after the
    resume all arrive.  The ones acknowledged to the publisher while A
    died and not received are counted and printed, not asserted: that
    window (CLUSTER.md, "Session replicas") depends on timing.
  * hung_owner_spool_is_counted: the window CLUSTER.md names, shown
    and counted rather than closed.  A is stopped (SIGSTOP: no reset,
    as a hung or powered-off machine) while the node that is not the
    holder publishes 40 QoS 1 and 40 QoS 2 messages: that node
    acknowledges them (they wait in its buffer for A).  Once the holder
    has promoted A's session and its routes reached the publisher's
    node, 40 + 40 more; then A is killed and `cluster remove`d on the
    publisher's node.  The subscriber resumes on the holder: everything
    published after the promotion arrives exactly once; of what was
    published while A hung, what is missing is no more than the
    forwards counted in custody.dropped.forgotten on the publisher's
    node (the spool of A it dropped), and is printed.
  * mqtt5_state_survives_promotion: two MQTT 5.0 sessions on A, X
    (session expiry 3600 s, a subscription with identifier 9) and Y
    (session expiry 4 s); a message queued for X; A is killed with -9
    2.5 s after Y left.  X resumes on B: session present 1, the message
    carries identifier 9.  Y is not resumed: 5.5 s after it left (3 s
    after A died) its session is gone: its 4 s count from when it left
    A (the replica says how long the client has been offline), not
    from the promotion, and not persistent_client_expiration.  Before
    the replicas carried the interval both were lost (no identifier,
    Y kept); before they carried the offline time, Y was kept 4 s
    past the promotion.

Every process is killed by pid; every wait and loop is bounded; loopback
only; output is TAP (mqtt_harness.py's runner).
"""

import argparse
import os
import signal
import sys
import threading
import time

import cluster_harness as ch
import mqtt_harness as h
from cluster_harness import Epmd, Node, wait_mesh, wait_until
from mqtt_harness import Fail, Skip, check, eq, uniq, publish

N = 300             # messages of each QoS, offline cases
M = 1000            # messages of each QoS, the mid-stream case
RESUME_TIMEOUT = 20.0


def paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise Skip('no paho-mqtt (python3-paho-mqtt)')
    return mqtt


class Sub:
    """A paho subscriber, clean_session False, counting what it gets
    per topic (payload: decimal seq)."""

    def __init__(self, cid):
        mqtt = paho()
        self.mqtt = mqtt
        self.cid = cid
        self.c = mqtt.Client(client_id=cid, clean_session=False,
                             protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(20)
        self.lock = threading.Lock()
        self.got = {}
        self.flags = None
        self.rc = None
        self.connected = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.port = None

    def _on_connect(self, c, u, flags, rc):
        self.flags = dict(flags)
        self.rc = rc
        self.connected.set()

    def _on_message(self, c, u, m):
        with self.lock:
            self.got.setdefault(m.topic, []).append(int(m.payload))

    def connect(self, node):
        self.connected.clear()
        self.port = node.mport
        self.c.connect('127.0.0.1', node.mport, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise Fail('paho: no CONNACK from %s' % node.short)
        eq(self.rc, 0, 'CONNACK return code on %s' % node.short)
        return self.flags.get('session present')

    def subscribe(self, topics):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topics)
        if not done.wait(10):
            raise Fail('paho: no SUBACK')

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()

    def drop(self):
        """The connection is gone (its node was killed): stop the loop."""
        self.c.loop_stop()
        try:
            self.c.socket().close()
        except Exception:
            pass

    def seqs(self, topic):
        with self.lock:
            return list(self.got.get(topic, []))

    def wait_all(self, topic, n, timeout):
        want = set(range(1, n + 1))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if want <= set(self.seqs(topic)):
                break
            time.sleep(0.1)
        time.sleep(0.5)     # late duplicates
        return self.seqs(topic)


def repl(node):
    return node.status().get('replicas') or {}


def find_holder(cands, nmsgs=None, timeout=10.0):
    """The one node among cands that holds the replica (with nmsgs
    messages when given)."""
    def one():
        held = [n for n in cands if repl(n).get('held', 0) == 1 and
                (nmsgs is None or repl(n).get('held_messages') == nmsgs)]
        return held[0] if len(held) == 1 else None
    return wait_until(one, timeout, 'one replica holder among %s%s'
                      % ([n.short for n in cands],
                         '' if nmsgs is None else ' with %d messages'
                         % nmsgs), cands)


def mesh3(tag, extra=()):
    # Room for both streams in one offline queue (the default 1000
    # would drop the newest: not what is tested here).
    extra = ['max_queued_messages: 10000'] + list(extra)
    e = Epmd()
    a = Node(tag + 'a', e, extra=list(extra))
    b = Node(tag + 'b', e, peers=[a.addr], extra=list(extra))
    c = Node(tag + 'c', e, peers=[a.addr, b.addr], extra=list(extra))
    wait_mesh([a, b, c])
    return e, [a, b, c]


def publish_both(node, n, first=1):
    """n QoS 1 on r/q1 and n QoS 2 on r/q2, each fully acknowledged."""
    c, _ = node.connect()
    for i in range(first, first + n):
        publish(c, 'r/q1', b'%d' % i, qos=1)
        publish(c, 'r/q2', b'%d' % i, qos=2)
    c.close()


def verdict(sub, n, what):
    q1 = sub.wait_all('r/q1', n, RESUME_TIMEOUT)
    q2 = sub.wait_all('r/q2', n, 2.0)
    want = set(range(1, n + 1))
    miss1 = sorted(want - set(q1))
    miss2 = sorted(want - set(q2))
    dup2 = len(q2) - len(set(q2))
    print('# %s: QoS 1 %d received (%d distinct), QoS 2 %d received '
          '(%d distinct)' % (what, len(q1), len(set(q1)), len(q2),
                              len(set(q2))), flush=True)
    check(not miss1, '%s: QoS 1 lost %d: %s' % (what, len(miss1),
                                               ch.ranges(miss1)))
    check(not miss2, '%s: QoS 2 lost %d: %s' % (what, len(miss2),
                                               ch.ranges(miss2)))
    eq(dup2, 0, '%s: QoS 2 duplicates' % what)


def offline_setup(tag):
    e, nodes = mesh3(tag)
    a, b, c = nodes
    sub = Sub(uniq('rs'))
    sp = sub.connect(a)
    eq(sp, 0, 'first CONNACK session present')
    sub.subscribe([('r/q1', 1), ('r/q2', 2)])
    sub.disconnect()
    wait_until(lambda: repl(a).get('owned') == 1 and
               repl(a).get('unplaced') == 0, 10, 'A owns one placed replica',
               nodes)
    holder = find_holder([b, c])
    other = c if holder is b else b
    # Routes of A on the publisher's node before publishing.
    ch.wait_routes(other, a, 2, nodes=nodes)
    publish_both(other, N)
    find_holder([holder], nmsgs=2 * N, timeout=20)
    return e, nodes, sub, holder, other


@h.test('offline_session_resumes_on_its_holder')
def t_offline_holder():
    e, (a, b, c), sub, holder, other = offline_setup('ro')
    try:
        a.kill9()
        wait_until(lambda: repl(holder).get('promoted') == 1, 10,
                   'holder %s promotes the replica' % holder.short,
                   [holder, other])
        sp = sub.connect(holder)
        eq(sp, 1, 'CONNACK session present on the holder')
        verdict(sub, N, 'resumed on the holder')
        # The subscriptions go on: published after, on the other node.
        publish_both(other, 20, first=N + 1)
        verdict(sub, N + 20, 'after the resume')
        sub.disconnect()
    finally:
        for n in (a, b, c):
            n.stop()


@h.test('offline_session_resumes_on_another_node')
def t_offline_other():
    e, (a, b, c), sub, holder, other = offline_setup('rn')
    try:
        a.kill9()
        wait_until(lambda: repl(holder).get('promoted') == 1, 10,
                   'holder %s promotes the replica' % holder.short,
                   [holder, other])
        sp = sub.connect(other)
        print('# CONNACK session present %s on the node that is not the '
              'holder (the session arrives after it)' % sp, flush=True)
        verdict(sub, N, 'resumed on the other node')
        publish_both(holder, 20, first=N + 1)
        verdict(sub, N + 20, 'after the resume')
        sub.disconnect()
    finally:
        for n in (a, b, c):
            n.stop()


@h.test('holder_killed_replica_moves')
def t_holder_killed():
    e, (a, b, c), sub, holder, other = offline_setup('rh')
    try:
        holder.kill9()
        # A places the replica on the remaining node, whole.
        find_holder([other], nmsgs=2 * N, timeout=20)
        eq(repl(a).get('unplaced'), 0, 'A: replicas not placed')
        a.kill9()
        wait_until(lambda: repl(other).get('promoted') == 1, 10,
                   '%s promotes the replica' % other.short, [other])
        sp = sub.connect(other)
        eq(sp, 1, 'CONNACK session present on the new holder')
        verdict(sub, N, 'resumed on the new holder')
        sub.disconnect()
    finally:
        for n in (a, b, c):
            n.stop()


@h.test('forward_ack_waits_for_the_holders_repl_ack')
def t_repl_ack():
    """The owner A of an online persistent session acks a forward only
    once the replica holder acknowledged the delivery (REPL_ACK): with
    the holder stopped (SIGSTOP), A's acks of what the other node
    forwards wait; when A declares the holder dead they are released
    and counted (replicas.acks_released), and every message arrives.
    Before REPL_ACK nothing was ever waited for (no such count)."""
    e, nodes = mesh3('ra')
    a, b, c = nodes
    sub = Sub(uniq('ra'))
    stopped = None
    try:
        eq(sub.connect(a), 0, 'first CONNACK session present')
        sub.subscribe([('r/q1', 1)])
        holder = find_holder([b, c])
        other = c if holder is b else b
        ch.wait_routes(other, a, 1, nodes=nodes)
        eq(repl(a).get('acks_released'), 0, 'A: acks released before')
        os.kill(holder.pid, signal.SIGSTOP)
        stopped = holder
        pc, _ = other.connect()
        for i in range(1, 21):
            publish(pc, 'r/q1', b'%d' % i, qos=1)
        pc.close()
        wait_until(lambda: (a.peer(holder.node) or {}).get('state') !=
                   'up', 10, 'A sees the stopped holder %s down'
                   % holder.short, [a, other])
        rel = repl(a).get('acks_released', 0)
        print('# A released %d replica marks when %s went down'
              % (rel, holder.short), flush=True)
        check(rel > 0, 'A waited for no REPL_ACK of the stopped holder')
        os.kill(holder.pid, signal.SIGCONT)
        stopped = None
        q1 = sub.wait_all('r/q1', 20, RESUME_TIMEOUT)
        check(set(range(1, 21)) <= set(q1), 'QoS 1 missing %s'
              % ch.ranges(sorted(set(range(1, 21)) - set(q1))))
        wait_until(lambda: (other.peer(a.node) or {}).get(
            'forward_pending', -1) == 0, 10, 'every forward to A acked',
            [a, other])
        sub.disconnect()
    finally:
        if stopped is not None:
            os.kill(stopped.pid, signal.SIGCONT)
        for n in (a, b, c):
            n.stop()


@h.test('local_puback_waits_for_the_replica')
def t_local_gate():
    e, nodes = mesh3('rg')
    a, b, c = nodes
    sub = Sub(uniq('rg'))
    stopped = None
    try:
        eq(sub.connect(a), 0, 'first CONNACK session present')
        sub.subscribe([('r/q1', 1), ('r/q2', 2)])
        holder = find_holder([b, c])
        pc, _ = a.connect()
        publish(pc, 'r/q1', b'1', qos=1)        # all up: at once
        rel0 = repl(a).get('acks_released', 0)
        p2, _ = a.connect()
        os.kill(holder.pid, signal.SIGSTOP)
        stopped = holder
        t0 = time.monotonic()
        pid = pc.pid()
        pc.send(h.publish_pkt('r/q1', b'2', 1, pid=pid))
        # Well within dead_after (1.5 s): the link stays up meanwhile.
        early = pc.recv(0.5)
        check(early is None, 'A acked %r with the holder %s stopped'
              % (early, holder.short))
        # A message no persistent session takes makes no replica frame:
        # another publisher's PUBACK for it comes at once (one client's
        # acks go in order, so not on pc).
        publish(p2, 'r/none', b'x', qos=1)
        os.kill(holder.pid, signal.SIGCONT)
        stopped = None
        if h.ARGS.verbose:
            print('# holder stopped %.2fs' % (time.monotonic() - t0),
                  flush=True)
        ack = pc.expect(h.PUBACK, 'PUBACK once the holder is back',
                        timeout=5.0, keep_publish=True)
        eq(ack.pid, pid, 'PUBACK id')
        eq(repl(a).get('acks_released', 0), rel0,
           'marks released: the PUBACK came from a release, not an ack')
        # QoS 2, holder stopped until A declares it dead.
        holder = find_holder([b, c])
        wait_until(lambda: (a.peer(holder.node) or {}).get('state') ==
                   'up', 10, 'A links the holder', nodes)
        os.kill(holder.pid, signal.SIGSTOP)
        stopped = holder
        rel0 = repl(a).get('acks_released', 0)
        if h.ARGS.verbose:
            print('# before QoS 2: A sees %s %r; replicas %r' % (
                holder.short, (a.peer(holder.node) or {}).get('state'),
                repl(a)), flush=True)
        pid = pc.pid()
        pc.send(h.publish_pkt('r/q2', b'1', 2, pid=pid))
        early = pc.recv(0.8)
        check(early is None, 'A sent %r for QoS 2 with the holder %s '
              'stopped' % (early, holder.short))
        rec = pc.expect(h.PUBREC, 'PUBREC once A lets the holder go',
                        timeout=10.0, keep_publish=True)
        eq(rec.pid, pid, 'PUBREC id')
        check((a.peer(holder.node) or {}).get('state') != 'up',
              'the PUBREC came while A still had the holder up')
        check(repl(a).get('acks_released', 0) > rel0,
              'A released no mark of the stopped holder')
        pc.send(h.ack_pkt(h.PUBREL, pid))
        pc.expect(h.PUBCOMP, 'PUBCOMP', keep_publish=True)
        os.kill(holder.pid, signal.SIGCONT)
        stopped = None
        check({1, 2} <= set(sub.wait_all('r/q1', 2, RESUME_TIMEOUT)),
              'QoS 1 messages missing: %r' % sub.seqs('r/q1'))
        eq(sub.wait_all('r/q2', 1, RESUME_TIMEOUT), [1], 'QoS 2 messages')
        pc.close()
        sub.disconnect()
    finally:
        if stopped is not None:
            os.kill(stopped.pid, signal.SIGCONT)
        for n in (a, b, c):
            n.stop()


@h.test('stream_kill_owner_midstream')
def t_midstream():
    e, nodes = mesh3('rm')
    a, b, c = nodes
    sub = Sub(uniq('rm'))
    try:
        eq(sub.connect(a), 0, 'first CONNACK session present')
        sub.subscribe([('r/q1', 1), ('r/q2', 2)])
        holder = find_holder([b, c])
        other = c if holder is b else b
        ch.wait_routes(other, a, 2, nodes=nodes)
        pc, _ = other.connect()
        acked = {'r/q1': set(), 'r/q2': set()}
        killed_at = None
        for i in range(1, M + 1):
            if i == M // 2:
                a.kill9()
                killed_at = i
            for t, q in (('r/q1', 1), ('r/q2', 2)):
                publish(pc, t, b'%d' % i, qos=q)
                acked[t].add(i)
        pc.close()
        sub.drop()
        wait_until(lambda: repl(holder).get('promoted') == 1, 10,
                   'holder %s promotes the replica' % holder.short,
                   [holder, other])
        sp = sub.connect(holder)
        eq(sp, 1, 'CONNACK session present on the holder')
        q1 = sub.wait_all('r/q1', M, RESUME_TIMEOUT)
        q2 = sub.wait_all('r/q2', M, 2.0)
        lost1 = sorted(acked['r/q1'] - set(q1))
        lost2 = sorted(acked['r/q2'] - set(q2))
        print('# A killed before seq %d; acknowledged %d + %d; lost QoS 1 '
              '%d (%s), QoS 2 %d (%s); QoS 1 duplicates %d'
              % (killed_at, len(acked['r/q1']), len(acked['r/q2']),
                 len(lost1), ch.ranges(lost1), len(lost2),
                 ch.ranges(lost2), len(q1) - len(set(q1))), flush=True)
        eq(len(q2) - len(set(q2)), 0, 'QoS 2 duplicates')
        # After the resume, nothing is lost.
        before1, before2 = len(set(q1)), len(set(q2))
        publish_both(other, 50, first=M + 1)
        q1 = sub.wait_all('r/q1', M + 50, 5.0)
        q2 = sub.wait_all('r/q2', M + 50, 2.0)
        after = set(range(M + 1, M + 51))
        check(after <= set(q1) and after <= set(q2),
              'published after the resume: QoS 1 missing %s, QoS 2 '
              'missing %s' % (ch.ranges(after - set(q1)),
                              ch.ranges(after - set(q2))))
        check(len(set(q1)) >= before1 and len(set(q2)) >= before2, 'counts')
        eq(len(q2) - len(set(q2)), 0, 'QoS 2 duplicates after the resume')
        sub.disconnect()
    finally:
        for n in (a, b, c):
            n.stop()


@h.test('hung_owner_spool_is_counted')
def t_hung_owner():
    e, nodes = mesh3('rw')
    a, b, c = nodes
    sub = Sub(uniq('rw'))
    stopped = None
    K = 40
    try:
        eq(sub.connect(a), 0, 'first CONNACK session present')
        sub.subscribe([('r/q1', 1), ('r/q2', 2)])
        sub.disconnect()
        wait_until(lambda: repl(a).get('owned') == 1 and
                   repl(a).get('unplaced') == 0, 10, 'A owns one placed '
                   'replica', nodes)
        holder = find_holder([b, c])
        other = c if holder is b else b
        ch.wait_routes(other, a, 2, nodes=nodes)
        drop0 = other.status()['custody']['dropped']['forgotten']
        os.kill(a.pid, signal.SIGSTOP)
        stopped = a
        publish_both(other, K)              # acked by `other`, for A
        wait_until(lambda: repl(holder).get('promoted') == 1, 15,
                   'holder %s promotes the replica' % holder.short,
                   [holder, other])
        ch.wait_routes(other, holder, 2, nodes=[holder, other])
        publish_both(other, K, first=K + 1)
        a.kill9()
        stopped = None
        other.remove(a.node)
        dropped = other.status()['custody']['dropped']['forgotten'] - drop0
        eq(sub.connect(holder), 1, 'CONNACK session present on the holder')
        q1 = sub.wait_all('r/q1', 2 * K, 5.0)
        q2 = sub.wait_all('r/q2', 2 * K, 1.0)
        after = set(range(K + 1, 2 * K + 1))
        check(after <= set(q1) and after <= set(q2),
              'published after the promotion: QoS 1 missing %s, QoS 2 '
              'missing %s' % (ch.ranges(sorted(after - set(q1))),
                              ch.ranges(sorted(after - set(q2)))))
        eq(len(q2) - len(set(q2)), 0, 'QoS 2 duplicates')
        hung = set(range(1, K + 1))
        lost = len(hung - set(q1)) + len(hung - set(q2))
        print('# published while A hung: %d of %d lost (in the spool of A '
              'on %s, dropped at the remove: custody.dropped.forgotten '
              '+%d)' % (lost, 2 * K, other.short, dropped), flush=True)
        check(lost <= dropped, 'lost %d, more than the %d forwards '
              'counted as dropped' % (lost, dropped))
        sub.disconnect()
    finally:
        if stopped is not None:
            os.kill(stopped.pid, signal.SIGCONT)
        for n in (a, b, c):
            n.stop()


@h.test('mqtt5_state_survives_promotion')
def t_mqtt5_state():
    import broker_mqtt5_wire as w
    e, nodes = mesh3('r5')
    a, b, c = nodes
    try:
        x, y = uniq('r5x'), uniq('r5y')
        cx, _ = w.connect(h.Conn(a.mport), x, 0, clean=False,
                          props=[(w.SESSION_EXPIRY, 3600)])
        cx.subscribe([('r5/t', 1)], sub_id=9)
        cx.disconnect()
        cy, _ = w.connect(h.Conn(a.mport), y, 0, clean=False,
                          props=[(w.SESSION_EXPIRY, 4)])
        cy.subscribe([('r5/y', 1)])
        cy.disconnect()
        ty = time.monotonic()       # Y's 4 s count from here
        wait_until(lambda: repl(a).get('owned') == 2 and
                   repl(a).get('unplaced') == 0, 10,
                   'A owns two placed replicas', nodes)
        ch.wait_routes(b, a, 2, nodes=nodes)
        p, _ = b.connect()
        publish(p, 'r5/t', b'queued', qos=1)
        p.close()
        wait_until(lambda: repl(b).get('held_messages', 0) +
                   repl(c).get('held_messages', 0) == 1, 10,
                   'the message in X\'s replica', nodes)
        # A dies 2.5 s after Y left: Y has 1.5 s left, not 4.
        time.sleep(max(0.0, 2.5 - (time.monotonic() - ty)))
        a.kill9()
        t0 = time.monotonic()
        wait_until(lambda: repl(b).get('promoted', 0) +
                   repl(c).get('promoted', 0) == 2, 10,
                   'both sessions promoted', [b, c])
        cx, ca = w.connect(h.Conn(b.mport), x, 0, clean=False,
                           props=[(w.SESSION_EXPIRY, 3600)])
        eq(ca.sp, 1, 'X: session present after its node died')
        m = cx.recv(1)[0]
        eq((m.topic, m.payload), ('r5/t', b'queued'), 'X: the message')
        eq(m.sub_ids(), [9], 'X: its subscription identifier')
        cx.disconnect()
        # 5.5 s after Y left (its interval and the 1 s sweep passed),
        # less than 4 s after A died: counted from the promotion, the
        # session would still be there.
        late = time.monotonic() - t0
        check(late < 2.9, 'promotion and X took %.1fs: too late to '
              'tell the two clocks apart' % late)
        time.sleep(max(0.0, 5.5 - (time.monotonic() - ty)))
        cy, ca = w.connect(h.Conn(b.mport), y, 0, clean=False,
                           props=[(w.SESSION_EXPIRY, 4)])
        eq(ca.sp, 0, 'Y: session present 5.5 s after it left, 3 s after '
           'A died (its session expiry interval is 4 s, counted from '
           'when it left A)')
        cy.disconnect()
    finally:
        for n in nodes:
            n.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    return ch.main(ap)


if __name__ == '__main__':
    sys.exit(main())
