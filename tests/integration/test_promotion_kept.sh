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
t_done
