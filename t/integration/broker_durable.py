#!/usr/bin/env python3
"""cairn-broker with data_dir: nothing acknowledged is lost to a kill -9.

Cases (TAP), each on its own data_dir:

  * kill -9 mid-stream: a persistent subscriber (paho, clean_session
    False) subscribes and goes offline; a paho publisher sends a QoS 1
    and a QoS 2 stream (2,000 each) and counts every PUBACK'd and
    PUBCOMP'd message; the broker is killed with SIGKILL mid-stream and
    started again on the same data_dir; the subscriber reconnects, gets
    session present 1 and every acknowledged message: QoS 1 at least
    once, QoS 2 exactly once (and no QoS 2 message twice, acknowledged
    or not).
  * the same with the subscriber online during the stream, so that
    deliveries are in flight when the kill comes (resent with DUP).
  * inbound QoS 2: a PUBLISH answered PUBREC, a kill -9, the same
    PUBLISH again (DUP) after the restart is not delivered twice.
  * retained messages survive a stop, a kill -9, and a clear survives
    a kill -9.
  * MQTT 5.0 state survives a kill -9 (store format 2): a queued
    message keeps its user properties, content type, response topic,
    correlation data, payload format and the subscription identifier
    it matched; its expiry keeps counting while the node is down (one
    that expired meanwhile is not sent); the subscriptions keep No
    Local, Retain As Published and their identifiers; a retained
    message keeps its properties.  Before format 2 all of these were
    lost at a restart.
  * a store that is not ours: garbage over data.mdb, a foreign file,
    a damaged record (a byte of a payload changed on disk), another
    node's store: start refuses with the file and the reason, and
    `cairn-broker -n` says the same.
  * -n reports a data_dir that is a file, or under a missing parent.

Every broker is killed by pid; every wait is bounded.  Runs with
/usr/bin/python3 (Debian's paho-mqtt).
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import Fail, check, eq, test  # noqa: E402

try:
    import paho.mqtt.client as mqtt
except ImportError:
    mqtt = None

N = 2000            # messages per stream
KILL_AT = 500       # acknowledged messages (both streams) before the kill


def scenario(data_dir, extra=''):
    return {'max_queued_messages': 20000, 'max_inflight': 50,
            'sys_interval': 0,
            'extra': 'data_dir: %s\n%s' % (h.yaml_str(data_dir), extra)}


def kill9(b):
    os.kill(b.pid, signal.SIGKILL)
    b.proc.wait(timeout=5)
    b.stop()


def client(cid, clean=False):
    c = mqtt.Client(client_id=cid, clean_session=clean,
                    protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(50)
    c.max_queued_messages_set(0)
    return c


def connect(c, port, timeout=5.0):
    """Connects (blocking, loop started); returns the CONNACK flags."""
    got = {}
    ev = threading.Event()

    def on_connect(cl, ud, flags, rc):
        got['flags'] = flags
        got['rc'] = rc
        ev.set()
    c.on_connect = on_connect
    c.connect('127.0.0.1', port, keepalive=30)
    c.loop_start()
    if not ev.wait(timeout):
        c.loop_stop()
        raise Fail('no CONNACK in %.0fs' % timeout)
    eq(got['rc'], 0, 'CONNACK return code')
    return got['flags']


def stop(c):
    try:
        c.disconnect()
    except Exception:
        pass
    c.loop_stop()


class Collector:
    """A subscriber's received payloads by QoS, with duplicates."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = {1: [], 2: []}
        self.last = time.monotonic()

    def on_message(self, cl, ud, msg):
        with self.lock:
            self.got[msg.qos].append(msg.payload.decode())
            self.last = time.monotonic()

    def count(self):
        with self.lock:
            return len(self.got[1]) + len(self.got[2])


def stream(port, kill_cb):
    """Publishes N QoS 1 and N QoS 2 messages (interleaved) from a paho
    publisher; calls kill_cb() once KILL_AT are acknowledged.  Returns
    the sets of acknowledged payloads by QoS."""
    pub = client(h.uniq('pub'))
    acked_mids = set()
    mids = {}
    lock = threading.Lock()
    enough = threading.Event()

    # No lock of ours is held around publish(): paho calls on_publish
    # under its own callback lock, and the two would deadlock.
    def on_publish(cl, ud, mid):
        with lock:
            acked_mids.add(mid)
            if len(acked_mids) >= KILL_AT:
                enough.set()
    pub.on_publish = on_publish
    connect(pub, port)
    done = threading.Event()

    def sender():
        for i in range(N):
            for qos in (1, 2):
                if done.is_set():
                    return
                payload = 'q%d-%d' % (qos, i)
                info = pub.publish('dur/q%d' % qos, payload, qos=qos)
                with lock:
                    mids[info.mid] = (qos, payload)
                # paho queues without bound: keep near the window.
                t0 = time.monotonic()
                while (len(pub._out_messages) > 200 and not done.is_set()
                       and time.monotonic() - t0 < 5):
                    time.sleep(0.001)
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    if not enough.wait(60):
        done.set()
        stop(pub)
        raise Fail('only %d acknowledged in 60 s' % len(acked_mids))
    kill_cb()
    done.set()
    th.join(10)
    stop(pub)
    acked = {1: set(), 2: set()}
    with lock:
        for mid in acked_mids:
            check(mid in mids, 'an ack for mid %d never sent' % mid)
            qos, payload = mids[mid]
            acked[qos].add(payload)
    return acked


def drain(col, want, timeout=60.0, quiet=3.0):
    """Until every wanted payload came and nothing came for `quiet` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with col.lock:
            have = set(col.got[1]) | set(col.got[2])
            idle = time.monotonic() - col.last
        if want <= have and idle >= quiet:
            return
        time.sleep(0.1)


def verify(col, acked):
    q1 = col.got[1]
    q2 = col.got[2]
    lost1 = acked[1] - set(q1)
    lost2 = acked[2] - set(q2)
    dup2 = sorted(p for p in set(q2) if q2.count(p) > 1)
    check(not lost1, '%d acknowledged QoS 1 messages lost (of %d): %s'
          % (len(lost1), len(acked[1]), sorted(lost1)[:10]))
    check(not lost2, '%d acknowledged QoS 2 messages lost (of %d): %s'
          % (len(lost2), len(acked[2]), sorted(lost2)[:10]))
    check(not dup2, 'QoS 2 messages delivered twice: %s' % dup2[:10])
    h.emit_note('acknowledged before the kill: QoS 1 %d, QoS 2 %d; '
                'received QoS 1 %d (%d distinct), QoS 2 %d'
                % (len(acked[1]), len(acked[2]), len(q1), len(set(q1)),
                   len(q2)))


def kill_mid_stream(online):
    if mqtt is None:
        raise h.Skip('python3-paho-mqtt not installed')
    data = h.scratch(h.uniq('data'))
    # Online, commits are not fsync'd (store_sync false): a kill -9
    # must lose nothing all the same (the page cache has them).
    extra = 'store_sync: false\n' if online else ''
    b = h.Broker(scenario(data, extra))
    col = Collector()
    sid = h.uniq('sub')
    sub = client(sid)
    sub.on_message = col.on_message
    try:
        flags = connect(sub, b.port)
        eq(flags.get('session present'), 0, 'first session present')
        r = sub.subscribe([('dur/q1', 1), ('dur/q2', 2)])
        eq(r[0], 0, 'SUBSCRIBE sent')
        h.wait_until(lambda: b.alive(), 1, 'broker alive')
        time.sleep(0.3)     # the SUBACK (paho has no blocking call)
        if not online:
            stop(sub)
        acked = stream(b.port, lambda: kill9(b))
        if online:
            # The same client object: its QoS 2 state (PUBLISHes whose
            # PUBREL has not come) is the client's half of the session
            # [MQTT-4.1.0-1]; a PUBREL the kill cut off comes again.
            sub.loop_stop()
        b = h.Broker(scenario(data, extra))
        flags = connect(sub, b.port)
        eq(flags.get('session present'), 1, 'session present after the '
           'restart')
        drain(col, acked[1] | acked[2])
        stop(sub)
        verify(col, acked)
        check(b.alive(), 'broker died')
    finally:
        stop(sub)
        b.stop()


@test('kill -9 mid-stream, offline persistent subscriber: every '
      'acknowledged QoS 1 message at least once, QoS 2 exactly once', )
def t_kill_offline():
    kill_mid_stream(False)


@test('kill -9 mid-stream, online subscriber (deliveries in flight), '
      'store_sync false: the same after the restart')
def t_kill_online():
    kill_mid_stream(True)


@test('inbound QoS 2: PUBREC given, kill -9, the PUBLISH again (DUP) is '
      'not delivered twice')
def t_inbound_qos2():
    data = h.scratch(h.uniq('data'))
    b = h.Broker(scenario(data))
    try:
        sub, _ = h.mqtt_connect(b.port, 'in2-sub', clean=False)
        h.subscribe(sub, [('in2/t', 2)])
        sub.close()
        p, _ = h.mqtt_connect(b.port, 'in2-pub', clean=False)
        p.send(h.publish_pkt('in2/t', b'once', qos=2, pid=7))
        pk = p.recv()
        eq((pk.type, pk.pid), (h.PUBREC, 7), 'PUBREC 7')
        kill9(b)
        b = h.Broker(scenario(data))
        p, sp = h.mqtt_connect(b.port, 'in2-pub', clean=False)
        eq(sp, 1, 'publisher session present')
        p.send(h.publish_pkt('in2/t', b'once', qos=2, pid=7, dup=True))
        pk = p.recv()
        eq((pk.type, pk.pid), (h.PUBREC, 7), 'PUBREC 7 again')
        p.send(h.ack_pkt(h.PUBREL, 7))
        pk = p.recv()
        eq((pk.type, pk.pid), (h.PUBCOMP, 7), 'PUBCOMP 7')
        sub, sp = h.mqtt_connect(b.port, 'in2-sub', clean=False)
        eq(sp, 1, 'subscriber session present')
        got = h.recv_publishes(sub, 1, timeout=2.0)
        eq([g.payload for g in got], [b'once'], 'the message')
        more = []
        try:
            more = h.recv_publishes(sub, 1, timeout=1.0)
        except Exception:
            pass
        eq(more, [], 'a second copy')
    finally:
        b.stop()


def get_retained(port, topic):
    s, _ = h.mqtt_connect(port, h.uniq('ret'))
    h.subscribe(s, [(topic, 1)])
    try:
        got = h.recv_publishes(s, 1, timeout=1.5)
    except Exception:
        got = []
    s.close()
    return [(g.topic, g.payload, g.retain) for g in got]


@test('retained messages survive a stop, a kill -9, and a clear survives '
      'too')
def t_retained():
    data = h.scratch(h.uniq('data'))
    b = h.Broker(scenario(data))
    try:
        p, _ = h.mqtt_connect(b.port, h.uniq('rp'))
        h.publish(p, 'ret/a', b'r1', qos=1, retain=True)
        h.publish(p, 'ret/b', b'gone soon', qos=1, retain=True)
        p.close()
        b.stop()            # SIGKILL from the harness, as kill -9
        b = h.Broker(scenario(data))
        eq(get_retained(b.port, 'ret/a'), [('ret/a', b'r1', True)],
           'ret/a after kill -9')
        p, _ = h.mqtt_connect(b.port, h.uniq('rp'))
        h.publish(p, 'ret/a', b'r2', qos=1, retain=True)
        h.publish(p, 'ret/b', b'', qos=1, retain=True)
        p.close()
        b.proc.send_signal(signal.SIGTERM)
        b.proc.wait(timeout=10)
        b.stop()
        b = h.Broker(scenario(data))
        eq(get_retained(b.port, 'ret/a'), [('ret/a', b'r2', True)],
           'ret/a replaced, after a stop')
        eq(get_retained(b.port, 'ret/b'), [], 'ret/b cleared')
    finally:
        b.stop()


@test('mqtt5 state survives a kill -9: properties, expiry, '
      'subscription options and identifiers')
def t_mqtt5_state():
    import broker_mqtt5_wire as w
    data = h.scratch(h.uniq('data'))
    b = h.Broker(scenario(data))
    try:
        cid = h.uniq('d5')
        sess = [(w.SESSION_EXPIRY, 3600)]
        sub, ca = w.connect(h.Conn(b.port), cid, 0, clean=False,
                            props=sess)
        sub.subscribe([('d5/t', w.sub_opts(2, rap=1))], sub_id=7)
        sub.subscribe([('d5/own', w.sub_opts(1, nl=1))])
        sub.disconnect()
        pub, _ = w.connect(h.Conn(b.port), h.uniq('p5'), 0)
        ups = [('k', 'v'), ('k', 'v2'), ('\u00fc', '\u2603')]
        carried = [(w.USER_PROP, kv) for kv in ups] + [
            (w.CONTENT_TYPE, 'text/plain'), (w.PFI, 1),
            (w.RESPONSE_TOPIC, 'resp/x'), (w.CORRELATION, b'\x01\x02')]
        pub.publish('d5/t', b'keep', qos=1,
                    props=carried + [(w.MSG_EXPIRY, 3600)])
        pub.publish('d5/t', b'expires', qos=1, props=[(w.MSG_EXPIRY, 1)])
        pub.publish('d5/t', b'no-expiry', qos=2)
        pub.publish('d5/r', b'ret', qos=1, retain=True,
                    props=carried + [(w.MSG_EXPIRY, 3600)])
        pub.disconnect()
        kill9(b)
        time.sleep(1.5)     # 'expires' runs out while the node is down
        b = h.Broker(scenario(data))
        sub, ca = w.connect(h.Conn(b.port), cid, 0, clean=False,
                            props=sess)
        eq(ca.sp, 1, 'session present after kill -9')
        got = sub.recv(2)
        got += sub.drain(0.5)
        eq([m.payload for m in got], [b'keep', b'no-expiry'],
           'the unexpired messages, in order (expired: not sent)')
        m = got[0]
        eq(m.user(), ups, 'user properties, in order')
        eq((m.get(w.CONTENT_TYPE), m.get(w.PFI), m.get(w.RESPONSE_TOPIC),
            m.get(w.CORRELATION)), ('text/plain', 1, 'resp/x',
                                    b'\x01\x02'), 'carried properties')
        eq(m.sub_ids(), [7], 'subscription identifier of the delivery')
        left = m.get(w.MSG_EXPIRY)
        check(left is not None and 3550 <= left < 3600,
              'message expiry interval counted down across the restart: '
              '%r' % left)
        eq(got[1].get(w.MSG_EXPIRY), None, 'no expiry where none was')
        eq(got[1].qos, 2, 'QoS 2 kept')
        # The subscriptions' options: No Local on d5/own (its own
        # message is not delivered, another client's is) and the
        # identifier on d5/t for a live message.
        sub.publish('d5/own', b'mine', qos=1)
        other, _ = w.connect(h.Conn(b.port), h.uniq('o5'), 0)
        other.publish('d5/own', b'theirs', qos=1)
        other.publish('d5/t', b'live', qos=1, retain=True)
        got = sub.recv(2)
        got += sub.drain(0.5)
        eq(sorted(m.payload for m in got), [b'live', b'theirs'],
           'No Local kept: the own message is not delivered')
        live = [m for m in got if m.payload == b'live'][0]
        eq(live.sub_ids(), [7], 'identifier of d5/t after the restart')
        eq(live.retain, True, 'Retain As Published kept')
        other.publish('d5/t', b'', qos=1, retain=True)
        other.disconnect()
        sub.disconnect()
        # The retained message and its properties.
        r, _ = w.connect(h.Conn(b.port), h.uniq('r5'), 0)
        r.subscribe([('d5/r', 1)])
        m = r.recv(1)[0]
        eq((m.payload, m.retain), (b'ret', True), 'retained message')
        eq(m.user(), ups, 'retained user properties')
        eq(m.get(w.CONTENT_TYPE), 'text/plain', 'retained content type')
        left = m.get(w.MSG_EXPIRY)
        check(left is not None and 3550 <= left < 3600,
              'retained expiry counted down: %r' % left)
        r.disconnect()
    finally:
        b.stop()


def start_refused(data, want, extra=''):
    """Start and -n both refuse, naming want in their stderr."""
    sc = scenario(data, extra)
    conf = h.scratch(h.uniq('conf') + '.yaml')
    with open(conf, 'w') as f:
        f.write(h.cairn_conf(h.free_port(), sc))
    for cmd in ([h.ARGS.broker_cmd, '-n', '-c', conf],
                [h.ARGS.broker_cmd, '-d', '-c', conf]):
        rc, out, err = h.run_cmd(cmd, timeout=20)
        err = err.decode('utf-8', 'replace')
        check(rc != 0, '%s: exit 0; stderr %s' % (cmd[1], err))
        for w in want:
            check(w in err, '%s: %r not in stderr: %s' % (cmd[1], w, err))


def node(name):
    return ('node_name: %s\ncluster_listen: "127.0.0.1:0"\n'
            'cookie: "c00kie"\n' % name)


def filled_store(extra=''):
    data = h.scratch(h.uniq('data'))
    b = h.Broker(scenario(data, extra))
    try:
        s, _ = h.mqtt_connect(b.port, 'fill-sub', clean=False)
        h.subscribe(s, [('fill/#', 1)])
        s.close()
        p, _ = h.mqtt_connect(b.port, h.uniq('fp'))
        h.publish(p, 'fill/x', b'NEEDLE-PAYLOAD', qos=1)
        p.close()
    finally:
        b.stop()
    return data


@test('a store that is not ours is refused by start and -n: garbage, a '
      'foreign file, a damaged record, another node\'s store')
def t_refused():
    data = filled_store()
    path = os.path.join(data, 'data.mdb')
    with open(path, 'rb') as f:
        blob = bytearray(f.read())
    # A byte of a queued message's payload: our check catches it.  In
    # every copy: LMDB's copy-on-write leaves old pages behind.
    i = blob.find(b'NEEDLE-PAYLOAD')
    check(i >= 0, 'the payload is in data.mdb')
    while i >= 0:
        blob[i] ^= 0x20
        i = blob.find(b'NEEDLE-PAYLOAD', i + 1)
    with open(path, 'wb') as f:
        f.write(blob)
    start_refused(data, [path, 'session', 'queued message',
                         'refusing to start'])
    # Garbage over the start of the file (LMDB's meta pages).
    with open(path, 'r+b') as f:
        f.write(os.urandom(8192))
    start_refused(data, [path, 'refusing to use it'])
    # A foreign file.
    other = h.scratch(h.uniq('data'))
    os.makedirs(other)
    with open(os.path.join(other, 'data.mdb'), 'w') as f:
        f.write('not a database\n' * 1000)
    start_refused(other, ['data.mdb', 'not a cairn store'])
    # Another node's store.
    data = filled_store(node('first@host'))
    start_refused(data, ['the store of node first@host', 'not of '
                         'other@host'], extra=node('other@host'))


@test('-n reports a bad data_dir (a file, a missing parent) and says OK '
      'for a good one')
def t_check():
    plain = h.scratch(h.uniq('plain'))
    with open(plain, 'w') as f:
        f.write('x')
    start_refused(plain, ['data_dir', 'not a directory'])
    start_refused(h.scratch('no/such/dir'), ['data_dir'])
    conf = h.scratch(h.uniq('conf') + '.yaml')
    with open(conf, 'w') as f:
        f.write(h.cairn_conf(h.free_port(),
                             scenario(h.scratch(h.uniq('fresh')))))
    rc, out, err = h.run_cmd([h.ARGS.broker_cmd, '-n', '-c', conf])
    eq((rc, out.strip()), (0, b'configuration OK'), '-n on a fresh dir')


@test('a full store (store_max_bytes) withholds the PUBACK of what did '
      'not fit and closes the publisher; after a kill -9 every message '
      'that was acknowledged is delivered')
def t_store_full():
    data = h.scratch(h.uniq('data'))
    # 1 MiB, the least: 4 KiB payloads fill it in some 200 messages.
    b = h.Broker(scenario(data, 'store_max_bytes: 1MiB\n'))
    payload = b'F' * 4096
    acked = []
    refused = None
    try:
        s, _ = h.mqtt_connect(b.port, 'full-sub', clean=False)
        h.subscribe(s, [('full/#', 1)])
        s.close()
        p, _ = h.mqtt_connect(b.port, h.uniq('full-pub'))
        # One at a time, each waiting for its PUBACK: every ack that
        # came was for a message of a batch that was stored.
        for i in range(1000):
            pid = p.pid()
            p.send(h.publish_pkt('full/t', b'%05d' % i + payload, 1,
                                 pid=pid))
            try:
                a = p.recv(10)
            except h.Closed:
                refused = i
                break
            check(a is not None, 'message %d: no PUBACK and no close in '
                  '10 s' % i)
            eq((a.type, a.pid), (h.PUBACK, pid), 'PUBACK of message %d'
               % i)
            acked.append(b'%05d' % i)
        check(refused is not None, 'the store never filled in 1000 '
              'messages of 4 KiB (store_max_bytes 1MiB)')
        check(len(acked) > 0, 'not one message acknowledged')
        check('acks withheld' in b.output(), 'no log line of the '
              'withheld acks: %s' % b.output())
        check(b.alive(), 'broker died when its store filled')
        kill9(b)
        b = h.Broker(scenario(data, 'store_max_bytes: 1MiB\n'))
        s, sp = h.mqtt_connect(b.port, 'full-sub', clean=False)
        eq(sp, 1, 'session present after the restart')
        got = set()
        while True:
            m = s.recv(3)
            if m is None:
                break
            if m.type != h.PUBLISH:
                continue
            got.add(m.payload[:5])
            if m.qos == 1:
                s.send(h.ack_pkt(h.PUBACK, m.pid))
        lost = [x for x in acked if x not in got]
        check(not lost, '%d of %d acknowledged messages lost: %s'
              % (len(lost), len(acked), lost[:10]))
        h.emit_note('%d messages acknowledged before the store filled '
                    '(message %d closed its publisher); %d delivered '
                    'after the restart' % (len(acked), refused, len(got)))
        s.close()
    finally:
        b.stop()


def emit_note(s):
    print('# ' + s)
    sys.stdout.flush()


h.emit_note = emit_note

if __name__ == '__main__':
    sys.exit(h.main(argparse.ArgumentParser(description=__doc__)))
