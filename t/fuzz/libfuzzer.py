#!/usr/bin/env python3
"""Runs a libFuzzer target, bounded, over a fresh copy of its seed corpus.

usage: libfuzzer.py FUZZER SEED_DIR WORK_DIR [libFuzzer flags...]

WORK_DIR (in the build directory) is emptied, the seeds are copied to
WORK_DIR/corpus and the fuzzer runs on that copy, so the source corpus is
never written.  Crash inputs land in WORK_DIR/artifacts.  The exit status
is the fuzzer's: 0 when the bounded run found nothing.
"""
import os
import shutil
import subprocess
import sys


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    fuzzer, seeds, work = argv[1:4]
    corpus = os.path.join(work, 'corpus')
    artifacts = os.path.join(work, 'artifacts')
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(seeds, corpus)
    os.makedirs(artifacts)
    cmd = [fuzzer] + argv[4:] + ['-artifact_prefix=' + artifacts + '/',
                                 corpus]
    print(' '.join(cmd), flush=True)
    return subprocess.call(cmd)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
