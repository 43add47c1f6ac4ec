#!/usr/bin/env bash
#
# Side-by-side benchmark of OTP's epmd and Cairn's epmd, driven by the
# same load generator (bench/epmd_load.c).  It is a measurement, not a
# test: it prints one table and exits 0 unless the bench itself broke.
#
# Both daemons run in the foreground as children of this script, on free
# ports of 127.0.0.1, one after the other, and are killed by pid on exit.
# On a machine with two or more CPUs the daemon is pinned to CPU 0 and
# the generator to CPU 1, so that they do not share a core.
#
# Environment:
#	BUILD_DIR	meson build directory (default: build)
#	OTP_EPMD	OTP's epmd (default: the first erts-*/bin/epmd found)
#	BENCH_SECONDS	seconds per lookup run (default: 3)
#	BENCH_ROUNDS	lookup runs per daemon and concurrency (default: 4)
#	BENCH_NAMES	registrations in the big run (default: 10000)
#	BENCH_SMALL	registrations in the small run (default: 1000)
#	BENCH_REPEATS	NAMES requests per latency measurement (default: 100)
#	CAIRN_FLAGS	extra flags for Cairn's epmd
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
seconds=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-4}
big=${BENCH_NAMES:-10000}
small=${BENCH_SMALL:-1000}
repeats=${BENCH_REPEATS:-100}
concs="1 16 128"

die() {
	echo "epmd.sh: $*" >&2
	exit 1
}

# Children to kill on exit, by pid.
pids=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX") || die "mktemp failed"

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

# Build if needed.
if [ ! -x "$build/bench/epmd_load" ] || [ ! -x "$build/epmd/epmd" ]; then
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$top" >"$tmp/setup.log" 2>&1 ||
		    { cat "$tmp/setup.log" >&2; die "meson setup failed"; }
	fi
	meson compile -C "$build" >"$tmp/compile.log" 2>&1 ||
	    { tail -40 "$tmp/compile.log" >&2; die "meson compile failed"; }
fi
load=$build/bench/epmd_load
cairn=$build/epmd/epmd
[ -x "$load" ] || die "no $load"
[ -x "$cairn" ] || die "no $cairn"

otp=${OTP_EPMD:-}
if [ -z "$otp" ]; then
	for f in /usr/lib/erlang/erts-*/bin/epmd /usr/local/lib/erlang/erts-*/bin/epmd; do
		if [ -x "$f" ]; then
			otp=$f
			break
		fi
	done
fi
[ -n "$otp" ] && [ -x "$otp" ] || die "OTP's epmd not found; set OTP_EPMD"

# Every registration is a socket, on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] || [ "$nofile" -gt $((big + 64)) ] ||
    echo "epmd.sh: warning: ulimit -n is $nofile, below $big registrations" >&2

if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	pin_daemon=(taskset -c 0)
	pin_load=(taskset -c 1)
else
	pin_daemon=()
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

# free_port [EXCLUDE]
free_port() {
	local p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		p=$("$load" freeport) || continue
		[ "$p" != "${1:-}" ] && { echo "$p"; return 0; }
	done
	return 1
}

# wait_ready PORT PID: up to 5 s for the daemon to answer NAMES.
wait_ready() {
	local i out
	for i in $(seq 1 50); do
		kill -0 "$2" 2>/dev/null || return 1
		out=$("$load" names -p "$1" -r 1 -t 200 2>/dev/null)
		[ "$(kv "$out" ok)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# start_daemon NAME PORT: starts it, sets $daemon_pid.
start_daemon() {
	local name=$1 port=$2
	if [ "$name" = otp ]; then
		"${pin_daemon[@]}" "$otp" -port "$port" -address 127.0.0.1 \
		    >"$tmp/$name.log" 2>&1 &
	else
		# shellcheck disable=SC2086
		"${pin_daemon[@]}" "$cairn" -port "$port" -address 127.0.0.1 \
		    ${CAIRN_FLAGS:-} \
		    >"$tmp/$name.log" 2>&1 &
	fi
	daemon_pid=$!
	pids+=("$daemon_pid")
	wait_ready "$port" "$daemon_pid" || {
		tail -20 "$tmp/$name.log" >&2
		die "$name epmd did not come up on port $port"
	}
}

# forget PID: a reaped child leaves the kill list, so that its pid,
# should the kernel reuse it, is never signalled.
forget() {
	local p keep=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

stop_daemon() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	forget "$1"
}

# hold_run NAME PORT PID N REPEATS: registers N names and, while they are
# held, takes the RSS and NAMES latency.  Sets reg_line, hold_rss,
# names_line, close_line.
hold_run() {
	local name=$1 port=$2 pid=$3 n=$4 rep=$5 lpid i
	local fifo=$tmp/hold.fifo out=$tmp/reg.$name.$n
	rm -f "$fifo"
	mkfifo "$fifo" || die "mkfifo failed"
	"${pin_load[@]}" "$load" register -p "$port" -n "$n" -w 32 -t 1000 \
	    -h 120 -i -P "$pid" <"$fifo" >"$out" 2>>"$tmp/load.err" &
	lpid=$!
	pids+=("$lpid")
	exec 7>"$fifo"
	reg_line=
	# Bounded by the generator's own deadlines; this is a backstop.
	for i in $(seq 1 1800); do
		reg_line=$(grep '^mode=register ' "$out" 2>/dev/null)
		[ -n "$reg_line" ] && break
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	sleep 0.2
	hold_rss=$(rss_kib "$pid")
	names_line=$("${pin_load[@]}" "$load" names -p "$port" -r "$rep" \
	    -t 2000 2>>"$tmp/load.err")
	exec 7>&-
	for i in $(seq 1 100); do
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	forget "$lpid"
	close_line=$(grep '^mode=register-close' "$out" 2>/dev/null)
	rm -f "$fifo"
}

# lookup_run NAME C: one lookup run; adds to the pooled totals.
lookup_run() {
	local name=$1 c=$2 port=${PORT[$1]} pid=${PID[$1]} line
	line=$("${pin_load[@]}" "$load" lookup -p "$port" -c "$c" \
	    -d "$seconds" -P "$pid" 2>>"$tmp/load.err")
	echo "  $name lookup c=$c: $line" >&2
	T[$name.ok.$c]=$(awk -v a="${T[$name.ok.$c]:-0}" \
	    -v b="$(kv "$line" ok)" 'BEGIN { print a + b }')
	T[$name.sec.$c]=$(awk -v a="${T[$name.sec.$c]:-0}" \
	    -v b="$(kv "$line" seconds)" 'BEGIN { print a + b }')
	T[$name.cpu.$c]=$(awk -v a="${T[$name.cpu.$c]:-0}" \
	    -v b="$(kv "$line" daemon_cpu)" 'BEGIN { print a + b }')
	T[$name.err.$c]=$(awk -v a="${T[$name.err.$c]:-0}" \
	    -v b="$(kv "$line" errors)" 'BEGIN { print a + b }')
	# The worst p99 of the rounds.
	T[$name.p99.$c]=$(awk -v a="${T[$name.p99.$c]:-0}" \
	    -v b="$(kv "$line" p99_us)" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
	# The spread of the rounds, to show how noisy the machine was.
	T[$name.pmin.$c]=$(awk -v a="${T[$name.pmin.$c]:-}" \
	    -v b="$(kv "$line" per_cpu_s)" \
	    'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
	T[$name.pmax.$c]=$(awk -v a="${T[$name.pmax.$c]:-0}" \
	    -v b="$(kv "$line" per_cpu_s)" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
	if ! kill -0 "$pid" 2>/dev/null; then
		R[$name.died]=${R[$name.died]:-"during lookups c=$c"}
	fi
}

# reg_runs NAME: the registration runs of one daemon, alone.
reg_runs() {
	local name=$1 port=${PORT[$1]} pid=${PID[$1]} n dropped

	R[$name.idle]=$(rss_kib "$pid")
	for n in $small $big; do
		if ! kill -0 "$pid" 2>/dev/null; then
			R[$name.died]=${R[$name.died]:-"before registering $n"}
			return
		fi
		hold_run "$name" "$port" "$pid" "$n" "$repeats"
		echo "  $name register n=$n: $reg_line" >&2
		echo "  $name names with $n: $names_line" >&2
		echo "  $name release: $close_line (rss ${hold_rss:-?} KiB)" >&2
		R[$name.reg.$n]=$(kv "$reg_line" ok)
		R[$name.regs.$n]=$(kv "$reg_line" seconds)
		R[$name.regrate.$n]=$(kv "$reg_line" rate)
		R[$name.regerr.$n]=$(kv "$reg_line" errors)
		R[$name.rss.$n]=$hold_rss
		R[$name.nok.$n]=$(kv "$names_line" ok)
		R[$name.nerr.$n]=$(kv "$names_line" errors)
		R[$name.np50.$n]=$(kv "$names_line" p50_ms)
		R[$name.np99.$n]=$(kv "$names_line" p99_ms)
		R[$name.nlines.$n]=$(kv "$names_line" names)
		dropped=$(kv "$close_line" dropped)
		R[$name.dropped.$n]=${dropped:-?}
		if ! kill -0 "$pid" 2>/dev/null; then
			R[$name.died]=${R[$name.died]:-"during the $n registration run"}
		fi
		sleep 0.5
	done
}

declare -A R T PORT PID
for name in otp cairn; do
	PORT[$name]=$(free_port "${PORT[otp]:-}") || die "no free port"
	start_daemon "$name" "${PORT[$name]}"
	PID[$name]=$daemon_pid
	echo "epmd.sh: $name epmd: pid ${PID[$name]}, port ${PORT[$name]}" >&2
done

# Lookups: both daemons up, runs interleaved and the order alternated
# each round, so that a burst of other load on the machine falls on both.
for c in $concs; do
	for round in $(seq 1 "$rounds"); do
		if [ $((round % 2)) = 1 ]; then
			order="otp cairn"
		else
			order="cairn otp"
		fi
		for name in $order; do
			lookup_run "$name" "$c"
		done
	done
	for name in otp cairn; do
		R[$name.rate.$c]=$(awk -v o="${T[$name.ok.$c]}" \
		    -v s="${T[$name.sec.$c]}" \
		    'BEGIN { if (s > 0) printf "%.0f", o / s }')
		R[$name.cpu.$c]=$(awk -v o="${T[$name.cpu.$c]}" -v r="$rounds" \
		    'BEGIN { printf "%.2f", o / r }')
		R[$name.percpu.$c]=$(awk -v o="${T[$name.ok.$c]}" \
		    -v s="${T[$name.cpu.$c]}" \
		    'BEGIN { if (s > 0) printf "%.0f", o / s }')
		R[$name.spread.$c]="${T[$name.pmin.$c]:-}-${T[$name.pmax.$c]:-}"
		R[$name.p99.$c]=${T[$name.p99.$c]}
		R[$name.err.$c]=${T[$name.err.$c]}
	done
done

# Registrations: one daemon at a time, each with the machine to itself.
for name in otp cairn; do
	reg_runs "$name"
done
for name in otp cairn; do
	if kill -0 "${PID[$name]}" 2>/dev/null; then
		stop_daemon "${PID[$name]}"
	else
		wait "${PID[$name]}" 2>/dev/null
		R[$name.status]=$?
		forget "${PID[$name]}"
	fi
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

per_reg() {
	# (RSS held - RSS idle) / registrations, in bytes.
	awk -v h="$1" -v i="$2" -v n="$3" 'BEGIN {
		if (h == "" || i == "" || n == "" || n + 0 == 0)
			print "-";
		else
			printf "%.0f\n", (h - i) * 1024 / n }'
}

# names_cell NAME N: "p50 / p99 ms" or why not.
names_cell() {
	local ok=${R[$1.nok.$2]:-} err=${R[$1.nerr.$2]:-}
	if [ -z "$ok" ] || [ "$ok" = 0 ]; then
		echo "failed (${err:-?} errors)"
	else
		echo "$(val "$1.np50.$2") / $(val "$1.np99.$2")"
	fi
}

row() {
	printf '%-40s %18s %18s %10s\n' "$1" "$2" "$3" "$4"
}

echo
echo "EPMD side by side: OTP $(basename "$(dirname "$(dirname "$otp")")") epmd vs Cairn epmd"
echo "$(nproc) CPUs; lookups: $rounds interleaved runs of ${seconds}s per daemon and concurrency, pooled${pin_daemon[*]:+; daemon on CPU 0, generator on CPU 1}"
echo
row "" "OTP" "Cairn" "Cairn/OTP"
for c in $concs; do
	row "lookups/s, $c concurrent" "$(val otp.rate.$c)" "$(val cairn.rate.$c)" \
	    "$(ratio "${R[cairn.rate.$c]:-}" "${R[otp.rate.$c]:-}")"
	row "  daemon CPU s per run" "$(val otp.cpu.$c)" "$(val cairn.cpu.$c)" \
	    "$(ratio "${R[cairn.cpu.$c]:-}" "${R[otp.cpu.$c]:-}")"
	row "  lookups per daemon CPU-s" "$(val otp.percpu.$c)" \
	    "$(val cairn.percpu.$c)" \
	    "$(ratio "${R[cairn.percpu.$c]:-}" "${R[otp.percpu.$c]:-}")"
	row "    spread of the rounds" "$(val otp.spread.$c)" \
	    "$(val cairn.spread.$c)" ""
	row "  p99 lookup latency us" "$(val otp.p99.$c)" "$(val cairn.p99.$c)" \
	    "$(ratio "${R[cairn.p99.$c]:-}" "${R[otp.p99.$c]:-}")"
	row "  errors" "$(val otp.err.$c)" "$(val cairn.err.$c)" ""
done
row "registrations held (of $big)" "$(val otp.reg.$big)" "$(val cairn.reg.$big)" \
    "$(ratio "${R[cairn.reg.$big]:-}" "${R[otp.reg.$big]:-}")"
row "  seconds to register them" "$(val otp.regs.$big)" "$(val cairn.regs.$big)" ""
row "  registrations/s" "$(val otp.regrate.$big)" "$(val cairn.regrate.$big)" \
    "$(ratio "${R[cairn.regrate.$big]:-}" "${R[otp.regrate.$big]:-}")"
row "  registrations dropped while held" "$(val otp.dropped.$big)" \
    "$(val cairn.dropped.$big)" ""
row "NAMES p50 / p99 ms, $small names" "$(names_cell otp "$small")" \
    "$(names_cell cairn "$small")" \
    "$(ratio "${R[cairn.np50.$small]:-}" "${R[otp.np50.$small]:-}")"
row "NAMES p50 / p99 ms, all held" "$(names_cell otp "$big")" \
    "$(names_cell cairn "$big")" ""
row "  names listed" "$(val otp.nlines.$big)" "$(val cairn.nlines.$big)" ""
row "RSS idle KiB" "$(val otp.idle)" "$(val cairn.idle)" \
    "$(ratio "${R[cairn.idle]:-}" "${R[otp.idle]:-}")"
row "RSS KiB, all held" "$(val otp.rss.$big)" "$(val cairn.rss.$big)" ""
otp_per=$(per_reg "${R[otp.rss.$big]:-}" "${R[otp.idle]:-}" "${R[otp.reg.$big]:-}")
cairn_per=$(per_reg "${R[cairn.rss.$big]:-}" "${R[cairn.idle]:-}" "${R[cairn.reg.$big]:-}")
row "RSS bytes per registration" "$otp_per" "$cairn_per" \
    "$(ratio "$cairn_per" "$otp_per")"
echo

# The targets, reported, never enforced.
verdict() {
	if [ "$1" = 1 ]; then echo "met"; else echo "MISSED"; fi
}
ok=1
for c in $concs; do
	r=$(awk -v a="${R[cairn.percpu.$c]:-0}" -v b="${R[otp.percpu.$c]:-0}" \
	    'BEGIN { print (b > 0 && a >= 1.5 * b) ? 1 : 0 }')
	[ "$r" = 1 ] || ok=0
done
echo "target: >= 1.5x OTP's lookups per daemon CPU-s at every concurrency: $(verdict $ok)"
r=$(awk -v n="${R[cairn.reg.$big]:-0}" 'BEGIN { print (n >= 10000) ? 1 : 0 }')
echo "target: 10,000+ registrations: $(verdict "$r")"
r=$(awk -v p="$cairn_per" 'BEGIN { print (p != "-" && p + 0 < 1024) ? 1 : 0 }')
echo "target: < 1 KiB RSS per registration: $(verdict "$r")"
for name in otp cairn; do
	if [ -n "${R[$name.died]:-}" ]; then
		echo "WARNING: $name epmd died ${R[$name.died]} (exit ${R[$name.status]:-?})"
	fi
done
if [ -s "$tmp/load.err" ]; then
	echo "generator messages:"
	sort "$tmp/load.err" | uniq -c | head -10
fi
exit 0
