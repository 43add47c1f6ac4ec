#!/bin/sh
# conf/demo.sh: three MQTT broker nodes that cluster themselves on this
# host, and one message published on node 1 that a subscriber on node 3
# receives.
#
#	sh conf/demo.sh            (BUILD=dir picks another build directory)
#
# Uses an epmd already on port 4369 (OTP's or Cairn's), else starts
# $BUILD/epmd/epmd there.  Starts cairn-broker with conf/demo-node1.yaml,
# -node2 and -node3 (MQTT on 127.0.0.1:1883, 1884, 1885), waits until
# `cairn cluster status` shows every node linked to the two others, runs
# mosquitto_sub on node 3 and mosquitto_pub on node 1, prints what
# arrived, then keeps the nodes running until Ctrl-C, when it stops every
# process it started (by pid) and removes its scratch directory.
set -u

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
CONF=$(cd "$(dirname "$0")" && pwd)
EPMD=$BUILD/epmd/epmd
BROKER=$BUILD/broker/cairn-broker
CAIRN=$BUILD/cli/cairn
WAIT_S=30

for exe in "$EPMD" "$BROKER" "$CAIRN"; do
	if [ ! -x "$exe" ]; then
		echo "demo: $exe is missing: build first (meson compile -C" \
		    "$BUILD)" >&2
		exit 1
	fi
done
for exe in mosquitto_sub mosquitto_pub; do
	if ! command -v $exe >/dev/null 2>&1; then
		echo "demo: $exe is missing (apt-get install" \
		    "mosquitto-clients)" >&2
		exit 1
	fi
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX") || exit 1
PIDS=""

cleanup() {
	trap - EXIT INT TERM
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $PIDS; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; cleanup; exit 0' INT TERM

cd "$DIR" || exit 1
unset ERL_EPMD_PORT

if "$EPMD" -names >/dev/null 2>&1; then
	echo "demo: using the epmd already on port 4369"
else
	"$EPMD" >epmd.log 2>&1 &
	PIDS="$PIDS $!"
	echo "demo: started epmd on port 4369 (pid $!)"
fi

for i in 1 2 3; do
	"$BROKER" -d -c "$CONF/demo-node$i.yaml" >"node$i.log" 2>&1 &
	PIDS="$PIDS $!"
	echo "demo: started node$i@localhost, MQTT on 127.0.0.1:188$((i + 2))" \
	    "(pid $!, log $DIR/node$i.log)"
done

# Each node linked to the two others: two peers "up" in its status.
ups() {
	"$CAIRN" cluster status --json -s "node$1.sock" 2>/dev/null |
	    grep -o '"state":"up"' | wc -l
}
n=0
until [ "$(ups 1)" -eq 2 ] && [ "$(ups 2)" -eq 2 ] && [ "$(ups 3)" -eq 2 ]
do
	n=$((n + 1))
	if [ $n -gt $((WAIT_S * 5)) ]; then
		echo "demo: the nodes did not cluster in ${WAIT_S}s; logs:" >&2
		tail -n 20 node*.log >&2
		exit 1
	fi
	sleep 0.2
done
echo
echo "demo: the cluster, as node 1 sees it (cairn cluster status):"
"$CAIRN" cluster status -s node1.sock
echo

mosquitto_sub -h 127.0.0.1 -p 1885 -t 'demo/#' -v -C 1 -W 10 >sub.out \
    2>&1 &
SUB=$!
PIDS="$PIDS $SUB"
# Node 1 knows node 3's route once the subscription has travelled.
n=0
until "$CAIRN" cluster status --json -s node1.sock 2>/dev/null |
    grep -q '"node":"node3@localhost","state":"up"[^}]*"routes":[1-9]'; do
	n=$((n + 1))
	[ $n -gt 50 ] && break
	sleep 0.2
done
echo "demo: mosquitto_pub on node 1 (port 1883): demo/hello 'hello from" \
    "node1'"
mosquitto_pub -h 127.0.0.1 -p 1883 -t demo/hello -m 'hello from node1'
wait "$SUB" 2>/dev/null
echo "demo: mosquitto_sub on node 3 (port 1885) received:"
sed 's/^/    /' sub.out
echo
echo "demo: three nodes running; try, in another terminal:"
echo "    mosquitto_sub -p 1885 -t 'demo/#' -v"
echo "    mosquitto_pub -p 1883 -t demo/x -m hi"
echo "    $CAIRN cluster status -s $DIR/node2.sock"
echo "demo: Ctrl-C stops them."
for pid in $PIDS; do
	wait "$pid" 2>/dev/null
done
