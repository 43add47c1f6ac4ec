#!/usr/bin/env python3
"""MQTT 5.0 across a three-node cairn-broker cluster (issue 13).

Usage:
    cluster_mqtt5.py --broker-cmd PATH --epmd PATH --cairn PATH
                     [--only REGEX] [--keep] [-v] [--deadline S]

Three nodes c1, c2, c3 on one host, self-clustered through one of our
epmd daemons (cluster_harness.py, as cluster_local.py), and 5.0 clients
on raw loopback sockets (broker_mqtt5_wire.py).  What the cluster link
must carry for 5.0 (broker/cluster/CLUSTER.md): the message properties
unchanged, the publisher's client id (no local), the message expiry
kept in step, the subscription identifiers of each node's own
subscribers, and a moved session's 5.0 state (subscription options and
identifiers, session expiry, queued messages with their expiry).

Cases:
  * request_response_across_nodes: a requester on c1, a responder on
    c2: Response Topic, Correlation Data, Content Type and User
    Properties arrive unchanged both ways; a 3.1.1 subscriber on c3 gets
    the request without properties.
  * subscription_identifiers_per_node: the same filter on every node
    with a different identifier each; one publish, each subscriber sees
    its own identifier only.
  * no_local_across_nodes: a session with a No Local subscription moves
    from c2 to c1; its own publishes on c1 never come back to it (from
    any node), other clients' do, and its own reach the other nodes.
  * message_expiry_while_queued_on_another_node: QoS 1 messages with
    an expiry queue on c2 for an offline session, published on c1; the
    session then resumes on c3: what expired meanwhile is gone, the rest
    comes with the time left.
  * expired_forward_not_resent_from_a_spool: two nodes of their own; d2
    is stopped (SIGSTOP) until d1 counts it away, and d1's publisher
    sends two QoS 1 messages to d2's subscriber, one with an expiry of
    1 s; resumed after 2.5 s, d2 gets only the other, and d1 counts
    the expired one in custody.dropped.expired instead of sending it.
  * puback_0x10_only_when_no_node_matches: a publisher on c1 gets
    PUBACK 0x10 for a topic no node subscribes to, and 0 once the only
    subscriber is on c2 (its route reached c1), which receives it.
  * takeover_of_a_5_session_across_nodes: the old connection on c1 gets
    DISCONNECT 0x8E, the taker on c2 session present 1 with the
    subscription (its identifier) and the queued messages; the session
    expiry is kept after the taker leaves (resumed on c3), and a
    DISCONNECT with expiry 0 ends it everywhere.

Every process is killed by pid at the end; every wait is bounded.
Output is TAP.  The cases' logic was checked by running them against one
Debian mosquitto standing in for all three nodes (every case but the
takeover's DISCONNECT 0x8E, which mosquitto 2.0.11 does not send).

Status at 65644d6 and after (custody's session present 1 after a move
on main): all five cases pass.  At 979f948 the three session moves
failed on session present 0 alone.  By hand, from the top of the tree:

    B=BUILDDIR; /usr/bin/python3 t/integration/cluster_mqtt5.py \\
        --broker-cmd $B/broker/cairn-broker --epmd $B/epmd/epmd \\
        --cairn $B/cli/cairn [--only NAME] [-v]
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import Fail, check, eq, test, uniq  # noqa: E402
from cluster_harness import Node, Epmd, wait_mesh, dumps  # noqa: E402
import broker_mqtt5_wire as w  # noqa: E402
from broker_mqtt5_wire import sub_opts  # noqa: E402

QUIET = 0.6         # how long "nothing arrives" is watched
DELIVER = 5.0       # a message across a link
ROUTE = ch.ROUTE_TIMEOUT


class Cluster:
    """An epmd and three nodes c1..c3."""

    def __init__(self, n=3):
        self.epmd = Epmd()
        self.nodes = []
        try:
            for i in range(n):
                self.nodes.append(Node('c%d' % (i + 1), self.epmd))
            wait_mesh(self.nodes)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for n in self.nodes:
            n.stop()
        self.epmd.kill9()


SHARED = {}


def shared():
    cl = SHARED.get('cl')
    if cl is None:
        cl = SHARED['cl'] = Cluster(3)
    for n in cl.nodes:
        check(n.alive(), 'node %s died earlier (rc %r); log:\n%s'
              % (n.short, n.proc.returncode, n.tail()))
    return cl.nodes


def c5(node, client_id=None, rc=0, **kw):
    """A 5.0 client on node: (C5, Connack)."""
    return w.connect(node.conn(), client_id, rc, **kw)


def mine(msgs, topic):
    return [m for m in msgs if m.topic == topic and
            not m.payload.startswith(b'probe-')]


def probe(pub, sub, topic, what):
    """QoS 0 probes on topic from pub until sub has one: the route of
    sub's subscription reached pub's node.  Then drain sub."""
    deadline = time.monotonic() + ROUTE
    i = 0
    while time.monotonic() < deadline:
        i += 1
        pub.publish(topic, b'probe-%d' % i)
        if any(m.topic == topic for m in sub.drain(0.15)):
            sub.drain(0.3)
            return
    raise Fail('%s: no probe on %r within %.0fs%s'
               % (what, topic, ROUTE, dumps(shared())))


def wait_for(c, topic, n, what, timeout=DELIVER):
    """Exactly n PUBLISHes of topic (probes and other topics left out)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(got) < n:
        got += mine(c.drain(0.1), topic)
    got += mine(c.drain(QUIET), topic)
    check(len(got) == n, '%s: want %d on %r, got %r' % (what, n, topic, got))
    return got


# ------------------------------------------------------------- properties

@test('request_response_across_nodes')
def t_request_response():
    c1, c2, c3 = shared()
    u = uniq('rr')
    req, _ = c5(c1)
    reply = '%s/reply/%s' % (u, uniq('me'))
    req.subscribe([(reply, 1)])
    srv, _ = c5(c2)
    srv.subscribe([('%s/req' % u, 1)])
    old, _ = c3.connect()
    h.subscribe(old, [('%s/req' % u, 1)])
    probe(req, srv, '%s/req' % u, 'route c2 -> c1')
    corr = bytes(range(256))
    ups = [('k', 'v'), ('k', 'v'), ('\u00e9', '\u2603'), ('z', '')]
    req.publish('%s/req' % u, b'ask', qos=1, props=[
        (w.RESPONSE_TOPIC, reply), (w.CORRELATION, corr),
        (w.CONTENT_TYPE, 'application/x-ask'), (w.PFI, 0)] +
        [(w.USER_PROP, kv) for kv in ups])
    m = wait_for(srv, '%s/req' % u, 1, 'request on c2')[0]
    eq((m.payload, m.get(w.RESPONSE_TOPIC), m.get(w.CORRELATION),
        m.get(w.CONTENT_TYPE), m.get(w.PFI), m.user()),
       (b'ask', reply, corr, 'application/x-ask', 0, ups),
       'request properties on c2')
    # The 3.1.1 subscriber on c3: the message, no properties.
    got = []
    deadline = time.monotonic() + DELIVER
    while time.monotonic() < deadline and not got:
        got = [p for p in ch.publishes(old, 0.1)
               if p.topic == '%s/req' % u and p.payload == b'ask']
    eq(len(got), 1, '3.1.1 copy on c3')
    eq(len(got[0].body), 2 + len('%s/req' % u) + 2 + 3,
       '3.1.1 PUBLISH on c3: topic, packet id, payload (no properties)')
    probe(srv, req, reply, 'route c1 -> c2')
    srv.publish(reply, b'answer', qos=1, props=[
        (w.CORRELATION, m.get(w.CORRELATION)),
        (w.USER_PROP, ('status', 'ok'))])
    r = wait_for(req, reply, 1, 'response on c1')[0]
    eq((r.payload, r.get(w.CORRELATION), r.user()),
       (b'answer', corr, [('status', 'ok')]), 'response properties on c1')
    for c in (req, srv):
        c.disconnect()
    old.disconnect()


@test('subscription_identifiers_per_node')
def t_sub_ids():
    nodes = shared()
    u = uniq('sid')
    subs = []
    for i, n in enumerate(nodes):
        s, _ = c5(n)
        s.subscribe([('%s/+' % u, 1)], sub_id=100 + i)
        subs.append(s)
    pub, _ = c5(nodes[0])
    for s in subs:
        probe(pub, s, '%s/p' % u, 'route to %r' % s)
    pub.publish('%s/m' % u, b'm', qos=1)
    for i, s in enumerate(subs):
        m = wait_for(s, '%s/m' % u, 1, 'subscriber on c%d' % (i + 1))[0]
        eq(m.sub_ids(), [100 + i], 'identifiers on c%d' % (i + 1))
    for s in subs + [pub]:
        s.disconnect()


@test('no_local_across_nodes')
def t_no_local():
    c1, c2, c3 = shared()
    u = uniq('nl')
    cid = uniq('nl-x')
    x, _ = c5(c2, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    x.subscribe([('%s/#' % u, sub_opts(1, nl=1))])
    x.disconnect()
    # The session moves to c1 with its No Local subscription.
    x, ca = c5(c1, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    eq(ca.sp, 1, 'session present on c1')
    y, _ = c5(c3)
    probe(y, x, '%s/probe' % u, 'route of the moved session to c3')
    watch2, _ = c5(c2)
    watch2.subscribe([('%s/#' % u, 1)])
    watch3, _ = c5(c3)
    watch3.subscribe([('%s/#' % u, 1)])
    probe(x, watch2, '%s/probe' % u, 'route c2 -> c1')
    probe(x, watch3, '%s/probe' % u, 'route c3 -> c1')
    x.publish('%s/own' % u, b'own', qos=1)
    y.publish('%s/other' % u, b'other', qos=1)
    eq([m.payload for m in wait_for(watch2, '%s/own' % u, 1, 'c2')],
       [b'own'], 'own message on c2')
    eq([m.payload for m in wait_for(watch3, '%s/own' % u, 1, 'c3')],
       [b'own'], 'own message on c3')
    eq([m.payload for m in wait_for(x, '%s/other' % u, 1, 'x')],
       [b'other'], 'another client\'s message')
    got = mine(x.drain(QUIET), '%s/own' % u)
    eq(got, [], 'own message back to a No Local subscription')
    x.disconnect(0, [(w.SESSION_EXPIRY, 0)])
    for c in (y, watch2, watch3):
        c.disconnect()


@test('puback_0x10_only_when_no_node_matches')
def t_no_matching():
    c1, c2, _ = shared()
    u = uniq('nm')
    pub, _ = c5(c1)
    pub.publish('%s/t' % u, b'before', qos=1,
                want_rc=w.RC_NO_MATCHING_SUBSCRIBERS)
    sub, _ = c5(c2)
    sub.subscribe([('%s/#' % u, 1)])
    probe(pub, sub, '%s/probe' % u, 'route c2 -> c1')
    # Nobody on c1 matches; the route to c2 does: success, not 0x10.
    pub.publish('%s/t' % u, b'after', qos=1, want_rc=0)
    eq([m.payload for m in wait_for(sub, '%s/t' % u, 1, 'c2')],
       [b'after'], 'the message on c2')
    pub.publish('%s-other/t' % u, b'x', qos=1,
                want_rc=w.RC_NO_MATCHING_SUBSCRIBERS)
    for c in (pub, sub):
        c.disconnect()


@test('message_expiry_while_queued_on_another_node', slow=True)
def t_expiry():
    c1, c2, c3 = shared()
    u = uniq('mx')
    cid = uniq('mx-s')
    s, _ = c5(c2, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    s.subscribe([('%s/#' % u, 1)])
    pub, _ = c5(c1)
    probe(pub, s, '%s/probe' % u, 'route c2 -> c1')
    s.disconnect()
    time.sleep(0.3)
    pub.publish('%s/short' % u, b'short', qos=1, props=[(w.MSG_EXPIRY, 2)])
    pub.publish('%s/long' % u, b'long', qos=1, props=[(w.MSG_EXPIRY, 60)])
    pub.publish('%s/none' % u, b'none', qos=1)
    t0 = time.monotonic()
    time.sleep(3.5)
    # Resumed on c3: the session and its queue move from c2.
    s, ca = c5(c3, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    eq(ca.sp, 1, 'session present on c3')
    got = []
    deadline = time.monotonic() + DELIVER
    while time.monotonic() < deadline and len(got) < 2:
        got += [m for m in s.drain(0.2) if m.topic.startswith(u + '/') and
                not m.payload.startswith(b'probe-')]
    got += [m for m in s.drain(QUIET) if m.topic.startswith(u + '/') and
            not m.payload.startswith(b'probe-')]
    waited = time.monotonic() - t0
    eq([m.payload for m in got], [b'long', b'none'],
       'queued on c2, resumed on c3: the expired one dropped')
    left = got[0].get(w.MSG_EXPIRY)
    check(left is not None and 1 <= left <= 57,
          'Message Expiry Interval after %.1fs: %r' % (waited, left))
    eq(got[1].get(w.MSG_EXPIRY), None, 'no expiry where none was set')
    # Live across the link: the interval is carried.
    probe(pub, s, '%s/probe' % u, 'route c3 -> c1')
    pub.publish('%s/live' % u, b'live', qos=1, props=[(w.MSG_EXPIRY, 100)])
    m = wait_for(s, '%s/live' % u, 1, 'live on c3')[0]
    check(m.get(w.MSG_EXPIRY) in (98, 99, 100),
          'live Message Expiry Interval %r' % m.get(w.MSG_EXPIRY))
    s.disconnect(0, [(w.SESSION_EXPIRY, 0)])
    pub.disconnect()


@test('expired_forward_not_resent_from_a_spool', slow=True)
def t_expired_spool():
    cl = Cluster(2)
    try:
        d1, d2 = cl.nodes
        u = uniq('xs')
        s, _ = c5(d2)
        s.subscribe([('%s/#' % u, 1)])
        pub, _ = c5(d1)
        probe(pub, s, '%s/probe' % u, 'route d2 -> d1')
        os.kill(d2.pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                p = d1.peer(d2.node) or {}
                if p.get('state') != 'up':
                    break
                time.sleep(0.05)
            check((d1.peer(d2.node) or {}).get('state') != 'up',
                  'd1 never saw the stopped d2 go')
            pub.publish('%s/short' % u, b'short', qos=1,
                        props=[(w.MSG_EXPIRY, 1)])
            pub.publish('%s/keep' % u, b'keep', qos=1)
            time.sleep(2.5)
        finally:
            os.kill(d2.pid, signal.SIGCONT)
        got = wait_for(s, '%s/keep' % u, 1, 'the unexpired one on d2',
                       timeout=15)
        eq(got[0].payload, b'keep', 'payload')
        eq(mine(s.drain(QUIET), '%s/short' % u), [],
           'the expired one is not delivered')
        dropped = d1.status()['custody']['dropped']
        eq(dropped.get('expired'), 1, 'custody.dropped.expired on d1 (%r)'
           % dropped)
        pub.disconnect()
        s.disconnect()
    finally:
        cl.stop()


@test('takeover_of_a_5_session_across_nodes')
def t_takeover():
    c1, c2, c3 = shared()
    u = uniq('tk')
    cid = uniq('tk-s')
    old, _ = c5(c1, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    old.subscribe([('%s/#' % u, 1)], sub_id=77)
    p3, _ = c5(c3)
    probe(p3, old, '%s/probe' % u, 'route c1 -> c3')
    new, ca = c5(c2, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    eq(ca.sp, 1, 'session present for the taker on c2')
    d, _ = old.wait_disconnect(DELIVER)
    check(d is not None and d.rc == w.RC_SESSION_TAKEN_OVER,
          'DISCONNECT to the connection taken over: %r' % d)
    probe(p3, new, '%s/probe' % u, 'route moved to c2')
    p3.publish('%s/a' % u, b'after', qos=1)
    m = wait_for(new, '%s/a' % u, 1, 'on c2')[0]
    eq(m.sub_ids(), [77], 'subscription identifier kept by the move')
    # The taker leaves; the session (expiry 60) keeps what comes.
    new.disconnect()
    time.sleep(0.3)
    p3.publish('%s/q' % u, b'queued', qos=1)
    time.sleep(0.5)
    last, ca = c5(c3, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    eq(ca.sp, 1, 'session present on c3 after the taker left')
    m = wait_for(last, '%s/q' % u, 1, 'queued, resumed on c3')[0]
    eq((m.payload, m.sub_ids()), (b'queued', [77]), 'queued message')
    # DISCONNECT with expiry 0 ends the session in the whole cluster.
    last.disconnect(0, [(w.SESSION_EXPIRY, 0)])
    time.sleep(0.5)
    again, ca = c5(c1, cid, clean=False, props=[(w.SESSION_EXPIRY, 60)])
    eq(ca.sp, 0, 'session present after DISCONNECT expiry 0')
    again.disconnect(0, [(w.SESSION_EXPIRY, 0)])
    p3.disconnect()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    try:
        return ch.main(ap)
    finally:
        cl = SHARED.get('cl')
        if cl is not None:
            cl.stop()


if __name__ == '__main__':
    sys.exit(main())
