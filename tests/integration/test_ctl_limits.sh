#!/usr/bin/env bash
# sluice-test: host-only (the control socket of a real sluiced; no datapath)
# The control socket's limits (issue 19):
# - 20 clients pipelining `status` without ever reading a reply do not
#   stall the daemon's one loop: a `ping` meanwhile is answered promptly
#   (within a generous 3 s: behaviour, not a benchmark), and the clients
#   that fell behind are closed, never waited for;
# - one unprivileged user gets at most 8 connections (the 9th is refused
#   with a reply line naming the limit), and 64 idle connections of
#   unprivileged users (8 users x 8) leave room for root;
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SLUICED=$PWD/build/sluiced
S=$PWD/build/sluice
HELPER=$PWD/tests/integration/ctl_limits.py
need_root
[ -x "$SLUICED" ] || skip "build/sluiced is missing: run make"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
command -v groupadd >/dev/null || skip "needs groupadd (passwd)"

D=$(mktemp -d /tmp/sl-ctl-XXXXXX)
chmod 0711 "$D"
GRP=slctl$$
PID=
HOLDERS=()
cleanup() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
	rm -rf "$D"
	return 0
}
trap cleanup EXIT
groupadd "$GRP" || skip "cannot add a group"
SOCK=$D/ctl.sock
"$SLUICED" --socket "$SOCK" --socket-group "$GRP" --db "$D/state.db" \
	--pin-dir "/sys/fs/bpf/sluice-ctl-none-$$" --audit-log "$D/audit.jsonl" \
	--metrics off >"$D/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	SLUICE_SOCKET=$SOCK "$S" rollout status >/dev/null 2>&1 && break
	sleep 0.05
done
check "sluiced answers" env SLUICE_SOCKET="$SOCK" "$S" rollout status
ask() { $PY "$HELPER" ask "$SOCK" "$@"; }	# as root
ping_ok() { [ "$(ask '{"v":1,"cmd":"ping"}' | json 'j.get("code")')" = 0 ]; }
# as_uid UID CMD...: CMD as UID, in the socket's group (its primary group)
as_uid() { local u=$1; shift; setpriv --reuid "$u" --regid "$GRP" --clear-groups "$@"; }

# --- non-readers
R=$($PY "$HELPER" pipeline "$SOCK" 20 10)
echo "    $R"
check "20 non-reading pipeliners: a ping meanwhile is answered within 3 s" \
	test "$(echo "$R" | json 'j["ping_s"] is not None and j["ping_s"] < 3')" = True
check "  ... and the daemon closed the clients that fell behind" \
	test "$(echo "$R" | json 'j["closed"]')" = 20
check "  ... and still answers afterwards" ping_ok

# --- connections per user
hold() {	# hold OUT UID N: UID holds N idle connections (background)
	as_uid "$2" $PY "$HELPER" hold "$SOCK" "$3" >"$1" &
	HOLDERS+=($!)
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}
hold "$D/h1" 61001 64
echo "    $(cat "$D/h1")"
check "one unprivileged user, 64 idle connections: 8 accepted" \
	test "$(json 'j["accepted"]' <"$D/h1")" = 8
check "  ... the other 56 refused with a line naming the limit" \
	test "$(json 'j["refused"] == 56 and "8 per user" in j["first"]' <"$D/h1")" = True
check "  ... root still gets in" ping_ok
OUT=$(as_uid 61001 env SLUICE_SOCKET="$SOCK" "$S" rollout status 2>&1)
check "  ... the CLI of that user says why ('$(echo "$OUT" | head -n1 | cut -c1-90)')" \
	grep -q "8 per user" <<<"$OUT"
check "  ... another user still gets in" \
	test "$(as_uid 61002 $PY "$HELPER" ask "$SOCK" '{"v":1,"cmd":"ping"}' | json 'j.get("code")')" = 0
for u in 61002 61003 61004 61005 61006 61007 61008; do
	hold "$D/h$u" "$u" 8 || fail "holder $u did not report"
done
TOTAL=$(cat "$D"/h* | $PY -c 'import json,sys; print(sum(json.loads(l)["accepted"] for l in sys.stdin))')
echo "    held by 8 unprivileged users: $TOTAL connections"
check "64 idle connections of 8 unprivileged users: the table keeps room for root" \
	test "$TOTAL" -lt 64
check "  ... root gets in" ping_ok
check "  ... and can run a command" env SLUICE_SOCKET="$SOCK" "$S" rollout status
check "  ... another unprivileged user is refused: the table is full for it" \
	test "$(as_uid 61009 $PY "$HELPER" ask "$SOCK" '{"v":1,"cmd":"ping"}' | json 'j.get("code")')" = 31
check "sluiced is still running" kill -0 "$PID"
t_done
