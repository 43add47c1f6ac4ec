#!/usr/bin/env python3
"""Black-box MQTT 3.1.1/3.1 protocol suite for any broker.

Usage:
    broker_protocol.py --broker-cmd PATH [--mode cairn|mosquitto]
                       [--only REGEX] [--keep] [-v]

Hand-encoded packets over raw loopback sockets (so that malformed ones can
be sent and the exact ack sequences checked), plus paho-mqtt for a few
round trips.  Each case starts its own broker on a free loopback port, with
a config written from the case's scenario (mosquitto.conf for
--mode mosquitto, the YAML of conf/broker.yaml for --mode cairn), and kills
it by pid when the case ends.  Output is TAP.

The expectations were proved against Debian's mosquitto 2.0.11:
    broker_protocol.py --broker-cmd mosquitto
passes every case.

Where mosquitto's behaviour is a choice the MQTT 3.1.1 spec leaves open,
the case says so in a comment marked "Cairn may differ"; only the spec's
requirement is asserted for Cairn there.

mosquitto 2.0.11 behaviours worth knowing (each asserted for --mode
mosquitto; where Cairn differs the case asserts Cairn's documented choice):
  * A wrong password or unknown user gets CONNACK 0x05 (not authorized),
    not 0x04, for 3.1.1 and 3.1 clients.  Cairn answers 0x04.
  * Keepalive expiry is checked only every few seconds: keepalive 1 and 2
    clients are closed after 4-6s, keepalive 4 after about 12s (the spec
    says 1.5x).  Cairn closes at 1.5x.
  * Overlapping subscriptions ('ov/#' QoS 0 and 'ov/b' QoS 1) give ONE
    copy at the highest QoS, whatever the order (allow_duplicate_messages
    is gone).  Cairn does the same; one copy per subscription would also
    pass for cairn.
  * A malformed SUBSCRIBE filter ('a/#/b', 'a+', '') closes the client, no
    SUBACK 0x80.  Cairn does the same (0x80 would also pass for cairn).
  * The will of a connection closed by a takeover is published.
  * An inbound QoS 2 message is delivered on PUBREL (Cairn: on PUBLISH).
  * Retained messages are sent to a new $share subscription (Cairn: not).
  * Client ids of any length are accepted, 3.1 too (Cairn: 3.1 ids past
    23 bytes and ids past max_client_id_length get CONNACK 2).
  * A QoS 0 PUBLISH with DUP set is delivered (Cairn closes the client).
  * '$share/g' (no filter) is taken as a plain filter (Cairn: 0x80).
  * max_connections N lets N+1 clients in (Cairn: N).
  * max_packet_size leaves out the remaining-length bytes: with 2048, a
    2050-byte packet passes (Cairn counts the whole packet: 2048).
  * Started as root it switches to user "mosquitto" (the harness writes
    `user root` so it can read the private scratch files).

Current failures against cairn-broker (commit b8443c6 to a73484f, built
with meson, run on this file's cases): none.  Every case passes; the two
password cases needed the passwd module, which has landed.
"""

import argparse
import os
import shutil
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
from mqtt_harness import (Broker, Conn, Closed, Fail, Skip, check, eq,  # noqa
                          test, uniq, connect_pkt, publish_pkt, ack_pkt,
                          subscribe_pkt, unsubscribe_pkt, fixed, mstr,
                          mqtt_connect, subscribe, publish, recv_publishes,
                          ping, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL,
                          PUBCOMP, SUBACK, UNSUBACK, PINGRESP)

QUIET = 0.4     # how long "nothing arrives" is watched


def no_publish(c, what, wait=QUIET):
    got = [p for p in c.drain(wait) if p.type == PUBLISH]
    eq(got, [], what)


# ------------------------------------------------------------ CONNECT/CONNACK

@test('connect_311_accepted')
def t_connect_311():
    with Broker() as b:
        c = Conn(b.port)
        c.send(connect_pkt(uniq('c')))
        p = c.expect(CONNACK, 'CONNACK')
        eq(p.raw, b'\x20\x02\x00\x00', 'CONNACK bytes')
        eq(ping(c), [], 'packets before PINGRESP')
        c.disconnect()


@test('connect_31_mqisdp_accepted')
def t_connect_31():
    with Broker() as b:
        c, sp = mqtt_connect(b.port, proto='MQIsdp', level=3)
        eq(sp, 0, 'session present')
        subscribe(c, [('v31/t', 1)])
        publish(c, 'v31/t', b'hello', qos=1)
        got = recv_publishes(c, 1)
        eq((got[0].topic, got[0].payload), ('v31/t', b'hello'), 'message')
        c.disconnect()


@test('connect_bad_protocol_level_0x01_then_close')
def t_bad_level():
    with Broker() as b:
        for proto, level in (('MQTT', 6), ('MQTT', 2), ('MQIsdp', 4)):
            c = Conn(b.port)
            c.send(connect_pkt(uniq('c'), proto=proto, level=level))
            got = c.wait_closed()
            eq([p.raw for p in got], [b'\x20\x02\x00\x01'],
               'packets before close for %s level %d' % (proto, level))


@test('connect_bad_protocol_name_closes')
def t_bad_name():
    with Broker() as b:
        c = Conn(b.port)
        c.send(connect_pkt(uniq('c'), proto='MQTX', level=4))
        got = c.wait_closed()
        # The spec allows a close with no CONNACK; mosquitto sends none.
        check(all(p.type == CONNACK and p.body[1] != 0 for p in got),
              'accepted a bad protocol name: %r' % got)


@test('connect_empty_id_persistent_0x02')
def t_empty_id_persistent():
    with Broker() as b:
        c = Conn(b.port)
        c.send(connect_pkt('', clean=False))
        got = c.wait_closed()
        eq([p.raw for p in got], [b'\x20\x02\x00\x02'],
           'packets before close')


@test('connect_empty_id_clean_accepted')
def t_empty_id_clean():
    with Broker() as b:
        c, sp = mqtt_connect(b.port, '', clean=True)
        eq(sp, 0, 'session present')
        subscribe(c, 'e/t')
        publish(c, 'e/t', b'x')
        eq(recv_publishes(c, 1)[0].payload, b'x', 'payload')
        c.disconnect()


@test('connect_31_empty_id_0x02')
def t_empty_id_31():
    with Broker() as b:
        c = Conn(b.port)
        c.send(connect_pkt('', clean=True, proto='MQIsdp', level=3))
        got = c.wait_closed()
        eq([p.raw for p in got], [b'\x20\x02\x00\x02'],
           'packets before close')


def make_passwd(entries):
    """A password file in mosquitto's format, by mosquitto_passwd."""
    tool = shutil.which('mosquitto_passwd')
    if not tool:
        raise Skip('no mosquitto_passwd')
    path = h.scratch(uniq('passwd'))
    first = True
    for user, pw in entries:
        args = [tool, '-b'] + (['-c'] if first else []) + [path, user, pw]
        rc, out, err = h.run_cmd(args)
        eq(rc, 0, 'mosquitto_passwd rc (%r)' % err)
        first = False
    return path


@test('connect_bad_password_0x04')
def t_bad_password():
    pw = make_passwd([('alice', 'secret')])
    with Broker(dict(allow_anonymous=False, password_file=pw)) as b:
        c, _ = mqtt_connect(b.port, username='alice', password='secret')
        c.disconnect()
        # 3.1.1 says 0x04 (bad user name or password).  mosquitto 2.0.11
        # answers 0x05 (not authorized) to a 3.1.1 or 3.1 client with a
        # wrong password or an unknown user: asserted as such for
        # mosquitto, 0x04 for cairn.
        want = 5 if h.mode() == 'mosquitto' else 4
        for user, pwd, lv in (('alice', 'wrong', 4), ('bob', 'secret', 4),
                              ('alice', '', 4), ('alice', None, 4),
                              ('alice', 'wrong', 3)):
            c = Conn(b.port)
            c.send(connect_pkt(uniq('c'), username=user, password=pwd,
                               level=lv,
                               proto='MQTT' if lv == 4 else 'MQIsdp'))
            got = c.wait_closed()
            eq([p.raw for p in got], [b'\x20\x02\x00' + bytes([want])],
               'CONNACK for %s/%s level %d' % (user, pwd, lv))


@test('connect_anonymous_refused_0x05')
def t_anon_refused():
    pw = make_passwd([('alice', 'secret')])
    with Broker(dict(allow_anonymous=False, password_file=pw)) as b:
        c = Conn(b.port)
        c.send(connect_pkt(uniq('c')))
        got = c.wait_closed()
        eq([p.raw for p in got], [b'\x20\x02\x00\x05'], 'packets before close')


@test('connect_keeps_client_working_after_refusals')
def t_refusal_isolated():
    with Broker() as b:
        good, _ = mqtt_connect(b.port)
        subscribe(good, 'iso/t')
        bad = Conn(b.port)
        bad.send(connect_pkt(uniq('c'), level=9))
        bad.wait_closed()
        publish(good, 'iso/t', b'still')
        eq(recv_publishes(good, 1)[0].payload, b'still', 'payload')
        good.disconnect()


@test('pingreq_pingresp')
def t_ping():
    with Broker() as b:
        c, _ = mqtt_connect(b.port)
        c.send(b'\xc0\x00')
        p = c.expect(PINGRESP, 'PINGRESP')
        eq(p.raw, b'\xd0\x00', 'PINGRESP bytes')
        c.disconnect()


# ------------------------------------------------------------------ QoS flows

@test('qos0_end_to_end')
def t_qos0():
    with Broker() as b:
        sub, _ = mqtt_connect(b.port)
        subscribe(sub, [('q0/t', 0)])
        pub, _ = mqtt_connect(b.port)
        pub.send(publish_pkt('q0/t', b'zero', 0))
        eq(ping(pub), [], 'publisher gets nothing for QoS 0')
        p = recv_publishes(sub, 1)[0]
        eq((p.topic, p.payload, p.qos, p.retain, p.dup),
           ('q0/t', b'zero', 0, 0, 0), 'delivered')
        eq(len(p.body), 2 + 4 + 4, 'QoS 0 PUBLISH carries no packet id')
        pub.disconnect()
        sub.disconnect()


@test('qos1_end_to_end_puback')
def t_qos1():
    with Broker() as b:
        sub, _ = mqtt_connect(b.port)
        subscribe(sub, [('q1/t', 1)])
        pub, _ = mqtt_connect(b.port)
        pub.send(publish_pkt('q1/t', b'one', 1, pid=4242))
        a = pub.expect(PUBACK, 'PUBACK')
        eq(a.raw, b'\x40\x02\x10\x92', 'PUBACK bytes')
        p = sub.expect(PUBLISH, 'delivery')
        eq((p.topic, p.payload, p.qos, p.dup), ('q1/t', b'one', 1, 0),
           'delivered')
        check(p.pid != 0, 'packet id 0')
        sub.send(ack_pkt(PUBACK, p.pid))
        eq(ping(sub), [], 'nothing more for the subscriber')
        pub.disconnect()
        sub.disconnect()


@test('qos2_end_to_end_both_directions')
def t_qos2():
    with Broker() as b:
        sub, _ = mqtt_connect(b.port)
        subscribe(sub, [('q2/t', 2)])
        pub, _ = mqtt_connect(b.port)
        pub.send(publish_pkt('q2/t', b'two', 2, pid=7))
        a = pub.expect(PUBREC, 'PUBREC')
        eq(a.raw, b'\x50\x02\x00\x07', 'PUBREC bytes')
        pub.send(ack_pkt(PUBREL, 7))
        a = pub.expect(PUBCOMP, 'PUBCOMP')
        eq(a.raw, b'\x70\x02\x00\x07', 'PUBCOMP bytes')
        p = sub.expect(PUBLISH, 'delivery')
        eq((p.topic, p.payload, p.qos, p.dup), ('q2/t', b'two', 2, 0),
           'delivered')
        sub.send(ack_pkt(PUBREC, p.pid))
        r = sub.expect(PUBREL, 'PUBREL to subscriber')
        eq(r.raw, b'\x62\x02' + struct.pack('>H', p.pid), 'PUBREL bytes')
        sub.send(ack_pkt(PUBCOMP, p.pid))
        eq(ping(sub), [], 'nothing more for the subscriber')
        eq(ping(pub), [], 'nothing more for the publisher')
        pub.disconnect()
        sub.disconnect()


@test('qos2_resent_publish_delivered_once')
def t_qos2_dup():
    with Broker() as b:
        sub, _ = mqtt_connect(b.port)
        subscribe(sub, [('q2d/t', 2)])
        pub, _ = mqtt_connect(b.port)
        pub.send(publish_pkt('q2d/t', b'once', 2, pid=9))
        pub.expect(PUBREC, 'PUBREC')
        # The sender did not see the PUBREC and sends again with DUP.
        pub.send(publish_pkt('q2d/t', b'once', 2, pid=9, dup=True))
        a = pub.expect(PUBREC, 'second PUBREC')
        eq(a.pid, 9, 'second PUBREC id')
        pub.send(ack_pkt(PUBREL, 9))
        pub.expect(PUBCOMP, 'PUBCOMP')
        got = recv_publishes(sub, 1)
        no_publish(sub, 'a second copy of a QoS 2 message')
        eq(got[0].payload, b'once', 'payload')
        pub.disconnect()
        sub.disconnect()


@test('qos_downgraded_to_subscription')
def t_qos_min():
    with Broker() as b:
        s0, _ = mqtt_connect(b.port)
        subscribe(s0, [('qm/t', 0)])
        s1, _ = mqtt_connect(b.port)
        subscribe(s1, [('qm/t', 1)])
        s2, _ = mqtt_connect(b.port)
        subscribe(s2, [('qm/t', 2)])
        pub, _ = mqtt_connect(b.port)
        for q in (0, 1, 2):
            publish(pub, 'qm/t', b'q%d' % q, qos=q)
        for c, sq in ((s0, 0), (s1, 1), (s2, 2)):
            got = recv_publishes(c, 3)
            eq([(p.payload, p.qos) for p in got],
               [(b'q%d' % q, min(q, sq)) for q in (0, 1, 2)],
               'QoS for a subscription at %d' % sq)
        for c in (s0, s1, s2, pub):
            c.disconnect()


@test('qos1_order_kept')
def t_order():
    with Broker() as b:
        sub, _ = mqtt_connect(b.port)
        subscribe(sub, [('ord/t', 1)])
        pub, _ = mqtt_connect(b.port)
        for i in range(50):
            pub.send(publish_pkt('ord/t', b'%d' % i, 1, pid=i + 1))
        acks = [pub.expect(PUBACK, 'PUBACK %d' % i).pid for i in range(50)]
        eq(acks, list(range(1, 51)), 'PUBACK order')
        got = recv_publishes(sub, 50, timeout=5.0)
        eq([p.payload for p in got], [b'%d' % i for i in range(50)], 'order')
        pub.disconnect()
        sub.disconnect()


@test('subscribe_several_filters_one_suback')
def t_multi_sub():
    with Broker() as b:
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('m/a', 0), ('m/b', 1), ('m/c', 2)])
        pub, _ = mqtt_connect(b.port)
        for t in ('m/a', 'm/b', 'm/c', 'm/d'):
            publish(pub, t, t, qos=2)
        got = recv_publishes(c, 3)
        eq(sorted((p.topic, p.qos) for p in got),
           [('m/a', 0), ('m/b', 1), ('m/c', 2)], 'deliveries')
        no_publish(c, 'm/d delivered')
        c.disconnect()
        pub.disconnect()


@test('resubscribe_replaces_qos')
def t_resub():
    with Broker() as b:
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('rs/t', 2)])
        subscribe(c, [('rs/t', 0)])
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'rs/t', b'x', qos=2)
        got = recv_publishes(c, 1)
        eq(got[0].qos, 0, 'QoS after resubscribe')
        no_publish(c, 'a second copy after resubscribe')
        c.disconnect()
        pub.disconnect()


# ----------------------------------------------------- redelivery and sessions

@test('dup_on_redelivery_qos1_and_qos2')
def t_dup():
    with Broker() as b:
        cid = uniq('dup')
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 0, 'first session present')
        subscribe(sub, [('dup/1', 1), ('dup/2', 2), ('dup/3', 2)])
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'dup/1', b'a', qos=1)
        publish(pub, 'dup/2', b'b', qos=2)
        publish(pub, 'dup/3', b'c', qos=2)
        got = recv_publishes(sub, 3, ack=False)
        byt = {p.topic: p for p in got}
        check(all(p.dup == 0 for p in got), 'DUP on first delivery: %r' % got)
        # Receive dup/3 up to PUBREC; leave dup/1 and dup/2 unacked.
        sub.send(ack_pkt(PUBREC, byt['dup/3'].pid))
        r = sub.expect(PUBREL, 'PUBREL for dup/3')
        eq(r.pid, byt['dup/3'].pid, 'PUBREL id')
        sub.close()
        time.sleep(0.2)
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present on reconnect')
        got2 = []
        deadline = time.monotonic() + h.IO_TIMEOUT
        while len(got2) < 3 and time.monotonic() < deadline:
            p = sub.recv(deadline - time.monotonic())
            if p is None:
                break
            got2.append(p)
        pubs = {p.topic: p for p in got2 if p.type == PUBLISH}
        rels = [p for p in got2 if p.type == PUBREL]
        eq(sorted(pubs), ['dup/1', 'dup/2'], 'PUBLISH resent (got %r)' % got2)
        for t in ('dup/1', 'dup/2'):
            eq((pubs[t].dup, pubs[t].pid, pubs[t].payload),
               (1, byt[t].pid, byt[t].payload), 'resent %s' % t)
        eq([r.pid for r in rels], [byt['dup/3'].pid],
           'PUBREL resent for the message past PUBREC')
        sub.send(ack_pkt(PUBACK, pubs['dup/1'].pid))
        sub.send(ack_pkt(PUBREC, pubs['dup/2'].pid))
        sub.expect(PUBREL, 'PUBREL for dup/2')
        sub.send(ack_pkt(PUBCOMP, pubs['dup/2'].pid))
        sub.send(ack_pkt(PUBCOMP, byt['dup/3'].pid))
        eq(ping(sub), [], 'nothing more after every ack')
        sub.disconnect()
        pub.disconnect()


@test('persistent_session_gets_offline_qos1')
def t_offline():
    with Broker() as b:
        cid = uniq('off')
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        subscribe(sub, [('off/t', 1)])
        sub.disconnect()
        pub, _ = mqtt_connect(b.port)
        for i in range(3):
            publish(pub, 'off/t', b'm%d' % i, qos=1)
        time.sleep(0.1)
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present')
        got = recv_publishes(sub, 3)
        eq([(p.payload, p.qos, p.dup) for p in got],
           [(b'm%d' % i, 1, 0) for i in range(3)], 'queued messages')
        # The subscription itself survived: a live publish still arrives.
        publish(pub, 'off/t', b'live', qos=1)
        eq(recv_publishes(sub, 1)[0].payload, b'live', 'live message')
        sub.disconnect()
        # A clean connect ends the session; session present is 0.
        sub, sp = mqtt_connect(b.port, cid, clean=True)
        eq(sp, 0, 'session present with clean session 1')
        sub.disconnect()
        pub.disconnect()


@test('clean_session_discards')
def t_clean_discards():
    with Broker() as b:
        cid = uniq('cl')
        sub, _ = mqtt_connect(b.port, cid, clean=False)
        subscribe(sub, [('cl/t', 1)])
        sub.disconnect()
        sub, sp = mqtt_connect(b.port, cid, clean=True)
        eq(sp, 0, 'session present with clean session 1')
        sub.disconnect()
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'cl/t', b'lost', qos=1)
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 0, 'session present after a clean session')
        no_publish(sub, 'message for a discarded subscription')
        # A clean-session 1 client's subscriptions end with the connection.
        c2id = uniq('cl2')
        c2, _ = mqtt_connect(b.port, c2id, clean=True)
        subscribe(c2, [('cl/u', 1)])
        c2.disconnect()
        publish(pub, 'cl/u', b'gone', qos=1)
        c2, sp = mqtt_connect(b.port, c2id, clean=False)
        eq(sp, 0, 'session present after clean 1')
        no_publish(c2, 'message for a clean session subscription')
        c2.disconnect()
        sub.disconnect()
        pub.disconnect()


@test('takeover_closes_first_connection')
def t_takeover():
    with Broker() as b:
        cid = uniq('take')
        first, _ = mqtt_connect(b.port, cid, clean=False)
        subscribe(first, [('take/t', 1)])
        second, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present for the taker')
        got = first.wait_closed()
        eq([p for p in got if p.type != PUBLISH], [], 'packets to the first')
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'take/t', b'to-second', qos=1)
        eq(recv_publishes(second, 1)[0].payload, b'to-second',
           'the session moved to the second connection')
        # Clean takeover too.
        third, sp = mqtt_connect(b.port, cid, clean=True)
        eq(sp, 0, 'session present for a clean taker')
        second.wait_closed()
        eq(ping(third), [], 'third connection works')
        third.disconnect()
        pub.disconnect()


@test('takeover_publishes_will_of_first')
def t_takeover_will():
    # 3.1.1 leaves this open; mosquitto 2.0.11 publishes the will of the
    # connection it closes for a takeover, and so does Cairn.
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('tw/#', 1)])
        cid = uniq('tw')
        first, _ = mqtt_connect(b.port, cid,
                                will=('tw/t', b'first-will', 1, False))
        second, _ = mqtt_connect(b.port, cid)
        first.wait_closed()
        got = recv_publishes(w, 1)
        eq(got[0].payload, b'first-will', 'will of the first connection')
        second.disconnect()
        no_publish(w, 'a will after the second DISCONNECT')
        w.disconnect()


@test('qos2_inbound_across_reconnect_delivered_once')
def t_qos2_reconnect():
    # The publisher goes away between PUBREC and PUBREL.  mosquitto
    # delivers on PUBREL; Cairn on PUBLISH (the spec's two methods): only
    # "exactly once in all" is asserted.
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('q2r/t', 2)])
        cid = uniq('q2r')
        c, _ = mqtt_connect(b.port, cid, clean=False)
        c.send(publish_pkt('q2r/t', b'once', 2, pid=5))
        c.expect(PUBREC, 'PUBREC')
        c.close()
        got = [p for p in w.drain(0.4) if p.type == PUBLISH]
        c, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present')
        c.send(publish_pkt('q2r/t', b'once', 2, pid=5, dup=True))
        eq(c.expect(PUBREC, 'PUBREC again').pid, 5, 'PUBREC id')
        c.send(ack_pkt(PUBREL, 5))
        eq(c.expect(PUBCOMP, 'PUBCOMP').pid, 5, 'PUBCOMP id')
        got += [p for p in w.drain(0.6) if p.type == PUBLISH]
        eq([p.payload for p in got], [b'once'], 'deliveries')
        c.disconnect()
        w.disconnect()


@test('unknown_ack_ids_tolerated')
def t_unknown_acks():
    with Broker() as b:
        c, _ = mqtt_connect(b.port)
        c.send(ack_pkt(PUBACK, 777) + ack_pkt(PUBCOMP, 779))
        c.send(ack_pkt(PUBREC, 778))
        eq(c.expect(PUBREL, 'PUBREL for an unknown PUBREC').pid, 778, 'id')
        c.send(ack_pkt(PUBREL, 780))
        eq(c.expect(PUBCOMP, 'PUBCOMP for an unknown PUBREL').pid, 780, 'id')
        eq(ping(c), [], 'still connected')
        c.disconnect()


@test('client_publish_to_sys_dropped')
def t_sys_publish():
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('$SYS/test/#', 1)])
        c, _ = mqtt_connect(b.port)
        publish(c, '$SYS/test/x', b'forged', qos=1)
        no_publish(w, 'a client publish on $SYS')
        eq(ping(c), [], 'publisher still connected')
        c.disconnect()
        w.disconnect()


@test('fragmented_and_coalesced_packets')
def t_fragments():
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('frag/#', 1)])
        c = Conn(b.port)
        data = (connect_pkt(uniq('frag')) +
                publish_pkt('frag/a', b'x' * 300, 1, pid=1))
        for i in range(len(data)):
            c.send(data[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.002)
        c.expect(CONNACK, 'CONNACK')
        c.expect(PUBACK, 'PUBACK')
        # Many packets in one write, the last one cut in two.
        burst = b''.join(publish_pkt('frag/b', b'%d' % i, 1, pid=10 + i)
                         for i in range(20))
        tail = publish_pkt('frag/c', b'tail', 1, pid=99)
        c.send(burst + tail[:5])
        time.sleep(0.1)
        c.send(tail[5:])
        acks = [c.expect(PUBACK, 'burst PUBACK').pid for _ in range(21)]
        eq(acks, list(range(10, 30)) + [99], 'PUBACK ids')
        got = recv_publishes(w, 22)
        eq([p.payload for p in got],
           [b'x' * 300] + [b'%d' % i for i in range(20)] + [b'tail'],
           'payloads')
        c.disconnect()
        w.disconnect()


@test('large_payload_and_long_topic')
def t_large():
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        topic = 'big/' + 'x' * 20000
        subscribe(w, [('big/#', 1)])
        c, _ = mqtt_connect(b.port)
        payload = bytes(range(256)) * 2048      # 512 KiB
        c.s.settimeout(10)
        publish(c, 'big/p', payload, qos=1)
        publish(c, topic, b'long topic', qos=1)
        got = recv_publishes(w, 2, timeout=10)
        eq((got[0].topic, len(got[0].payload), got[0].payload == payload),
           ('big/p', len(payload), True), 'large payload')
        eq((got[1].topic, got[1].payload), (topic, b'long topic'),
           'long topic')
        c.disconnect()
        w.disconnect()


@test('stalled_subscriber_does_not_block_others')
def t_stalled():
    with Broker() as b:
        stalled = Conn(b.port)
        stalled.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.send(connect_pkt(uniq('stall')))
        stalled.expect(CONNACK, 'CONNACK')
        subscribe(stalled, [('flood/#', 0)])
        other, _ = mqtt_connect(b.port)
        subscribe(other, [('calm/t', 1)])
        pub, _ = mqtt_connect(b.port)
        chunk = b''.join(publish_pkt('flood/t', b'z' * 4000)
                         for _ in range(100))
        pub.s.settimeout(15)
        t0 = time.monotonic()
        for _ in range(40):                     # 16 MB of QoS 0
            pub.send(chunk)
        publish(pub, 'calm/t', b'through', qos=1)
        eq(recv_publishes(other, 1, timeout=10)[0].payload, b'through',
           'the other subscriber')
        took = time.monotonic() - t0
        check(took < 15, 'flood and publish took %.1fs' % took)
        # The stalled client now reads: a valid packet stream (some QoS 0
        # messages may have been dropped for it).
        stalled.s.settimeout(5)
        n = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ps = stalled.drain(0.5)
            if not ps:
                break
            check(all(p.type == PUBLISH and p.topic == 'flood/t'
                      and len(p.payload) == 4000 for p in ps),
                  'stream for the stalled client: %r' % ps[:3])
            n += len(ps)
        check(n >= 1, 'the stalled client got nothing at all')
        for c in (stalled, other, pub):
            c.disconnect()


@test('anonymous_allowed_beside_password_file')
def t_anon_allowed_pw():
    pw = make_passwd([('alice', 'secret')])
    with Broker(dict(allow_anonymous=True, password_file=pw)) as b:
        c, _ = mqtt_connect(b.port)
        c.disconnect()
        c, _ = mqtt_connect(b.port, username='alice', password='secret')
        c.disconnect()
        want = 5 if h.mode() == 'mosquitto' else 4
        c = Conn(b.port)
        c.send(connect_pkt(uniq('c'), username='alice', password='nope'))
        eq([p.raw for p in c.wait_closed()],
           [b'\x20\x02\x00' + bytes([want])], 'bad password')


# ------------------------------------------------------------------- retained

@test('retained_set_replace_clear')
def t_retained():
    with Broker() as b:
        live, _ = mqtt_connect(b.port)
        subscribe(live, [('ret/t', 1)])
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'ret/t', b'one', qos=1, retain=True)
        p = recv_publishes(live, 1)[0]
        eq((p.payload, p.retain), (b'one', 0),
           'forwarded to a live subscriber with retain 0')
        publish(pub, 'ret/t', b'two', qos=1, retain=True)
        recv_publishes(live, 1)
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('ret/t', 1)])
        got = recv_publishes(c, 1)
        eq((got[0].payload, got[0].retain, got[0].qos), (b'two', 1, 1),
           'retained on subscribe (replaced)')
        no_publish(c, 'more than one retained message')
        # Subscribing again replays it.
        subscribe(c, [('ret/t', 0)])
        got = recv_publishes(c, 1)
        eq((got[0].payload, got[0].retain, got[0].qos), (b'two', 1, 0),
           'retained on a second subscribe')
        c.disconnect()
        # An empty retained payload clears; live subscribers still get it
        # (zero bytes, retain 0).
        publish(pub, 'ret/t', b'', qos=1, retain=True)
        p = recv_publishes(live, 1)[0]
        eq((p.payload, p.retain), (b'', 0), 'clearing publish forwarded')
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('ret/t', 1)])
        no_publish(c, 'a retained message after clearing')
        c.disconnect()
        live.disconnect()
        pub.disconnect()


@test('retained_wildcard_subscribe_and_qos0')
def t_retained_wild():
    with Broker() as b:
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'rw/a', b'A', qos=0, retain=True)
        publish(pub, 'rw/b/c', b'BC', qos=1, retain=True)
        publish(pub, 'rw/d', b'D', qos=2, retain=True)
        publish(pub, 'other', b'O', qos=1, retain=True)
        ping(pub)
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('rw/#', 2)])
        got = recv_publishes(c, 3)
        eq(sorted((p.topic, p.payload, p.qos, p.retain) for p in got),
           [('rw/a', b'A', 0, 1), ('rw/b/c', b'BC', 1, 1),
            ('rw/d', b'D', 2, 1)], 'retained matches')
        no_publish(c, 'non-matching retained')
        c2, _ = mqtt_connect(b.port)
        subscribe(c2, [('rw/+', 1)])
        got = recv_publishes(c2, 2)
        eq(sorted(p.topic for p in got), ['rw/a', 'rw/d'], 'rw/+ retained')
        for c_ in (c, c2, pub):
            c_.disconnect()


# ----------------------------------------------------------------------- will

@test('will_on_abrupt_close')
def t_will():
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('will/#', 2)])
        c, _ = mqtt_connect(b.port, will=('will/t', b'gone', 1, False))
        c.shutdown()
        got = recv_publishes(w, 1)
        eq((got[0].topic, got[0].payload, got[0].qos, got[0].retain),
           ('will/t', b'gone', 1, 0), 'will message')
        no_publish(w, 'a second will')
        w.disconnect()


@test('will_retained_kept')
def t_will_retained():
    with Broker() as b:
        c, _ = mqtt_connect(b.port, will=('willr/t', b'R', 0, True))
        c.shutdown()
        time.sleep(0.3)
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('willr/t', 1)])
        got = recv_publishes(w, 1)
        eq((got[0].payload, got[0].retain), (b'R', 1), 'retained will')
        w.disconnect()


@test('no_will_on_disconnect')
def t_no_will():
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('nowill/#', 1)])
        c, _ = mqtt_connect(b.port, will=('nowill/t', b'gone', 1, False))
        c.disconnect()
        no_publish(w, 'will after DISCONNECT', wait=0.8)
        w.disconnect()


@test('will_on_protocol_violation')
def t_will_violation():
    # A client closed by the broker for a malformed packet publishes its
    # will (3.1.1 section 3.1.2.5: "the Server closes the Network
    # Connection because of a protocol error").
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('willv/#', 1)])
        c, _ = mqtt_connect(b.port, will=('willv/t', b'bad', 0, False))
        c.send(publish_pkt('willv/+', b'x'))
        c.wait_closed()
        got = recv_publishes(w, 1)
        eq(got[0].payload, b'bad', 'will payload')
        w.disconnect()


@test('keepalive_expiry_closes_and_publishes_will', slow=True)
def t_keepalive():
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('ka/#', 1)])
        c, _ = mqtt_connect(b.port, keepalive=2,
                            will=('ka/t', b'expired', 1, False))
        t0 = time.monotonic()
        c.wait_closed(timeout=12.0)
        took = time.monotonic() - t0
        # 3.1.1 section 3.1.2.10: close after one and a half keepalives.
        # mosquitto 2.0.11 checks keepalives only every few seconds: it
        # closes a keepalive 2 client after about 6s (keepalive 1: 4-6s,
        # keepalive 4: 12s), so it gets a loose bound.  Cairn is held to
        # 1.5x (3s) with a little slack for a loaded machine.
        lo, hi = (2.0, 10.0) if h.mode() == 'mosquitto' else (2.7, 4.5)
        check(lo <= took <= hi, 'closed after %.2fs for keepalive 2 '
              '(want %.1f..%.1f)' % (took, lo, hi))
        got = recv_publishes(w, 1)
        eq(got[0].payload, b'expired', 'will payload')
        # A client that pings in time stays.
        k, _ = mqtt_connect(b.port, keepalive=1)
        for _ in range(4):
            time.sleep(0.6)
            ping(k, 'ping within keepalive')
        k.disconnect()
        w.disconnect()


# ------------------------------------------------------------------ wildcards

WILDCARD_FILTERS = ['#', '+', '+/+', 'a', 'a/#', 'a/+', 'a/b', 'a/+/c',
                    '+/b/#', '/+', '+/a', 'a//c', 'a/+/+', 'a/b/#', '+/#',
                    '/#', 'a/', 'a/b/c/#']
WILDCARD_TOPICS = ['a', 'a/b', 'a/b/c', 'a/b/c/d', '/a', 'a//c', 'a/',
                   '/', 'b', 'x/b/c']


def reference_match(f, t):
    fl, tl = f.split('/'), t.split('/')
    for i, part in enumerate(fl):
        if part == '#':
            return True
        if i >= len(tl):
            return False
        if part != '+' and part != tl[i]:
            return False
    return len(fl) == len(tl)


@test('wildcard_matrix')
def t_wildcards():
    with Broker() as b:
        subs = {}
        for f in WILDCARD_FILTERS:
            c, _ = mqtt_connect(b.port)
            subscribe(c, [(f, 1)])
            subs[f] = c
        pub, _ = mqtt_connect(b.port)
        for t in WILDCARD_TOPICS:
            publish(pub, t, t, qos=1)
        bad = []
        for f, c in subs.items():
            want = sorted(t for t in WILDCARD_TOPICS if reference_match(f, t))
            got = sorted(p.topic for p in c.drain(QUIET))
            if got != want:
                bad.append('%r: got %r, want %r' % (f, got, want))
            c.disconnect()
        check(not bad, 'wrong deliveries:\n' + '\n'.join(bad))
        # Spot checks of the rules the reference encodes.
        check(reference_match('a/#', 'a'), 'a/# matches its parent a')
        check(not reference_match('+', '/a'), '+ does not match /a')
        pub.disconnect()


@test('retained_wildcard_matrix')
def t_retained_matrix():
    # The same filters and topics as wildcard_matrix, through the retained
    # store: each filter, subscribed after every topic was retained, gets
    # exactly the retained messages it matches.
    with Broker() as b:
        pub, _ = mqtt_connect(b.port)
        for t in WILDCARD_TOPICS:
            publish(pub, t, t, qos=1, retain=True)
        bad = []
        for f in WILDCARD_FILTERS:
            c, _ = mqtt_connect(b.port)
            subscribe(c, [(f, 1)])
            want = sorted(t for t in WILDCARD_TOPICS if reference_match(f, t))
            ps = [p for p in c.drain(QUIET) if p.type == PUBLISH]
            got = sorted(p.topic for p in ps)
            if got != want:
                bad.append('%r: got %r, want %r' % (f, got, want))
            if any(not p.retain or p.payload != p.topic.encode()
                   for p in ps):
                bad.append('%r: %r' % (f, ps))
            c.disconnect()
        check(not bad, 'wrong retained deliveries:\n' + '\n'.join(bad))
        pub.disconnect()


@test('dollar_topics_not_matched_by_leading_wildcards')
def t_sys_wild():
    with Broker(dict(sys_interval=1)) as b:
        filters = ['#', '+/broker/#', '+/+/+', '+/#', '$SYS/#']
        subs = {}
        for f in filters:
            c, _ = mqtt_connect(b.port)
            subscribe(c, [(f, 0)])
            subs[f] = c
        got = {}
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            for f, c in subs.items():
                for p in c.drain(0.05):
                    got.setdefault(f, []).append(p.topic)
            if got.get('$SYS/#'):
                break
        check(got.get('$SYS/#'), 'nothing on $SYS/# within 3.5s')
        for f in filters[:-1]:
            got.setdefault(f, []).extend(p.topic for p in subs[f].drain(0.3))
            eq([t for t in got.get(f, []) if t.startswith('$')], [],
               '$ topics delivered to %r' % f)
        for c in subs.values():
            c.disconnect()


@test('overlapping_subscriptions')
def t_overlap():
    # mosquitto 2.0.11 sends ONE copy, at the highest QoS of the matching
    # subscriptions (whatever their order).  3.1.1 section 3.3.5 allows
    # that or one copy per subscription.  Cairn may differ: for cairn
    # "one copy at QoS 1, or two copies at QoS 0 and 1" is accepted.
    with Broker() as b:
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('ov/#', 0), ('ov/b', 1)])
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'ov/b', b'x', qos=2)
        got = recv_publishes(c, 1)
        got += [p for p in c.drain(QUIET) if p.type == PUBLISH]
        for p in got:
            if p.qos == 1:
                c.send(ack_pkt(PUBACK, p.pid))
        qs = sorted(p.qos for p in got)
        if h.mode() == 'mosquitto':
            eq(qs, [1], 'QoS of the copies')
        else:
            check(1 <= len(qs) <= 2 and qs[-1] == 1,
                  'copies at QoS %r (want [1] or [0, 1])' % qs)
        # A publish matching only one of them arrives once.
        publish(pub, 'ov/c', b'y', qos=1)
        got = recv_publishes(c, 1) + [p for p in c.drain(QUIET)
                                      if p.type == PUBLISH]
        eq([(p.topic, p.qos) for p in got], [('ov/c', 0)], 'ov/c')
        c.disconnect()
        pub.disconnect()


@test('shared_subscription_one_member_per_message')
def t_shared():
    with Broker() as b:
        members = []
        for _ in range(3):
            c, _ = mqtt_connect(b.port)
            subscribe(c, [('$share/g1/sh/t', 1)])
            members.append(c)
        other, _ = mqtt_connect(b.port)
        subscribe(other, [('$share/g2/sh/+', 1)])
        plain, _ = mqtt_connect(b.port)
        subscribe(plain, [('sh/t', 1)])
        pub, _ = mqtt_connect(b.port)
        n = 30
        for i in range(n):
            publish(pub, 'sh/t', b'%d' % i, qos=1)
        counts = []
        seen = []
        for c in members:
            ps = c.drain(0.6)
            for p in ps:
                if p.type == PUBLISH and p.qos == 1:
                    c.send(ack_pkt(PUBACK, p.pid))
            ps = [p for p in ps if p.type == PUBLISH]
            counts.append(len(ps))
            seen += [p.payload for p in ps]
            check(all(p.topic == 'sh/t' for p in ps),
                  'topic of a shared delivery: %r' % ps)
        eq(sorted(seen, key=int), [b'%d' % i for i in range(n)],
           'group g1 got each message once (counts %r)' % counts)
        check(all(k >= 1 for k in counts),
              'a member of g1 got nothing: %r' % counts)
        eq(len(recv_publishes(other, n)), n, 'group g2 (one member)')
        eq(len(recv_publishes(plain, n)), n, 'plain subscriber')
        no_publish(plain, 'extra copies to the plain subscriber')
        # Unsubscribing a member moves its share to the others.
        members[0].send(unsubscribe_pkt(99, ['$share/g1/sh/t']))
        members[0].expect(UNSUBACK, 'UNSUBACK')
        for i in range(6):
            publish(pub, 'sh/t', b'u%d' % i, qos=0)
        no_publish(members[0], 'delivery after unsubscribing the share')
        k = sum(len([p for p in c.drain(0.3) if p.type == PUBLISH])
                for c in members[1:])
        eq(k, 6, 'remaining members got every message once')
        for c in members + [other, plain, pub]:
            c.disconnect()


@test('shared_subscription_and_retained')
def t_shared_retained():
    # mosquitto 2.0.11 sends retained messages to a new $share
    # subscription; Cairn does not (as MQTT 5 section 4.8.2 says).  Both
    # asserted per mode.
    with Broker() as b:
        p, _ = mqtt_connect(b.port)
        publish(p, 'shr/t', b'ret', qos=1, retain=True)
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('$share/g/shr/t', 1)])
        got = [(x.payload, x.retain) for x in c.drain(QUIET)
               if x.type == PUBLISH]
        eq(got, [(b'ret', 1)] if h.mode() == 'mosquitto' else [],
           'retained to a shared subscription')
        c.disconnect()
        p.disconnect()


@test('client_id_length_limits')
def t_client_id_len():
    # mosquitto 2.0.11 accepts any length, for 3.1 too.  Cairn refuses
    # (CONNACK 2) a 3.1 id past 23 bytes (3.1 section 3.1) and any id
    # past max_client_id_length (256 by default).
    cairn = h.mode() == 'cairn'
    with Broker() as b:
        for cid, proto, lv, want in (
                ('y' * 23, 'MQIsdp', 3, 0),
                ('y' * 24, 'MQIsdp', 3, 2 if cairn else 0),
                ('z' * 256, 'MQTT', 4, 0),
                ('z' * 1000, 'MQTT', 4, 2 if cairn else 0)):
            c = Conn(b.port)
            c.send(connect_pkt(cid, proto=proto, level=lv))
            a = c.expect(CONNACK, 'CONNACK')
            eq(a.body[1], want, 'CONNACK for a %d-byte %s id'
               % (len(cid), proto))
            c.close()


@test('publish_qos0_with_dup')
def t_qos0_dup():
    # 3.1.1 MQTT-3.3.1-2: DUP must be 0 on QoS 0.  mosquitto 2.0.11
    # ignores the flag and delivers; Cairn closes the client.
    with Broker() as b:
        w, _ = mqtt_connect(b.port)
        subscribe(w, [('d0/t', 0)])
        c, _ = mqtt_connect(b.port)
        c.send(publish_pkt('d0/t', b'x', 0, dup=True))
        if h.mode() == 'mosquitto':
            eq(ping(c), [], 'still connected')
            eq(recv_publishes(w, 1)[0].dup, 0, 'DUP forwarded')
        else:
            eq(c.wait_closed(), [], 'packets before close')
            no_publish(w, 'delivered')
        w.disconnect()


@test('unsubscribe_stops_delivery')
def t_unsub():
    with Broker() as b:
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('un/a', 1), ('un/b', 1)])
        pub, _ = mqtt_connect(b.port)
        c.send(unsubscribe_pkt(321, ['un/a', 'un/never']))
        a = c.expect(UNSUBACK, 'UNSUBACK')
        eq(a.raw, b'\xb0\x02\x01\x41', 'UNSUBACK bytes')
        publish(pub, 'un/a', b'a', qos=1)
        publish(pub, 'un/b', b'b', qos=1)
        got = recv_publishes(c, 1)
        eq(got[0].topic, 'un/b', 'still subscribed to un/b')
        no_publish(c, 'un/a after unsubscribe')
        c.disconnect()
        pub.disconnect()


@test('subscribe_invalid_filter')
def t_bad_filter():
    # 3.1.1 section 4.7.3 / 4.8: a malformed filter ('a/#/b', 'a+', '#a',
    # '') is a protocol violation; mosquitto 2.0.11 closes the connection
    # without a SUBACK.  (A broker may instead answer SUBACK 0x80; both are
    # accepted for cairn, the close is asserted for mosquitto.)
    with Broker() as b:
        for f in ('a/#/b', 'a+', '#a', 'a/b#', ''):
            c, _ = mqtt_connect(b.port)
            c.send(subscribe_pkt(5, [(f, 0)]))
            try:
                p = c.recv(h.IO_TIMEOUT)
            except Closed:
                p = 'closed'
            if p == 'closed':
                continue
            check(p is not None, 'filter %r: neither SUBACK nor close' % f)
            if h.mode() == 'mosquitto':
                raise Fail('filter %r: mosquitto answered %r' % (f, p))
            eq(p.raw, b'\x90\x03\x00\x05\x80', 'SUBACK for filter %r' % f)
            c.disconnect()


# ------------------------------------------------------------ malformed input

def malformed_case(name, pre_connect, data, scenario=None):
    """Send data (after CONNECT unless pre_connect) and expect only that
    client to be closed with no reply; a bystander keeps working."""
    @test('malformed_' + name)
    def t():
        with Broker(scenario) as b:
            by, _ = mqtt_connect(b.port)
            subscribe(by, [('by/t', 1)])
            c = Conn(b.port)
            if not pre_connect:
                c.send(connect_pkt(uniq('bad')))
                c.expect(CONNACK, 'CONNACK')
            try:
                c.send(data)
            except Closed:
                pass
            got = c.wait_closed()
            eq(got, [], 'packets before close')
            publish(by, 'by/t', b'alive', qos=1)
            eq(recv_publishes(by, 1)[0].payload, b'alive', 'bystander')
            by.disconnect()
    return t


def raw_sub(flags, filt=b'\x00\x03a/b\x00'):
    return fixed(8, flags, b'\x00\x01' + filt)


def pub_raw_topic(topic_bytes, flags=0, payload=b'x'):
    return fixed(3, flags, struct.pack('>H', len(topic_bytes)) + topic_bytes
                 + payload)


for _name, _pre, _data in [
        ('remaining_length_5_bytes', False, b'\x30\xff\xff\xff\xff\x01'),
        ('subscribe_flags_0000', False, raw_sub(0)),
        ('subscribe_flags_0011', False, raw_sub(3)),
        ('unsubscribe_flags_0000', False,
         fixed(10, 0, b'\x00\x01\x00\x03a/b')),
        ('pubrel_flags_0000', False, fixed(6, 0, b'\x00\x01')),
        ('subscribe_no_filters', False, fixed(8, 2, b'\x00\x01')),
        ('subscribe_qos_3', False, raw_sub(2, b'\x00\x03a/b\x03')),
        ('subscribe_packet_id_0', False, fixed(8, 2, b'\x00\x00\x00\x01a\x00')),
        ('publish_qos_3', False, pub_raw_topic(b'a/b', flags=6)),
        ('publish_qos1_packet_id_0', False,
         fixed(3, 2, b'\x00\x03a/b\x00\x00x')),
        ('publish_wildcard_plus', False, pub_raw_topic(b'a/+')),
        ('publish_wildcard_hash', False, pub_raw_topic(b'a/#')),
        ('publish_topic_invalid_utf8', False, pub_raw_topic(b'a/\xff\xfe')),
        ('publish_topic_nul', False, pub_raw_topic(b'a/\x00b')),
        ('publish_topic_surrogate', False, pub_raw_topic(b'a/\xed\xa0\x80')),
        ('publish_topic_too_long_for_packet', False,
         fixed(3, 0, b'\x00\x40a/b')),
        ('packet_type_0', False, b'\x00\x00'),
        ('packet_type_15', False, b'\xf0\x00'),
        ('publish_before_connect', True, pub_raw_topic(b'a/b')),
        ('subscribe_before_connect', True, raw_sub(2)),
        ('pingreq_before_connect', True, b'\xc0\x00'),
        ('second_connect', False, connect_pkt('again')),
        ('connect_reserved_flag', True,
         connect_pkt(uniq('r'), flags_extra=0x01)),
        ('connect_will_qos_without_will', True,
         connect_pkt(uniq('w'), flags_extra=0x08)),
        ('connect_will_qos_3', True,
         connect_pkt(uniq('w'), will=('w/t', b'x', 3, False))),
        ('connect_password_without_username', True,
         connect_pkt(uniq('p'), password='pw')),
        ('connect_client_id_invalid_utf8', True,
         fixed(1, 0, mstr('MQTT') + b'\x04\x02\x00\x3c\x00\x02\xc3\x28')),
        ('connect_truncated', True, fixed(1, 0, mstr('MQTT') + b'\x04')),
        ('connect_will_topic_wildcard', True,
         connect_pkt(uniq('w'), will=('w/+', b'x', 0, False))),
        ('connect_will_topic_empty', True,
         connect_pkt(uniq('w'), will=('', b'x', 0, False))),
        ('connect_will_topic_nul', True,
         connect_pkt(uniq('w'), will=('w/\x00', b'x', 0, False))),
        ('publish_empty_topic', False, pub_raw_topic(b'')),
        ('subscribe_filter_past_packet', False,
         fixed(8, 2, b'\x00\x01\x00\x20a/b\x00')),
]:
    malformed_case(_name, _pre, _data)


@test('max_packet_size_exceeded_closes')
def t_max_packet():
    with Broker(dict(max_packet_size=2048)) as b:
        by, _ = mqtt_connect(b.port)
        subscribe(by, [('mp/#', 1)])
        c, _ = mqtt_connect(b.port)
        publish(c, 'mp/small', b'x' * 1500, qos=1)
        eq(recv_publishes(by, 1)[0].payload, b'x' * 1500, 'under the limit')
        try:
            c.send(publish_pkt('mp/big', b'y' * 4000, 1, pid=3))
        except Closed:
            pass
        got = c.wait_closed()
        eq([p for p in got if p.type == PUBACK], [], 'PUBACK past the limit')
        no_publish(by, 'a message past the limit')
        # A declared length past the limit closes before any body comes.
        d, _ = mqtt_connect(b.port)
        d.send(b'\x30' + h.varint(1000000))
        d.wait_closed()
        publish(by, 'mp/after', b'ok', qos=1)
        eq(recv_publishes(by, 1)[0].payload, b'ok', 'bystander')
        by.disconnect()


@test('max_packet_size_boundary')
def t_max_packet_boundary():
    # Cairn counts the whole packet, fixed header included (as MQTT 5's
    # Maximum Packet Size): 2048 passes, 2049 closes.  mosquitto 2.0.11
    # counts the first byte and the remaining length but not the length
    # bytes: with a 2-byte length, 2050 passes and 2051 closes.
    last_ok = 2050 if h.mode() == 'mosquitto' else 2048
    with Broker(dict(max_packet_size=2048)) as b:
        for total in (last_ok - 1, last_ok, last_ok + 1):
            c, _ = mqtt_connect(b.port)
            pk = publish_pkt('m/p', b'x' * (total - 3 - 7), 1, pid=1)
            eq(len(pk), total, 'packet size')
            c.send(pk)
            if total <= last_ok:
                eq(c.expect(PUBACK, 'PUBACK for %d bytes' % total).pid, 1,
                   'PUBACK id')
                c.disconnect()
            else:
                eq(c.wait_closed(), [], 'packets before close for %d bytes'
                   % total)


@test('max_inflight_limits_unacked_deliveries')
def t_inflight():
    with Broker(dict(max_inflight=3, max_queued_messages=100)) as b:
        sub, _ = mqtt_connect(b.port)
        subscribe(sub, [('inf/t', 1)])
        pub, _ = mqtt_connect(b.port)
        for i in range(10):
            publish(pub, 'inf/t', b'%d' % i, qos=1)
        first = [p for p in sub.drain(0.6) if p.type == PUBLISH]
        eq([p.payload for p in first], [b'0', b'1', b'2'],
           'deliveries before any PUBACK')
        got = list(first)
        deadline = time.monotonic() + 5.0
        while len(got) < 10 and time.monotonic() < deadline:
            for p in first:
                sub.send(ack_pkt(PUBACK, p.pid))
            first = [p for p in sub.drain(0.3) if p.type == PUBLISH]
            got += first
        eq([p.payload for p in got], [b'%d' % i for i in range(10)],
           'every message, in order, as acks came')
        sub.disconnect()
        pub.disconnect()


@test('max_queued_messages_bounds_offline_queue')
def t_queued():
    # mosquitto drops new messages (not old ones) once an offline client
    # holds max_queued_messages.  Cairn may differ on which ones are kept;
    # for cairn only the bound is asserted.
    with Broker(dict(max_inflight=2, max_queued_messages=5)) as b:
        cid = uniq('q')
        sub, _ = mqtt_connect(b.port, cid, clean=False)
        subscribe(sub, [('mq/t', 1)])
        sub.disconnect()
        pub, _ = mqtt_connect(b.port)
        for i in range(30):
            publish(pub, 'mq/t', b'%d' % i, qos=1)
        ping(pub)
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present')
        got = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            ps = [p for p in sub.drain(0.4) if p.type == PUBLISH]
            if not ps:
                break
            for p in ps:
                sub.send(ack_pkt(PUBACK, p.pid))
            got += ps
        n = len(got)
        if h.mode() == 'mosquitto':
            eq([p.payload for p in got], [b'%d' % i for i in range(n)],
               'kept messages are the oldest, in order')
            check(5 <= n <= 7, '%d messages kept for max_queued 5' % n)
        else:
            check(1 <= n <= 7, '%d messages kept for max_queued 5 '
                  '(+ max_inflight 2)' % n)
        publish(pub, 'mq/t', b'later', qos=1)
        eq(recv_publishes(sub, 1)[0].payload, b'later', 'live after drain')
        sub.disconnect()
        pub.disconnect()


@test('resumed_queue_then_live_messages_in_order')
def t_resume_order():
    with Broker(dict(max_inflight=2, max_queued_messages=100)) as b:
        cid = uniq('ro')
        sub, _ = mqtt_connect(b.port, cid, clean=False)
        subscribe(sub, [('ro/t', 1)])
        sub.disconnect()
        pub, _ = mqtt_connect(b.port)
        for i in range(10):
            publish(pub, 'ro/t', b'%d' % i, qos=1)
        sub, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present')
        first = recv_publishes(sub, 2, ack=False)
        for i in range(10, 15):
            publish(pub, 'ro/t', b'%d' % i, qos=1)
        for p in first:
            sub.send(ack_pkt(PUBACK, p.pid))
        got = first + recv_publishes(sub, 13, timeout=5)
        eq([p.payload for p in got], [b'%d' % i for i in range(15)],
           'queued then live, in order')
        no_publish(sub, 'extra copies')
        sub.disconnect()
        pub.disconnect()


@test('takeover_resends_unacked_with_dup')
def t_takeover_inflight():
    with Broker() as b:
        cid = uniq('ti')
        first, _ = mqtt_connect(b.port, cid, clean=False)
        subscribe(first, [('ti/t', 1)])
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'ti/t', b'unacked', qos=1)
        p1 = recv_publishes(first, 1, ack=False)[0]
        second, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present')
        first.wait_closed()
        p2 = recv_publishes(second, 1)[0]
        eq((p2.payload, p2.dup, p2.pid), (b'unacked', 1, p1.pid),
           'resent to the taker')
        no_publish(second, 'a second resend')
        second.disconnect()
        pub.disconnect()


@test('keepalive_expiry_keeps_persistent_session', slow=True)
def t_keepalive_session():
    with Broker() as b:
        cid = uniq('kps')
        c, _ = mqtt_connect(b.port, cid, clean=False, keepalive=1)
        subscribe(c, [('kps/t', 1)])
        c.wait_closed(timeout=10.0)
        pub, _ = mqtt_connect(b.port)
        publish(pub, 'kps/t', b'kept', qos=1)
        c, sp = mqtt_connect(b.port, cid, clean=False)
        eq(sp, 1, 'session present after a keepalive close')
        eq(recv_publishes(c, 1)[0].payload, b'kept', 'queued message')
        c.disconnect()
        pub.disconnect()


@test('max_connections_refuses_the_extra_one')
def t_max_conn():
    # mosquitto 2.0.11 is off by one: max_connections 5 lets a sixth
    # client in and refuses the seventh (closed at accept).  Cairn: five.
    room = 6 if h.mode() == 'mosquitto' else 5
    with Broker(dict(max_connections=5)) as b:
        held = []
        for i in range(room):
            c, _ = mqtt_connect(b.port)
            held.append(c)
        extra = Conn(b.port)
        try:
            extra.send(connect_pkt(uniq('extra')))
            got = extra.wait_closed()
        except Closed:
            got = []
        check(all(p.type == CONNACK and p.body[1] != 0 for p in got),
              'connection %d was accepted: %r' % (room + 1, got))
        for c in held:
            eq(ping(c), [], 'a held connection')
        held.pop().disconnect()
        time.sleep(0.3)
        c, _ = mqtt_connect(b.port)
        held.append(c)
        for c in held:
            c.disconnect()


# ------------------------------------------------------------------------ $SYS

@test('sys_clients_connected_published')
def t_sys():
    with Broker(dict(sys_interval=1)) as b:
        extra = [mqtt_connect(b.port)[0] for _ in range(3)]
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('$SYS/broker/clients/#', 0)])
        deadline = time.monotonic() + 4.0
        seen = {}
        while time.monotonic() < deadline:
            for p in c.drain(0.2):
                if p.type == PUBLISH:
                    seen[p.topic] = p.payload
            v = seen.get('$SYS/broker/clients/connected',
                         seen.get('$SYS/broker/clients/active'))
            if v is not None and v.strip().isdigit() and int(v) >= 4:
                break
        v = seen.get('$SYS/broker/clients/connected',
                     seen.get('$SYS/broker/clients/active'))
        check(v is not None and v.strip().isdigit() and int(v) >= 4,
              '$SYS/broker/clients/connected not >= 4 within 4s; seen %r'
              % seen)
        for x in extra + [c]:
            x.disconnect()


# mosquitto 2.0's $SYS/broker/ tree, as Debian's mosquitto publishes it
# with sys_interval 1 (mosquitto_sub -t '$SYS/#' -v).
SYS_TREE = ['bytes/received', 'bytes/sent', 'clients/active',
            'clients/connected', 'clients/disconnected', 'clients/expired',
            'clients/inactive', 'clients/maximum', 'clients/total',
            'heap/current', 'heap/maximum', 'messages/received',
            'messages/sent', 'messages/stored', 'publish/bytes/received',
            'publish/bytes/sent', 'publish/messages/dropped',
            'publish/messages/received', 'publish/messages/sent',
            'retained messages/count', 'shared_subscriptions/count',
            'store/messages/bytes',
            'store/messages/count', 'subscriptions/count', 'uptime',
            'version'] + [
    'load/%s/%s' % (k, w)
    for k in ('bytes/received', 'bytes/sent', 'connections',
              'messages/received', 'messages/sent', 'publish/dropped',
              'publish/received', 'publish/sent', 'sockets')
    for w in ('1min', '5min', '15min')]


@test('sys_tree_has_mosquittos_names')
def t_sys_tree():
    with Broker(dict(sys_interval=1)) as b:
        p, _ = mqtt_connect(b.port)
        payload = b'x' * 1000
        for _ in range(5):
            p.send(publish_pkt('sys/tree', payload, qos=0))
        eq(ping(p), [], 'publisher')
        c, _ = mqtt_connect(b.port)
        subscribe(c, [('$share/g/sys/tree/#', 0)])
        subscribe(c, [('$SYS/broker/#', 0)])
        deadline = time.monotonic() + 5.0
        seen = {}
        while time.monotonic() < deadline:
            for q in c.drain(0.2):
                if q.type == PUBLISH and q.topic.startswith('$SYS/broker/'):
                    seen[q.topic[len('$SYS/broker/'):]] = q.payload
            v = seen.get('load/publish/received/1min')
            if (all(t in seen for t in SYS_TREE) and v is not None and
                    float(v) > 0 and
                    seen['shared_subscriptions/count'] == b'1'):
                break
        missing = [t for t in SYS_TREE if t not in seen]
        check(not missing, 'not published: %r' % missing)
        for t in SYS_TREE:
            if t.startswith('load/'):
                float(seen[t])      # a number, as mosquitto's "%.2f"
        check(float(seen['load/publish/received/1min']) > 0,
              'load/publish/received/1min %r after 5 publishes'
              % seen['load/publish/received/1min'])
        eq(seen['shared_subscriptions/count'], b'1',
           'shared_subscriptions/count with one $share member')
        check(int(seen['publish/bytes/received']) >= 5000,
              'publish/bytes/received %r after 5000 payload bytes'
              % seen['publish/bytes/received'])
        # (Under ASan, glibc's mallinfo2 counts nothing: both are 0.)
        check(int(seen['heap/maximum']) >= int(seen['heap/current']),
              'heap/maximum %r, heap/current %r'
              % (seen['heap/maximum'], seen['heap/current']))
        p.disconnect()
        c.disconnect()


# ---------------------------------------------------------------------- paho

def paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise Skip('no paho-mqtt')
    return mqtt


def paho_roundtrip(proto_name):
    mqtt = paho()
    proto = mqtt.MQTTv311 if proto_name == '311' else mqtt.MQTTv31
    with Broker() as b:
        got = []
        cv = threading.Condition()
        sub = mqtt.Client(client_id=uniq('ps'), protocol=proto)
        pub = mqtt.Client(client_id=uniq('pp'), protocol=proto)
        subscribed = threading.Event()

        def on_message(cl, ud, m):
            with cv:
                got.append((m.topic, m.payload, m.qos, m.retain))
                cv.notify_all()
        sub.on_message = on_message
        sub.on_subscribe = lambda *a: subscribed.set()
        try:
            sub.connect('127.0.0.1', b.port, keepalive=30)
            sub.loop_start()
            sub.subscribe('paho/#', qos=2)
            check(subscribed.wait(h.IO_TIMEOUT), 'paho SUBACK')
            pub.connect('127.0.0.1', b.port, keepalive=30)
            pub.loop_start()
            infos = [pub.publish('paho/q%d' % q, b'm%d' % q, qos=q)
                     for q in (0, 1, 2)]
            for i in infos:
                i.wait_for_publish(timeout=h.IO_TIMEOUT) \
                    if 'timeout' in i.wait_for_publish.__code__.co_varnames \
                    else None
            with cv:
                cv.wait_for(lambda: len(got) >= 3, timeout=h.IO_TIMEOUT)
            eq(sorted(got), [('paho/q%d' % q, b'm%d' % q, q, 0)
                             for q in (0, 1, 2)], 'paho deliveries')
            check(all(i.is_published() for i in infos), 'paho acks')
        finally:
            for cl in (sub, pub):
                try:
                    cl.disconnect()
                except Exception:
                    pass
                cl.loop_stop()


@test('paho_roundtrip_mqttv311')
def t_paho311():
    paho_roundtrip('311')


@test('paho_roundtrip_mqttv31')
def t_paho31():
    paho_roundtrip('31')


if __name__ == '__main__':
    sys.exit(h.main(argparse.ArgumentParser(
        description=__doc__.split('\n')[0])))
