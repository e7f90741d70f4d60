#!/usr/bin/env bash
# The sluice demo: a progressive rollout with automatic rollback, end to end.
#
# A lab of network namespaces (scripts/lab.sh): a client running wrk, the LB
# node running sluice (XDP, nat mode) and sluiced, a baseline pool (b1, b2:
# v1) and a canary pool (b3, b4: v2) of real HTTP backends that say their
# version and export request/error counters, and Prometheus scraping the
# backends and sluiced's /metrics. sluiced walks the shipped plans in
# examples/demo/:
#   1. a healthy canary ramped 1 -> 5 -> 25 -> 50 -> 100 % and promoted;
#   2. a faulty canary: at 5 % b3 starts answering HTTP 500 (only the
#      Prometheus counters show it) and b4 refuses with TCP RST (the
#      datapath sees it); a gate rolls it back, with the numbers;
#   3. a blue-green cutover reverted at once with the kill switch, and an
#      incident freeze holding a rollout until it is lifted.
# Exits 0 only when every part behaved as expected. Writes a `sluice report`
# SVG per part (SLUICE_DEMO_OUT, default /tmp/sluice-demo) and prints where.
# Prints the address of sluiced's status page, forwarded to this host's
# loopback (port SLUICE_DEMO_PAGE_PORT, default 19469) while it runs.
# --short: shorter holds (what tests/integration/test_demo.sh runs).
# Cleans up everything it made on every exit path, Ctrl-C included.
set -u
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "Error: run as root (BPF, namespaces)" >&2; exit 1; }
SHORT=0 MODE=xdp
for a in "$@"; do
	case $a in
	--short) SHORT=1 ;;
	xdp|xdpgeneric|tc) MODE=$a ;;
	*) echo "usage: $0 [--short] [xdp|xdpgeneric|tc]" >&2; exit 2 ;;
	esac
done
if [ "${SLUICE_DEMO_NODEPS:-0}" != 1 ]; then
	scripts/deps.sh || exit 1
	# benches: lab.sh's bench_sink program, on kernels before 5.13
	make -j"$(nproc)" all benches >build.log 2>&1 || { tail -n 30 build.log; exit 1; }
fi
for t in wrk prometheus curl; do
	command -v $t >/dev/null || { echo "Error: the demo needs $t (scripts/deps.sh)" >&2; exit 1; }
done
LAB_TAG=demo$$
source scripts/lab.sh
DIR=$(mktemp -d /tmp/sluice-demo-run.$$.XXXX)
OUT=${SLUICE_DEMO_OUT:-/tmp/sluice-demo}
mkdir -p "$OUT"
SOCK=$DIR/ctl.sock PROM_PORT=19390 METRICS=127.0.0.1:19391
PAGE_PORT=${SLUICE_DEMO_PAGE_PORT:-19469} FWD=
PROM=http://127.0.0.1:$PROM_PORT
T0=$(date +%s.%N)
RESULT=()

cleanup() {
	trap - EXIT INT TERM
	# every process the demo started runs in one of the lab's namespaces
	# (the page's forwarder too, once it has its listener)
	[ -n "$FWD" ] && kill "$FWD" 2>/dev/null
	lab_down
	# SLUICE_DEMO_LOGS=DIR keeps the daemons' logs (test_demo: for a failure)
	[ -n "${SLUICE_DEMO_LOGS:-}" ] && cp "$DIR"/*.log "$SLUICE_DEMO_LOGS/" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '  %s\n' "$*"; }
dsl() { SLUICE_SOCKET=$SOCK lab_sluice "$@"; }
export DEMO_SLUICE="env SLUICE_SOCKET=$SOCK nsenter --net=/run/netns/$(lab_ns lb) $SLUICE --pin-dir $(lab_pin)"
field() { dsl -j rollout status web | python3 -c "import json,sys; r=json.load(sys.stdin)['rollouts'][0]; print($1)"; }
part() {	# NAME OK|FAIL
	RESULT+=("$1: $2")
	note "part $1: $2"
	# a failed part says what sluiced decided, and why
	[ "$2" = OK ] || dsl -j rollout history web -n 500 | python3 -c '
import json, sys
ev = json.load(sys.stdin)["events"]
last = max((e.get("rollout_id", 0) for e in ev), default=0)
ev = sorted((e for e in ev if e.get("rollout_id", 0) == last), key=lambda e: e.get("at_ms", 0))
# from a little before the first decision that ended or held the walk
hit = [i for i, e in enumerate(ev) if e["type"] in ("pause", "rollback", "abort", "promote", "error")
       or (e["type"] == "gate" and e.get("eval", {}).get("outcome") == "fail")]
print("  what sluiced decided in rollout %d:" % last)
for e in ev[max(0, hit[0] - 6) if hit else -15:][:25]:
    print("    %s: %s" % (e["type"], e.get("text", "")))' || true
}
plan() {	# FILE: a shipped plan, holds shortened under --short
	if [ $SHORT = 1 ]; then sed 's/hold: 3s/hold: 1s/' "$1"; else cat "$1"; fi >"$DIR/$(basename "$1")"
	echo "$DIR/$(basename "$1")"
}
report() {	# PART
	if dsl report web -o "$OUT/part$1.svg" >/dev/null; then
		note "picture of this rollout: $OUT/part$1.svg"
	else
		note "sluice report failed"
	fi
}
backend_faults_off() {
	local i
	for i in 1 2 3 4; do
		rm -f "$DIR/fault-b$i"
		lab_in "b$i" nft delete table inet demo 2>/dev/null
	done
	return 0
}
# Until Prometheus sees no HTTP 500 in the gate's 4 s window: an earlier
# part's faults must not fail the next part's gate (at most 10 s)
prom_quiet() {
	local t
	for t in $(seq 50); do
		lab_in lb curl -sf "$PROM/api/v1/query" \
			--data-urlencode 'query=sum(rate(http_requests_total{code="500"}[4s])) > 0' |
			grep -q '"result":\[\]' && return 0
		sleep 0.2
	done
	return 0
}
# A fresh service web: backends b1, b2 in the baseline pool, b3, b4 canary.
fresh_service() {
	backend_faults_off
	prom_quiet
	lab_sluice service del web >/dev/null 2>&1
	lab_service web 4 >/dev/null
}

say "Building the lab: client, LB node (sluice, $MODE, nat), baseline v1 and canary v2 HTTP backends"
lab_up "$MODE" nat >/dev/null || { echo "Error: the lab did not come up" >&2; exit 1; }
for i in 1 2 3 4; do
	# the lab's TCP servers make way for HTTP ones on the same port
	ip netns pids "$(lab_ns "b$i")" | xargs -r kill 2>/dev/null
	var=baseline ver=v1
	[ "$i" -gt 2 ] && var=canary ver=v2
	lab_in "b$i" python3 scripts/demo/backend.py "b$i" $var $ver "$LAB_PORT" 9100 "$DIR/fault-b$i" \
		</dev/null >/dev/null 2>&1 &
done
lab_wait_servers
fresh_service
cat >"$DIR/prom.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: backends
    static_configs: [{targets: [10.101.0.11:9100, 10.101.0.12:9100, 10.101.0.13:9100, 10.101.0.14:9100]}]
  - job_name: sluiced
    static_configs: [{targets: ['$METRICS']}]
EOF
# ip netns exec / nsenter exec: each daemon is the process lab_down ends
nsenter --net="/run/netns/$(lab_ns lb)" prometheus --config.file="$DIR/prom.yml" \
	--storage.tsdb.path="$DIR/tsdb" --web.listen-address=127.0.0.1:$PROM_PORT \
	>"$DIR/prometheus.log" 2>&1 &
nsenter --net="/run/netns/$(lab_ns lb)" build/sluiced --socket "$SOCK" --db "$DIR/state.db" \
	--pin-dir "$(lab_pin)" --prometheus "$PROM" --metrics "$METRICS" >"$DIR/sluiced.log" 2>&1 &
for t in $(seq 100); do
	dsl rollout status >/dev/null 2>&1 &&
		lab_in lb curl -sf "$PROM/-/ready" >/dev/null 2>&1 && break
	sleep 0.1
done
dsl rollout status >/dev/null 2>&1 || { echo "Error: sluiced did not start" >&2; tail "$DIR/sluiced.log"; exit 1; }
note "sluiced on $SOCK, /metrics on $METRICS, Prometheus on $PROM (1 s scrapes)"
# sluiced's status page is on the LB namespace's loopback: bring it to this
# host's loopback for a browser
python3 scripts/demo/forward.py "$PAGE_PORT" "/run/netns/$(lab_ns lb)" "${METRICS##*:}" \
	</dev/null >/dev/null 2>"$DIR/forward.log" &
FWD=$!
for t in $(seq 30); do
	curl -sf --noproxy "*" -o /dev/null "http://127.0.0.1:$PAGE_PORT/" && break
	kill -0 "$FWD" 2>/dev/null || break
	sleep 0.1
done
if curl -sf --noproxy "*" -o /dev/null "http://127.0.0.1:$PAGE_PORT/"; then
	note "status page: http://127.0.0.1:$PAGE_PORT/ (open it in a browser now: it follows every part)"
else
	note "status page: http://$METRICS/ inside the LB namespace ($(tail -n 1 "$DIR/forward.log" 2>/dev/null))"
fi
note "$(lab_in cl curl -s "http://$LAB_VIP4:$LAB_PORT/")  <- a request through the VIP"
# wrk from the client: a new connection per request, so every request is a
# new flow the datapath decides. wrk often closes first (7,300 of its first
# ~21,000 connections), so the client keeps TIME_WAIT sockets: with the
# default range (14,000 ports a parity) and no reuse its ports ran out ten
# seconds in, the rate fell from ~4,000 to ~480 a second, and the few ports
# freed were reused over and over. So few tuples do not split as the weight
# says (each tuple's bucket is fixed): the split check paused a part, or no
# faulty flow reached the canary. The client's own namespace: all ports,
# TIME_WAIT reused.
lab_in cl sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
lab_in cl wrk -t1 -c6 -d600s -H 'Connection: close' "http://$LAB_VIP4:$LAB_PORT/" \
	>"$DIR/wrk.log" 2>&1 &
watch() { lab_in lb python3 scripts/demo/watch.py web "$@"; }
sleep 2

# ---- 1 ----------------------------------------------------------------------
say "1. A healthy canary: 1 -> 5 -> 25 -> 50 -> 100 %, gated, promoted"
dsl rollout start web -f "$(plan examples/demo/canary.yaml)" >/dev/null
if watch promoted 60 "$PROM" && [ "$(lab_sluice -j service show web |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["services"][0]; print(len(s["canary"]), sorted(b["address"] for b in s["baseline"]))')" = "0 ['10.101.0.13', '10.101.0.14']" ]; then
	note "promoted: the baseline pool is now v2 (b3, b4), the canary pool is empty"
	part 1 OK
else
	part 1 FAIL
fi
report 1

# ---- 2 ----------------------------------------------------------------------
say "2. A faulty canary: at 5 % b3 answers HTTP 500 (Prometheus sees it), b4 resets (the datapath sees it)"
fresh_service
echo "table inet demo { chain in { type filter hook input priority 0; tcp dport $LAB_PORT tcp flags syn reject with tcp reset; }; }" >"$DIR/rst.nft"
fault="touch $DIR/fault-b3; ip netns exec $(lab_ns b4) nft -f $DIR/rst.nft"
dsl rollout start web -f "$(plan examples/demo/canary.yaml)" >/dev/null
if watch rolled_back 60 "$PROM" --at-weight 500 "$fault"; then
	note "the decision, from the audit trail:"
	dsl -j rollout history web | python3 -c '
import json, sys
ev = json.load(sys.stdin)["events"]
for e in ev:
    if e["type"] == "gate" and e["eval"]["outcome"] == "fail":
        x = e["eval"]
        print("    gate %d failed: canary %.4g vs baseline %.4g (threshold %.4g), %d/%d canary samples bad: %s"
              % (e["gate"] + 1, x["canary"], x["baseline"], x["threshold"], x["bad_c"], x["samples_c"], x["reason"]))
    if e["type"] == "rollback":
        print("    " + e["text"])'
	[ "$(field 'r["weight"][0] < 10000')" = True ] &&
		[ "$(lab_sluice -j service show web | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["revert"])')" != off ] &&
		part 2 OK || part 2 FAIL
else
	part 2 FAIL
fi
report 2

# ---- 3 ----------------------------------------------------------------------
say "3a. Blue-green: cutover to green (v2), then the kill switch"
fresh_service
dsl rollout start web -f "$(plan examples/demo/bluegreen.yaml)" >/dev/null
ok=0
for t in $(seq 50); do [ "$(field 'r["weight"][0]')" = 10000 ] && break; sleep 0.2; done
sleep 1
note "during the cutover: $(lab_in cl curl -s "http://$LAB_VIP4:$LAB_PORT/")"
t1=$(date +%s%N)
dsl revert web >/dev/null
t2=$(date +%s%N)
v1=0
for i in $(seq 20); do lab_in cl curl -s "http://$LAB_VIP4:$LAB_PORT/" | grep -q " v1 " && v1=$((v1 + 1)); done
note "sluice revert web took $(( (t2 - t1) / 1000000 )) ms (one map write); then $v1 of 20 new requests answered by v1"
for t in $(seq 30); do [ "$(field 'r["phase"]')" = rolled_back ] && break; sleep 0.2; done
note "sluiced: $(field '"%s: %s" % (r["phase"], r["end_reason"])')"	# the reason names who
[ "$v1" = 20 ] && [ "$(field 'r["phase"]+str(r["by_operator"])')" = rolled_backTrue ] && ok=1
[ $ok = 1 ] && part 3a OK || part 3a FAIL
report 3a

say "3b. Incident freeze: a rollout holds its step until the freeze is lifted"
fresh_service
dsl rollout start web -f "$(plan examples/demo/canary.yaml)" >/dev/null
for t in $(seq 50); do [ "$(field 'r["phase"]')" = progressing ] && break; sleep 0.2; done
dsl rollout freeze --reason "INC-7: checkout latency (demo)" >/dev/null
note "frozen at: $(field 'r["status"]')"
hold=3; [ $SHORT = 1 ] && hold=1
sleep $(( 3 * hold + 1 ))
frozen_step=$(field 'r["step"]')
note "after $(( 3 * hold + 1 )) s (3 holds): $(field 'r["phase"], "step", r["step"] + 1, r["status"]')"
dsl rollout unfreeze >/dev/null
ok=0
for t in $(seq 75); do [ "$(field 'r["step"]')" -gt "$frozen_step" ] && { ok=1; break; }; sleep 0.2; done
note "unfrozen: $(field 'r["phase"], "step", r["step"] + 1')"
[ "$frozen_step" = 0 ] && [ $ok = 1 ] && part 3b OK || part 3b FAIL
dsl rollout abort web --reason "demo over" >/dev/null
report 3b

say "Result ($(python3 -c "import time; print('%.1f' % (time.time() - $T0))") s)"
fail=0
for r in "${RESULT[@]}"; do note "$r"; case $r in *FAIL) fail=1 ;; esac; done
note "reports: $OUT/part*.svg (sluice report web -o FILE.png for a PNG)"
exit $fail
