#!/usr/bin/env python3
"""A forward's ack is a promise kept by the receiver's store (issue 12;
broker/cluster/CLUSTER.md, "Custody"): with data_dir, a node sends
FORWARD_ACK only once the store batch holding the forward's queued
copies is durable.

Usage:
    cluster_durable.py --broker-cmd PATH --epmd PATH --cairn PATH
                       [--only REGEX] [--keep] [-v] [--deadline S]

  * forward_acked_then_receiver_killed_loses_nothing: the subscriber's
    persistent session is offline on d2 (data_dir); N QoS 1 and N QoS 2
    messages are published on d1; once d1's buffer for d2 is empty (d2
    acknowledged every forward), d2 is killed with -9 and started again
    on the same data_dir: the subscriber resumes there with session
    present 1 and gets every message, QoS 2 exactly once, and none
    twice (none was in flight).  Replicas are off (max_replica_bytes 0),
    so that the store alone is tested.
  * receiver_killed_and_restarted_while_its_replica_was_promoted: the
    same with replicas on: d1 promotes its replica of the session while
    d2 is down, and d2 comes back with its own copy from the store.
    The client's CLAIM on d2 says KEPT, so d1 gives back only what it
    queued since the promotion (nothing here): every message once.
    Before KEPT every message came twice, QoS 2 included.
  * receiver_restarted_client_back_before_the_link_is_up: the same
    with d1 stopped (SIGSTOP) while d2 starts and the client resumes on
    it, so that d1 hears the claim in the link's first snapshot.
  * forward_not_acked_when_the_store_refuses: d2's store is 1 MiB
    (store_max_bytes) and the forwards to its offline session are
    bigger than that: once a commit fails on d2, the
    forwards it carried are not acknowledged: d1 keeps them in its
    buffer and d2 counts them (custody.acks_withheld).  Before the gate
    d2 acked them as soon as they were queued in memory, and d1's
    buffer drained to 0.

Every process is killed by pid; every wait and loop is bounded; loopback
only; output is TAP (mqtt_harness.py's runner).
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import cluster_harness as ch  # noqa: E402
from mqtt_harness import (Fail, check, eq, test, uniq,  # noqa: E402
                          subscribe, publish, recv_publishes)
from cluster_harness import (Node, Epmd, wait_until, wait_mesh,  # noqa: E402
                             wait_routes)

N = 200


def data_node(name, ep, extra=()):
    d = h.scratch(uniq('data-' + name))
    os.makedirs(d)
    return Node(name, ep, extra=['data_dir: %s' % h.yaml_str(d)] +
                list(extra))


def pending_to(src, dst):
    return (src.peer(dst.node) or {}).get('forward_pending', -1)


def resumed_once(sc, total):
    """Every message 1..total of both streams on sc, none twice (QoS 1
    included: none was in flight, the subscriber was offline and every
    forward acked before the kill, so a second copy is a session merged
    twice); sc is closed."""
    got = recv_publishes(sc, 2 * total, timeout=30.0)
    for _ in range(2 * total):        # duplicates? every one of them
        try:
            got += recv_publishes(sc, 1, timeout=1.0)
        except Fail:
            break
    sc.close()
    q1 = [int(p.payload) for p in got if p.topic.endswith('/q1')]
    q2 = [int(p.payload) for p in got if p.topic.endswith('/q2')]
    want = set(range(1, total + 1))
    print('# received QoS 1 %d (%d distinct), QoS 2 %d (%d distinct)'
          % (len(q1), len(set(q1)), len(q2), len(set(q2))), flush=True)
    if len(q2) != len(set(q2)) or h.ARGS.verbose:
        print('# twice: QoS 1 %s, QoS 2 %s; DUP set on %s' % (
            sorted(i for i in set(q1) if q1.count(i) > 1),
            sorted(i for i in set(q2) if q2.count(i) > 1),
            [(p.topic[-2:], int(p.payload)) for p in got
             if p.flags & 8]), flush=True)
    check(want == set(q1), 'QoS 1 lost: %s'
          % ch.ranges(sorted(want - set(q1))))
    check(want == set(q2), 'QoS 2 lost: %s'
          % ch.ranges(sorted(want - set(q2))))
    eq(len(q2), len(set(q2)), 'QoS 2 deliveries (exactly once)')
    eq(len(q1), len(set(q1)), 'QoS 1 deliveries (none was in flight: '
       'none twice)')


def killed_restarted(replicas, early=False, during=False):
    ep = Epmd()
    nodes = []
    try:
        # Without replicas the store alone keeps the promise; with them
        # d1 promotes its replica while d2 is down, and d2 comes back
        # with its own copy from the store: one of them must yield.
        rx = [] if replicas else ['max_replica_bytes: 0']
        d1 = Node('d1', ep, extra=rx)
        d2 = data_node('d2', ep, ['max_queued_messages: 10000'] + rx)
        nodes = [d1, d2]
        wait_mesh(nodes)
        cid = uniq('dur')
        sc, sp = d2.connect(client_id=cid, clean=False)
        eq(sp, 0, 'first CONNACK session present')
        subscribe(sc, [('%s/q1' % cid, 1), ('%s/q2' % cid, 2)])
        sc.close()
        wait_routes(d1, d2, 2, nodes=nodes)
        pc, _ = d1.connect(client_id=uniq('pub'))
        for i in range(1, N + 1):
            publish(pc, '%s/q1' % cid, b'%d' % i, qos=1)
            publish(pc, '%s/q2' % cid, b'%d' % i, qos=2)
        pc.close()
        # Every forward acknowledged by d2: each a promise.
        wait_until(lambda: pending_to(d1, d2) == 0, 20.0,
                   'd1 has no forward to d2 unacknowledged', nodes)
        d2.kill9()
        total = N
        if during:
            # Published while d2 is down: d1 queues them for its
            # promoted copy (its own route) and in d2's spool (d2's
            # routes stay while it is away).
            wait_until(lambda: d1.status()['replicas']['promoted'] >= 1,
                       10.0, 'd1 promoted the replica', nodes)
            pc, _ = d1.connect(client_id=uniq('pub'))
            for i in range(N + 1, 2 * N + 1):
                publish(pc, '%s/q1' % cid, b'%d' % i, qos=1)
                publish(pc, '%s/q2' % cid, b'%d' % i, qos=2)
            pc.close()
            total = 2 * N
        if early:
            # Back on d2 before d1 hears from it (d1 stopped meanwhile),
            # so that d1 has the claim before d2's replica: the claim
            # alone must say d2 kept the session.
            wait_until(lambda: d1.status()['replicas']['promoted'] >= 1,
                       10.0, 'd1 promoted the replica', nodes)
            os.kill(d1.pid, signal.SIGSTOP)
            try:
                d2.start()
                sc, sp = d2.connect(client_id=cid, clean=False)
            finally:
                os.kill(d1.pid, signal.SIGCONT)
            wait_mesh(nodes)
        else:
            d2.start()
            wait_mesh(nodes)
            sc, sp = d2.connect(client_id=cid, clean=False)
        eq(sp, 1, 'CONNACK session present after the restart')
        resumed_once(sc, total)
        if during:
            # d1 gave back none of what d2 got from d1's spool.
            eq(d1.status()['replicas'].get('given_back_from_spools'),
               2 * N, 'd1: deliveries not given back (d2 had them from '
               'the spool)')
    finally:
        for n in nodes:
            n.stop()
        ep.kill9()


@test('forward_acked_then_receiver_killed_loses_nothing')
def t_killed():
    killed_restarted(False)


@test('receiver_killed_and_restarted_while_its_replica_was_promoted')
def t_killed_replica():
    killed_restarted(True)


@test('receiver_restarted_client_back_before_the_link_is_up')
def t_killed_replica_early():
    killed_restarted(True, early=True)


@test('published_while_the_receiver_was_down_come_once')
def t_killed_during():
    killed_restarted(True, during=True)


@test('published_on_a_third_node_while_the_receiver_was_down_come_once')
def t_killed_during3():
    """As above with a third node: the publisher's node is not the
    holder, so the holder learns from the FORWARD's spool list that the
    message is in the receiver's spool too."""
    ep = Epmd()
    nodes = []
    try:
        d1 = Node('f1', ep)
        d3 = Node('f3', ep)
        d2 = data_node('f2', ep, ['max_queued_messages: 10000'])
        nodes = [d1, d2, d3]
        wait_mesh(nodes)
        cid = uniq('dur3')
        sc, sp = d2.connect(client_id=cid, clean=False)
        eq(sp, 0, 'first CONNACK session present')
        subscribe(sc, [('%s/q1' % cid, 1), ('%s/q2' % cid, 2)])
        sc.close()

        def holder():
            held = [n for n in (d1, d3)
                    if n.status()['replicas']['held'] == 1]
            return held[0] if len(held) == 1 else None
        hold = wait_until(holder, 10.0, 'one replica holder', nodes)
        pub = d3 if hold is d1 else d1
        wait_routes(pub, d2, 2, nodes=nodes)
        d2.kill9()
        wait_until(lambda: hold.status()['replicas']['promoted'] >= 1,
                   10.0, 'the holder promoted the replica', nodes)
        wait_routes(pub, hold, 2, nodes=nodes)
        pc, _ = pub.connect(client_id=uniq('pub'))
        for i in range(1, N + 1):
            publish(pc, '%s/q1' % cid, b'%d' % i, qos=1)
            publish(pc, '%s/q2' % cid, b'%d' % i, qos=2)
        pc.close()
        wait_until(lambda: pending_to(pub, hold) == 0, 20.0,
                   'the holder acked every forward', nodes)
        d2.start()
        wait_mesh(nodes)
        sc, sp = d2.connect(client_id=cid, clean=False)
        eq(sp, 1, 'CONNACK session present after the restart')
        resumed_once(sc, N)
        eq(hold.status()['replicas'].get('given_back_from_spools'), 2 * N,
           'holder: deliveries not given back')
    finally:
        for n in nodes:
            n.stop()
        ep.kill9()


@test('forward_not_acked_when_the_store_refuses')
def t_refused():
    ep = Epmd()
    nodes = []
    try:
        d1 = Node('e1', ep)
        d2 = data_node('e2', ep, ['store_max_bytes: 1MiB',
                                  'max_queued_bytes: 64MiB',
                                  'max_queued_messages: 10000'])
        nodes = [d1, d2]
        wait_mesh(nodes)
        cid = uniq('full')
        sc, _ = d2.connect(client_id=cid, clean=False)
        subscribe(sc, [('%s/t' % cid, 1)])
        sc.close()
        wait_routes(d1, d2, 1, nodes=nodes)
        pc, _ = d1.connect(client_id=uniq('pub'))
        body = b'x' * (16 * 1024)
        for i in range(1, 97):          # 1.5 MiB: past the map
            publish(pc, '%s/t' % cid, b'%d ' % i + body, qos=1)
        pc.close()
        wait_until(lambda: d2.status()['custody']['acks_withheld'] > 0,
                   20.0, 'acks withheld on e2 (a commit refused at '
                   'store_max_bytes)', nodes)
        # What the failed batch carried is never acknowledged: d1 keeps
        # it (before the gate its buffer drained to 0 within a round
        # trip; here it is looked at for 2 s).
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            n = pending_to(d1, d2)
            check(n > 0, 'd1 buffer for e2 drained (%d): forwards acked '
                  'that e2 never stored\n%s' % (n, ch.dumps(nodes)))
            time.sleep(0.1)
        check(d2.alive() and d1.alive(), 'both nodes alive')
    finally:
        for n in nodes:
            n.stop()
        ep.kill9()


if __name__ == '__main__':
    sys.exit(ch.main(argparse.ArgumentParser(
        description=__doc__.split('\n')[0])))
