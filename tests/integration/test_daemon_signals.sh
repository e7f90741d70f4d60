#!/usr/bin/env bash
# sluice-test: host-only (signals of the daemon's own process: nothing here
# depends on the kernel, no instance is opened)
# sluiced and its signals, with the HTTP listener on (the default: it
# starts libmicrohttpd's thread) and off:
#   - SIGHUP is a reload (the unit's ExecReload): the daemon lives on, says
#     so in its log and answers on its socket
#   - SIGTERM and SIGINT stop it cleanly: exit status 0, the control socket
#     file removed, the stop in the log
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
SLUICED=build/sluiced
SLUICE=build/sluice
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
DIR=$(mktemp -d /tmp/sluiced-sig.$$.XXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
PORT=$((19000 + $$ % 900))

start() {	# NAME METRICS-ADDR
	SOCK=$DIR/$1.sock LOG=$DIR/$1.log
	"$SLUICED" -s "$SOCK" -D "$DIR/$1.db" -d "$DIR/no-instance" -m "$2" >"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		SLUICE_SOCKET=$SOCK "$SLUICE" rollout status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
alive_answers() { kill -0 "$PID" 2>/dev/null && SLUICE_SOCKET=$SOCK "$SLUICE" rollout status >/dev/null 2>&1; }
# wait for the daemon's exit: its status, or 255 when it did not end in 5 s
exit_status() {
	local i
	for i in $(seq 100); do
		kill -0 "$PID" 2>/dev/null || { wait "$PID"; local rc=$?; PID=; return $rc; }
		sleep 0.05
	done
	return 255
}

for metrics in "127.0.0.1:$PORT" off; do
	tag="listener ${metrics/#127*/on}"
	echo "== $tag"
	check "$tag: sluiced starts" start hup "$metrics"
	kill -HUP "$PID"
	sleep 0.5
	check "$tag: SIGHUP: still running and answering" alive_answers
	check "$tag: SIGHUP: the reload is in the log" grep -q "SIGHUP" "$LOG"
	kill -HUP "$PID"; sleep 0.3
	check "$tag: a second SIGHUP: still running" alive_answers
	kill -TERM "$PID"
	exit_status; rc=$?
	check "$tag: SIGTERM: exit status 0 (was $rc)" [ "$rc" = 0 ]
	check "$tag: SIGTERM: the socket file is removed" [ ! -e "$SOCK" ]
	check "$tag: SIGTERM: the stop is in the log" grep -q "signal 15: stopping" "$LOG"

	check "$tag: sluiced starts again" start int "$metrics"
	kill -INT "$PID"
	exit_status; rc=$?
	check "$tag: SIGINT: exit status 0 (was $rc)" [ "$rc" = 0 ]
	check "$tag: SIGINT: the socket file is removed" [ ! -e "$SOCK" ]
done
t_done
