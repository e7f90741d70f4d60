#!/usr/bin/env bash
# Helpers of the sluiced integration tests (sourced from the tree's root;
# brings lib.sh and scripts/lab.sh along): a daemon per test with its own
# socket, database and audit log under a temporary directory, the CLI
# against it, a paced load generator, map snapshots, canary faults.
RL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$RL_ROOT/tests/integration/lib.sh"
source "$RL_ROOT/scripts/lab.sh"
SLUICED=${SLUICED:-$RL_ROOT/build/sluiced}
RL_DIR=
RL_PID=
RL_LOAD=

# rl_setup TAG [TOOL...]: the start every daemon lab test shares: root,
# build/sluiced and the tools it needs (else skip), a lab tag unique to the
# test ($$), the daemon's directory, rl_cleanup on every exit (a test with
# more to clean sets its own trap afterwards and calls rl_cleanup from it)
rl_setup() {
	local t
	need_root
	[ -x "$SLUICED" ] || skip "build/sluiced is not built"
	for t in "${@:2}"; do
		command -v "$t" >/dev/null || skip "needs $t (scripts/deps.sh)"
	done
	LAB_TAG=$1$$
	rl_init
	trap rl_cleanup EXIT
}

rl_init() {	# a fresh directory for the daemon's files
	RL_DIR=$(mktemp -d "/tmp/sluiced-test.$$.XXXX")
	RL_SOCK=$RL_DIR/ctl.sock
	RL_DB=$RL_DIR/state.db
	RL_AUDIT=$RL_DIR/audit.jsonl
	RL_LOG=$RL_DIR/sluiced.log
}

rl_cleanup() {
	rl_load_stop
	[ -n "$RL_PID" ] && kill -9 "$RL_PID" 2>/dev/null
	RL_PID=
	lab_down
	[ -n "$RL_DIR" ] && rm -rf "$RL_DIR"
	return 0
}

# rl_start [sluiced options]: start the daemon in the LB namespace, wait
# for its socket to answer
rl_start() {
	nsenter --net="/run/netns/$(lab_ns lb)" "$SLUICED" --socket "$RL_SOCK" \
		--db "$RL_DB" --pin-dir "$(lab_pin)" --audit-log "$RL_AUDIT" -v "$@" \
		>>"$RL_LOG" 2>&1 &
	RL_PID=$!
	local t
	for t in $(seq 100); do
		rl rollout status >/dev/null 2>&1 && return 0
		kill -0 "$RL_PID" 2>/dev/null || { RL_PID=; return 1; }
		sleep 0.05
	done
	return 1
}

rl_stop() { [ -n "$RL_PID" ] && kill "$RL_PID" && wait "$RL_PID" 2>/dev/null; RL_PID=; }
rl_kill9() { [ -n "$RL_PID" ] && kill -9 "$RL_PID" && wait "$RL_PID" 2>/dev/null; RL_PID=; }

rl() { SLUICE_SOCKET=$RL_SOCK lab_sluice "$@"; }
# a field of `sluice -j rollout status SERVICE`: rl_field web 'r["phase"]'
rl_field() {
	rl -j rollout status "$1" | json "(lambda r: $2)(j['rollouts'][0])"
}
# rl_wait SECONDS PYTHON-CONDITION-ON-r SERVICE: poll the status
rl_wait() {
	local secs=$1 cond=$2 svc=$3 end
	end=$(( $(date +%s) + secs ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(rl -j rollout status "$svc" 2>/dev/null | json "(lambda r: bool($cond))(j['rollouts'][0])" 2>/dev/null)" = True ] && return 0
		sleep 0.2
	done
	# what the condition saw, and what sluiced said last
	echo "    rl_wait: not within ${secs}s: $cond; rollout status $svc:"
	rl rollout status "$svc" 2>&1 | head -n 8 | sed 's/^/      | /'
	tail -n 8 "$RL_LOG" 2>/dev/null | sed 's/^/      log: /'
	return 1
}

# rl_within SECONDS CMD...: poll CMD until it succeeds (false after SECONDS)
rl_within() {
	local end=$(( $(date +%s) + $1 )); shift
	while [ "$(date +%s)" -le "$end" ]; do "$@" 2>/dev/null && return 0; sleep 0.2; done
	return 1
}

# Paced load from the client namespace for SECONDS (background).
rl_load_start() {	# RATE SECONDS [FAMILY]
	# ip netns exec execs the command: $! is the generator itself
	ip netns exec "$(lab_ns cl)" python3 "$TCPNAMES" load "$(lab_vip "${3:-4}")" "$LAB_PORT" "$1" "$2" \
		--timeout 2 >"$RL_DIR/load.json" 2>/dev/null &
	RL_LOAD=$!
}
rl_load_stop() {
	[ -n "$RL_LOAD" ] && kill "$RL_LOAD" 2>/dev/null && wait "$RL_LOAD" 2>/dev/null
	RL_LOAD=
	return 0
}

# What the daemon may change: the live configuration, kill words, exposure.
rl_snapshot() {	# SERVICE
	{
		lab_sluice -j export
		lab_sluice -j service show "$1" 2>/dev/null
	}
}

# rl_canary_fault KIND: the canary's backends (b3, b4), on the service
# port: refuse (every SYN answered with a RST), silent (every SYN
# dropped), slow (each connection's first SYN dropped: it is answered only
# after the client's retransmission, ~1 s late)
rl_canary_fault() {
	local b
	for b in b3 b4; do
		lab_in "$b" nft add table inet rltest
		lab_in "$b" nft add chain inet rltest in '{ type filter hook input priority 0; }'
		case $1 in
		refuse) lab_in "$b" nft add rule inet rltest in tcp dport "$LAB_PORT" tcp flags syn reject with tcp reset ;;
		silent) lab_in "$b" nft add rule inet rltest in tcp dport "$LAB_PORT" tcp flags syn drop ;;
		slow)
			lab_in "$b" nft add set inet rltest seen4 '{ type ipv4_addr . inet_service; flags dynamic; timeout 30s; }'
			lab_in "$b" nft add set inet rltest seen6 '{ type ipv6_addr . inet_service; flags dynamic; timeout 30s; }'
			lab_in "$b" nft add rule inet rltest in tcp dport "$LAB_PORT" tcp flags syn ip saddr . tcp sport != @seen4 update @seen4 '{ ip saddr . tcp sport }' drop
			lab_in "$b" nft add rule inet rltest in tcp dport "$LAB_PORT" tcp flags syn ip6 saddr . tcp sport != @seen6 update @seen6 '{ ip6 saddr . tcp sport }' drop
			;;
		esac
	done
}
rl_canary_refuse() { rl_canary_fault refuse; }
rl_canary_heal() {
	local b
	for b in b3 b4; do lab_in "$b" nft delete table inet rltest 2>/dev/null; done
	return 0
}
