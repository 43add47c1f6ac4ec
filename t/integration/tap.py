"""The smallest TAP runner, for the integration tests that need no
broker or agent harness (svc_*): step(name, fn) runs one case and
prints its TAP line; RESULTS keeps ('ok'|'skip'|'fail', why) per case.
A Skip prints "# SKIP why" and is never counted as passed by
t/summary.py; any other exception is a failure (a bug in the test
is a failure too)."""

import sys

RESULTS = []


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def step(name, fn):
    try:
        fn()
        res = ('ok', '')
    except Skip as e:
        res = ('skip', str(e))
    except Fail as e:
        res = ('fail', str(e))
    except Exception as e:  # a bug in the test is a failure too
        res = ('fail', '%s: %s' % (type(e).__name__, e))
    RESULTS.append(res)
    n = len(RESULTS)
    if res[0] == 'ok':
        print('ok %d - %s' % (n, name))
    elif res[0] == 'skip':
        print('ok %d - %s # SKIP %s' % (n, name, res[1]))
    else:
        print('not ok %d - %s' % (n, name))
        for ln in res[1].rstrip().splitlines():
            print('# ' + ln)
    sys.stdout.flush()


def exit_code():
    """0 when no case failed."""
    return 0 if all(r[0] != 'fail' for r in RESULTS) else 1
