#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time: holds, gates and checks of
# seconds. Under qemu TCG they would cost CI most of its time and judge the
# emulator's speed; the kernel side they use, counters, weight writes and
# the kill switch, is tested in the guest by the datapath and lab tests.)
# sluiced rolls back canaries that fail without a RST (scripts/lab.sh, nat
# mode under XDP, real TCP backends, a paced load of ~100 new connections
# a second; test_rollout_lab.sh has the refusing one):
#   - silent: the canary's backends drop every SYN. The datapath counts
#     handshake timeouts on the canary; the error_ratio gate "errors"
#     fails and the rollback names it, with the numbers
#   - slow: they drop each connection's first SYN, so it is answered only
#     after the client's retransmission (~1 s). Every connection still
#     completes; the latency_p95 gate "handshake" fails and the rollback
#     names it
# Gates use confidence 99.99 % (an identical canary is rolled back with
# probability <= 1e-4) and a bad canary gives dozens of bad events a
# second; the slow canary's margin is 100 % + 50 ms over the baseline's
# sub-millisecond p95. Holds are 30 s: only a rollback ends a step in time.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup rf nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
check "sluiced starts" rl_start

plan() {	# FILE GATE-LINES: two 30 s steps, 25 % then 50 %
	cat >"$1" <<EOF
steps:
  - weight: 25%
    hold: 30s
  - weight: 50%
    hold: 30s
gates:
$2
EOF
}
svc_json() { lab_sluice -j service show web; }
fresh() { lab_sluice service del web >/dev/null 2>&1; lab_service web 4 >/dev/null; }
# rolled_back_by GATE FAULT: the checks every faulty canary gets
rolled_back_by() {
	local gate=$1 what=$2 ev out
	check "$what: rolled back within 20 s" rl_wait 20 'r["phase"]=="rolled_back"' web
	rl_load_stop
	echo "  end: $(rl_field web 'r["end_reason"]')"
	check "$what: by the engine, the end reason names gate '$gate'" \
		[ "$(rl_field web 'not r["by_operator"] and "gate '"'$gate'"' failed" in r["end_reason"]')" = True ]
	check "$what: the kill switch is on (revert)" [ "$(svc_json | json 'j["services"][0]["revert"]')" != off ]
	rl -j rollout history web >"$RL_DIR/hist.json"
	ev=$(json '[e for e in j["events"] if e["type"]=="gate" and e.get("eval",e).get("outcome")=="fail"][-1]' <"$RL_DIR/hist.json")
	echo "  failing evaluation: $ev"
	check "$what: the trail has gate '$gate' failing with its numbers" \
		python3 -c "import sys,ast; e=ast.literal_eval(sys.argv[1]); v=e.get('eval',e); sys.exit(not ('$gate' in e['text'] and v['samples_c']>0 and v['bad_c']>0 and v['stat']>=v['stat_limit']))" "$ev"
	check "$what: the trail's rollback event names gate '$gate'" \
		[ "$(json 'any(e["type"]=="rollback" and "gate '"'$gate'"'" in e["text"] for e in j["events"])' <"$RL_DIR/hist.json")" = True ]
	rl_canary_heal
	out=$(lab_in cl python3 "$TCPNAMES" spread "$LAB_VIP4" "$LAB_PORT" 50 --par 4 --timeout 2)
	check "$what: after the rollback every new connection reaches the baseline" \
		[ "$(echo "$out" | json 'j["counts"].get("b1",0)+j["counts"].get("b2",0)')" = 50 ]
}

# start_with FAULT GATE-LINES: a fresh service whose canary has FAULT
# under load, and a rollout of the plan with that gate
start_with() {
	rl rollout abort web >/dev/null 2>&1
	fresh
	rl_canary_fault "$1"
	plan "$RL_DIR/$1.yaml" "$2"
	rl_load_start 100 40
	sleep 2		# the baseline's p95 exists before the step (latency's base)
	rl rollout start web -f "$RL_DIR/$1.yaml" >/dev/null
	check "$1: rollout start: progressing" [ "$(rl_field web 'r["phase"]')" = progressing ]
}

echo "== a silent canary (drops every SYN) is rolled back by its error gate"
start_with silent "  - name: errors
    metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5"
rolled_back_by errors silent
check "silent: the canary's bad events are handshake timeouts" \
	[ "$(lab_health web canary hs_timeout)" -ge 5 ] && [ "$(lab_health web canary handshakes)" = 0 ]

echo "== a slow canary (answers after the SYN retransmission) is rolled back by its latency gate"
start_with slow "  - name: handshake
    metric: latency_p95
    max_increase: 100%
    max_increase_abs: 50ms
    confidence: 99.99%
    min_samples: 5"
rolled_back_by handshake slow
check "slow: canary handshakes completed, late (p50 $(lab_health web canary p50_ms) ms >= 900)" \
	python3 -c "import sys; sys.exit(not 900 <= float(sys.argv[1]) <= 3000)" "$(lab_health web canary p50_ms)"
check "slow: the load's connections completed (slow, not failed)" \
	[ "$(json 'j["errors"]' <"$RL_DIR/load.json")" = 0 ]

check "sluiced is still running" kill -0 "$RL_PID"
rl_stop
t_done
