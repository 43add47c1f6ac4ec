#!/usr/bin/env python3
# Writes the seed corpus of fuzz_store (t/fuzz/corpus/store/): one valid
# value of each record type of broker/store/store_codec.h, and keys of
# each shape.  The check is SipHash-2-4 under the codec's fixed key.
import os, struct, sys

CHECK_KEY = b'cairn-store-rec1'
M = (1 << 64) - 1


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M


def siphash(key, data):
    k0, k1 = struct.unpack('<QQ', key)
    v0 = 0x736f6d6570736575 ^ k0
    v1 = 0x646f72616e646f6d ^ k1
    v2 = 0x6c7967656e657261 ^ k0
    v3 = 0x7465646279746573 ^ k1

    def rnd():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & M; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 = (v2 + v3) & M; v3 = rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & M; v3 = rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & M; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    n = len(data) - len(data) % 8
    for i in range(0, n, 8):
        m, = struct.unpack('<Q', data[i:i + 8])
        v3 ^= m; rnd(); rnd(); v0 ^= m
    b = (len(data) << 56) & M
    for i, c in enumerate(data[n:]):
        b |= c << (8 * i)
    v3 ^= b; rnd(); rnd(); v0 ^= b
    v2 ^= 0xff
    for _ in range(4):
        rnd()
    return v0 ^ v1 ^ v2 ^ v3


def rec(t, body, ver=1):
    v = bytes([t, ver]) + body
    return v + struct.pack('>I', siphash(CHECK_KEY, v) & 0xffffffff)


def rec2(t, body):
    return rec(t, body, 2)


def v16(b):
    return struct.pack('>H', len(b)) + b


def msg(qos, retain, topic, payload):
    return bytes([qos, retain]) + v16(topic) + \
        struct.pack('>I', len(payload)) + payload


# Version 2: expiry (wall clock ms), publisher id, property block (a
# content type 0x03 and a user property 0x26, without the length).
PROPS = b'\x03' + v16(b'text/plain') + b'\x26' + v16(b'k') + v16(b'v')


def msg2(qos, retain, topic, payload, expire=0, frm=b'', props=b''):
    return msg(qos, retain, topic, payload) + struct.pack('>Q', expire) + \
        v16(frm) + struct.pack('>I', len(props)) + props


seeds = {
    'meta': rec(1, b'cairn-st' + struct.pack('>I', 1) + v16(b'b1@host') +
                bytes(range(16))),
    'retained': rec(2, msg(1, 1, b'a/b', b'hello')),
    'session': rec(3, v16(b'client-1') + b'\x01' + v16(b'user') +
                   struct.pack('>QQI', 1, 2, 0xffffffff)),
    'session_anon': rec(3, v16(b'c') + b'\x00' + v16(b'') +
                        struct.pack('>QQI', 0, 0, 60)),
    'sub': rec(4, b'\x02\x00' + v16(b'a/+/#')),
    'out_queued': rec(5, b'\x01\x00\x00\x01\x00' + msg(1, 0, b't', b'x')),
    'out_published': rec(5, b'\x02\x00\x07\x02\x00' + msg(2, 0, b't', b'')),
    'out_released': rec(5, b'\x03\xff\xff\x02\x01' + msg(2, 1, b't/u', b'p')),
    'inq2': rec(6, b'\x12\x34'),
    # Version 2 (MQTT 5.0's parts); the ones above are version 1, which
    # is still read (and written again as version 2).
    'meta_v2': rec2(1, b'cairn-st' + struct.pack('>I', 2) + v16(b'b1@host') +
                    bytes(range(16))),
    'retained_v2': rec2(2, msg2(1, 1, b'a/b', b'hello', 1800000000000,
                                b'pub-1', PROPS)),
    'session_v5': rec2(3, v16(b'client-1') + b'\x03' + v16(b'user') +
                       struct.pack('>QQI', 1, 2, 3600)),
    'sub_v2': rec2(4, b'\x02' + bytes([0x01 | 0x02 | 2 << 2]) +
                   v16(b'a/+/#') + struct.pack('>I', 268435455)),
    'out_v2_ids': rec2(5, b'\x02\x00\x07\x02\x00' +
                       msg2(2, 0, b't', b'x', 0, b'pub-1', PROPS) +
                       b'\x02' + struct.pack('>II', 1, 7)),
    'out_v2_queued': rec2(5, b'\x01\x00\x00\x01\x00' +
                          msg2(1, 0, b't', b'', 1700000000000) + b'\x00'),
    'key_meta': b'M',
    'key_retained': b'R' + struct.pack('>Q', 42),
    'key_header': b'S' + struct.pack('>Q', 7) + b'\x00',
    'key_sub': b'S' + struct.pack('>Q', 7) + b'\x01' + struct.pack('>Q', 9),
    'key_out': b'S' + struct.pack('>Q', 7) + b'\x02' + struct.pack('>Q', 3),
    'key_inq2': b'S' + struct.pack('>Q', 7) + b'\x03\x00\x05',
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), 'corpus', 'store')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
