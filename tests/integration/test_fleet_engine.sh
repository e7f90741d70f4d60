#!/usr/bin/env bash
# sluice-test: host-only (one sluiced --etcd against a real etcd, Debian's
# etcd-server, on the loopback of a namespace of its own; no traffic.)
# The fleet leader runs the node's engine (issue 20):
#   - the operator wins: `rollout revert --fleet` at 25 % ends the fleet
#     rollout as rolled back by the operator, and the leader never raises
#     the weight under the kill switch (it used to go to 50 % within 6 s)
#   - a weight written by hand into etcd ends the fleet rollout as rolled
#     back by the operator, like revert --fleet (nothing written over it)
#   - the fleet's transitions reach the node's audit trail (-a) and
#     `rollout history`
#   - a plan that does not parse is refused naming the plan file, and
#     writes nothing; budget: and latency gates are honoured (the nodes
#     report their handshake-latency histograms for the leader to sum)
#   - a command gate and the pre-step hook run on the leader: the hook
#     before the step's weights, the gate's failure rolls the fleet back;
#     the plan's on_rollback: live_flows: drain 1s goes with the kill
#     switch (the live_flows key), and the node resets its live canary
#     flows when the grace ends, and keeps them reset through a restart;
#     a node killed -9 during the grace still resets when it ends;
#     the operator's revert --fleet keeps them, --reset resets them
#   - a rollout key of an older leader (no schema) is refused with a
#     message, its weights kept
#     limit and the key, and the node keeps its lease and its leadership
set -u
cd "$(dirname "$0")/../.."
source tests/integration/fleet_one.sh fengine 19447

ro() { etcdctl_ get --print-value-only "$PFX/web/rollout" | json "$1" 2>/dev/null; }
phase_is() { [ "$(ro 'j["phase"]')" = "$1" ]; }
wkey() { etcdctl_ get --print-value-only "$PFX/web/weights"; }
wkey_is() { [ "$(wkey)" = "$1" ]; }
cat >"$DIR/plan.yaml" <<'PLAN'
steps:
  - weight: 25%
    hold: 2s
  - weight: 50%
    hold: 2s
  - weight: 100%
    hold: 2s
gates:
  - metric: error_ratio
    max: 50%
    min_samples: 5
    on_inconclusive: extend
PLAN

echo "== the operator wins: revert --fleet at 25 %"
check "rollout start --fleet" ctl rollout start web --fleet -f "$DIR/plan.yaml"
check "the leader begins at 25 %" wait_for 5 eval 'phase_is progressing && wkey_is 2500'
check "rollout revert web --fleet" ctl rollout revert web --fleet
sleep 4	# two holds: the old leader went to 50 % here
check "the fleet rollout is rolled back ($(ro 'j["phase"]'))" phase_is rolled_back
check "by the operator: $(ro 'j["reason"]')" grep -q "operator" <<<"$(ro 'j["reason"]')"
check "the weight was never raised under the kill switch (weights key: $(wkey))" wkey_is 2500
check "the kill switch stays on" [ "$(etcdctl_ get --print-value-only "$PFX/web/killswitch")" = on ]
check "the maps are reverted" wait_for 3 revert_is revert
check "the operator's revert keeps live flows (live_flows: $(etcdctl_ get --print-value-only "$PFX/web/live_flows"))" \
	[ "$(etcdctl_ get --print-value-only "$PFX/web/live_flows")" = keep ]
out=$(ctl rollout promote web --fleet 2>&1)
check "promote --fleet after the revert is refused: $out" eval '! ctl rollout promote web --fleet 2>/dev/null'
sleep 2
check "and the weight stays at 25 % (weights key: $(wkey))" wkey_is 2500
check "live flows kept: no reset on the maps" revert_is revert
check "rollout revert web --fleet --reset" ctl rollout revert web --fleet --reset
check "live_flows reset in etcd, and the node resets its live canary flows" \
	eval '[ "$(etcdctl_ get --print-value-only "$PFX/web/live_flows")" = reset ] && wait_for 3 revert_is reset'
out=$(ctl rollout revert web --fleet --bogus 2>&1)
check "an unknown flag is refused with the usage: $out" grep -q "usage:.*--reset | --clear" <<<"$out"
types() { ctl -j rollout history web | json '" ".join(e["type"] for e in (j["events"] if isinstance(j, dict) else j))'; }
check "rollout history shows the fleet's start and rollback ($(types))" eval 'types | grep -q "start.*rollback"'
check "the audit log (-a) has them too" \
	eval 'grep -q "\"type\":\"start\"" "$DIR/audit.log" && grep -q "\"type\":\"rollback\"" "$DIR/audit.log"'

echo "== a weight written by hand"
check "another rollout starts (the start lifts the kill switch)" ctl rollout start web --fleet -f "$DIR/plan.yaml"
check "at 25 % again, kill switch off" wait_for 5 eval 'phase_is progressing && wkey_is 2500 && revert_is off'
etcdctl_ put "$PFX/web/weights" 1000 >/dev/null
check "the rollout ends, rolled back ($(ro 'j["phase"]'): $(ro 'j["reason"]'))" wait_for 5 phase_is rolled_back
check "by the operator: $(ro 'j["reason"]')" grep -q "by the operator" <<<"$(ro 'j["reason"]')"
sleep 3	# more than a hold: nothing is written over the operator's weight
check "the hand-written weight stands (weights key: $(wkey))" wkey_is 1000
check "the engine set no kill switch over it" [ "$(etcdctl_ get --print-value-only "$PFX/web/killswitch")" = off ]

echo "== plans: refused naming the file, or honoured"
printf 'steps:\n  - weight: 10%%\n    hold: 2s\ngates:\n  - {metric: error_ratio, max: 50%%, min_samples: 5, on_inconclusive: extend}\n  - {metric: no_such_metric, max: 1}\n' >"$DIR/broken.yaml"
printf 'steps:\n  - weight: 10%%\n    hold: 2s\ngates:\n  - {metric: error_ratio, max: 50%%, min_samples: 5, on_inconclusive: extend}\n  - {metric: latency_p99, max_increase: 20%%, on_inconclusive: extend}\n' >"$DIR/latency.yaml"
printf 'steps:\n  - weight: 10%%\n    hold: 2s\ngates:\n  - {metric: error_ratio, max: 50%%, min_samples: 5, on_inconclusive: extend}\nbudget: {slo: 99.9%%, check_interval: 1s}\n' >"$DIR/budget.yaml"
r0=$(etcdctl_ get -w json "$PFX/web/rollout" | json 'j["kvs"][0]["mod_revision"]')
out=$(ctl rollout start web --fleet -f "$DIR/broken.yaml" 2>&1)
check "refused, naming the plan file: $out" grep -q "broken.yaml" <<<"$out"
out=$(ctl rollout start web --fleet -f "$DIR/latency.yaml" 2>&1)
check "a latency gate on this DSR service is refused as on a node, naming the file: $out" \
	eval 'grep -q "latency.yaml" <<<"$out" && grep -q "needs mode nat" <<<"$out"'
check "and nothing was written" [ "$(etcdctl_ get -w json "$PFX/web/rollout" | json 'j["kvs"][0]["mod_revision"]')" = "$r0" ]
# written into etcd by hand: the node reports its histograms, the leader
# judges the plan as a node does
etcdctl_ put "$PFX/web/plan" "$(cat "$DIR/latency.yaml")" >/dev/null
etcdctl_ put "$PFX/web/rollout" '{"phase":"start"}' >/dev/null
lat() { etcdctl_ get --print-value-only "${PFX%/services}/nodes/n1" | json '"lat" in j["services"]["web"]'; }
check "the node reports its handshake-latency histograms for the leader" wait_for 5 eval '[ "$(lat)" = True ]'
wait_for 5 phase_is error
check "the leader judges the plan as a node does: $(ro 'j["reason"]')" grep -q "latency_p99 needs mode nat" <<<"$(ro 'j["reason"]')"
check "a plan with a budget is honoured" ctl rollout start web --fleet -f "$DIR/budget.yaml"
wait_for 5 phase_is progressing
check "the leader runs it ($(ro 'j["phase"]'): $(ro 'j["reason"]'))" phase_is progressing
ctl rollout abort web --fleet >/dev/null
check "aborted" wait_for 5 phase_is aborted

echo "== a rollout of an older leader (schema 1)"
etcdctl_ put "$PFX/web/weights" 3000 >/dev/null
etcdctl_ put "$PFX/web/rollout" '{"phase":"progressing","step":1,"step_started_ms":1,"reason":"old"}' >/dev/null
check "refused clearly: $(ro 'j["reason"]')" wait_for 5 eval 'phase_is error && ro "j[\"reason\"]" | grep -q "older leader"'
check "its weights kept" wkey_is 3000

echo "== a command gate and the pre-step hook, run by the leader"
cat >"$DIR/ext.yaml" <<PLAN
steps:
  - weight: 20%
    hold: 2s
  - weight: 40%
    hold: 2s
gates:
  - metric: error_ratio
    max: 50%
    min_samples: 5
    on_inconclusive: extend
  - name: smoke
    metric: command
    command: 'test ! -e $DIR/bad'
    result: exit
    interval: 1s
pre_step_hook: 'echo "step \$SLUICE_STEP" >>$DIR/hook.log'
on_rollback:
  live_flows: drain 1s
PLAN
check "a plan with a command gate and a pre-step hook starts" ctl rollout start web --fleet -f "$DIR/ext.yaml"
check "the leader ran the hook, then wrote the step's weights" \
	wait_for 10 eval 'grep -q "step 0" "$DIR/hook.log" 2>/dev/null && wkey_is 2000 && phase_is progressing'
touch "$DIR/bad"
check "the command gate fails on the leader: rolled back ($(ro 'j["phase"]'))" wait_for 15 phase_is rolled_back
check "the reason names the gate: $(ro 'j["reason"]')" grep -q "smoke" <<<"$(ro 'j["reason"]')"
check "the kill switch is on" [ "$(etcdctl_ get --print-value-only "$PFX/web/killswitch")" = on ]
check "the plan's live_flows went with it: $(etcdctl_ get --print-value-only "$PFX/web/live_flows")" \
	[ "$(etcdctl_ get --print-value-only "$PFX/web/live_flows")" = "drain 1000ms" ]
check "status shows the policy: $(fleet "f['services']['web']['live_flows']")" \
	fleet_is "f['services']['web']['live_flows']['policy']=='drain 1000ms'"
check "the node reverts new flows at once, its live canary flows are reset when the grace ends" \
	wait_for 5 revert_is reset
check "status says it was carried out" \
	wait_for 2 fleet_is "f['services']['web']['live_flows']['carried_out']"
kill "$DPID"; wait "$DPID" 2>/dev/null
sluiced_start
lost=0
for _ in $(seq 30); do revert_is reset || lost=1; sleep 0.1; done
check "sluiced restarted in fleet mode" fleet_is "f['etcd']=='ok'"
check "the restarted node keeps the reset on its maps (never back to revert alone)" [ "$lost" = 0 ]
check "the node's audit trail says so" \
	eval 'grep "live_flows" "$DIR/audit.log" | grep -q "grace of 1000 ms ended"'

echo "== a node killed during a drain resets when the grace ends"
# ext.yaml with a long hold, its own bad file and a 6 s grace
sed -e 's/hold: 2s/hold: 60s/' -e "s|$DIR/bad'|$DIR/bad6'|" -e 's/drain 1s/drain 6s/' \
	"$DIR/ext.yaml" >"$DIR/drain6.yaml"
check "a rollout with live_flows: drain 6s starts" ctl rollout start web --fleet -f "$DIR/drain6.yaml"
check "progressing at 20 %" wait_for 10 eval 'phase_is progressing && wkey_is 2000 && revert_is off'
touch "$DIR/bad6"
check "its command gate fails: the node reverts" wait_for 15 revert_is revert
t0=$(date +%s.%N)
sleep 2
kill -9 "$DPID"; wait "$DPID" 2>/dev/null
sluiced_start
wait_for 12 revert_is reset
dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
check "killed 2 s into the grace: reset ${dt}s after the kill switch, at the grace's end (6 s), not a grace after the restart (8 s)" \
	awk -v t="$dt" 'BEGIN{exit !(t >= 5.0 && t < 7.2)}'
t_done
