#!/usr/bin/env bash
#
# What data_dir costs: QoS 1, 64-byte payloads, 1:1 and 8:8, every
# subscriber a persistent session (mqtt_load -c: clean session 0, so
# that each message is queued for a session a broker's persistence
# keeps), against three brokers driven by the same generator:
#
#	cairn		cairn-broker without data_dir (all in memory)
#	cairn+data_dir	cairn-broker with data_dir (group commit: one
#			LMDB commit and sync per disk round, on the
#			store's writer thread; PUBACK after it)
#	cairn+nosync	the same with store_sync false (written, not
#			fsync'd: survives kill -9, not a power cut)
#	mosquitto	mosquitto with `persistence true` (its default
#			autosave: the database is written at shutdown and
#			every autosave_interval, 1800 s, not per message)
#
# Runs are interleaved (each round runs the three in turn) and pooled.
# A measurement, not a test: prints one table and exits 0 unless the
# bench itself broke.  Every broker is started here, on free loopback
# ports, and killed by pid on exit.
#
# Environment: BUILD_DIR (default build), MOSQUITTO (default: on PATH),
# BENCH_SECONDS (default 2), BENCH_ROUNDS (default 3),
# BENCH_SCENARIOS (default "1:1 8:8").

set -u
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-build}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
load=$build/bench/mqtt_load
cairn=${CAIRN_BROKER:-$build/broker/cairn-broker}
mosq=${MOSQUITTO:-$(command -v mosquitto || true)}
seconds=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-3}
scenarios=${BENCH_SCENARIOS:-1:1 8:8}
names="cairn cairn+data_dir cairn+nosync mosquitto"

die() {
	echo "durable.sh: $*" >&2
	exit 1
}

[ -x "$load" ] || die "$load: not built"
[ -x "$cairn" ] || die "$cairn: not built"
[ -n "$mosq" ] || die "mosquitto not found"

tmp=$(mktemp -d)
declare -A PID PORT T
cleanup() {
	local n
	for n in $names; do
		[ -n "${PID[$n]:-}" ] && kill "${PID[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

kv() {
	tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

add() {
	T[$1]=$(awk -v a="${T[$1]:-0}" -v b="${2:-0}" 'BEGIN { print a + b }')
}

start() {
	local n=$1 port
	port=$("$load" freeport) || die "no free port"
	PORT[$n]=$port
	case $n in
	cairn | cairn+data_dir | cairn+nosync)
		cat >"$tmp/$n.yaml" <<-EOF
		listen: 127.0.0.1:$port
		sys_interval: 0
		max_queued_messages: 1000000
		max_queued_bytes: 1GiB
		max_output_buffer: 64MiB
		EOF
		[ "$n" = cairn+data_dir ] &&
		    echo "data_dir: $tmp/data" >>"$tmp/$n.yaml"
		[ "$n" = cairn+nosync ] &&
		    printf 'data_dir: %s\nstore_sync: false\n' \
		    "$tmp/data2" >>"$tmp/$n.yaml"
		"$cairn" -d -c "$tmp/$n.yaml" >"$tmp/$n.log" 2>&1 &
		;;
	mosquitto)
		mkdir -p "$tmp/mosq"
		cat >"$tmp/mosquitto.conf" <<-EOF
		listener $port 127.0.0.1
		allow_anonymous true
		persistence true
		persistence_location $tmp/mosq/
		log_dest none
		sys_interval 0
		max_queued_messages 1000000
		user $(id -un)
		EOF
		"$mosq" -c "$tmp/mosquitto.conf" >"$tmp/$n.log" 2>&1 &
		;;
	esac
	PID[$n]=$!
	for _ in $(seq 1 50); do
		out=$("$load" ping -p "$port" -t 200 2>/dev/null)
		[ "$(kv "$out" ok)" = 1 ] && return 0
		sleep 0.1
	done
	die "$n did not start: $(tail -3 "$tmp/$n.log")"
}

for n in $names; do
	start "$n"
done

for r in $(seq 1 "$rounds"); do
	for sc in $scenarios; do
		for n in $names; do
			line=$(timeout -k 5 $((seconds + 60)) "$load" run \
			    -p "${PORT[$n]}" -s "$sc" -q 1 -b 64 -d "$seconds" \
			    -c -P "${PID[$n]}" 2>/dev/null) || true
			if [ "$(kv "$line" setup)" != ok ]; then
				add "$n.$sc.fail" 1
				continue
			fi
			add "$n.$sc.msgs" "$(kv "$line" delivered)"
			add "$n.$sc.sec" "$(kv "$line" seconds)"
			add "$n.$sc.cpu" "$(kv "$line" broker_cpu)"
			p99=$(kv "$line" p99_us)
			[ "${p99:-0}" -gt "${T[$n.$sc.p99]:-0}" ] &&
			    T[$n.$sc.p99]=$p99
			add "$n.$sc.lost" "$(kv "$line" lost)"
		done
	done
done

echo "$(nproc) CPUs; $rounds interleaved runs of ${seconds}s per broker" \
    "and row, pooled; QoS 1, 64 B, persistent subscribers (mqtt_load -c)"
printf '%-10s %-16s %10s %14s %12s %6s %6s\n' row broker msgs/s \
    "msgs/CPU-s" "worst p99 ms" lost failed
for sc in $scenarios; do
	for n in $names; do
		awk -v sc="$sc" -v n="$n" -v m="${T[$n.$sc.msgs]:-0}" \
		    -v s="${T[$n.$sc.sec]:-0}" -v c="${T[$n.$sc.cpu]:-0}" \
		    -v p="${T[$n.$sc.p99]:-0}" -v l="${T[$n.$sc.lost]:-0}" \
		    -v f="${T[$n.$sc.fail]:-0}" 'BEGIN {
			printf "%-10s %-16s %10.0f %14.0f %12.1f %6d %6d\n",
			    sc, n, (s > 0 ? m / s : 0), (c > 0 ? m / c : 0),
			    p / 1000, l, f
		}'
	done
	awk -v a="${T[cairn+data_dir.$sc.msgs]:-0}" \
	    -v ac="${T[cairn+data_dir.$sc.cpu]:-0}" \
	    -v b="${T[cairn.$sc.msgs]:-0}" -v bc="${T[cairn.$sc.cpu]:-0}" \
	    -v sc="$sc" 'BEGIN {
		if (ac > 0 && bc > 0 && b > 0)
			printf "%-10s data_dir/memory msgs per CPU-s: %.2f\n",
			    sc, (a / ac) / (b / bc)
	}'
done
exit 0
