#!/usr/bin/env python3
"""Hostile files: what cairn-broker and cairn-agent read, and where the
control socket goes, cannot hang or fool them.

Usage:
    hostile_files.py --broker PATH --agent PATH [--only REGEX] [--keep] [-v]

Every file the programs read is opened non-blocking and must be a regular
file (common/file.h): a FIFO (which used to block open(2) for ever), a
directory or /dev/zero (which never ends) given as

    the broker's config, password_file, acl_file, cookie_file
    the agent's config, cookie_file

makes `-n` and a start (`-d`) exit non-zero within 1 s with an error that
names the file and what it is ("PATH: not a regular file (a FIFO)"); so
do the broker's cluster TLS files (a FIFO, /dev/zero).  The
control socket path is replaced only when it is a socket: a regular file,
a symbolic link or a directory there is refused with a clear error (agent
and broker) and left untouched, while a stale socket is still replaced.  An agent whose config became a FIFO gets
a SIGHUP: it keeps running on the old config, logs one line, and its
control socket still answers.

Everything is in a scratch directory; nothing touches the network beyond
127.0.0.1 (the broker's listeners) and a unix socket.  Every process
started is killed by pid, pass or fail.  Output is TAP.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ARGS = None
TMP = None
LIVE = {}
LIMIT = 1.0             # seconds: a refusal is this fast, or a hang

KINDS = [('fifo', 'a FIFO'), ('dir', 'a directory'),
         ('devzero', 'a character device')]


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def kill_all():
    for p in list(LIVE.values()):
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=3)
        except Exception:
            pass
    LIVE.clear()


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


_seq = [0]


def scratch(name):
    _seq[0] += 1
    return os.path.join(TMP, '%s-%d' % (name, _seq[0]))


def hostile(kind):
    """A path of the given kind: a FIFO, a directory or /dev/zero."""
    if kind == 'devzero':
        return '/dev/zero'
    path = scratch(kind)
    if kind == 'fifo':
        os.mkfifo(path, 0o600)
    else:
        os.mkdir(path, 0o700)
    return path


def write(path, text, mode=0o600):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def run(cmd):
    """Run cmd; (rc, stderr+stdout text, seconds).  A run longer than
    LIMIT is killed (by pid) and fails the case."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         close_fds=True)
    LIVE[p.pid] = p
    try:
        out, _ = p.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        LIVE.pop(p.pid, None)
        raise Fail('%s: still running after %.1fs (killed); output: %r'
                   % (' '.join(cmd), LIMIT, out[-500:]))
    LIVE.pop(p.pid, None)
    return p.returncode, out.decode('utf-8', 'replace'), \
        time.monotonic() - t0


def expect_refused(cmd, want):
    rc, out, took = run(cmd)
    check(rc != 0, '%s: exit status 0; output: %r' % (' '.join(cmd), out))
    check(want in out, '%s: want %r in the output, got %r'
          % (' '.join(cmd), want, out))
    return out


def both(prog, conf, want):
    """-n and a start in the foreground: both refused, fast."""
    expect_refused([prog, '-n', '-c', conf], want)
    expect_refused([prog, '-d', '-c', conf], want)


def broker_conf(**keys):
    lines = ['listen: "127.0.0.1:%d"' % free_port()]
    for k, v in keys.items():
        lines.append('%s: "%s"' % (k, v))
    return write(scratch('broker.yaml'), '\n'.join(lines) + '\n')


def broker_cluster_keys():
    # The cluster is on with cluster_listen; epmd_port names a port
    # nobody listens on (registration is retried in the background).
    return {'cluster_listen': '127.0.0.1:0', 'epmd_port': str(free_port())}


AGENT_TOPOLOGY = '''topologies:
  t:
    strategy: epmd
    config:
      hosts: [a@127.0.0.1]
    connector: none
'''


def agent_conf(control=None, extra=''):
    control = control or scratch('agent.sock')
    text = 'control_socket: "%s"\n%s%s' % (control, extra, AGENT_TOPOLOGY)
    return write(scratch('agent.yaml'), text)


# ------------------------------------------------------------------ cases

CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


def file_cases():
    for kind, what in KINDS:
        def broker_config(kind=kind, what=what):
            path = hostile(kind)
            both(ARGS.broker, path, '%s: not a regular file (%s)'
                 % (path, what))

        def broker_password(kind=kind, what=what):
            path = hostile(kind)
            both(ARGS.broker, broker_conf(password_file=path),
                 '%s: not a regular file (%s)' % (path, what))

        def broker_acl(kind=kind, what=what):
            path = hostile(kind)
            both(ARGS.broker, broker_conf(acl_file=path),
                 '%s: not a regular file (%s)' % (path, what))

        def broker_cookie(kind=kind, what=what):
            path = hostile(kind)
            keys = broker_cluster_keys()
            keys['cookie_file'] = path
            both(ARGS.broker, broker_conf(**keys),
                 'cookie file %s: not a regular file (%s)' % (path, what))

        def agent_config(kind=kind, what=what):
            path = hostile(kind)
            both(ARGS.agent, path, '%s: not a regular file (%s)'
                 % (path, what))

        def agent_cookie(kind=kind, what=what):
            path = hostile(kind)
            both(ARGS.agent, agent_conf(extra='cookie_file: "%s"\n' % path),
                 'cookie file %s: not a regular file (%s)' % (path, what))

        for name, fn in (('broker_config', broker_config),
                         ('broker_password_file', broker_password),
                         ('broker_acl_file', broker_acl),
                         ('broker_cookie_file', broker_cookie),
                         ('agent_config', agent_config),
                         ('agent_cookie_file', agent_cookie)):
            case('%s_%s_refused' % (name, kind))(fn)


file_cases()


@case('broker_cluster_tls_files_refused')
def t_broker_tls():
    """cluster_certfile, _keyfile, _cafile: a FIFO or /dev/zero refused
    (OpenSSL would block on the FIFO); a CA directory is allowed."""
    pem = write(scratch('pem'), '-----BEGIN CERTIFICATE-----\n')
    for key, path in (('cluster_certfile', hostile('fifo')),
                      ('cluster_keyfile', hostile('fifo')),
                      ('cluster_cafile', '/dev/zero')):
        keys = broker_cluster_keys()
        keys.update(cookie='secretcookie', cluster_certfile=pem,
                    cluster_keyfile=pem, cluster_cafile=pem)
        keys[key] = path
        what = 'a FIFO' if path != '/dev/zero' else 'a character device'
        both(ARGS.broker, broker_conf(**keys),
             '%s: not a regular file (%s)' % (path, what))


@case('regular_files_still_read')
def t_regular_ok():
    """The same keys with regular files (and a symlink to one) pass -n."""
    pw = write(scratch('passwd'), '')
    acl = write(scratch('acl'), 'topic readwrite #\n')
    cookie = write(scratch('cookie'), 'secretcookie\n')
    link = scratch('cookie-link')
    os.symlink(cookie, link)
    keys = broker_cluster_keys()
    keys.update(password_file=pw, acl_file=acl, cookie_file=link)
    rc, out, _ = run([ARGS.broker, '-n', '-c', broker_conf(**keys)])
    check(rc == 0 and 'configuration OK' in out, 'broker -n: %r' % out)
    rc, out, _ = run([ARGS.agent, '-n', '-c',
                      agent_conf(extra='cookie_file: "%s"\n' % link)])
    check(rc == 0 and 'configuration OK' in out, 'agent -n: %r' % out)


def control_refused(cmd, path, what):
    before = os.lstat(path)
    content = None
    if os.path.isfile(path):
        with open(path, 'rb') as f:
            content = f.read()
    expect_refused(cmd, 'control socket %s: exists and is %s, not a socket'
                   % (path, what))
    after = os.lstat(path)
    check(after.st_ino == before.st_ino and
          after.st_mode == before.st_mode, '%s was replaced' % path)
    if content is not None:
        with open(path, 'rb') as f:
            check(f.read() == content, '%s was changed' % path)


@case('agent_control_socket_not_a_socket_refused')
def t_agent_control():
    path = write(scratch('precious'), 'do not delete\n', 0o644)
    control_refused([ARGS.agent, '-d', '-c', agent_conf(control=path)],
                    path, 'a regular file')
    link = scratch('link')
    os.symlink(path, link)
    control_refused([ARGS.agent, '-d', '-c', agent_conf(control=link)],
                    link, 'a symbolic link')
    d = scratch('dir')
    os.mkdir(d)
    control_refused([ARGS.agent, '-d', '-c', agent_conf(control=d)],
                    d, 'a directory')
    # A stale socket (its owner gone) is still replaced.
    stale = scratch('stale.sock')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    p = subprocess.Popen([ARGS.agent, '-d', '-c', agent_conf(control=stale)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, close_fds=True)
    LIVE[p.pid] = p
    try:
        deadline = time.monotonic() + 5
        while True:
            check(p.poll() is None, 'agent refused a stale socket')
            try:
                if b'"' in ask(stale, 'state', 0.5):
                    break
            except OSError:
                pass
            check(time.monotonic() < deadline, 'stale socket not replaced')
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=3)
        LIVE.pop(p.pid, None)


@case('broker_control_socket_not_a_socket_refused')
def t_broker_control():
    path = write(scratch('precious'), 'do not delete\n', 0o644)
    keys = broker_cluster_keys()
    keys.update(cookie='secretcookie', control_socket=path)
    control_refused([ARGS.broker, '-d', '-c', broker_conf(**keys)],
                    path, 'a regular file')


def ask(sock, req, timeout=1.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(req.encode() + b'\n')
        out = b''
        while not out.endswith(b'\n'):
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


@case('agent_sighup_config_became_fifo_keeps_old')
def t_agent_reload_fifo():
    sock = scratch('reload.sock')
    conf = agent_conf(control=sock)
    logf = tempfile.TemporaryFile(dir=TMP)
    p = subprocess.Popen([ARGS.agent, '-d', '-c', conf],
                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                         close_fds=True)
    LIVE[p.pid] = p

    def log():
        logf.seek(0)
        return logf.read().decode('utf-8', 'replace')

    try:
        # Until the socket answers (it exists a moment before listen()).
        deadline = time.monotonic() + 5
        while True:
            check(p.poll() is None, 'agent exited: %r' % log())
            try:
                if b'"' in ask(sock, 'state', 0.5):
                    break
            except OSError:
                pass
            check(time.monotonic() < deadline, 'no control socket')
            time.sleep(0.02)
        os.unlink(conf)
        os.mkfifo(conf, 0o600)
        t0 = time.monotonic()
        p.send_signal(signal.SIGHUP)
        want = '%s: not a regular file (a FIFO)' % conf
        while want not in log():
            check(p.poll() is None, 'agent exited on SIGHUP: %r' % log())
            check(time.monotonic() - t0 < LIMIT,
                  'no reload error within %.1fs: %r' % (LIMIT, log()))
            time.sleep(0.02)
        # The loop was not blocked: the control socket answers at once.
        out = ask(sock, 'state', LIMIT)
        check(b'"' in out, 'state after the failed reload: %r' % out)
        check(p.poll() is None, 'agent died')
        lines = [ln for ln in log().splitlines() if 'reload' in ln]
        check(len(lines) == 1, 'want one reload line, got %r' % lines)
        check('keeping the old config' in lines[0], 'line %r' % lines[0])
        # A regular file again: the next SIGHUP reloads it.
        os.unlink(conf)
        shutil.copy(agent_conf(control=sock), conf)
        p.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while 'reloaded %s' % conf not in log():
            check(p.poll() is None, 'agent exited: %r' % log())
            check(time.monotonic() - t0 < LIMIT,
                  'no reload within %.1fs: %r' % (LIMIT, log()))
            time.sleep(0.02)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=3)
        LIVE.pop(p.pid, None)
        logf.close()


# ------------------------------------------------------------------- main

def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--broker', required=True)
    ap.add_argument('--agent', required=True)
    ap.add_argument('--only', default=None, help='regex on case names')
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    ARGS.broker = os.path.abspath(ARGS.broker)
    ARGS.agent = os.path.abspath(ARGS.agent)
    TMP = tempfile.mkdtemp(prefix='cairn-hostile-')
    # HOME for ~/.erlang.cookie defaults: an empty scratch directory.
    os.environ['HOME'] = TMP
    signal.signal(signal.SIGTERM, lambda *a: (kill_all(), os._exit(143)))
    cases = [(n, f) for n, f in CASES
             if not ARGS.only or re.search(ARGS.only, n)]
    print('1..%d' % len(cases))
    failed = 0
    try:
        for i, (name, fn) in enumerate(cases, 1):
            t0 = time.monotonic()
            try:
                fn()
                print('ok %d - %s' % (i, name))
            except Exception as e:
                failed += 1
                print('not ok %d - %s' % (i, name))
                msg = str(e) if isinstance(e, Fail) else \
                    traceback.format_exc()
                for ln in msg.rstrip().splitlines():
                    print('# ' + ln)
            if ARGS.verbose:
                print('# %s took %.2fs' % (name, time.monotonic() - t0))
            sys.stdout.flush()
    finally:
        kill_all()
        if ARGS.keep:
            print('# scratch directory %s' % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
