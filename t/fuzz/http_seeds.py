#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_http (t/fuzz/corpus/http/) from the
Kubernetes and Rancher fixtures of the integration tests: whole HTTP
responses as kube-apiserver and the Rancher metadata service send them,
and a few refused framings.  The first byte of each seed is the read
size minus one (fuzz_http.c).

Usage: http_seeds.py [OUTDIR]
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, '..', 'integration', 'fixtures', 'k8s')


def fixture(name):
    with open(os.path.join(FIX, name), 'rb') as f:
        return f.read()


def compact(name):
    return json.dumps(json.loads(fixture(name)),
                      separators=(',', ':')).encode()


def cl(body, status=b'200 OK'):
    return (b'HTTP/1.1 ' + status + b'\r\nContent-Type: application/json'
            b'\r\nContent-Length: %d\r\n\r\n' % len(body) + body)


def chunked(lines, cut=3):
    out = (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
           b'Transfer-Encoding: chunked\r\n\r\n')
    for ln in lines:
        data = ln + b'\n'
        # Events split over chunks, as a proxy may send them.
        for i in range(0, len(data), max(1, len(data) // cut)):
            part = data[i:i + max(1, len(data) // cut)]
            out += b'%x\r\n%s\r\n' % (len(part), part)
    return out + b'0\r\n\r\n'


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, 'corpus', 'http')
    os.makedirs(out, exist_ok=True)
    lst = compact('endpointslice-list.json')
    added = compact('watch-added.json')
    modified = added.replace(b'"ADDED"', b'"MODIFIED"').replace(
        b'"ready":true', b'"ready":false')
    deleted = added.replace(b'"ADDED"', b'"DELETED"')
    status403 = json.dumps({
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {},
        'status': 'Failure', 'reason': 'Forbidden', 'code': 403,
        'message': 'endpointslices.discovery.k8s.io is forbidden: User '
                   '"system:serviceaccount:prod:default" cannot list '
                   'resource "endpointslices" in API group '
                   '"discovery.k8s.io" in the namespace "prod"'},
        separators=(',', ':')).encode()
    seeds = {
        'list_content_length': b'\xff' + cl(lst),
        'list_bytewise': b'\x00' + cl(lst),
        'watch_stream': b'\x0f' + chunked(
            [added, modified, compact('watch-bookmark.json'), deleted,
             compact('watch-gone.json')]),
        'forbidden_403': b'\x40' + cl(status403, b'403 Forbidden'),
        'rancher_until_close': b'\x80' + b'HTTP/1.0 200 OK\r\n'
            b'Content-Type: application/json\r\n\r\n' +
            compact('rancher-self-service.json'),
        'interim_100': b'\x07' + b'HTTP/1.1 100 Continue\r\n\r\n' + cl(lst),
        'two_lengths': b'\x20' + b'HTTP/1.1 200 OK\r\nContent-Length: 2'
            b'\r\nContent-Length: 3\r\n\r\nabc',
        'length_and_chunked': b'\x20' + b'HTTP/1.1 200 OK\r\n'
            b'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'
            b'0\r\n\r\n',
        'huge_chunk': b'\x20' + b'HTTP/1.1 200 OK\r\nTransfer-Encoding: '
            b'chunked\r\n\r\nfffffffffffffffff\r\n',
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name + '.bin'), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
