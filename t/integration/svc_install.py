#!/usr/bin/env python3
"""Running as a service: what `meson install` puts where, and whether it
is right.

Usage:
    svc_install.py --build-dir DIR [-v]

Installs the build into a scratch folder (`meson install --destdir`,
no rebuild) and checks, as TAP:

  - the installed files are exactly the expected list (programs, man
    pages when scdoc is there, examples, systemd units, sysusers.d);
  - every man page renders with `man -l` (man-db) without a warning,
    and a page with a deliberate error does warn (so the check can fail);
  - `systemd-analyze verify` passes on each installed unit, the only
    message allowed being "Command X is not executable" for a program
    that is installed in the scratch folder but not on this host's root;
    a unit with a deliberate error is caught (SKIP if systemd-analyze is
    absent);
  - the units say what the docs say: epmd.socket on 4369 as Erlang's,
    epmd.service with -systemd, Type=notify, the hardening keys.

Nothing is started; the scratch folder is removed at the end.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import RESULTS, Skip, check, exit_code, step

ARGS = None
CMD_TIMEOUT = 60


def run(cmd, env=None, timeout=CMD_TIMEOUT):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          env=env, timeout=timeout)


DEST = None
DIRS = {}


def options():
    p = run(['meson', 'introspect', '--buildoptions', ARGS.build_dir])
    check(p.returncode == 0, 'meson introspect: %r' % p.stderr)
    o = {x['name']: x['value'] for x in json.loads(p.stdout)}
    prefix = o['prefix']

    def under(v):
        return v if os.path.isabs(v) else os.path.join(prefix, v)
    DIRS['bindir'] = under(o['bindir'])
    DIRS['mandir'] = under(o['mandir'])
    DIRS['datadir'] = under(o['datadir'])
    DIRS['sysconfdir'] = under(o['sysconfdir'])
    DIRS['unitdir'] = (o['systemdunitdir'] or
                       os.path.join(prefix, 'lib/systemd/system'))
    DIRS['sysusersdir'] = (o['sysusersdir'] or
                           os.path.join(prefix, 'lib/sysusers.d'))
    # Man pages are built when scdoc is found (-Dman=auto).
    DIRS['man'] = o['man'] != 'disabled' and shutil.which('scdoc') is not None


def expected():
    b, m, d = DIRS['bindir'], DIRS['mandir'], DIRS['datadir']
    ex = os.path.join(d, 'doc/cairn/examples')
    files = [os.path.join(b, p) for p in
             ('epmd', 'cairn-agent', 'cairn-broker', 'cairn')]
    if DIRS['man']:
        files += [os.path.join(m, p) for p in (
            'man1/cairn.1', 'man5/cairn-agent.yaml.5',
            'man5/cairn-broker.yaml.5', 'man5/cairn-broker.passwd.5',
            'man5/cairn-broker.acl.5', 'man8/epmd.8', 'man8/cairn-agent.8',
            'man8/cairn-broker.8')]
    files += [os.path.join(ex, p) for p in (
        'agent-dns.yaml', 'agent-epmd.yaml', 'agent-erlang_hosts.yaml',
        'agent-exec.yaml', 'agent-gossip.yaml', 'agent-kubernetes-api.yaml',
        'agent-kubernetes.yaml', 'agent-local_epmd.yaml',
        'agent-rancher.yaml', 'broker.yaml',
        'kubernetes/configmap.yaml', 'kubernetes/service.yaml',
        'kubernetes/statefulset.yaml')]
    if DIRS['unitdir'] != 'no':
        files += [os.path.join(DIRS['unitdir'], p) for p in (
            'epmd.socket', 'epmd.service', 'cairn-agent.service',
            'cairn-broker@.service')]
    if DIRS['sysusersdir'] != 'no':
        files.append(os.path.join(DIRS['sysusersdir'], 'cairn.conf'))
    return sorted(files)


def installed():
    out = []
    for root, dirs, files in os.walk(DEST):
        for f in files:
            out.append('/' + os.path.relpath(os.path.join(root, f), DEST))
    return sorted(out)


def t_install():
    options()
    p = run(['meson', 'install', '-C', ARGS.build_dir, '--no-rebuild',
             '--quiet', '--destdir', DEST], timeout=300)
    check(p.returncode == 0, 'meson install failed: %s%s'
          % (p.stdout.decode(errors='replace')[-2000:],
             p.stderr.decode(errors='replace')[-2000:]))


def t_files():
    got, want = installed(), expected()
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    check(not extra and not missing,
          'installed but not expected: %r\nexpected but not installed: %r'
          % (extra, missing))
    for f in ('epmd', 'cairn-agent', 'cairn-broker', 'cairn'):
        path = DEST + os.path.join(DIRS['bindir'], f)
        check(os.access(path, os.X_OK), '%s is not executable' % path)


def man_render(path):
    env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8')
    p = run(['man', '--warnings', '-l', '-Tutf8', path], env=env)
    # Bold and underline are overstrikes (c BS c, _ BS c): plain text.
    out = re.sub(r'.\x08', '', p.stdout.decode(errors='replace'))
    return p.returncode, out, p.stderr.decode(errors='replace')


def t_man():
    if not DIRS['man']:
        raise Skip('scdoc not found: no man pages built')
    if shutil.which('man') is None:
        raise Skip('man (man-db) not installed')
    # The check must be able to fail: an unknown request warns.
    bad = os.path.join(DEST, 'canary.1')
    with open(bad, 'w') as f:
        f.write('.TH CANARY 1\n.SH NAME\ncanary \\- x\n.XYZZY oops\n')
    rc, out, err = man_render(bad)
    os.unlink(bad)
    check(err.strip() != '', 'man printed no warning for a bad page: the '
          'warning check cannot fail')
    pages = [f for f in installed() if f.startswith(DIRS['mandir'] + '/')]
    check(len(pages) == 8, 'man pages: %r' % pages)
    for page in pages:
        rc, out, err = man_render(DEST + page)
        name = os.path.basename(page).rsplit('.', 1)[0]
        check(rc == 0 and err.strip() == '',
              '%s: man exit %d, stderr %r' % (page, rc, err))
        check(re.search(r'^NAME\n\s+%s - ' % re.escape(name), out, re.M),
              '%s: no NAME section for %s in %r' % (page, name, out[:300]))
        check('SEE ALSO' in out, '%s: no SEE ALSO' % page)


def unit_text(name):
    with open(DEST + os.path.join(DIRS['unitdir'], name)) as f:
        return f.read()


def unit_keys(text):
    keys = {}
    for ln in text.splitlines():
        if ln.startswith('#') or '=' not in ln:
            continue
        k, v = ln.split('=', 1)
        keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def verify(paths):
    p = run(['systemd-analyze', 'verify', '--man=no'] + paths)
    return p.returncode, (p.stdout + p.stderr).decode(errors='replace')


UNITS = ('epmd.socket', 'epmd.service', 'cairn-agent.service',
         'cairn-broker@.service')


def t_verify():
    if DIRS['unitdir'] == 'no':
        raise Skip('built with -Dsystemdunitdir=no')
    if shutil.which('systemd-analyze') is None:
        raise Skip('systemd-analyze not installed')
    # The check must be able to fail: an unknown key is reported.
    bad = os.path.join(DEST, 'canary.service')
    with open(bad, 'w') as f:
        f.write('[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n'
                'NoSuchKey=1\n')
    rc, out = verify([bad])
    os.unlink(bad)
    check('NoSuchKey' in out, 'systemd-analyze verify missed an unknown '
          'key: %r' % out)
    udir = DEST + DIRS['unitdir']
    for u in UNITS:
        # One unit at a time, from the scratch folder, with its siblings
        # (epmd.service is the socket's) found there first.
        rc, out = verify([os.path.join(udir, x) for x in UNITS
                          if x == u or (u == 'epmd.socket' and
                                        x == 'epmd.service')])
        bad = []
        for ln in out.splitlines():
            m = re.fullmatch(r'\S+: Command (\S+) is not executable: '
                             r'No such file or directory', ln)
            if (m and m.group(1).startswith(DIRS['bindir'] + '/') and
                    os.access(DEST + m.group(1), os.X_OK)):
                continue
            bad.append(ln)
        check(not bad, '%s: systemd-analyze verify: %s' % (u, '\n'.join(bad)))


def t_units_say():
    if DIRS['unitdir'] == 'no':
        raise Skip('built with -Dsystemdunitdir=no')
    b, etc = DIRS['bindir'], DIRS['sysconfdir']
    s = unit_keys(unit_text('epmd.socket'))
    check(s.get('ListenStream') == ['4369'], 'epmd.socket: %r' % s)
    e = unit_keys(unit_text('epmd.service'))
    check(e.get('ExecStart') == [b + '/epmd -systemd'], 'epmd: %r' % e)
    check(e.get('Type') == ['notify'], 'epmd Type: %r' % e.get('Type'))
    a = unit_keys(unit_text('cairn-agent.service'))
    check(a.get('ExecStart') == [b + '/cairn-agent -d -c ' + etc +
                                 '/cairn/agent.yaml'], 'agent: %r' % a)
    check(a.get('ExecReload') == ['/bin/kill -HUP $MAINPID'],
          'agent ExecReload: %r' % a.get('ExecReload'))
    br = unit_keys(unit_text('cairn-broker@.service'))
    check(br.get('ExecStart') == [b + '/cairn-broker -d -c ' + etc +
                                  '/cairn/broker-%i.yaml'], 'broker: %r' % br)
    check(br.get('ExecReload') == ['/bin/kill -HUP $MAINPID'],
          'broker ExecReload: %r' % br.get('ExecReload'))
    for name, k in (('epmd.service', e), ('cairn-agent.service', a),
                    ('cairn-broker@.service', br)):
        check(k.get('Type') == ['notify'], '%s: Type %r' % (name, k))
        for key, val in (('NoNewPrivileges', 'yes'),
                         ('ProtectSystem', 'strict'), ('PrivateTmp', 'yes'),
                         ('CapabilityBoundingSet', '')):
            check(k.get(key) == [val], '%s: %s=%r' % (name, key, k.get(key)))
        fams = ' '.join(k.get('RestrictAddressFamilies', [])).split()
        check('AF_UNIX' in fams and 'AF_INET' in fams,
              '%s: RestrictAddressFamilies %r' % (name, fams))
    check('AF_NETLINK' not in unit_text('epmd.service'),
          'epmd.service allows AF_NETLINK, which epmd does not use')
    check(br.get('StateDirectory') == ['cairn/broker-%i'],
          'broker StateDirectory %r' % br.get('StateDirectory'))


def main():
    global ARGS, DEST
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    DEST = tempfile.mkdtemp(prefix='cairn-install-')
    try:
        print('1..5')
        step('meson_install_destdir', t_install)
        if RESULTS[-1][0] != 'ok':
            for n in ('installed_files_exact', 'man_pages_render',
                      'systemd_analyze_verify', 'units_content'):
                RESULTS.append(('fail', ''))
                print('not ok %d - %s\n# not run: install failed'
                      % (len(RESULTS), n))
        else:
            step('installed_files_exact', t_files)
            step('man_pages_render', t_man)
            step('systemd_analyze_verify', t_verify)
            step('units_content', t_units_say)
    finally:
        shutil.rmtree(DEST, ignore_errors=True)
    return exit_code()


if __name__ == '__main__':
    sys.exit(main())
