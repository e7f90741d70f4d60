#!/usr/bin/env bash
# Time from the event to the withdrawal seen at the router (a benchmark,
# not a test), in the BGP lab (tests/integration/bgp_lib.sh: a router and
# two LB nodes, each with its own BIRD 2, ECMP at the router, real TCP):
#   death  node a's own backends (b1 b2; node b has b3 b4) are killed
#          (SIGKILL: connections are refused from then on); sluiced's TCP
#          checks every 200 ms, down after 2 failures
#   drain  `sluice drain web` on node a
# t0: right before the kill or the drain; the end: the first poll (every
# ~15 ms) that finds one next hop for the VIP in the router's kernel
# table. During each death run a client offers BGP_RATE new connections a
# second (tcpnames.py load, 2 s timeout); failed ones are reported (those
# the router still sends to node a between the death and the withdrawal).
# The node comes back between runs (backends restarted, undrain).
#   BGP_RUNS=5 BGP_RATE=50 tests/bench/bgp_withdraw.sh
# Prints a table and writes build/bench/bgp_withdraw.json.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source tests/integration/bgp_lib.sh
RUNS=${BGP_RUNS:-5}
RATE=${BGP_RATE:-50}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
LAB_TAG=bgpb$$
trap bgp_down EXIT
bgp_up xdp || { echo "the lab did not come up" >&2; exit 1; }
bgp_config a 1 2 >"$BGP_DIR/cfg-a.yaml"
bgp_config b 3 4 >"$BGP_DIR/cfg-b.yaml"
bgp_sluice a apply -f "$BGP_DIR/cfg-a.yaml" >/dev/null
bgp_sluice b apply -f "$BGP_DIR/cfg-b.yaml" >/dev/null
bgp_sluiced a && bgp_sluiced b || { echo "sluiced did not start" >&2; exit 1; }
bgp_wait_nh 2 60 || { echo "no ECMP route at the router" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# ms from $1 until the router has one next hop (or -1 after 30 s)
until_one() {
	local t0=$1
	while [ "$(bgp_nh_count)" != 1 ]; do
		[ $(( $(now_ms) - t0 )) -gt 30000 ] && { echo -1; return; }
		sleep 0.01
	done
	echo $(( $(now_ms) - t0 ))
}
death=() drain=() failed=() offered=()
for r in $(seq "$RUNS"); do
	bgp_wait_nh 2 30 || { echo "run $r: node a did not come back" >&2; exit 1; }
	sleep 1
	bgp_in cl python3 "$TCPNAMES" load "$BGP_VIP" "$BGP_PORT" "$RATE" 6 --timeout 2 \
		>"$BGP_DIR/load.json" 2>/dev/null &
	load=$!
	sleep 1
	t0=$(now_ms)
	bgp_server_kill 1; bgp_server_kill 2
	death+=("$(until_one "$t0")")
	wait $load
	failed+=("$(json 'j["errors"]' <"$BGP_DIR/load.json")")
	offered+=("$((RATE * 6))")
	bgp_server 1; bgp_server 2
	bgp_wait_nh 2 30 || { echo "run $r: node a was not announced again" >&2; exit 1; }
	sleep 1
	t0=$(now_ms)
	bgp_sluice a drain web >/dev/null
	drain+=("$(until_one "$t0")")
	bgp_sluice a undrain web >/dev/null
	echo "run $r: death -> withdrawn ${death[-1]} ms (${failed[-1]} of ${offered[-1]} connections failed); drain -> withdrawn ${drain[-1]} ms"
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %d median %d max %d", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo
echo "event   time to withdrawal at the router (ms, $RUNS runs)"
echo "death   $(stats "${death[@]}")"
echo "drain   $(stats "${drain[@]}")"
echo "failed connections during a death run (of ${offered[0]} offered): ${failed[*]}"
mkdir -p build/bench
python3 - "$RUNS" "$RATE" "${death[*]}" "${drain[*]}" "${failed[*]}" >build/bench/bgp_withdraw.json <<'PY'
import json, sys
runs, rate, d, r, f = sys.argv[1:]
print(json.dumps({"runs": int(runs), "rate": int(rate),
                  "death_ms": [int(x) for x in d.split()],
                  "drain_ms": [int(x) for x in r.split()],
                  "failed": [int(x) for x in f.split()]}))
PY
