#!/usr/bin/env bash
# sluice-test: host-only (one sluiced --etcd leading the fleet against a
# real etcd and a real Prometheus, Debian's etcd-server and prometheus, on
# the loopback of a namespace of their own; no traffic.)
# Issue 20's "done when": a fleet plan with a Prometheus gate, a burn-rate
# gate, a budget and a pre-step hook runs in the fleet lab, every part of
# it on the leader:
#   - it is accepted (no plan key refused) and the leader runs the hook
#     before the first step's weights
#   - the burn-rate gate is judged on the fleet's sums (inconclusive here:
#     no traffic), the Prometheus gate on Prometheus's answer
#   - the budget (its Prometheus query, run by the leader): exhausted, the
#     fleet rollout is frozen (the freeze in the rollout key and the audit
#     trail); back, the freeze is lifted
#   - the canary's 5xx ratio in Prometheus rises: the Prometheus gate rolls
#     the fleet back, the kill switch set in etcd and on the maps
set -u
cd "$(dirname "$0")/../.."
command -v prometheus >/dev/null || { echo "needs prometheus (scripts/deps.sh)" >&2; exit 77; }
source tests/integration/fleet_one.sh fprom 19461
PROM_PID= EXP_PID=
trap 'kill -9 $PROM_PID $EXP_PID 2>/dev/null; cleanup' EXIT
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
ro() { etcdctl_ get --print-value-only "$PFX/web/rollout" | json "$1" 2>/dev/null; }
phase_is() { [ "$(ro 'j["phase"]')" = "$1" ]; }
wkey_is() { [ "$(etcdctl_ get --print-value-only "$PFX/web/weights")" = "$1" ]; }
mkdir -p "$DIR/exp"
set_prom() {	# FILE TEXT: the exporter's values, atomically
	printf '%b' "$2" >"$DIR/exp/.t" && mv "$DIR/exp/.t" "$DIR/exp/$1.prom"
}
set_prom app '# TYPE app_5xx_ratio gauge\napp_5xx_ratio{version="canary"} 0.01\napp_5xx_ratio{version="baseline"} 0.01\n'
set_prom budget '# TYPE app_error_ratio gauge\napp_error_ratio{service="web"} 0.0001\n'
in_ns python3 -S tests/integration/exporter.py 19463 "$DIR/exp" >"$DIR/exp.log" 2>&1 &
EXP_PID=$!
cat >"$DIR/prom.yml" <<EOC
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: app
    static_configs: [{targets: ['127.0.0.1:19463']}]
EOC
in_ns prometheus --config.file="$DIR/prom.yml" --storage.tsdb.path="$DIR/tsdb" \
	--web.listen-address=127.0.0.1:19464 >>"$DIR/prom.log" 2>&1 &
PROM_PID=$!
prom_query() {	# PROMQL -> the value, or nothing
	in_ns python3 -S -c "
import json, sys, urllib.parse as p, urllib.request as u
r = json.load(u.urlopen('http://127.0.0.1:19464/api/v1/query?query=' + p.quote(sys.argv[1]), timeout=2))
res = r['data']['result']
print(res[0]['value'][1] if res else '')" "$1" 2>/dev/null
}
prom_is() { [ "$(prom_query "$1")" = "$2" ]; }
check "prometheus scrapes the exporter" wait_for 30 prom_is 'max(app_5xx_ratio{version="canary"})' 0.01

cat >"$DIR/plan.yaml" <<PLAN
steps:
  - weight: 20%
    hold: 5m
  - weight: 100%
    hold: 2s
gates:
  - name: http5xx
    metric: prometheus
    query: 'max(app_5xx_ratio{version="{{variant}}"})'
    url: http://127.0.0.1:19464
    max: 0.1
    min_samples: 1
    interval: 1s
  - name: burn
    metric: burn_rate
    on_inconclusive: extend
budget:
  slo: 99.9%
  window: 1h
  check_interval: 1s
  error_ratio_query: 'max(app_error_ratio{service="{{service}}"})'
  url: http://127.0.0.1:19464
pre_step_hook: 'echo "step \$SLUICE_STEP" >>$DIR/hook.log'
PLAN

echo "== the plan is accepted and runs on the leader"
out=$(ctl rollout start web --fleet -f "$DIR/plan.yaml" 2>&1)
check "rollout start --fleet with a Prometheus gate, a burn-rate gate, a budget and a hook: $out" grep -q "written to etcd" <<<"$out"
check "the leader ran the hook, then wrote the step's weights" \
	wait_for 10 eval 'grep -q "step 0" "$DIR/hook.log" 2>/dev/null && wkey_is 2000 && phase_is progressing'
# the plan's two gates; a third, the split check every rollout has unless
# switched off (split_check), comes after them
judged() { ctl -j rollout status | json "' | '.join(g['outcome'] + ': ' + g['reason'] for g in (j['fleet']['services']['web']['gates_judged'] or [])[:2])"; }
ngates() { ctl -j rollout status | json "len(j['fleet']['services']['web']['gates_judged'] or [])"; }
check "both gates are judged by the leader: $(judged)" \
	wait_for 10 eval '[ "$(judged | grep -o " | ")" = " | " ] && judged | grep -q "^pass"'
check "the leader judges the split check too (3 gates)" [ "$(ngates)" = 3 ]
check "the burn-rate gate names its rule and budget: $(judged | sed 's/.* | //')" \
	eval 'judged | sed "s/.* | //" | grep -Eq "burn|budget|events"'

echo "== the budget, on the leader"
set_prom budget '# TYPE app_error_ratio gauge\napp_error_ratio{service="web"} 0.01\n'
check "the fleet rollout is frozen by its exhausted budget: $(ro 'j["reason"]')" \
	wait_for 15 eval '[ -n "$(ro "j.get(\"frozen_at_ms\", \"\")")" ] && phase_is progressing'
check "the audit trail has the freeze with its reason" \
	wait_for 5 grep -q '"type":"freeze".*budget exhausted' "$DIR/audit.log"
set_prom budget '# TYPE app_error_ratio gauge\napp_error_ratio{service="web"} 0.0001\n'
check "budget back: the freeze is lifted" wait_for 15 eval '[ -z "$(ro "j.get(\"frozen_at_ms\", \"\")")" ]'

echo "== the Prometheus gate rolls the fleet back"
set_prom app '# TYPE app_5xx_ratio gauge\napp_5xx_ratio{version="canary"} 0.5\napp_5xx_ratio{version="baseline"} 0.01\n'
check "rolled back ($(ro 'j["phase"]'))" wait_for 20 phase_is rolled_back
check "the reason names the Prometheus gate: $(ro 'j["reason"]')" grep -q "http5xx" <<<"$(ro 'j["reason"]')"
check "the kill switch is on in etcd" [ "$(etcdctl_ get --print-value-only "$PFX/web/killswitch")" = on ]
check "and on the maps" wait_for 5 revert_is revert
check "the weights were not raised (20 %)" wkey_is 2000
check "the rollback is in the audit trail" grep -q '"type":"rollback"' "$DIR/audit.log"
t_done
