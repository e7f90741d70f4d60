#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time, crashes at chosen points;
# the kernel side it uses is tested in the guest by the datapath and lab
# tests)
# A rollback's drain of the canary's live flows (on_rollback: live_flows:
# drain D) survives a crash, as every outbox intent does (the lab, nat mode,
# a refusing canary, SLUICED_FAILPOINT as test_rollout_outbox):
#   - killed after the commit of the rollback, before the kill switch: the
#     restart sets the kill switch (no reset yet) and resets the live
#     canary flows when the grace ends
#   - killed during the grace: the restart still resets them when it ends,
#     once, with the drain's audit record
#   - an operator's `sluice resume` during the grace wins: no reset,
#     "superseded" in the audit trail
#   - `rollout abort` while a `promote --full` is decided but not carried
#     out (killed after its commit): refused after the restart, the
#     promotion completes, no kill switch (Argo Rollouts had a bug here)
#   - under live_flows: reset the kill word carries the reset at once;
#     rollout status and service show give the effective exposure (0 %
#     under the kill switch) next to the stored weight
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup lo nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
# 300 connections a second for minutes: the whole port range, TIME_WAIT reused
lab_in cl sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }

revert() { lab_sluice -j service show web | json 'j["services"][0]["revert"]'; }
is() { [ "$($1)" = "$2" ]; }
within() {	# SECONDS COMMAND...: COMMAND succeeds within SECONDS
	local secs=$1 t
	shift
	for t in $(seq $((secs * 20))); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
died() {	# SECONDS: the daemon killed itself at its failpoint in time
	local t
	for t in $(seq $(($1 * 20))); do
		kill -0 "$RL_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$RL_PID" 2>/dev/null; then
		rl_kill9
		return 1
	fi
	wait "$RL_PID" 2>/dev/null
	RL_PID=
	grep -q "failpoint .*: killed" "$RL_LOG"
}
fresh_service() {	# and a fresh load: a refusing canary under it
	rl_load_stop
	rl_canary_heal
	lab_sluice service del web >/dev/null
	lab_service web 4 >/dev/null
	rl_canary_refuse
	rl_load_start 300 600
}
drained() { grep -c '"type":"live_flows".*drain over' "$RL_AUDIT"; }
plan() {	# LIVE-FLOWS
	cat >"$RL_DIR/fail.yaml" <<EOF
steps:
  - weight: 5%
    hold: 30s
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
on_rollback:
  live_flows: $1
EOF
}

echo "== crash after the commit of the rollback, before the kill switch"
rl_canary_refuse
rl_load_start 300 600
plan "drain 4s"
SLUICED_FAILPOINT=after-commit:revert check "sluiced starts (failpoint after-commit:revert)" rl_start
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "sluiced died at the failpoint" died 30
check "the kill switch is still off after the crash" is revert off
check "sluiced restarts" rl_start
check "the kill switch is set within a tick, without the reset (the grace)" within 2 is revert revert
check "the live canary flows are reset when the grace ends" within 8 is revert reset
check "the drain is in the audit trail once" [ "$(drained)" = 1 ]
rl_stop

echo "== crash during the grace"
fresh_service
: >"$RL_AUDIT"
plan "drain 6s"
check "sluiced starts" rl_start
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "rolled back: the kill switch is set, the grace runs" within 20 is revert revert
rl_kill9
sleep 1
check "no reset while sluiced is down" is revert revert
check "sluiced restarts" rl_start
check "the restart resets the live canary flows when the grace ends" within 10 is revert reset
sleep 1
check "the drain is in the audit trail once" [ "$(drained)" = 1 ]
rl_stop

echo "== the operator resumes during the grace: the drain's reset is superseded"
fresh_service
: >"$RL_AUDIT"
check "sluiced starts" rl_start
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "rolled back: the kill switch is set" within 20 is revert revert
lab_sluice resume web >/dev/null
sleep 7
check "no reset after the operator's resume" is revert off
check "superseded in the audit trail" grep -q '"type":"superseded".*drain.s reset .*the kill switch is off' "$RL_AUDIT"
rl_stop

echo "== live_flows: reset"
fresh_service
plan reset
check "sluiced starts" rl_start
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "rolled back with the reset at once" within 20 is revert reset
# the stored weight stays 5 %; new flows get nothing: both are shown
st=$(rl rollout status web)
check "rollout status shows the effective exposure ($(head -1 <<<"$st"))" \
	grep -q "weight 5.00% (effective 0.00%: kill switch on)" <<<"$st"
check "and its JSON" [ "$(rl_field web 'r["effective_weight"][0]')" = 0 ]
sh=$(lab_sluice service show web)
check "service show too ($(grep -m1 "^.weight" <<<"$sh"))" grep -q "weight 5.00%.* (effective 0.00%: kill switch on)" <<<"$sh"
check "and its JSON" [ "$(lab_sluice -j service show web | json 'j["services"][0]["effective_weight"]["default"]')" = 0 ]
rl_stop
rl_load_stop

echo "== rollout abort while a promote --full is pending (decided, not yet carried out)"
rl_canary_heal
lab_sluice service del web >/dev/null
lab_service web 4 >/dev/null
plan "drain 4s"
SLUICED_FAILPOINT=after-commit:promote check "sluiced starts (failpoint after-commit:promote)" rl_start
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
within 10 is revert off
rl rollout promote web --full >/dev/null 2>&1
check "sluiced died after committing the promotion" died 10
check "the maps still show the canary pool (the promotion is pending)" \
	[ "$(lab_sluice -j service show web | json 'len(j["services"][0]["canary"])')" != 0 ]
check "sluiced restarts" rl_start
ab=$(rl rollout abort web 2>&1)
check "the abort is refused: the promotion was decided first ($ab)" grep -q "was promoted: nothing to abort" <<<"$ab"
check "the promotion is carried out (canary pool empty, weight 0)" within 5 \
	[ "$(lab_sluice -j service show web | json 'len(j["services"][0]["canary"])==0 and j["services"][0]["weight"]["default"]==0')" = True ]
check "no kill switch after the refused abort" is revert off
check "the rollout stays promoted" [ "$(rl_field web 'r["phase"]')" = promoted ]
rl_stop
t_done
