#!/usr/bin/env bash
# sluice-test: host-only (sluiced's HTTP listener on loopback; no datapath)
# sluiced's HTTP listener (/metrics, /api/status, the status page) against
# DNS rebinding and slow clients (issue 19):
# - a request whose Host is not the listener's (a rebinding page on the
#   node would send its own name) is refused with 421 and read nothing;
#   the listener's address and, on loopback, localhost are answered; a
#   name given with --metrics-host is answered;
# - 70 slow-header connections (a header byte a second: never idle, never
#   done) from one address do not keep /metrics from answering: another
#   address is answered at once (connections per address are limited) and
#   the same address once the slow ones reach the whole-request deadline
#   (they are closed by the server).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SLUICED=$PWD/build/sluiced
need_root
[ -x "$SLUICED" ] || skip "build/sluiced is missing: run make"
command -v curl >/dev/null || skip "needs curl"

PORT=$((19400 + $$ % 500))
D=$(mktemp -d /tmp/sl-http-XXXXXX)
PID=
SLOW=
cleanup() {
	[ -n "$SLOW" ] && kill "$SLOW" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
	return 0
}
trap cleanup EXIT
start() {	# start [sluiced options]
	"$SLUICED" --socket "$D/ctl.sock" --db "$D/state.db" --pin-dir "/sys/fs/bpf/sluice-http-none-$$" \
		--audit-log "$D/audit.jsonl" --metrics "127.0.0.1:$PORT" "$@" >>"$D/log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/metrics" && return 0
		sleep 0.05
	done
	return 1
}
stop() { kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
# code [curl args] URL-PATH: the HTTP status of a GET
code() { local p=${*: -1}; curl -s -o "$D/body" -w '%{http_code}' -m 5 "${@:1:$#-1}" "http://127.0.0.1:$PORT$p"; }

check "sluiced serves /metrics on 127.0.0.1:$PORT" start
check "Host 127.0.0.1:$PORT (the listener's address): /metrics answered" test "$(code /metrics)" = 200
check "Host localhost:$PORT on a loopback listener: answered" \
	test "$(code -H "Host: localhost:$PORT" /metrics)" = 200
C=$(code -H "Host: rebind.example:$PORT" /api/status)
check "Host rebind.example (a DNS-rebinding page): /api/status refused with 421 (got $C)" test "$C" = 421
check "  ... with a reason naming --metrics-host" grep -q -- "--metrics-host" "$D/body"
C=$(code -H "Host: rebind.example" /metrics)
check "  ... /metrics too (got $C)" test "$C" = 421
C=$(code -H "Host: rebind.example" /)
check "  ... and the status page (got $C)" test "$C" = 421
C=$(code -H "Host: 10.1.2.3:$PORT" /metrics)
check "Host of another address: refused (got $C)" test "$C" = 421

# slow headers
$PY tests/integration/http_slow.py 127.0.0.1 "$PORT" 70 25 >"$D/slow" &
SLOW=$!
sleep 2
C=$(curl -s -o /dev/null -w '%{http_code}' -m 3 --interface 127.0.0.2 "http://127.0.0.1:$PORT/metrics")
check "70 slow-header connections from 127.0.0.1: /metrics from 127.0.0.2 answered at once (got $C)" test "$C" = 200
T0=$(date +%s)
C=000
while [ "$C" != 200 ] && [ $(( $(date +%s) - T0 )) -lt 15 ]; do
	C=$(curl -s -o /dev/null -w '%{http_code}' -m 3 "http://127.0.0.1:$PORT/metrics")
	[ "$C" = 200 ] || sleep 0.5
done
echo "    /metrics from 127.0.0.1 answered after ~$(( $(date +%s) - T0 )) s"
check "  ... and from 127.0.0.1 too, while they drip" test "$C" = 200
wait "$SLOW"; SLOW=
echo "    $(cat "$D/slow")"
check "  ... the server closed every slow connection (none held open)" \
	test "$(json 'j["open"]' <"$D/slow")" = 0
check "  ... and still answers" test "$(code /metrics)" = 200
stop

check "sluiced with --metrics-host node1.example" start --metrics-host node1.example
check "  ... answers Host node1.example:$PORT" test "$(code -H "Host: node1.example:$PORT" /metrics)" = 200
check "  ... and NODE1.EXAMPLE (names are case-insensitive)" test "$(code -H "Host: NODE1.EXAMPLE" /metrics)" = 200
check "  ... still refuses another name" test "$(code -H "Host: node2.example" /metrics)" = 421
stop
OUT=$("$SLUICED" --socket "$D/ctl2.sock" --db "$D/state2.db" --metrics-host 'bad name!' --metrics off 2>&1)
check "--metrics-host 'bad name!': refused, naming it ('$(echo "$OUT" | head -n1 | cut -c1-80)')" \
	grep -q "bad name!" <<<"$OUT"
t_done
