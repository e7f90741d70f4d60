#!/usr/bin/env bash
# VIPs announced over BGP by real BIRD 2 daemons (issue 22): a router doing
# ECMP over two LB nodes' announcements, real TCP clients behind it.
# Withdrawn on: every backend of a node down (sluiced's health checks),
# drain, detach; not on sluiced's death. Established connections survive
# a drain (the other node makes the same decision). bgp_lib.sh draws it.
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/bgp_lib.sh
need_root
for t in bird birdc python3 ethtool curl; do
	command -v $t >/dev/null || skip "needs $t (scripts/deps.sh: bird2)"
done
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
LAB_TAG=bgp$$
trap bgp_down EXIT
bgp_up xdp || { fail "the lab comes up"; bgp_down; exit 1; }
bgp_sluiced a --metrics 127.0.0.1:19523 || fail "sluiced starts on node a"
bgp_sluiced b || fail "sluiced starts on node b"
cl() { bgp_in cl python3 "$TCPNAMES" "$@"; }
metrics_has() { bgp_in lba curl -s http://127.0.0.1:19523/metrics | grep -qF "$1"; }

echo "- both nodes healthy"
check "router: two next hops for the VIP (ECMP over both announcements)" bgp_wait_nh 2 30
check "next hops are the two LB nodes" \
	test "$(bgp_nexthops | tr '\n' ' ')" = "10.150.1.2 10.150.2.2 "
check "the route carries the community of the service's bgp: (generated BIRD filter)" \
	bash -c "birdc -s $BGP_DIR/bird-rt.ctl show route all $BGP_VIP/32 | grep -q '(65001,100)'"
check "node a's BIRD learnt the IPv6 VIP from sluice's table" \
	bash -c "birdc -s $BGP_DIR/bird-lba.ctl show route protocol sluice6 | grep -q '$BGP_VIP6/128'"
check "router: two next hops for the IPv6 VIP too" bgp_wait_nh6 2 20
fa=$(bgp_new_flows a); fb=$(bgp_new_flows b)
out=$(cl spread "$BGP_VIP" "$BGP_PORT" 60 --par 8)
check "60 new connections through the router all succeed" test "$(echo "$out" | json 'j["errors"]')" = 0
check "connections reach backends through node a" test "$(bgp_new_flows a)" -gt "$fa"
check "connections reach backends through node b" test "$(bgp_new_flows b)" -gt "$fb"
check "sluice status says why: announced, healthy" \
	bash -c "nsenter --net=/run/netns/$(bgp_ns lba) $SLUICE --pin-dir $(bgp_pin a) status | grep -q '$BGP_VIP .*announced .*(healthy)'"

echo "- drain on node a: withdrawn, established connections not reset"
cl hold "$BGP_VIP" "$BGP_PORT" 24 8 >"$BGP_DIR/hold.json" 2>&1 &
hold=$!
sleep 2
bgp_sluice a drain web >/dev/null
check "drained: the router keeps one next hop (node b)" bgp_wait_nh 1 15
check "it is node b's" test "$(bgp_nexthops)" = 10.150.2.2
out=$(cl spread "$BGP_VIP" "$BGP_PORT" 30 --par 8)
check "new connections keep succeeding" test "$(echo "$out" | json 'j["errors"]')" = 0
wait $hold
check "24 long connections: none reset or failed across the withdrawal" \
	test "$(tail -1 "$BGP_DIR/hold.json" | json 'sum(c["errors"] for c in j["conns"])')" = 0
check "and none changed backend (node b decides the same)" \
	test "$(tail -1 "$BGP_DIR/hold.json" | json 'sum(c["changed"] for c in j["conns"])')" = 0
check "sluice status: withdrawn (drained)" \
	bash -c "nsenter --net=/run/netns/$(bgp_ns lba) $SLUICE --pin-dir $(bgp_pin a) status | grep -q 'withdrawn (drained)'"
sleep 1.5	# sluiced's next evaluation
check "sluiced put the drain in node a's log and audit trail" \
	grep -q '"vip_withdrawn".*drained' "$BGP_DIR/audit-a.jsonl"
bgp_sluice a undrain web >/dev/null
check "undrain: two next hops again" bgp_wait_nh 2 15
check "the IPv6 VIP (another service) stayed announced by both" test "$(bgp_nh6_count)" = 2
bgp_sluice a drain --all >/dev/null
check "drain --all on node a: the IPv6 VIP withdrawn too" bgp_wait_nh6 1 15
bgp_sluice a undrain --all >/dev/null
check "undrain --all: IPv6 VIP announced again" bgp_wait_nh6 2 15

echo "- detach on node a: withdrawn; attach again: announced"
bgp_sluice a detach up0 >/dev/null
check "detached: one next hop" bgp_wait_nh 1 15
bgp_sluice a attach up0 xdp >/dev/null
check "attached again: two next hops" bgp_wait_nh 2 15

echo "- node a's own backends (b1 b2) all killed"
bgp_config a 1 2 >"$BGP_DIR/cfg-a.yaml"
bgp_config b 3 4 >"$BGP_DIR/cfg-b.yaml"
bgp_sluice a apply -f "$BGP_DIR/cfg-a.yaml" >/dev/null
bgp_sluice b apply -f "$BGP_DIR/cfg-b.yaml" >/dev/null
sleep 6	# sluiced re-reads its checks every 5 s
check "still two next hops with own backends" bgp_wait_nh 2 10
cl load "$BGP_VIP" "$BGP_PORT" 40 8 --timeout 2 >"$BGP_DIR/load.json" 2>&1 &
load=$!
sleep 1
bgp_server_kill 1; bgp_server_kill 2
check "node a withdrawn by its health checks: one next hop" bgp_wait_nh 1 15
check "it is node b's" test "$(bgp_nexthops)" = 10.150.2.2
wait $load
errs=$(json 'j["errors"]' <"$BGP_DIR/load.json")
echo "  (connections failed during the withdrawal: $errs of 320; only those the router sent to node a before it withdrew)"
out=$(cl spread "$BGP_VIP" "$BGP_PORT" 30 --par 8)
check "after the withdrawal every new connection succeeds" test "$(echo "$out" | json 'j["errors"]')" = 0
check "sluiced logged the withdrawal" grep -q 'announce: VIP .* withdrawn (no healthy backend)' "$BGP_DIR/sluiced-a.log"
check "and audited it" grep -q '"vip_withdrawn"' "$BGP_DIR/audit-a.jsonl"
check "sluice status says why: no healthy backend" \
	bash -c "nsenter --net=/run/netns/$(bgp_ns lba) $SLUICE --pin-dir $(bgp_pin a) status | grep -q 'withdrawn (no healthy backend)'"
sleep 1.2	# /metrics: the snapshot of each second
check "/metrics: sluice_vip_announced 0, reason no healthy backend" \
	metrics_has "sluice_vip_announced{service=\"web\",vip=\"$BGP_VIP\",reason=\"no healthy backend\"} 0"
bgp_server 1; bgp_server 2
check "backends back: node a announced again" bgp_wait_nh 2 15

echo "- sluiced killed on node b: nothing withdrawn"
kill -9 "$(cat "$BGP_DIR/sluiced-b.pid")"
sleep 4
check "two next hops 4 s after sluiced's death" test "$(bgp_nh_count)" = 2
out=$(cl spread "$BGP_VIP" "$BGP_PORT" 30 --par 8)
check "connections still succeed" test "$(echo "$out" | json 'j["errors"]')" = 0
t_done
