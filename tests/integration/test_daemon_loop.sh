#!/usr/bin/env bash
# sluice-test: host-only (the daemon's own fds and threads: nothing here
# depends on the kernel, no instance is opened)
# sluiced runs one event loop (issue 20): every module registers its fds
# and timers on one scheduler, so the process holds one epoll set of its
# own (with the HTTP listener on, libmicrohttpd's epoll set is nested in
# it: two in all) and a single thread (the listener answers from the loop,
# its request deadline is a loop timer, not a watchdog thread); the
# control socket and /metrics both answer.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
SLUICED=build/sluiced
SLUICE=build/sluice
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
command -v curl >/dev/null || skip "needs curl"
DIR=$(mktemp -d /tmp/sluiced-loop.$$.XXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
PORT=$((19900 + $$ % 90))

start() {	# NAME METRICS-ADDR
	SOCK=$DIR/$1.sock
	"$SLUICED" -s "$SOCK" -D "$DIR/$1.db" -d "$DIR/no-instance" -m "$2" >"$DIR/$1.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		SLUICE_SOCKET=$SOCK "$SLUICE" rollout status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
epolls() { local n=0 f; for f in /proc/"$PID"/fd/*; do
	[ "$(readlink "$f")" = "anon_inode:[eventpoll]" ] && n=$((n + 1)); done; echo $n; }
threads() { ls /proc/"$PID"/task | wc -l; }
stop() { kill -TERM "$PID"; wait "$PID"; PID=; }

echo "== listener off"
check "sluiced starts" start off off
n=$(epolls); t=$(threads)
check "one epoll set (got $n)" [ "$n" = 1 ]
check "one thread (got $t)" [ "$t" = 1 ]
stop

echo "== listener on"
check "sluiced starts" start on "127.0.0.1:$PORT"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/metrics")
check "/metrics answers from the loop (HTTP $code)" [ "$code" = 200 ]
check "the control socket answers too" env SLUICE_SOCKET="$SOCK" "$SLUICE" rollout status
n=$(epolls); t=$(threads)
check "the loop's epoll set and libmicrohttpd's nested in it (got $n)" [ "$n" = 2 ]
check "one thread: no listener or watchdog thread (got $t)" [ "$t" = 1 ]
stop
t_done
