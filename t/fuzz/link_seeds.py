#!/usr/bin/env python3
# Writes the seed corpus of fuzz_link (t/fuzz/corpus/link/): one frame of
# each CLUSTER.md type, and two streams of frames, as a link reads them.
import os, struct, sys

def s16(b): return struct.pack('>H', len(b)) + b
def b32(b): return struct.pack('>I', len(b)) + b
def frame(t, body=b''): return struct.pack('>IB', 1 + len(body), t) + body
# An MQTT 5.0 property block (lengths under 128: a one-byte varint).
def props(b): return bytes([len(b)]) + b
CARRIED = props(b'\x01\x01' + b'\x03' + s16(b'text/plain') + b'\x08' +
    s16(b'reply/to') + b'\x09' + s16(b'\x00\x01') + b'\x26' + s16(b'k') +
    s16(b'v'))
# The 5.0 trailer: publisher id, expiry (ms left), carried properties.
def msg5(frm, ms, pr): return s16(frm) + struct.pack('>Q', ms) + pr

HELLO, AUTH, TICK, RADD, RDEL, RBEGIN, REND, FWD, ACK, RET, CLAIM, TAKE, \
    SDATA, PEERS, RSESS, RSUB, RMSGS, RSTATE, RDROP, CREDIT, SNONE, \
    RACK = range(1, 23)
def rmsg(seq, qos, retain, state, pid, topic, payload, v5=None):
    return struct.pack('>QBBBH', seq, qos, retain, state, pid) + \
        s16(topic) + b32(payload) + (v5 or msg5(b'', 0, props(b'')))
frames = {
    'hello': frame(HELLO, b'\x03' + s16(b'b1@host') + bytes(range(32))),
    'hello_v2': frame(HELLO, b'\x02' + s16(b'b1@host') + bytes(range(32))),
    'hello_v1': frame(HELLO, b'\x01' + s16(b'b1@host') + bytes(range(32))),
    'auth': frame(AUTH, bytes(32)),
    'tick': frame(TICK),
    'route_add': frame(RADD, s16(b'a/+/#')),
    'route_del': frame(RDEL, s16(b'$share/g/a/b')),
    'routes_begin': frame(RBEGIN),
    'routes_end': frame(REND),
    'forward': frame(FWD, struct.pack('>QBB', 7, 1, 0) + s16(b'a/b') +
        b32(b'hello')),
    'forward_groups': frame(FWD, struct.pack('>QBB', 8, 1, 0) +
        s16(b'a/b') + b32(b'shared') + struct.pack('>H', 2) +
        s16(b'$share/g/a/+') + s16(b'$share/h/#')),
    'forward_v5': frame(FWD, struct.pack('>QBB', 9, 1, 1) + s16(b'a/b') +
        b32(b'req') + struct.pack('>H', 0) +
        msg5(b'client-1', 30000, CARRIED)),
    'forward_v5_groups': frame(FWD, struct.pack('>QBB', 10, 2, 0) +
        s16(b'a/b') + b32(b'x') + struct.pack('>H', 1) +
        s16(b'$share/g/a/+') + msg5(b'', 1, props(b''))),
    # The spool list: the away nodes (ring hashes) that get it too.
    'forward_spooled': frame(FWD, struct.pack('>QBB', 11, 1, 0) +
        s16(b'a/b') + b32(b'y') + struct.pack('>H', 0) +
        msg5(b'', 0, props(b'')) + b'\x02' +
        struct.pack('>QQ', 0x0102030405060708, 9)),
    'forward_ack': frame(ACK, struct.pack('>Q', 7)),
    'retain': frame(RET, struct.pack('>Q', 1700000000000) + s16(b'b2@h') +
        s16(b'r/t') + b'\x01' + b32(b'kept')),
    'retain_v5': frame(RET, struct.pack('>Q', 1700000000001) +
        s16(b'b2@h') + s16(b'r/t') + b'\x01' + b32(b'kept') +
        struct.pack('>Q', 60000) + CARRIED),
    'claim': frame(CLAIM, s16(b'client-1') + struct.pack('>Q', 5) +
        s16(b'b1@h')),
    # LINK_CLAIM_KEPT: the claiming node had the session all along.
    'claim_kept': frame(CLAIM, s16(b'client-1') + struct.pack('>Q', 6) +
        s16(b'b1@h') + b'\x01'),
    'session_take': frame(TAKE, s16(b'client-1')),
    # Subscriptions: filter, qos, options (no local 1, retain as published
    # 2, retain handling << 2), subscription id; messages: qos, topic,
    # payload, msg5, flags (1: retain), n ids, ids; then the session's
    # flags and expiry interval.
    'session_data': frame(SDATA, s16(b'client-1') + struct.pack('>I', 2) +
        s16(b'a/#') + b'\x01\x00' + struct.pack('>I', 0) + s16(b'b') +
        b'\x02\x00' + struct.pack('>I', 0) + struct.pack('>I', 1) +
        b'\x01' + s16(b'a/x') + b32(b'queued') + msg5(b'', 0, props(b'')) +
        b'\x00\x00' + b'\x00' + struct.pack('>I', 0)),
    'session_data_v5': frame(SDATA, s16(b'client-5') + struct.pack('>I', 2) +
        s16(b'a/#') + b'\x01' + bytes([1 | 2 | 2 << 2]) +
        struct.pack('>I', 268435455) + s16(b'$share/g/b') + b'\x02\x02' +
        struct.pack('>I', 7) + struct.pack('>I', 2) +
        b'\x01' + s16(b'a/x') + b32(b'queued') +
        msg5(b'client-9', 5000, CARRIED) + b'\x01\x02' +
        struct.pack('>II', 268435455, 7) +
        b'\x02' + s16(b'a/y') + b32(b'') + msg5(b'', 0, props(b'')) +
        b'\x00\x00' + b'\x03' + struct.pack('>I', 3600)),
    'peers': frame(PEERS, struct.pack('>H', 2) +
        s16(b'b2@h 127.0.0.1:4370') + s16(b'b3@h')),
    'repl_session': frame(RSESS, s16(b'client-1') + struct.pack('>I', 2) +
        s16(b'a/#') + b'\x01\x00' + struct.pack('>I', 0) + s16(b'b') +
        b'\x02\x06' + struct.pack('>I', 9)),
    'repl_sub': frame(RSUB, s16(b'client-1') + s16(b'c/+') + b'\x01' +
        bytes([1 | 2 | 2 << 2]) + struct.pack('>I', 42)),
    'repl_unsub': frame(RSUB, s16(b'client-1') + s16(b'b') + b'\x80\x00' +
        struct.pack('>I', 0)),
    'repl_msgs': frame(RMSGS, s16(b'client-1') + struct.pack('>I', 3) +
        rmsg(1, 1, 0, 0, 0, b'a/x', b'queued') +
        rmsg(2, 1, 0, 1, 7, b'a/y', b'sent') +
        rmsg(3, 2, 1, 2, 8, b'b', b'released',
             msg5(b'client-9', 5000, CARRIED))),
    'repl_state': frame(RSTATE, s16(b'client-1') + struct.pack('>I', 3) +
        struct.pack('>QBH', 1, 1, 9) + struct.pack('>QBH', 2, 3, 0) +
        struct.pack('>QBH', 3, 2, 8)),
    # The client came (0) or went (LINK_SESS_OFFLINE 4, ms offline).
    'repl_state_online': frame(RSTATE, s16(b'client-1') +
        struct.pack('>I', 0) + b'\x00'),
    'repl_state_offline': frame(RSTATE, s16(b'client-1') +
        struct.pack('>I', 0) + b'\x04' + struct.pack('>Q', 2500)),
    'repl_drop': frame(RDROP, s16(b'client-1')),
    # The 5.0 trailers: a session's level and expiry (flags 3, 3600 s);
    # each delivery's subscription identifiers (none, two, one).
    'repl_session_v5': frame(RSESS, s16(b'client-1') + struct.pack('>I', 1) +
        s16(b'a/#') + b'\x01\x00' + struct.pack('>I', 0) + b'\x03' +
        struct.pack('>I', 3600)),
    'repl_session_offline': frame(RSESS, s16(b'client-1') +
        struct.pack('>I', 0) + b'\x07' + struct.pack('>I', 60) +
        struct.pack('>Q', 1500)),
    'repl_msgs_ids': frame(RMSGS, s16(b'client-1') + struct.pack('>I', 3) +
        rmsg(1, 1, 0, 0, 0, b'a/x', b'queued') +
        rmsg(2, 1, 0, 1, 7, b'a/y', b'sent') +
        rmsg(3, 2, 1, 2, 8, b'b', b'released',
             msg5(b'client-9', 5000, CARRIED)) +
        b'\x00' + b'\x02' + struct.pack('>II', 9, 268435455) +
        b'\x01' + struct.pack('>I', 7)),
    'credit': frame(CREDIT, struct.pack('>IQQ', 1000, 16 << 20, 7)),
    'credit_zero': frame(CREDIT, struct.pack('>IQQ', 0, 0, 0)),
    'repl_ack': frame(RACK, struct.pack('>Q', 6)),
    'session_none': frame(SNONE, s16(b'client-1')),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), 'corpus', 'link')
os.makedirs(out, exist_ok=True)
for name, data in frames.items():
    open(os.path.join(out, name), 'wb').write(data)
open(os.path.join(out, 'stream_snapshot'), 'wb').write(
    frames['routes_begin'] + frames['route_add'] + frames['routes_end'] +
    frames['retain'] + frames['claim'] + frames['peers'] +
    frames['retain_v5'])
open(os.path.join(out, 'stream_replica'), 'wb').write(
    frames['repl_session'] + frames['repl_msgs'] + frames['repl_sub'] +
    frames['repl_state'] + frames['repl_unsub'] + frames['repl_drop'] +
    frames['repl_ack'])
open(os.path.join(out, 'stream_handshake'), 'wb').write(
    frames['hello'] + frames['auth'] + frames['credit'] + frames['tick'] +
    frames['forward'] + frames['forward_v5'] + frames['forward_ack'][:7])

# fuzz_link_hs: a side byte (even: responder, odd: initiator), then frames.
hs = os.path.join(os.path.dirname(out.rstrip('/')), 'link_hs')
os.makedirs(hs, exist_ok=True)
for side in (0, 1):
    open(os.path.join(hs, 'hello_auth_%d' % side), 'wb').write(
        bytes([side]) + frames['hello'] + frames['auth'])
    open(os.path.join(hs, 'v1_%d' % side), 'wb').write(
        bytes([side]) + frames['hello_v1'] + frames['auth'])
    open(os.path.join(hs, 'v2_%d' % side), 'wb').write(
        bytes([side]) + frames['hello_v2'] + frames['auth'])
    open(os.path.join(hs, 'auth_first_%d' % side), 'wb').write(
        bytes([side]) + frames['auth'] + frames['hello'])
    open(os.path.join(hs, 'two_hellos_%d' % side), 'wb').write(
        bytes([side]) + frames['hello'] + frames['hello'] + frames['tick'])
open(os.path.join(hs, 'honest'), 'wb').write(b'\x00')
open(os.path.join(hs, 'flip_name'), 'wb').write(b'\x00' + bytes(3) + b'\x01')
