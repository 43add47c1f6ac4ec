#!/usr/bin/env python3
"""The broker's layers, checked from its includes (TAP).

broker/ is split into folders, each a layer; an include may point to the
same layer or a lower one, never up:

    broker/mqtt/      0  the wire: MQTT codec, topic names and filters (pure)
    broker/core/      1  messages, sessions, trie, router, retained store,
                         password and ACL rules (no sockets, no cluster)
    broker/conf/      2  the YAML configuration (pure: text in, struct out)
    broker/store/     3  the node's durable state (data_dir) on LMDB;
                         its record codec is pure
    broker/net/       4  listeners, connections, packet handlers, output
    broker/cluster/   5  link codec and handshake, links, peers, sync,
                         epmd registration and membership
    broker/           6  the program: main, $SYS, memory stats, auth files

Includes come from the compiler (`cc -MM` for every .c, with the
project's include path), not from a regex, so a header pulled in through
another counts.  Direct includes (the #include lines) are also read to
draw the file graph, in which no circle of more than two files may
exist (a .c and its own .h count as one module).

Usage: layers.py [--dot FILE] SOURCE_ROOT
       layers.py --self-test     (a made-up tree with an upward include and
                                  a circle of three: both must be found)
"""

import io
import os
import re
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout

LAYERS = [('broker/mqtt/', 0), ('broker/core/', 1), ('broker/conf/', 2),
          ('broker/store/', 3), ('broker/net/', 4), ('broker/cluster/', 5),
          ('broker/', 6)]
NAMES = {0: 'mqtt', 1: 'core', 2: 'conf', 3: 'store', 4: 'net',
         5: 'cluster', 6: 'program'}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer(path):
    for prefix, n in LAYERS:
        if path.startswith(prefix):
            return n
    return None


def module(path):
    return os.path.splitext(path)[0]


def sources(root):
    out = []
    for d, _, files in os.walk(os.path.join(root, 'broker')):
        for f in files:
            if f.endswith(('.c', '.h')):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def direct_includes(root, path):
    with open(os.path.join(root, path), encoding='utf-8') as f:
        return [i for i in INC.findall(f.read()) if i.startswith('broker/')]


def compiler_includes(root, path):
    """Every broker/ header the compiler opens for path (cc -MM)."""
    cc = os.environ.get('CC', 'cc')
    inc = ['-I', root]
    p = subprocess.run([cc, '-MM', '-D_GNU_SOURCE'] + inc +
                       [os.path.join(root, path)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.splitlines() if 'error' in ln]
        return None, (lines or p.stderr.splitlines() or ['?'])[0].strip()
    deps = p.stdout.replace('\\\n', ' ').split(':', 1)[1].split()
    out = []
    for d in deps:
        rel = os.path.relpath(os.path.normpath(os.path.join(root, d))
                              if not os.path.isabs(d) else d, root)
        if rel.startswith('broker/') and rel != path:
            out.append(rel)
    return out, None


def sccs(graph):
    """Tarjan's strongly connected components."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def self_test():
    """The checker on a tree that breaks both rules: it must fail both."""
    files = {
        'broker/net/x.c': '#include "broker/cluster/y.h"\n',
        'broker/cluster/y.h': '#pragma once\n#include "broker/core/a.h"\n',
        'broker/core/a.h': '#pragma once\n#include "broker/core/b.h"\n',
        'broker/core/b.h': '#pragma once\n#include "broker/core/c.h"\n',
        'broker/core/c.h': '#pragma once\n#include "broker/core/a.h"\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)),
                        exist_ok=True)
            with open(os.path.join(root, path), 'w') as f:
                f.write(text)
        out = io.StringIO()
        with redirect_stdout(out):
            rc = check(root, None)
    text = out.getvalue()
    up = 'not ok' in text and 'broker/net/x.c (net) includes a higher' \
        in text
    circle = 'circles of more than two modules: broker/core/a <-> ' \
        'broker/core/b <-> broker/core/c' in text
    print('%s 1 - self-test: an upward include (net -> cluster) is found'
          % ('ok' if up else 'not ok'))
    print('%s 2 - self-test: a circle of three headers is found'
          % ('ok' if circle else 'not ok'))
    print('%s 3 - self-test: the run fails' % ('ok' if rc else 'not ok'))
    print('1..3')
    if not (up and circle and rc):
        sys.stdout.write('# the checker said:\n# ' +
                         text.replace('\n', '\n# ') + '\n')
    return 0 if up and circle and rc else 1


def main(argv):
    if argv == ['--self-test']:
        return self_test()
    dot = None
    if len(argv) >= 2 and argv[0] == '--dot':
        dot, argv = argv[1], argv[2:]
    if len(argv) != 1:
        print('usage: layers.py [--dot FILE] SOURCE_ROOT', file=sys.stderr)
        return 2
    return check(os.path.abspath(argv[0]), dot)


def check(root, dot):
    files = sources(root)
    n = 0
    failed = 0
    graph = {}
    for path in files:
        n += 1
        mine = layer(path)
        deps, err = compiler_includes(root, path) if path.endswith('.c') \
            else (direct_includes(root, path), None)
        if deps is None:
            print('not ok %d - %s: cc -MM failed: %s' % (n, path, err))
            failed += 1
            continue
        up = ['%s (%s)' % (d, NAMES.get(layer(d), '?')) for d in deps
              if layer(d) is None or layer(d) > mine]
        if up:
            print('not ok %d - %s (%s) includes a higher layer: %s' %
                  (n, path, NAMES[mine], ', '.join(up)))
            failed += 1
        else:
            print('ok %d - %s (%s): %d broker includes, none upward' %
                  (n, path, NAMES[mine], len(deps)))
        src = module(path)
        graph.setdefault(src, set())
        for d in direct_includes(root, path):
            if module(d) != src:
                graph[src].add(module(d))
    n += 1
    big = [c for c in sccs(graph) if len(c) > 2]
    if big:
        print('not ok %d - circles of more than two modules: %s' %
              (n, '; '.join(' <-> '.join(c) for c in big)))
        failed += 1
    else:
        print('ok %d - no circle of more than two modules in %d modules' %
              (n, len(graph)))
    print('1..%d' % n)
    if dot:
        with open(dot, 'w') as f:
            f.write('digraph broker {\n  rankdir=BT;\n')
            for v in sorted(graph):
                for w in sorted(graph[v]):
                    f.write('  "%s" -> "%s";\n' % (v, w))
            f.write('}\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
