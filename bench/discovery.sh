#!/usr/bin/env bash
#
# Side by side: how long a stock Erlang node that registers with the
# local epmd waits to be meshed by cairn-agent's local_epmd strategy at
# its defaults, with Cairn's epmd (the WATCH stream) and with OTP's epmd
# (NAMES polled every 500 ms).  A measurement, not a test.
#
# Each round starts a node that notes the time just before it registers
# (net_kernel:start/1 in its -eval) and the time another node shows in
# its nodes(); t/integration/agent_instant.py does the work, with the
# same agent, node and clock on both sides.
#
# Environment:
#	BUILD_DIR	meson build directory (default: build)
#	OTP_EPMD	OTP's epmd (default: the first erts-*/bin/epmd found)
#	BENCH_ROUNDS	rounds per epmd (default: 10)
#
# See bench/README.md, "discovery.sh".

set -u
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-build}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
rounds=${BENCH_ROUNDS:-10}

if [ ! -x "$build/agent/cairn-agent" ] || [ ! -x "$build/epmd/epmd" ]; then
	[ -d "$build" ] || meson setup "$build" >&2 || exit 1
	meson compile -C "$build" >&2 || exit 1
fi
otp=()
[ -n "${OTP_EPMD:-}" ] && otp=(--otp-epmd "$OTP_EPMD")
exec python3 "$top/t/integration/agent_instant.py" \
    --epmd "$build/epmd/epmd" --agent "$build/agent/cairn-agent" \
    "${otp[@]}" --bench "$rounds"
