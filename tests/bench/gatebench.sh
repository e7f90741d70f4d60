#!/usr/bin/env bash
# Prometheus gate numbers (issue 12): `make gatebench`.
#   - gate evaluation latency against a real Prometheus (Debian's, on
#     127.0.0.1 with its own data dir and a free port, scraping a test
#     exporter every second whose request counters this script advances)
#   - the loop's tick lateness and the datapath gate's interval while
#     Prometheus answers promptly, and while the endpoint sleeps SLOW_S
#     seconds per query (a stand-in that answers the query API late)
#   - /metrics with 1,000 services (metrics_bench)
# One JSON line per measurement on stdout; GATEBENCH_N queries (200),
# GATEBENCH_SECS seconds per jitter run (30).
set -u
cd "$(dirname "$0")/../.."
B=${SLUICE_BUILD:-build}
N=${GATEBENCH_N:-200}
SECS=${GATEBENCH_SECS:-30}
SLOW_S=${GATEBENCH_SLOW_S:-2.5}
command -v prometheus >/dev/null || { echo "gatebench: needs prometheus (scripts/deps.sh)" >&2; exit 77; }
[ -x "$B/bench/gatebench" ] && [ -x "$B/bench/metrics_bench" ] || { echo "gatebench: make $B/bench/gatebench $B/bench/metrics_bench" >&2; exit 1; }
DIR=$(mktemp -d /tmp/gatebench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
free_port() { python3 -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EXP=$(free_port); PROM=$(free_port); SLOW=$(free_port)
mkdir -p "$DIR/exp"
# request counters that grow each second: canary and baseline, 0.5 % 5xx
(
	i=0
	while :; do
		i=$((i + 1))
		printf '# TYPE app_requests_total counter\n' >"$DIR/exp/.a"
		for v in canary baseline; do
			printf 'app_requests_total{version="%s",code="200"} %d\napp_requests_total{version="%s",code="500"} %d\n' \
				"$v" $((i * 995)) "$v" $((i * 5)) >>"$DIR/exp/.a"
		done
		mv "$DIR/exp/.a" "$DIR/exp/app.prom"
		sleep 1
	done
) &
PIDS+=($!)
python3 -S tests/integration/exporter.py "$EXP" "$DIR/exp" >/dev/null 2>&1 &
PIDS+=($!)
cat >"$DIR/prom.yml" <<EOC
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: app
    static_configs: [{targets: ['127.0.0.1:$EXP']}]
EOC
prometheus --config.file="$DIR/prom.yml" --storage.tsdb.path="$DIR/tsdb" \
	--web.listen-address="127.0.0.1:$PROM" >"$DIR/prom.log" 2>&1 &
PIDS+=($!)
# the slow endpoint: the query API's answer after SLOW_S seconds
python3 -S -c '
import http.server, json, sys, time
slow = float(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(slow)
        b = json.dumps({"status": "success", "data": {"resultType": "vector",
             "result": [{"metric": {}, "value": [time.time(), "0.005"]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$SLOW" "$SLOW_S" 2>/dev/null &
PIDS+=($!)
ready=
for _ in $(seq 150); do
	v=$(python3 -S -c "
import json, sys, urllib.parse as p, urllib.request as u
q = p.quote('sum(rate(app_requests_total{version=\"canary\"}[1m]))')
r = json.load(u.urlopen('http://127.0.0.1:$PROM/api/v1/query?query=' + q, timeout=1))
print(r['data']['result'][0]['value'][1] if r['data']['result'] else '')" 2>/dev/null)
	[ -n "$v" ] && { ready=1; break; }
	sleep 0.2
done
[ -n "$ready" ] || { echo "gatebench: Prometheus gave no rate in 30 s" >&2; tail -5 "$DIR/prom.log" >&2; exit 1; }
"$B/bench/gatebench" latency "http://127.0.0.1:$PROM" "$N"
"$B/bench/gatebench" jitter "http://127.0.0.1:$PROM" "$SECS"
"$B/bench/gatebench" jitter "http://127.0.0.1:$SLOW" "$SECS"
"$B/bench/metrics_bench" 1000 20
