#!/usr/bin/env bash
# Helpers for integration tests: checks that print what they checked.
T_FAILS=0
T_CHECKS=0

ok() { T_CHECKS=$((T_CHECKS + 1)); echo "  ok: $*"; }
fail() { T_CHECKS=$((T_CHECKS + 1)); T_FAILS=$((T_FAILS + 1)); echo "  FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
skip() { echo "$*" >&2; exit 77; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root (namespaces, BPF)"; }
t_done() { echo "$T_CHECKS checks, $T_FAILS failed"; [ "$T_FAILS" = 0 ]; }

# json EXPR < json: evaluate a python expression over the parsed document j
PY=python3
[ -x /usr/bin/python3 ] && PY="/usr/bin/python3 -S"	# starts 5x faster
json() { $PY -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
# db_version DB: the version of the last sluiced that opened state database DB
db_version() {
	python3 -c "import sqlite3,sys; r=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True).execute(\"SELECT value FROM meta WHERE key='sluiced_version'\").fetchone(); print(r[0] if r else '')" "$1" 2>/dev/null
}

# hold_checks TAG WHAT OUT: the last line of `tcpnames.py hold` (OUT) says
# no live connection moved or failed, and they spanned both pools
hold_checks() {
	check "$1: $(echo "$3" | json 'len(j["conns"])') live connections kept their backend through $2" \
		[ "$(echo "$3" | json 'sum(c["changed"] for c in j["conns"])')" = 0 ]
	check "$1: no live connection was reset or failed" \
		[ "$(echo "$3" | json 'sum(c["errors"] for c in j["conns"])')" = 0 ]
	check "$1: live connections spanned both pools" \
		[ "$(echo "$3" | json 'len(set(c["backend"] for c in j["conns"]))')" -ge 3 ]
}
