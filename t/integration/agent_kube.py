#!/usr/bin/env python3
"""The kubernetes (API) and rancher strategies against fake servers that
answer as the real ones do: cairn-agent with a `kubernetes` topology
talking HTTPS to a Kubernetes API server made here (a test CA and a
server certificate made with `openssl`, EndpointSlice lists and chunked
watch streams from the fixtures in fixtures/k8s/), and a `rancher`
topology asking a fake Rancher metadata service over HTTP.

Usage:
    agent_kube.py --agent PATH --cairn PATH [-v]

Covered: list then watch (the Authorization header carries the token);
ADDED, not-ready (MODIFIED), DELETED; a bookmark moves the watch's
resourceVersion on; 410 Gone lists again; a rotated token file is used
by the next request; an API server that is down drops nobody, and one
that comes back is used again; an oversized watch line is refused
without losing anyone; a server certificate from another CA is refused;
every conf/agent-*.yaml example of these strategies passes -n; a slow
API server (no answer within `timeout`) drops nobody; a list over
max_response is refused; the agent exits cleanly (and, under ASan,
without a leak) with a watch open; a certificate for another host
name is refused; a Rancher metadata service that
answers nonsense or is down drops nobody.

Output is TAP.  Every process is killed by pid at the end, pass or fail;
every wait is bounded; only loopback addresses are used.
"""

import argparse
import copy
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ARGS = None
PROCS = []
TMP = None
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, 'fixtures', 'k8s')
SLICES = '/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices'


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


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return json.load(f)


def openssl(*args):
    p = subprocess.run(['openssl'] + list(args), capture_output=True,
                       timeout=30, cwd=TMP)
    check(p.returncode == 0, 'openssl %s: %s' % (args[0], p.stderr[-300:]))


def make_ca(name, san='DNS:localhost,IP:127.0.0.1'):
    """A CA and a server certificate for san (localhost and 127.0.0.1)."""
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
            '-subj', '/CN=%s test CA' % name, '-keyout', name + '-ca.key',
            '-out', name + '-ca.crt')
    openssl('req', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:prime256v1', '-nodes', '-subj',
            '/CN=kube-apiserver', '-keyout', name + '-srv.key',
            '-out', name + '-srv.csr')
    with open(os.path.join(TMP, name + '-ext.cnf'), 'w') as f:
        f.write('subjectAltName=%s\n'
                'extendedKeyUsage=serverAuth\n' % san)
    openssl('x509', '-req', '-in', name + '-srv.csr', '-CA',
            name + '-ca.crt', '-CAkey', name + '-ca.key',
            '-CAcreateserial', '-days', '2', '-extfile',
            name + '-ext.cnf', '-out', name + '-srv.crt')
    return (os.path.join(TMP, name + '-ca.crt'),
            os.path.join(TMP, name + '-srv.crt'),
            os.path.join(TMP, name + '-srv.key'))


class KubeAPI:
    """Just the part of kube-apiserver the strategy uses: list and watch
    of EndpointSlices in one namespace, with a bearer token, over TLS.
    Every request is recorded; watch events are pushed by the test."""

    def __init__(self, port, cert, key):
        self.lock = threading.Lock()
        self.requests = []		# (path, authorization)
        self.items = {}			# name -> EndpointSlice
        self.rv = 104512
        self.watchers = []		# queues of open watches
        self.list_status = 200
        self.list_delay = 0.0		# a slow API server
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_GET(self):
                with api.lock:
                    api.requests.append((self.path,
                                         self.headers.get('Authorization')))
                path, _, query = self.path.partition('?')
                params = dict(kv.split('=', 1) for kv in query.split('&')
                              if '=' in kv)
                if path != SLICES:
                    return self.status(404, 'NotFound', 'no such path')
                if 'watch' in params:
                    return self.watch()
                if api.list_delay:
                    time.sleep(api.list_delay)
                if api.list_status != 200:
                    return self.status(api.list_status, 'Oops', 'refused')
                with api.lock:
                    body = {'kind': 'EndpointSliceList',
                            'apiVersion': 'discovery.k8s.io/v1',
                            'metadata': {'resourceVersion': str(api.rv)},
                            'items': list(api.items.values())}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def status(self, code, reason, msg):
                data = json.dumps({'kind': 'Status', 'apiVersion': 'v1',
                                   'metadata': {}, 'status': 'Failure',
                                   'message': msg, 'reason': reason,
                                   'code': code}).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def chunk(self, data):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
                self.wfile.flush()

            def watch(self):
                q = queue.Queue()
                with api.lock:
                    api.watchers.append(q)
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Transfer-Encoding', 'chunked')
                self.end_headers()
                self.wfile.flush()
                try:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        try:
                            ev = q.get(timeout=0.1)
                        except queue.Empty:
                            continue
                        if ev is None:		# the server ends it
                            self.wfile.write(b'0\r\n\r\n')
                            self.wfile.flush()
                            break
                        if ev == 'drop':	# a dead connection
                            break
                        self.chunk(ev)
                except OSError:
                    pass
                finally:
                    with api.lock:
                        if q in api.watchers:
                            api.watchers.remove(q)
                self.close_connection = True

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', port),
                                                     Handler)
        self.httpd.daemon_threads = True
        # A client that hung up (the agent's timeout) is expected.
        self.httpd.handle_error = lambda request, addr: None
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={'poll_interval': 0.05})
        self.thread.daemon = True
        self.thread.start()

    def event(self, typ, obj):
        line = json.dumps({'type': typ, 'object': obj}).encode() + b'\n'
        self.push(line)
        if typ == 'ERROR':
            self.push(None)	# kube-apiserver ends a watch after it

    def push(self, data):
        with self.lock:
            for q in self.watchers:
                q.put(data)

    def end_watches(self, how=None):
        self.push(how)

    def nwatchers(self):
        with self.lock:
            return len(self.watchers)

    def reqs(self):
        with self.lock:
            return list(self.requests)

    def put(self, obj):
        with self.lock:
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj['metadata']['resourceVersion'] = str(self.rv)
            self.items[obj['metadata']['name']] = obj
            return obj

    def stop(self):
        self.end_watches('drop')
        self.httpd.shutdown()
        self.httpd.server_close()


class Rancher:
    def __init__(self):
        self.body = json.dumps(fixture('rancher-self-service.json')).encode()
        self.requests = []
        r = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_GET(self):
                r.requests.append((self.path, self.headers.get('Accept')))
                if self.path != '/latest/self/service':
                    self.send_response(404)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(r.body)))
                self.end_headers()
                self.wfile.write(r.body)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        t = threading.Thread(target=self.httpd.serve_forever,
                             kwargs={'poll_interval': 0.05})
        t.daemon = True
        t.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Agent:
    def __init__(self, name, text):
        self.path = os.path.join(TMP, name + '.yaml')
        with open(self.path, 'w') as f:
            f.write(text)
        self.log = os.path.join(TMP, name + '.log')
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


def names(sock):
    p = subprocess.run([ARGS.cairn, 'members', '--json', '-s', sock],
                       capture_output=True, timeout=10)
    check(p.returncode == 0, 'cairn members: %r' % p.stderr)
    return sorted(m['node'] for m in json.loads(p.stdout)['members'])


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


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_token(path, tok):
    with open(path + '.tmp', 'w') as f:
        f.write(tok + '\n')
    os.rename(path + '.tmp', path)	# as the kubelet swaps it


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument('--agent', required=True)
    ap.add_argument('--cairn', required=True)
    ap.add_argument('--deadline', type=float, default=150.0)
    ap.add_argument('-v', '--verbose', action='store_true')
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix='cairn-kube-')
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
    token = os.path.join(TMP, 'token')
    listed = fixture('endpointslice-list.json')['items'][0]
    added = fixture('watch-added.json')['object']

    def watch_reqs():
        return [r for r in st['api'].reqs() if 'watch=1' in r[0]]

    def list_reqs():
        return [r for r in st['api'].reqs() if 'watch=1' not in r[0]]

    def param(path, key):
        for kv in path.partition('?')[2].split('&'):
            if kv.startswith(key + '='):
                return kv.split('=', 1)[1]
        return None

    @step('examples_pass_check')
    def _():
        root = os.path.dirname(os.path.dirname(HERE))
        for ex in ('agent-kubernetes-api.yaml', 'agent-rancher.yaml',
                   'agent-dns.yaml'):
            p = subprocess.run([ARGS.agent, '-n', '-c',
                                os.path.join(root, 'conf', ex)],
                               capture_output=True, timeout=10)
            check(p.returncode == 0, '%s: %r' % (ex, p.stderr))
        bad = os.path.join(TMP, 'bad.yaml')
        with open(bad, 'w') as f:
            f.write('topologies:\n  k:\n    strategy: kubernetes\n'
                    '    config: {kubernetes_node_basename: a, '
                    'mode: pods}\n')
        p = subprocess.run([ARGS.agent, '-n', '-c', bad],
                           capture_output=True, timeout=10)
        check(p.returncode != 0 and b'bad.yaml:4:' in p.stderr,
              'a bad mode passes -n: %r' % p.stderr)
        with open(bad, 'w') as f:
            f.write('topologies:\n  k:\n    strategy: kubernetes\n'
                    '    config:\n      kubernetes_node_basename: a\n'
                    '      mode: hostname\n')
        p = subprocess.run([ARGS.agent, '-n', '-c', bad],
                           capture_output=True, timeout=10)
        check(p.returncode != 0 and b'bad.yaml:6:' in p.stderr and
              b'kubernetes_service_name' in p.stderr,
              'hostname mode without a service passes -n: %r' % p.stderr)

    @step('list_becomes_members_not_ready_left_out')
    def _():
        st['ca'], cert, key = make_ca('kube')
        st['cert'], st['key'] = cert, key
        st['port'] = free_port()
        st['api'] = KubeAPI(st['port'], cert, key)
        st['api'].put(listed)
        write_token(token, 'token-one')
        st['agent'] = Agent('agent', (
            'quorum: 2\ncontrol_socket: %s\n'
            'prune_misses: 2\nprune_after: 1s\n'
            'topologies:\n'
            '  k8s:\n'
            '    strategy: kubernetes\n'
            '    config:\n'
            '      kubernetes_node_basename: myapp\n'
            '      kubernetes_service_name: myapp-headless\n'
            '      kubernetes_selector: app=myapp\n'
            '      kubernetes_namespace: prod\n'
            '      kubernetes_master: localhost:%d\n'
            '      token_file: %s\n'
            '      ca_file: %s\n'
            '      polling_interval: 200ms\n'
            '      timeout: 2s\n'
            '    connector: none\n'
            '  rancher:\n'
            '    strategy: rancher\n'
            '    config: {node_basename: web, polling_interval: 200ms, '
            'rancher_metadata: "127.0.0.1:%d"}\n'
            '    connector: none\n')
            % (sock, st['port'], token, st['ca'], st['rancher'].port))
        want = ['myapp@10.244.1.17', 'myapp@10.244.2.9']
        wait_for(lambda: all(n in names(sock) for n in want), 10,
                 'listed nodes %r' % want)
        check('myapp@10.244.3.4' not in names(sock),
              'a not-ready endpoint became a member')
        lr = list_reqs()
        check(lr and lr[0][1] == 'Bearer token-one',
              'list Authorization: %r' % (lr[:1],))
        check(param(lr[0][0], 'labelSelector') ==
              'kubernetes.io%2Fservice-name%3Dmyapp-headless%2Capp%3Dmyapp',
              'labelSelector: %r' % lr[0][0])

    @step('watch_from_list_version_with_bookmarks')
    def _():
        wait_for(lambda: st['api'].nwatchers() == 1, 10, 'a watch')
        w = watch_reqs()[-1][0]
        check(param(w, 'resourceVersion') == '104513' and
              param(w, 'allowWatchBookmarks') == 'true',
              'watch request: %s' % w)

    @step('watch_added')
    def _():
        obj = st['api'].put(added)
        st['api'].event('ADDED', obj)
        wait_for(lambda: 'myapp@10.244.4.21' in names(sock), 10,
                 'the ADDED pod')

    @step('watch_not_ready_leaves_by_prune_rule')
    def _():
        obj = copy.deepcopy(listed)
        obj['endpoints'][1]['conditions']['ready'] = False
        obj = st['api'].put(obj)
        st['api'].event('MODIFIED', obj)
        wait_for(lambda: 'myapp@10.244.2.9' not in names(sock), 10,
                 'the not-ready pod pruned')
        check('myapp@10.244.1.17' in names(sock), 'a ready pod left')

    @step('watch_deleted')
    def _():
        with st['api'].lock:
            obj = st['api'].items.pop(added['metadata']['name'])
        st['api'].event('DELETED', obj)
        wait_for(lambda: 'myapp@10.244.4.21' not in names(sock), 10,
                 'the DELETED slice\'s pod pruned')

    @step('bookmark_moves_the_version')
    def _():
        bm = fixture('watch-bookmark.json')['object']
        st['api'].event('BOOKMARK', bm)
        time.sleep(0.3)
        n = len(watch_reqs())
        st['api'].end_watches()		# timeoutSeconds passed
        wait_for(lambda: len(watch_reqs()) > n, 10, 'a new watch')
        w = watch_reqs()[-1][0]
        check(param(w, 'resourceVersion') == '104777',
              'the watch after a bookmark: %s' % w)

    @step('gone_410_lists_again')
    def _():
        wait_for(lambda: st['api'].nwatchers() == 1, 10, 'a watch')
        nl = len(list_reqs())
        # What the next list will show: a pod added while we were away.
        obj = copy.deepcopy(added)
        obj['metadata']['name'] = 'myapp-headless-zz9'
        obj['endpoints'][0]['addresses'] = ['10.244.5.5']
        st['api'].put(obj)
        st['api'].event('ERROR', fixture('watch-gone.json')['object'])
        wait_for(lambda: len(list_reqs()) > nl, 10, 'a new list')
        wait_for(lambda: 'myapp@10.244.5.5' in names(sock), 10,
                 'the pod from the new list')

    @step('rotated_token_is_used')
    def _():
        wait_for(lambda: st['api'].nwatchers() == 1, 10, 'a watch')
        write_token(token, 'token-two')
        n = len(st['api'].reqs())
        st['api'].end_watches()
        wait_for(lambda: len(st['api'].reqs()) > n, 10, 'a new request')
        auth = st['api'].reqs()[n][1]
        check(auth == 'Bearer token-two', 'Authorization %r' % auth)

    @step('oversized_watch_line_refused_nobody_dropped')
    def _():
        wait_for(lambda: st['api'].nwatchers() == 1, 10, 'a watch')
        before = names(sock)
        nl = len(list_reqs())
        st['api'].push(b'{"type":"ADDED","object":{"x":"' +
                       b'a' * (1100 * 1024))
        st['api'].push('drop')
        wait_for(lambda: len(list_reqs()) > nl, 10, 'a relist')
        check('watch: an event over its size limit' in
              st['agent'].logtext(), 'the cap is not what ended it')
        check(names(sock) == before, 'members changed: %r -> %r'
              % (before, names(sock)))

    @step('slow_api_drops_nobody')
    def _():
        wait_for(lambda: st['api'].nwatchers() == 1, 10, 'a watch')
        before = names(sock)
        st['api'].list_delay = 4.0	# twice the agent's timeout
        st['api'].event('ERROR', fixture('watch-gone.json')['object'])
        wait_for(lambda: 'list: localhost:%d: no response in time'
                 % st['port'] in st['agent'].logtext(), 10,
                 'the timeout in the log')
        check(names(sock) == before, 'members changed while the API '
              'was slow: %r -> %r' % (before, names(sock)))
        st['api'].list_delay = 0.0
        wait_for(lambda: st['api'].nwatchers() == 1, 20,
                 'a watch once the API is fast again')

    @step('api_down_drops_nobody')
    def _():
        before = names(sock)
        st['api'].stop()
        time.sleep(3.0)		# 15 polls, 3 times prune_after
        check(names(sock) == before, 'members changed while the API '
              'was down: %r -> %r' % (before, names(sock)))
        check('k8s/kubernetes:prod: no answer' in st['agent'].logtext(),
              'the failure is not logged')

    @step('api_back_is_used_again')
    def _():
        st['api2'] = KubeAPI(st['port'], st['cert'], st['key'])
        st['api2'].put(listed)
        st['api'] = st['api2']
        wait_for(lambda: 'myapp@10.244.5.5' not in names(sock), 20,
                 'the new list applied')
        check('answering again' in st['agent'].logtext(),
              'the recovery is not logged')

    @step('rancher_containers_become_members')
    def _():
        want = ['web@10.42.128.5', 'web@10.42.200.17']
        wait_for(lambda: all(n in names(sock) for n in want), 10,
                 'rancher nodes %r' % want)
        check(st['rancher'].requests[0] ==
              ('/latest/self/service', 'application/json'),
              'rancher request %r' % st['rancher'].requests[:1])

    @step('rancher_bad_answers_drop_nobody')
    def _():
        want = ['web@10.42.128.5', 'web@10.42.200.17']
        good = st['rancher'].body
        # The agent logs the first failure of a run (and every Nth).
        for bad in (b'{"containers": [', b'{"name": "web"}',
                    b'[' * 100000):
            st['rancher'].body = bad
            n = len(st['rancher'].requests)
            wait_for(lambda: len(st['rancher'].requests) > n + 3, 10,
                     'rancher polls')
            check(all(x in names(sock) for x in want),
                  'rancher nodes dropped: %r' % names(sock))
        check('rancher/rancher: no answer (1 in a row): bad JSON' in
              st['agent'].logtext(), 'the failure is not logged')
        st['rancher'].body = good
        wait_for(lambda: 'rancher/rancher: answering again' in
                 st['agent'].logtext(), 10, 'good answers again')

    @step('rancher_down_drops_nobody')
    def _():
        want = ['web@10.42.128.5', 'web@10.42.200.17']
        st['rancher'].stop()
        time.sleep(2.5)		# many polls, twice prune_after
        check(all(n in names(sock) for n in want),
              'rancher nodes dropped: %r' % names(sock))
        check(st['agent'].logtext().count(
              'rancher/rancher: no answer (1 in a row)') == 2,
              'the failure is not logged')

    @step('certificate_of_another_ca_refused')
    def _():
        ca2, _, _ = make_ca('other')
        port = st['port']
        a = Agent('other', (
            'control_socket: %s\n'
            'topologies:\n'
            '  k8s:\n'
            '    strategy: kubernetes\n'
            '    config: {kubernetes_node_basename: x, '
            'kubernetes_namespace: prod, kubernetes_master: "localhost:%d", '
            'token_file: %s, ca_file: %s, polling_interval: 200ms}\n'
            '    connector: none\n')
            % (os.path.join(TMP, 'other.sock'), port, token, ca2))
        wait_for(lambda: 'certificate' in a.logtext(), 10,
                 'a certificate failure in the log')
        a.stop()

    @step('certificate_for_another_name_refused')
    def _():
        # The CA is trusted, but the certificate names another host.
        ca3, cert3, key3 = make_ca('wrongname', 'DNS:api.example.com')
        api3 = KubeAPI(0, cert3, key3)
        api3.put(listed)
        try:
            a = Agent('wrongname', (
                'control_socket: %s\n'
                'topologies:\n'
                '  k8s:\n'
                '    strategy: kubernetes\n'
                '    config: {kubernetes_node_basename: x, '
                'kubernetes_namespace: prod, '
                'kubernetes_master: "localhost:%d", '
                'token_file: %s, ca_file: %s, polling_interval: 200ms}\n'
                '    connector: none\n')
                % (os.path.join(TMP, 'wrongname.sock'), api3.port, token,
                   ca3))
            wait_for(lambda: 'certificate: hostname mismatch' in
                     a.logtext(), 10, 'a host name failure in the log')
            check(names(os.path.join(TMP, 'wrongname.sock')) == [],
                  'members through a certificate for another name')
            check(api3.reqs() == [], 'a request was sent: %r'
                  % api3.reqs())
            a.stop()
        finally:
            api3.stop()

    @step('list_over_max_response_refused')
    def _():
        a = Agent('small', (
            'control_socket: %s\n'
            'topologies:\n'
            '  k8s:\n'
            '    strategy: kubernetes\n'
            '    config: {kubernetes_node_basename: x, '
            'kubernetes_namespace: prod, kubernetes_master: "localhost:%d", '
            'token_file: %s, ca_file: %s, polling_interval: 200ms, '
            'max_response: 1KiB}\n'
            '    connector: none\n')
            % (os.path.join(TMP, 'small.sock'), st['port'], token,
               st['ca']))
        wait_for(lambda: 'list: response over max_response' in a.logtext(),
                 10, 'the cap in the log')
        check(names(os.path.join(TMP, 'small.sock')) == [],
              'members from a refused list')
        a.stop()

    @step('clean_exit_with_a_watch_open')
    def _():
        wait_for(lambda: st['api'].nwatchers() >= 1, 10, 'a watch')
        a = st['agent']
        a.proc.send_signal(signal.SIGTERM)
        try:
            rc = a.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail('cairn-agent did not exit on SIGTERM')
        log = a.logtext()
        check(rc == 0, 'exit status %d:\n%s' % (rc, log[-2000:]))
        check('Sanitizer' not in log, 'sanitizer report:\n%s'
              % log[-3000:])

    st['rancher'] = Rancher()
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
        if failed and ARGS.verbose and 'agent' in st:
            sys.stdout.write(''.join('# ' + ln + '\n' for ln in
                             st['agent'].logtext().splitlines()[-60:]))
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
