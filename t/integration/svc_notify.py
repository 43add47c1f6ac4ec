#!/usr/bin/env python3
"""The systemd service protocol, against the real programs.

Usage:
    svc_notify.py --epmd PATH --agent PATH --broker PATH [--erl PATH] [-v]

Each step binds an AF_UNIX datagram socket in a scratch folder, passes
it as NOTIFY_SOCKET (what systemd does for Type=notify), and reads what
the program sends:

  - cairn-broker: READY=1 once its MQTT listener accepts (a connect
    made when READY arrives succeeds), also when it is a cluster node
    whose epmd is down (READY does not wait for the registration);
    RELOADING=1 with MONOTONIC_USEC and READY=1 on SIGHUP; STOPPING=1
    on SIGTERM with a client connected, then exit 0;
  - cairn-agent: READY=1; on SIGHUP RELOADING=1 with a MONOTONIC_USEC
    taken during the reload, then READY=1; a bad file on SIGHUP still
    ends in READY=1 with a STATUS saying the reload failed (the old
    config runs on); STOPPING=1 on SIGTERM;
  - epmd under socket activation: systemd-socket-activate (systemd's
    own tool) listens on a loopback port and hands the socket to
    `epmd -systemd` (sd_listen_fds), a stock `erl` registers through
    it, epmd -names lists it, READY=1 and on SIGTERM STOPPING=1 arrive;
  - epmd without -systemd sends nothing even with NOTIFY_SOCKET set (an
    epmd started by erl under a Type=notify service must not say READY
    for that service);
  - epmd -systemd handed a socket that does not listen exits 1.

Output is TAP.  Every process is started in its own session and killed
by pid at the end; every wait is bounded.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from tap import Fail, Skip, check, exit_code, step

ARGS = None
PROCS = []
TMP = None
WAIT = 10.0


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=3)
            except Exception:
                pass
    PROCS.clear()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Notify:
    """An AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self, name):
        self.path = os.path.join(TMP, name + '.notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []

    def wait_for(self, key, timeout=WAIT, proc=None):
        """Messages until one with line `key` (e.g. READY=1); each is a
        dict of its assignments."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, m in enumerate(self.msgs):
                if key in m['lines']:
                    m['before'] = self.msgs[:i]
                    del self.msgs[:i + 1]
                    return m
            if proc is not None and proc.poll() is not None:
                raise Fail('exited with %r while waiting for %s'
                           % (proc.returncode, key))
            self.sock.settimeout(max(0.01, min(0.2, deadline -
                                               time.monotonic())))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            lines = data.decode().split('\n')
            self.msgs.append({'lines': lines, 'at': time.monotonic(),
                              'kv': dict(ln.split('=', 1) for ln in lines
                                         if '=' in ln)})
        raise Fail('no %s within %.0fs; got %r' % (key, timeout, self.msgs))

    def drain(self, wait):
        """Every message within `wait` seconds."""
        end = time.monotonic() + wait
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                self.msgs.append({'lines': self.sock.recv(4096).decode()
                                  .split('\n')})
            except socket.timeout:
                pass
        return self.msgs

    def close(self):
        self.sock.close()


def start(cmd, notify, env=None, **kw):
    e = dict(os.environ)
    for k in ('NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'ERL_EPMD_PORT'):
        e.pop(k, None)
    if notify is not None:
        e['NOTIFY_SOCKET'] = notify.path
    e.update(env or {})
    path = os.path.join(TMP, os.path.basename(cmd[0]) + '.log')
    log = open(path, 'ab')
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log, env=e, start_new_session=True, **kw)
    log.close()
    p.log_path = path
    PROCS.append(p)
    return p


def log_tail(p, n=40):
    """The end of p's log, or a sanitizer's report from its start."""
    try:
        with open(p.log_path, errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        return ''
    for i, ln in enumerate(lines):
        if 'ERROR: AddressSanitizer' in ln or 'runtime error:' in ln:
            return '\n'.join(lines[max(0, i - 3):i + n])
    return '\n'.join(lines[-n:])


def stop(p, notify):
    p.send_signal(signal.SIGTERM)
    notify.wait_for('STOPPING=1', proc=None)
    try:
        rc = p.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        raise Fail('did not exit within %.0fs of SIGTERM' % WAIT)
    check(rc == 0, 'exit status %r after SIGTERM; its log:\n%s'
          % (rc, log_tail(p)))


def connects(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def t_broker():
    n = Notify('broker')
    port, dead_epmd = free_port(), free_port()
    cookie = write('cookie', 'svc-notify-cookie\n')
    os.chmod(cookie, 0o600)
    # A cluster node whose epmd is not there: READY must not wait for it.
    conf = write('broker.yaml', 'listen: 127.0.0.1:%d\n'
                 'node_name: svc@127.0.0.1\ncluster_listen: 127.0.0.1:0\n'
                 'cookie_file: %s\nepmd_port: %d\nsys_interval: 0\n'
                 % (port, cookie, dead_epmd))
    p = start([ARGS.broker, '-d', '-c', conf], n)
    m = n.wait_for('READY=1', proc=p)
    check(connects(port), 'READY=1 came but 127.0.0.1:%d refuses' % port)
    check(p.poll() is None, 'broker exited after READY')
    # `systemctl reload`: RELOADING=1 with the reload's time, READY=1.
    t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
    p.send_signal(signal.SIGHUP)
    m = n.wait_for('RELOADING=1', proc=p)
    t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
    us = int(m['kv'].get('MONOTONIC_USEC', '-1'))
    check(t0 * 1e6 - 1e3 <= us <= t1 * 1e6 + 1e3,
          'MONOTONIC_USEC %d not within the reload' % us)
    n.wait_for('READY=1', proc=p)
    # `systemctl stop` with a client still connected: the usual case.
    held = socket.create_connection(('127.0.0.1', port), timeout=2)
    try:
        stop(p, n)
    finally:
        held.close()
    n.close()


def t_agent():
    n = Notify('agent')
    ctl = os.path.join(TMP, 'agent.sock')
    good = ('control_socket: %s\ntopologies:\n  t:\n    strategy: epmd\n'
            '    config: {hosts: [a@127.0.0.1]}\n    connector: none\n' % ctl)
    conf = write('agent.yaml', good)
    p = start([ARGS.agent, '-d', '-c', conf], n)
    n.wait_for('READY=1', proc=p)
    check(os.path.exists(ctl), 'READY=1 before the control socket exists')
    # A reload: RELOADING=1 with the monotonic time of the reload.
    t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
    p.send_signal(signal.SIGHUP)
    m = n.wait_for('RELOADING=1', proc=p)
    t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
    us = int(m['kv'].get('MONOTONIC_USEC', '-1'))
    check(t0 * 1e6 - 1e3 <= us <= t1 * 1e6 + 1e3,
          'MONOTONIC_USEC %d not within the reload [%d, %d]'
          % (us, t0 * 1e6, t1 * 1e6))
    n.wait_for('READY=1', proc=p)
    # A bad file: the old config runs on, and the service is ready again.
    write('agent.yaml', good + 'no_such_key: 1\n')
    p.send_signal(signal.SIGHUP)
    n.wait_for('RELOADING=1', proc=p)
    m = n.wait_for('READY=1', proc=p)
    # STATUS= comes in its own datagram just before READY=1.
    status = [x['kv'].get('STATUS', '') for x in m['before'] + [m]]
    check(any(x.startswith('reload failed') for x in status),
          'no STATUS=reload failed... before READY=1: %r' % status)
    check(p.poll() is None, 'agent exited after a bad reload')
    stop(p, n)
    n.close()


def t_epmd_activation():
    if shutil.which('systemd-socket-activate') is None:
        raise Skip('systemd-socket-activate not installed (systemd)')
    if shutil.which(ARGS.erl) is None:
        raise Skip('erl not installed')
    n = Notify('epmd')
    port = free_port()
    p = start(['systemd-socket-activate', '-l', '127.0.0.1:%d' % port,
               '-E', 'NOTIFY_SOCKET=' + n.path, ARGS.epmd, '-systemd'], None)
    home = os.path.join(TMP, 'home')
    os.makedirs(home, exist_ok=True)
    env = {'ERL_EPMD_PORT': str(port), 'HOME': home}
    # Wait for the listening socket before erl asks it.
    deadline = time.monotonic() + WAIT
    while not connects(port):
        check(time.monotonic() < deadline and p.poll() is None,
              'systemd-socket-activate never listened on %d' % port)
        time.sleep(0.05)
    erl = start([ARGS.erl, '-sname', 'svc%d@localhost' % os.getpid(),
                 '-start_epmd', 'false', '-noshell', '-setcookie',
                 'svc-notify'], None, env=env, cwd=home)
    n.wait_for('READY=1', proc=p, timeout=20)
    names = ''
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        q = subprocess.run([ARGS.epmd, '-port', str(port), '-names'],
                           capture_output=True, timeout=10,
                           env=dict(os.environ, HOME=home))
        names = q.stdout.decode(errors='replace')
        if 'name svc%d at port' % os.getpid() in names:
            break
        check(erl.poll() is None, 'erl exited: %r' % erl.returncode)
        time.sleep(0.1)
    else:
        raise Fail('erl not in epmd -names: %r' % names)
    # The port in that line is -port's (4369 here), as OTP's epmd says
    # under -systemd: it does not look at the sockets it is given.
    check(names.startswith('epmd: up and running on port 4369 with data'),
          'epmd -names: %r' % names)
    os.killpg(erl.pid, signal.SIGKILL)
    erl.wait(timeout=5)
    # systemd-socket-activate exec'd epmd: same pid.
    stop(p, n)
    n.close()


def t_epmd_quiet():
    n = Notify('epmd-quiet')
    port = free_port()
    p = start([ARGS.epmd, '-port', str(port)], n)
    deadline = time.monotonic() + WAIT
    while not connects(port):
        check(time.monotonic() < deadline and p.poll() is None,
              'epmd never listened on %d' % port)
        time.sleep(0.05)
    got = n.drain(1.0)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=WAIT)
    got += n.drain(0.3)
    check(got == [], 'epmd without -systemd notified: %r' % got)
    n.close()


def t_epmd_bad_fd():
    # A TCP socket that is bound but does not listen, as fd 3.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    fd = s.fileno()

    def pre():
        os.dup2(fd, 3)
        os.set_inheritable(3, True)
        os.environ['LISTEN_FDS'] = '1'
        os.environ['LISTEN_PID'] = str(os.getpid())
    e = dict(os.environ)
    for k in ('NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID'):
        e.pop(k, None)
    try:
        q = subprocess.run([ARGS.epmd, '-systemd'], env=None,
                           preexec_fn=pre, close_fds=False,
                           capture_output=True, timeout=WAIT)
    finally:
        s.close()
    err = q.stderr.decode(errors='replace')
    check(q.returncode == 1, 'exit %r, stderr %r' % (q.returncode, err))
    check('not a listening stream socket' in err, 'stderr %r' % err)


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument('--epmd', required=True)
    ap.add_argument('--agent', required=True)
    ap.add_argument('--broker', required=True)
    ap.add_argument('--erl', default='erl')
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix='cairn-notify-')
    signal.signal(signal.SIGTERM, lambda *a: (kill_all(), os._exit(143)))
    steps = [
        ('broker_ready_reloading_stopping', t_broker),
        ('agent_ready_reloading_stopping', t_agent),
        ('epmd_socket_activation_with_erl', t_epmd_activation),
        ('epmd_without_systemd_flag_is_silent', t_epmd_quiet),
        ('epmd_systemd_refuses_non_listening_fd', t_epmd_bad_fd),
    ]
    try:
        print('1..%d' % len(steps))
        for name, fn in steps:
            try:
                step(name, fn)
            finally:
                kill_all()
    finally:
        kill_all()
        if ARGS.verbose:
            for f in sorted(os.listdir(TMP)):
                if f.endswith('.log'):
                    with open(os.path.join(TMP, f), errors='replace') as fh:
                        for ln in fh.read().splitlines()[-20:]:
                            print('# %s: %s' % (f, ln))
        shutil.rmtree(TMP, ignore_errors=True)
    return exit_code()


if __name__ == '__main__':
    sys.exit(main())
