#!/usr/bin/env python3
"""conf/kubernetes/: the manifests hold together, and the broker
configuration inside them is one cairn-broker accepts.

Usage:
    svc_kubernetes.py --broker PATH --dir conf/kubernetes [-v]

Loads every manifest with PyYAML (python3-yaml) and checks, as TAP:

  - the StatefulSet's serviceName is a headless Service (clusterIP:
    None) with publishNotReadyAddresses: true whose selector matches the
    pod template's labels;
  - the ConfigMap's broker.yaml, after the substitutions the broker
    container's start command makes (POD_NAME, POD_NAMESPACE) and with
    its cookie file pointed at a scratch copy, passes `cairn-broker -n`;
  - what it configures matches the pod: the kubernetes_dnssrv topology
    names that headless Service, node_name is
    application_name@POD.SERVICE.NAMESPACE.svc.cluster_domain (what the
    SRV records will name), the MQTT, cluster and epmd ports are
    container ports, the config and cookie are mounted where the start
    command reads them;
  - the readiness probe asks /readyz and the liveness probe /healthz on
    the port http_listen configures.

Nothing is started but `cairn-broker -n`.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from tap import RESULTS, check, exit_code, step

ARGS = None
DOCS = {}


def one(kind, pred=lambda d: True):
    got = [d for d in DOCS.get(kind, []) if pred(d)]
    check(len(got) == 1, 'expected one %s, found %d' % (kind, len(got)))
    return got[0]


def t_load():
    files = sorted(f for f in os.listdir(ARGS.dir) if f.endswith('.yaml'))
    check(files == ['configmap.yaml', 'service.yaml', 'statefulset.yaml'],
          'manifests: %r' % files)
    for f in files:
        with open(os.path.join(ARGS.dir, f)) as fh:
            for d in yaml.safe_load_all(fh):
                check(isinstance(d, dict) and 'kind' in d and
                      'apiVersion' in d and 'name' in d.get('metadata', {}),
                      '%s: not a Kubernetes object: %r' % (f, d))
                DOCS.setdefault(d['kind'], []).append(d)


def sts():
    return one('StatefulSet')


def container(name):
    cs = [c for c in sts()['spec']['template']['spec']['containers']
          if c['name'] == name]
    check(len(cs) == 1, 'no container %r' % name)
    return cs[0]


def ports(c):
    return {p['name']: p['containerPort'] for p in c.get('ports', [])}


def headless():
    name = sts()['spec']['serviceName']
    return one('Service', lambda d: d['metadata']['name'] == name)


def t_service():
    s = headless()
    spec = s['spec']
    check(spec.get('clusterIP') == 'None', 'clusterIP %r'
          % spec.get('clusterIP'))
    check(spec.get('publishNotReadyAddresses') is True,
          'publishNotReadyAddresses %r' % spec.get('publishNotReadyAddresses'))
    labels = sts()['spec']['template']['metadata']['labels']
    for svc in DOCS['Service']:
        sel = svc['spec']['selector']
        check(all(labels.get(k) == v for k, v in sel.items()),
              '%s selects %r, pods have %r'
              % (svc['metadata']['name'], sel, labels))
    check(sts()['spec']['selector']['matchLabels'].items() <=
          labels.items(), 'StatefulSet selector does not match its pods')
    known = set(ports(container('broker'))) | set(ports(container('epmd')))
    for svc in DOCS['Service']:
        for p in svc['spec']['ports']:
            check(p['targetPort'] in known, '%s: targetPort %r not a '
                  'container port' % (svc['metadata']['name'],
                                      p['targetPort']))


def broker_yaml():
    b = container('broker')
    vols = {v['name']: v for v in sts()['spec']['template']['spec']['volumes']}
    mounts = {m['name']: m['mountPath'] for m in b['volumeMounts']}
    cm_vol = [n for n, v in vols.items() if 'configMap' in v]
    check(len(cm_vol) == 1, 'configMap volumes: %r' % cm_vol)
    cm = one('ConfigMap', lambda d: d['metadata']['name'] ==
             vols[cm_vol[0]]['configMap']['name'])
    script = '\n'.join(b['command'])
    path = mounts[cm_vol[0]] + '/broker.yaml'
    check(path in script, 'the start command does not read %s' % path)
    env = {e['name']: e['valueFrom']['fieldRef']['fieldPath']
           for e in b.get('env', [])}
    check(env.get('POD_NAME') == 'metadata.name' and
          env.get('POD_NAMESPACE') == 'metadata.namespace', 'env %r' % env)
    return cm['data']['broker.yaml'], script, mounts, vols


def substituted():
    text, script, mounts, vols = broker_yaml()
    # The start command's sed, in its order (POD_NAMESPACE first).
    check(script.index('POD_NAMESPACE/') < script.index('POD_NAME/'),
          'POD_NAME replaced before POD_NAMESPACE: it would eat it')
    return (text.replace('POD_NAMESPACE', 'default')
            .replace('POD_NAME', 'cairn-0'), script, mounts, vols)


def t_config_check():
    text, script, mounts, vols = substituted()
    conf = yaml.safe_load(text)
    # The cookie the start command copies from the Secret's mount.
    m = re.search(r'cat (\S+) > (\S+)', script)
    check(m is not None and m.group(2) == conf['cookie_file'],
          'cookie_file %r is not what the start command writes'
          % conf.get('cookie_file'))
    sec = [n for n, v in vols.items() if 'secret' in v]
    check(len(sec) == 1 and m.group(1).startswith(mounts[sec[0]] + '/'),
          'the cookie is not read from the Secret mount')
    tmp = tempfile.mkdtemp(prefix='cairn-k8s-')
    try:
        cookie = os.path.join(tmp, 'cookie')
        with open(cookie, 'w') as f:
            f.write('k8s-test-cookie\n')
        os.chmod(cookie, 0o600)
        path = os.path.join(tmp, 'broker.yaml')
        with open(path, 'w') as f:
            f.write(text.replace(conf['cookie_file'], cookie))
        p = subprocess.run([ARGS.broker, '-n', '-c', path],
                           capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode(errors='replace')
        check(p.returncode == 0 and 'configuration OK' in out,
              'cairn-broker -n: exit %d: %s' % (p.returncode, out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def port_of(hostport):
    return int(str(hostport).rsplit(':', 1)[1])


def t_config_matches_pod():
    text, script, mounts, vols = substituted()
    conf = yaml.safe_load(text)
    svc = headless()
    topo = [t for t in conf['topologies'].values()
            if t['strategy'] == 'kubernetes_dnssrv']
    check(len(topo) == 1, 'no kubernetes_dnssrv topology')
    t = topo[0]
    check(t.get('connector') == 'cairn', 'connector %r' % t.get('connector'))
    c = t['config']
    check(c['service'] == svc['metadata']['name'],
          'topology service %r, headless service %r'
          % (c['service'], svc['metadata']['name']))
    fqdn = 'cairn-0.%s.default.svc.%s' % (c['service'], c['cluster_domain'])
    check(conf['node_name'] == '%s@%s' % (c['application_name'], fqdn),
          'node_name %r is not what the SRV records name (%s@%s)'
          % (conf['node_name'], c['application_name'], fqdn))
    bp = ports(container('broker'))
    check(port_of(conf['listen']) == bp['mqtt'], 'listen %r, mqtt port %r'
          % (conf['listen'], bp['mqtt']))
    check(port_of(conf['cluster_listen']) == bp['cluster'],
          'cluster_listen %r, cluster port %r'
          % (conf['cluster_listen'], bp['cluster']))
    check(ports(container('epmd')).get('epmd') == 4369 and
          conf.get('epmd_port', 4369) == 4369, 'epmd port')
    check(os.path.dirname(conf['control_socket']) ==
          mounts.get('run'), 'control socket outside the run volume')


def t_probes():
    text, _, _, _ = substituted()
    conf = yaml.safe_load(text)
    check('http_listen' in conf, 'no http_listen in broker.yaml')
    hp = port_of(conf['http_listen'])
    b = container('broker')
    bp = ports(b)
    for probe, path in (('readinessProbe', '/readyz'),
                        ('livenessProbe', '/healthz')):
        g = b.get(probe, {}).get('httpGet')
        check(g is not None, 'no %s.httpGet' % probe)
        check(g['path'] == path, '%s path %r' % (probe, g['path']))
        port = bp.get(g['port'], g['port'])
        check(port == hp, '%s port %r (%r), http_listen port %d'
              % (probe, g['port'], port, hp))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument('--broker', required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    steps = [('manifests_load', t_load),
             ('headless_service', t_service),
             ('broker_config_passes_check', t_config_check),
             ('broker_config_matches_pod', t_config_matches_pod),
             ('probes_on_http_listen', t_probes)]
    print('1..%d' % len(steps))
    for name, fn in steps:
        if RESULTS and RESULTS[0][0] != 'ok':
            RESULTS.append(('fail', ''))
            print('not ok %d - %s\n# not run: manifests did not load'
                  % (len(RESULTS), name))
            continue
        step(name, fn)
    return exit_code()


if __name__ == '__main__':
    sys.exit(main())
