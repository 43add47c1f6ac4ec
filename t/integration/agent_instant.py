#!/usr/bin/env python3
"""Instant local discovery: cairn-agent's local_epmd strategy streams
registrations from Cairn's epmd (the WATCH request) and falls back to
polling against OTP's epmd, which closes the connection on it.

Usage:
    agent_instant.py --epmd PATH --agent PATH [--otp-epmd PATH] [--erl PATH]
                     [--bench ROUNDS] [-v]

For each epmd: the daemon on a free loopback port, one stock node
(`erl -sname a@localhost -start_epmd false`), cairn-agent with
local_epmd and the erlang connector at its defaults, then a second stock
node whose -eval notes the time it starts (it is registered by then) and
the time the first node shows in its nodes().  The test asserts that the
mesh happens, and which path the agent took: "streaming registrations"
in its log with Cairn's epmd (and no NAMES poll once streaming), "has no
WATCH: polling" with OTP's.  Timings are not asserted here: with
--bench N the script prints, for N rounds per epmd, the time from the
node's registration to the full mesh, side by side (bench/discovery.sh).

Output is TAP (or the bench table).  Every process is killed by pid at
the end, pass or fail; every wait is bounded.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import epmd_blackbox as bb  # noqa: E402
import epmd_realpeers as rp  # noqa: E402

ARGS = None
AGENTS = []
MESH_TIMEOUT = 20.0

# Starts distribution itself (so the time taken just before is the
# moment it registers with epmd), then notes when a@localhost is in
# nodes(), in microseconds of the OS clock; then stays up.
WAIT_EVAL = ('R = os:system_time(microsecond), '
             '{ok, _} = net_kernel:start([list_to_atom(os:getenv('
             '"CAIRN_SNAME")), shortnames]), '
             'L = fun Loop(N) -> case lists:member(\'a@localhost\', nodes()) '
             'of true -> ok; false when N > 0 -> timer:sleep(2), Loop(N - 1); '
             'false -> timeout end end, '
             'X = L(10000), M = os:system_time(microsecond), '
             'io:format("registered ~p meshed ~p ~p~n", [R, M, X]), '
             'receive after infinity -> ok end.')


class Agent:
    def __init__(self, port, name):
        self.sock = os.path.join(rp.HOME, name + '.sock')
        path = os.path.join(rp.HOME, name + '.yaml')
        with open(path, 'w') as f:
            f.write('cookie: %s\ncontrol_socket: %s\nquorum: 2\n'
                    'topologies:\n  local:\n    strategy: local_epmd\n'
                    '    config: {host: localhost, port: %d}\n'
                    % (rp.COOKIE, self.sock, port))
        self.log = os.path.join(rp.HOME, name + '.log')
        self.logf = open(self.log, 'wb')
        env = dict(rp.erl_env(port))
        env.pop('ERL_EPMD_PORT', None)
        self.proc = subprocess.Popen([ARGS.agent, '-d', '-v', '-c', path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     env=env, cwd=rp.HOME)
        AGENTS.append(self)

    def logtext(self):
        with open(self.log, 'rb') as f:
            return f.read().decode(errors='replace')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except Exception:
                pass
        self.logf.close()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise bb.Fail('timed out after %.0fs waiting for %s' % (timeout, what))


def eval_node(port, sname):
    out = tempfile.TemporaryFile()
    p = subprocess.Popen(
        [rp.ARGS.erl, '-start_epmd', 'false',
         '-noshell', '-setcookie', rp.COOKIE, '-eval', WAIT_EVAL],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        env=dict(rp.erl_env(port), CAIRN_SNAME=sname + '@localhost'),
        start_new_session=True, cwd=rp.HOME)
    with rp.NODES_LOCK:
        rp.NODES[p.pid] = p
    return p, out


def read_out(f):
    f.seek(0)
    return f.read().decode(errors='replace')


def one_round(port, sname):
    """Starts sname; returns ms from its registration to the mesh."""
    p, out = eval_node(port, sname)
    got = {}

    def done():
        m = re.search(r'registered (\d+) meshed (\d+) (\w+)', read_out(out))
        if m:
            got['m'] = m
        if p.poll() is not None and not got:
            raise bb.Fail('erl %s exited: %r' % (sname, read_out(out)))
        return bool(got)
    try:
        wait_for(done, MESH_TIMEOUT + 5, '%s to print its mesh line' % sname)
    finally:
        rp.kill_group(p)
        with rp.NODES_LOCK:
            rp.NODES.pop(p.pid, None)
    m = got['m']
    if m.group(3) != 'ok':
        raise bb.Fail('%s never saw a@localhost in nodes()' % sname)
    return (int(m.group(2)) - int(m.group(1))) / 1000.0


def setup(binary, tag):
    """An epmd (ours or OTP's), node a, and an agent; returns them."""
    d = bb.Daemon(binary=binary)
    a = rp.Node('a', d.port)
    rp.wait_registered(d.port, ['a'], [a])
    ag = Agent(d.port, 'agent-' + tag)
    return d, a, ag


def teardown(d, a, ag):
    ag.stop()
    a.kill()
    d.stop()


def scenario(binary, tag, want_log, rounds, restart=False):
    """rounds new nodes; with restart, one name started rounds + 1
    times (each killed after its round), timing the restarts only."""
    d, a, ag = setup(binary, tag)
    try:
        wait_for(lambda: want_log in ag.logtext(), 10,
                 '%r in the agent log' % want_log)
        times = []
        if restart:
            one_round(d.port, 'r')
        for i in range(rounds):
            times.append(one_round(d.port, 'r' if restart else 'n%d' % i))
        return times, ag.logtext()
    finally:
        teardown(d, a, ag)


def find_otp_epmd():
    found = sorted(glob.glob('/usr/lib/erlang/erts-*/bin/epmd')
                   + glob.glob('/usr/local/lib/erlang/erts-*/bin/epmd'))
    return found[-1] if found else None


def bench(rounds):
    kinds = (("Cairn's epmd (WATCH stream)", ARGS.epmd,
              'streaming registrations'),
             ("OTP's epmd (polling NAMES)", ARGS.otp_epmd, 'has no WATCH'))
    for restart in (False, True):
        rows = []
        for label, binary, want in kinds:
            times, _ = scenario(binary, 'bench', want, rounds, restart)
            rows.append((label, times))
        print('%s -> full mesh, local_epmd at its defaults, %d rounds '
              'each (ms)' % ('a restarted node (same name)' if restart
                             else 'a new node', rounds))
        print('%-30s %8s %8s %8s %8s' % ('epmd', 'min', 'median', 'max',
                                          'mean'))
        for label, t in rows:
            print('%-30s %8.1f %8.1f %8.1f %8.1f' % (
                label, min(t), statistics.median(t), max(t),
                statistics.mean(t)))
        ours, otp = (statistics.median(t) for _, t in rows)
        print('median ratio OTP/Cairn: %.1fx\n' % (otp / ours if ours
                                                   else 0))
    return 0


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--epmd', required=True)
    ap.add_argument('--agent', required=True)
    ap.add_argument('--otp-epmd', default=None)
    ap.add_argument('--erl', default=None)
    ap.add_argument('--bench', type=int, default=0)
    ap.add_argument('--deadline', type=float, default=120.0)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    ARGS.epmd = os.path.abspath(ARGS.epmd)
    ARGS.agent = os.path.abspath(ARGS.agent)
    ARGS.otp_epmd = ARGS.otp_epmd or find_otp_epmd()
    erl = ARGS.erl or shutil.which('erl')
    rp.ARGS = argparse.Namespace(erl=erl, verbose=ARGS.verbose,
                                 epmd=ARGS.epmd)
    bb.ARGS = argparse.Namespace(epmd=ARGS.epmd, otp_epmd=ARGS.otp_epmd,
                                 impl='cairn', verbose=ARGS.verbose)
    rp.HOME = tempfile.mkdtemp(prefix='cairn-instant-')

    def cleanup():
        for a in AGENTS:
            a.stop()
        rp.cleanup()

    def on_signal(signum, frame):
        cleanup()
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watchdog():
        print('Bail out! run took longer than %.0fs' % ARGS.deadline)
        sys.stdout.flush()
        cleanup()
        os._exit(1)
    wd = threading.Timer(ARGS.deadline if not ARGS.bench else
                         ARGS.deadline + 60 * ARGS.bench, watchdog)
    wd.daemon = True
    wd.start()
    try:
        if ARGS.bench:
            if not erl or not ARGS.otp_epmd:
                print('discovery bench: needs erl and OTP\'s epmd',
                      file=sys.stderr)
                return 1
            return bench(ARGS.bench)
        return tap(erl)
    finally:
        cleanup()


def tap(erl):
    print('1..3')
    failed = 0

    def step(n, name, fn, skip=None):
        nonlocal failed
        if skip:
            print('ok %d - %s # SKIP %s' % (n, name, skip))
            return
        try:
            fn()
            print('ok %d - %s' % (n, name))
        except Exception as e:
            failed += 1
            print('not ok %d - %s' % (n, name))
            for ln in str(e).splitlines():
                print('# ' + ln)
        sys.stdout.flush()

    def installed():
        bb.check(erl is not None, 'erl not found (Debian package '
                 'erlang-base)')

    def ours():
        _, log = scenario(ARGS.epmd, 'ours', 'streaming registrations', 1)
        # Once streaming, no NAMES poll reaches the daemon: the agent's
        # only epmd traffic is the one connection (no "no answer" either).
        bb.check('has no WATCH' not in log and 'no answer' not in log,
                 'the agent polled or failed:\n' + log)

    def otps():
        _, log = scenario(ARGS.otp_epmd, 'otp', 'has no WATCH: polling', 1)
        bb.check('streaming registrations' not in log,
                 'streaming from OTP\'s epmd?\n' + log)

    step(1, 'erl_installed', installed)
    step(2, 'cairn_epmd_streams_and_a_new_node_is_meshed', ours,
         skip=None if erl else 'no erl')
    step(3, 'otp_epmd_falls_back_to_polling_and_meshes', otps,
         skip=None if erl and ARGS.otp_epmd else "no OTP epmd")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
