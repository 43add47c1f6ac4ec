#!/usr/bin/env python3
"""DNS strategies against a real DNS server: cairn-agent with
kubernetes_dns (A, or AAAA with ip_family), kubernetes_dnssrv (SRV) and
dns (libcluster's DNSPoll: A and AAAA) topologies, and
Debian's dnsmasq on a free loopback port serving a pretend cluster.

Usage:
    agent_dns.py --agent PATH --cairn PATH [-v]

The records change during the run: nodes appear; a node removed from DNS
leaves only by the prune rule (misses and time), never on one answer; the
server stopped for a while drops nobody.  The agent warns once when this
host's own address is missing (the publishNotReadyAddresses trap).

Output is TAP.  Every process is killed by pid at the end, pass or fail;
every wait is bounded; only loopback addresses are used.
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
import threading
import time
import traceback

ARGS = None
PROCS = []
TMP = None
SVC = 'myapp.default.svc.cluster.local'


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except Exception:
                pass


def on_signal(signum, frame):
    kill_all()
    os._exit(128 + signum)


def find_dnsmasq():
    for d in os.environ.get('PATH', '').split(':') + ['/usr/sbin', '/sbin']:
        p = os.path.join(d, 'dnsmasq')
        if os.access(p, os.X_OK):
            return p
    return None


def free_udp_tcp_port():
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(('127.0.0.1', port))
            return port
        except OSError:
            continue
        finally:
            s.close()
            t.close()
    raise Fail('no free port')


class Dnsmasq:
    def __init__(self, port, hosts_file, srv_records=()):
        self.port = port
        args = [ARGS.dnsmasq, '--no-daemon', '--port=%d' % port,
                '--listen-address=127.0.0.1', '--bind-interfaces',
                '--no-resolv', '--no-hosts', '--conf-file=/dev/null',
                '--pid-file=', '--local=/cluster.local/',
                '--log-facility=-', '--local-ttl=0',
                '--addn-hosts=%s' % hosts_file]
        for target, p in srv_records:
            args.append('--srv-host=%s,%s,%d,0,10' % (SVC, target, p))
        self.errf = open(os.path.join(TMP, 'dnsmasq.log'), 'ab')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf)
        PROCS.append(self.proc)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            check(self.proc.poll() is None, 'dnsmasq exited: %s'
                  % open(os.path.join(TMP, 'dnsmasq.log')).read()[-500:])
            if self.answers():
                return
            time.sleep(0.05)
        raise Fail('dnsmasq did not answer')

    def answers(self):
        """A TCP connect to the DNS port tells dnsmasq is up."""
        try:
            socket.create_connection(('127.0.0.1', self.port), 0.2).close()
            return True
        except OSError:
            return False

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


class Agent:
    def __init__(self, text):
        self.path = os.path.join(TMP, 'agent.yaml')
        with open(self.path, 'w') as f:
            f.write(text)
        self.log = os.path.join(TMP, 'agent.log')
        self.logf = open(self.log, 'wb')
        self.proc = subprocess.Popen([ARGS.agent, '-d', '-c', self.path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        PROCS.append(self.proc)

    def logtext(self):
        with open(self.log, 'rb') as f:
            return f.read().decode(errors='replace')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def members(sock):
    p = subprocess.run([ARGS.cairn, 'members', '--json', '-s', sock],
                       capture_output=True, timeout=10)
    check(p.returncode == 0, 'cairn members: %r' % p.stderr)
    return json.loads(p.stdout)


def names(sock):
    return sorted(m['node'] for m in members(sock)['members'])


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except (Fail, ValueError, OSError) as e:
            last = e
        time.sleep(0.1)
    raise Fail('timed out after %.0fs waiting for %s (%s)'
               % (timeout, what, last))


def write_hosts(path, addrs):
    with open(path + '.tmp', 'w') as f:
        for a in addrs:
            f.write('%s %s\n' % (a, SVC))
    os.rename(path + '.tmp', path)


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument('--agent', required=True)
    ap.add_argument('--cairn', required=True)
    ap.add_argument('--deadline', type=float, default=150.0)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    ARGS.dnsmasq = find_dnsmasq()
    TMP = tempfile.mkdtemp(prefix='cairn-dns-')
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watchdog():
        print('Bail out! run took longer than %.0fs' % ARGS.deadline)
        sys.stdout.flush()
        kill_all()
        os._exit(1)
    wd = threading.Timer(ARGS.deadline, watchdog)
    wd.daemon = True
    wd.start()

    steps = []

    def step(name):
        def deco(fn):
            steps.append((name, fn))
            return fn
        return deco

    st = {}
    sock = os.path.join(TMP, 'agent.sock')
    hosts = os.path.join(TMP, 'hosts')

    @step('dnsmasq_installed')
    def _():
        check(ARGS.dnsmasq is not None,
              'dnsmasq not found (Debian package dnsmasq-base)')

    @step('three_dual_stack_pods_are_three_members')
    def _():
        # Issue 16: three pods, each with an A and an AAAA record, are
        # three members (A only, as libcluster's Kubernetes.DNS), not
        # six; ip_family: inet6 asks AAAA instead.
        write_hosts(hosts, ['127.0.0.1', '127.0.0.21', '127.0.0.22',
                            '::1', 'fd00::21', 'fd00::22'])
        st['port'] = free_udp_tcp_port()
        st['dns'] = Dnsmasq(st['port'], hosts,
                            [('pod-0.%s' % SVC, 4369),
                             ('pod-1.%s' % SVC, 4369)])
        st['agent'] = Agent(
            'quorum: 2\ncontrol_socket: %s\n'
            'prune_misses: 2\nprune_after: 1500ms\n'
            'topologies:\n'
            '  k8s:\n'
            '    strategy: kubernetes_dns\n'
            '    config: {service: %s, application_name: app, '
            'polling_interval: 200ms, resolvers: ["127.0.0.1:%d"]}\n'
            '    connector: none\n'
            '  k6:\n'
            '    strategy: kubernetes_dns\n'
            '    config: {service: %s, application_name: app, '
            'ip_family: inet6, '
            'polling_interval: 200ms, resolvers: ["127.0.0.1:%d"]}\n'
            '    connector: none\n'
            '  srv:\n'
            '    strategy: kubernetes_dnssrv\n'
            '    config: {service: myapp, namespace: default, '
            'application_name: app, polling_interval: 200ms, '
            'resolvers: ["127.0.0.1:%d"]}\n'
            '    connector: none\n'
            '  poll:\n'
            '    strategy: dns\n'
            '    config: {query: %s, node_basename: dp, '
            'polling_interval: 200ms, resolvers: ["127.0.0.1:%d"]}\n'
            '    connector: none\n' % (sock, SVC, st['port'], SVC,
                                       st['port'], st['port'], SVC,
                                       st['port']))

        def of(topo):
            return sorted(x['node'] for x in members(sock)['members']
                          if any(s['source'].startswith(topo + '/')
                                 for s in x['sources']))
        want4 = ['app@127.0.0.1', 'app@127.0.0.21', 'app@127.0.0.22']
        want6 = ['app@::1', 'app@fd00::21', 'app@fd00::22']
        wait_for(lambda: of('k8s') == want4 and of('k6') == want6, 10,
                 'A nodes %r and AAAA nodes %r' % (want4, want6))
        time.sleep(0.5)		# more answers: still three each
        check(of('k8s') == want4, 'k8s: %r' % of('k8s'))
        check(of('k6') == want6, 'k6: %r' % of('k6'))

    @step('dns_poll_a_and_aaaa_become_nodes')
    def _():
        # libcluster's DNSPoll asks for A and AAAA records alike.
        want = ['dp@127.0.0.1', 'dp@127.0.0.21', 'dp@127.0.0.22',
                'dp@::1', 'dp@fd00::21', 'dp@fd00::22']
        wait_for(lambda: all(n in names(sock) for n in want), 10,
                 'DNSPoll nodes %r' % want)
        m = {x['node']: x for x in members(sock)['members']}
        check([s['source'] for s in m[want[0]]['sources']] ==
              ['poll/dns:%s' % SVC], 'dns source: %r'
              % m[want[0]]['sources'])

    @step('srv_records_become_nodes')
    def _():
        want = ['app@pod-0.%s' % SVC, 'app@pod-1.%s' % SVC]
        wait_for(lambda: all(n in names(sock) for n in want), 10,
                 'SRV nodes %r' % want)
        m = {x['node']: x for x in members(sock)['members']}
        check([s['source'] for s in m[want[0]]['sources']] ==
              ['srv/kubernetes_dnssrv:%s' % SVC],
              'SRV source: %r' % m[want[0]]['sources'])

    @step('new_record_appears')
    def _():
        write_hosts(hosts, ['127.0.0.1', '127.0.0.21', '127.0.0.22',
                            '127.0.0.23', '::1'])
        st['dns'].reload()
        wait_for(lambda: 'app@127.0.0.23' in names(sock), 10,
                 'app@127.0.0.23')

    @step('removed_record_leaves_only_by_prune_rule')
    def _():
        write_hosts(hosts, ['127.0.0.1', '127.0.0.21', '127.0.0.23',
                            '::1'])
        t0 = time.monotonic()
        st['dns'].reload()
        time.sleep(0.6)		# a few polls, under prune_after
        check('app@127.0.0.22' in names(sock),
              'app@127.0.0.22 pruned after %.1fs (prune_after 1.5s)'
              % (time.monotonic() - t0))
        wait_for(lambda: 'app@127.0.0.22' not in names(sock), 10,
                 'app@127.0.0.22 pruned')
        check(time.monotonic() - t0 >= 1.4, 'pruned too early')

    @step('dns_server_down_drops_nobody')
    def _():
        before = names(sock)
        st['dns'].stop()
        time.sleep(3.0)		# many polls, twice prune_after
        check(names(sock) == before, 'members changed while DNS was '
              'down: %r -> %r' % (before, names(sock)))
        check('no answer' in st['agent'].logtext(),
              'the failure is not logged')

    @step('dns_back_and_srv_change')
    def _():
        st['dns'] = Dnsmasq(st['port'], hosts,
                            [('pod-0.%s' % SVC, 4369),
                             ('pod-2.%s' % SVC, 4369)])
        wait_for(lambda: 'app@pod-2.%s' % SVC in names(sock), 10,
                 'pod-2 after the server came back')
        wait_for(lambda: 'app@pod-1.%s' % SVC not in names(sock), 10,
                 'pod-1 pruned')
        check('answering again' in st['agent'].logtext(),
              'the recovery is not logged')

    @step('warns_once_when_own_address_missing')
    def _():
        # 127.0.0.1 and ::1 are this host's, so the A and AAAA answers
        # have us; the SRV targets never name this host.
        log = st['agent'].logtext()
        n = log.count('publishNotReadyAddresses')
        check(n == 1, 'expected one warning, got %d:\n%s' % (n, log))
        check('srv/kubernetes_dnssrv' in log.split(
            'publishNotReadyAddresses')[0].splitlines()[-1],
            'the warning names the wrong source')

    print('1..%d' % len(steps))
    failed = 0
    try:
        for i, (name, fn) in enumerate(steps, 1):
            try:
                fn()
                print('ok %d - %s' % (i, name))
            except Fail as e:
                failed += 1
                print('not ok %d - %s' % (i, name))
                for ln in str(e).splitlines():
                    print('# ' + ln)
            except Exception:
                failed += 1
                print('not ok %d - %s' % (i, name))
                for ln in traceback.format_exc().splitlines():
                    print('# ' + ln)
            sys.stdout.flush()
    finally:
        kill_all()
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
