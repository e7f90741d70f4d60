#!/usr/bin/env bash
# sluice-test: host-only (sluiced and the CLI against the lab's maps; the
# datapath is tested in the guest)
# A local promotion survives what a boot-time unit or a configuration-
# management run does (issue 21, section 3): sluiced keeps a promotion
# record outside bpffs ($SLUICE_STATE_DIR, default /var/lib/sluice) that
# `sluice apply` consults:
#   - after the promotion, `sluice apply -f` of the same file changes
#     nothing and says so (the promoted version stays)
#   - `sluice export` shows the promoted configuration (baseline = the
#     canary that was promoted, no canary), ready to commit back
#   - a "reboot": programs detached, pins destroyed, then attach + apply of
#     the same file: the promoted version serves
#   - a file edited since (here: the exported one, committed back) is
#     applied as written
# a plan with a ring at 100 % canary warns, and status marks the step
# (its canary is judged against the other rings' baseline);
# and the rollback window (section 4): `sluice rollout undo` within the
# plan's rollback_window makes the previous baseline the baseline again in
# one action (the promoted pool the canary at 0 %), a repeat changes
# nothing, re-applying the file then changes nothing either (the record is
# dropped); after the window the kept pool is removed (audit: window_end)
# and undo is refused
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup pk
export SLUICE_STATE_DIR=$RL_DIR/state

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
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
        - address: 10.101.0.14
EOF2
cat >"$RL_DIR/plan.yaml" <<EOF2
steps:
  - weight: 50%
    hold: 1h
gates:
  - metric: error_ratio
    max_increase: 50%
EOF2
pool() {	# POOL: its addresses, sorted, space separated
	lab_sluice -j service show web | json "' '.join(sorted(b['address'] for b in j['services'][0]['$1']))"
}
check "the file applies" lab_sluice apply -f "$CFG"
check "sluiced starts" rl_start
check "a rollout starts" eval 'rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null'
check "promote --full" eval 'rl rollout promote web --full >/dev/null'
check "promoted" rl_wait 5 'r["phase"]=="promoted"' web
check "the maps: baseline = the promoted canary" [ "$(pool baseline)" = "10.101.0.13 10.101.0.14" ]
rl_stop

lab_sluice export >"$RL_DIR/export.yaml"
check "export: the promoted baseline" eval "python3 - '$RL_DIR/export.yaml' <<'PY'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))['services'][0]
b = sorted(x['address'] for x in s['baseline']['backends'])
c = s.get('canary') or {}
assert b == ['10.101.0.13', '10.101.0.14'], b
assert not c.get('backends'), c
PY"

out=$(lab_sluice apply -f "$CFG" 2>&1)
echo "$out" | sed 's/^/    apply: /'
check "re-applying the promoted file changes nothing" grep -q "0 changes" <<<"$out"
check "and says so (promoted by a rollout)" grep -q "promoted" <<<"$out"
check "the promoted baseline stays" [ "$(pool baseline)" = "10.101.0.13 10.101.0.14" ]
check "no canary came back" [ "$(pool canary)" = "" ]


# a reboot: the programs detached, the pins gone, then the boot-time steps
lab_sluice detach lb0 >/dev/null
lab_sluice detach lb1 >/dev/null
check "pins destroyed" lab_sluice destroy
check "[boot] attach" lab_sluice attach lb0 xdp
check "[boot] attach reply" lab_sluice attach lb1 xdp reply
out=$(lab_sluice apply -f "$CFG" 2>&1)
echo "$out" | sed 's/^/    boot apply: /'
check "[boot] apply of the file" grep -q "change" <<<"$out"
check "after the reboot the promoted version serves" [ "$(pool baseline)" = "10.101.0.13 10.101.0.14" ]
check "after the reboot no canary" [ "$(pool canary)" = "" ]
lab_wait_servers
served() { lab_spread 4 40 | json '" ".join(sorted(k for k, v in j["counts"].items() if v))'; }
check "traffic reaches the promoted backends only" [ "$(served)" = "b3 b4" ]

check "the exported file (committed back) applies as written" eval 'lab_sluice apply -f "$RL_DIR/export.yaml" | grep -q "0 changes"'

# ---- the rollback window ----
lab_sluice apply -f "$CFG" >/dev/null	# v1 baseline, v2 canary again
check "sluiced starts again" rl_start
check "a second rollout starts" eval 'rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null'
check "and is promoted" eval 'rl rollout promote web --full >/dev/null && rl_wait 5 "r[\"phase\"]==\"promoted\"" web'
check "promoted: baseline v2" [ "$(pool baseline)" = "10.101.0.13 10.101.0.14" ]
check "rollout undo" eval 'rl rollout undo web --reason "users report errors" >/dev/null'
check "undone: the previous baseline serves again" [ "$(pool baseline)" = "10.101.0.11 10.101.0.12" ]
check "undone: the promoted pool is the canary" [ "$(pool canary)" = "10.101.0.13 10.101.0.14" ]
check "undone: at weight 0" [ "$(lab_sluice -j service show web | json 'j["services"][0]["weight"]["default"]')" = 0 ]
check "undone: the promoted pool's live flows go as the plan's on_rollback says (default drain), counted in the audit" \
	rl_within 5 grep -q '"service":"web".*kill switch set: [0-9]* live canary flows .*live_flows: drain' "$RL_AUDIT"
check "status: rolled back, undone" rl_wait 5 'r["phase"]=="rolled_back" and "undone" in r["end_reason"]' web
check "undo again changes nothing" eval '[ "$(rl -j rollout undo web | json "j[\"changed\"]")" = False ]'
check "the audit trail says who undid it and why" eval \
	'rl -j rollout history web | json "[e[\"text\"] for e in j[\"events\"] if e[\"type\"]==\"rollback\"][-1]" | grep -q "undone by .*users report errors"'
check "re-applying the file after the undo changes nothing" eval 'lab_sluice apply -f "$CFG" | grep -q "0 changes"'

# the same plan with a short window
{ echo "rollback_window: 2s"; cat "$RL_DIR/plan.yaml"; } >"$RL_DIR/short.yaml"
check "a third rollout, rollback_window 2s" eval 'rl rollout start web -f "$RL_DIR/short.yaml" >/dev/null && rl rollout promote web --full >/dev/null'
check "promoted" rl_wait 5 'r["phase"]=="promoted"' web
window_end() {	# of this rollout's window (the second's ended when it began)
	[ "$(rl -j rollout history web | json 'len([e for e in j["events"] if e["type"]=="window_end" and "rollback window ended" in e["text"]])')" -ge 1 ]
}
check "the window ends: the kept pool is removed, the audit trail says so" rl_within 8 window_end
out=$(rl rollout undo web 2>&1)
check "undo after the window is refused" [ $? != 0 ]
check "and says the window ended" grep -q "ended" <<<"$out"
check "the promoted version stays" [ "$(pool baseline)" = "10.101.0.13 10.101.0.14" ]

# ---- rings judged against other rings (issue 21, "Also") ----
cat >"$RL_DIR/ring.yaml" <<EOF2
steps:
  - weight: {internal: 100%}
    hold: 1h
gates:
  - metric: error_ratio
    max_increase: 50%
EOF2
lab_sluice ring add internal 10.100.0.0/24 >/dev/null
lab_sluice backend add web 10.101.0.11 pool canary >/dev/null
err=$(rl rollout start web -f "$RL_DIR/ring.yaml" 2>&1 >/dev/null)
check "plan validation warns: a ring at 100% is judged against other rings" \
	grep -q "ring.yaml:2:5: warning: step 1: ring 'internal' at 100% canary" <<<"$err"
check "status marks the comparison (JSON)" rl_wait 5 '"judged against the other rings" in r["comparison"]' web
check "status marks the comparison (text)" eval 'rl rollout status web | grep -q "ACROSS RINGS: ring .internal."'
rl rollout abort web >/dev/null
t_done
