#!/usr/bin/env python3
"""`cairn passwd` against mosquitto: the same password files both ways.

Usage:
    cairn_passwd.py --cairn PATH [--deadline SECONDS] [-v]

A file written by `cairn passwd -b` must be accepted by a real mosquitto
(right password connects, wrong password and unknown user are refused), and a
file written by mosquitto_passwd must be read by Cairn's verifier through
`cairn passwd --check` (exit 0 right, 1 wrong).  Edits by one tool must keep
what the other wrote.  One more case backs a claim in broker/core/acl.h: with an
acl_file, mosquitto grants a SUBSCRIBE to a topic the client may not read.

Output is TAP (plan line first).  Python 3 standard library only.  Every
mosquitto runs in the foreground on a free loopback port (bound to
127.0.0.1, found by binding port 0) and is killed by pid when its case ends.
Without mosquitto, mosquitto_passwd and mosquitto_pub/_sub the plan is
"1..0 # SKIP".
"""

import argparse
import base64
import hashlib
import hmac
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback

ARGS = None
TESTS = []
LIVE = {}               # pid -> Popen of every mosquitto we started
TOOLS = ('mosquitto', 'mosquitto_passwd', 'mosquitto_pub', 'mosquitto_sub')


def test(name):
    def wrap(fn):
        TESTS.append((name, fn))
        return fn
    return wrap


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(argv, stdin=None, timeout=30):
    p = subprocess.run(argv, input=stdin, capture_output=True,
                       timeout=timeout)
    if ARGS.verbose:
        sys.stderr.write('# %s -> %d %r %r\n' % (' '.join(argv),
                         p.returncode, p.stdout, p.stderr))
    return p


def cairn(*args, stdin=None):
    return run([ARGS.cairn, 'passwd'] + list(args), stdin=stdin)


def mosquitto_passwd(*args):
    p = run(['mosquitto_passwd'] + list(args))
    check(p.returncode == 0, 'mosquitto_passwd %s: %r' % (args, p.stderr))


class Broker:
    """One mosquitto on a free loopback port with a password file."""

    def __init__(self, tmp, pwfile, aclfile=None):
        self.port = free_port()
        self.conf = os.path.join(tmp, 'mosquitto-%d.conf' % self.port)
        lines = ['listener %d 127.0.0.1' % self.port,
                 'allow_anonymous false',
                 'password_file %s' % pwfile,
                 'persistence false']
        if aclfile is not None:
            lines.append('acl_file %s' % aclfile)
        if os.geteuid() == 0:
            # Else it would drop to user "mosquitto", who may not read
            # our 0600 files.
            lines.append('user root')
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.log = open(os.path.join(tmp, 'mosquitto-%d.log' % self.port),
                        'w+')
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(['mosquitto', '-c', self.conf],
                                     stdout=self.log, stderr=self.log)
        LIVE[self.proc.pid] = self.proc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise Fail('mosquitto exited: %s' % self.log.read())
            try:
                with socket.create_connection(('127.0.0.1', self.port),
                                              timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise Fail('mosquitto did not listen on %d' % self.port)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:
            LIVE.pop(self.proc.pid, None)
        self.log.close()
        return False

    def pub(self, user, password):
        """mosquitto_pub's exit status and output for one CONNECT."""
        p = run(['mosquitto_pub', '-h', '127.0.0.1', '-p', str(self.port),
                 '-u', user, '-P', password, '-t', 't', '-m', 'x'])
        return p.returncode, (p.stdout + p.stderr).decode(errors='replace')

    def accepts(self, user, password):
        rc, out = self.pub(user, password)
        check(rc == 0, '%s/%s refused: %s' % (user, password, out))

    def refuses(self, user, password):
        rc, out = self.pub(user, password)
        check(rc != 0 and 'not authori' in out,
              '%s/%s not refused (rc %d): %s' % (user, password, rc, out))


def tmpdir():
    return tempfile.TemporaryDirectory(prefix='cairn_passwd.')


@test('cairn_file_accepted_by_mosquitto')
def t_cairn_file():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        check(cairn('-b', '-c', pw, 'alice', 'right').returncode == 0,
              'cairn passwd -c')
        check(cairn('-I', '2000', '-b', pw, 'bob', 'b0b pass').returncode
              == 0, 'cairn passwd -I')
        check(stat.S_IMODE(os.stat(pw).st_mode) == 0o600, 'mode 0600')
        with open(pw) as f:
            text = f.read()
        check(text.startswith('alice:$7$101$') and
              '\nbob:$7$2000$' in text, 'format: %r' % text)
        with Broker(tmp, pw) as b:
            b.accepts('alice', 'right')
            b.accepts('bob', 'b0b pass')


@test('cairn_file_wrong_password_refused_by_mosquitto')
def t_cairn_file_wrong():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        check(cairn('-b', '-c', pw, 'alice', 'right').returncode == 0,
              'cairn passwd -c')
        with Broker(tmp, pw) as b:
            b.refuses('alice', 'wrong')
            b.refuses('alice', 'Right')
            b.refuses('alice', '')
            b.refuses('mallory', 'right')


@test('cairn_prompted_password_accepted_by_mosquitto')
def t_cairn_prompted():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        p = cairn('-c', pw, 'carol', stdin=b'typed pw\ntyped pw\n')
        check(p.returncode == 0, 'prompt: %r' % p.stderr)
        p = cairn(pw, 'dave', stdin=b'one\ntwo\n')
        check(p.returncode == 1 and b'Passwords do not match' in p.stderr,
              'mismatch: %r' % p.stderr)
        with Broker(tmp, pw) as b:
            b.accepts('carol', 'typed pw')
            b.refuses('dave', 'one')


@test('mosquitto_passwd_file_read_by_cairn')
def t_mosquitto_file():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        mosquitto_passwd('-b', '-c', pw, 'alice', 'correct horse')
        mosquitto_passwd('-I', '1000', '-b', pw, 'bob', 'b0b!')
        for user, good in (('alice', 'correct horse'), ('bob', 'b0b!')):
            p = cairn('--check', pw, user, good)
            check(p.returncode == 0, '%s right: %r' % (user, p.stderr))
            p = cairn('--check', pw, user, good + 'x')
            check(p.returncode == 1, '%s wrong: %d' % (user, p.returncode))
        check(cairn('--check', pw, 'nobody', 'x').returncode == 1,
              'unknown user')
        p = cairn('--check', pw, 'alice', stdin=b'correct horse\n')
        check(p.returncode == 0, 'prompted check: %r' % p.stderr)


@test('mosquitto_passwd_sha512_file_read_by_cairn')
def t_mosquitto_sha512():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        mosquitto_passwd('-H', 'sha512', '-b', '-c', pw, 'old', 'old pw')
        with open(pw) as f:
            check(f.read().startswith('old:$6$'), '$6$ line')
        check(cairn('--check', pw, 'old', 'old pw').returncode == 0,
              '$6$ right')
        check(cairn('--check', pw, 'old', 'old pW').returncode == 1,
              '$6$ wrong')


@test('cairn_edits_keep_mosquitto_lines')
def t_mixed_edits():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        mosquitto_passwd('-b', '-c', pw, 'm1', 'pass m1')
        mosquitto_passwd('-H', 'sha512', '-b', pw, 'm2', 'pass m2')
        mosquitto_passwd('-b', pw, 'gone', 'pass gone')
        with open(pw) as f:
            before = f.read().splitlines()
        check(cairn('-b', pw, 'c1', 'pass c1').returncode == 0, 'add c1')
        check(cairn('-D', pw, 'gone').returncode == 0, 'delete gone')
        p = cairn('-D', pw, 'gone')
        check(p.returncode == 1 and b'not found' in p.stderr,
              'delete twice: %r' % p.stderr)
        with open(pw) as f:
            after = f.read().splitlines()
        check(after[:2] == before[:2], 'm1 and m2 lines kept verbatim')
        check(len(after) == 3 and after[2].startswith('c1:$7$'),
              'lines: %r' % after)
        # mosquitto_passwd can go on editing what cairn wrote.
        mosquitto_passwd('-b', pw, 'm3', 'pass m3')
        with Broker(tmp, pw) as b:
            b.accepts('m1', 'pass m1')
            b.accepts('m2', 'pass m2')
            b.accepts('c1', 'pass c1')
            b.accepts('m3', 'pass m3')
            b.refuses('gone', 'pass gone')
        check(cairn('--check', pw, 'm3', 'pass m3').returncode == 0, 'm3')


def scram_keys(password, salt, iterations):
    """RFC 5802's StoredKey and ServerKey, by the standard library."""
    salted = hashlib.pbkdf2_hmac('sha256', password, salt, iterations)
    client_key = hmac.new(salted, b'Client Key', 'sha256').digest()
    return (hashlib.sha256(client_key).digest(),
            hmac.new(salted, b'Server Key', 'sha256').digest())


@test('cairn_scram_entries_derive_from_the_password')
def t_scram_entries():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        mosquitto_passwd('-b', '-c', pw, 'm1', 'pass m1')
        check(cairn('--scram', '-b', pw, 'sam', 'pass sam').returncode == 0,
              'cairn passwd --scram')
        p = cairn('--scram', '-I', '5000', pw, 'sue',
                  stdin=b'typed\ntyped\n')
        check(p.returncode == 0, 'prompted --scram: %r' % p.stderr)
        with open(pw) as f:
            lines = f.read().splitlines()
        check(len(lines) == 3 and lines[0].startswith('m1:$7$'),
              'lines: %r' % lines)
        for line, user, password, iters in (
                (lines[1], 'sam', b'pass sam', 4096),
                (lines[2], 'sue', b'typed', 5000)):
            name, field = line.split(':', 1)
            parts = field.split('$')
            check(name == user and parts[:3] == ['', 'scram-sha-256',
                  str(iters)] and len(parts) == 6, 'format: %r' % line)
            salt = base64.b64decode(parts[3], validate=True)
            check(len(salt) == 16, 'salt of %d bytes' % len(salt))
            stored, server = scram_keys(password, salt, iters)
            check(base64.b64decode(parts[4]) == stored, 'StoredKey')
            check(base64.b64decode(parts[5]) == server, 'ServerKey')
        # The plain password checks against a SCRAM entry too.
        check(cairn('--check', pw, 'sam', 'pass sam').returncode == 0,
              'sam right')
        check(cairn('--check', pw, 'sam', 'pass sam ').returncode == 1,
              'sam wrong')
        check(cairn('--check', pw, 'm1', 'pass m1').returncode == 0,
              'm1 kept')
        # Back to $7$ without --scram.
        check(cairn('-b', pw, 'sam', 'again').returncode == 0, 'sam $7$')
        with open(pw) as f:
            check(f.read().splitlines()[1].startswith('sam:$7$101$'),
                  'sam rewritten as $7$')
        p = cairn('-D', '--scram', pw, 'sue')
        check(p.returncode == 1, '-D --scram refused: %r' % p.stderr)


@test('cairn_scram_keys_are_of_the_saslprepped_password')
def t_scram_saslprep():
    # RFC 5802 section 2.2: the keys are of SASLprep(password).  A
    # no-break space is a space, U+2168 is "IX", a soft hyphen goes.
    raw = '\u2168\u00a0pass\u00adword'
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        p = cairn('--scram', '-b', '-c', pw, 'u', raw)
        check(p.returncode == 0, 'cairn passwd --scram: %r' % p.stderr)
        with open(pw, encoding='utf-8') as f:
            parts = f.read().split(':', 1)[1].strip().split('$')
        salt = base64.b64decode(parts[3], validate=True)
        stored, server = scram_keys(b'IX password', salt, 4096)
        check(base64.b64decode(parts[4]) == stored, 'StoredKey of SASLprep')
        check(base64.b64decode(parts[5]) == server, 'ServerKey of SASLprep')
        for typed in (raw, 'IX password', 'IX\u3000password'):
            check(cairn('--check', pw, 'u', typed).returncode == 0,
                  '--check %r' % typed)
        check(cairn('--check', pw, 'u', 'IXpassword').returncode == 1,
              '--check wrong')
        # Refused, exit 1, with SASLprep's reason; the file unchanged.
        with open(pw, 'rb') as f:
            before = f.read()
        for user, password, want in (
                ('u', 'bell\u0007', b'prohibited character'),
                ('u', '\u0627\u0031', b'right-to-left'),
                ('u', '\u00ad', b'empty once prepared'),
                ('\u2168', 'x', b'"IX"'),
                ('cafe\u0301', 'x', 'caf\u00e9'.encode())):
            p = cairn('--scram', '-b', pw, user, password)
            check(p.returncode == 1 and b'SASLprep' in p.stderr and
                  want in p.stderr, '%r %r: %d %r' % (user, password,
                                                      p.returncode,
                                                      p.stderr))
        with open(pw, 'rb') as f:
            check(f.read() == before, 'file changed by a refusal')
        # Without --scram the entry is mosquitto's: bytes as given.
        p = cairn('-b', pw, 'm', 'bell\u0007')
        check(p.returncode == 0, '$7$ with a control: %r' % p.stderr)


@test('bad_file_named_with_line')
def t_bad_file():
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        with open(pw, 'w') as f:
            f.write('# ok\nalice:plaintext\n')
        p = cairn('-b', pw, 'bob', 'x')
        check(p.returncode == 1 and
              (pw + ':2: not a hashed password').encode() in p.stderr,
              'message: %r' % p.stderr)
        check(cairn('--check', pw, 'alice', 'x').returncode == 2, 'exit 2')
        with open(pw) as f:
            check(f.read() == '# ok\nalice:plaintext\n', 'file untouched')


@test('mosquitto_grants_subscribe_without_read_access')
def t_acl_subscribe():
    # broker/core/acl.h: mosquitto's acl_file does not check SUBSCRIBE; it
    # checks READ per delivered message.  Cairn mirrors that.
    with tmpdir() as tmp:
        pw = os.path.join(tmp, 'pw')
        acl = os.path.join(tmp, 'acl')
        check(cairn('-b', '-c', pw, 'alice', 'right').returncode == 0,
              'cairn passwd -c')
        with open(acl, 'w') as f:
            f.write('user alice\ntopic read public/#\n')
        with Broker(tmp, pw, acl) as b:
            p = run(['mosquitto_sub', '-h', '127.0.0.1', '-p', str(b.port),
                     '-u', 'alice', '-P', 'right', '-q', '1', '-d', '-E',
                     '-t', 'secret/x', '-t', 'public/x'], timeout=10)
            out = p.stdout.decode(errors='replace')
            check(p.returncode == 0 and 'Subscribed (mid: 1): 1, 1' in out,
                  'granted QoS: rc %d %r' % (p.returncode, out))


def kill_all():
    for pid, p in list(LIVE.items()):
        if p.poll() is None:
            p.kill()
            p.wait()
        LIVE.pop(pid, None)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument('--cairn', required=True)
    ap.add_argument('--deadline', type=float, default=100)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()

    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print('1..0 # SKIP not installed: %s' % ' '.join(missing))
        return 0

    def on_alarm(sig, frame):
        kill_all()
        print('Bail out! deadline of %g s passed' % ARGS.deadline)
        sys.stdout.flush()
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(ARGS.deadline))

    print('1..%d' % len(TESTS))
    failed = 0
    for i, (name, fn) in enumerate(TESTS, 1):
        try:
            fn()
            print('ok %d - %s' % (i, name))
        except Exception as e:
            failed += 1
            print('not ok %d - %s' % (i, name))
            detail = str(e) if isinstance(e, Fail) else \
                traceback.format_exc()
            for line in detail.splitlines():
                print('# ' + line)
        finally:
            kill_all()
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
