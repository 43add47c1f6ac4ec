"""Shared harness for the broker cluster suites (cluster_*.py).

Not a test on its own.  It builds on mqtt_harness.py (raw MQTT packets,
the bounded reader, the TAP runner and its watchdog, pid tracking) and
adds what a cluster needs:

  * Epmd: one of our epmd daemons on a free port (or 4369 inside a
    namespace of ours), in the foreground, killed by pid;
  * Node: one cairn-broker with the cluster keys of conf/broker.yaml
    (node_name, cluster_listen, cookie, peers, control_socket,
    tick_interval, dead_after), ERL_EPMD_PORT in its environment so that
    it registers with that epmd and its default local_epmd topology polls
    it; killed by pid (kill -9 on purpose in some cases);
  * status(): `cluster status` over the node's control socket (JSON, as
    broker/cluster/cluster.h documents it), and cli(): the `cairn cluster ...`
    command itself;
  * network namespaces made by the test (`ip netns add`, one veth pair,
    10.x addresses only inside them): brokers run under `ip netns exec`,
    and the test's own MQTT sockets are created inside a namespace by a
    short-lived thread that setns(2)s into it, so that every client talks
    to 127.0.0.1 of its node's namespace.  Namespaces are deleted at exit,
    on a signal and by the watchdog.

Python 3 standard library only.
"""

import atexit
import ctypes
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import mqtt_harness as h
from mqtt_harness import (Conn, Fail, check, eq, uniq, connect_pkt,
                          publish_pkt, ack_pkt, CONNACK, PUBLISH, PUBACK)

LINK_TIMEOUT = 20.0     # links up after a start, a heal, a re-join
ROUTE_TIMEOUT = 10.0    # a route replicated to a peer
TICK = '250ms'          # tick_interval of every node
DEAD = '1500ms'         # dead_after of every node
DEAD_S = 1.5

NETNS = []              # namespaces this run made, deleted at the end
NETNS_LOCK = threading.Lock()


# ----------------------------------------------------------------- cleanup

def delete_netns():
    with NETNS_LOCK:
        names = list(NETNS)
        del NETNS[:]
    for ns in names:
        try:
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True,
                           timeout=10)
        except Exception:
            pass


_orig_kill_all = h.kill_all


def kill_all():
    """Every process we started (by pid), then our namespaces."""
    _orig_kill_all()
    delete_netns()


# mqtt_harness calls its module-level kill_all from the signal handler,
# the watchdog and the end of main(): make that ours.
h.kill_all = kill_all
atexit.register(kill_all)


# -------------------------------------------------------------- namespaces

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _in_ns(ns, fn):
    """fn() run on a fresh thread that has entered namespace ns (None:
    ours).  A socket made there stays in that namespace."""
    if ns is None:
        return fn()
    out = {}

    def body():
        try:
            fd = os.open('/var/run/netns/%s' % ns, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, 'setns %s: %s' % (ns, os.strerror(e)))
            finally:
                os.close(fd)
            out['v'] = fn()
        except BaseException as e:  # noqa: B902 - handed to the caller
            out['e'] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(10)
    if 'e' in out:
        raise out['e']
    if 'v' not in out:
        raise Fail('entering namespace %s took more than 10s' % ns)
    return out['v']


def ns_socket(ns, family=socket.AF_INET):
    return _in_ns(ns, lambda: socket.socket(family, socket.SOCK_STREAM))


def ns_cmd(ns, argv):
    return (['ip', 'netns', 'exec', ns] + list(argv)) if ns else list(argv)


def sh(argv, timeout=15.0, check_rc=True):
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise Fail('%s: rc %d: %s' % (' '.join(argv), p.returncode,
                                      p.stderr.decode('utf-8', 'replace')))
    return p


class NsPair:
    """Two namespaces joined by a veth pair: (ns, veth, addr) each side.
    h.Skip if `ip netns add` itself fails."""

    def __init__(self, tag, subnet='10.231.77'):
        pid = '%d' % os.getpid()
        self.a = 'cairn-%sa-%s' % (tag, pid)
        self.b = 'cairn-%sb-%s' % (tag, pid)
        p = subprocess.run(['ip', 'netns', 'add', self.a],
                           capture_output=True, timeout=10)
        if p.returncode != 0:
            raise h.Skip('namespaces not permitted')
        with NETNS_LOCK:
            NETNS.append(self.a)
        sh(['ip', 'netns', 'add', self.b])
        with NETNS_LOCK:
            NETNS.append(self.b)
        self.va = 'cv%sa%s' % (tag[:3], pid[-6:])
        self.vb = 'cv%sb%s' % (tag[:3], pid[-6:])
        self.addr_a = subnet + '.1'
        self.addr_b = subnet + '.2'
        sh(['ip', 'link', 'add', self.va, 'netns', self.a, 'type', 'veth',
            'peer', 'name', self.vb, 'netns', self.b])
        for ns, v, addr in ((self.a, self.va, self.addr_a),
                            (self.b, self.vb, self.addr_b)):
            sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
            sh(['ip', '-n', ns, 'addr', 'add', addr + '/24', 'dev', v])
            sh(['ip', '-n', ns, 'link', 'set', v, 'up'])

    def link(self, up):
        """The veth down or up, from inside namespace a."""
        sh(['ip', '-n', self.a, 'link', 'set', self.va,
            'up' if up else 'down'])

    def delete(self):
        for ns in (self.a, self.b):
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True,
                           timeout=10)
            with NETNS_LOCK:
                if ns in NETNS:
                    NETNS.remove(ns)


# -------------------------------------------------------------------- epmd

NAMES_REQ = b'\x00\x01n'


class Epmd:
    """Our epmd in the foreground on its own port (ns: inside it)."""

    def __init__(self, port=None, ns=None):
        self.ns = ns
        self.port = port or h.free_port()
        self.start()

    def start(self):
        self.errf = tempfile.TemporaryFile(dir=h.TMP)
        self.proc = subprocess.Popen(
            ns_cmd(self.ns, [h.ARGS.epmd, '-port', str(self.port)]),
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            env=clean_env(), close_fds=True)
        h.track(self.proc)
        self.wait_ready()

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self):
        deadline = time.monotonic() + h.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.errf.seek(0)
                raise Fail('epmd -port %d exited early (rc %r): %r'
                           % (self.port, self.proc.returncode,
                              self.errf.read()[-500:]))
            s = ns_socket(self.ns)
            s.settimeout(0.5)
            try:
                s.connect(('127.0.0.1', self.port))
                s.sendall(NAMES_REQ)
                if len(h.recv_exact(s, 4, 1.0)) == 4:
                    return
            except OSError:
                pass
            finally:
                s.close()
            time.sleep(0.05)
        raise Fail('epmd not answering on port %d' % self.port)

    def kill9(self):
        h.kill_proc(self.proc)

    def names(self):
        """`epmd -names` (our binary, ERL_EPMD_PORT): {name: port}."""
        env = clean_env()
        env['ERL_EPMD_PORT'] = str(self.port)
        rc, out, err = h.run_cmd(ns_cmd(self.ns, [h.ARGS.epmd, '-names']),
                                 timeout=10, env=env)
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r'^name (\S+) at port (\d+)$',
                            out.decode('utf-8', 'replace'), re.M)}


def clean_env():
    env = dict(os.environ)
    for k in ('ERL_EPMD_PORT', 'ERL_EPMD_ADDRESS', 'CAIRN_AGENT_SOCKET',
              'CAIRN_BROKER_SOCKET',
              'LISTEN_FDS', 'LISTEN_PID'):
        env.pop(k, None)
    return env


# -------------------------------------------------------------- broker node

def yq(s):
    return h.yaml_str(s)


class Node:
    """One cairn-broker cluster node.

    name: the registered name (node 'name@host'); host: the host part and
    the address the cluster listens on (127.0.0.1, or the namespace's
    10.x address); epmd: an Epmd; ns: a namespace or None; peers: YAML
    `peers` items (name@host:port); extra: more YAML lines; verbose:
    run with -v (debug lines), the default."""

    def __init__(self, name, epmd, cookie='cairn-test-cookie', ns=None,
                 host='127.0.0.1', peers=(), extra=(), cport=None,
                 mport=None, start=True, verbose=True):
        self.short = name
        self.verbose = verbose      # False: no -v (the default log level)
        self.host = host
        self.node = '%s@%s' % (name, host)
        self.epmd = epmd
        self.ns = ns
        self.cookie = cookie
        self.peers = list(peers)
        self.extra = list(extra)
        self.mport = mport or (h.free_port() if ns is None else 1883)
        self.cport = cport or (h.free_port() if ns is None else 4370)
        self.sock = h.scratch(uniq('ctl-' + name) + '.sock')
        self.conf = h.scratch(uniq('node-' + name) + '.yaml')
        self.logpath = h.scratch(uniq('node-' + name) + '.log')
        self.proc = None
        self.write_conf()
        if start:
            self.start()

    @property
    def addr(self):
        return '%s@%s:%d' % (self.short, self.host, self.cport)

    def write_conf(self):
        lines = ['listen: %s' % yq('127.0.0.1:%d' % self.mport),
                 'sys_interval: 0s',
                 'node_name: %s' % yq(self.node),
                 'cluster_listen: %s' % yq('%s:%d' % (self.host, self.cport)),
                 'cookie: %s' % yq(self.cookie),
                 'control_socket: %s' % yq(self.sock),
                 'tick_interval: %s' % TICK,
                 'dead_after: %s' % DEAD]
        if self.peers:
            lines.append('peers: [%s]' % ', '.join(yq(p) for p in
                                                   self.peers))
        lines += self.extra
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def start(self, wait=True):
        env = clean_env()
        env['ERL_EPMD_PORT'] = str(self.epmd.port)
        self.logf = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(
            ns_cmd(self.ns, [h.ARGS.broker_cmd, '-d'] +
                   (['-v'] if self.verbose else []) + ['-c', self.conf]),
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            env=env, preexec_fn=lambda: h.raise_nofile(8192),
            close_fds=True)
        h.track(self.proc)
        if wait:
            self.wait_ready()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.logpath, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def tail(self, n=25):
        return '\n'.join('  [%s] %s' % (self.short, ln)
                         for ln in self.log().splitlines()[-n:])

    def wait_ready(self):
        deadline = time.monotonic() + h.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail('node %s exited early (rc %r); log:\n%s'
                           % (self.node, self.proc.returncode, self.tail()))
            s = ns_socket(self.ns)
            s.settimeout(0.5)
            try:
                s.connect(('127.0.0.1', self.mport))
                s.sendall(connect_pkt(uniq('probe')))
                r = h.recv_exact(s, 4, 1.0)
                if len(r) == 4 and r[0] == 0x20:
                    s.sendall(b'\xe0\x00')
                    if os.path.exists(self.sock):
                        return
            except OSError:
                pass
            finally:
                s.close()
            time.sleep(0.05)
        raise Fail('node %s not answering MQTT on 127.0.0.1:%d (or no '
                   'control socket) after %.0fs; log:\n%s'
                   % (self.node, self.mport, h.START_TIMEOUT, self.tail()))

    def kill9(self):
        if self.proc is not None:
            h.kill_proc(self.proc)

    def stop(self):
        self.kill9()
        try:
            self.logf.close()
        except Exception:
            pass

    # --- MQTT on this node

    def conn(self, timeout=h.IO_TIMEOUT):
        return NsConn(self.ns, self.mport, timeout)

    def connect(self, client_id=None, rc=0, **kw):
        """(conn, session present) after a CONNACK with return code rc."""
        c = self.conn()
        c.send(connect_pkt(client_id if client_id is not None
                           else uniq('c-' + self.short), **kw))
        p = c.expect(CONNACK, 'CONNECT %r on %s' % (client_id, self.short))
        check(len(p.body) == 2, 'CONNACK body %r' % p.body)
        eq(p.body[1], rc, 'CONNACK return code for %r on %s'
           % (client_id, self.short))
        return c, p.body[0]

    # --- control socket and CLI

    def control(self, line, timeout=5.0):
        """One request line on the control socket, the reply text."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
            s.sendall(line.encode() + b'\n')
            out = b''
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                b = s.recv(65536)
                if not b:
                    break
                out += b
                if out.endswith(b'\n'):
                    break
            return out.decode('utf-8', 'replace')
        except OSError as e:
            raise Fail('control socket of %s: %r: %s' % (self.short, line, e))
        finally:
            s.close()

    def status(self):
        txt = self.control('cluster status')
        try:
            return json.loads(txt)
        except ValueError:
            raise Fail('cluster status of %s: not JSON: %r'
                       % (self.short, txt[:300]))

    def peers_state(self):
        """{peer node: state} from cluster status."""
        return {p.get('node'): p.get('state')
                for p in self.status().get('peers', [])}

    def peer(self, node):
        for p in self.status().get('peers', []):
            if p.get('node') == node:
                return p
        return None

    def cli(self, *args, timeout=15.0):
        """`cairn cluster -s SOCKET ARGS`: (rc, stdout, stderr)."""
        env = clean_env()
        rc, out, err = h.run_cmd([h.ARGS.cairn, 'cluster', '-s', self.sock] +
                                 list(args), timeout=timeout, env=env)
        return rc, out.decode('utf-8', 'replace'), \
            err.decode('utf-8', 'replace')

    def join(self, node):
        """`cluster join NODE` over the control socket."""
        return self.control('cluster join %s' % node)

    def remove(self, node):
        return self.control('cluster remove %s' % node)


class NsConn(Conn):
    """mqtt_harness.Conn on 127.0.0.1 of a namespace (ns None: ours)."""

    def __init__(self, ns, port, timeout=h.IO_TIMEOUT):
        self.port = port
        self.s = ns_socket(ns)
        self.s.settimeout(timeout)
        try:
            self.s.connect(('127.0.0.1', port))
        except OSError as e:
            self.s.close()
            raise Fail('connect 127.0.0.1:%d (ns %s): %s' % (port, ns, e))
        self.buf = b''
        self.eof = False
        self.next_pid = 1
        self.stash = []


# ----------------------------------------------------------------- waiting

def wait_until(pred, timeout, what, dump=()):
    """pred() true within timeout, else Fail with the nodes' log tails."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except (Fail, TypeError, KeyError) as e:
            last = '%s: %s' % (type(e).__name__, e)
            if time.monotonic() + 0.1 >= deadline:
                break
        else:
            if last:
                return last
        time.sleep(0.1)
    raise Fail('%s: not true after %.1fs (last %r)%s'
               % (what, timeout, last, dumps(dump)))


def dumps(nodes):
    out = ''
    for n in nodes:
        try:
            st = json.dumps(n.status()) if n.alive() else '(dead)'
        except Fail as e:
            st = str(e)
        out += '\n%s status: %s\n%s' % (n.short, st, n.tail())
    return out


def wait_mesh(nodes, timeout=LINK_TIMEOUT):
    """Every node's status shows every other node 'up'."""
    def ok():
        for n in nodes:
            st = n.peers_state()
            for m in nodes:
                if m is not n and st.get(m.node) != 'up':
                    return False
        return True
    t0 = time.monotonic()
    wait_until(ok, timeout, 'full mesh of %s' % [n.short for n in nodes],
               nodes)
    return time.monotonic() - t0


def wait_routes(at, peer, n, timeout=ROUTE_TIMEOUT, nodes=()):
    """Node `at` holds at least n routes of `peer` (status 'routes')."""
    def ok():
        p = at.peer(peer.node)
        return p is not None and p.get('state') == 'up' and \
            p.get('routes', 0) >= n
    wait_until(ok, timeout, '%s to hold %d route(s) of %s'
               % (at.short, n, peer.short), nodes or (at, peer))


def publishes(c, wait):
    """The PUBLISH packets that arrive within wait seconds (QoS 1 acked)."""
    got = []
    for p in c.drain(wait):
        if p.type == PUBLISH:
            got.append(p)
            if p.qos == 1:
                c.send(ack_pkt(PUBACK, p.pid))
    return got


def probe_until(pubc, subc, topic, timeout=ROUTE_TIMEOUT, what=''):
    """Publish QoS 0 probes (payload probe-N) on topic until subc gets
    one (the route is there), then drain.  Returns the seconds it took.
    Route counts in `cluster status` cannot tell a new route from an old
    one, so this is how a case knows a subscription is routed."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    i = 0
    while time.monotonic() < deadline:
        i += 1
        pubc.send(publish_pkt(topic, b'probe-%d' % i, 0))
        if any(p.topic == topic for p in publishes(subc, 0.15)):
            publishes(subc, 0.3)
            return time.monotonic() - t0
    raise Fail('%s: no probe on %r arrived within %.0fs' % (what, topic,
                                                           timeout))


def add_args(ap):
    ap.add_argument('--epmd', required=True, help='our epmd binary')
    ap.add_argument('--cairn', required=True, help='the cairn CLI')


def main(ap):
    add_args(ap)

    def setup():
        for k in ('epmd', 'cairn'):
            v = getattr(h.ARGS, k)
            setattr(h.ARGS, k, os.path.abspath(v) if os.sep in v else v)
        if not os.access(h.ARGS.epmd, os.X_OK):
            return 'epmd binary %s not executable' % h.ARGS.epmd
        return None
    try:
        return h.main(ap, setup)
    finally:
        kill_all()


# ------------------------------------------------------------ QoS 1 stream

def ranges(nums):
    """[1, 2, 3, 7] -> '1-3,7'."""
    out, run = [], None
    for n in sorted(nums):
        if run and n == run[1] + 1:
            run[1] = n
        else:
            if run:
                out.append(run)
            run = [n, n]
    if run:
        out.append(run)
    return ','.join('%d' % a if a == b else '%d-%d' % (a, b) for a, b in out)


class Receiver(threading.Thread):
    """Reads a connection on its own thread, acks QoS 1, records
    (seq, dup, monotonic time) of every PUBLISH whose payload is a
    decimal sequence number."""

    def __init__(self, conn, prefix=b''):
        super().__init__(daemon=True)
        self.c = conn
        self.prefix = prefix
        self.got = []
        self.stop_ev = threading.Event()
        self.error = None
        self.lock = threading.Lock()

    def run(self):
        try:
            while not self.stop_ev.is_set():
                p = self.c.recv(0.2)
                if p is None or p.type != PUBLISH:
                    continue
                if p.qos == 1:
                    self.c.send(ack_pkt(PUBACK, p.pid))
                pl = p.payload
                if self.prefix and not pl.startswith(self.prefix):
                    continue
                try:
                    n = int(pl[len(self.prefix):])
                except ValueError:
                    continue
                with self.lock:
                    self.got.append((n, p.dup, time.monotonic()))
        except Exception as e:  # noqa: B902 - reported by the case
            self.error = '%s: %s' % (type(e).__name__, e)

    def seqs(self):
        with self.lock:
            return [n for n, _, _ in self.got]

    def finish(self):
        self.stop_ev.set()
        self.join(3)


def stream_qos1(pubc, recv, topic, count, prefix=b'', pace=0.004,
                events=None, window=10, settle=20.0):
    """Publish count QoS 1 messages (payload prefix + decimal seq, from 1)
    on pubc with at most `window` unacked, one every `pace` seconds;
    events: {seq: fn} run on a thread just before seq is published.
    Then wait (at most settle s) until recv has them all, and 1s more for
    late duplicates.  Returns a dict report; the caller asserts."""
    sent_at = {}
    outstanding = {}
    threads = []
    marks = {}
    pid_of = {}

    def read_acks(block):
        while outstanding:
            p = pubc.recv(2.0 if block else 0.001)
            if p is None:
                if block:
                    raise Fail('publisher: no PUBACK within 2s (%d '
                               'outstanding, first seq %d)'
                               % (len(outstanding), min(outstanding.values())))
                return
            if p.type == PUBACK:
                outstanding.pop(p.pid, None)
            if not block:
                continue
            return
    t0 = time.monotonic()
    for seq in range(1, count + 1):
        if events and seq in events:
            marks[seq] = time.monotonic() - t0
            th = threading.Thread(target=events[seq], daemon=True)
            th.start()
            threads.append(th)
        while len(outstanding) >= window:
            read_acks(True)
        pid = pubc.pid()
        outstanding[pid] = seq
        pid_of[seq] = pid
        sent_at[seq] = time.monotonic() - t0
        pubc.send(publish_pkt(topic, prefix + b'%d' % seq, 1, pid=pid))
        read_acks(False)
        if pace:
            time.sleep(pace)
    deadline = time.monotonic() + 15
    while outstanding and time.monotonic() < deadline:
        read_acks(True)
    if outstanding:
        raise Fail('publisher: %d PUBACKs missing' % len(outstanding))
    pub_done = time.monotonic() - t0
    for th in threads:
        th.join(30)
    want = set(range(1, count + 1))
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and set(recv.seqs()) != want:
        if recv.error:
            break
        time.sleep(0.1)
    time.sleep(1.0)
    got = recv.seqs()
    seen, dups = set(), []
    for n in got:
        if n in seen:
            dups.append(n)
        seen.add(n)
    missing = sorted(want - seen)
    order_breaks = sum(1 for a, b in zip(got, got[1:]) if b < a)
    rep = dict(count=count, received=len(got), missing=missing, dups=dups,
               order_breaks=order_breaks, published_in=pub_done,
               error=recv.error, marks=marks, sent_at=sent_at)
    if missing:
        rep['missing_sent_at'] = '%.2fs..%.2fs' % (sent_at[missing[0]],
                                                  sent_at[missing[-1]])
    return rep


def stream_verdict(rep, what):
    """Fail unless nothing was lost and nothing duplicated."""
    msg = []
    if rep['missing']:
        first = min(rep['marks']) if rep['marks'] else None
        split = ''
        if first is not None:
            split = ' [%d published before the first event (seq %d), %d ' \
                'after]' % (sum(1 for n in rep['missing'] if n < first),
                            first, sum(1 for n in rep['missing']
                                       if n >= first))
        msg.append('%d lost: %s (published %s after the start)%s'
                   % (len(rep['missing']), ranges(rep['missing']),
                      rep.get('missing_sent_at'), split))
    if rep['dups']:
        msg.append('%d duplicated: %s' % (len(rep['dups']),
                                          ranges(set(rep['dups']))))
    if rep['error']:
        msg.append('subscriber: %s' % rep['error'])
    if msg:
        raise Fail('%s: %s; received %d of %d; events at %s; published in '
                   '%.2fs' % (what, '; '.join(msg), rep['received'],
                              rep['count'], {k: '%.2fs' % v for k, v in
                                             rep['marks'].items()},
                              rep['published_in']))
