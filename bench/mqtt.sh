#!/usr/bin/env bash
#
# Side-by-side benchmark of mosquitto and cairn-broker, driven by the
# same load generator (bench/mqtt_load.c).  It is a measurement, not a
# test: it prints one table and exits 0 unless the bench itself broke.
#
# Both brokers run in the foreground as children of this script, on free
# ports of 127.0.0.1, with equivalent settings, and are killed by pid on
# exit.  On a machine with two or more CPUs the broker is pinned to CPU 0
# and the generator to CPU 1.  Runs are interleaved: each round runs
# mosquitto then cairn, the next cairn then mosquitto, and the rounds
# are pooled, so that a burst of other work lands on both.
#
# Usage: bench/mqtt.sh [--only mosquitto|cairn]
#        bench/mqtt.sh --http
#        bench/mqtt.sh --ws [--only mosquitto|cairn]
#        bench/mqtt.sh --v5 [--only mosquitto|cairn]
#        bench/mqtt.sh --durable
#
# --http measures the HTTP endpoint's cost on the hot path: two
# cairn-brokers side by side in the same run, the same interleaving and
# the same generator, one without http_listen ("off") and one with it,
# its /metrics scraped every second meanwhile ("http"); the table gives
# http/off ratios of msgs/s, msgs per broker CPU-s and p99 latency.  No
# mosquitto, no idle or retained rows in that mode.
#
# --ws runs the throughput rows over WebSockets: each broker gets a
# websockets listener beside its MQTT one (mosquitto: `listener N` +
# `protocol websockets`, its libwebsockets build; cairn: a `listeners:`
# map with `protocol: websockets`), and the generator connects to it with
# -W (an HTTP upgrade, then masked binary frames through libwslay).
# Scenarios default to 1:1 and 8:8; the idle clients (RSS per
# connection) are WebSocket clients too; no retained rows.
#
# --v5 runs every throughput row twice per broker in the same
# interleaved rounds: with MQTT 3.1.1 clients and with MQTT 5.0 clients
# (the generator's -V 5: the same packets with empty properties, a QoS 1
# window kept within the broker's Receive Maximum).  The table gives
# msgs per broker CPU-s for both versions on both brokers, cairn's
# 5.0/3.1.1 ratio (the goal: 0.90 or more in every row) and cairn 5.0
# against mosquitto 5.0.  The idle clients are 5.0 clients; no retained
# or TLS rows.  The rows of BENCH_ALIAS_SCENARIOS (64-byte payloads)
# run a third time in the same rounds with 5.0 publishers that use a
# topic alias (the generator's --pub-aliases: alias 1 with the topic on
# the first PUBLISH, then an empty topic name), in a table of their own.
#
# --durable runs the rows of data_dir's cost instead (bench/durable.sh:
# QoS 1 64 B 1:1 and 8:8 to persistent sessions, cairn-broker in
# memory, with data_dir, with data_dir and store_sync false, and
# mosquitto with persistence true), with the same environment.
#
# Environment:
#	BUILD_DIR		meson build directory (default: build)
#	MOSQUITTO		mosquitto binary (default: the one on PATH)
#	CAIRN_BROKER		cairn-broker (default: $BUILD_DIR/broker/cairn-broker)
#	BENCH_SECONDS		publishing seconds per run (default: 2)
#	BENCH_ROUNDS		runs per broker and combination (default: 2)
#	BENCH_SCENARIOS		publishers:subscribers (default: 1:1 8:8 1:64 64:1)
#	BENCH_PAYLOADS		payload bytes (default: 64 1024)
#	BENCH_QOS		QoS levels (default: 0 1)
#	BENCH_OUTSTANDING	messages outstanding per stream (default: 64)
#	BENCH_WINDOW		QoS 1 PUBLISHes awaiting PUBACK per publisher
#				(default: 32)
#	BENCH_INFLIGHT		broker's QoS 1 in-flight window per client
#				(default: 20, mosquitto's default)
#	BENCH_IDLE		idle clients for the memory figure (default: 10000)
#	BENCH_RETAINED		retained messages for the catch-up rows (default:
#				100000; 0 skips them)
#	MOSQ_NODELAY		1: set_tcp_nodelay true for mosquitto (default: 0,
#				mosquitto's own default, Nagle on)
#	BENCH_TLS		publishers:subscribers run again over TLS, on a
#				second listener of each broker with the same
#				certificate (default: 1:1 8:8; empty skips TLS)
#	BENCH_HANDSHAKES	TLS connections for the handshake row, each a
#				full handshake (default: 1000)
#	BENCH_ALIAS_SCENARIOS	--v5: publishers:subscribers run again, 64 B,
#				with 5.0 publishers using a topic alias
#				(default: 1:1 8:8; empty skips them)
#
# See bench/README.md for what each row means.  The retained catch-up
# rows (BENCH_RETAINED): one client publishes N retained messages (64
# bytes, at the row's QoS), then a new client subscribes to their "#";
# "seconds" runs from its SUBSCRIBE to the last of the N received (QoS 1
# ones acked as they come, through the broker's in-flight window), "broker
# CPU s" is the broker's CPU time meanwhile, and "worst PINGREQ" is the
# slowest round trip of a third client pinging every 2 ms meanwhile: how
# long the broker held its loop for the subscriber.

set -u
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-build}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
seconds=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-2}
scenarios=${BENCH_SCENARIOS:-1:1 8:8 1:64 64:1}
payloads=${BENCH_PAYLOADS:-64 1024}
qoss=${BENCH_QOS:-0 1}
outstanding=${BENCH_OUTSTANDING:-64}
window=${BENCH_WINDOW:-32}
inflight=${BENCH_INFLIGHT:-20}
nidle=${BENCH_IDLE:-10000}
nretained=${BENCH_RETAINED:-100000}
nodelay=${MOSQ_NODELAY:-0}
tls_scenarios=${BENCH_TLS-1:1 8:8}
nhs=${BENCH_HANDSHAKES:-1000}
alias_scenarios=${BENCH_ALIAS_SCENARIOS-1:1 8:8}
only=
http=0
ws=0
v5=0

die() {
	echo "mqtt.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--only)
		[ $# -ge 2 ] || die "--only wants mosquitto or cairn"
		only=$2
		shift 2
		;;
	--only=*)
		only=${1#--only=}
		shift
		;;
	--http)
		http=1
		shift
		;;
	--ws)
		ws=1
		shift
		;;
	--v5)
		v5=1
		shift
		;;
	--durable)
		[ $# -eq 1 ] || die "--durable is a run of its own"
		exec "$(dirname "$0")/durable.sh"
		;;
	*)
		die "usage: mqtt.sh [--only mosquitto|cairn] [--ws | --v5] | --http | --durable"
		;;
	esac
done
case $only in
"" | mosquitto | cairn) ;;
*) die "--only wants mosquitto or cairn, not $only" ;;
esac
[ "$http" = 1 ] && [ "$ws" = 1 ] && die "--http and --ws are separate runs"
[ "$v5" = 1 ] && { [ "$http" = 1 ] || [ "$ws" = 1 ]; } &&
    die "--v5 is a run of its own (no --http, no --ws)"
# Protocol versions of the throughput rows: 3 (3.1.1), and 5 with --v5
# (and 5a, 5.0 publishers with a topic alias, in the alias rows).
vers=3
vopt=()
if [ "$v5" != 1 ]; then
	alias_scenarios=
else
	vers="3 5"
	vopt=(-V 5)
	nretained=0
	tls_scenarios=
fi
if [ "$ws" = 1 ]; then
	scenarios=${BENCH_SCENARIOS:-1:1 8:8}
	nretained=0
	tls_scenarios=
fi

# Children to kill on exit, by pid.
pids=()
tmp=$(mktemp -d -t cairn-mqtt.XXXXXX) || die "mktemp failed"

cleanup() {
	local p
	exec 7>&- 2>/dev/null
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build the generator (and the broker, when the tree has it).  ninja
# makes this a no-op when nothing changed.
targets=(mqtt_load)
if grep -q "'cairn-broker'" "$top/broker/meson.build" 2>/dev/null &&
    [ -z "${CAIRN_BROKER:-}" ]; then
	targets+=(cairn-broker)
fi
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$top" >"$tmp/setup.log" 2>&1 ||
	    { cat "$tmp/setup.log" >&2; die "meson setup failed"; }
fi
if ! meson compile -C "$build" "${targets[@]}" >"$tmp/compile.log" 2>&1; then
	tail -20 "$tmp/compile.log" >&2
	# A broken broker build leaves the generator usable.
	meson compile -C "$build" mqtt_load >"$tmp/compile.log" 2>&1 ||
	    { tail -40 "$tmp/compile.log" >&2; die "meson compile failed"; }
	echo "mqtt.sh: warning: cairn-broker did not build; using what is there" >&2
fi
load=$build/bench/mqtt_load
[ -x "$load" ] || die "no $load"

mosq=${MOSQUITTO:-$(command -v mosquitto 2>/dev/null)}
cairn=${CAIRN_BROKER:-$build/broker/cairn-broker}

names=()
if [ "$http" = 1 ]; then
	[ -x "$cairn" ] || die "no cairn-broker at $cairn"
	only=cairn
	names=(cairn cairn_http)
	nretained=0
	tls_scenarios=
elif [ "$only" != cairn ]; then
	[ -n "$mosq" ] && [ -x "$mosq" ] ||
	    die "mosquitto not found on PATH; install it or set MOSQUITTO"
	names+=(mosquitto)
fi
if [ "$only" != mosquitto ] && [ "$http" = 0 ]; then
	if [ -x "$cairn" ]; then
		names+=(cairn)
	elif [ "$only" = cairn ]; then
		die "no cairn-broker at $cairn"
	else
		echo "mqtt.sh: no cairn-broker at $cairn: mosquitto alone" >&2
	fi
fi

# Every idle client is a socket, on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] || [ "$nofile" -gt $((nidle + 64)) ] ||
    echo "mqtt.sh: warning: ulimit -n is $nofile, below $nidle clients" >&2

if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	pin_broker=(taskset -c 0)
	pin_load=(taskset -c 1)
else
	pin_broker=()
	pin_load=()
fi

# kv LINE KEY: the value of KEY=value in a result line.
kv() {
	local v
	v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1")
	echo "${v:-}"
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# add KEY VALUE: T[KEY] += VALUE.
add() {
	T[$1]=$(awk -v a="${T[$1]:-0}" -v b="${2:-0}" 'BEGIN { print a + b }')
}

free_port() {
	local p
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$("$load" freeport) || continue
		[ "$p" != "${1:-}" ] && { echo "$p"; return 0; }
	done
	return 1
}

# wait_ready PORT PID: up to 5 s for the broker to answer a PINGREQ.
wait_ready() {
	local out
	for _ in $(seq 1 50); do
		kill -0 "$2" 2>/dev/null || return 1
		out=$("$load" ping -p "$1" -t 200 2>/dev/null)
		[ "$(kv "$out" ok)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# The same limits for both, where both have them: no persistence, no
# $SYS, anonymous clients, mosquitto's default in-flight window, queues
# the paced load cannot fill.  mosquitto keeps its own default for
# TCP_NODELAY (off), as a user runs it: Nagle's coalescing makes its
# fan-out cheaper per message, at some latency (bench/README.md).
write_confs() {
	cat >"$tmp/mosquitto.conf" <<-EOF
	listener ${PORT[mosquitto]:-0} 127.0.0.1
	allow_anonymous true
	persistence false
	log_dest none
	sys_interval 0
	max_inflight_messages $inflight
	max_queued_messages 1000000
	max_connections -1
	EOF
	if [ "$ws" = 1 ]; then
		printf 'listener %s 127.0.0.1\nprotocol websockets\n' \
		    "${WSPORT[mosquitto]:-0}" >>"$tmp/mosquitto.conf"
	fi
	if [ "$nodelay" = 1 ]; then
		echo "set_tcp_nodelay true" >>"$tmp/mosquitto.conf"
	fi
	# TLS: one more listener each, the same certificate and key.
	if [ -n "$tls_scenarios" ]; then
		# mosquitto reads the files after dropping to its user:
		# stay the user that made them.
		cat >>"$tmp/mosquitto.conf" <<-EOF
		user $(id -un)
		listener ${TPORT[mosquitto]:-0} 127.0.0.1
		certfile $tmp/server.crt
		keyfile $tmp/server.key
		EOF
	fi
	cat >"$tmp/cairn.yaml" <<-EOF
	listen: 127.0.0.1:${PORT[cairn]:-0}
	allow_anonymous: true
	sys_interval: 0
	max_inflight: $inflight
	max_queued_messages: 1000000
	max_queued_bytes: 1GiB
	max_output_buffer: 64MiB
	max_connections: $((nidle + 1024))
	max_sessions: $((nidle + 1024))
	max_retained_messages: $((nretained + 1000))
	EOF
	if [ "$ws" = 1 ]; then
		printf 'listeners:\n  - {address: 127.0.0.1, port: %s, protocol: websockets}\n' \
		    "${WSPORT[cairn]:-0}" >>"$tmp/cairn.yaml"
	fi
	if [ "$http" = 1 ]; then
		sed "s/^listen: .*/listen: 127.0.0.1:${PORT[cairn_http]:-0}/" \
		    "$tmp/cairn.yaml" >"$tmp/cairn_http.yaml"
		echo "http_listen: 127.0.0.1:$HTTP_PORT" >>"$tmp/cairn_http.yaml"
	fi
	if [ -n "$tls_scenarios" ]; then
		cat >>"$tmp/cairn.yaml" <<-EOF
		listeners:
		  - address: 127.0.0.1
		    port: ${TPORT[cairn]:-0}
		    tls:
		      certfile: $tmp/server.crt
		      keyfile: $tmp/server.key
		EOF
	fi
}

# scrape PORT: GET /metrics every second while the broker lives, one
# line per scrape (its size in bytes) to $tmp/scrapes; bash's /dev/tcp,
# so no HTTP client is needed.
scrape() {
	local n
	while kill -0 "${PID[cairn_http]}" 2>/dev/null; do
		if exec 5<>"/dev/tcp/127.0.0.1/$1"; then
			printf 'GET /metrics HTTP/1.0\r\n\r\n' >&5
			n=$(timeout 5 cat <&5 | wc -c)
			exec 5>&-
			echo "$n" >>"$tmp/scrapes"
		fi
		sleep 1
	done
}

# make_certs: a CA and a server certificate for 127.0.0.1 (P-256), for
# both brokers' TLS listeners and the generator's --tls.
make_certs() {
	(
		cd "$tmp" &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out ca.key &&
		openssl req -x509 -new -key ca.key -out ca.crt -days 2 \
		    -subj "/CN=bench CA" \
		    -addext basicConstraints=critical,CA:TRUE &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out server.key &&
		openssl req -new -key server.key -out server.csr \
		    -subj "/CN=localhost" &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
		    -CAcreateserial -out server.crt -days 2 -extfile server.ext
	) >"$tmp/openssl.log" 2>&1
}

# start_broker NAME: starts it on PORT[NAME], sets PID[NAME].
start_broker() {
	local name=$1
	if [ "$name" = mosquitto ]; then
		"${pin_broker[@]}" "$mosq" -c "$tmp/mosquitto.conf" \
		    >"$tmp/$name.log" 2>&1 &
	else
		"${pin_broker[@]}" "$cairn" -d -c "$tmp/$name.yaml" \
		    >"$tmp/$name.log" 2>&1 &
	fi
	PID[$name]=$!
	pids+=("${PID[$name]}")
	if [ "$name" = cairn_http ]; then
		# The scraper runs on the generator's CPU, like a Prometheus.
		scrape "$HTTP_PORT" &
		pids+=("$!")
	fi
	wait_ready "${PORT[$name]}" "${PID[$name]}" || {
		tail -20 "$tmp/$name.log" >&2
		die "$name did not come up on port ${PORT[$name]}"
	}
}

# forget PID: a reaped child leaves the kill list.
forget() {
	local p keep=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

alive() {
	kill -0 "${PID[$1]}" 2>/dev/null
}

# idle_run NAME: N idle clients held while the broker's RSS is taken.
idle_run() {
	local name=$1 port=${PORT[$1]} pid=${PID[$1]} lpid line close
	local fifo=$tmp/idle.fifo out=$tmp/idle.$name
	rm -f "$fifo"
	mkfifo "$fifo" || die "mkfifo failed"
	R[$name.rss0]=$(rss_kib "$pid")
	local wsopt=()
	if [ "$ws" = 1 ]; then
		port=${WSPORT[$name]}
		wsopt=(-W)
	fi
	"${pin_load[@]}" "$load" idle -p "$port" "${wsopt[@]}" "${vopt[@]}" \
	    -n "$nidle" \
	    -w 64 -t 5000 -h 300 -i -P "$pid" <"$fifo" >"$out" \
	    2>>"$tmp/load.err" &
	lpid=$!
	pids+=("$lpid")
	exec 7>"$fifo"
	line=
	# Bounded by the generator's own deadlines; this is a backstop.
	for _ in $(seq 1 3000); do
		line=$(grep '^mode=idle ' "$out" 2>/dev/null)
		[ -n "$line" ] && break
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	# Let the broker settle (freed handshake buffers, lazy pages).
	sleep 1
	R[$name.rss1]=$(rss_kib "$pid")
	exec 7>&-
	for _ in $(seq 1 100); do
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	forget "$lpid"
	close=$(grep '^mode=idle-close' "$out" 2>/dev/null)
	echo "  $name idle: $line" >&2
	echo "  $name idle release: $close (rss ${R[$name.rss0]:-?} -> ${R[$name.rss1]:-?} KiB)" >&2
	R[$name.idle_ok]=$(kv "$line" ok)
	R[$name.idle_sec]=$(kv "$line" seconds)
	R[$name.idle_err]=$(kv "$line" errors)
	R[$name.idle_drop]=$(kv "$close" dropped)
	rm -f "$fifo"
	alive "$name" || R[$name.died]=${R[$name.died]:-"during the idle run"}
}

# one_run NAME SCEN BYTES QOS ROUND [VERSION]: one timed run, added to
# the pool; VERSION 5: MQTT 5.0 clients, pooled apart (key ".v5"); 5a:
# the same with publishers using a topic alias (key ".v5a").
one_run() {
	local name=$1 s=$2 b=$3 q=$4 r=$5 ver=${6:-3}
	local key="$1.$2.$3.$4" line h pc
	local port=${PORT[$1]} tls=() vflag=()
	if [ "$ver" = 5 ]; then
		key="$key.v5"
		vflag=(-V 5)
	elif [ "$ver" = 5a ]; then
		key="$key.v5a"
		vflag=(-V 5 --pub-aliases)
	fi
	if [ -n "${R[$name.died]:-}" ]; then
		return
	fi
	# "tls:P:S": the same run on the TLS listener.
	if [ "${s#tls:}" != "$s" ]; then
		port=${TPORT[$name]}
		tls=(--tls "$tmp/ca.crt")
	fi
	# --ws: every run on the websockets listener.
	local wsopt=()
	if [ "$ws" = 1 ]; then
		port=${WSPORT[$name]}
		wsopt=(-W)
	fi
	h=$tmp/hist.$name.${s//:/-}.$b.$q.$r.v$ver
	line=$("${pin_load[@]}" timeout -k 5 $((seconds + 90)) "$load" run \
	    -p "$port" "${wsopt[@]}" "${vflag[@]}" -s "${s#tls:}" -b "$b" -q "$q" \
	    -d "$seconds" \
	    -o "$outstanding" -w "$window" -P "${PID[$name]}" -H "$h" \
	    "${tls[@]}" 2>>"$tmp/load.err")
	echo "  $name v$ver round $r: $line" >&2
	if [ -z "$line" ] || [ "$(kv "$line" setup)" != ok ]; then
		add "$key.failed" 1
	else
		add "$key.n" 1
		add "$key.delivered" "$(kv "$line" delivered)"
		add "$key.sec" "$(kv "$line" seconds)"
		add "$key.cpu" "$(kv "$line" broker_cpu)"
		add "$key.err" "$(kv "$line" errors)"
		add "$key.lost" "$(kv "$line" lost)"
		add "$key.dup" "$(kv "$line" dup)"
		add "$key.stall" "$(kv "$line" stalls)"
		pc=$(kv "$line" per_cpu_s)
		T[$key.pmin]=$(awk -v a="${T[$key.pmin]:-}" -v b="$pc" \
		    'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
		T[$key.pmax]=$(awk -v a="${T[$key.pmax]:-0}" -v b="$pc" \
		    'BEGIN { print (b + 0 > a + 0) ? b : a }')
		[ -s "$h" ] && T[$key.hists]="${T[$key.hists]:-} $h"
	fi
	if ! alive "$name"; then
		R[$name.died]="during $s ${b}B QoS $q round $r (MQTT v$ver)"
	fi
}

# hs_run NAME KIND ROUND: $nhs TLS connections (full handshake, CONNECT,
# CONNACK, then closed) to the TLS listener; KIND is full.
hs_run() {
	local name=$1 kind=$2 r=$3 key="$1.hs.$2" line
	if [ -n "${R[$name.died]:-}" ]; then
		return
	fi
	line=$("${pin_load[@]}" timeout -k 5 120 "$load" idle \
	    -p "${TPORT[$name]}" -n "$nhs" -w 64 -t 5000 -P "${PID[$name]}" \
	    --tls "$tmp/ca.crt" 2>>"$tmp/load.err")
	echo "  $name $kind handshakes round $r: $line" >&2
	if [ "$(kv "$line" ok)" != "$nhs" ]; then
		add "$key.failed" 1
	else
		add "$key.n" 1
		add "$key.ok" "$(kv "$line" ok)"
		add "$key.cpu" "$(kv "$line" broker_cpu)"
	fi
	if ! alive "$name"; then
		R[$name.died]="during the $kind handshakes, round $r"
	fi
}

hs_pool() {
	local key="$1.hs.$2"
	[ -n "${T[$key.n]:-}" ] || return
	R[$key.percpu]=$(awk -v n="${T[$key.ok]}" -v c="${T[$key.cpu]}" \
	    'BEGIN { if (c > 0) printf "%.0f", n / c }')
	R[$key.cpu]=$(awk -v c="${T[$key.cpu]}" -v n="${T[$key.n]}" \
	    'BEGIN { printf "%.2f", c / n }')
	R[$key.fail]=${T[$key.failed]:-0}
}

# retained_run NAME QOS ROUND: the catch-up of a new "#" subscriber over
# $nretained retained messages (mqtt_load retained), added to the pool.
retained_run() {
	local name=$1 q=$2 r=$3 key="$1.ret.$2" line
	if [ -n "${R[$name.died]:-}" ]; then
		return
	fi
	line=$("${pin_load[@]}" timeout -k 5 300 "$load" retained \
	    -p "${PORT[$name]}" -n "$nretained" -q "$q" -P "${PID[$name]}" \
	    -t 240000 2>>"$tmp/load.err")
	echo "  $name retained round $r: $line" >&2
	if [ "$(kv "$line" received)" != "$nretained" ]; then
		add "$key.failed" 1
	else
		add "$key.n" 1
		add "$key.sec" "$(kv "$line" seconds)"
		add "$key.cpu" "$(kv "$line" broker_cpu)"
		T[$key.ping]=$(awk -v a="${T[$key.ping]:-0}" \
		    -v b="$(kv "$line" ping_max_ms)" \
		    'BEGIN { print (b + 0 > a + 0) ? b : a }')
	fi
	if ! alive "$name"; then
		R[$name.died]="during the retained catch-up, QoS $q round $r"
	fi
}

retained_pool() {
	local key="$1.ret.$2"
	[ -n "${T[$key.n]:-}" ] || return
	R[$key.sec]=$(awk -v s="${T[$key.sec]}" -v n="${T[$key.n]}" \
	    'BEGIN { printf "%.3f", s / n }')
	R[$key.cpu]=$(awk -v c="${T[$key.cpu]}" -v n="${T[$key.n]}" \
	    'BEGIN { printf "%.2f", c / n }')
	R[$key.ping]=${T[$key.ping]}
	R[$key.fail]=${T[$key.failed]:-0}
}

# pool NAME SCEN BYTES QOS [VERSION]: the pooled figures of the rounds.
pool() {
	local key="$1.$2.$3.$4" pct
	[ "${5:-3}" = 5 ] && key="$key.v5"
	[ "${5:-3}" = 5a ] && key="$key.v5a"
	[ -n "${T[$key.n]:-}" ] || return
	R[$key.rate]=$(awk -v d="${T[$key.delivered]}" -v s="${T[$key.sec]}" \
	    'BEGIN { if (s > 0) printf "%.0f", d / s }')
	R[$key.cpu]=$(awk -v c="${T[$key.cpu]}" -v n="${T[$key.n]}" \
	    'BEGIN { printf "%.2f", c / n }')
	R[$key.percpu]=$(awk -v d="${T[$key.delivered]}" -v c="${T[$key.cpu]}" \
	    'BEGIN { if (c > 0) printf "%.0f", d / c }')
	if [ -n "${T[$key.hists]:-}" ]; then
		# shellcheck disable=SC2086
		pct=$("$load" pct ${T[$key.hists]} 2>>"$tmp/load.err")
		R[$key.p50]=$(awk -v u="$(kv "$pct" p50_us)" \
		    'BEGIN { if (u != "") printf "%.2f", u / 1000 }')
		R[$key.p99]=$(awk -v u="$(kv "$pct" p99_us)" \
		    'BEGIN { if (u != "") printf "%.2f", u / 1000 }')
	fi
	R[$key.errs]=$(awk -v e="${T[$key.err]:-0}" -v l="${T[$key.lost]:-0}" \
	    -v d="${T[$key.dup]:-0}" -v s="${T[$key.stall]:-0}" \
	    -v f="${T[$key.failed]:-0}" 'BEGIN {
		o = "";
		if (e > 0) o = o "e" e;
		if (l > 0) o = o (o == "" ? "" : ",") "l" l;
		if (d > 0) o = o (o == "" ? "" : ",") "d" d;
		if (s > 0) o = o (o == "" ? "" : ",") "s" s;
		if (f > 0) o = o (o == "" ? "" : ",") "f" f;
		print (o == "") ? "0" : o }')
}

declare -A R T PORT TPORT PID WSPORT
for name in "${names[@]}"; do
	PORT[$name]=$(free_port "${PORT[mosquitto]:-}") || die "no free port"
	TPORT[$name]=$(free_port "${PORT[$name]}") || die "no free port"
	if [ "$ws" = 1 ]; then
		WSPORT[$name]=$(free_port "${TPORT[$name]}") || die "no free port"
	fi
done
if [ "$http" = 1 ]; then
	HTTP_PORT=$(free_port "${PORT[cairn]}") || die "no free port"
fi
if [ -n "$tls_scenarios" ]; then
	command -v openssl >/dev/null 2>&1 || die "BENCH_TLS needs openssl"
	make_certs || { cat "$tmp/openssl.log" >&2; die "openssl failed"; }
fi
write_confs
for name in "${names[@]}"; do
	start_broker "$name"
	echo "mqtt.sh: $name: pid ${PID[$name]}, port ${PORT[$name]}" >&2
done
start=$(date +%s)

# Memory first, each broker alone and fresh: the baseline RSS is then
# not inflated (or pre-grown) by the throughput runs.
for name in "${names[@]}"; do
	[ "$http" = 1 ] && break
	idle_run "$name"
	sleep 0.5
done

# Throughput: both brokers up, runs interleaved, order alternated.
all_scenarios=$scenarios
for s in $tls_scenarios; do
	all_scenarios="$all_scenarios tls:$s"
done
for s in $all_scenarios; do
	for b in $payloads; do
		# The alias rows: 64 B of BENCH_ALIAS_SCENARIOS, with --v5.
		rvers=$vers
		if [ "$b" = 64 ] && [[ " $alias_scenarios " == *" $s "* ]]; then
			rvers="$vers 5a"
		fi
		for q in $qoss; do
			for r in $(seq 1 "$rounds"); do
				if [ $((r % 2)) = 1 ]; then
					order="${names[*]}"
				else
					order=$(printf '%s\n' "${names[@]}" | tac | tr '\n' ' ')
				fi
				# Versions alternate too: 3 then 5, then 5 then 3.
				if [ $((r % 2)) = 1 ]; then
					vorder=$rvers
				else
					vorder=$(printf '%s\n' $rvers | tac | tr '\n' ' ')
				fi
				for name in $order; do
					for ver in $vorder; do
						one_run "$name" "$s" "$b" "$q" "$r" "$ver"
					done
				done
			done
			for name in "${names[@]}"; do
				for ver in $rvers; do
					pool "$name" "$s" "$b" "$q" "$ver"
				done
			done
		done
	done
done
# Retained catch-up: same interleaving.
if [ "$nretained" -gt 0 ]; then
	for q in $qoss; do
		for r in $(seq 1 "$rounds"); do
			if [ $((r % 2)) = 1 ]; then
				order="${names[*]}"
			else
				order=$(printf '%s\n' "${names[@]}" | tac | tr '\n' ' ')
			fi
			for name in $order; do
				retained_run "$name" "$q" "$r"
			done
		done
		for name in "${names[@]}"; do
			retained_pool "$name" "$q"
		done
	done
fi
# TLS handshakes: same interleaving.
if [ -n "$tls_scenarios" ]; then
	for kind in full; do
		for r in $(seq 1 "$rounds"); do
			if [ $((r % 2)) = 1 ]; then
				order="${names[*]}"
			else
				order=$(printf '%s\n' "${names[@]}" | tac | tr '\n' ' ')
			fi
			for name in $order; do
				hs_run "$name" "$kind" "$r"
			done
		done
		for name in "${names[@]}"; do
			hs_pool "$name" "$kind"
		done
	done
fi
elapsed=$(($(date +%s) - start))

for name in "${names[@]}"; do
	if alive "$name"; then
		kill "${PID[$name]}" 2>/dev/null
		wait "${PID[$name]}" 2>/dev/null
		R[$name.status]=$?
	else
		wait "${PID[$name]}" 2>/dev/null
		R[$name.status]=$?
	fi
	forget "${PID[$name]}"
done

# Formatting helpers.  "-" where a value is missing.
val() {
	local v=${R[$1]:-}
	echo "${v:--}"
}

# ratio A B: A/B to two places, or "-".
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0)
			print "-";
		else
			printf "%.2fx\n", a / b }'
}

per_conn() {
	# (RSS with N - RSS idle) / N, in bytes.
	awk -v h="$1" -v i="$2" -v n="$3" 'BEGIN {
		if (h == "" || i == "" || n == "" || n + 0 == 0)
			print "-";
		else
			printf "%.0f\n", (h - i) * 1024 / n }'
}

if [ "$http" = 1 ]; then
	O=cairn
	H=cairn_http
	nscr=$(wc -l <"$tmp/scrapes" 2>/dev/null || echo 0)
	avg=$(awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "-" }' \
	    "$tmp/scrapes" 2>/dev/null)
	echo
	echo "HTTP endpoint cost: cairn-broker without http_listen (off) vs with it, /metrics scraped every second (http)"
	echo "$(nproc) CPUs; $rounds interleaved runs of ${seconds}s per broker and row, pooled;" \
	    "$nscr scrapes of ${avg:-?} bytes on average${pin_broker[*]:+; brokers on CPU 0, generator and scraper on CPU 1}"
	echo
	fmt='%-5s %5s %1s |%8s %8s %6s |%5s %5s |%8s %8s %6s |%7s %7s %6s |%6s %6s\n'
	# shellcheck disable=SC2059
	printf "$fmt" "scen" "bytes" "q" "msgs/s" "" "" "CPU s" "" "msgs/CPU-s" "" "" \
	    "p99 ms" "" "" "errors" ""
	# shellcheck disable=SC2059
	printf "$fmt" "" "" "" "off" "http" "h/o" "off" "http" "off" "http" "h/o" \
	    "off" "http" "h/o" "off" "http"
	for s in $scenarios; do
		for b in $payloads; do
			for q in $qoss; do
				ko="$O.$s.$b.$q"
				kh="$H.$s.$b.$q"
				# shellcheck disable=SC2059
				printf "$fmt" "$s" "$b" "$q" \
				    "$(val "$ko.rate")" "$(val "$kh.rate")" \
				    "$(ratio "${R[$kh.rate]:-}" "${R[$ko.rate]:-}")" \
				    "$(val "$ko.cpu")" "$(val "$kh.cpu")" \
				    "$(val "$ko.percpu")" "$(val "$kh.percpu")" \
				    "$(ratio "${R[$kh.percpu]:-}" "${R[$ko.percpu]:-}")" \
				    "$(val "$ko.p99")" "$(val "$kh.p99")" \
				    "$(ratio "${R[$kh.p99]:-}" "${R[$ko.p99]:-}")" \
				    "$(val "$ko.errs")" "$(val "$kh.errs")"
			done
		done
	done
	echo
	echo "bench time ${elapsed}s"
	for name in "${names[@]}"; do
		if [ -n "${R[$name.died]:-}" ]; then
			echo "WARNING: $name died ${R[$name.died]} (exit ${R[$name.status]:-?})"
		fi
	done
	exit 0
fi

M=mosquitto
C=cairn
both=0
[ -n "${PID[$M]:-}" ] && [ -n "${PID[$C]:-}" ] && both=1

if [ "$v5" = 1 ]; then
	echo
	echo "MQTT 5.0 and 3.1.1 clients side by side: mosquitto $("$mosq" -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p') vs cairn-broker${only:+ (--only $only)}"
	echo "$(nproc) CPUs; $rounds interleaved runs of ${seconds}s per broker, version and row, pooled;" \
	    "$outstanding outstanding per stream, QoS 1 window $window (5.0: within the broker's Receive Maximum), broker in-flight $inflight;" \
	    "mosquitto TCP_NODELAY $([ "$nodelay" = 1 ] && echo on || echo "off (its default)")${pin_broker[*]:+; broker on CPU 0, generator on CPU 1}"
	echo
	fmt='%-5s %5s %1s |%7s %7s %7s %7s |%6s %6s |%6s %6s %6s %6s |%5s %5s %5s %5s | %s\n'
	# shellcheck disable=SC2059
	printf "$fmt" "scen" "bytes" "q" "msgs/CPU-s" "" "" "" "cairn" "c5" \
	    "p99 ms" "" "" "" "errors" "" "" "" ""
	# shellcheck disable=SC2059
	printf "$fmt" "" "" "" "mosq3" "mosq5" "cairn3" "cairn5" "5/3" "/m5" \
	    "mosq3" "mosq5" "cairn3" "cairn5" "m3" "m5" "c3" "c5" "target"
	rows=0
	met=0
	for s in $scenarios; do
		for b in $payloads; do
			for q in $qoss; do
				k="$s.$b.$q"
				verdict=
				if [ -n "${PID[$C]:-}" ]; then
					rows=$((rows + 1))
					c1=$(awk -v a="${R[$C.$k.v5.percpu]:-0}" \
					    -v b="${R[$C.$k.percpu]:-0}" \
					    'BEGIN { print (b > 0 && a >= 0.9 * b) ? 1 : 0 }')
					met=$((met + c1))
					if [ "$c1" = 1 ]; then verdict=pass; else verdict=miss; fi
				fi
				# shellcheck disable=SC2059
				printf "$fmt" "$s" "$b" "$q" \
				    "$(val "$M.$k.percpu")" "$(val "$M.$k.v5.percpu")" \
				    "$(val "$C.$k.percpu")" "$(val "$C.$k.v5.percpu")" \
				    "$(ratio "${R[$C.$k.v5.percpu]:-}" "${R[$C.$k.percpu]:-}")" \
				    "$(ratio "${R[$C.$k.v5.percpu]:-}" "${R[$M.$k.v5.percpu]:-}")" \
				    "$(val "$M.$k.p99")" "$(val "$M.$k.v5.p99")" \
				    "$(val "$C.$k.p99")" "$(val "$C.$k.v5.p99")" \
				    "$(val "$M.$k.errs")" "$(val "$M.$k.v5.errs")" \
				    "$(val "$C.$k.errs")" "$(val "$C.$k.v5.errs")" \
				    "$verdict"
			done
		done
	done
	if [ -n "$alias_scenarios" ]; then
		echo
		echo "5.0 publishers using a topic alias (5a: alias 1 and the topic on the first PUBLISH, then an empty topic name) against 5.0 without, 64 B, the same rounds"
		afmt='%-5s %1s |%7s %7s %7s %7s |%6s %6s |%6s %6s %6s %6s |%5s %5s\n'
		# shellcheck disable=SC2059
		printf "$afmt" "scen" "q" "msgs/CPU-s" "" "" "" "5a/5" "" \
		    "p99 ms" "" "" "" "errors" ""
		# shellcheck disable=SC2059
		printf "$afmt" "" "" "mosq5" "mosq5a" "cairn5" "cairn5a" "mosq" \
		    "cairn" "mosq5" "mosq5a" "cairn5" "cairn5a" "m5a" "c5a"
		for s in $alias_scenarios; do
			for q in $qoss; do
				k="$s.64.$q"
				# shellcheck disable=SC2059
				printf "$afmt" "$s" "$q" \
				    "$(val "$M.$k.v5.percpu")" "$(val "$M.$k.v5a.percpu")" \
				    "$(val "$C.$k.v5.percpu")" "$(val "$C.$k.v5a.percpu")" \
				    "$(ratio "${R[$M.$k.v5a.percpu]:-}" "${R[$M.$k.v5.percpu]:-}")" \
				    "$(ratio "${R[$C.$k.v5a.percpu]:-}" "${R[$C.$k.v5.percpu]:-}")" \
				    "$(val "$M.$k.v5.p99")" "$(val "$M.$k.v5a.p99")" \
				    "$(val "$C.$k.v5.p99")" "$(val "$C.$k.v5a.p99")" \
				    "$(val "$M.$k.v5a.errs")" "$(val "$C.$k.v5a.errs")"
			done
		done
	fi
	echo
	row() {
		printf '%-40s %12s %12s %10s\n' "$1" "$2" "$3" "$4"
	}
	row "" "mosquitto" "cairn" "cairn/mosq"
	row "idle 5.0 clients connected (of $nidle)" "$(val $M.idle_ok)" "$(val $C.idle_ok)" ""
	m_per=$(per_conn "${R[$M.rss1]:-}" "${R[$M.rss0]:-}" "${R[$M.idle_ok]:-}")
	c_per=$(per_conn "${R[$C.rss1]:-}" "${R[$C.rss0]:-}" "${R[$C.idle_ok]:-}")
	row "RSS bytes per idle 5.0 connection" "$m_per" "$c_per" "$(ratio "$c_per" "$m_per")"
	echo
	echo "msgs/CPU-s: deliveries per second of broker CPU; mosq3/cairn3 with MQTT 3.1.1 clients, mosq5/cairn5 with MQTT 5.0 clients"
	echo "errors: e connection errors, l lost, d duplicates, s stalls, f generator failures (raw lines on stderr)"
	echo "bench time ${elapsed}s"
	if [ "$rows" -gt 0 ]; then
		if [ "$met" = "$rows" ]; then
			echo "target: cairn 5.0 within 10% of cairn 3.1.1 per broker CPU-s in every row: met ($met of $rows)"
		else
			echo "target: cairn 5.0 within 10% of cairn 3.1.1 per broker CPU-s in every row: MISSED ($met of $rows)"
		fi
	fi
	for name in "${names[@]}"; do
		if [ -n "${R[$name.died]:-}" ]; then
			echo "WARNING: $name died ${R[$name.died]} (exit ${R[$name.status]:-?}); its log:"
			tail -5 "$tmp/$name.log" | sed 's/^/    /'
		fi
	done
	if [ -s "$tmp/load.err" ]; then
		echo "generator messages:"
		sort "$tmp/load.err" | uniq -c | head -10
	fi
	exit 0
fi

echo
[ "$ws" = 1 ] && echo "Over WebSockets (ws://, binary frames; the generator's -W)"
echo "MQTT side by side: mosquitto $("$mosq" -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p') vs cairn-broker${only:+ (--only $only)}"
echo "$(nproc) CPUs; $rounds interleaved runs of ${seconds}s per broker and row, pooled;" \
    "$outstanding outstanding per stream, QoS 1 window $window, broker in-flight $inflight;" \
    "mosquitto TCP_NODELAY $([ "$nodelay" = 1 ] && echo on || echo "off (its default)")${pin_broker[*]:+; broker on CPU 0, generator on CPU 1}"
[ "$both" = 1 ] || echo "(one broker only: no ratios)"
echo
fmt='%-7s %5s %1s |%8s %8s %6s |%5s %5s |%8s %8s %6s |%7s %7s |%7s %7s %6s |%6s %6s | %s\n'
# shellcheck disable=SC2059
printf "$fmt" "scen" "bytes" "q" "msgs/s" "" "" "CPU s" "" "msgs/CPU-s" "" "" \
    "p50 ms" "" "p99 ms" "" "" "errors" "" ""
# shellcheck disable=SC2059
printf "$fmt" "" "" "" "mosq" "cairn" "c/m" "mosq" "cairn" "mosq" "cairn" "c/m" \
    "mosq" "cairn" "mosq" "cairn" "c/m" "mosq" "cairn" "target"
rows=0
cpu_met=0
p99_met=0
for s in $all_scenarios; do
	for b in $payloads; do
		for q in $qoss; do
			km="$M.$s.$b.$q"
			kc="$C.$s.$b.$q"
			verdict=
			if [ "$both" = 1 ]; then
				rows=$((rows + 1))
				c1=$(awk -v a="${R[$kc.percpu]:-0}" -v b="${R[$km.percpu]:-0}" \
				    'BEGIN { print (b > 0 && a >= 1.5 * b) ? 1 : 0 }')
				c2=$(awk -v a="${R[$kc.p99]:-}" -v b="${R[$km.p99]:-}" \
				    'BEGIN { print (a != "" && b != "" && a + 0 <= b + 0) ? 1 : 0 }')
				cpu_met=$((cpu_met + c1))
				p99_met=$((p99_met + c2))
				if [ "$c1" = 1 ] && [ "$c2" = 1 ]; then
					verdict=pass
				else
					verdict=miss
					[ "$c1" = 1 ] || verdict="$verdict cpu"
					[ "$c2" = 1 ] || verdict="$verdict p99"
				fi
			fi
			# shellcheck disable=SC2059
			printf "$fmt" "$s" "$b" "$q" \
			    "$(val "$km.rate")" "$(val "$kc.rate")" \
			    "$(ratio "${R[$kc.rate]:-}" "${R[$km.rate]:-}")" \
			    "$(val "$km.cpu")" "$(val "$kc.cpu")" \
			    "$(val "$km.percpu")" "$(val "$kc.percpu")" \
			    "$(ratio "${R[$kc.percpu]:-}" "${R[$km.percpu]:-}")" \
			    "$(val "$km.p50")" "$(val "$kc.p50")" \
			    "$(val "$km.p99")" "$(val "$kc.p99")" \
			    "$(ratio "${R[$kc.p99]:-}" "${R[$km.p99]:-}")" \
			    "$(val "$km.errs")" "$(val "$kc.errs")" "$verdict"
		done
	done
done
echo
row() {
	printf '%-40s %12s %12s %10s\n' "$1" "$2" "$3" "$4"
}
row "" "mosquitto" "cairn" "cairn/mosq"
row "idle clients connected (of $nidle)" "$(val $M.idle_ok)" "$(val $C.idle_ok)" ""
row "  seconds to connect them" "$(val $M.idle_sec)" "$(val $C.idle_sec)" ""
row "  dropped while held" "$(val $M.idle_drop)" "$(val $C.idle_drop)" ""
row "RSS KiB before" "$(val $M.rss0)" "$(val $C.rss0)" ""
row "RSS KiB with them" "$(val $M.rss1)" "$(val $C.rss1)" ""
m_per=$(per_conn "${R[$M.rss1]:-}" "${R[$M.rss0]:-}" "${R[$M.idle_ok]:-}")
c_per=$(per_conn "${R[$C.rss1]:-}" "${R[$C.rss0]:-}" "${R[$C.idle_ok]:-}")
row "RSS bytes per idle connection" "$m_per" "$c_per" "$(ratio "$c_per" "$m_per")"
if [ "$nretained" -gt 0 ]; then
	for q in $qoss; do
		row "$nretained retained to a new '#' sub, QoS $q:" "" "" ""
		row "  seconds until all delivered" "$(val $M.ret.$q.sec)" \
		    "$(val $C.ret.$q.sec)" \
		    "$(ratio "${R[$C.ret.$q.sec]:-}" "${R[$M.ret.$q.sec]:-}")"
		row "  broker CPU s" "$(val $M.ret.$q.cpu)" "$(val $C.ret.$q.cpu)" \
		    "$(ratio "${R[$C.ret.$q.cpu]:-}" "${R[$M.ret.$q.cpu]:-}")"
		row "  worst PINGREQ of another client, ms" \
		    "$(val $M.ret.$q.ping)" "$(val $C.ret.$q.ping)" \
		    "$(ratio "${R[$C.ret.$q.ping]:-}" "${R[$M.ret.$q.ping]:-}")"
		row "  failed runs" "$(val $M.ret.$q.fail)" "$(val $C.ret.$q.fail)" ""
	done
fi
if [ -n "$tls_scenarios" ]; then
	for kind in full; do
		row "TLS handshakes per broker CPU-s, $kind" \
		    "$(val $M.hs.$kind.percpu)" "$(val $C.hs.$kind.percpu)" \
		    "$(ratio "${R[$C.hs.$kind.percpu]:-}" "${R[$M.hs.$kind.percpu]:-}")"
		row "  broker CPU s per $nhs, failed runs" \
		    "$(val $M.hs.$kind.cpu), $(val $M.hs.$kind.fail)" \
		    "$(val $C.hs.$kind.cpu), $(val $C.hs.$kind.fail)" ""
	done
fi
echo
echo "rows tls:P:S: the same run over TLS (TLS 1.3, P-256 certificate, both brokers' defaults)"
echo "errors: e connection errors, l lost, d duplicates, s stalls, f generator failures (raw lines on stderr)"
echo "bench time ${elapsed}s"

# The targets, reported, never enforced.
if [ "$both" = 1 ]; then
	verdict() {
		if [ "$1" = "$2" ]; then echo "met ($1 of $2)"; else echo "MISSED ($1 of $2)"; fi
	}
	echo "target: >= 1.5x mosquitto's msgs per broker CPU-s in every row: $(verdict $cpu_met $rows)"
	echo "target: p99 latency no worse than mosquitto's in every row: $(verdict $p99_met $rows)"
	r=$(awk -v c="$c_per" -v m="$m_per" \
	    'BEGIN { print (c != "-" && m != "-" && c + 0 <= m + 0) ? "met" : "MISSED" }')
	echo "target: RSS per idle connection no more than mosquitto's: $r"
fi
for name in "${names[@]}"; do
	if [ -n "${R[$name.died]:-}" ]; then
		echo "WARNING: $name died ${R[$name.died]} (exit ${R[$name.status]:-?}); its log:"
		tail -5 "$tmp/$name.log" | sed 's/^/    /'
	fi
done
if [ -s "$tmp/load.err" ]; then
	echo "generator messages:"
	sort "$tmp/load.err" | uniq -c | head -10
fi
exit 0
