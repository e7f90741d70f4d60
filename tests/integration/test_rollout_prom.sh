#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time: holds, gates and checks of
# seconds. Under qemu TCG they would cost CI most of its time and judge the
# emulator's speed; the kernel side they use, counters, weight writes and
# the kill switch, is tested in the guest by the datapath and lab tests.)
# sluiced with a real Prometheus (Debian's prometheus, in the lab's LB
# namespace on loopback, its own data dir and port, 1 s scrapes) scraping
# a test exporter whose values this test writes, and sluiced's /metrics:
#   - a canary whose 5xx ratio (from Prometheus) is far above the
#     baseline's is rolled back; the notification command fires once
#   - an equal canary is promoted
#   - Prometheus stopped mid-rollout: the gate errors, then the rollout
#     pauses (never a pass)
#   - a query through Prometheus returns the datapath's counters
#   - an exhausted error budget (the budget's Prometheus query) holds a
#     running rollout and refuses `rollout start`, with the reason in the
#     status and the audit trail; budget back lifts it; from sluiced's
#     own per-minute samples (rows this test writes) a start is refused
#     with their numbers, or accepted
#   - a failing pre-step hook pauses before the step's weight is written;
#     resume runs it again and the step begins
# Bounds are generous; nothing depends on speed.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup pr prometheus
PROM_PID= EXP_PID=
cleanup() {
	[ -n "$PROM_PID" ] && kill -9 "$PROM_PID" 2>/dev/null
	[ -n "$EXP_PID" ] && kill -9 "$EXP_PID" 2>/dev/null
	rl_cleanup
}
trap cleanup EXIT

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
in_lb() { nsenter --net="/run/netns/$(lab_ns lb)" "$@"; }
in_lb ip link set lo up
mkdir -p "$RL_DIR/exp"
set_values() {	# CANARY_RATIO BASELINE_RATIO
	printf '# TYPE app_5xx_ratio gauge\napp_5xx_ratio{version="canary"} %s\napp_5xx_ratio{version="baseline"} %s\n' \
		"$1" "$2" >"$RL_DIR/exp/.a" && mv "$RL_DIR/exp/.a" "$RL_DIR/exp/app.prom"
}
set_values 0.01 0.01
nsenter --net="/run/netns/$(lab_ns lb)" python3 -S tests/integration/exporter.py 19101 "$RL_DIR/exp" >"$RL_DIR/exp.log" 2>&1 &
EXP_PID=$!
cat >"$RL_DIR/prom.yml" <<EOC
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: app
    static_configs: [{targets: ['127.0.0.1:19101']}]
  - job_name: sluiced
    static_configs: [{targets: ['127.0.0.1:19102']}]
EOC
prom_start() {
	# nsenter execs prometheus: $! is Prometheus itself
	nsenter --net="/run/netns/$(lab_ns lb)" prometheus --config.file="$RL_DIR/prom.yml" --storage.tsdb.path="$RL_DIR/tsdb" \
		--web.listen-address=127.0.0.1:19190 >>"$RL_DIR/prom.log" 2>&1 &
	PROM_PID=$!
	for _ in $(seq 150); do
		in_lb python3 -S -c "import urllib.request as u; u.urlopen('http://127.0.0.1:19190/-/ready', timeout=1)" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
prom_query() {	# PROMQL -> the value, or nothing
	in_lb python3 -S -c "
import json, sys, urllib.parse as p, urllib.request as u
q = p.quote(sys.argv[1])
r = json.load(u.urlopen('http://127.0.0.1:19190/api/v1/query?query=' + q, timeout=2))
res = r['data']['result']
print(res[0]['value'][1] if res else '')" "$1" 2>/dev/null
}
check "prometheus ready" prom_start
check "sluiced starts with --metrics and a notification command" \
	rl_start --prometheus http://127.0.0.1:19190 --metrics 127.0.0.1:19102 \
	--notify-command "cat >> $RL_DIR/notify.jsonl; echo >> $RL_DIR/notify.jsonl"
cat >"$RL_DIR/plan.yaml" <<'EOC'
steps:
  - weight: 10%
    hold: 3s
  - weight: 50%
    hold: 3s
gates:
  - name: http5xx
    metric: prometheus
    query: 'max(app_5xx_ratio{version="{{variant}}"})'
    max_increase: 50%
    min_samples: 2
    error_limit: 3
EOC

echo "== a canary with a high 5xx ratio is rolled back"
set_values 0.30 0.01
for _ in $(seq 50); do [ "$(prom_query 'max(app_5xx_ratio{version="canary"})')" = 0.3 ] && break; sleep 0.2; done
rl_load_start 50 60
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
check "rolled back" rl_wait 30 'r["phase"] == "rolled_back"' web
check "the reason names the gate's numbers" rl_wait 2 '"0.3" in r["end_reason"] or "0.3" in r["status"]' web
sleep 1
check "one rollback notification" [ "$(grep -c '"event":"rollback"' "$RL_DIR/notify.jsonl" 2>/dev/null)" = 1 ]

echo "== an equal canary is promoted"
set_values 0.01 0.01
sleep 2
rl rollout retry web >/dev/null
check "promoted" rl_wait 40 'r["phase"] == "promoted"' web
sleep 1
check "one promotion notification" [ "$(grep -c '"event":"promote"' "$RL_DIR/notify.jsonl" 2>/dev/null)" = 1 ]

echo "== Prometheus scrapes sluiced's /metrics"
v=$(prom_query 'sum(sluice_new_flows_total{service="web"})')
check "a query through Prometheus returns the datapath's new flows ($v)" \
	python3 -S -c "import sys; sys.exit(0 if float(sys.argv[1] or 0) > 0 else 1)" "${v:-0}"

echo "== an exhausted error budget freezes the service"
printf '# TYPE app_error_ratio_30d gauge\napp_error_ratio_30d{service="web"} 0.0001\n' >"$RL_DIR/exp/budget.prom"
cat >"$RL_DIR/budget.yaml" <<'EOC'
steps:
  - weight: 10%
    hold: 5m
gates:
  - name: http5xx
    metric: prometheus
    query: 'max(app_5xx_ratio{version="{{variant}}"})'
    max_increase: 50%
    min_samples: 2
budget:
  slo: 99.9%
  window: 30d
  check_interval: 1s
  error_ratio_query: 'max(app_error_ratio_30d{service="{{service}}"})'
EOC
lab_sluice service del web >/dev/null 2>&1
lab_service web 4 >/dev/null
for _ in $(seq 50); do [ "$(prom_query 'max(app_error_ratio_30d)')" = 0.0001 ] && break; sleep 0.2; done
rl rollout start web -f "$RL_DIR/budget.yaml" >/dev/null
check "a rollout with budget left runs" rl_wait 10 'r["phase"] == "progressing" and r["budget"]["remaining"] > 0.8' web
printf '# TYPE app_error_ratio_30d gauge\napp_error_ratio_30d{service="web"} 0.002\n' >"$RL_DIR/exp/.b" && mv "$RL_DIR/exp/.b" "$RL_DIR/exp/budget.prom"
check "budget exhausted: the running rollout holds, frozen" \
	rl_wait 20 'r["status"].startswith("frozen: budget exhausted") and r["phase"] == "progressing"' web
held=$(rl_field web 'r["hold_left_ms"]'); sleep 2
check "no hold accrues while frozen" [ "$(rl_field web 'r["hold_left_ms"]')" = "$held" ]
grep -q '"type":"freeze".*budget exhausted' "$RL_AUDIT" && ok "the audit trail has the freeze with its reason" || fail "audit: budget freeze"
rl rollout abort web >/dev/null
out=$(rl rollout start web -f "$RL_DIR/budget.yaml" 2>&1); rc=$?
check "rollout start refused while exhausted (exit $rc)" [ "$rc" -ne 0 ]
case $out in *"budget exhausted"*) ok "the refusal says why";; *) fail "refusal reason: $out";; esac
check "the status shows the freeze" rl_wait 2 'r["budget"]["frozen"] and r["phase"] == "aborted"' web
printf '# TYPE app_error_ratio_30d gauge\napp_error_ratio_30d{service="web"} 0.0001\n' >"$RL_DIR/exp/.b" && mv "$RL_DIR/exp/.b" "$RL_DIR/exp/budget.prom"
check "budget back: the freeze lifts by itself" rl_wait 20 'not r["budget"]["frozen"]' web
rl rollout start web -f "$RL_DIR/budget.yaml" >/dev/null
check "and a start is accepted" [ $? -eq 0 ]
rl rollout abort web >/dev/null
rm -f "$RL_DIR/exp/budget.prom"

# the datapath source: ten minutes of samples in sluiced's store, 1 % bad
samples() {	# BAD_PER_MINUTE: rows for the last 10 minutes (cumulative)
	python3 -S - "$RL_DB" "$1" <<'EOP'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
now = int(time.time()) // 60 * 60000
with db:
    # sluiced's own rows of these minutes would join the series: ours only
    db.execute("DELETE FROM samples WHERE service = 'web' AND minute_ms < ?", (now,))
    for k in range(10):
        m = now - (10 - k) * 60000
        db.execute("INSERT OR REPLACE INTO samples VALUES ('web', ?, 0, 1000, ?, ?, ?, ?)",
                   (m, 10**12 + k * 50000, 10**12 + k * 50000, 10**9 + k * int(sys.argv[2]), 10**9))
EOP
}
sed -e '/error_ratio_query/d' -e 's/^  check_interval: 1s/  check_interval: 1s\n  min_events: 10/' "$RL_DIR/budget.yaml" >"$RL_DIR/budget_dp.yaml"
samples 1000
out=$(rl rollout start web -f "$RL_DIR/budget_dp.yaml" 2>&1); rc=$?
check "samples 1 % bad: start refused at once (exit $rc)" [ "$rc" -ne 0 ]
case $out in *"budget exhausted"*"9000 bad of 900"*" flows"*) ok "with the samples' numbers";; *) fail "refusal: $out";; esac
samples 0
rl rollout start web -f "$RL_DIR/budget_dp.yaml" >/dev/null
check "good samples: a start is accepted" [ $? -eq 0 ]
check "and its status shows the budget left" rl_wait 10 'r["budget"]["remaining"] > 0.9 and not r["budget"]["frozen"]' web
rl rollout abort web >/dev/null

echo "== the pre-step hook"
cat >"$RL_DIR/hook.yaml" <<EOC
steps:
  - weight: 10%
    hold: 5m
gates:
  - name: http5xx
    metric: prometheus
    query: 'max(app_5xx_ratio{version="{{variant}}"})'
    max_increase: 50%
    min_samples: 2
pre_step_hook: 'echo "\$SLUICE_SERVICE \$SLUICE_STEP \$SLUICE_WEIGHT" >> $RL_DIR/hook.log; test -e $RL_DIR/hook.ok'
pre_step_timeout: 5s
EOC
lab_sluice service del web >/dev/null 2>&1
lab_service web 4 >/dev/null
rl rollout start web -f "$RL_DIR/hook.yaml" >/dev/null
check "a failing hook pauses the rollout" rl_wait 10 'r["phase"] == "paused" and r["pause_reason"] == "pre-step hook"' web
check "before the step's weight is written" [ "$(rl_field web 'r["weight"][0]')" = 0 ]
grep -q 'pre-step hook: exit status 1' "$RL_AUDIT" && ok "the audit trail has the hook's exit status" || fail "audit: hook"
check "the hook saw the service, step and weight" grep -q '^web 0 10.00$' "$RL_DIR/hook.log"
touch "$RL_DIR/hook.ok"
rl rollout resume web >/dev/null
check "resume runs it again; the step begins" rl_wait 10 'r["phase"] == "progressing" and r["weight"][0] == 1000' web
check "the hook ran twice" [ "$(wc -l <"$RL_DIR/hook.log")" = 2 ] || cat "$RL_DIR/hook.log"
rl rollout abort web >/dev/null

echo "== Prometheus stopped mid-rollout: errors, then a pause"
# promotion emptied the canary pool: a fresh service (pools as new)
lab_sluice service del web >/dev/null 2>&1
lab_service web 4 >/dev/null
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
check "a new rollout runs" rl_wait 10 'r["phase"] == "progressing"' web
kill -9 "$PROM_PID"; wait "$PROM_PID" 2>/dev/null; PROM_PID=
check "paused on gate errors" rl_wait 30 'r["phase"] == "paused"' web
check "never passed: not promoted" [ "$(rl_field web 'r["phase"]')" != promoted ]
check "the status says why" rl_wait 2 '"error" in r["status"] or "error" in r["pause_reason"]' web
grep -q 'unreachable' "$RL_AUDIT" && ok "the audit trail has the reason (unreachable)" || fail "audit reason"
rl_load_stop
t_done
