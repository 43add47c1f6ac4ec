#!/usr/bin/env python3
"""Sums meson's test logs of every build dir given into one line.

A TAP test counts each of its 'ok' / 'not ok' lines; any other test counts
once, by its result.  A TAP test that failed outside its points (a crash,
a bad plan, a timeout) counts one more failure.  Skips are reported and
never counted as passed.  Last line: 'N passed, N failed'.
"""
import json
import os
import re
import sys

OK = re.compile(r'^ok\b(?!.*#\s*(?i:skip))')
NOTOK = re.compile(r'^not ok\b(?!.*#\s*(?i:todo))')
SKIP = re.compile(r'^ok\b.*#\s*(?i:skip)')
# meson's log does not say which tests speak TAP: a plan line or a test
# point in the output does.
TAP = re.compile(r'^(1\.\.\d+|(not )?ok \d+)', re.M)


def main(dirs):
    passed = failed = skipped = 0
    bad = []
    for d in dirs:
        path = os.path.join(d, 'meson-logs', 'testlog.json')
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                t = json.loads(line)
                name = '%s:%s' % (d, t['name'])
                res = t['result']
                out = t.get('stdout') or ''
                if TAP.search(out):
                    p = sum(1 for l in out.splitlines() if OK.match(l))
                    n = sum(1 for l in out.splitlines() if NOTOK.match(l))
                    s = sum(1 for l in out.splitlines() if SKIP.match(l))
                    passed += p
                    failed += n
                    skipped += s
                    if n:
                        bad.append(name)
                    if res not in ('OK', 'EXPECTEDFAIL', 'SKIP') and n == 0:
                        failed += 1
                        bad.append('%s (%s)' % (name, res))
                    if p + n == 0 and res == 'OK':
                        # A TAP test that ran no point is not a pass.
                        failed += 1
                        bad.append('%s (no test points)' % name)
                elif res == 'OK':
                    passed += 1
                elif res == 'SKIP':
                    skipped += 1
                else:
                    failed += 1
                    bad.append('%s (%s)' % (name, res))
    for b in bad:
        print('FAILED: %s' % b)
    if skipped:
        print('skipped (not counted as passed): %d' % skipped)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
