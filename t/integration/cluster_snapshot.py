#!/usr/bin/env python3
"""The snapshot a node sends when a link comes up, in slices (issue 10).

Usage:
    cluster_snapshot.py --broker-cmd PATH --epmd PATH --cairn PATH
                        [--only REGEX] [--keep] [-v] [--deadline S]

  * big_retained_snapshot_links_and_arrives_whole: node A holds 40 MiB
    of retained messages (160 x 256 KiB, under the default
    max_retained_bytes of 64 MiB), then node B starts with A in its
    `peers`.  A link's output queue holds about 2 x max_frame + one frame
    (12 MiB by default): before the sliced snapshot (commit e8075de and
    earlier) A queued its whole retained store at once, the queue
    overflowed, A closed the link ("output queue over ... bytes") and
    every redial did the same: B never linked.  Now the link comes up and
    stays up, and a `#` subscriber on B gets every retained message,
    whole.
  * snapshot_of_many_routes_and_claims: A holds 3,000 routes (one filter
    each from 3,000 sessions is more than a slice of 512) and the claims
    of the connected clients; B, started after, routes a publish to
    every one of the filters it was told of (sampled) and lists all the
    routes in `cluster status`.

Every process is killed by pid; every wait is bounded; loopback only;
output is TAP (mqtt_harness.py's runner).
"""

import argparse
import sys
import time

import cluster_harness as ch
import mqtt_harness as h
from cluster_harness import Epmd, Node, wait_mesh, wait_routes
from mqtt_harness import Fail, check, eq, uniq, subscribe, publish

RETAINED = 160
SIZE = 256 * 1024 - 64      # under max_retained_message_size (256 KiB)


@h.test('big_retained_snapshot_links_and_arrives_whole')
def t_big_retained():
    e = Epmd()
    a = Node('sa', e)
    b = None
    try:
        c, _ = a.connect()
        for i in range(RETAINED):
            publish(c, 'big/%d' % i, bytes([i % 251]) * SIZE, qos=1,
                    retain=True)
        c.close()
        mem = a.status().get('memory', {})
        b = Node('sb', e, peers=[a.addr])
        took = wait_mesh([a, b], timeout=30)
        print('# linked %.2fs after B started; A memory: retained %s'
              % (took, mem.get('retained')), flush=True)
        # The snapshot goes on after the link is up: wait until B holds
        # every retained message (a subscriber gets retained messages at
        # SUBSCRIBE only).
        h.wait_until(lambda: b.status().get('memory', {}).get(
            'retained', {}).get('count', 0) >= RETAINED, 30,
            'B to hold %d retained messages' % RETAINED, step=0.2)
        sc, _ = b.connect()
        subscribe(sc, [('big/#', 0)])
        got = h.recv_publishes(sc, RETAINED, timeout=60)
        topics = sorted(p.topic for p in got)
        eq(topics, sorted('big/%d' % i for i in range(RETAINED)),
           'retained topics on B')
        for p in got:
            i = int(p.topic.split('/')[1])
            check(p.payload == bytes([i % 251]) * SIZE,
                  '%s: payload of %d bytes, not the %d sent'
                  % (p.topic, len(p.payload), SIZE))
        sc.close()
        # The link stayed up: no close line on either side.
        for n in (a, b):
            log = n.log()
            check('output queue over' not in log and
                  'closed: dead' not in log,
                  '%s closed a link during the snapshot:\n%s'
                  % (n.short, n.tail()))
        eq(b.peers_state().get(a.node), 'up', 'link state on B')
    finally:
        a.stop()
        if b is not None:
            b.stop()
        e.kill9()


@h.test('snapshot_of_many_routes_and_claims')
def t_many_routes():
    e = Epmd()
    a = Node('ra', e, extra=['max_connections: 4000'])
    b = None
    conns = []
    try:
        n = 3000
        # One connection per filter: 3,000 local routes on A.
        for i in range(n):
            c, _ = a.connect()
            subscribe(c, [('r/%d' % i, 0)])
            conns.append(c)
        b = Node('rb', e, peers=[a.addr])
        wait_mesh([a, b], timeout=30)
        wait_routes(b, a, n, timeout=30, nodes=(a, b))
        # Sampled: a publish on B reaches A's subscriber of that filter.
        pc, _ = b.connect()
        for i in (0, 1, n // 2, n - 2, n - 1):
            publish(pc, 'r/%d' % i, b'x%d' % i, qos=1)
            got = h.recv_publishes(conns[i], 1, timeout=10)
            eq(got[0].payload, b'x%d' % i, 'payload at r/%d' % i)
        pc.close()
        claims = a.status().get('claims', 0)
        check(claims >= n, 'A lists %d claims for %d connected clients'
              % (claims, n))
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:
                pass
        a.stop()
        if b is not None:
            b.stop()
        e.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    return ch.main(ap)


if __name__ == '__main__':
    sys.exit(main())
