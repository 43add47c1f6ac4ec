#!/usr/bin/env python3
"""Real-peer integration tests: stock Erlang nodes against an epmd daemon.

Usage:
    epmd_realpeers.py --epmd PATH [--otp-epmd PATH] [--erl PATH] [-v]

Starts the epmd under test in the foreground on a free loopback port, then
stock `erl -sname X@localhost -start_epmd false -noshell` nodes with
ERL_EPMD_PORT pointing at it (one shared cookie, given with -setcookie, and
a private HOME so nothing in the user's home is read or written).  Checks
that they register, that OTP's `epmd -names` and ours list them, that one
node pings another, that a node killed with SIGKILL disappears, that a node
started again under the same name gets a new creation, and that our client
and OTP's client print the same bytes against either daemon.

Output is TAP.  Every process started here is killed by pid (each erl runs
in its own session, killed by its process group, so erl_child_setup goes
too) when the run ends, pass or fail.  Every wait is bounded.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import epmd_blackbox as bb  # noqa: E402

ERL_START_TIMEOUT = 15.0
EVAL_TIMEOUT = 30.0

ARGS = None
NODES = {}                      # pid -> Popen of every erl we started
NODES_LOCK = threading.Lock()
HOME = None
COOKIE = 'cairn_realpeers_%d' % os.getpid()


def kill_nodes():
    with NODES_LOCK:
        procs = list(NODES.values())
        NODES.clear()
    for p in procs:
        kill_group(p)


def kill_group(p):
    """SIGKILL the session we started p in (its pid is the group id)."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        p.wait(timeout=3)
    except Exception:
        pass


def cleanup():
    kill_nodes()
    bb.kill_all()
    if HOME:
        shutil.rmtree(HOME, ignore_errors=True)


def on_signal(signum, frame):
    cleanup()
    os._exit(128 + signum)


def erl_env(port):
    env = bb.client_env(port)
    env['HOME'] = HOME
    return env


class Node:
    """One long-running stock Erlang node."""

    def __init__(self, sname, port):
        self.sname = sname
        self.port = port
        self.errf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [ARGS.erl, '-sname', sname + '@localhost', '-start_epmd', 'false',
             '-noshell', '-setcookie', COOKIE],
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            env=erl_env(port), start_new_session=True, cwd=HOME)
        with NODES_LOCK:
            NODES[self.proc.pid] = self.proc

    def output(self):
        try:
            self.errf.seek(0)
            return self.errf.read()[-1500:]
        except Exception:
            return b''

    def kill(self):
        kill_group(self.proc)
        with NODES_LOCK:
            NODES.pop(self.proc.pid, None)


def erl_eval(port, sname, expr, timeout=EVAL_TIMEOUT):
    """Run a short-lived node that evaluates expr (which must print its
    result and halt); return its stdout."""
    cmd = [ARGS.erl, '-sname', sname + '@localhost', '-start_epmd', 'false',
           '-noshell', '-setcookie', COOKIE, '-eval', expr]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=erl_env(port), start_new_session=True, cwd=HOME)
    with NODES_LOCK:
        NODES[p.pid] = p
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(p)
        raise bb.Fail('erl -eval %r did not finish in %.0fs' % (expr, timeout))
    finally:
        with NODES_LOCK:
            NODES.pop(p.pid, None)
        kill_group(p)
    return out.decode(errors='replace')


def names_map(port):
    """{name: port} from a NAMES request to the daemon on port."""
    body = bb.names_body(port).decode(errors='replace')
    out = {}
    for ln in body.splitlines():
        m = re.fullmatch(r'name (.*) at port (\d+)', ln)
        bb.check(m is not None, 'bad NAMES line %r' % ln)
        out[m.group(1)] = int(m.group(2))
    return out


def wait_registered(port, names, node_for=None, timeout=ERL_START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = names_map(port)
        if all(n in m for n in names):
            return m
        for n in (node_for or []):
            if n.proc.poll() is not None:
                raise bb.Fail('erl %s exited with %r: %r'
                              % (n.sname, n.proc.returncode, n.output()))
        time.sleep(0.05)
    raise bb.Fail('%r not all registered after %.0fs; NAMES %r; output %r'
                  % (names, timeout, names_map(port),
                     [n.output() for n in (node_for or [])]))


# -------------------------------------------------------------------- steps

class Run:
    def __init__(self):
        self.results = []
        self.state = {}

    def step(self, name, fn, needs=()):
        missing = [n for n in needs if not self.state.get(n)]
        t0 = time.monotonic()
        if missing:
            res = ('fail', 'not run: %s failed earlier' % ', '.join(missing))
        else:
            try:
                fn()
                res = ('ok', '')
                self.state[name] = True
            except bb.Skip as e:
                res = ('skip', str(e))
            except bb.Fail as e:
                res = ('fail', str(e))
            except Exception:
                res = ('fail', traceback.format_exc())
        n = len(self.results) + 1
        self.results.append(res)
        status, msg = res
        if status == 'ok':
            print('ok %d - %s' % (n, name))
        elif status == 'skip':
            print('ok %d - %s # SKIP %s' % (n, name, msg))
        else:
            print('not ok %d - %s' % (n, name))
            for ln in msg.rstrip().splitlines():
                print('# ' + ln)
        if ARGS.verbose:
            print('# %s took %.2fs' % (name, time.monotonic() - t0))
        sys.stdout.flush()


PLAN = 12


def main():
    global ARGS, HOME
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--epmd', required=True, help='epmd binary under test')
    ap.add_argument('--otp-epmd', default=None,
                    help="OTP's epmd (default: found under the Erlang root)")
    ap.add_argument('--erl', default=None, help='erl (default: from PATH)')
    ap.add_argument('--deadline', type=float, default=110.0,
                    help='hard cap on the whole run, seconds')
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    ARGS.epmd = os.path.abspath(ARGS.epmd)
    ARGS.erl = ARGS.erl or shutil.which('erl')
    if not os.access(ARGS.epmd, os.X_OK):
        print('1..0 # SKIP epmd binary %s not executable' % ARGS.epmd)
        return 0
    if not ARGS.erl:
        print('1..0 # SKIP no erl on PATH')
        return 0
    if ARGS.otp_epmd is None:
        ARGS.otp_epmd = bb.find_otp_epmd() or otp_epmd_from_erl()
    # The helpers in epmd_blackbox read their options from bb.ARGS.
    bb.ARGS = argparse.Namespace(epmd=ARGS.epmd, otp_epmd=ARGS.otp_epmd,
                                 impl='cairn', verbose=ARGS.verbose)
    HOME = tempfile.mkdtemp(prefix='cairn-realpeers-')
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watchdog():
        print('Bail out! run took longer than %.0fs' % ARGS.deadline)
        sys.stdout.flush()
        cleanup()
        os._exit(1)
    wd = threading.Timer(ARGS.deadline, watchdog)
    wd.daemon = True
    wd.start()

    print('1..%d' % PLAN)
    sys.stdout.flush()
    run = Run()
    d = None
    nodes = {}
    try:
        d = bb.Daemon()
        port = d.port
        st = run.state

        def start_two():
            nodes['a'] = Node('a', port)
            nodes['b'] = Node('b', port)
            m = wait_registered(port, ['a', 'b'], nodes.values())
            st['ports'] = m
            for n in ('a', 'b'):
                info = bb.parse_port2(bb.port2(port, n))
                bb.check(info is not None, 'PORT2 %s: not found' % n)
                bb.eq(info['port'], m[n], 'PORT2 port of %s' % n)
                bb.eq(info['ntype'], 77, 'node type of %s' % n)
                bb.eq((info['hv'], info['lv']), (6, 5),
                      'versions of %s (OTP 25)' % n)
        run.step('two_erl_nodes_register', start_two)

        def otp_names():
            if not ARGS.otp_epmd:
                raise bb.Skip('no OTP epmd')
            rc, out, err = bb.run_cmd(['-names'], env=bb.client_env(port),
                                      binary=ARGS.otp_epmd)
            bb.eq((rc, err), (0, b''), 'OTP epmd -names status, stderr')
            check_names_output(out, port, st['ports'])
        run.step('otp_client_lists_them', otp_names,
                 needs=['two_erl_nodes_register'])

        def our_names():
            rc, out, err = bb.run_cmd(['-names'], env=bb.client_env(port))
            bb.eq((rc, err), (0, b''), 'epmd -names status, stderr')
            check_names_output(out, port, st['ports'])
        run.step('our_client_lists_them', our_names,
                 needs=['two_erl_nodes_register'])

        def ping():
            out = erl_eval(port, 'c', 'io:format("~p~n", '
                           '[{net_adm:ping(b@localhost), '
                           'rpc:call(a@localhost, erlang, node, [])}]), '
                           'halt().')
            bb.check('{pong,a@localhost}' in out,
                     'c pinging b, rpc to a: %r' % out)
        run.step('node_pings_node', ping, needs=['two_erl_nodes_register'])

        def erl_names():
            out = erl_eval(port, 'c', 'io:format("~p~n", '
                           '[net_adm:names()]), halt().')
            m = re.search(r'\{ok,\s*(\[.*\])\}', out, re.S)
            bb.check(m is not None, 'net_adm:names(): %r' % out)
            got = dict(re.findall(r'\{"([^"]*)",(\d+)\}', m.group(1)))
            want = {k: str(v) for k, v in st['ports'].items()}
            bb.check('c' in got, 'c itself missing from %r' % got)
            del got['c']
            bb.eq(got, want, 'net_adm:names() (erl_epmd parses NAMES)')
        run.step('erl_net_adm_names', erl_names,
                 needs=['two_erl_nodes_register'])

        def pang():
            out = erl_eval(port, 'c', 'io:format("~p~n", '
                           '[net_adm:ping(nosuch@localhost)]), halt().')
            bb.check('pang' in out, 'ping of unregistered node: %r' % out)
        run.step('ping_unknown_is_pang', pang,
                 needs=['two_erl_nodes_register'])

        def kill_refused():
            bb.eq(bb.run_cmd(['-kill'], env=bb.client_env(port)),
                  (1, b'Killing not allowed - living nodes in database.\n',
                   b''), 'epmd -kill with live nodes')
            bb.check(d.alive(), 'daemon died')
        run.step('kill_refused_with_live_nodes', kill_refused,
                 needs=['two_erl_nodes_register'])

        def creation_of(sname):
            out = erl_eval(port, sname, 'io:format("cr=~p~n", '
                           '[erlang:system_info(creation)]), halt().')
            m = re.search(r'cr=(\d+)', out)
            bb.check(m is not None, 'creation of %s: %r' % (sname, out))
            return int(m.group(1))

        def killed_node_disappears():
            nodes['a'].kill()
            bb.wait_until(lambda: 'a' not in names_map(port), 5.0,
                          'a gone from NAMES after kill -9')
            bb.eq(bb.port2(port, 'a'), b'w\x01', 'PORT2 a after kill -9')
            bb.check('b' in names_map(port), 'b gone too')
            rc, out, err = bb.run_cmd(['-names'], env=bb.client_env(port))
            bb.check(b'name a at' not in out and b'name b at' in out,
                     'epmd -names after kill -9 of a: %r' % out)
        run.step('killed_node_disappears', killed_node_disappears,
                 needs=['two_erl_nodes_register'])

        def new_creation():
            c1 = creation_of('d')
            bb.wait_until(lambda: 'd' not in names_map(port), 5.0,
                          'd gone after halt')
            c2 = creation_of('d')
            bb.check(c1 != c2 and c1 != 0 and c2 != 0,
                     'creations %d then %d' % (c1, c2))
        run.step('restarted_node_new_creation', new_creation,
                 needs=['two_erl_nodes_register'])

        def clients_same_bytes_ours():
            if not ARGS.otp_epmd:
                raise bb.Skip('no OTP epmd')
            a = bb.run_cmd(['-names'], env=bb.client_env(port))
            b = bb.run_cmd(['-names'], env=bb.client_env(port),
                           binary=ARGS.otp_epmd)
            bb.eq(a, b, 'our vs OTP -names against our daemon')
        run.step('clients_same_bytes_against_ours', clients_same_bytes_ours,
                 needs=['two_erl_nodes_register'])

        def clients_same_bytes_otp():
            if not ARGS.otp_epmd:
                raise bb.Skip('no OTP epmd')
            with bb.Daemon(binary=ARGS.otp_epmd) as od:
                n = Node('e', od.port)
                try:
                    wait_registered(od.port, ['e'], [n])
                    a = bb.run_cmd(['-names'], env=bb.client_env(od.port))
                    b = bb.run_cmd(['-names'], env=bb.client_env(od.port),
                                   binary=ARGS.otp_epmd)
                    bb.eq(a, b, 'our vs OTP -names against OTP daemon')
                    bb.check(b'name e at port' in a[1],
                             'e missing: %r; erl output %r'
                             % (a, n.output()))
                finally:
                    n.kill()
        run.step('clients_same_bytes_against_otp', clients_same_bytes_otp)

        def kill_when_empty():
            nodes['b'].kill()
            bb.wait_until(lambda: names_map(port) == {}, 5.0,
                          'all nodes gone')
            bb.eq(bb.run_cmd(['-kill'], env=bb.client_env(port)),
                  (0, b'Killed\n', b''), 'epmd -kill when empty')
            bb.eq(d.wait_exit(3.0), 0, 'daemon exit status')
        run.step('kill_when_empty', kill_when_empty,
                 needs=['two_erl_nodes_register'])
    except bb.Fail as e:
        # The daemon did not start: fail the remaining plan.
        why = str(e)

        def fail_setup():
            raise bb.Fail(why)
        while len(run.results) < PLAN:
            run.step('setup', fail_setup)
    finally:
        for n in nodes.values():
            n.kill()
        if d is not None:
            d.stop()
        wd.cancel()
        cleanup()
    return 1 if any(r[0] == 'fail' for r in run.results) else 0


def check_names_output(out, port, ports):
    want_lines = {'name %s at port %d' % (k, v) for k, v in ports.items()}
    head = b'epmd: up and running on port %d with data:\n' % port
    bb.check(out.startswith(head), 'first line of %r' % out)
    lines = set(out[len(head):].decode().splitlines())
    bb.eq(lines, want_lines, 'listed nodes')


def otp_epmd_from_erl():
    erl = ARGS.erl
    try:
        r = subprocess.run([erl, '-noshell', '-eval',
                            'io:format("~s",[code:root_dir()]),halt().'],
                           capture_output=True, timeout=EVAL_TIMEOUT,
                           env=dict(bb.client_env(), HOME=HOME or '/tmp'),
                           stdin=subprocess.DEVNULL)
        root = r.stdout.decode().strip()
    except Exception:
        return None
    found = sorted(glob.glob(os.path.join(root, 'erts-*', 'bin', 'epmd')))
    return found[-1] if found else None


if __name__ == '__main__':
    sys.exit(main())
