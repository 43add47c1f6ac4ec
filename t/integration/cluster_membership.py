#!/usr/bin/env python3
"""Broker membership, end to end on loopback: epmd registration, the
embedded agent's `cairn` connector, and `cairn cluster`.

Usage:
    cluster_membership.py --epmd PATH --broker PATH --cairn PATH [-v]

Starts our epmd on a free port and cairn-broker nodes whose YAML names
only ports, a node name and a cookie, then checks: the broker registers
(`epmd -names` shows it); it registers again after the epmd is killed and
a new one started on the same port; a stock `erl` node in the same epmd is
left alone ("not a Cairn broker: ignored", logged once and not per
retry); two brokers find each other and link with no config beyond that;
`cairn cluster status` shows the peer up (table and --json); a message
published on one node reaches a subscriber on the other (mosquitto's
clients, skipped when missing); `cluster remove` drops the link and it
stays dropped while epmd lists the node, until `cluster join` (issue
12); `cluster join` of an unknown node fails.

Output is TAP.  Every process is killed by pid when the run ends; every
wait is bounded.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ARGS = None
PROCS = []
TESTS = []
HOME = None


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(argv, log, env=None):
    f = open(log, 'ab')
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                         env=env, cwd=HOME, start_new_session=True)
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def cleanup():
    for p in PROCS:
        stop(p)


def on_signal(signum, frame):
    cleanup()
    os._exit(128 + signum)


def wait_for(fn, timeout):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() >= deadline:
            return v
        time.sleep(0.2)


def env_epmd(port):
    env = dict(os.environ)
    env['ERL_EPMD_PORT'] = str(port)
    env['HOME'] = HOME
    return env


def epmd_names(port):
    r = subprocess.run([ARGS.epmd, '-port', str(port), '-names'],
                       capture_output=True, text=True, timeout=10)
    return r.stdout


def broker_conf(name, mqtt, epmd):
    path = os.path.join(HOME, name + '.yaml')
    with open(path, 'w') as f:
        f.write('listen: 127.0.0.1:%d\n'
                'node_name: %s@localhost\n'
                'cookie: membership-test\n'
                'epmd_port: %d\n'
                'control_socket: %s\n' % (mqtt, name, epmd,
                                          os.path.join(HOME, name + '.sock')))
    return path


def start_broker(name, mqtt, epmd):
    path = broker_conf(name, mqtt, epmd)
    return start([ARGS.broker, '-d', '-c', path],
                 os.path.join(HOME, name + '.log'), env=env_epmd(epmd))


def logtext(name):
    with open(os.path.join(HOME, name + '.log'), 'rb') as f:
        return f.read().decode(errors='replace')


def control(name, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect(os.path.join(HOME, name + '.sock'))
        s.sendall(req.encode() + b'\n')
        buf = b''
        while not buf.endswith(b'\n'):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf.decode())
    except (OSError, ValueError):
        return None
    finally:
        s.close()


def cairn(*argv):
    return subprocess.run([ARGS.cairn] + list(argv), capture_output=True,
                          text=True, timeout=30)


def peer_state(name, peer):
    st = control(name, 'cluster status')
    for p in (st or {}).get('peers', []):
        if p.get('node') == peer:
            return p.get('state')
    return None


def check(desc, ok, diag=''):
    TESTS.append((bool(ok), desc, diag))
    n = len(TESTS)
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, desc), flush=True)
    if not ok and diag:
        for line in str(diag).splitlines()[-20:]:
            print('# ' + line, flush=True)


def main():
    global ARGS, HOME
    ap = argparse.ArgumentParser()
    ap.add_argument('--epmd', required=True)
    ap.add_argument('--broker', required=True)
    ap.add_argument('--cairn', required=True)
    ap.add_argument('-v', action='store_true')
    ARGS = ap.parse_args()
    for k in ('epmd', 'broker', 'cairn'):
        setattr(ARGS, k, os.path.abspath(getattr(ARGS, k)))
    HOME = tempfile.mkdtemp(prefix='cairn-membership.')
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print('1..14', flush=True)
    eport = free_port()
    epmd = start([ARGS.epmd, '-port', str(eport)],
                 os.path.join(HOME, 'epmd.log'))
    wait_for(lambda: 'up and running' in epmd_names(eport), 5)

    # 1-2: registration, and again after an epmd restart.
    start_broker('b1', free_port(), eport)
    ok = wait_for(lambda: 'name b1 at port' in epmd_names(eport), 10)
    check('a broker registers with epmd (epmd -names shows it)', ok,
          epmd_names(eport) + logtext('b1'))
    stop(epmd)
    epmd = start([ARGS.epmd, '-port', str(eport)],
                 os.path.join(HOME, 'epmd2.log'))
    ok = wait_for(lambda: 'name b1 at port' in epmd_names(eport), 15)
    check('the broker registers again after an epmd restart', ok and
          'registered again' in logtext('b1'), logtext('b1'))

    # 3-4: a stock Erlang node in the same epmd is not a broker.
    erl = shutil.which('erl')
    if erl is None:
        check('# SKIP erl not installed', True)
        check('# SKIP erl not installed', True)
    else:
        start([erl, '-sname', 'e1@localhost', '-start_epmd', 'false',
               '-noshell', '-setcookie', 'other'],
              os.path.join(HOME, 'erl.log'), env=env_epmd(eport))

        def erl_seen():
            m = control('b1', 'members') or {}
            for x in m.get('members', []):
                if x.get('node') == 'e1@localhost' and \
                        'not a Cairn broker' in x.get('last_error', ''):
                    return x
            return None
        x = wait_for(erl_seen, 20)
        check('a stock erl node is seen and left alone: "not a Cairn '
              'broker"', x is not None and not x.get('connected'),
              json.dumps(control('b1', 'members')))
        time.sleep(3)
        n = logtext('b1').count('not a Cairn broker')
        check('"not a Cairn broker" is logged once, not per retry (%d)' % n,
              n == 1, logtext('b1'))

    # 5-7: a second broker, no config beyond ports: they link.
    start_broker('b2', free_port(), eport)
    ok = wait_for(lambda: peer_state('b1', 'b2@localhost') == 'up' and
                  peer_state('b2', 'b1@localhost') == 'up', 20)
    check('two brokers on one host find each other and link', ok,
          logtext('b1') + logtext('b2'))
    r = cairn('cluster', 'status', '-s', os.path.join(HOME, 'b1.sock'))
    check('cairn cluster status shows the peer up', r.returncode == 0 and
          any('b2@localhost' in ln and ' up ' in ln
              for ln in r.stdout.splitlines()), r.stdout + r.stderr)
    r = cairn('cluster', 'status', '--json', '-s',
              os.path.join(HOME, 'b2.sock'))
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = {}
    check('cairn cluster status --json names both nodes',
          doc.get('node') == 'b2@localhost' and
          [p['node'] for p in doc.get('peers', [])] == ['b1@localhost'],
          r.stdout + r.stderr)

    # 8: a message crosses the link.
    sub, pub = shutil.which('mosquitto_sub'), shutil.which('mosquitto_pub')
    if sub is None or pub is None:
        check('# SKIP mosquitto clients not installed', True)
    else:
        y1 = open(os.path.join(HOME, 'b1.yaml')).read()
        y2 = open(os.path.join(HOME, 'b2.yaml')).read()
        p1 = int(y1.split('127.0.0.1:')[1].split()[0])
        p2 = int(y2.split('127.0.0.1:')[1].split()[0])
        s = subprocess.Popen([sub, '-p', str(p2), '-t', 'm/#', '-C', '1',
                              '-W', '10'], stdout=subprocess.PIPE, text=True)
        PROCS.append(s)

        def routed():
            st = control('b1', 'cluster status') or {}
            return any(p.get('routes', 0) > 0 for p in st.get('peers', []))
        wait_for(routed, 10)
        subprocess.run([pub, '-p', str(p1), '-t', 'm/x', '-m', 'across'],
                       timeout=10)
        try:
            out, _ = s.communicate(timeout=12)
        except subprocess.TimeoutExpired:
            out = ''
        check('published on one node, received on the other',
              out.strip() == 'across', out)

    # 9-10: remove sticks while epmd lists b2 (before issue 12 the agent
    # linked it again within 100-500 ms), until `cluster join`.
    r = cairn('cluster', 'remove', 'b2@localhost', '-s',
              os.path.join(HOME, 'b1.sock'))
    check('cairn cluster remove answers', r.returncode == 0 and
          'removed b2@localhost' in r.stdout, r.stdout + r.stderr)
    back = wait_for(lambda: peer_state('b1', 'b2@localhost') is not None,
                    4)
    names = epmd_names(eport)
    check('a removed peer stays out for 4s while epmd lists it',
          not back and 'name b2 at port' in names, names + logtext('b1'))
    r = cairn('cluster', 'join', 'b2@localhost', '--wait', '15', '-s',
              os.path.join(HOME, 'b1.sock'))
    ok = wait_for(lambda: peer_state('b1', 'b2@localhost') == 'up', 20)
    check('`cluster join` links a removed peer again', r.returncode == 0
          and ok, r.stdout + r.stderr + logtext('b1'))

    # 11: join by name@host with the node's epmd.
    r = cairn('cluster', 'leave', '-s', os.path.join(HOME, 'b2.sock'))
    r2 = cairn('cluster', 'join', 'b1@localhost', '--wait', '15', '-s',
               os.path.join(HOME, 'b2.sock'))
    check('cairn cluster leave, then join b1@localhost (PORT2) waits for '
          'the link', r.returncode == 0 and r2.returncode == 0 and
          'link up' in r2.stdout, r.stdout + r.stderr + r2.stdout +
          r2.stderr)

    # 12-13: joins that cannot work.
    r = cairn('cluster', 'join', 'nosuch@localhost', '--wait', '2', '-s',
              os.path.join(HOME, 'b1.sock'))
    check('joining an unregistered node fails', r.returncode == 1,
          r.stdout + r.stderr)
    r = cairn('cluster', 'join', 'e1@localhost', '--wait', '3', '-s',
              os.path.join(HOME, 'b1.sock'))
    check('joining a stock erl node fails (not a broker)',
          erl is None or (r.returncode == 1 and
                          'cluster join e1@localhost: not a Cairn broker'
                          in logtext('b1')),
          r.stdout + r.stderr)

    cleanup()
    if all(t[0] for t in TESTS):
        shutil.rmtree(HOME, ignore_errors=True)
    else:
        print('# logs kept in ' + HOME)
    return 0 if all(t[0] for t in TESTS) else 1


if __name__ == '__main__':
    try:
        sys.exit(main())
    finally:
        cleanup()
