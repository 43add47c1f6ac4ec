"""Shared harness for the black-box MQTT broker suites (broker_*.py).

Not a test on its own.  It holds what every broker suite needs:

  * Broker: one broker process (Debian's mosquitto, or cairn-broker) on a
    free loopback port, with a config file written from one scenario dict,
    killed by pid when the case ends, pass or fail;
  * a hand-made MQTT 3.1/3.1.1 packet encoder and a bounded packet reader
    over raw sockets, so that malformed packets can be sent and exact ack
    sequences checked;
  * the TAP runner (plan first, slow cases in threads, a watchdog).

A scenario is a dict; every key is optional:

    allow_anonymous      bool (default True)
    password_file        path (mosquitto_passwd format)
    acl_file             path (mosquitto acl_file format)
    max_packet_size      bytes
    max_inflight         messages in flight per client (QoS 1/2)
    max_queued_messages  messages queued per client beyond max_inflight
    max_connections      client connections at once
    sys_interval         seconds between $SYS publications (default 1)
    connect_timeout      seconds (cairn only)
    extra                raw lines appended to the config (the dialect's
                         own: extra listeners, for example)

mode 'mosquitto' writes a mosquitto.conf and runs `mosquitto -c FILE`;
mode 'cairn' writes the YAML of conf/broker.yaml (its key names) and runs
`cairn-broker -d -c FILE` (-d: stay in the foreground, so that the pid we
hold is the broker's).  Python 3 standard library only.
"""

import atexit
import errno
import os
import pwd
import re
import resource
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

IO_TIMEOUT = 3.0        # any single socket operation
START_TIMEOUT = 8.0     # broker accepting connections

ARGS = None             # set by main()
LIVE = {}               # pid -> Popen of every process we started
LIVE_LOCK = threading.Lock()
TMP = None              # per-run scratch directory


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail('%s: got %r, want %r' % (what, got, want))


def mode():
    return ARGS.mode


# ---------------------------------------------------------------- processes

def track(proc):
    with LIVE_LOCK:
        LIVE[proc.pid] = proc


def untrack(proc):
    with LIVE_LOCK:
        LIVE.pop(proc.pid, None)


def kill_proc(p):
    if p.poll() is None:
        try:
            p.kill()
        except OSError:
            pass
    try:
        p.wait(timeout=3)
    except Exception:
        pass
    untrack(p)


def kill_all():
    with LIVE_LOCK:
        procs = list(LIVE.values())
        LIVE.clear()
    for p in procs:
        try:
            p.kill()
        except OSError:
            pass
        try:
            p.wait(timeout=2)
        except Exception:
            pass
    if TMP and not (ARGS and ARGS.keep):
        shutil.rmtree(TMP, ignore_errors=True)


atexit.register(kill_all)


def on_signal(signum, frame):
    kill_all()
    os._exit(128 + signum)


def raise_nofile(want=8192):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = want if hard == resource.RLIM_INFINITY else min(hard, want)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


_ports_given = set()


def free_port():
    """A TCP port free on 127.0.0.1 (bind port 0, then release it), never
    one this process was already given: the kernel may hand a released
    port out again at once, and two listeners of one node (MQTT and HTTP)
    then collide."""
    for _ in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        with _seq_lock:
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise RuntimeError('free_port: 64 tries gave only ports already used')


def scratch(name):
    return os.path.join(TMP, name)


_seq = [0]
_seq_lock = threading.Lock()


def uniq(prefix):
    with _seq_lock:
        _seq[0] += 1
        return '%s-%d-%d' % (prefix, os.getpid() % 10000, _seq[0])


def mosquitto_conf(port, sc):
    lines = ['listener %d 127.0.0.1' % port,
             'allow_anonymous %s' % ('true' if sc.get('allow_anonymous', True)
                                     else 'false'),
             'persistence false',
             'log_dest stderr',
             'log_type all',
             'sys_interval %d' % sc.get('sys_interval', 1)]
    if os.geteuid() == 0:
        # Started as root, mosquitto switches to user "mosquitto", which
        # cannot read our private scratch files: stay who we are.
        lines.append('user %s' % pwd.getpwuid(os.geteuid()).pw_name)
    if sc.get('password_file'):
        lines.append('password_file %s' % sc['password_file'])
    if sc.get('acl_file'):
        lines.append('acl_file %s' % sc['acl_file'])
    if 'max_packet_size' in sc:
        lines.append('max_packet_size %d' % sc['max_packet_size'])
    if 'max_inflight' in sc:
        lines.append('max_inflight_messages %d' % sc['max_inflight'])
    if 'max_queued_messages' in sc:
        lines.append('max_queued_messages %d' % sc['max_queued_messages'])
    if 'max_connections' in sc:
        lines.append('max_connections %d' % sc['max_connections'])
    if sc.get('extra'):
        lines.append(sc['extra'])
    return '\n'.join(lines) + '\n'


def yaml_str(s):
    return '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')


def cairn_conf(port, sc):
    """The YAML equivalent of a scenario, with the key names of
    conf/broker.yaml."""
    lines = ['listen: %s' % yaml_str('127.0.0.1:%d' % port),
             'allow_anonymous: %s' % ('true' if sc.get('allow_anonymous', True)
                                      else 'false'),
             'sys_interval: %ds' % sc.get('sys_interval', 1)]
    if sc.get('password_file'):
        lines.append('password_file: %s' % yaml_str(sc['password_file']))
    if sc.get('acl_file'):
        lines.append('acl_file: %s' % yaml_str(sc['acl_file']))
    for k in ('max_packet_size', 'max_inflight', 'max_queued_messages',
              'max_connections'):
        if k in sc:
            lines.append('%s: %d' % (k, sc[k]))
    if 'connect_timeout' in sc:
        lines.append('connect_timeout: %ds' % sc['connect_timeout'])
    if sc.get('extra'):
        lines.append(sc['extra'])
    return '\n'.join(lines) + '\n'


class Broker:
    """One broker on a free loopback port; stop() kills it by pid."""

    def __init__(self, scenario=None, wait=True):
        self.sc = dict(scenario or {})
        self.port = free_port()
        name = uniq('broker')
        if mode() == 'mosquitto':
            self.conf = scratch(name + '.conf')
            text = mosquitto_conf(self.port, self.sc)
        else:
            self.conf = scratch(name + '.yaml')
            text = cairn_conf(self.port, self.sc)
        with open(self.conf, 'w') as f:
            f.write(text)
        # cairn-broker detaches unless -d; mosquitto stays in the
        # foreground unless -d.
        self.cmd = [ARGS.broker_cmd] + (['-d'] if mode() == 'cairn' else []) \
            + ['-c', self.conf]
        self.errf = tempfile.TemporaryFile(dir=TMP)
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=self.errf,
            stderr=self.errf, preexec_fn=lambda: raise_nofile(8192),
            close_fds=True)
        track(self.proc)
        if wait:
            self.wait_ready()

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        try:
            self.errf.seek(0)
            return self.errf.read()[-3000:].decode('utf-8', 'replace')
        except Exception:
            return ''

    def wait_ready(self):
        """Until a CONNECT is answered by a CONNACK (any return code)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail('broker %r exited early with %r; output:\n%s'
                           % (self.cmd, self.proc.returncode, self.output()))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.5)
            try:
                s.connect(('127.0.0.1', self.port))
                s.sendall(connect_pkt(uniq('probe')))
                r = recv_exact(s, 4, 1.0)
                if len(r) == 4 and r[0] == 0x20:
                    s.sendall(b'\xe0\x00')
                    return
            except OSError:
                pass
            finally:
                s.close()
            time.sleep(0.05)
        raise Fail('broker %r not answering on 127.0.0.1:%d after %.0fs; '
                   'output:\n%s' % (self.cmd, self.port, START_TIMEOUT,
                                    self.output()))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        kill_proc(self.proc)
        try:
            self.errf.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        if typ is not None and ARGS.verbose:
            sys.stdout.write(''.join('# broker: %s\n' % ln for ln in
                                     self.output().splitlines()[-30:]))
        alive = self.alive()
        self.stop()
        if typ is None and not alive:
            raise Fail('broker died during the case (rc %r)'
                       % self.proc.returncode)
        return False


def run_cmd(cmd, timeout=15.0, env=None, input=None):
    """Run a command, tracked by pid; return (rc, stdout, stderr)."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if input else
                         subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    track(p)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_proc(p)
        raise Fail('command %r did not finish in %.0fs' % (cmd, timeout))
    untrack(p)
    return p.returncode, out, err


def spawn(cmd, env=None):
    """Start a long-running helper, tracked by pid (kill_proc to end)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
    track(p)
    return p


# ------------------------------------------------------------- MQTT packets

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

NAMES = {1: 'CONNECT', 2: 'CONNACK', 3: 'PUBLISH', 4: 'PUBACK', 5: 'PUBREC',
         6: 'PUBREL', 7: 'PUBCOMP', 8: 'SUBSCRIBE', 9: 'SUBACK',
         10: 'UNSUBSCRIBE', 11: 'UNSUBACK', 12: 'PINGREQ', 13: 'PINGRESP',
         14: 'DISCONNECT'}


def varint(n):
    out = b''
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def mstr(s):
    if isinstance(s, str):
        s = s.encode('utf-8')
    return struct.pack('>H', len(s)) + s


def fixed(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def connect_pkt(client_id, clean=True, keepalive=60, username=None,
                password=None, will=None, proto='MQTT', level=4,
                flags_extra=0):
    """will = (topic, payload, qos, retain)."""
    flags = flags_extra
    if clean:
        flags |= 0x02
    payload = mstr(client_id)
    if will:
        wt, wp, wq, wr = will
        flags |= 0x04 | (wq << 3) | (0x20 if wr else 0)
        payload += mstr(wt) + mstr(wp)
    if username is not None:
        flags |= 0x80
        payload += mstr(username)
    if password is not None:
        flags |= 0x40
        payload += mstr(password)
    body = mstr(proto) + bytes([level, flags]) + struct.pack('>H', keepalive)
    return fixed(CONNECT, 0, body + payload)


def publish_pkt(topic, payload=b'', qos=0, retain=False, dup=False, pid=None):
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = mstr(topic)
    if qos:
        body += struct.pack('>H', pid)
    return fixed(PUBLISH, flags, body + payload)


def ack_pkt(ptype, pid):
    return fixed(ptype, 2 if ptype == PUBREL else 0, struct.pack('>H', pid))


def subscribe_pkt(pid, filters, flags=2):
    """filters: list of (filter, qos)."""
    body = struct.pack('>H', pid)
    for f, q in filters:
        body += mstr(f) + bytes([q])
    return fixed(SUBSCRIBE, flags, body)


def unsubscribe_pkt(pid, filters, flags=2):
    body = struct.pack('>H', pid)
    for f in filters:
        body += mstr(f)
    return fixed(UNSUBSCRIBE, flags, body)


class Pkt:
    def __init__(self, first, body):
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body
        self.raw = bytes([first]) + varint(len(body)) + body

    @property
    def name(self):
        return NAMES.get(self.type, '?%d' % self.type)

    # PUBLISH
    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def retain(self):
        return self.flags & 1

    @property
    def dup(self):
        return (self.flags >> 3) & 1

    @property
    def topic(self):
        n = struct.unpack('>H', self.body[:2])[0]
        return self.body[2:2 + n].decode('utf-8', 'replace')

    @property
    def pid(self):
        if self.type == PUBLISH:
            if not self.qos:
                return None
            n = struct.unpack('>H', self.body[:2])[0]
            return struct.unpack('>H', self.body[2 + n:4 + n])[0]
        return struct.unpack('>H', self.body[:2])[0]

    @property
    def payload(self):
        n = struct.unpack('>H', self.body[:2])[0]
        return self.body[2 + n + (2 if self.qos else 0):]

    def __repr__(self):
        if self.type == PUBLISH:
            return ('PUBLISH(%r, %r, q%d%s%s%s)'
                    % (self.topic, self.payload[:40], self.qos,
                       ' r' if self.retain else '', ' dup' if self.dup else '',
                       ' id=%d' % self.pid if self.qos else ''))
        return '%s(%s)' % (self.name, self.body.hex())


class Closed(Exception):
    pass


class Conn:
    """A raw MQTT connection on loopback with a bounded packet reader."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        try:
            self.s.connect(('127.0.0.1', port))
        except OSError as e:
            self.s.close()
            raise Fail('connect 127.0.0.1:%d: %s' % (port, e))
        self.buf = b''
        self.eof = False
        self.next_pid = 1
        self.stash = []     # PUBLISHes that came while an ack was awaited

    def pid(self):
        p = self.next_pid
        self.next_pid = self.next_pid % 65535 + 1
        return p

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError as e:
            raise Closed('send: %s' % e)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def shutdown(self):
        """An abrupt close: no DISCONNECT."""
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close()

    def disconnect(self):
        try:
            self.s.sendall(fixed(DISCONNECT, 0, b''))
        except OSError:
            pass
        self.close()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.s.settimeout(left)
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            raise Closed('reset')
        if not b:
            self.eof = True
            raise Closed('eof')
        self.buf += b
        return True

    def _parse(self):
        if len(self.buf) < 2:
            return None
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            if i > 4:
                raise Fail('bad remaining length from the broker: %r'
                           % self.buf[:8])
        if len(self.buf) < i + n:
            return None
        p = Pkt(self.buf[0], self.buf[i:i + n])
        self.buf = self.buf[i + n:]
        return p

    def recv(self, timeout=IO_TIMEOUT):
        """The next packet, or None if none came in time.  Raises Closed
        if the broker closed the connection first."""
        if self.stash:
            return self.stash.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            p = self._parse()
            if p is not None:
                return p
            if self.eof:
                raise Closed('eof')
            if not self._fill(deadline):
                return None

    def expect(self, ptype, what, timeout=IO_TIMEOUT, keep_publish=False):
        """The next packet, which must be of ptype.  With keep_publish,
        PUBLISH packets that come first are kept for later recv()."""
        deadline = time.monotonic() + timeout
        kept = []
        try:
            while True:
                p = self._recv_fresh(max(0.0, deadline - time.monotonic())) \
                    if keep_publish else self.recv(timeout)
                if keep_publish and p is not None and p.type == PUBLISH \
                        and ptype != PUBLISH:
                    kept.append(p)
                    continue
                break
        except Closed as e:
            raise Fail('%s: connection closed (%s) waiting for %s'
                       % (what, e, NAMES[ptype]))
        finally:
            self.stash += kept
        if p is None:
            raise Fail('%s: no %s within %.1fs' % (what, NAMES[ptype], timeout))
        if p.type != ptype:
            raise Fail('%s: got %r, want %s' % (what, p, NAMES[ptype]))
        return p

    def _recv_fresh(self, timeout):
        """recv() that leaves the stash alone."""
        saved, self.stash = self.stash, []
        try:
            return self.recv(timeout)
        finally:
            self.stash = saved + self.stash

    def drain(self, wait=0.3):
        """All packets that arrive within wait seconds (stops at close)."""
        out = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                p = self.recv(left)
            except Closed:
                return out
            if p is None:
                return out
            out.append(p)

    def wait_closed(self, timeout=IO_TIMEOUT):
        """Packets received before the broker closed; Fail on timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail('connection still open after %.1fs (got %r)'
                           % (timeout, got))
            try:
                p = self.recv(left)
            except Closed:
                return got
            except Fail:
                return got
            if p is not None:
                got.append(p)

    def is_open(self, wait=0.3):
        try:
            p = self.recv(wait)
        except Closed:
            return False
        if p is not None:
            self.stash.insert(0, p)
        return True


def mqtt_connect(port, client_id=None, rc=0, **kw):
    """Connect and check the CONNACK return code; return (conn, sp)."""
    c = Conn(port)
    c.send(connect_pkt(client_id if client_id is not None else uniq('c'),
                       **kw))
    p = c.expect(CONNACK, 'CONNECT %r' % client_id)
    check(len(p.body) == 2, 'CONNACK body %r' % p.body)
    eq(p.body[1], rc, 'CONNACK return code for %r' % client_id)
    return c, p.body[0]


def subscribe(c, filters, want=None):
    """SUBSCRIBE and check SUBACK; filters [(f, qos)] or one filter str."""
    if isinstance(filters, str):
        filters = [(filters, 0)]
    pid = c.pid()
    c.send(subscribe_pkt(pid, filters))
    p = c.expect(SUBACK, 'SUBSCRIBE %r' % filters)
    eq(p.pid, pid, 'SUBACK packet id')
    codes = list(p.body[2:])
    eq(codes, want if want is not None else [q for _, q in filters],
       'SUBACK codes for %r' % filters)
    return codes


def publish(c, topic, payload, qos=0, retain=False):
    """PUBLISH with the whole ack sequence of its QoS."""
    if qos == 0:
        c.send(publish_pkt(topic, payload, 0, retain))
        return
    pid = c.pid()
    c.send(publish_pkt(topic, payload, qos, retain, pid=pid))
    if qos == 1:
        a = c.expect(PUBACK, 'PUBACK for %r' % topic, keep_publish=True)
        eq(a.pid, pid, 'PUBACK id')
    else:
        a = c.expect(PUBREC, 'PUBREC for %r' % topic, keep_publish=True)
        eq(a.pid, pid, 'PUBREC id')
        c.send(ack_pkt(PUBREL, pid))
        a = c.expect(PUBCOMP, 'PUBCOMP for %r' % topic, keep_publish=True)
        eq(a.pid, pid, 'PUBCOMP id')


def ping(c, what='PINGREQ'):
    """A round trip: every packet the broker sent before PINGRESP."""
    c.send(fixed(PINGREQ, 0, b''))
    got = []
    deadline = time.monotonic() + IO_TIMEOUT
    while True:
        try:
            p = c.recv(max(0.01, deadline - time.monotonic()))
        except Closed as e:
            raise Fail('%s: closed (%s)' % (what, e))
        if p is None:
            raise Fail('%s: no PINGRESP (got %r)' % (what, got))
        if p.type == PINGRESP:
            return got
        got.append(p)


def recv_publishes(c, n, timeout=IO_TIMEOUT, ack=True):
    """n PUBLISH packets (acking QoS 1/2 fully unless ack is False)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            p = c.recv(left)
        except Closed as e:
            raise Fail('closed (%s) after %d of %d publishes: %r'
                       % (e, len(got), n, got))
        if p is None:
            break
        if p.type == PUBLISH:
            got.append(p)
            if ack and p.qos == 1:
                c.send(ack_pkt(PUBACK, p.pid))
            elif ack and p.qos == 2:
                c.send(ack_pkt(PUBREC, p.pid))
                r = c.expect(PUBREL, 'PUBREL for %r' % p, keep_publish=True)
                eq(r.flags, 2, 'PUBREL flags')
                c.send(ack_pkt(PUBCOMP, p.pid))
        elif p.type == PUBREL and ack:
            c.send(ack_pkt(PUBCOMP, p.pid))
    if len(got) < n:
        raise Fail('%d of %d publishes within %.1fs: %r'
                   % (len(got), n, timeout, got))
    return got


def recv_exact(s, n, timeout=IO_TIMEOUT):
    out = b''
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            b = s.recv(n - len(out))
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        out += b
    return out


def wait_until(pred, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise Fail('%s: not true after %.1fs (last %r)' % (what, timeout, last))


# ------------------------------------------------------------------- runner

TESTS = []


def test(name, slow=False):
    def deco(fn):
        TESTS.append(dict(name=name, fn=fn, slow=slow))
        return fn
    return deco


def run_one(t):
    t0 = time.monotonic()
    try:
        t['fn']()
        return ('ok', '', time.monotonic() - t0)
    except Skip as e:
        return ('skip', str(e), time.monotonic() - t0)
    except Fail as e:
        return ('fail', str(e), time.monotonic() - t0)
    except Exception:
        return ('fail', traceback.format_exc(), time.monotonic() - t0)


def emit(n, t, res):
    status, msg, took = res
    if status == 'ok':
        print('ok %d - %s' % (n, t['name']))
    elif status == 'skip':
        print('ok %d - %s # SKIP %s' % (n, t['name'], msg))
    else:
        print('not ok %d - %s' % (n, t['name']))
        for ln in msg.rstrip().splitlines():
            print('# ' + ln)
    if ARGS.verbose:
        print('# %s took %.2fs' % (t['name'], took))
    sys.stdout.flush()


def add_args(ap):
    ap.add_argument('--broker-cmd', required=True,
                    help='broker binary: cairn-broker or mosquitto')
    ap.add_argument('--mode', choices=('cairn', 'mosquitto'), default=None,
                    help='config dialect and documented differences '
                         '(default: from the binary name)')
    ap.add_argument('--only', default=None, help='regex on case names')
    ap.add_argument('--deadline', type=float, default=160.0,
                    help='hard cap on the whole run, seconds')
    ap.add_argument('--keep', action='store_true',
                    help='keep the scratch directory (configs)')
    ap.add_argument('-v', '--verbose', action='store_true')


def main(ap, setup=None):
    global ARGS, TMP
    add_args(ap)
    ARGS = ap.parse_args()
    if os.sep in ARGS.broker_cmd:
        ARGS.broker_cmd = os.path.abspath(ARGS.broker_cmd)
    else:
        ARGS.broker_cmd = shutil.which(ARGS.broker_cmd) or ARGS.broker_cmd
    if ARGS.mode is None:
        ARGS.mode = ('mosquitto' if 'mosquitto' in
                     os.path.basename(ARGS.broker_cmd) else 'cairn')
    if not os.access(ARGS.broker_cmd, os.X_OK):
        print('1..0 # SKIP broker binary %s not executable' % ARGS.broker_cmd)
        return 0
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    raise_nofile(8192)
    TMP = tempfile.mkdtemp(prefix='cairn-broker-test-')
    if ARGS.keep:
        print('# scratch directory %s' % TMP)
    if setup:
        msg = setup()
        if msg:
            print('1..0 # SKIP %s' % msg)
            return 0

    def watchdog():
        print('Bail out! run took longer than %.0fs' % ARGS.deadline)
        sys.stdout.flush()
        kill_all()
        os._exit(1)
    wd = threading.Timer(ARGS.deadline, watchdog)
    wd.daemon = True
    wd.start()

    tests = [t for t in TESTS
             if not ARGS.only or re.search(ARGS.only, t['name'])]
    print('1..%d' % len(tests))
    print('# broker %s (mode %s)' % (ARGS.broker_cmd, ARGS.mode))
    sys.stdout.flush()

    # Slow cases mostly sleep: run them in threads beside the fast ones,
    # and report every case in plan order.
    order = [t for t in tests if not t['slow']] + \
            [t for t in tests if t['slow']]
    results = {}
    threads = []
    for t in tests:
        if t['slow']:
            th = threading.Thread(
                target=lambda t=t: results.__setitem__(t['name'],
                                                       run_one(t)),
                daemon=True)
            th.start()
            threads.append(th)
    failed = 0
    for n, t in enumerate(order, 1):
        if t['slow']:
            for th in threads:
                th.join(timeout=max(1.0, ARGS.deadline))
            threads = []
            res = results.get(t['name'], ('fail', 'did not finish', 0.0))
        else:
            res = run_one(t)
        if res[0] == 'fail':
            failed += 1
        emit(n, t, res)
    wd.cancel()
    kill_all()
    return 1 if failed else 0
