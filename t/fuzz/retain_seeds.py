#!/usr/bin/env python3
# Writes the seed corpus of fuzz_retain (t/fuzz/corpus/retain/): programs
# of puts, clears, matches and cursor steps (see fuzz_retain.c for the
# encoding), around each limit, '$' topics and empty levels.
import os, sys

ALPHA = {'a': 0, 'b': 1, '/': 2, '$': 3, '+': 4, '#': 5, 'c': 6}
PUT, CLEAR, MATCH, CURSOR, STEP, PUT5, EXPIRE = range(7)

def s(t):
    assert len(t) < 16
    return bytes([len(t)] + [ALPHA[ch] for ch in t])

def put(t, n=4): return bytes([PUT]) + s(t) + bytes([n])
def clear(t): return bytes([CLEAR]) + s(t)
def match(f): return bytes([MATCH]) + s(f)
def cursor(f): return bytes([CURSOR]) + s(f)
def step(n): return bytes([STEP, n])
# MQTT 5.0: a put expiring at 1 + x; a sweep at now of at most m.
def put5(t, x, n=4): return bytes([PUT5]) + s(t) + bytes([n, x])
def expire(now, m): return bytes([EXPIRE, now, m])

def prog(maxmsg, maxbytes, maxsize, *ops):
    return bytes([maxmsg - 1, maxbytes, maxsize]) + b''.join(ops)

TOPICS = ['a/b', 'a/c', 'a', 'b/a/c', '$a/b', '$a', 'a//b', '/a', 'c/c/c/c']
seeds = {
    'expiry': prog(64, 255, 255, put5('a/b', 10), put5('a/c', 5), put('a'),
                   put5('b/a/c', 10), put5('$a', 1), cursor('#'), step(1),
                   expire(3, 7), step(2), put5('a/c', 20), expire(12, 1),
                   expire(12, 7), match('#'), clear('b/a/c'), expire(255, 7),
                   step(7)),
    'matches': prog(64, 255, 255, *[put(t) for t in TOPICS],
                    *[match(f) for f in ['#', '+', '+/b', 'a/#', '$a/#',
                                         '+/+', '/+', 'a/+/b', '+/#', 'a']]),
    'cursor_changes': prog(64, 255, 255, *[put(t) for t in TOPICS],
                           cursor('#'), step(1), put('a/c', 9), step(2),
                           clear('a/b'), step(3), put('b/b'), step(7),
                           clear('a'), step(7), step(7), match('#')),
    'cursor_dollar': prog(64, 255, 255, *[put(t) for t in TOPICS],
                          cursor('$a/#'), step(1), clear('$a'), step(7),
                          cursor('+/+'), step(2), step(7)),
    'bytes_limit': prog(64, 8, 255, *[put('a/' + 'abc'[i % 3] * (1 + i // 3),
                                          200) for i in range(12)],
                        match('a/+')),
    'size_limit': prog(64, 255, 10, put('a/b', 5), put('a/b', 20),
                       match('#'), put('a/b', 10)),
    'count_limit': prog(2, 255, 255, put('a'), put('b'), put('c'),
                        put('a', 7), clear('b'), put('c'), match('+')),
    'many_kids': prog(64, 255, 255, *[put('a/' + x + y) for x in 'abc'
                                      for y in 'abc'], cursor('a/+'),
                      *[step(1)] * 12, *[clear('a/' + x + 'a') for x in 'abc'],
                      step(7), step(7)),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'corpus', 'retain')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(data)
