#!/usr/bin/env bash
# sluice-test: host-only (sluiced in real time: its once-a-second look at
# the canary pool; the kernel side is the lab's, tested in the guest)
# `trigger: canary-change` (sluiced --config): the daemon starts the
# service's plan by itself when its canary pool changes:
#   - at start-up the pool already there starts nothing
#   - `sluice backend add ... pool canary` starts a rollout, recorded as
#     started by "trigger: canary-change"
#   - a restart of sluiced starts no other one
#   - a change during the active rollout (at 50 %) is the plan's
#     on_canary_change: restart (the default): a new attempt from the
#     first step with fresh evidence, and the audit trail says why (issue
#     21: the evidence of the old canary never carries over)
#   - after the rollout ends, an unchanged pool (and a restart) starts nothing
#   - while frozen, the triggered start waits (pending) for the unfreeze
#   - `rollout undo` after a promotion puts the promoted pool back as the
#     canary: that starts nothing
# Waits are bounded (the daemon looks once a second; bounds are x5).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup tr

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "the canary pool starts with one backend" lab_sluice backend del web 10.101.0.14
CFG=$RL_DIR/sluice.yaml
cat >"$CFG" <<EOF2
services:
  - name: web
    vip: $LAB_VIP4
    port: $LAB_PORT
    mode: nat
    baseline:
      backends:
        - address: 10.101.0.11
        - address: 10.101.0.12
    canary:
      backends:
        - address: 10.101.0.13
    rollout:
      trigger: canary-change
      steps:
        - weight: 50%
          hold: 10m
        - weight: 100%
          hold: 10m
      gates:
        - metric: error_ratio
          max_increase: 50%
          on_inconclusive: extend
EOF2
same_one() {
	[ "$(rl_field web 'r["rollout_id"]')" = "$rid" ] &&
	[ "$(rl -j rollout history web | json 'sum(e["type"]=="start" for e in j["events"])')" = 1 ]
}
restarted() {
	[ "$(rl_field web 'r["rollout_id"]')" = "$rid" ] &&
	[ "$(rl_field web 'r["attempt"]')" = 2 ] &&
	[ "$(rl_field web 'r["step"]')" = 0 ] &&
	rl -j rollout history web | json '[e["text"] for e in j["events"] if e["type"]=="canary_change"][-1]' |
		grep -q "the canary pool changed.*restart"
}
still_aborted() {
	[ "$(rl_field web 'r["rollout_id"]')" = "$rid" ] && [ "$(rl_field web 'r["phase"]')" = aborted ]
}
nro() { rl -j rollout status | json 'len(j["rollouts"])'; }
check "sluiced starts with --config" rl_start --config "$CFG"
sleep 2.5
check "start-up: the pool already there starts nothing" [ "$(nro)" = 0 ]
check "start-up changed no weight" [ "$(lab_sluice -j service show web | json 'all(v==0 for v in j["services"][0]["weight"].values())')" = True ]

check "a canary backend is added" lab_sluice backend add web 10.101.0.14 pool canary
check "the rollout starts by itself and progresses" \
	rl_wait 5 'r["phase"]=="progressing"' web
rid=$(rl_field web 'r["rollout_id"]')
check "history: started by trigger: canary-change" \
	[ "$(rl -j rollout history web | json '[e["who"] for e in j["events"] if e["type"]=="start"][0]')" = "trigger: canary-change" ]

check "sluiced stops" rl_stop
check "sluiced restarts" rl_start --config "$CFG"
sleep 2.5
check "the restart resumed rollout $rid and started no other" \
	same_one

check "the rollout is at 50%" rl_wait 5 'r["step"]==0 and r["weight"][0]==5000' web
check "the maps show 50%" [ "$(lab_sluice -j service show web | json 'j["services"][0]["weight"]["default"]')" = 5000 ]
check "a canary backend is removed during the rollout" lab_sluice backend del web 10.101.0.14
check "the change at 50% restarts rollout $rid from its first step, and the audit trail says why" \
	rl_within 5 restarted

check "the rollout is aborted" eval 'rl rollout abort web >/dev/null'
sleep 2.5
check "an unchanged pool starts nothing" [ "$(rl_field web 'r["phase"]')" = aborted ]
rl_stop
check "sluiced restarts again" rl_start --config "$CFG"
sleep 2.5
check "after the restart the unchanged pool starts nothing" \
	still_aborted
check "a canary backend is added again" lab_sluice backend add web 10.101.0.14 pool canary
check "the next change starts a new rollout" \
	rl_wait 5 "r['rollout_id']!=$rid and r['phase']=='progressing'" web

check "the second rollout is aborted" eval 'rl rollout abort web >/dev/null'
rl rollout freeze --reason "trigger test" >/dev/null
check "frozen: a canary backend is removed (one left)" lab_sluice backend del web 10.101.0.13
check "frozen: the triggered start waits" rl_wait 5 'r["phase"]=="pending"' web
rl rollout unfreeze >/dev/null
check "unfrozen: it progresses" rl_wait 5 'r["phase"]=="progressing"' web

rid=$(rl_field web 'r["rollout_id"]')
check "promote --full" eval 'rl rollout promote web --full >/dev/null && rl_wait 5 "r[\"phase\"]==\"promoted\"" web'
check "rollout undo: the promoted pool is the canary again" eval 'rl rollout undo web >/dev/null'
sleep 2.5
check "the undo's canary starts no rollout (it is no new canary)" \
	[ "$(rl_field web 'r["rollout_id"]')" = "$rid" ]
t_done
