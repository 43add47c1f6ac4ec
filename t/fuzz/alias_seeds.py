#!/usr/bin/env python3
# Writes the seed corpus of fuzz_alias (t/fuzz/corpus/alias/): programs
# of sends, lookups and adds over the outbound topic alias table (see
# fuzz_alias.c for the encoding), around both of its limits (max aliases
# and MQTT_ALIAS_OUT_BYTES), a table of 0, and wrong adds.
import os, sys

ALPHA = {'a': 0, 'b': 1, '/': 2, 'c': 3}
SEND, LOOKUP, ADD, LONG, HUGE = range(5)

def s(t):
    assert len(t) < 32
    return bytes([len(t)] + [ALPHA[ch] for ch in t])

def send(t): return bytes([SEND]) + s(t)
def lookup(t): return bytes([LOOKUP]) + s(t)
def add(t, a): return bytes([ADD]) + s(t) + a.to_bytes(2, 'big')
# A topic of 1 + 128 * n bytes of one letter, its last byte `last`.
def long(n, last): return bytes([LONG, n, last])
def huge(): return bytes([HUGE])

def prog(maxa, *ops):
    return maxa.to_bytes(2, 'big') + b''.join(ops)

seeds = {
    # One topic, aliased once, then found; the same letters reordered.
    'one': prog(1, send('a/b'), send('a/b'), send('b/a'), lookup('a/b')),
    # Every alias of a small table given, then a topic that finds it full.
    'full': prog(3, send('a'), send('b'), send('c'), send('a/b'),
                 send('b'), lookup('c/c')),
    # A lookup alone records nothing: the alias is offered again.
    'lookup_only': prog(4, lookup('a'), lookup('a'), send('a'),
                        lookup('a')),
    # Adds: a wrong alias, a repeat, an empty topic, then the right one.
    'adds': prog(4, add('a', 2), add('a', 0), add('', 1), add('a', 1),
                 add('a', 2), add('b', 1), add('b', 2)),
    # The byte limit: long topics fill 16 KiB before max is reached.
    'bytes': prog(1000, long(63, 0), long(63, 1), long(0, 2),
                  long(200, 3), send('a/b/c')),
    # No table (max 0): every call says no.
    'zero': prog(0, send('a'), lookup('a'), add('a', 1), huge()),
    # A topic over 65535 bytes is never aliased.
    'huge': prog(10, huge(), send('a'), huge()),
    # The largest table, a few topics, colliding short ones.
    'max': prog(65535, send('a'), send('b'), send('aa'), send('ab'),
                send('ba'), send('a/'), send('/a'), send('a')),
    # Many short topics in a small slot table: long probe chains.
    'chains': prog(8, *[send(t) for t in
                        ['a', 'b', 'c', '/', 'aa', 'ab', 'ac', 'a/',
                         'ba', 'bb']],
                   *[lookup(t) for t in ['a', 'b', 'c', '/', 'aa', 'bb']]),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), 'corpus', 'alias')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(data)
