#!/usr/bin/env bash
# sluice-test: host-only (sluiced in real time against the lab's datapath; the
# kernel side it uses is tested in the guest by the datapath and lab tests)
# What a rollback does to the canary's live flows (the plan's on_rollback:
# live_flows:, issue 21), with real TCP through the lab (nat mode): at 50 %,
# long-lived connections held on both pools and UDP flows on a second
# service; then the canary refuses new connections, a gate fails and the
# rollout is rolled back (the UDP service's rollout is aborted: `rollout
# abort` takes the same path). Under each option:
#   keep      the canary connections and UDP flows stay on the canary
#   reset     they leave at once: TCP gets a reset from the baseline side,
#             the UDP flows arrive at the baseline's backends
#   drain 3s  they stay until the drain's reset (its audit record), then
#             leave as under reset
# and in every case no baseline connection is touched. The audit trail
# counts the live canary flows at the rollback and says when the last
# canary packet was seen. Times are printed, not asserted.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup lf nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
UPORT=$((19400 + $$ % 500))
K=12
fresh() {
	rl_canary_heal
	lab_sluice service del web >/dev/null 2>&1
	lab_sluice service del wu >/dev/null 2>&1
	lab_service web 4 >/dev/null || return 1
	lab_sluice service add wu vip "$LAB_VIP4" port $UPORT protocol udp mode nat >/dev/null &&
		for i in 1 2 3 4; do
			pool=baseline
			[ $i -gt 2 ] && pool=canary
			lab_sluice backend add wu 10.101.0.1$i pool $pool >/dev/null || return 1
		done
}
audit_at() {	# SERVICE TYPE TEXT-RE: at_ms of the last such record (0: none)
	python3 - "$RL_AUDIT" "$@" <<'EOF'
import json, re, sys
at = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("service") == sys.argv[2] and e.get("type") == sys.argv[3] and re.search(sys.argv[4], e.get("text", "")):
        at = e["at_ms"]
print(at)
EOF
}
# over the hold's JSON: "CANARY-LEFT CANARY-ALL BASELINE-CLEAN" and the times
hold_sum() {	# FILE ROLLBACK-AT-MS
	python3 - "$1" "$2" <<'EOF'
import json, sys
j = [json.loads(l) for l in open(sys.argv[1]) if '"conns"' in l][0]["conns"]
t0 = int(sys.argv[2]) / 1000.0
can = [c for c in j if c["backend"] in ("b3", "b4")]
base = [c for c in j if c["backend"] in ("b1", "b2")]
left = [c for c in can if c["errors"]]
clean = all(not c["errors"] and not c["changed"] for c in base)
late = max([c["error_at"] - t0 for c in left] or [0])
print(len(left), len(can), len(base), int(clean), "%.1f" % late)
EOF
}
# over the UDP sinks: flows seen on a canary backend, how many of those
# reached a baseline backend after the rollback, the last canary datagram
udp_sum() {	# ROLLBACK-AT-MS
	python3 - "$RL_DIR" "$1" <<'EOF'
import json, sys
d, t0 = sys.argv[1], int(sys.argv[2]) / 1000.0
s = {i: json.load(open("%s/usink%d" % (d, i))) for i in (1, 2, 3, 4)}
can = set(s[3]["ports"]) | set(s[4]["ports"])
moved = [p for p in can if any(s[b]["first_at"].get(p, 0) >= t0 - 0.5 for b in (1, 2))]
last = max([s[b]["last_at"].get(p, 0) for b in (3, 4) for p in can] or [t0]) - t0
print(len(can), len(moved), "%.1f" % last)
EOF
}

within_audit() {	# SERVICE TEXT: a record of it within 10 s
	local t
	for t in $(seq 100); do
		grep -q "\"service\":\"$1\".*$2" "$RL_AUDIT" && return 0
		sleep 0.1
	done
	return 1
}

check "sluiced starts" rl_start
SPORT=$((UPORT + 100))
for mode in keep reset "drain 3s"; do
	SPORT=$((SPORT + 10))	# new UDP tuples: the last option's entries stay
	# and new TCP ones: a canary backend still holds the sockets of the
	# connections a reset took from it (it is never told), and a new
	# connection on such a tuple would meet one
	ROUND=$((${ROUND:-0} + 1))
	lab_in cl sysctl -qw net.ipv4.ip_local_port_range="$((30000 + ROUND * 8000)) $((37000 + ROUND * 8000))"
	echo "== live_flows: $mode"
	check "fresh services" fresh
	: >"$RL_AUDIT"	# this option's records only (sluiced appends)
	cat >"$RL_DIR/plan.yaml" <<EOF
steps:
  - weight: 50%
    hold: 10m
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
on_rollback:
  live_flows: $mode
EOF
	sed 's/min_samples: 5/min_samples: 100000/' "$RL_DIR/plan.yaml" >"$RL_DIR/uplan.yaml"
	rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
	rl rollout start wu -f "$RL_DIR/uplan.yaml" >/dev/null
	check "[$mode] both at 50 %" rl_wait 10 'r["weight"][0]==5000' web
	rl_wait 10 'r["weight"][0]==5000' wu
	PIDS=()
	for i in 1 2 3 4; do
		lab_in b$i python3 "$TCPNAMES" udpsink $UPORT 16 >"$RL_DIR/usink$i" &
		PIDS+=($!)
	done
	lab_in cl python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" $K 14 >"$RL_DIR/hold" &
	HOLD=$!
	lab_in cl python3 "$TCPNAMES" udpflows "$LAB_VIP4" $UPORT 8 20 14 --sport $SPORT >/dev/null &
	PIDS+=($!)
	for t in $(seq 50); do grep -q ready "$RL_DIR/hold" && break; sleep 0.1; done
	grep -q ready "$RL_DIR/hold" || { lab_in b3 nft list ruleset; lab_sluice service show web; lab_sluice -j stats web; }
	sleep 1
	rl_canary_refuse	# new connections only: the held ones go on
	rl_load_start 300 600
	check "[$mode] rolled back by the gate" rl_wait 20 'r["phase"]=="rolled_back"' web
	rl rollout abort wu >/dev/null
	rl_load_stop
	wait $HOLD
	wait "${PIDS[@]}"	# the UDP sender and sinks (not the daemon)
	t0=$(audit_at web rollback .)
	[ "$t0" = 0 ] && t0=$(audit_at web live_flows "kill switch set")
	read -r left can base clean late <<<"$(hold_sum "$RL_DIR/hold" "$t0")"
	read -r ucan umoved ulast <<<"$(udp_sum "$(audit_at wu live_flows "kill switch set")")"
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] in ("rollback", "abort", "live_flows"): print("  audit: %s: %s" % (e["service"], e["text"]))' "$RL_AUDIT"
	echo "  [$mode] TCP: $left of $can canary connections left the canary (the last ${late}s after the rollback); $base on the baseline"
	echo "  [$mode] UDP: $umoved of $ucan canary flows moved to the baseline; last canary datagram ${ulast}s after the abort"
	check "[$mode] connections on both pools ($can canary, $base baseline)" [ "$can" -gt 0 ] && [ "$base" -gt 0 ]
	check "[$mode] UDP flows on the canary ($ucan)" [ "$ucan" -gt 0 ]
	check "[$mode] no baseline connection touched" [ "$clean" = 1 ] ||
		sed 's/^/    hold: /' "$RL_DIR/hold"
	check "[$mode] the audit counts the live canary flows at the kill" \
		grep -q "\"service\":\"web\".*kill switch set: [1-9][0-9]* live canary flows ([1-9][0-9]* TCP, 0 UDP); live_flows: ${mode%% *}" "$RL_AUDIT"
	check "[$mode] and when the last left" within_audit web "no live canary flow left"
	case $mode in
	keep)
		check "[keep] every canary connection stayed ($left left)" [ "$left" = 0 ]
		check "[keep] no UDP flow moved ($umoved)" [ "$umoved" = 0 ]
		;;
	reset)
		check "[reset] every canary connection was reset ($left of $can)" [ "$left" = "$can" ]
		check "[reset] every UDP canary flow moved ($umoved of $ucan)" [ "$umoved" = "$ucan" ]
		;;
	drain*)
		check "[drain] every canary connection was reset ($left of $can)" [ "$left" = "$can" ]
		check "[drain] every UDP canary flow moved ($umoved of $ucan)" [ "$umoved" = "$ucan" ]
		dr=$(audit_at web live_flows "drain over")
		check "[drain] the drain's reset is in the audit trail" [ "$dr" != 0 ]
		check "[drain] none left before the drain's reset" python3 -c "
import json, sys
j = [json.loads(l) for l in open('$RL_DIR/hold') if '\"conns\"' in l][0]['conns']
sys.exit(any(c['errors'] and c['error_at'] * 1000 < $dr - 100 for c in j))"
		;;
	esac
done
t_done
