#!/usr/bin/env bash
#
# Cluster benchmark of cairn-broker (issue 6), driven by the same load
# generator as bench/mqtt.sh (bench/mqtt_load.c).  A measurement, not a
# test: it prints its tables and exits 0 unless the bench itself broke.
#
# In one run:
#  (a) same-node: publishers and subscribers on node 1 of a two-node
#      cluster;
#  (b) cross-node: publishers on node 1, subscribers on node 2; and
#      the same over TLS 1.3 cluster links (two more nodes with
#      cluster_certfile/keyfile/cafile from a throw-away CA made with the
#      openssl command; skipped without it);
#  (c) mosquitto, the same scenario as (a);
#  (d) two cluster nodes sharing one MQTT port with listen_reuseport
#      (SO_REUSEPORT: the kernel spreads the connections) against one
#      node, many publisher/subscriber pairs.
# (a), (b) and (c) are interleaved round by round, as are the two sides
# of (d).  Every broker runs in the foreground as a child of this script,
# on free ports of 127.0.0.1, and is killed by pid on exit.  The nodes
# find each other by static peers; their epmd port is a free port where
# nothing listens, so they never meet another node on this host.
#
# Pinning (two or more CPUs): in (a), (b) and (c) every broker (both
# nodes, mosquitto) is on CPU 0 and the generator on CPU 1, so that
# cross-node and same-node get the same CPU.  In (d) node 1 is on CPU 0,
# node 2 on CPU 1, the single node on CPU 0, and the generator is not
# pinned.
#
# Usage: bench/cluster.sh
#
# Environment:
#	BUILD_DIR		meson build directory (default: build)
#	MOSQUITTO		mosquitto binary (default: the one on PATH)
#	CAIRN_BROKER		cairn-broker (default: $BUILD_DIR/broker/cairn-broker)
#	CAIRN_BROKER_BASE	another cairn-broker (e.g. a build of an older
#				commit): its own two nodes run cross-node beside
#				the others, interleaved, for a before/after ratio
#	BENCH_SECONDS		publishing seconds per run (default: 2)
#	BENCH_ROUNDS		runs per target and row (default: 3)
#	BENCH_SCENARIOS		(a)-(c): publishers:subscribers (default: 1:1 8:8;
#				add 1:64 for fan-out)
#	BENCH_PAYLOAD		payload bytes (default: 64)
#	BENCH_QOS		QoS levels (default: 0 1)
#	BENCH_OUTSTANDING	messages outstanding per stream (default: 64)
#	BENCH_WINDOW		QoS 1 PUBLISHes awaiting PUBACK per publisher
#				(default: 32)
#	BENCH_INFLIGHT		broker's QoS 1 in-flight window (default: 20)
#	BENCH_PAIRS		(d): publisher/subscriber pairs (default: 64)
#	BENCH_SHARED		0: skip (d) (default: 1)
#	BENCH_NODE2_CPU		(b): the CPU of node 2 (default: 0, with node 1)
#	MOSQ_NODELAY		1: set_tcp_nodelay true for mosquitto (default: 0,
#				its own default, as in bench/mqtt.sh)
#
# See bench/README.md for what each row means.

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
rounds=${BENCH_ROUNDS:-3}
scenarios=${BENCH_SCENARIOS:-1:1 8:8}
payload=${BENCH_PAYLOAD:-64}
qoss=${BENCH_QOS:-0 1}
outstanding=${BENCH_OUTSTANDING:-64}
window=${BENCH_WINDOW:-32}
inflight=${BENCH_INFLIGHT:-20}
pairs=${BENCH_PAIRS:-64}
shared=${BENCH_SHARED:-1}
node2_cpu=${BENCH_NODE2_CPU:-0}
nodelay=${MOSQ_NODELAY:-0}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

[ $# -eq 0 ] || die "usage: cluster.sh (settings in the environment)"

# Children to kill on exit, by pid.
pids=()
tmp=$(mktemp -d -t cairn-cluster.XXXXXX) || die "mktemp failed"

cleanup() {
	local p
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

# Build the generator and the broker (a no-op when nothing changed).
targets=(mqtt_load)
[ -z "${CAIRN_BROKER:-}" ] && targets+=(cairn-broker)
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$top" >"$tmp/setup.log" 2>&1 ||
	    { cat "$tmp/setup.log" >&2; die "meson setup failed"; }
fi
if ! meson compile -C "$build" "${targets[@]}" >"$tmp/compile.log" 2>&1; then
	tail -n 20 "$tmp/compile.log" >&2
	meson compile -C "$build" mqtt_load >"$tmp/compile.log" 2>&1 ||
	    { tail -40 "$tmp/compile.log" >&2; die "meson compile failed"; }
	echo "cluster.sh: warning: cairn-broker did not build; using what is there" >&2
fi
load=$build/bench/mqtt_load
[ -x "$load" ] || die "no $load"
cairn=${CAIRN_BROKER:-$build/broker/cairn-broker}
[ -x "$cairn" ] || die "no cairn-broker at $cairn"
mosq=${MOSQUITTO:-$(command -v mosquitto 2>/dev/null)}
if [ -z "$mosq" ] || [ ! -x "$mosq" ]; then
	echo "cluster.sh: mosquitto not found (PATH or MOSQUITTO): no (c)" >&2
	mosq=
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null

ncpu=$(nproc)
if command -v taskset >/dev/null 2>&1 && [ "$ncpu" -ge 2 ]; then
	cpu0=(taskset -c 0)
	cpu1=(taskset -c 1)
	pin_load=(taskset -c 1)
	if [ "$node2_cpu" = 0 ]; then
		pin_node2=(taskset -c 0)
	else
		pin_node2=(taskset -c "$node2_cpu")
	fi
	pinned=1
else
	cpu0=()
	cpu1=()
	pin_load=()
	pin_node2=()
	pinned=0
fi

# kv LINE KEY: the value of KEY=value in a result line.
kv() {
	local v
	v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1")
	echo "${v:-}"
}

# add KEY VALUE: T[KEY] += VALUE.
add() {
	T[$1]=$(awk -v a="${T[$1]:-0}" -v b="${2:-0}" 'BEGIN { print a + b }')
}

# Ports handed out so far: each free port is taken once.
used=" "
free_port() {
	local p
	for _ in $(seq 1 20); do
		p=$("$load" freeport) || continue
		case $used in
		*" $p "*) continue ;;
		esac
		used="$used$p "
		echo "$p"
		return 0
	done
	return 1
}

# wait_ready PORT PID...: up to 5 s for a broker to answer a PINGREQ.
wait_ready() {
	local port=$1 out p
	shift
	for _ in $(seq 1 50); do
		for p in "$@"; do
			kill -0 "$p" 2>/dev/null || return 1
		done
		out=$("$load" ping -p "$port" -t 200 2>/dev/null)
		[ "$(kv "$out" ok)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_link LOG PEER: up to 10 s for LOG to show the link to PEER up.
wait_link() {
	for _ in $(seq 1 100); do
		grep -q "link [a-z]* $2@.*: up\( (TLS)\)\?\$" "$1" 2>/dev/null &&
		    return 0
		sleep 0.1
	done
	return 1
}

# The broker settings of bench/mqtt.sh, for every cairn-broker here.
common_yaml() {
	cat <<-EOF
	allow_anonymous: true
	sys_interval: 0
	max_inflight: $inflight
	max_queued_messages: 1000000
	max_queued_bytes: 1GiB
	max_output_buffer: 64MiB
	max_connections: 4096
	max_sessions: 4096
	EOF
}

# node_yaml FILE PORT NAME CPORT PEERS [EXTRA]: a cluster node's config,
# with the cookie of its cluster ($cookie).
node_yaml() {
	{
		echo "listen: 127.0.0.1:$2"
		common_yaml
		echo "node_name: $3@127.0.0.1"
		echo "cluster_listen: 127.0.0.1:$4"
		echo "cookie: $cookie"
		echo "epmd_port: $noepmd"
		echo "peers: [$5]"
		[ -n "${6:-}" ] && echo "$6"
	} >"$1"
}

# start NAME [PIN...] CMD...: starts a broker, sets PID[NAME].
start() {
	local name=$1
	shift
	"$@" >"$tmp/$name.log" 2>&1 &
	PID[$name]=$!
	pids+=("${PID[$name]}")
}

# forget PID: a reaped child leaves the kill list.
forget() {
	local p keep=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

stop() {
	local p=${PID[$1]:-}
	[ -n "$p" ] || return
	if kill -0 "$p" 2>/dev/null; then
		kill "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	forget "$p"
}

alive_all() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || return 1
	done
	return 0
}

declare -A R T PID PORT ARGS CPIDS DESC

# --- Brokers of (a), (b), (c) ---------------------------------------------

noepmd=$(free_port) || die "no free port"
PORT[n1]=$(free_port) || die "no free port"
PORT[n2]=$(free_port) || die "no free port"
cport1=$(free_port) || die "no free port"
cport2=$(free_port) || die "no free port"
name1=cb1-$$
name2=cb2-$$
peers="$name1@127.0.0.1:$cport1, $name2@127.0.0.1:$cport2"
cookie=bench-$$-$RANDOM$RANDOM
node_yaml "$tmp/n1.yaml" "${PORT[n1]}" "$name1" "$cport1" "$peers"
node_yaml "$tmp/n2.yaml" "${PORT[n2]}" "$name2" "$cport2" "$peers"
start n1 "${cpu0[@]}" "$cairn" -d -c "$tmp/n1.yaml"
start n2 "${pin_node2[@]}" "$cairn" -d -c "$tmp/n2.yaml"
wait_ready "${PORT[n1]}" "${PID[n1]}" &&
    wait_ready "${PORT[n2]}" "${PID[n2]}" || {
	tail -n 20 "$tmp/n1.log" "$tmp/n2.log" >&2
	die "the cluster nodes did not come up"
}
wait_link "$tmp/n1.log" "$name2" && wait_link "$tmp/n2.log" "$name1" || {
	tail -n 20 "$tmp/n1.log" "$tmp/n2.log" >&2
	die "the cluster link did not come up in 10 s"
}
echo "cluster.sh: node 1 pid ${PID[n1]} port ${PORT[n1]}, node 2 pid ${PID[n2]} port ${PORT[n2]}" >&2

# Two nodes of CAIRN_BROKER_BASE, plain links, for a before/after ratio.
base=${CAIRN_BROKER_BASE:-}
if [ -n "$base" ]; then
	[ -x "$base" ] || die "no cairn-broker at CAIRN_BROKER_BASE=$base"
	PORT[b1]=$(free_port) || die "no free port"
	PORT[b2]=$(free_port) || die "no free port"
	bport1=$(free_port) || die "no free port"
	bport2=$(free_port) || die "no free port"
	bname1=cbb1-$$
	bname2=cbb2-$$
	bpeers="$bname1@127.0.0.1:$bport1, $bname2@127.0.0.1:$bport2"
	node_yaml "$tmp/b1.yaml" "${PORT[b1]}" "$bname1" "$bport1" "$bpeers"
	node_yaml "$tmp/b2.yaml" "${PORT[b2]}" "$bname2" "$bport2" "$bpeers"
	start b1 "${cpu0[@]}" "$base" -d -c "$tmp/b1.yaml"
	start b2 "${pin_node2[@]}" "$base" -d -c "$tmp/b2.yaml"
	wait_ready "${PORT[b1]}" "${PID[b1]}" &&
	    wait_ready "${PORT[b2]}" "${PID[b2]}" &&
	    wait_link "$tmp/b1.log" "$bname2" && wait_link "$tmp/b2.log" "$bname1" || {
		tail -n 20 "$tmp/b1.log" "$tmp/b2.log" >&2
		die "the CAIRN_BROKER_BASE nodes did not link"
	}
	echo "cluster.sh: base nodes pids ${PID[b1]}, ${PID[b2]}" >&2
fi

# The same two nodes with TLS links, from a CA made here.
tls_note=
if ! command -v openssl >/dev/null 2>&1; then
	tls_note="skipped: no openssl command"
else
	(
		cd "$tmp" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout ca.key -out ca.crt -subj /CN=bench-ca \
		    -days 1 &&
		for n in t1 t2; do
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			    -nodes -keyout $n.key -out $n.csr -subj /CN=$n &&
			openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key \
			    -CAcreateserial -out $n.crt -days 1 || exit 1
		done
	) >"$tmp/openssl.log" 2>&1 || tls_note="skipped: openssl failed ($(tail -1 "$tmp/openssl.log"))"
fi
if [ -z "$tls_note" ]; then
	PORT[t1]=$(free_port) || die "no free port"
	PORT[t2]=$(free_port) || die "no free port"
	tport1=$(free_port) || die "no free port"
	tport2=$(free_port) || die "no free port"
	tname1=ct1-$$
	tname2=ct2-$$
	tpeers="$tname1@127.0.0.1:$tport1, $tname2@127.0.0.1:$tport2"
	for n in 1 2; do
		eval "tp=\${PORT[t$n]} tn=\$tname$n tc=\$tport$n"
		node_yaml "$tmp/t$n.yaml" "$tp" "$tn" "$tc" "$tpeers" \
		    "$(printf 'cluster_certfile: %s\ncluster_keyfile: %s\ncluster_cafile: %s' \
		    "$tmp/t$n.crt" "$tmp/t$n.key" "$tmp/ca.crt")"
	done
	start t1 "${cpu0[@]}" "$cairn" -d -c "$tmp/t1.yaml"
	start t2 "${pin_node2[@]}" "$cairn" -d -c "$tmp/t2.yaml"
	wait_ready "${PORT[t1]}" "${PID[t1]}" &&
	    wait_ready "${PORT[t2]}" "${PID[t2]}" &&
	    wait_link "$tmp/t1.log" "$tname2" && wait_link "$tmp/t2.log" "$tname1" || {
		tail -n 20 "$tmp/t1.log" "$tmp/t2.log" >&2
		die "the TLS cluster nodes did not link"
	}
	echo "cluster.sh: TLS nodes pids ${PID[t1]}, ${PID[t2]}" >&2
fi

if [ -n "$mosq" ]; then
	PORT[mosq]=$(free_port) || die "no free port"
	cat >"$tmp/mosquitto.conf" <<-EOF
	listener ${PORT[mosq]} 127.0.0.1
	allow_anonymous true
	persistence false
	log_dest none
	sys_interval 0
	max_inflight_messages $inflight
	max_queued_messages 1000000
	max_connections -1
	EOF
	[ "$nodelay" = 1 ] && echo "set_tcp_nodelay true" >>"$tmp/mosquitto.conf"
	start mosq "${cpu0[@]}" "$mosq" -c "$tmp/mosquitto.conf"
	wait_ready "${PORT[mosq]}" "${PID[mosq]}" || {
		tail -n 20 "$tmp/mosq.log" >&2
		die "mosquitto did not come up"
	}
	echo "cluster.sh: mosquitto pid ${PID[mosq]} port ${PORT[mosq]}" >&2
fi

# A target: the generator's port options, the pids whose CPU is summed,
# the brokers that must stay up, and the CPU the generator runs on.
ARGS[same]="-p ${PORT[n1]}"
CPIDS[same]="${PID[n1]},${PID[n2]}"
DESC[same]="same-node"
ARGS[cross]="--pub-port ${PORT[n1]} --sub-port ${PORT[n2]}"
CPIDS[cross]="${PID[n1]},${PID[n2]}"
DESC[cross]="cross-node"
if [ -n "$base" ]; then
	ARGS[crossbase]="--pub-port ${PORT[b1]} --sub-port ${PORT[b2]}"
	CPIDS[crossbase]="${PID[b1]},${PID[b2]}"
	DESC[crossbase]="cross-node (base)"
fi
if [ -z "$tls_note" ]; then
	ARGS[crosstls]="--pub-port ${PORT[t1]} --sub-port ${PORT[t2]}"
	CPIDS[crosstls]="${PID[t1]},${PID[t2]}"
	DESC[crosstls]="cross-node TLS"
fi
if [ -n "$mosq" ]; then
	ARGS[mosq]="-p ${PORT[mosq]}"
	CPIDS[mosq]="${PID[mosq]}"
	DESC[mosq]="mosquitto"
fi

# one_run TARGET SCEN QOS ROUND PIN...: one timed run, added to the pool.
one_run() {
	local t=$1 s=$2 q=$3 r=$4 key="$1.$2.$3" line h pc p
	shift 4
	if [ -n "${R[$t.died]:-}" ]; then
		return
	fi
	h=$tmp/hist.$t.${s/:/-}.$q.$r
	# shellcheck disable=SC2086
	line=$("$@" timeout -k 5 $((seconds + 90)) "$load" run \
	    ${ARGS[$t]} -R -s "$s" -b "$payload" -q "$q" -d "$seconds" \
	    -o "$outstanding" -w "$window" -P "${CPIDS[$t]}" -H "$h" \
	    2>>"$tmp/load.err")
	echo "  $t $s q$q round $r: $line" >&2
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
		add "$key.lcpu" "$(kv "$line" load_cpu)"
		pc=$(kv "$line" rate)
		T[$key.rmin]=$(awk -v a="${T[$key.rmin]:-}" -v b="$pc" \
		    'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
		T[$key.rmax]=$(awk -v a="${T[$key.rmax]:-0}" -v b="$pc" \
		    'BEGIN { print (b + 0 > a + 0) ? b : a }')
		pc=$(kv "$line" broker_cpus)
		if [ -n "$pc" ]; then
			add "$key.cpuA" "${pc%%,*}"
			add "$key.cpuB" "${pc#*,}"
		fi
		[ -s "$h" ] && T[$key.hists]="${T[$key.hists]:-} $h"
	fi
	for p in ${CPIDS[$t]//,/ }; do
		kill -0 "$p" 2>/dev/null ||
		    R[$t.died]=${R[$t.died]:-"pid $p, during $s QoS $q round $r"}
	done
}

# pool TARGET SCEN QOS: the pooled figures of the rounds.
pool() {
	local key="$1.$2.$3" pct
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
	[ -n "${T[$key.n]:-}" ] || return
	R[$key.rate]=$(awk -v d="${T[$key.delivered]}" -v s="${T[$key.sec]}" \
	    'BEGIN { if (s > 0) printf "%.0f", d / s }')
	R[$key.cpu]=$(awk -v c="${T[$key.cpu]}" -v n="${T[$key.n]}" \
	    'BEGIN { printf "%.2f", c / n }')
	R[$key.spread]=$(awk -v a="${T[$key.rmin]}" -v b="${T[$key.rmax]}" \
	    'BEGIN { printf "%.0f-%.0fk", a / 1000, b / 1000 }')
	R[$key.lcpu]=$(awk -v c="${T[$key.lcpu]:-0}" -v n="${T[$key.n]}" \
	    'BEGIN { printf "%.2f", c / n }')
	if [ -n "${T[$key.cpuA]:-}" ]; then
		R[$key.split]=$(awk -v a="${T[$key.cpuA]}" -v b="${T[$key.cpuB]}" \
		    -v n="${T[$key.n]}" 'BEGIN { printf "%.2f+%.2f", a / n, b / n }')
	fi
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
}

# run_rows "TARGETS" "SCENARIOS" PIN...: every row, rounds interleaved,
# the order of the targets reversed every other round.
run_rows() {
	local tl=$1 sl=$2 s q r t order
	shift 2
	for s in $sl; do
		for q in $qoss; do
			for r in $(seq 1 "$rounds"); do
				if [ $((r % 2)) = 1 ]; then
					order=$tl
				else
					order=$(printf '%s\n' $tl | tac | tr '\n' ' ')
				fi
				for t in $order; do
					one_run "$t" "$s" "$q" "$r" "$@"
				done
			done
			for t in $tl; do
				pool "$t" "$s" "$q"
			done
		done
	done
}

start_time=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
abc="same cross"
[ -n "$base" ] && abc="$abc crossbase"
[ -z "$tls_note" ] && abc="$abc crosstls"
[ -n "$mosq" ] && abc="$abc mosq"
run_rows "$abc" "$scenarios" "${pin_load[@]}"
for b in n1 n2 b1 b2 t1 t2 mosq; do
	if [ -n "${PID[$b]:-}" ] && ! kill -0 "${PID[$b]}" 2>/dev/null; then
		R[$b.gone]=1
	fi
	stop "$b"
done

# --- (d): two nodes on one port (SO_REUSEPORT) against one node ------------

shared_note=
printf 'listen: 127.0.0.1:1\nlisten_reuseport: true\n' >"$tmp/probe.yaml"
if [ "$shared" != 1 ]; then
	shared_note="skipped (BENCH_SHARED=$shared)"
elif ! "$cairn" -n -c "$tmp/probe.yaml" >"$tmp/probe.log" 2>&1; then
	shared_note="skipped: this cairn-broker has no listen_reuseport key ($(head -1 "$tmp/probe.log"))"
elif [ "$pairs" -gt 256 ]; then
	shared_note="skipped: BENCH_PAIRS is at most 256"
fi
dscen="$pairs:$pairs"
if [ -z "$shared_note" ]; then
	PORT[shared]=$(free_port) || die "no free port"
	PORT[one]=$(free_port) || die "no free port"
	dport1=$(free_port) || die "no free port"
	dport2=$(free_port) || die "no free port"
	dname1=cd1-$$
	dname2=cd2-$$
	dpeers="$dname1@127.0.0.1:$dport1, $dname2@127.0.0.1:$dport2"
	cookie=bench-$$-$RANDOM$RANDOM
	node_yaml "$tmp/d1.yaml" "${PORT[shared]}" "$dname1" "$dport1" \
	    "$dpeers" "listen_reuseport: true"
	node_yaml "$tmp/d2.yaml" "${PORT[shared]}" "$dname2" "$dport2" \
	    "$dpeers" "listen_reuseport: true"
	{ echo "listen: 127.0.0.1:${PORT[one]}"; common_yaml; } >"$tmp/one.yaml"
	start d1 "${cpu0[@]}" "$cairn" -d -c "$tmp/d1.yaml"
	start d2 "${cpu1[@]}" "$cairn" -d -c "$tmp/d2.yaml"
	start one "${cpu0[@]}" "$cairn" -d -c "$tmp/one.yaml"
	wait_ready "${PORT[shared]}" "${PID[d1]}" "${PID[d2]}" &&
	    wait_ready "${PORT[one]}" "${PID[one]}" || {
		tail -n 20 "$tmp/d1.log" "$tmp/d2.log" "$tmp/one.log" >&2
		die "the (d) brokers did not come up"
	}
	wait_link "$tmp/d1.log" "$dname2" && wait_link "$tmp/d2.log" "$dname1" || {
		tail -n 20 "$tmp/d1.log" "$tmp/d2.log" >&2
		die "the (d) cluster link did not come up in 10 s"
	}
	echo "cluster.sh: (d) nodes pids ${PID[d1]}, ${PID[d2]} on port ${PORT[shared]}; one node pid ${PID[one]} port ${PORT[one]}" >&2
	ARGS[two]="-p ${PORT[shared]}"
	CPIDS[two]="${PID[d1]},${PID[d2]}"
	DESC[two]="two nodes, one port"
	ARGS[one]="-p ${PORT[one]}"
	CPIDS[one]="${PID[one]}"
	DESC[one]="one node"
	run_rows "one two" "$dscen"
	for b in d1 d2 one; do
		if ! kill -0 "${PID[$b]}" 2>/dev/null; then
			R[$b.gone]=1
		fi
		stop "$b"
	done
fi
elapsed=$(($(date +%s) - start_time))
load1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

# --- Tables ----------------------------------------------------------------

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
			printf "%.2f\n", a / b }'
}

# meets A B MIN: "met" when A/B >= MIN, "MISSED" when not, "-" unknown.
meets() {
	awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0)
			print "-";
		else
			print (a / b >= m) ? "met" : "MISSED" }'
}

# rows TARGETS SCENARIOS: one line per row and target.
fmt='%-7s %1s %-20s %9s %12s %6s %11s %10s %7s %7s %6s %7s\n'
rows() {
	local s q t key
	# shellcheck disable=SC2059
	printf "$fmt" "scen" "q" "target" "msgs/s" "(rounds)" "CPU s" "(per node)" \
	    "msgs/CPU-s" "p50 ms" "p99 ms" "gen s" "errors"
	for s in $2; do
		for q in $qoss; do
			for t in $1; do
				key="$t.$s.$q"
				# shellcheck disable=SC2059
				printf "$fmt" "$s" "$q" "${DESC[$t]}" \
				    "$(val "$key.rate")" "$(val "$key.spread")" \
				    "$(val "$key.cpu")" \
				    "$(val "$key.split")" "$(val "$key.percpu")" \
				    "$(val "$key.p50")" "$(val "$key.p99")" \
				    "$(val "$key.lcpu")" "$(val "$key.errs")"
			done
		done
	done
}

cairn_rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null)
[ -n "${CAIRN_BROKER:-}" ] && cairn_rev="CAIRN_BROKER"
[ -z "${CAIRN_BROKER:-}" ] && [ -n "$(git -C "$top" status --porcelain -- broker common 2>/dev/null)" ] &&
    cairn_rev="$cairn_rev + uncommitted changes"
version=$("$mosq" -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p')
echo
echo "Cluster bench: cairn-broker ($cairn_rev), same node / across two nodes${mosq:+ / mosquitto $version}"
echo "$ncpu CPUs; $rounds interleaved runs of ${seconds}s per target and row, pooled;" \
    "${payload} B payload; $outstanding outstanding per stream, QoS 1 window $window, broker in-flight $inflight;" \
    "mosquitto TCP_NODELAY $([ "$nodelay" = 1 ] && echo on || echo "off (its default)")"
if [ "$pinned" = 1 ]; then
	echo "pinning (a)-(c): both nodes and mosquitto on CPU 0$([ "$node2_cpu" != 0 ] && echo " (node 2 on CPU $node2_cpu)"), generator on CPU 1;" \
	    "(d): node 1 on CPU 0, node 2 on CPU 1, the one node on CPU 0, generator not pinned"
else
	echo "pinning: none (one CPU, or no taskset)"
fi
echo "CPU s: broker CPU per run (same- and cross-node: node 1 + node 2, both summed); gen s: the generator's CPU per run"
echo
rows "$abc" "$scenarios"
echo
rfmt='%-7s %1s | %10s %6s %10s | %10s %10s\n'
# shellcheck disable=SC2059
printf "$rfmt" "" "" "cross/same" "" "cross/same" "cairn/mosq" "cairn/mosq"
# shellcheck disable=SC2059
printf "$rfmt" "scen" "q" "msgs/s" ">=0.70" "msgs/CPU-s" "msgs/s" "msgs/CPU-s"
xmet=0
xrows=0
for s in $scenarios; do
	for q in $qoss; do
		v=$(meets "${R[cross.$s.$q.rate]:-}" "${R[same.$s.$q.rate]:-}" 0.70)
		xrows=$((xrows + 1))
		[ "$v" = met ] && xmet=$((xmet + 1))
		# shellcheck disable=SC2059
		printf "$rfmt" "$s" "$q" \
		    "$(ratio "${R[cross.$s.$q.rate]:-}" "${R[same.$s.$q.rate]:-}")" "$v" \
		    "$(ratio "${R[cross.$s.$q.percpu]:-}" "${R[same.$s.$q.percpu]:-}")" \
		    "$(ratio "${R[same.$s.$q.rate]:-}" "${R[mosq.$s.$q.rate]:-}")" \
		    "$(ratio "${R[same.$s.$q.percpu]:-}" "${R[mosq.$s.$q.percpu]:-}")"
	done
done
if [ -n "$base" ]; then
	echo
	echo "This cairn-broker vs CAIRN_BROKER_BASE ($base), cross-node, plain links:"
	for s in $scenarios; do
		for q in $qoss; do
			echo "  $s QoS $q: new/base msgs/s $(ratio "${R[cross.$s.$q.rate]:-}" "${R[crossbase.$s.$q.rate]:-}")," \
			    "msgs/CPU-s $(ratio "${R[cross.$s.$q.percpu]:-}" "${R[crossbase.$s.$q.percpu]:-}")"
		done
	done
fi
echo
if [ -n "$tls_note" ]; then
	echo "TLS links: $tls_note"
else
	echo "TLS cluster links vs plain ones, cross-node:"
	for s in $scenarios; do
		for q in $qoss; do
			echo "  $s QoS $q: tls/plain msgs/s $(ratio "${R[crosstls.$s.$q.rate]:-}" "${R[cross.$s.$q.rate]:-}")," \
			    "msgs/CPU-s $(ratio "${R[crosstls.$s.$q.percpu]:-}" "${R[cross.$s.$q.percpu]:-}")"
		done
	done
fi
echo
echo "(d) two nodes sharing one MQTT port (listen_reuseport) vs one node, $dscen pairs spread by the kernel:"
dmet=0
drows=0
if [ -n "$shared_note" ]; then
	echo "  $shared_note"
else
	rows "one two" "$dscen"
	for q in $qoss; do
		v=$(meets "${R[two.$dscen.$q.rate]:-}" "${R[one.$dscen.$q.rate]:-}" 1.6)
		drows=$((drows + 1))
		[ "$v" = met ] && dmet=$((dmet + 1))
		echo "  QoS $q: two/one msgs/s $(ratio "${R[two.$dscen.$q.rate]:-}" "${R[one.$dscen.$q.rate]:-}") (target >= 1.6: $v)," \
		    "msgs/CPU-s $(ratio "${R[two.$dscen.$q.percpu]:-}" "${R[one.$dscen.$q.percpu]:-}")"
	done
fi
echo
echo "errors: e connection errors, l lost, d duplicates, s stalls, f generator failures (raw lines on stderr)"
echo "bench time ${elapsed}s; load average ${load0:-?} before, ${load1:-?} after (other work on the machine widens the rounds' spread)"
echo "target: cross-node >= 0.70x same-node msgs/s: met in $xmet of $xrows rows"
[ "$drows" -gt 0 ] &&
    echo "target: two nodes on one port >= 1.6x one node msgs/s: met in $dmet of $drows rows"
for b in n1 n2 b1 b2 t1 t2 mosq d1 d2 one; do
	if [ -n "${R[$b.gone]:-}" ]; then
		echo "WARNING: broker $b died; its log:"
		tail -5 "$tmp/$b.log" | sed 's/^/    /'
	fi
done
for t in same cross crossbase crosstls mosq one two; do
	[ -n "${R[$t.died]:-}" ] && echo "WARNING: a broker of $t died (${R[$t.died]})"
done
# Broker warnings (not the expected epmd and redial noise), counted.
for b in n1 n2 t1 t2 d1 d2 one; do
	[ -f "$tmp/$b.log" ] || continue
	grep -v -e 'epmd on port' -e 'local_epmd' -e 'Connection refused' \
	    -e 'listening on' -e 'link .*: up\( (TLS)\)\?$' -e 'cluster up' \
	    -e 'topology local' -e 'got signal' -e 'closed by the peer' \
	    "$tmp/$b.log" | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c |
	    sort -rn | head -5 | sed "s/^/  $b log: /"
done | { read -r first && { echo "broker log lines (digits as N):"; echo "$first"; cat; }; }
if [ -s "$tmp/load.err" ]; then
	echo "generator messages:"
	sort "$tmp/load.err" | uniq -c | head -10
fi
exit 0
