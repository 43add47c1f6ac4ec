#!/usr/bin/env python3
"""Agent integration tests with real peers: cairn-agent clustering stock
Erlang nodes that carry no clustering code.

Usage:
    agent_erl.py --epmd PATH --agent PATH --cairn PATH [--conf-dir DIR] [-v]

Starts our epmd on a free loopback port and stock `erl -sname
nX@localhost -start_epmd false` nodes registered with it, then
cairn-agent with a YAML file per scenario, and checks from outside (a
hidden probe node asking each node for nodes()) that the nodes end up
fully meshed: through local_epmd (some nodes started before the agent,
one after), a node restarted, the on_change hook, `cairn members` and
`cairn wait`, a SIGHUP reload that keeps membership, a bad reload kept
out, a wrong cookie reported as such, erlang_hosts with a .hosts.erlang
naming this host, and a static list.  Also `cairn-agent -n` on every
example in conf/, and file:line:col errors for a bad file.

Output is TAP.  Every process started here is killed by pid (erl by its
process group) when the run ends, pass or fail; every wait is bounded.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import epmd_blackbox as bb  # noqa: E402
import epmd_realpeers as rp  # noqa: E402

ARGS = None
AGENTS = []
MESH_TIMEOUT = 25.0


def cleanup():
    for a in AGENTS:
        a.stop()
    rp.cleanup()


def on_signal(signum, frame):
    cleanup()
    os._exit(128 + signum)


class Agent:
    """One cairn-agent in the foreground; stop() kills it by pid."""

    def __init__(self, conf_text, name='agent', env_extra=None, cwd=None,
                 env_drop=()):
        self.path = os.path.join(rp.HOME, name + '.yaml')
        self.write(conf_text)
        self.log = os.path.join(rp.HOME, name + '.log')
        self.logf = open(self.log, 'wb')
        env = dict(rp.erl_env(ARGS.port))
        env.update(env_extra or {})
        for k in env_drop:
            env.pop(k, None)
        self.proc = subprocess.Popen(
            [ARGS.agent, '-d', '-c', self.path], stdin=subprocess.DEVNULL,
            stdout=self.logf, stderr=self.logf, env=env,
            cwd=cwd or rp.HOME)
        AGENTS.append(self)

    def write(self, text):
        with open(self.path, 'w') as f:
            f.write(text)

    def logtext(self):
        with open(self.log, 'rb') as f:
            return f.read().decode(errors='replace')

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except Exception:
                pass
        self.logf.close()


def conf(strategy_block, sock, extra=''):
    return ('cookie: %s\n'
            'quorum: 3\n'
            'control_socket: %s\n'
            'health_interval: 500ms\n'
            'backoff_min: 100ms\n'
            'backoff_max: 1s\n'
            'connect_timeout: 3s\n'
            '%s'
            'topologies:\n%s' % (rp.COOKIE, sock, extra, strategy_block))


LOCAL = ('  local:\n'
         '    strategy: local_epmd\n'
         '    config: {polling_interval: 300ms, host: localhost}\n'
         '    connector: erlang\n')


def cairn(*args, timeout=15):
    p = subprocess.run([ARGS.cairn] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors='replace'), \
        p.stderr.decode(errors='replace')


def members(sock):
    rc, out, err = cairn('members', '--json', '-s', sock)
    bb.check(rc == 0, 'cairn members: rc %d, %s' % (rc, err))
    return json.loads(out)


def mesh_of(names):
    """{node: sorted visible nodes()} as each node sees it, asked from a
    hidden probe so the probe itself is not in anyone's nodes()."""
    expr = ('io:format("~p~n", [[{N, lists:sort(rpc:call(N, erlang, nodes, '
            '[], 5000))} || N <- [%s]]]), halt().'
            % ','.join('\'%s@localhost\'' % n for n in names))
    cmd = [rp.ARGS.erl, '-sname', 'probe%d@localhost' % os.getpid(),
           '-hidden', '-start_epmd', 'false', '-noshell', '-setcookie',
           rp.COOKIE, '-eval', expr]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=rp.erl_env(ARGS.port), start_new_session=True,
                         cwd=rp.HOME)
    with rp.NODES_LOCK:
        rp.NODES[p.pid] = p
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        rp.kill_group(p)
        raise bb.Fail('probe did not finish')
    finally:
        with rp.NODES_LOCK:
            rp.NODES.pop(p.pid, None)
        rp.kill_group(p)
    return out.decode(errors='replace')


def meshed(names):
    out = mesh_of(names)
    for n in names:
        others = sorted('%s@localhost' % m for m in names if m != n)
        want = '{%s@localhost,[%s]}' % (n, ','.join(others))
        if want not in out.replace(' ', '').replace('\n', ''):
            return False, out
    return True, out


def wait_meshed(names, timeout=MESH_TIMEOUT):
    deadline = time.monotonic() + timeout
    out = ''
    while time.monotonic() < deadline:
        ok, out = meshed(names)
        if ok:
            return
        time.sleep(0.5)
    raise bb.Fail('not meshed after %.0fs: %s' % (timeout, out))


def unmesh(names):
    """Disconnects every pair, so the next scenario starts apart."""
    pairs = ','.join('{\'%s@localhost\',\'%s@localhost\'}' % (a, b)
                     for a in names for b in names if a != b)
    expr = ('[rpc:call(A, erlang, disconnect_node, [B], 5000) || {A,B} <- '
            '[%s]], io:format("done~n"), halt().' % pairs)
    cmd = [rp.ARGS.erl, '-sname', 'unmesh%d@localhost' % os.getpid(),
           '-hidden', '-start_epmd', 'false', '-noshell', '-setcookie',
           rp.COOKIE, '-eval', expr]
    subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                   env=rp.erl_env(ARGS.port), timeout=30, cwd=rp.HOME)


def wait_for(pred, timeout, what):
    """Polls pred until it holds; a pred that fails (the agent not up
    yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    last = ''
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except (bb.Fail, ValueError, OSError) as e:
            last = str(e)
        time.sleep(0.2)
    raise bb.Fail('timed out after %.0fs waiting for %s %s'
                  % (timeout, what, last))


PLAN = 17


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--epmd', required=True)
    ap.add_argument('--agent', required=True)
    ap.add_argument('--cairn', required=True)
    ap.add_argument('--conf-dir', default=None)
    ap.add_argument('--erl', default=None)
    ap.add_argument('--deadline', type=float, default=280.0)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    ARGS.agent = os.path.abspath(ARGS.agent)
    ARGS.cairn = os.path.abspath(ARGS.cairn)
    if ARGS.conf_dir:
        ARGS.conf_dir = os.path.abspath(ARGS.conf_dir)
    erl = ARGS.erl or shutil.which('erl')
    if not erl:
        print('1..1\nnot ok 1 - erl not found (install erlang-base)')
        return 1
    rp.ARGS = argparse.Namespace(erl=erl, verbose=ARGS.verbose,
                                 epmd=os.path.abspath(ARGS.epmd))
    bb.ARGS = argparse.Namespace(epmd=os.path.abspath(ARGS.epmd),
                                 otp_epmd=None, impl='cairn',
                                 verbose=ARGS.verbose)
    rp.HOME = tempfile.mkdtemp(prefix='cairn-agent-')
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
    run = rp.Run()
    nodes = {}
    try:
        d = bb.Daemon()
        ARGS.port = d.port
        sock = os.path.join(rp.HOME, 'agent.sock')
        events = os.path.join(rp.HOME, 'events.jsonl')
        cookie_home = rp.HOME

        def examples_check():
            cdir = ARGS.conf_dir
            bb.check(cdir and os.path.isdir(cdir), 'no conf dir %r' % cdir)
            ck = os.path.join(cookie_home, '.erlang.cookie')
            with open(ck, 'w') as f:
                f.write(rp.COOKIE + '\n')
            os.chmod(ck, 0o600)
            # conf/broker*.yaml belong to cairn-broker, checked by its suites.
            files = sorted(f for f in os.listdir(cdir)
                           if f.startswith('agent') and f.endswith('.yaml'))
            bb.check(len(files) >= 4, 'examples: %r' % files)
            for f in files:
                p = subprocess.run([ARGS.agent, '-n', '-c',
                                    os.path.join(cdir, f)],
                                   capture_output=True, timeout=10,
                                   env=dict(os.environ, HOME=cookie_home))
                bb.check(p.returncode == 0 and
                         p.stdout == b'configuration OK\n',
                         '%s: rc %d out %r err %r' % (f, p.returncode,
                                                      p.stdout, p.stderr))
        run.step('conf_examples_load', examples_check)

        def bad_file():
            path = os.path.join(rp.HOME, 'bad.yaml')
            with open(path, 'w') as f:
                f.write('quorum: many\ntopologies:\n  t:\n'
                        '    strategy: local_epmd\n'
                        '    config: {polling_interval: 5 parsecs}\n'
                        '    connector: nope\n')
            p = subprocess.run([ARGS.agent, '-n', '-c', path],
                               capture_output=True, timeout=10,
                               env=dict(os.environ, HOME=cookie_home))
            err = p.stderr.decode()
            bb.check(p.returncode != 0, 'bad file accepted')
            for want in ("bad.yaml:1:9: key 'quorum'",
                         "bad.yaml:5:32: key 'polling_interval'",
                         "bad.yaml:6:16: key 'connector': unknown "
                         "connector 'nope'"):
                bb.check(want in err, 'missing %r in %r' % (want, err))
            ck = os.path.join(rp.HOME, 'open.cookie')
            with open(ck, 'w') as f:
                f.write('x\n')
            os.chmod(ck, 0o644)
            with open(path, 'w') as f:
                f.write('cookie_file: %s\n' % ck + 'topologies:\n  t:\n'
                        '    strategy: local_epmd\n')
            p = subprocess.run([ARGS.agent, '-n', '-c', path],
                               capture_output=True, timeout=10)
            bb.check(p.returncode != 0 and
                     b'must be accessible by owner only' in p.stderr,
                     'world-readable cookie file: %r' % p.stderr)
        run.step('bad_config_named_errors', bad_file)

        def every_error_at_once():
            # Issue 16: each of these passed -n and failed at start, with
            # no position; and an error in a topology's own keys hid the
            # errors inside its config.  All of them, in one run.
            path = os.path.join(rp.HOME, 'bad2.yaml')
            with open(path, 'w') as f:
                f.write('cookie: c\n'
                        'topologies:\n'
                        '  g:\n'
                        '    strategy: gossip\n'
                        '    config:\n'
                        '      multicast_addr: 999.1.1.1\n'
                        '      secret: a\n'
                        '      secrets: [b, c]\n'
                        '    connector: none\n'
                        '  k:\n'
                        '    strategy: kubernetes_dns\n'
                        '    config: {service: s, application_name: a,\n'
                        '             resolvers: ["not-an-ip"]}\n'
                        '    connector: none\n'
                        '  e:\n'
                        '    strategy: epmd\n'
                        '    oops: 1\n'
                        '    config:\n'
                        '      hosts: [a@b, "not a node"]\n'
                        '    connector: none\n')
            p = subprocess.run([ARGS.agent, '-n', '-c', path],
                               capture_output=True, timeout=10)
            err = p.stderr.decode()
            bb.check(p.returncode != 0 and b'configuration OK' not in
                     p.stdout, 'bad file accepted: %r' % p.stdout)
            for want in ("bad2.yaml:6:23: key 'multicast_addr'",
                         "bad2.yaml:8:16: key 'secrets': set secret or "
                         "secrets, not both",
                         "bad2.yaml:13:26: key 'resolvers': 'not-an-ip'",
                         "bad2.yaml:17:5: key 'oops': unknown key",
                         "bad2.yaml:19:20: key 'hosts': 'not a node'"):
                bb.check(want in err, 'missing %r in %r' % (want, err))
        run.step('check_reports_every_error_at_once', every_error_at_once)

        def local_epmd_mesh():
            nodes['n1'] = rp.Node('n1', ARGS.port)
            nodes['n2'] = rp.Node('n2', ARGS.port)
            rp.wait_registered(ARGS.port, ['n1', 'n2'], nodes.values())
            ok, out = meshed(['n1', 'n2'])
            bb.check(not ok, 'n1 and n2 meshed before the agent: %s' % out)
            run.state['agent'] = Agent(conf(
                LOCAL, sock, 'on_change: cat >> %s\n' % events))
            time.sleep(1.0)
            nodes['n3'] = rp.Node('n3', ARGS.port)	# after the agent
            rp.wait_registered(ARGS.port, ['n3'], [nodes['n3']])
            wait_meshed(['n1', 'n2', 'n3'])
        run.step('local_epmd_meshes_three_nodes', local_epmd_mesh)

        def members_and_wait():
            wait_for(lambda: members(sock)['connected'] >= 3, 10,
                     'members connected >= 3')
            m = members(sock)
            bb.eq(m['state'], 'up', 'cluster state')
            # The probe node of mesh_of() registers too, and is seen.
            ours = [x for x in m['members'] if x['node'][0] == 'n']
            got = sorted(x['node'] for x in ours)
            bb.eq(got, ['n1@localhost', 'n2@localhost', 'n3@localhost'],
                  'members')
            for x in ours:
                bb.eq([s['source'] for s in x['sources']],
                      ['local/local_epmd'], 'sources of %s' % x['node'])
            rc, out, err = cairn('members', '-s', sock)
            bb.check(rc == 0 and 'n3@localhost' in out and 'yes' in out,
                     'table: %r %r' % (out, err))
            rc, out, err = cairn('wait', '--quorum', '3', '--timeout', '5s',
                                 '-s', sock)
            bb.eq(rc, 0, 'cairn wait --quorum 3: %s %s' % (out, err))
            rc, out, err = cairn('wait', '--quorum', '9', '--timeout',
                                 '500ms', '-s', sock)
            bb.check(rc != 0 and 'timed out' in err,
                     'cairn wait --quorum 9: rc %d %r' % (rc, err))
            rc, out, err = cairn('wait', '--quorum', '1', '--timeout', '1s',
                                 '-s', os.path.join(rp.HOME, 'nosuch.sock'))
            bb.check(rc != 0 and 'cannot reach the agent' in err,
                     'no agent: rc %d %r' % (rc, err))
        run.step('members_and_wait', members_and_wait,
                 needs=['local_epmd_meshes_three_nodes'])

        def hook_events():
            def seen():
                if not os.path.exists(events):
                    return False
                with open(events) as f:
                    evs = [json.loads(ln) for ln in f if ln.strip()]
                con = {e.get('node') for e in evs
                       if e['event'] == 'node_connected'}
                return {'n1@localhost', 'n2@localhost',
                        'n3@localhost'} <= con and any(
                            e['event'] == 'state' and e['state'] == 'up'
                            for e in evs)
            wait_for(seen, 10, 'node_connected x3 and state up in the hook')
        run.step('on_change_hook_gets_events', hook_events,
                 needs=['local_epmd_meshes_three_nodes'])

        def restart():
            nodes['n2'].kill()
            bb.wait_until(lambda: 'n2' not in rp.names_map(ARGS.port), 5.0,
                          'n2 gone from NAMES')
            wait_for(lambda: any(x['node'] == 'n2@localhost' and
                                 not x['connected']
                                 for x in members(sock)['members']),
                     10, 'n2 seen as disconnected')
            bb.eq(members(sock)['state'], 'degraded', 'state with n2 down')
            nodes['n2'] = rp.Node('n2', ARGS.port)
            rp.wait_registered(ARGS.port, ['n2'], [nodes['n2']])
            wait_meshed(['n1', 'n2', 'n3'])
            wait_for(lambda: members(sock)['state'] == 'up', 10,
                     'state up again')
        run.step('restarted_node_meshed_again', restart,
                 needs=['local_epmd_meshes_three_nodes'])

        def reload_keeps():
            a = run.state['agent']
            a.write(conf(LOCAL.replace('300ms', '400ms'), sock,
                         'on_change: cat >> %s\n' % events))
            a.hup()
            wait_for(lambda: 'reloaded' in a.logtext(), 10, 'reloaded')
            bb.check('topology local: stopped for reload' in a.logtext(),
                     'changed topology not restarted: %s' % a.logtext())
            m = members(sock)
            bb.check(m['connected'] >= 3, 'connected after reload: %r' % m)
            with open(events) as f:
                evs = [json.loads(ln) for ln in f if ln.strip()]
            bb.check(not any(e['event'] == 'node_removed' for e in evs),
                     'a node was removed by the reload')
            a.write('topologies: [oops\n')
            a.hup()
            wait_for(lambda: 'keeping the old config' in a.logtext(), 10,
                     'bad reload refused')
            bb.check(members(sock)['connected'] >= 3,
                     'connected after bad reload')
            bb.check(a.proc.poll() is None, 'agent died on a bad reload')
        run.step('sighup_reload_keeps_membership', reload_keeps,
                 needs=['local_epmd_meshes_three_nodes'])

        def stop_agent():
            a = run.state['agent']
            a.stop()
            unmesh(['n1', 'n2', 'n3'])
            ok, out = meshed(['n1', 'n2', 'n3'])
            bb.check(not ok, 'still meshed after disconnects: %s' % out)
        run.step('nodes_unmeshed_for_next_scenarios', stop_agent,
                 needs=['local_epmd_meshes_three_nodes'])

        def wrong_cookie():
            a = Agent(conf(LOCAL, sock).replace(
                'cookie: %s' % rp.COOKIE, 'cookie: not-the-cookie'),
                name='wrongcookie')
            try:
                def reported():
                    m = members(sock)
                    ours = [x for x in m['members'] if x['node'][0] == 'n']
                    return len(ours) == 3 and all(
                        'cookie' in x['last_error'] and not x['connected']
                        for x in ours)
                wait_for(reported, 15, 'wrong cookie in last_error')
                bb.check('cookie' in a.logtext(),
                         'log does not say cookie: %s' % a.logtext())
            finally:
                a.stop()
        run.step('wrong_cookie_reported', wrong_cookie,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def erlang_hosts():
            wd_ = tempfile.mkdtemp(dir=rp.HOME)
            with open(os.path.join(wd_, '.hosts.erlang'), 'w') as f:
                f.write("% this host\n'localhost'.\n")
            a = Agent(conf('  hosts:\n'
                           '    strategy: erlang_hosts\n'
                           '    config: {polling_interval: 500ms}\n',
                           sock), name='hosts', cwd=wd_)
            try:
                wait_meshed(['n1', 'n2', 'n3'])
                m = members(sock)
                bb.eq(sorted({s['source'] for x in m['members']
                              if x['node'][0] == 'n'
                              for s in x['sources']}),
                      ['hosts/erlang_hosts:localhost'], 'sources')
            finally:
                a.stop()
            unmesh(['n1', 'n2', 'n3'])
        run.step('erlang_hosts_meshes', erlang_hosts,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def static_list():
            a = Agent(conf('  static:\n'
                           '    strategy: epmd\n'
                           '    config:\n'
                           '      hosts: [n1@localhost, n2@localhost, '
                           'n3@localhost, ghost@localhost]\n',
                           sock).replace('quorum: 3', 'quorum: 4'),
                      name='static')
            try:
                wait_meshed(['n1', 'n2', 'n3'])

                def ghost():
                    return [x for x in members(sock)['members']
                            if x['node'] == 'ghost@localhost']
                # Its first attempt may still be running: wait for it.
                wait_for(lambda: ghost() and ghost()[0]['last_error'], 10,
                         'a reason for ghost@localhost')
                g = ghost()
                bb.check(not g[0]['connected'] and
                         'not registered' in g[0]['last_error'],
                         'ghost should be unreachable with a reason: %r'
                         % g)
                m = members(sock)
                bb.eq(m['state'], 'assembling', 'state with 3 of 4')
            finally:
                a.stop()
        run.step('static_list_meshes_and_retries', static_list,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def exec_connector():
            out = os.path.join(rp.HOME, 'joined.txt')
            a = Agent('quorum: 3\ncontrol_socket: %s\n'
                      'topologies:\n  local:\n'
                      '    strategy: local_epmd\n'
                      '    config: {polling_interval: 300ms, host: localhost}\n'
                      '    connector: {type: exec, connect: "echo >> %s"}\n'
                      % (sock, out), name='exec')
            try:
                def joined():
                    if not os.path.exists(out):
                        return False
                    with open(out) as f:
                        got = sorted(ln.strip() for ln in f if ln.strip())
                    return got == ['n1@localhost', 'n2@localhost',
                                   'n3@localhost']
                wait_for(joined, 10, 'exec ran once per node with its name')
                time.sleep(1.0)
                bb.check(joined(), 'exec ran again for a connected node')
                bb.check(members(sock)['connected'] >= 3, 'connected via exec')
            finally:
                a.stop()
        run.step('exec_connector_runs_commands', exec_connector,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def port_without_env():
            # Issue 16: local_epmd's port reaches the connector too; the
            # agent's environment names no epmd port at all.
            unmesh(['n1', 'n2', 'n3'])
            ok, out = meshed(['n1', 'n2', 'n3'])
            bb.check(not ok, 'meshed before the agent: %s' % out)
            a = Agent(conf('  local:\n'
                           '    strategy: local_epmd\n'
                           '    config: {host: localhost, port: %d}\n'
                           '    connector: erlang\n' % ARGS.port, sock),
                      name='portonly', env_drop=('ERL_EPMD_PORT',))
            try:
                wait_meshed(['n1', 'n2', 'n3'])
                bb.check('port 4369' not in a.logtext(),
                         'the connector asked 4369: %s' % a.logtext())
            finally:
                a.stop()
            unmesh(['n1', 'n2', 'n3'])
        run.step('local_epmd_port_reaches_the_connector', port_without_env,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def wait_before_agent():
            # Issue 16: an init container runs `cairn wait` beside the
            # agent, before its socket exists.
            unmesh(['n1', 'n2', 'n3'])
            wsock = os.path.join(rp.HOME, 'late.sock')
            w = subprocess.Popen([ARGS.cairn, 'wait', '--quorum', '3',
                                  '--timeout', '30s', '-s', wsock],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            a = None
            try:
                time.sleep(1.0)
                if w.poll() is not None:
                    raise bb.Fail('cairn wait gave up before the agent '
                                  'started: %r' % (w.communicate(timeout=5),))
                # Defaults only: the local epmd at its default poll.
                a = Agent(conf('  local:\n'
                               '    strategy: local_epmd\n'
                               '    config: {host: localhost}\n',
                               wsock).replace('health_interval: 500ms\n',
                                              ''), name='late')
                out, err = w.communicate(timeout=35)
                bb.eq(w.returncode, 0, 'cairn wait: %r %r' % (out, err))
                bb.check(b'quorum reached' in out, 'output: %r' % out)
                wait_meshed(['n1', 'n2', 'n3'])
            finally:
                if w.poll() is None:
                    w.kill()
                    w.wait(timeout=5)
                if a is not None:
                    a.stop()
            unmesh(['n1', 'n2', 'n3'])
        run.step('wait_started_before_the_agent', wait_before_agent,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def ring_same_everywhere():
            # Two agents over the same three nodes: the same ring, so
            # the same owner for every key and the same leader, announced
            # in the on_change hook.
            socks = [os.path.join(rp.HOME, 'ring%d.sock' % i)
                     for i in range(2)]
            hook = os.path.join(rp.HOME, 'ring-events.jsonl')
            agents = []
            try:
                for i, s in enumerate(socks):
                    agents.append(Agent(
                        'quorum: 3\ncontrol_socket: %s\n%s'
                        'topologies:\n  local:\n'
                        '    strategy: local_epmd\n'
                        '    config: {host: localhost}\n'
                        '    connector: none\n'
                        % (s, 'on_change: cat >> %s\n' % hook
                           if i == 0 else ''), name='ring%d' % i))
                want = ['n1@localhost', 'n2@localhost', 'n3@localhost']

                def ring_of(s):
                    rc, out, err = cairn('ring', '-s', s)
                    return json.loads(out) if rc == 0 else None
                for s in socks:
                    wait_for(lambda: (ring_of(s) or {}).get('members') ==
                             want, 10, 'ring members %r at %s' % (want, s))
                for s in socks:
                    r = ring_of(s)
                    bb.eq(r['leader'], 'n1@localhost', 'leader at %s' % s)
                    bb.eq(r['points'], 128, 'points')
                owners = {}
                for k in range(40):
                    key = 'session/%d' % k
                    got = []
                    for s in socks:
                        rc, out, err = cairn('ring', 'whois', key, '-s', s)
                        bb.eq(rc, 0, 'ring whois: %r' % err)
                        got.append(out.strip())
                    bb.eq(got[0], got[1], 'owner of %s' % key)
                    bb.check(got[0] in want, 'owner %r' % got[0])
                    owners[key] = got[0]
                bb.check(len(set(owners.values())) == 3,
                         'every node owns some of 40 keys: %r' % owners)
                key, owner = next(iter(owners.items()))
                other = [n for n in want if n != owner][0]
                rc, out, _ = cairn('ring', 'mine', key, '--node', owner,
                                   '-s', socks[1])
                bb.check(rc == 0 and out.strip() == 'yes',
                         'mine for the owner: %d %r' % (rc, out))
                rc, out, _ = cairn('ring', 'mine', key, '--node', other,
                                   '-s', socks[1])
                bb.check(rc == 1 and out.strip() == 'no',
                         'mine for another: %d %r' % (rc, out))

                def leader_event():
                    if not os.path.exists(hook):
                        return False
                    with open(hook) as f:
                        evs = [json.loads(ln) for ln in f if ln.strip()]
                    return any(e['event'] == 'leader' and
                               e['leader'] == 'n1@localhost' for e in evs)
                wait_for(leader_event, 10, 'a leader event in the hook')
            finally:
                for a in agents:
                    a.stop()
        run.step('ring_whois_same_on_every_agent', ring_same_everywhere,
                 needs=['nodes_unmeshed_for_next_scenarios'])

        def down_epmd_drops_nobody():
            a = Agent('quorum: 3\ncontrol_socket: %s\nprune_after: 1s\n'
                      'topologies:\n  local:\n'
                      '    strategy: local_epmd\n'
                      '    config: {polling_interval: 200ms, '
                      'host: localhost, port: %d}\n'
                      '    connector: none\n' % (sock, ARGS.port),
                      name='none')
            try:
                wait_for(lambda: members(sock)['connected'] >= 3, 10,
                         'three members')
                before = len(members(sock)['members'])
                d.stop()		# epmd gone: answers are unknown
                time.sleep(3.0)
                m = members(sock)
                bb.eq(len(m['members']), before, 'members while epmd is down')
                bb.check('no answer' in a.logtext(),
                         'the failure is not logged')
            finally:
                a.stop()
        run.step('epmd_down_drops_nobody', down_epmd_drops_nobody,
                 needs=['nodes_unmeshed_for_next_scenarios'])
    finally:
        cleanup()
        shutil.rmtree(rp.HOME, ignore_errors=True)
    failed = sum(1 for r in run.results if r[0] == 'fail')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
