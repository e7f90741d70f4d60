#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time: holds, gates and checks of
# seconds. Under qemu TCG they would cost CI most of its time and judge the
# emulator's speed; the kernel side they use, counters, weight writes and
# the kill switch, is tested in the guest by the datapath and lab tests.)
# sluiced's backend health checks against real backends (scripts/lab.sh,
# nat mode under XDP, tcp checks every 200 ms, fall 3, rise 2):
#   - a baseline backend's server is killed: it leaves the pool (health
#     down in the maps, up 0 in /metrics), new connections stop reaching it, live
#     connections to the other backend are untouched; restarted, it rejoins
#   - every baseline server killed: the pool keeps its backends, the log
#     says so loudly, the daemon keeps running
#   - a check that times out (SYNs dropped), an HTTP check answered 500, a
#     server that accepts then resets (tcp: up, http: down), as documented
#   - the whole canary pool dying during a rollout rolls it back as a
#     failure of the canary ("canary backends down (2 of 2)" in the audit
#     trail and the status), not as an operator's abort
# Bounds are generous (5-10 s for a 0.6 s fall); the checker re-reads the
# configuration every 5 s.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup hc nft
CFG=$RL_DIR/sluice.yaml

# config CHECK_B1 CHECK_B2: the lab's service with health checks; the
# two arguments are backend-level health_check mappings ("" for none)
config() {
	cat >"$CFG.new" <<EOF
services:
  - name: web
    vip: $LAB_VIP4
    port: $LAB_PORT
    mode: nat
    health_check: {type: tcp, interval: 200ms, timeout: 200ms, fall: 3, rise: 2}
    baseline:
      backends:
        - address: 10.101.0.11${1:+
          health_check: $1}
        - address: 10.101.0.12${2:+
          health_check: $2}
    canary:
      backends:
        - address: 10.101.0.13
        - address: 10.101.0.14
EOF
	mv "$CFG.new" "$CFG"
}
svc() { lab_sluice -j service show web; }
# down_of ADDR: the backend's health in the maps (True/False)
down_of() { svc | json "[b['health']=='down' for p in ('baseline','canary') for b in j['services'][0][p] if b['address']=='$1'][0]"; }
wait_down() {	# ADDR True|False SECONDS
	local end=$(( $(date +%s) + $3 ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(down_of "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
server_kill() {	# BACKEND: its line server only (pids of its namespace)
	local p
	for p in $(ip netns pids "$(lab_ns "$1")"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "tcpnames.py serve $1 " &&
			kill -9 "$p"
	done
	return 0
}
server_start() {
	lab_in "$1" python3 "$TCPNAMES" serve "$1" "$LAB_PORT" --family 6 </dev/null >/dev/null 2>&1 &
	local t
	for t in $(seq 50); do
		lab_in "$1" bash -c "exec 3<>/dev/tcp/127.0.0.1/$LAB_PORT" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# http_server BACKEND PORT KIND(500|reset): a second server on the backend
http_server() {
	lab_in "$1" python3 - "$2" "$3" </dev/null >/dev/null 2>&1 <<'EOF' &
import socket, struct, sys
port, kind = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", port)); s.listen(64)
while True:
    c, _ = s.accept()
    if kind == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        c.settimeout(1)
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfail")
        except OSError:
            pass
    c.close()
EOF
}
spread() { lab_in cl python3 "$TCPNAMES" spread "$LAB_VIP4" "$LAB_PORT" "$1" --par 4 --timeout 2; }
hlog() { grep -c "$1" "$RL_LOG" 2>/dev/null; }
# in_log PATTERN: the line shows up in sluiced's log within 3 s (the maps
# are written first, the log line follows: a reader of the maps can be
# quicker than it)
in_log() {
	local i
	for i in $(seq 30); do
		grep -q "$1" "$RL_LOG" && return 0
		sleep 0.1
	done
	grep "$(echo "$1" | cut -d: -f1)" "$RL_LOG" | tail -2 | sed 's/^/  log: /'
	return 1
}

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
config "" ""
check "sluice apply of the configuration with health checks" lab_sluice apply -f "$CFG"
check "sluiced starts with --config and /metrics" rl_start --config "$CFG" --metrics 127.0.0.1:9469
sleep 2
gen0=$(svc | json 'j["services"][0]["gen"]')
sleep 1.5
check "healthy backends: no backend down" [ "$(svc | json 'sum(b["health"]=="down" for p in ("baseline","canary") for b in j["services"][0][p])')" = 0 ]
check "healthy backends: the configuration was not republished" [ "$(svc | json 'j["services"][0]["gen"]')" = "$gen0" ]
check "the log says how many backends are checked" in_log "health checks: 4 backends checked"

echo "== a baseline server dies"
lab_in cl python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" 16 8 >"$RL_DIR/hold.out" 2>/dev/null &
HOLD=$!
sleep 1.5
t0=$(date +%s%N)
server_kill b1
check "b1 leaves the pool within 5 s (fall 3 x 200 ms)" wait_down 10.101.0.11 True 5
t1=$(date +%s%N)
echo "  death to health down in the maps: $(( (t1 - t0) / 1000000 )) ms (observed by polling every 100 ms)"
out=$(spread 100)
check "100 new connections: none reaches b1, none fails" \
	[ "$(echo "$out" | json 'j["counts"].get("b1",0)==0 and j["errors"]==0 and j["counts"].get("b2",0)==100')" = True ]
wait "$HOLD"
tail -1 "$RL_DIR/hold.out" >"$RL_DIR/hold.json"
check "live connections to b2: all kept their backend, no error" \
	[ "$(json 'all(not c["changed"] and c["errors"]==0 for c in j["conns"] if c["backend"]=="b2") and any(c["backend"]=="b2" for c in j["conns"])' <"$RL_DIR/hold.json")" = True ]
echo "  live connections: $(json '[(c["backend"], c["errors"]) for c in j["conns"]]' <"$RL_DIR/hold.json")"
check "the log says why (connection refused, fall 3)" in_log "10.101.0.11 port 8080 is down: 3 tcp check failures in a row (fall 3), last: connection refused"
check "the audit log has the transition" grep -q '"health_down"' "$RL_AUDIT"
# metric SERIES-PREFIX: its value in sluiced's /metrics (a snapshot a second)
metric() { ip netns exec "$(lab_ns lb)" curl -s http://127.0.0.1:9469/metrics | grep -F "$1" | awk '{print $NF}'; }
b1m='{service="web",variant="baseline",address="10.101.0.11",port="8080",check="tcp"}'
sleep 1.2
check "/metrics: b1 up 0" [ "$(metric "sluice_backend_up$b1m")" = 0 ]
check "/metrics: b2 up 1" [ "$(metric 'sluice_backend_up{service="web",variant="baseline",address="10.101.0.12"')" = 1 ]
check "/metrics: b1 has a transition and failed checks" \
	[ "$(metric "sluice_backend_health_transitions_total$b1m")" -ge 1 ] &&
	[ "$(metric "sluice_backend_health_check_failures_total$b1m")" -ge 3 ]
rl backend show web >"$RL_DIR/bshow.txt"
sed -n '1,4p' "$RL_DIR/bshow.txt" | sed 's/^/  /'
check "backend show: the pool line counts b1 down" grep -q "baseline (blue): 2 backends, 1 down by health check" "$RL_DIR/bshow.txt"
b1_check() { grep -A1 "10.101.0.11 port 8080" "$RL_DIR/bshow.txt" | grep -q "check tcp: .* transitions, last: connection refused"; }
check "backend show: b1's check from sluiced (failures, transitions, last result)" b1_check
check "backend show -j: b1's check says down" \
	[ "$(rl -j backend show web | json '[b["check"]["down"] for b in j["baseline"] if b["address"]=="10.101.0.11"][0]')" = True ]
check "backend show without sluiced's socket: health from the maps, no check, no error" \
	[ "$(SLUICE_SOCKET=$RL_DIR/none.sock lab_sluice -j backend show web | json '[("check" in b, b["health"]) for b in j["baseline"] if b["address"]=="10.101.0.11"][0]')" = "(False, 'down')" ]
check "/metrics: the last check's duration is there" [ -n "$(metric "sluice_backend_health_check_duration_seconds$b1m")" ]
if command -v promtool >/dev/null; then
	ip netns exec "$(lab_ns lb)" curl -s http://127.0.0.1:9469/metrics >"$RL_DIR/metrics.txt"
	check "/metrics passes promtool check metrics" promtool check metrics <"$RL_DIR/metrics.txt"
fi
check "b1's server restarts" server_start b1
check "b1 rejoins within 5 s (rise 2)" wait_down 10.101.0.11 False 5
out=$(spread 100)
check "new connections reach b1 again" [ "$(echo "$out" | json 'j["counts"].get("b1",0)>0 and j["errors"]==0')" = True ]

echo "== every baseline server dies"
server_kill b1
server_kill b2
check "b1 down" wait_down 10.101.0.11 True 5
check "b2 down" wait_down 10.101.0.12 True 5
check "the pool keeps both backends, marked all down" \
	[ "$(svc | json 'len(j["services"][0]["baseline"])==2 and j["services"][0]["baseline_all_down"]')" = True ]
check "the log says so loudly" in_log "EVERY active baseline backend of web is down: all 2 kept in the table"
check "sluiced is still running" kill -0 "$RL_PID"
check "and answers" rl rollout status
server_start b1; server_start b2
check "both rejoin" wait_down 10.101.0.11 False 5 && wait_down 10.101.0.12 False 5

echo "== a check that times out (b2 drops SYNs)"
lab_in b2 nft add table inet hctest
lab_in b2 nft add chain inet hctest in '{ type filter hook input priority 0; }'
lab_in b2 nft add rule inet hctest in tcp dport "$LAB_PORT" tcp flags syn drop
check "b2 down" wait_down 10.101.0.12 True 5
check "the reason is the timeout" in_log "10.101.0.12 port 8080 is down: .*last: timeout after 200 ms"
lab_in b2 nft delete table inet hctest
check "b2 back" wait_down 10.101.0.12 False 5

echo "== HTTP 500 and a server that accepts then resets"
http_server b2 8090 500
http_server b1 8091 reset
sleep 0.5
config "{type: http, port: 8091, path: /, interval: 200ms, timeout: 200ms}" \
       "{type: http, port: 8090, path: /healthz, interval: 200ms, timeout: 200ms}"
check "b2 (HTTP 500) goes down within 10 s (after the reload)" wait_down 10.101.0.12 True 10
check "the reason is the status" in_log "10.101.0.12 port 8080 is down: .*last: HTTP 500"
check "b1 (http, accept then reset) goes down" wait_down 10.101.0.11 True 10
grep "10.101.0.11 port 8080 is down" "$RL_LOG" | tail -1 | sed 's/^/  /'
config "{type: tcp, port: 8091, interval: 200ms, timeout: 200ms}" ""
check "b1 with a tcp check of the resetting server: up (documented)" wait_down 10.101.0.11 False 10
check "b2 back on its tcp check" wait_down 10.101.0.12 False 10
config "" ""

echo "== the canary pool dies during a rollout"
cat >"$RL_DIR/plan.yaml" <<EOF
steps:
  - weight: 25%
    hold: 60s
  - weight: 50%
    hold: 60s
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
EOF
check "rollout start" rl rollout start web -f "$RL_DIR/plan.yaml"
sleep 1
server_kill b3
server_kill b4
check "the rollout is rolled back (a gate failure, not an abort) within 10 s" rl_wait 10 'r["phase"]=="rolled_back" and not r["by_operator"]' web
check "the kill switch is on" [ "$(svc | json 'j["services"][0]["revert"]')" != off ]
rl -j rollout history web >"$RL_DIR/hist.json"
check "the trail records a dead canary backend as evidence against the canary" \
	grep -q "evidence against the canary" "$RL_DIR/hist.json"
echo "  end: $(rl_field web 'r["end_reason"]')"
check "the status says why: canary backends down (2 of 2)" \
	[ "$(rl_field web '"canary backends down (2 of 2)" in r["end_reason"] and "canary backends down (2 of 2)" in r["status"]')" = True ]
check "the trail's rollback event says why" \
	[ "$(json 'any(e["type"]=="rollback" and "canary backends down (2 of 2)" in e["text"] for e in j["events"])' <"$RL_DIR/hist.json")" = True ]
check "rollout status shows the canary backends down" \
	[ "$(rl_field web 'sum(h["down"] for h in r["health"] if h["pool"]=="canary")')" = 2 ]
rl rollout status web | grep health | sed 's/^/  /'
check "sluiced is still running" kill -0 "$RL_PID"
t_done
