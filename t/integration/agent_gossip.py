#!/usr/bin/env python3
"""The gossip strategy end to end: cairn-agent processes announcing the
nodes of their own epmd by UDP multicast, against each other and against
real Erlang running libcluster's packet format.

Usage:
    agent_gossip.py --agent PATH --cairn PATH --epmd PATH [-v]
    agent_gossip.py --register PORT NAME...   (helper: hold ALIVE2s open)

Every agent has its own epmd (our build, on its own port) with fake
nodes registered by a tiny ALIVE2 client that holds its sockets open,
and a `host:` of its own, so that three agents on one machine look like
three hosts.  On loopback the group is joined and sent to on 127.0.0.1
(multicast_if), with multicast loop on.  Checks:

  * three agents (AES-256-GCM, one secret) see each other's nodes;
  * an agent with the wrong secret is ignored, and the drop is logged
    with the sender's address and reason;
  * packets captured on the group and sent again are dropped as replays
    and do not keep a killed agent alive;
  * a killed agent's nodes leave within the configured time:
    missed_heartbeats * interval + one tick + the engine's prune rule;
  * two network namespaces joined by a veth pair (made here, 10.x
    addresses inside them only), over IPv4 multicast, IPv4 broadcast
    (broadcast_only) and IPv6 multicast;
  * libcluster's format both ways against erl: term_to_binary heartbeats
    (plain, and AES-256-CBC with crypto) sent to an agent, and an
    agent's heartbeats decoded by erl with binary_to_term.

Output is TAP.  Every process is killed by pid at the end, pass or fail,
and the namespaces are deleted; every wait is bounded.
"""

import argparse
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ARGS = None
PROCS = []
NETNS = []
TMP = None
GROUP = '233.252.1.32'
SECRET = 's3cret'
INTERVAL = 0.2			# heartbeat_interval
MISSED = 4			# missed_heartbeats
PRUNE_MISSES = 2
PRUNE_AFTER = 1.0
# Worst case from a kill to the nodes leaving (see strategies/gossip.c).
LEAVE_BOUND = (MISSED * INTERVAL + INTERVAL +
               max(PRUNE_MISSES * INTERVAL, PRUNE_AFTER))
# What a loaded CI machine may add on top (process wakeups, CLI polls).
SLACK = 1.5


class Fail(Exception):
    pass


class Skip(Exception):
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


def delete_netns():
    for ns in NETNS:
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True,
                       timeout=10)
    del NETNS[:]


def on_signal(signum, frame):
    kill_all()
    delete_netns()
    os._exit(128 + signum)


def in_ns(ns, argv):
    return (['ip', 'netns', 'exec', ns] + argv) if ns else argv


def free_port(kind=socket.SOCK_DGRAM):
    """A port free for UDP (or TCP) on every address."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(('0.0.0.0', 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        o = socket.socket(socket.AF_INET,
                          socket.SOCK_STREAM if kind == socket.SOCK_DGRAM
                          else socket.SOCK_DGRAM)
        try:
            o.bind(('0.0.0.0', port))
            return port
        except OSError:
            continue
        finally:
            o.close()
    raise Fail('no free port')


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


# ---------------------------------------------------------------------
# Helper mode: register names with an epmd and hold the sockets open.

def register_main(port, names):
    socks = []
    for i, name in enumerate(names):
        n = name.encode()
        deadline = time.monotonic() + 10
        while True:
            try:
                s = socket.create_connection(('127.0.0.1', port), 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    print('epmd on %d not answering' % port, flush=True)
                    return 1
                time.sleep(0.05)
        # ALIVE2_REQ: 'x' port nodetype(77 normal) protocol(0) high low
        # name-length name extra-length.
        body = (b'x' + struct.pack('>HBBHHH', 41000 + i, 77, 0, 6, 5,
                                   len(n)) + n + struct.pack('>H', 0))
        s.sendall(struct.pack('>H', len(body)) + body)
        s.settimeout(5)
        resp = s.recv(16)
        if len(resp) < 2 or resp[0:1] not in (b'v', b'y') or resp[1] != 0:
            print('ALIVE2 %s refused: %r' % (name, resp), flush=True)
            return 1
        socks.append(s)
    print('registered', flush=True)
    sys.stdin.read()		# until the parent closes it or kills us
    return 0


# ---------------------------------------------------------------------

class Epmd:
    def __init__(self, port, ns=None):
        self.port = port
        self.log = open(os.path.join(TMP, 'epmd-%d-%s.log'
                                     % (port, ns or 'host')), 'wb')
        self.proc = subprocess.Popen(
            in_ns(ns, [ARGS.epmd, '-port', str(port)]),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        PROCS.append(self.proc)


class Registrar:
    """Fake nodes registered with an epmd, for as long as this lives."""

    def __init__(self, port, names, ns=None):
        self.proc = subprocess.Popen(
            in_ns(ns, [sys.executable, os.path.abspath(__file__),
                       '--register', str(port)] + list(names)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        r, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline().decode() if r else ''
        check(line.strip() == 'registered',
              'registering %r on %d: %r' % (names, port, line))


class Agent:
    def __init__(self, name, gossip_conf, ns=None):
        self.name = name
        self.sock = os.path.join(TMP, name + '.sock')
        self.path = os.path.join(TMP, name + '.yaml')
        with open(self.path, 'w') as f:
            f.write('quorum: 1\n'
                    'control_socket: %s\n'
                    'prune_misses: %d\n'
                    'prune_after: %dms\n'
                    'topologies:\n'
                    '  g:\n'
                    '    strategy: gossip\n'
                    '    config: {%s}\n'
                    '    connector: none\n'
                    % (self.sock, PRUNE_MISSES, int(PRUNE_AFTER * 1000),
                       gossip_conf))
        self.log = os.path.join(TMP, name + '.log')
        self.logf = open(self.log, 'wb')
        self.proc = subprocess.Popen(
            in_ns(ns, [ARGS.agent, '-d', '-c', self.path]),
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        PROCS.append(self.proc)
        wait_for(lambda: os.path.exists(self.sock) or self.dead(), 10,
                 '%s control socket' % name)
        check(not self.dead(), '%s exited: %s' % (name, self.logtext()))

    def dead(self):
        return self.proc.poll() is not None

    def logtext(self):
        with open(self.log, 'rb') as f:
            return f.read().decode(errors='replace')

    def members(self):
        p = subprocess.run([ARGS.cairn, 'members', '--json', '-s',
                            self.sock], capture_output=True, timeout=10)
        check(p.returncode == 0, 'cairn members: %r' % p.stderr)
        return json.loads(p.stdout)['members']

    def names(self):
        return sorted(m['node'] for m in self.members())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def gconf(port, epmd_port, host, extra=''):
    return ('port: %d, multicast_addr: %s, multicast_if: 127.0.0.1, '
            'heartbeat_interval: %dms, missed_heartbeats: %d, '
            'epmd_port: %d, host: %s, polling_interval: 200ms%s'
            % (port, GROUP, int(INTERVAL * 1000), MISSED, epmd_port, host,
               extra))


def node_host(names_list, host):
    return [n for n in names_list if n.endswith('@' + host)]


class Capture:
    """Joins the group on 127.0.0.1 and keeps every datagram heard."""

    def __init__(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('0.0.0.0', port))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton(GROUP) + socket.inet_aton('127.0.0.1'))
        s.settimeout(0.2)
        self.s = s

    def take(self, seconds):
        pkts = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                pkts.append(self.s.recv(65536))
            except socket.timeout:
                pass
        self.s.close()
        return pkts


def mc_sender():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                 socket.inet_aton('127.0.0.1'))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    return s


def run_escript(text, args, timeout=30):
    path = os.path.join(TMP, 'e%d.escript' % len(os.listdir(TMP)))
    with open(path, 'w') as f:
        f.write(text)
    env = dict(os.environ, HOME=TMP)
    p = subprocess.Popen(['escript', path] + [str(a) for a in args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)
    PROCS.append(p)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise Fail('escript timed out: %r' % out)
    return p.returncode, out.decode(errors='replace')


# libcluster's heartbeat as Cluster.Strategy.Gossip builds it, plain or
# encrypted (IV ++ AES-256-CBC, key SHA-256(secret), PKCS#7), sent to
# 127.0.0.1:Port five times.
ERL_SEND = r'''#!/usr/bin/env escript
main([Port, Node, Secret]) ->
    M = <<"heartbeat::", (term_to_binary(#{node => list_to_atom(Node)}))/binary>>,
    Pkt = case Secret of
        "-" -> M;
        _ ->
            Key = crypto:hash(sha256, Secret),
            IV = crypto:strong_rand_bytes(16),
            Pad = 16 - byte_size(M) rem 16,
            P = <<M/binary, (binary:copy(<<Pad>>, Pad))/binary>>,
            <<IV/binary, (crypto:crypto_one_time(aes_256_cbc, Key, IV, P, true))/binary>>
    end,
    {ok, S} = gen_udp:open(0, [binary, {ip, {127,0,0,1}}]),
    [begin ok = gen_udp:send(S, {127,0,0,1}, list_to_integer(Port), Pkt),
           timer:sleep(200) end || _ <- lists:seq(1, 5)],
    io:format("sent~n").
'''

# Joins the group on 127.0.0.1 as libcluster does and decodes what it
# hears with libcluster's own steps; prints the first node found.
ERL_RECV = r'''#!/usr/bin/env escript
main([Port, Group, Secret]) ->
    {ok, G} = inet:parse_ipv4_address(Group),
    {ok, S} = gen_udp:open(list_to_integer(Port),
        [binary, {active, false}, {reuseaddr, true}, {ip, {0,0,0,0}},
         {add_membership, {G, {127,0,0,1}}}, {multicast_loop, true}]),
    io:format("~s~n", [loop(S, Secret, 50)]).

loop(_, _, 0) -> "none";
loop(S, Secret, N) ->
    case gen_udp:recv(S, 0, 5000) of
        {ok, {_, _, Pkt}} ->
            case catch decode(Pkt, Secret) of
                {ok, Node} -> "node " ++ atom_to_list(Node);
                _ -> loop(S, Secret, N - 1)
            end;
        Err -> io_lib:format("error ~p", [Err])
    end.

decode(<<"heartbeat::", T/binary>>, "-") -> node_of(binary_to_term(T));
decode(<<IV:16/binary, C/binary>>, Secret) when Secret =/= "-" ->
    Key = crypto:hash(sha256, Secret),
    P = crypto:crypto_one_time(aes_256_cbc, Key, IV, C, false),
    Pad = binary:last(P),
    <<"heartbeat::", T/binary>> = binary_part(P, 0, byte_size(P) - Pad),
    node_of(binary_to_term(T)).

node_of(#{node := N}) when is_atom(N) -> {ok, N}.
'''


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument('--agent')
    ap.add_argument('--cairn')
    ap.add_argument('--epmd')
    ap.add_argument('--register', type=int)
    ap.add_argument('--deadline', type=float, default=170.0)
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('names', nargs='*')
    ARGS = ap.parse_args()
    if ARGS.register is not None:
        return register_main(ARGS.register, ARGS.names)
    for k in ('agent', 'cairn', 'epmd'):
        if getattr(ARGS, k) is None:
            ap.error('--%s is required' % k)
    TMP = tempfile.mkdtemp(prefix='cairn-gossip-')
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watchdog():
        print('Bail out! run took longer than %.0fs' % ARGS.deadline)
        sys.stdout.flush()
        kill_all()
        delete_netns()
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
    secret = ', secret: %s' % SECRET

    @step('erl_and_escript_installed')
    def _():
        check(shutil.which('erl') and shutil.which('escript'),
              'erl/escript not found (Debian package erlang-base)')

    @step('three_agents_see_each_others_nodes')
    def _():
        st['port'] = port = free_port()
        hosts = {'ha': ['a1', 'a2'], 'hb': ['b1'], 'hc': ['c1', 'c2']}
        st['all'] = sorted('%s@%s' % (n, h)
                           for h, ns in hosts.items() for n in ns)
        st['agents'] = {}
        for h, ns in sorted(hosts.items()):
            ep = free_port(socket.SOCK_STREAM)
            Epmd(ep)
            Registrar(ep, ns)
            st['agents'][h] = Agent(h, gconf(port, ep, h, secret))
        for h, a in st['agents'].items():
            wait_for(lambda: a.names() == st['all'], 15,
                     '%s to see %r' % (h, st['all']))
        m = st['agents']['ha'].members()
        check(all([s['source'] for s in x['sources']] == ['g/gossip']
                  for x in m), 'sources: %r' % m)
        log = st['agents']['ha'].logtext()
        check('joined with' in log, 'no join line in the log:\n' + log)
        check('no secret' not in log, 'warned about a secret it has')

    @step('wrong_secret_is_ignored_and_logged')
    def _():
        ep = free_port(socket.SOCK_STREAM)
        Epmd(ep)
        Registrar(ep, ['d1'])
        d = Agent('hd', gconf(st['port'], ep, 'hd', ', secret: wrong'))
        st['agents_d'] = d
        wait_for(lambda: d.names() == ['d1@hd'], 10, 'hd to see d1@hd')
        time.sleep(MISSED * INTERVAL * 2)
        for h, a in st['agents'].items():
            check(a.names() == st['all'],
                  '%s: %r (d1@hd must stay out)' % (h, a.names()))
        check(d.names() == ['d1@hd'], 'hd sees %r' % d.names())
        log = st['agents']['ha'].logtext()
        check('dropped a packet from 127.0.0.1:' in log and
              'unknown-key' in log,
              'no drop line naming the sender and reason:\n' + log)
        # The first, then every 100th: a few lines, not one per packet.
        n = log.count('unknown-key')
        check(1 <= n <= 3, '%d drop lines for one bad sender' % n)
        d.kill()

    @step('replayed_packets_ignored_and_do_not_keep_a_dead_agent_alive')
    def _():
        pkts = Capture(st['port']).take(1.0)
        check(len(pkts) >= 6, 'captured only %d packets' % len(pkts))
        c = st['agents'].pop('hc')
        c.kill()
        t0 = time.monotonic()
        stop = threading.Event()
        sent = [0]

        def replay():
            s = mc_sender()
            while not stop.is_set():
                for p in pkts:
                    s.sendto(p, (GROUP, st['port']))
                    sent[0] += 1
                stop.wait(0.1)
            s.close()
        th = threading.Thread(target=replay, daemon=True)
        th.start()
        try:
            gone = node_host(st['all'], 'hc')
            for h, a in st['agents'].items():
                wait_for(lambda: not set(gone) & set(a.names()),
                         LEAVE_BOUND + SLACK + 3,
                         '%s to drop %r despite replays' % (h, gone))
            took = time.monotonic() - t0
        finally:
            stop.set()
            th.join(5)
        # Replays go on during the whole wait: were they taken as
        # heartbeats, hc would never leave.  Its leaving at all is the
        # proof; how fast is the next case's (a loaded ASan run took 3.6 s
        # here against a 3.5 s bound, so no second timing bound here).
        check(took <= LEAVE_BOUND + SLACK + 3,
              'hc left after %.1fs despite the replays' % took)
        for h, a in st['agents'].items():
            log = a.logtext()
            check('replay (' in log, '%s logged no replay drop:\n%s'
                  % (h, log[-2000:]))
        st['all'] = [n for n in st['all'] if n not in gone]

    @step('killed_agent_detected_within_configured_time')
    def _():
        b = st['agents'].pop('hb')
        a = st['agents']['ha']
        check('b1@hb' in a.names(), 'b1@hb missing before the kill')
        b.kill()
        t0 = time.monotonic()
        wait_for(lambda: 'b1@hb' not in a.names(), LEAVE_BOUND + SLACK + 3,
                 'b1@hb to leave')
        took = time.monotonic() - t0
        check(took >= MISSED * INTERVAL * 0.9,
              'b1@hb left after %.2fs: before %d missed heartbeats'
              % (took, MISSED))
        check(took <= LEAVE_BOUND + SLACK,
              'b1@hb left after %.1fs (bound %.1fs + %.1fs slack)'
              % (took, LEAVE_BOUND, SLACK))
        check('sender hb-' in a.logtext() and 'gone' in a.logtext(),
              'the sender going is not logged')
        a.kill()

    def netns_pair():
        tag = '%d' % os.getpid()
        na, nb = 'cairn-h12a-' + tag, 'cairn-h12b-' + tag
        p = subprocess.run(['ip', 'netns', 'add', na], capture_output=True,
                           timeout=10)
        if p.returncode != 0:
            raise Skip('namespaces not permitted here')
        NETNS.append(na)
        p = subprocess.run(['ip', 'netns', 'add', nb], capture_output=True,
                           timeout=10)
        check(p.returncode == 0, 'ip netns add: %r' % p.stderr)
        NETNS.append(nb)
        va, vb = 'cgva' + tag[-6:], 'cgvb' + tag[-6:]
        cmds = [
            ['ip', 'link', 'add', va, 'netns', na, 'type', 'veth',
             'peer', 'name', vb, 'netns', nb],
        ]
        for ns, v, addr in ((na, va, '10.231.32.1/24'),
                            (nb, vb, '10.231.32.2/24')):
            cmds += [
                ['ip', 'netns', 'exec', ns, 'sysctl', '-qw',
                 'net.ipv6.conf.%s.accept_dad=0' % v],
                ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
                ['ip', '-n', ns, 'addr', 'add', addr, 'dev', v],
                ['ip', '-n', ns, 'link', 'set', v, 'up'],
            ]
        for c in cmds:
            p = subprocess.run(c, capture_output=True, timeout=10)
            check(p.returncode == 0, '%s: %r' % (' '.join(c), p.stderr))
        return (na, va, '10.231.32.1'), (nb, vb, '10.231.32.2')

    def ns_agents(pair, port, fam):
        """One agent per namespace on a v4 or v6 group over the veth,
        or on the veth subnet's broadcast address."""
        agents = []
        for (ns, veth, addr), h in zip(pair, ('nsa', 'nsb')):
            if fam == 4:
                c = ('port: %d, multicast_addr: %s, multicast_if: %s, '
                     % (port, GROUP, addr))
            elif fam == 'bcast':
                c = ('port: %d, multicast_addr: 10.231.32.255, '
                     'broadcast_only: true, ' % port)
            else:
                c = ('port: %d, multicast_addr: "ff02::4d:3232", '
                     'multicast_if: %s, ' % (port, veth))
            c += ('heartbeat_interval: %dms, missed_heartbeats: %d, '
                  'host: %s, polling_interval: 200ms, epmd_port: 4369'
                  '%s' % (int(INTERVAL * 1000), MISSED, h, secret))
            agents.append(Agent('%s-%s' % (h, fam), c, ns))
        return agents

    @step('two_namespaces_over_a_veth_pair_ipv4_broadcast_ipv6')
    def _():
        try:
            pair = netns_pair()
        except Skip:
            st['netns_skip'] = True
            raise
        want = ['nsa1@nsa', 'nsb1@nsb']
        for (ns, veth, addr), h in zip(pair, ('nsa', 'nsb')):
            Epmd(4369, ns)
            Registrar(4369, ['%s1' % h], ns)
        a4 = ns_agents(pair, 45892, 4)
        for a in a4:
            wait_for(lambda: a.names() == want, 15,
                     '%s to see %r over IPv4' % (a.name, want))
        for a in a4:
            a.kill()
        ab = ns_agents(pair, 45894, 'bcast')
        for a in ab:
            wait_for(lambda: a.names() == want, 15,
                     '%s to see %r by broadcast' % (a.name, want))
        for a in ab:
            a.kill()
        a6 = ns_agents(pair, 45893, 6)
        for a in a6:
            wait_for(lambda: a.names() == want, 15,
                     '%s to see %r over IPv6' % (a.name, want))
        st['a6'] = a6

    @step('namespace_agent_killed_leaves_the_other_side')
    def _():
        if st.get('netns_skip'):
            raise Skip('namespaces not permitted here')
        check('a6' in st, 'no namespace agents (previous step failed)')
        a, b = st['a6']
        b.kill()
        t0 = time.monotonic()
        wait_for(lambda: a.names() == ['nsa1@nsa'], LEAVE_BOUND + SLACK + 3,
                 'nsb1@nsb to leave')
        took = time.monotonic() - t0
        check(took <= LEAVE_BOUND + SLACK, 'left after %.1fs' % took)
        a.kill()

    @step('libcluster_plain_heartbeat_from_erl_is_read')
    def _():
        port = free_port()
        ep = free_port(socket.SOCK_STREAM)
        Epmd(ep)
        Registrar(ep, ['e1'])
        e = Agent('he', gconf(port, ep, 'he',
                              ', libcluster_compat: true'))
        st['e'], st['e_port'] = e, port
        rc, out = run_escript(ERL_SEND, [port, 'lcnode@lchost', '-'])
        check(rc == 0 and 'sent' in out, 'erl: %s' % out)
        wait_for(lambda: 'lcnode@lchost' in e.names(), 10,
                 'lcnode@lchost from erl')
        check(e.logtext().count('no secret') == 1,
              'the no-secret warning is not there once:\n' + e.logtext())

    @step('libcluster_plain_heartbeat_decoded_by_erl')
    def _():
        check('e' in st, 'no compat agent (previous step failed)')
        rc, out = run_escript(ERL_RECV, [st['e_port'], GROUP, '-'])
        check(rc == 0 and 'node e1@he' in out, 'erl heard: %s' % out)
        st['e'].kill()

    @step('libcluster_peer_stopped_leaves_with_an_empty_local_epmd')
    def _():
        # Issue 16: an agent whose own epmd is empty has an empty union,
        # which says nothing; a stopped libcluster peer must still go,
        # by its own heartbeats (missed_heartbeats of libcluster's 5 s).
        port = free_port()
        ep = free_port(socket.SOCK_STREAM)
        Epmd(ep)
        conf = ('port: %d, multicast_addr: %s, multicast_if: 127.0.0.1, '
                'heartbeat_interval: %dms, missed_heartbeats: 1, '
                'epmd_port: %d, host: hl, polling_interval: 200ms, '
                'libcluster_compat: true' % (port, GROUP,
                                             int(INTERVAL * 1000), ep))
        a = Agent('hl', conf)
        rc, out = run_escript(ERL_SEND, [port, 'lcgone@lchost', '-'])
        check(rc == 0 and 'sent' in out, 'erl: %s' % out)
        stopped = time.monotonic()
        wait_for(lambda: 'lcgone@lchost' in a.names(), 2,
                 'lcgone@lchost from erl')
        bound = 5.0 + INTERVAL
        wait_for(lambda: 'lcgone@lchost' not in a.names(),
                 bound + SLACK + 3, 'the stopped libcluster peer to leave')
        took = time.monotonic() - stopped
        check(took <= bound + SLACK, 'left after %.1fs' % took)
        check('lcgone@lchost' in a.logtext() and 'gone' in a.logtext(),
              'no line about the sender going:\n' + a.logtext())
        a.kill()

    @step('libcluster_cbc_heartbeat_from_erl_is_read')
    def _():
        port = free_port()
        ep = free_port(socket.SOCK_STREAM)
        Epmd(ep)
        Registrar(ep, ['f1'])
        f = Agent('hf', gconf(port, ep, 'hf',
                              ', libcluster_compat: true, '
                              'secrets: [lcsecret, older]'))
        st['f'], st['f_port'] = f, port
        rc, out = run_escript(ERL_SEND, [port, 'lccbc@lchost', 'lcsecret'])
        check(rc == 0 and 'sent' in out, 'erl: %s' % out)
        wait_for(lambda: 'lccbc@lchost' in f.names(), 10,
                 'lccbc@lchost from erl')
        # A heartbeat under a key the ring does not hold is dropped.
        rc, out = run_escript(ERL_SEND, [port, 'intruder@x', 'nope'])
        time.sleep(0.5)
        check('intruder@x' not in f.names(), 'wrong-key heartbeat taken')
        check('bad-tag' in f.logtext(), 'no bad-tag drop logged')

    @step('libcluster_cbc_heartbeat_decoded_by_erl')
    def _():
        check('f' in st, 'no compat agent (previous step failed)')
        rc, out = run_escript(ERL_RECV, [st['f_port'], GROUP, 'lcsecret'])
        check(rc == 0 and 'node f1@hf' in out, 'erl heard: %s' % out)
        st['f'].kill()

    print('1..%d' % len(steps))
    failed = 0
    try:
        for i, (name, fn) in enumerate(steps, 1):
            try:
                fn()
                print('ok %d - %s' % (i, name))
            except Skip as e:
                print('ok %d - %s # SKIP %s' % (i, name, e))
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
        delete_netns()
        if ARGS.verbose:
            print('# logs kept in %s' % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
