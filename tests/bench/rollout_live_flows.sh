#!/usr/bin/env bash
# Time from a rollback decision to the last canary packet, under each
# on_rollback: live_flows: option (a benchmark, not a test; issue 21). The
# namespace lab (scripts/lab.sh, nat mode under XDP, real TCP): the canary
# at 20 %, HOLD long-lived connections (tcpnames.py hold: one exchange per
# connection every 100 ms) opened before the canary starts refusing new
# connections; a paced load (300 new connections a second) makes the
# error_ratio gate fail. The decision is the audit trail's rollback record
# (sluiced's steady clock, in wall-clock ms); the last canary packet is
# the last change of the canary's packet counter (sluice -j stats), polled
# every ~20 ms. Under keep the connections stay until their clients close
# them (the hold ends HOLD_SECS after it starts): reported as such.
#   LIVE_RUNS=3 LIVE_HOLD=40 tests/bench/rollout_live_flows.sh
# Prints a table and writes build/bench/rollout_live_flows.json.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
RUNS=${LIVE_RUNS:-3}
HOLD=${LIVE_HOLD:-40}
HOLD_SECS=${LIVE_HOLD_SECS:-30}
LAB_TAG=lv$$
rl_init
trap 'rl_cleanup' EXIT
need_root
lab_up xdp nat >/dev/null || { echo "lab up failed" >&2; exit 1; }
rl_start || { echo "sluiced did not start" >&2; exit 1; }
OUT=build/bench/rollout_live_flows.json
mkdir -p build/bench
echo "[" >"$OUT"
first=1
printf '%-10s %4s %8s %22s %s\n' option run "canary" "decision->last canary" "(s)"
for mode in keep reset "drain 5s" drain; do
	for run in $(seq "$RUNS"); do
		rl_canary_heal
		lab_sluice service del web >/dev/null 2>&1
		lab_service web 4 >/dev/null
		: >"$RL_AUDIT"
		cat >"$RL_DIR/plan.yaml" <<EOF
steps:
  - weight: 20%
    hold: 1h
gates:
  - metric: error_ratio
    max_increase: 20%
    confidence: 99%
    min_samples: 50
on_rollback:
  live_flows: $mode
EOF
		rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
		rl_wait 10 'r["weight"][0]==2000' web
		lab_in cl sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
		lab_in cl python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" "$HOLD" "$HOLD_SECS" >"$RL_DIR/hold" &
		hp=$!
		for t in $(seq 100); do grep -q ready "$RL_DIR/hold" && break; sleep 0.1; done
		# the poller: the canary's packet counter, its last change (wall ms)
		python3 - "$(lab_ns lb)" "$(lab_pin)" "$RL_DIR/last" "$HOLD_SECS" <<'PY' &
import json, subprocess, sys, time
ns, pin, out, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
cmd = ["nsenter", "--net=/run/netns/" + ns, "build/sluice", "--pin-dir", pin, "-j", "stats", "web"]
last, prev, end = 0, None, time.time() + secs + 5
while time.time() < end:
    try:
        j = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)
        n = sum(r["packets"] for r in j["services"][0]["rows"] if r["variant"] == "canary")
    except Exception:
        n = prev
    if n != prev:
        prev, last = n, time.time()
        open(out, "w").write("%d\n" % int(last * 1000))
    time.sleep(0.02)
PY
		pp=$!
		sleep 1
		rl_canary_refuse
		rl_load_start 300 60
		rl_wait 30 'r["phase"]=="rolled_back"' web
		rl_load_stop
		wait "$hp" "$pp"
		dec=$(python3 -c 'import json,sys
print(max([json.loads(l)["at_ms"] for l in open(sys.argv[1]) if "\"type\":\"rollback\"" in l] or [0]))' "$RL_AUDIT")
		last=$(cat "$RL_DIR/last" 2>/dev/null || echo 0)
		can=$(python3 -c 'import json,sys
j=[json.loads(l) for l in open(sys.argv[1]) if "conns" in l][0]["conns"]
print(sum(c["backend"] in ("b3","b4") for c in j))' "$RL_DIR/hold" 2>/dev/null || echo 0)
		secs=$(python3 -c "print('%.2f' % (($last - $dec) / 1000.0))")
		note=""
		[ "$mode" = keep ] && note=" (until the hold ended: the clients closed them)"
		printf '%-10s %4s %8s %22s%s\n' "$mode" "$run" "$can" "$secs" "$note"
		[ $first = 1 ] || echo "," >>"$OUT"
		first=0
		printf '{"option": "%s", "run": %s, "canary_conns": %s, "decision_to_last_canary_s": %s}\n' \
			"$mode" "$run" "$can" "$secs" >>"$OUT"
	done
done
echo "]" >>"$OUT"
