#!/usr/bin/env bash
# sluiced at scale (a benchmark, not a test): N services (default 1,000,
# nat mode, one baseline and one canary backend each, no traffic), each
# running a rollout whose gate is evaluated every second. Reports sluiced's
# RSS and CPU share over a window (/proc/PID/stat utime+stime), the time
# to start all rollouts, and the latency of control commands through the
# socket (status of one service, status of all, abort, a repeated abort,
# ping; tests/bench/ctl_bench.py) and of the CLI's `rollout status`.
#   ROLLOUT_N=1000 ROLLOUT_WINDOW=30 tests/bench/rollout_scale.sh
# Prints a table and writes build/bench/rollout_scale.json.
set -eu
cd "$(dirname "$0")/../.."
N=${ROLLOUT_N:-1000}
WIN=${ROLLOUT_WINDOW:-30}
B=build
SLUICED=${SLUICED:-$B/sluiced}
D=$(mktemp -d /tmp/rollout-bench.$$.XXXX)
PIN=/sys/fs/bpf/sluice-rbench-$$
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	$B/sluice -d "$PIN" destroy >/dev/null 2>&1 || rm -rf "$PIN"
	rm -rf "$D"
}
trap cleanup EXIT

python3 - "$N" >"$D/svc.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("services:")
for i in range(1, n + 1):
    a, b = divmod(i, 250)
    print(f"""  - name: svc{i:04d}
    vip: 10.250.{a}.{b + 1}
    port: 80
    protocol: tcp
    mode: nat
    table_size: 251
    baseline: [{{address: 10.251.{a}.{b + 1}}}]
    canary: [{{address: 10.252.{a}.{b + 1}}}]""")
PY
cat >"$D/plan.yaml" <<'PY'
steps:
  - weight: 1%
    hold: 1h
  - weight: 50%
    hold: 1h
gates:
  - metric: error_ratio
    interval: 1s
    max_increase: 20%
    min_samples: 100
PY
t0=$(date +%s.%N)
$B/sluice -d "$PIN" apply -f "$D/svc.yaml" >/dev/null
t1=$(date +%s.%N)
"$SLUICED" --pin-dir "$PIN" --socket "$D/ctl.sock" --db "$D/state.db" 2>"$D/sluiced.log" &
PID=$!
for _ in $(seq 100); do [ -S "$D/ctl.sock" ] && break; sleep 0.05; done
start=$(python3 tests/bench/ctl_bench.py start "$D/ctl.sock" "$D/plan.yaml" svc "$N")
sleep 5	# every rollout has ticked a few times
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
c0=$(ticks); w0=$(date +%s.%N)
sleep "$WIN"
c1=$(ticks); w1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
cpu=$(python3 -c "print(round(100.0*($c1-$c0)/$hz/($w1-$w0), 2))")
active=$(SLUICE_SOCKET=$D/ctl.sock $B/sluice -j rollout status | python3 -c "import json,sys; j=json.load(sys.stdin); print(sum(r['phase']=='progressing' for r in j['rollouts']))")
lat=$(python3 tests/bench/ctl_bench.py latency "$D/ctl.sock" svc "$N" 500)
cli=$(python3 - "$D/ctl.sock" "$B/sluice" <<'PY'
import os, subprocess, sys, time
env = dict(os.environ, SLUICE_SOCKET=sys.argv[1])
xs = []
for _ in range(30):
    t = time.perf_counter()
    subprocess.run([sys.argv[2], "rollout", "status", "svc0002"], env=env,
                   stdout=subprocess.DEVNULL, check=True)
    xs.append((time.perf_counter() - t) * 1e3)
xs.sort()
print(round(xs[len(xs) // 2], 2))
PY
)
dbsz=$(du -k "$D/state.db" "$D/state.db-wal" 2>/dev/null | awk '{s += $1} END {print s}')
mkdir -p $B/bench
python3 - "$N" "$WIN" "$cpu" "$rss" "$hwm" "$active" "$start" "$lat" "$cli" "$dbsz" \
	"$(python3 -c "print(round($t1-$t0,2))")" >$B/bench/rollout_scale.json <<'PY'
import json, sys
a = sys.argv
print(json.dumps({"services": int(a[1]), "window_s": int(a[2]), "cpu_pct_of_core": float(a[3]),
                  "rss_kb": int(a[4]), "rss_peak_kb": int(a[5]), "progressing": int(a[6]),
                  "start_all": json.loads(a[7]), "latency": json.loads(a[8]),
                  "cli_rollout_status_ms_p50": float(a[9]), "db_kb_after": int(a[10]),
                  "apply_s": float(a[11])}, indent=1))
PY
python3 - <<'PY'
import json
j = json.load(open("build/bench/rollout_scale.json"))
print(f"sluiced with {j['services']} services, {j['progressing']} rollouts progressing, gates every 1 s:")
print(f"  CPU {j['cpu_pct_of_core']} % of one core over {j['window_s']} s (target < 2 % at 1,000)")
print(f"  RSS {j['rss_kb']/1024:.1f} MiB, peak {j['rss_peak_kb']/1024:.1f} MiB (target < 64 MiB at 1,000)")
print(f"  {j['start_all']['started']} starts through the socket in {j['start_all']['seconds']} s; state db {j['db_kb_after']} KiB after")
for k, v in j["latency"].items():
    print(f"  {k:12s} p50 {v['p50_ms']} ms  p99 {v['p99_ms']} ms  max {v['max_ms']} ms  (n={v['n']})")
print(f"  sluice rollout status SERVICE (CLI process, p50) {j['cli_rollout_status_ms_p50']} ms")
PY
