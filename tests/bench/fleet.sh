#!/usr/bin/env bash
# Fleet mode in numbers (a benchmark, not a test), on the fleet lab of
# tests/integration/fleet_lib.sh: three LB nodes behind an ECMP router,
# real etcd, real TCP.
#   write     etcd put of a weight -> in every node's maps (median, p99)
#   kill      the kill switch put into etcd -> every node reverted
#   failover  kill -9 of the leader's sluiced -> another node holds the
#             leader key (lease TTL FL_TTL, default 2 s)
#   requests  etcd requests per node per second, idle and during a rollout
#             under load
#   moved     live connections (of 60) that change backend when an ECMP
#             next hop is removed at a step change 25% -> 50% (either order)
#   FLEET_RUNS=100 tests/bench/fleet.sh; writes build/bench/fleet.json
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source tests/integration/fleet_lib.sh
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
RUNS=${FLEET_RUNS:-100}
FL_TAG=fb$$
trap fl_down EXIT
fl_up || { echo "fleet lab up failed" >&2; exit 1; }
for n in $(fl_nodes); do fl_start "$n" || { echo "sluiced $n failed" >&2; exit 1; }; done
socks=$(for n in $(fl_nodes); do printf '%s,' "$FL_DIR/$n.sock"; done)
socks=${socks%,}
hub() { ip netns exec "$(fl_ns hub)" "$@"; }
B=tests/bench/fleet_bench.py
sleep 2
write=$(hub python3 $B write "$FL_URL" "$FL_PFX" "$socks" "$RUNS")
kill_=$(hub python3 $B kill "$FL_URL" "$FL_PFX" "$socks" "$RUNS")
etcdctl_ put "$FL_PFX/killswitch" off >/dev/null
idle=$(python3 $B reqs "$socks" 5)

# requests during a rollout under load (40 new connections a second)
cat >"$FL_DIR/plan.yaml" <<'P'
steps:
  - weight: 10%
    hold: 3s
  - weight: 50%
    hold: 3s
  - weight: 100%
    hold: 3s
gates:
  - metric: error_ratio
    max: 50%
    min_samples: 5
    on_inconclusive: extend
P
fl_cl python3 "$FL_TCP" load 10.200.0.10 8080 40 12 --timeout 2 >/dev/null 2>&1 &
load=$!
fl_ctl n1 rollout start web --fleet -f "$FL_DIR/plan.yaml" >/dev/null
busy=$(python3 $B reqs "$socks" 10)
wait "$load"

# failover: kill the leader, time until another node holds the key
fo=()
for r in 1 2 3; do
	old=$(fl_leader)
	t0=$(date +%s%N)
	fl_kill9 "$old"
	while :; do
		l=$(fl_leader)
		[ -n "$l" ] && [ "$l" != "$old" ] && break
		sleep 0.02
	done
	fo+=($(( ($(date +%s%N) - t0) / 1000000 )))
	fl_start "$old" >/dev/null
	sleep 1
done

# flows ECMP moves to another node around a step change 25% -> 50%:
# moved: the next hop goes first (the flows are re-decided on their new
# node under the old weight), then the weight; weight_first: the other
# order (re-decided under the new weight: those whose bucket changed
# variant change backend)
moved_run() {	# ORDER
	fl_ecmp $(seq 1 "$FL_N")
	etcdctl_ put "$FL_PFX/weights" 2500 >/dev/null
	sleep 0.5
	fl_cl python3 "$FL_TCP" hold 10.200.0.10 8080 60 4 >"$FL_DIR/hold.json" &
	local h=$!
	sleep 1.5
	if [ "$1" = hop ]; then
		fl_ecmp 1 2
		etcdctl_ put "$FL_PFX/weights" 5000 >/dev/null
	else
		etcdctl_ put "$FL_PFX/weights" 5000 >/dev/null
		sleep 0.3
		fl_ecmp 1 2
	fi
	wait "$h"
	# a connection sent to another backend is reset there (DSR): it counts
	tail -1 "$FL_DIR/hold.json" | json 'sum(bool(c["changed"] or c["errors"]) for c in j["conns"])'
}
moved=$(moved_run hop)
moved_w=$(moved_run weight)

mkdir -p build/bench
cat >build/bench/fleet.json <<J
{"write_to_all_maps": $write, "kill_switch_fleet_wide": $kill_,
 "leader_failover_ms": [$(IFS=,; echo "${fo[*]}")], "lease_ttl_s": $FL_TTL,
 "etcd_requests_idle": $idle, "etcd_requests_rollout": $busy,
 "moved_of_60_hop_then_weight": $moved, "moved_of_60_weight_then_hop": $moved_w}
J
cat build/bench/fleet.json
