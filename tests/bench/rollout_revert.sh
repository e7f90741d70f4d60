#!/usr/bin/env bash
# Time from a canary starting to fail to the revert being in the maps (a
# benchmark, not a test). The namespace lab (scripts/lab.sh, nat mode
# under XDP, real TCP), ~1,000 new connections a second, the canary at
# 5 %, a gate every second (error_ratio, max_increase 20 %, confidence
# 99 %). Load and backends are build/bench/connload (one epoll loop each):
# tcpnames.py's load, a Python thread per connection in flight, reached
# only 620-720 connections a second here, and its line server (a thread
# per connection, a 128-deep accept queue) timed out ~3 % of connections
# at 1,000/s, errors of the baseline that hid a 3x canary. The client
# namespace gets the whole port range and tcp_tw_reuse (its own sysctls):
# 1,000 connections a second leave more TIME_WAIT sockets than the
# default range has ports. Cases:
#   total  the canary's backends start refusing every connection (RST)
#   3x     the baseline refuses 2 % of connections all along; the canary
#          starts refusing 6 %
# t0 is taken right after the canary's nft rule is in place; the end is
# the first poll (every ~10 ms) that sees the service's kill word set.
# Also reported: the offered and the datapath's new flows a second over
# the failing period, and the canary's new flows in it (flows the bad
# canary got before the revert).
#   REVERT_RUNS=3 REVERT_RATE=1000 tests/bench/rollout_revert.sh
# Prints a table and writes build/bench/rollout_revert.json.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
CONNLOAD=build/bench/connload
[ -x "$CONNLOAD" ] || { echo "build $CONNLOAD first (make)" >&2; exit 1; }
RUNS=${REVERT_RUNS:-3}
RATE=${REVERT_RATE:-1000}
LIMIT=${REVERT_LIMIT:-120}
LAB_TAG=rv$$
rl_init
L2=
trap 'kill $L2 2>/dev/null; rl_cleanup' EXIT
cat >"$RL_DIR/plan.yaml" <<'P'
steps:
  - weight: 5%
    hold: 1h
gates:
  - metric: error_ratio
    interval: 1s
    max_increase: 20%
    confidence: 99%
    min_samples: 100
P
nft_refuse() {	# BACKENDS PERCENT
	local b
	for b in $1; do
		lab_in "$b" nft delete table inet rvb 2>/dev/null
		lab_in "$b" nft add table inet rvb
		lab_in "$b" nft add chain inet rvb in '{ type filter hook input priority 0; }'
		if [ "$2" = 100 ]; then
			lab_in "$b" nft add rule inet rvb in tcp dport "$LAB_PORT" tcp flags syn reject with tcp reset
		else
			lab_in "$b" nft add rule inet rvb in tcp dport "$LAB_PORT" tcp flags syn numgen random mod 100 \< "$2" reject with tcp reset
		fi
	done
}
heal() { local b; for b in b1 b2 b3 b4; do lab_in "$b" nft delete table inet rvb 2>/dev/null; done; return 0; }
now() { date +%s%3N; }
kill_on() { [ "$(lab_sluice -j service show web | json 'j["services"][0]["revert"]')" != off ]; }
# new flows: all, and the canary's
new_flows() { lab_sluice -j stats web | json 'sum(h["new_flows"] for h in j["services"][0]["health"])'; }
canary_flows() { lab_sluice -j stats web | json 'sum(h["new_flows"] for h in j["services"][0]["health"] if h["variant"]=="canary")'; }
# the lab's Python line servers -> connload serve (same protocol)
c_servers() {
	local b p t
	for b in b1 b2 b3 b4; do
		for p in $(ip netns pids "$(lab_ns "$b")"); do
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "tcpnames.py serve" && kill -9 "$p"
		done
		for t in $(seq 50); do	# until the old listener is gone
			lab_in "$b" "$CONNLOAD" serve "$b" "$LAB_PORT" </dev/null >/dev/null 2>&1 &
			sleep 0.1
			kill -0 $! 2>/dev/null && break
		done
	done
	lab_in cl sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
}

run() {	# CASE: writes "latency_ms decision_ms rate canary_flows offered" to $RL_DIR/run.out
	local case=$1 t0 t1 f0 f1 c0 c1 w0 w1 dec src=10.100.0.2
	# a fresh lab, instance and daemon per run: nothing of a previous run
	# (connection table entries, backend state) leaks into the next
	rl_kill9
	lab_down
	rm -f "$RL_DB" "$RL_DB-wal" "$RL_DB-shm"
	lab_up xdp nat >/dev/null || return 1
	lab_service web 4 >/dev/null || return 1
	rl_start || return 1
	c_servers
	[ "$case" = 3x ] && nft_refuse "b1 b2" 2
	ip netns exec "$(lab_ns cl)" "$CONNLOAD" load "$LAB_VIP4" "$LAB_PORT" \
		"$RATE" $((LIMIT + 30)) --timeout 1000 --src "$src" >"$RL_DIR/load.json" 2>/dev/null &
	L2=$!
	rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
	sleep 6		# healthy: the gate passes for a while
	f0=$(new_flows); c0=$(canary_flows); w0=$(now)
	if [ "$case" = total ]; then nft_refuse "b3 b4" 100; else nft_refuse "b3 b4" 6; fi
	t0=$(now)
	t1=
	while [ $(( $(now) - t0 )) -lt $((LIMIT * 1000)) ]; do
		kill_on && { t1=$(now); break; }
		sleep 0.01
	done
	f1=$(new_flows); c1=$(canary_flows); w1=$(now)
	kill $L2 2>/dev/null; wait $L2 2>/dev/null; L2=
	rid=$(rl_field web 'r["rollout_id"]')
	dec=$(rl -j rollout history web | json "([e['at_ms'] for e in j['events'] if e['type']=='rollback' and e['rollout_id']==$rid] or [0])[0]")
	echo "  ($case: $(rl_field web 'r["end_reason"] or r["status"]'))" >&2
	echo "  (load: $(cat "$RL_DIR/load.json"))" >&2
	echo "${t1:+$((t1 - t0))} $(( dec ? dec - t0 : -1 )) $(( (f1 - f0) * 1000 / (w1 - w0 + 1) )) $((c1 - c0))" \
		"$(json 'j["started"]/max(j["seconds"],0.001)' <"$RL_DIR/load.json" | cut -d. -f1)" >"$RL_DIR/run.out"
}

res=()
for c in total 3x; do
	for i in $(seq "$RUNS"); do
		# not $(run): the lab's background servers would hold that pipe
		: >"$RL_DIR/run.out"
		run "$c" </dev/null
		r=$(cat "$RL_DIR/run.out")
		echo "$c run $i: revert in the maps after ${r%% *} ms (latency_ms decision_ms new_flows_per_s canary_flows offered_per_s: $r)"
		res+=("$c $r")
	done
done
mkdir -p build/bench
printf '%s\n' "${res[@]}" | python3 -c '
import json, sys
rows = [l.split() for l in sys.stdin if l.strip()]
out = {}
for case in ("total", "3x"):
    rs = [r for r in rows if r[0] == case]
    lat = [int(r[1]) for r in rs if len(r) == 6]
    out[case] = {"runs": len(rs), "detected": len(lat), "latency_ms": lat,
                 "decision_ms": [int(r[-4]) for r in rs], "new_flows_per_s": [int(r[-3]) for r in rs],
                 "canary_flows_before_revert": [int(r[-2]) for r in rs],
                 "offered_per_s": [int(r[-1]) for r in rs]}
json.dump(out, open("build/bench/rollout_revert.json", "w"), indent=1)
for k, v in out.items():
    lat, det, runs, nf = v["latency_ms"], v["detected"], v["runs"], v["new_flows_per_s"]
    cf, off = v["canary_flows_before_revert"], v["offered_per_s"]
    print(f"{k:5s}: revert in the maps after {lat} ms (detected {det}/{runs}), new flows/s {nf}, "
          f"canary flows before the revert {cf}, offered/s {off}")
'
