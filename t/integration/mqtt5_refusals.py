#!/usr/bin/env python3
"""MQTT 5.0 refusals on the wire: each malformed or forbidden packet gets
the reason code the standard gives it (issue 13).

Usage:
    mqtt5_refusals.py --broker-cmd PATH [--mode cairn|mosquitto]
                      [--only REGEX] [--keep] [-v] [--deadline S]

Raw bytes over loopback sockets, no client library: every packet below
is written out byte by byte from the OASIS MQTT 5.0 standard (2019),
so that the broker's codec cannot agree with itself.  After a valid
5.0 CONNECT each case sends one bad packet and expects a DISCONNECT
with the reason code (0x81 malformed, 0x82 protocol error, 0x94 topic
alias invalid, 0x95 packet too large, 0x93 receive maximum exceeded),
then the close; a bad CONNECT expects a CONNACK with the code.  With
shared_subscriptions, wildcard_subscriptions and subscription_identifiers
false, CONNACK says 0 for each, the filters that need them get SUBACK
0x9E / 0xA2 (0x80 at 3.1.1) and an identifier DISCONNECT 0xA1.  Reason
strings: on the refusing PUBACK and SUBACK only while Request Problem
Information is 1 (or absent), on CONNACK and DISCONNECT always, none
past the client's Maximum Packet Size, never a User Property.  The same
bytes from a 3.1.1 client are closed without any DISCONNECT (3.1.1 has
none from a server).  One broker per case (mqtt_harness.py), stopped by
pid.  Output is TAP.

Run against Debian's mosquitto 2.0.11 (--broker-cmd mosquitto), about
half the cases differ: it closes without a DISCONNECT for a duplicate
property, bad UTF-8, a second CONNECT, AUTH or a bad PUBREL; says 0x81
where the standard says protocol error (retain handling 3, subscription
identifier 0, SUBSCRIBE without a filter) and for topic alias 0 (0x94);
and ignores a payload format of 2, a client's subscription identifier,
an undefined PUBACK reason code, PINGRESP from a client, no local on a
shared subscription and a receive maximum exceeded.  Only cairn-broker
runs it in the suite.
"""

import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import broker_mqtt5_wire as w  # noqa: E402
from mqtt_harness import (Broker, Conn, Closed, Fail, check, eq,  # noqa
                          test, fixed, mstr, varint, CONNACK, PUBACK,
                          DISCONNECT)

AUTH = 15

# Broker limits the cases rely on (conf/broker.yaml key names).
SCENARIO = dict(max_packet_size=4096, max_inflight=3)


def props(*items):
    """A property block: items are already encoded properties."""
    body = b''.join(items)
    return varint(len(body)) + body


def connect5(cid, props_block=None, flags=0x02, extra=b''):
    """CONNECT "MQTT" 5, keepalive 30, clean start."""
    if props_block is None:
        props_block = props()
    body = mstr('MQTT') + bytes([5, flags]) + struct.pack('>H', 30) + \
        props_block + mstr(cid) + extra
    return fixed(1, 0, body)


def connect311(cid):
    body = mstr('MQTT') + bytes([4, 0x02]) + struct.pack('>H', 30) + \
        mstr(cid)
    return fixed(1, 0, body)


def u16(v):
    return struct.pack('>H', v)


def u32(v):
    return struct.pack('>I', v)


def open5(b, cid):
    """A connected 5.0 client; returns (conn, CONNACK body)."""
    c = Conn(b.port)
    c.send(connect5(cid))
    p = c.expect(CONNACK, 'CONNACK')
    eq(p.body[1], 0, 'CONNACK reason code')
    return c, p.body


def expect_disconnect(c, rc, what):
    """The next packet is DISCONNECT rc, then the connection closes."""
    try:
        p = c.recv()
    except Closed:
        raise Fail('%s: closed without a DISCONNECT' % what)
    check(p is not None, '%s: nothing within %.1fs' % (what, h.IO_TIMEOUT))
    eq((p.type, p.body[:1]), (DISCONNECT, bytes([rc])),
       '%s: DISCONNECT reason code' % what)
    eq(c.wait_closed(), [], '%s: packets after DISCONNECT' % what)


def pub5(topic, prop_block, payload=b'x', qos=0, pid=1):
    body = mstr(topic) + (u16(pid) if qos else b'') + prop_block + payload
    return fixed(3, qos << 1, body)


def sub5(pid, prop_block, filt, opts):
    return fixed(8, 2, u16(pid) + prop_block + mstr(filt) + bytes([opts]))


# (name, the bad packet after a good CONNECT, reason code)
CASES = [
    ('publish_property_not_allowed',
     pub5('a/b', props(b'\x21' + u16(5))), 0x81),
    ('publish_property_unknown',
     pub5('a/b', props(b'\x04\x00')), 0x81),
    ('publish_property_twice',
     pub5('a/b', props(b'\x01\x00', b'\x01\x01')), 0x82),
    ('publish_properties_past_the_end',
     pub5('a/b', b'\x09\x01\x00'), 0x81),
    ('publish_property_length_bad_varint',
     pub5('a/b', b'\x80\x80\x80\x80\x01'), 0x81),
    ('publish_content_type_not_utf8',
     pub5('a/b', props(b'\x03' + u16(2) + b'\xc3\x28')), 0x81),
    ('publish_payload_format_2',
     pub5('a/b', props(b'\x01\x02')), 0x82),
    ('publish_topic_alias_0',
     pub5('a/b', props(b'\x23' + u16(0))), 0x94),
    ('publish_topic_alias_over_maximum',
     pub5('a/b', props(b'\x23' + u16(11))), 0x94),
    ('publish_topic_alias_never_set',
     pub5('', props(b'\x23' + u16(1))), 0x82),
    ('publish_no_topic_no_alias',
     pub5('', props()), 0x82),
    ('publish_subscription_identifier_from_client',
     pub5('a/b', props(b'\x0b\x01')), 0x82),
    ('publish_subscription_identifier_0',
     pub5('a/b', props(b'\x0b\x00')), 0x82),
    ('publish_wildcard_topic',
     pub5('a/#', props()), 0x90),
    ('subscribe_options_reserved_bits',
     sub5(1, props(), 'a/b', 0xc1), 0x81),
    ('subscribe_options_qos_3',
     sub5(1, props(), 'a/b', 0x03), 0x81),
    ('subscribe_retain_handling_3',
     sub5(1, props(), 'a/b', 0x30), 0x82),
    ('subscribe_identifier_0',
     sub5(1, props(b'\x0b\x00'), 'a/b', 0x00), 0x82),
    ('subscribe_identifier_twice',
     sub5(1, props(b'\x0b\x01', b'\x0b\x02'), 'a/b', 0x00), 0x82),
    ('subscribe_no_local_on_shared',
     sub5(1, props(), '$share/g/a', 0x04), 0x82),
    ('subscribe_without_filter',
     fixed(8, 2, u16(1) + props()), 0x82),
    ('puback_reason_code_undefined',
     fixed(4, 0, u16(1) + b'\x05'), 0x81),
    ('pubrel_bad_flags',
     fixed(6, 0, u16(1)), 0x81),
    ('disconnect_reason_code_undefined',
     fixed(14, 0, b'\x05'), 0x81),
    ('disconnect_session_expiry_after_0',
     fixed(14, 0, b'\x00' + props(b'\x11' + u32(60))), 0x82),
    ('auth_without_method',
     fixed(AUTH, 0, b'\x18' + props(b'\x15' + mstr('SCRAM-SHA-256'))), 0x82),
    ('second_connect',
     connect5('again'), 0x82),
    ('pingresp_from_client',
     fixed(13, 0, b''), 0x82),
    ('packet_over_max_packet_size',
     pub5('big', props(), b'x' * 5000), 0x95),
]


def make_case(name, pkt, rc):
    @test('disconnect_%s_0x%02x' % (name, rc))
    def run():
        with Broker(dict(SCENARIO)) as b:
            c, _ = open5(b, h.uniq('r5'))
            c.send(pkt)
            expect_disconnect(c, rc, name)
            # A 3.1.1 client sending the same bytes is closed, and told
            # nothing: DISCONNECT from a server is 5.0's.
            if name in ('publish_property_not_allowed', 'second_connect',
                        'packet_over_max_packet_size'):
                c = Conn(b.port)
                c.send(connect311(h.uniq('r3')))
                c.expect(CONNACK, '3.1.1 CONNACK')
                c.send(pkt)
                try:
                    p = c.recv()
                except Closed:
                    p = None
                check(p is None or p.type != DISCONNECT,
                      '3.1.1 client got %r' % p)
                if p is not None:
                    c.wait_closed()
    return run


for _n, _p, _rc in CASES:
    make_case(_n, _p, _rc)


@test('disconnect_receive_maximum_exceeded_0x93')
def t_receive_max():
    with Broker(dict(SCENARIO)) as b:
        c, ack = open5(b, h.uniq('rm'))
        # max_inflight 3 is the CONNACK's receive maximum (0x21).
        check(b'\x21\x00\x03' in ack, 'receive maximum 3 in %r' % ack)
        for pid in (1, 2, 3):
            c.send(pub5('rm/t', props(), b'q2', qos=2, pid=pid))
            p = c.expect(5, 'PUBREC %d' % pid)
            eq(p.body[:2], u16(pid), 'PUBREC id')
        # A fourth QoS 2 PUBLISH before any PUBREL: one too many.
        c.send(pub5('rm/t', props(), b'q2', qos=2, pid=4))
        expect_disconnect(c, 0x93, 'fourth QoS 2 PUBLISH')


@test('puback_payload_format_invalid_0x99')
def t_pfi():
    with Broker(dict(SCENARIO)) as b:
        c, _ = open5(b, h.uniq('pf'))
        # A subscriber, so that success is 0 (not 0x10, no one matched).
        s, _ = open5(b, h.uniq('pfs'))
        s.send(sub5(1, props(), 'pf/t', 0))
        s.expect(9, 'SUBACK')
        c.send(pub5('pf/t', props(b'\x01\x01'), b'\xff\xfe', qos=1, pid=7))
        p = c.expect(PUBACK, 'PUBACK')
        eq(p.body[:3], u16(7) + b'\x99', 'PUBACK id and reason code')
        # Valid UTF-8 with the same indicator: success, shortest form.
        c.send(pub5('pf/t', props(b'\x01\x01'), 'h\u00e9'.encode(), qos=1,
                    pid=8))
        p = c.expect(PUBACK, 'PUBACK')
        eq(p.body, u16(8), 'PUBACK success in 2 bytes')
        c.disconnect()


@test('connack_response_information_only_when_asked')
def t_response_info():
    sc = dict(SCENARIO)
    sc['extra'] = 'response_information: "responses/"'
    with Broker(sc) as b:
        want = b'\x1a' + mstr('responses/')
        c = Conn(b.port)
        c.send(connect5(h.uniq('ri'), props(b'\x19\x01')))
        p = c.expect(CONNACK, 'CONNACK, asked')
        check(want in p.body, 'response information in %r' % p.body)
        c.disconnect()
        c = Conn(b.port)
        c.send(connect5(h.uniq('ri')))
        p = c.expect(CONNACK, 'CONNACK, not asked')
        check(b'\x1a' not in p.body, 'no response information in %r'
              % p.body)
        c.disconnect()


# ------------------------------------------------- capabilities turned off

CAPS_OFF = ('shared_subscriptions: false\nwildcard_subscriptions: false\n'
            'subscription_identifiers: false')


def connack_caps(body):
    """The capability properties of a CONNACK body: {id: value}."""
    ca = w.Connack(h.Pkt(CONNACK << 4, body))
    return {k: ca.get(k) for k in (w.WILDCARD_AVAIL, w.SUB_ID_AVAIL,
                                   w.SHARED_AVAIL)}


@test('capabilities_available_by_default')
def t_caps_default():
    with Broker(dict(SCENARIO)) as b:
        c, body = open5(b, h.uniq('cap'))
        # Absent means available (3.2.2.3.11-13).
        eq(connack_caps(body), {w.WILDCARD_AVAIL: None, w.SUB_ID_AVAIL: None,
                                w.SHARED_AVAIL: None}, 'CONNACK capabilities')
        c5 = w.C5(c)
        c5.subscribe([('cd/+', 1), ('$share/g/cd/x', 1), ('cd/#', 0)],
                     sub_id=7, want=[1, 1, 0])
        c5.disconnect()


# The three keys false: CONNACK says 0 for each; a filter that needs one
# is refused in SUBACK (0x9E shared, 0xA2 wildcards; 0x80 at 3.1.1), the
# other filters of the packet are granted; a subscription identifier is
# DISCONNECT 0xA1.
@test('capabilities_off_suback_and_disconnect_codes')
def t_caps_off():
    sc = dict(SCENARIO)
    sc['extra'] = CAPS_OFF
    with Broker(sc) as b:
        c, body = open5(b, h.uniq('cap'))
        eq(connack_caps(body), {w.WILDCARD_AVAIL: 0, w.SUB_ID_AVAIL: 0,
                                w.SHARED_AVAIL: 0}, 'CONNACK capabilities')
        c5 = w.C5(c)
        c5.subscribe([('co/+', 1), ('$share/g/co/x', 1), ('co/x', 1),
                      ('#', 0), ('$share/g/co/#', 0)],
                     want=[0xA2, 0x9E, 1, 0xA2, 0x9E])
        # The granted filter works; the refused ones took nothing.
        pub, _ = open5(b, h.uniq('cpub'))
        w.C5(pub).publish('co/x', b'one', qos=1, want_rc=0)
        w.C5(pub).publish('co/y', b'two', qos=1)
        got = c5.recv(1)
        eq([(m.topic, m.payload) for m in got], [('co/x', b'one')],
           'deliveries')
        eq(c5.drain(0.3), [], 'a delivery through a refused filter')
        # 3.1.1: 0x80 for the same filters.
        c3, _ = h.mqtt_connect(b.port, h.uniq('c3'))
        h.subscribe(c3, [('co/+', 1), ('$share/g/co/x', 1), ('co/x', 1)],
                    want=[0x80, 0x80, 1])
        c3.disconnect()
        # A subscription identifier: DISCONNECT 0xA1, nothing subscribed.
        s, _ = open5(b, h.uniq('csid'))
        s.send(sub5(1, props(b'\x0b\x05'), 'co/z', 0))
        expect_disconnect(s, 0xA1, 'subscription identifier')
        pub.disconnect()
        c5.disconnect()


# ----------------------------------------------------------- reason strings

def reason_string(props_list):
    return w.pget(props_list, w.REASON_STRING)


def refusals_told(b, block, what):
    """A client CONNECTed with property block `block` gets PUBACK 0x99,
    SUBACK 0xA2 (with CAPS_OFF) and DISCONNECT 0xA1: their property
    lists (ack, suback, disconnect) and the DISCONNECT's size."""
    c = Conn(b.port)
    c.send(connect5(h.uniq('rs'), block))
    p = c.expect(CONNACK, what + ': CONNACK')
    eq(p.body[1], 0, what + ': CONNACK reason code')
    c5 = w.C5(c)
    # Payload format 1 with a payload that is not UTF-8.
    c.send(pub5('rs/t', props(b'\x01\x01'), payload=b'\xff\xfe', qos=1,
                pid=5))
    a = w.Ack(c5.expect(PUBACK, what + ': PUBACK'))
    eq((a.pid, a.rc), (5, 0x99), what + ': PUBACK')
    c.send(w.subscribe5(6, [('rs/+', 0), ('rs/x', 0)]))
    sa = w.Subacks(c5.expect(w.SUBACK, what + ': SUBACK'))
    eq(sa.codes, [0xA2, 0], what + ': SUBACK codes')
    c.send(sub5(7, props(b'\x0b\x05'), 'rs/z', 0))
    p = c.recv()
    check(p is not None and p.type == DISCONNECT, what + ': DISCONNECT %r'
          % p)
    d = w.Disconnect(p)
    eq(d.rc, 0xA1, what + ': DISCONNECT reason code')
    eq(c.wait_closed(), [], what + ': packets after DISCONNECT')
    for pl in (a.props, sa.props, d.props):
        eq(w.pall(pl, w.USER_PROP), [], what + ': user properties')
    return a.props, sa.props, d.props, len(p.raw)


# Request Problem Information (3.1.2.11.7): 1 or absent, refusals say why
# in a Reason String; 0, none on PUBACK/SUBACK (only on CONNACK and
# DISCONNECT, which the spec allows).
@test('reason_strings_follow_request_problem_information')
def t_reason_strings():
    sc = dict(SCENARIO)
    sc['extra'] = CAPS_OFF
    with Broker(sc) as b:
        for block, told in ((props(), True), (props(b'\x17\x01'), True),
                            (props(b'\x17\x00'), False)):
            what = 'request problem information %r' % block
            ap, sp, dp, _ = refusals_told(b, block, what)
            for name, pl in (('PUBACK', ap), ('SUBACK', sp)):
                rs = reason_string(pl)
                eq(rs is not None, told, '%s: %s reason string %r'
                   % (what, name, pl))
                check(rs is None or 0 < len(rs) <= 64, '%s: %s reason '
                      'string %r' % (what, name, rs))
            check(reason_string(dp), '%s: DISCONNECT reason string %r'
                  % (what, dp))
        # A refused CONNECT says why in its CONNACK, asked or not.
        for block in (props(b'\x15' + mstr('KERBEROS')),
                      props(b'\x17\x00', b'\x15' + mstr('KERBEROS'))):
            c = Conn(b.port)
            c.send(connect5(h.uniq('rs'), block))
            p = c.expect(CONNACK, 'CONNACK 0x8C')
            ca = w.Connack(p)
            eq(ca.rc, 0x8C, 'CONNACK reason code')
            check(ca.get(w.REASON_STRING), 'CONNACK reason string %r' % ca)
            eq(c.wait_closed(), [], 'packets after CONNACK')


# Maximum Packet Size (3.1.2.11.4): the reason string is left out
# rather than make a packet larger than the client takes.
@test('reason_strings_dropped_past_maximum_packet_size')
def t_reason_strings_max():
    sc = dict(SCENARIO)
    sc['extra'] = CAPS_OFF
    with Broker(sc) as b:
        ap, sp, dp, dlen = refusals_told(b, props(b'\x27' + u32(16)),
                                         'maximum packet size 16')
        eq((ap, sp, dp), ([], [], []), 'properties past 16 bytes')
        check(dlen <= 16, 'DISCONNECT of %d bytes' % dlen)
        # Room for them: sent.
        ap, sp, dp, _ = refusals_told(b, props(b'\x27' + u32(4096)),
                                      'maximum packet size 4096')
        check(reason_string(ap) and reason_string(sp) and
              reason_string(dp), 'reason strings within 4096 bytes')


# (name, CONNECT bytes, CONNACK reason code)
BAD_CONNECTS = [
    ('receive_maximum_0', connect5('c', props(b'\x21' + u16(0))), 0x82),
    ('maximum_packet_size_0', connect5('c', props(b'\x27' + u32(0))), 0x82),
    ('properties_truncated', connect5('c', b'\x05\x11\x00'), 0x81),
    ('property_not_allowed', connect5('c', props(b'\x23' + u16(1))), 0x81),
    ('request_problem_information_2', connect5('c', props(b'\x17\x02')),
     0x82),
    ('authentication_data_without_method',
     connect5('c', props(b'\x16' + mstr('x'))), 0x82),
    ('will_property_not_allowed',
     connect5('c', flags=0x06, extra=props(b'\x11' + u32(1)) + mstr('w/t') +
              mstr('bye')), 0x81),
    ('will_topic_wildcard',
     connect5('c', flags=0x06, extra=props() + mstr('w/#') + mstr('bye')),
     0x90),
    ('authentication_method_unknown',
     connect5('c', props(b'\x15' + mstr('KERBEROS'))), 0x8c),
]


def make_connect_case(name, pkt, rc):
    @test('connack_%s_0x%02x' % (name, rc))
    def run():
        with Broker(dict(SCENARIO)) as b:
            c = Conn(b.port)
            c.send(pkt)
            p = c.expect(CONNACK, name)
            eq(p.body[:2], bytes([0, rc]), '%s: CONNACK flags and code'
               % name)
            eq(c.wait_closed(), [], '%s: packets after CONNACK' % name)
    return run


for _n, _p, _rc in BAD_CONNECTS:
    make_connect_case(_n, _p, _rc)


if __name__ == '__main__':
    sys.exit(h.main(argparse.ArgumentParser(
        description=__doc__.split('\n')[0])))
