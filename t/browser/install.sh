#!/bin/sh
# Installs what the browser test needs from npm into t/browser/node_modules
# (git-ignored): MQTT.js, at the versions package-lock.json pins (with
# their integrity hashes), through npm's own client.  Called by
# .ci/install-deps; safe to run again.  No install scripts are run:
# the test only copies MQTT.js's prebuilt browser bundle.
set -eu
cd "$(dirname "$0")"
if [ -f node_modules/mqtt/dist/mqtt.min.js ] &&
    cmp -s package-lock.json node_modules/.cairn-lock 2>/dev/null; then
	exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund
cp package-lock.json node_modules/.cairn-lock
