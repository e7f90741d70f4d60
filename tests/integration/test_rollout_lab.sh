#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time: holds, gates and checks of
# seconds. Under qemu TCG they would cost CI most of its time and judge the
# emulator's speed; the kernel side they use, counters, weight writes and
# the kill switch, is tested in the guest by the datapath and lab tests.)
# sluiced against the real datapath (scripts/lab.sh, nat mode under XDP,
# real TCP backends, a paced load of ~100 new connections a second):
#   - a healthy canary ramps 10 -> 25 -> 50 -> 100 % and is promoted (the
#     maps show every step's weight; afterwards baseline = old canary,
#     canary empty, weight 0)
#   - a canary refusing with RST is rolled back by itself, with numbers
#   - low traffic stays inconclusive and pauses
#   - freeze blocks progress and new starts; unfreeze resumes
#   - every command is idempotent (abort twice records one abort)
#   - a direct `sluice revert` during a rollout is respected, also right
#     after a retry
# Gates use confidence 99.99 %: a correct implementation rolls an identical
# canary back with probability <= 1e-4 (anytime-valid test), and the bad
# canaries give dozens of events per second against a threshold of ~10.
# Holds are 2 s; time bounds are generous (x5).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup ro nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
lab_service web6 6 >/dev/null || { fail "service web6"; t_done; exit; }
check "sluiced starts" rl_start

plan() {	# FILE STEPS... (each "WEIGHT:HOLD"), gate options from $GATE
	local f=$1 s; shift
	{
		echo "steps:"
		for s in "$@"; do
			echo "  - weight: ${s%%:*}"
			echo "    hold: ${s##*:}"
		done
		echo "gates:"
		echo "  - metric: error_ratio"
		echo "    max_increase: 50%"
		echo "    confidence: 99.99%"
		echo "    ${GATE:-min_samples: 5}"
	} >"$f"
}
svc_json() { lab_sluice -j service show "$1"; }
fresh() {	# NAME FAMILY: counters and pools as new
	lab_sluice service del "$1" >/dev/null 2>&1
	lab_service "$1" "$2" >/dev/null
}

echo "== a healthy canary ramps to promotion"
GATE="on_inconclusive: extend" plan "$RL_DIR/ramp.yaml" 10%:2s 25%:2s 50%:2s 100%:2s
sed -i 's/^  - metric: error_ratio/  - metric: error_ratio\n    min_samples: 5/' "$RL_DIR/ramp.yaml"
rl_load_start 100 30
rl rollout start web -f "$RL_DIR/ramp.yaml" >/dev/null
check "rollout start: progressing" [ "$(rl_field web 'r["phase"]')" = progressing ]
seen=""
end=$(( $(date +%s) + 40 ))
while [ "$(date +%s)" -le "$end" ]; do
	svc_json web >"$RL_DIR/svc.json"
	w=$(json 'j["services"][0]["weight"]["default"]' <"$RL_DIR/svc.json" 2>/dev/null)
	case " $seen " in *" $w "*) ;; *) seen="$seen $w" ;; esac
	[ "$(rl_field web 'r["phase"]')" = promoted ] && break
	sleep 0.2
done
rl_load_stop
echo "  weights seen in the maps:$seen"
svc_json web >"$RL_DIR/svc.json"
check "promoted within 40 s" [ "$(rl_field web 'r["phase"]')" = promoted ]
for w in 1000 2500 5000 10000; do
	check "the maps showed step weight ${w}bp" grep -qw "$w" <<<"$seen"
done
check "after promotion: baseline = the old canary (10.101.0.13, .14)" \
	[ "$(json '",".join(sorted(b["address"] for b in j["services"][0]["baseline"]))' <"$RL_DIR/svc.json")" = "10.101.0.13,10.101.0.14" ]
check "after promotion: canary pool empty" \
	[ "$(json 'len(j["services"][0]["canary"])' <"$RL_DIR/svc.json")" = 0 ]
check "after promotion: weight 0 on every ring, revert off" \
	[ "$(json 'all(v==0 for v in j["services"][0]["weight"].values()) and j["services"][0]["revert"]=="off"' <"$RL_DIR/svc.json")" = True ]
check "the load saw no failed connection through the ramp" \
	[ "$(json 'j["errors"]' <"$RL_DIR/load.json")" = 0 ]
check "history has one event per step and the promotion" \
	[ "$(rl -j rollout history web | json 'sum(e["type"]=="step" for e in j["events"])')" = 4 ] &&
	[ "$(rl -j rollout history web | json 'sum(e["type"]=="promote" for e in j["events"])')" = 1 ]

echo "== a canary refusing with RST is rolled back"
fresh web 4
rl_canary_refuse
plan "$RL_DIR/bad.yaml" 25%:30s 50%:30s
rl_load_start 100 30
rl rollout start web -f "$RL_DIR/bad.yaml" >/dev/null
check "rolled back within 15 s" rl_wait 15 'r["phase"]=="rolled_back"' web
rl_load_stop
check "the kill switch is on (revert)" \
	[ "$(svc_json web | json 'j["services"][0]["revert"]')" != off ]
ev=$(rl -j rollout history web | json '[e for e in j["events"] if e["type"]=="gate" and e.get("eval",e).get("outcome")=="fail"][-1]')
echo "  failing evaluation: $ev"
check "the audit trail has the failing evaluation with numbers (bad canary events > 0)" \
	python3 -c "import sys,ast; e=ast.literal_eval(sys.argv[1]); v=e.get('eval',e); sys.exit(not (v['bad_c']>0 and v['samples_c']>0 and v['stat']>=v['stat_limit']))" "$ev"
check "the audit log (JSON lines) has the rollback" grep -q '"rollback"' "$RL_AUDIT"
out=$(lab_in cl python3 "$TCPNAMES" spread "$LAB_VIP4" "$LAB_PORT" 50 --par 4 --timeout 2)
check "after the rollback every new connection reaches the baseline" \
	[ "$(echo "$out" | json 'j["counts"].get("b1",0)+j["counts"].get("b2",0)')" = 50 ]
rl_canary_heal

echo "== a sluice revert right after a retry stands"
# the retry clears the rollback's kill switch; a revert made before the
# next tick is the operator's (sluiced once cleared it again)
rl rollout retry web >/dev/null && lab_sluice revert web >/dev/null
check "rolled back by the operator within 5 s" rl_wait 5 'r["phase"]=="rolled_back" and r["by_operator"]' web
sleep 1
check "the operator's kill switch is still on a second later" \
	[ "$(svc_json web | json 'j["services"][0]["revert"]')" != off ]

echo "== low traffic stays inconclusive and pauses"
GATE="min_samples: 1000" plan "$RL_DIR/low.yaml" 5%:2s
fresh web6 6
rl rollout start web6 -f "$RL_DIR/low.yaml" >/dev/null
check "paused within 10 s" rl_wait 10 'r["phase"]=="paused"' web6
check "paused because a gate is inconclusive, status says since when" \
	[ "$(rl_field web6 '"inconclusive" in r["pause_reason"] and "since" in r["status"]')" = True ]
check "the weight stayed at the first step (5%)" \
	[ "$(rl_field web6 'r["weight"][0]')" = 500 ]
rl rollout abort web6 >/dev/null

echo "== freeze blocks progress and new starts; unfreeze resumes"
fresh web 4
rl_load_start 50 25	# the gate needs samples to pass once unfrozen
GATE=$'on_inconclusive: extend\n    min_samples: 5' plan "$RL_DIR/frz.yaml" 10%:2s 20%:2s
rl rollout start web -f "$RL_DIR/frz.yaml" >/dev/null
rl rollout freeze --reason "INC-42 test" >/dev/null
check "freeze is recorded with its reason" [ "$(rl -j rollout status | json 'j["freeze"]["reason"]')" = "INC-42 test" ]
check "a second freeze changes nothing" [ "$(rl -j rollout freeze --reason again | json 'j["changed"]')" = False ]
sleep 4
check "frozen: still at step 1 after twice its hold" [ "$(rl_field web 'r["step"]')" = 0 ]
check "frozen: the status says so" [ "$(rl_field web '"INC-42" in r["status"] or r["frozen"]')" = True ]
fresh web6 6
rl rollout start web6 -f "$RL_DIR/frz.yaml" >/dev/null 2>&1
check "frozen: a new rollout does not start (web6 weight stays 0)" \
	[ "$(svc_json web6 | json 'j["services"][0]["weight"]["default"]')" = 0 ]
check "frozen: web6 is not progressing" [ "$(rl_field web6 'r["phase"]' 2>/dev/null)" != progressing ]
rl rollout unfreeze >/dev/null
check "a second unfreeze changes nothing" [ "$(rl -j rollout unfreeze | json 'j["changed"]')" = False ]
check "unfrozen: web advances past step 1 within 10 s" rl_wait 10 'r["step"]>=1 or r["phase"]=="promoted"' web
rl rollout status web | sed 's/^/    /'
rl_load_stop

echo "== idempotent commands"
rl rollout abort web >/dev/null
check "a second abort changes nothing" [ "$(rl -j rollout abort web | json 'j["changed"]')" = False ]
rid=$(rl_field web 'r["rollout_id"]')
check "history holds one abort of rollout $rid" \
	[ "$(rl -j rollout history web | json "sum(e['type']=='abort' and e['rollout_id']==$rid for e in j['events'])")" = 1 ]
sleep 2
check "the abort does not turn into a retry by itself" [ "$(rl_field web 'r["phase"]')" = aborted ]
rl rollout retry web >/dev/null
check "retry starts the plan from step 1, attempt 2" \
	[ "$(rl_field web '(r["phase"], r["step"], r["attempt"])')" = "('progressing', 0, 2)" ]
check "a second retry changes nothing" [ "$(rl -j rollout retry web 2>/dev/null | json 'j.get("changed")')" != True ]
twice() {	# COMMAND: the first changes something, the second nothing
	[ "$(rl -j rollout "$1" web | json 'j["changed"]')" = True ] &&
		[ "$(rl -j rollout "$1" web | json 'j.get("changed")')" = False ]
}
check "pause twice: the first pauses, the second changes nothing" twice pause
check "resume twice: the first resumes, the second changes nothing" twice resume

echo "== a direct sluice revert during a rollout is respected"
lab_sluice revert web >/dev/null
check "rolled back by the operator within 5 s" rl_wait 5 'r["phase"]=="rolled_back" and r["by_operator"]' web
before=$(rl_snapshot web)
sleep 3
check "the daemon wrote nothing over it (3 s later the maps are the same)" [ "$before" = "$(rl_snapshot web)" ]
lab_sluice resume web >/dev/null

check "sluiced is still running" kill -0 "$RL_PID"
rl_stop
t_done
