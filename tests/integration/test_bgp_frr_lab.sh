#!/usr/bin/env bash
# sluice-test: host-only (what it adds to test_bgp_lab is FRR's side, all
# userspace; the kernel's part, XDP DSR and the router's ECMP route, is the
# same lab's and runs under vmtest in test_bgp_lab)
# FRR as the routing daemon of one LB node (the guide's second choice):
# node a runs BIRD 2, node b zebra + bgpd with the guide's frr.conf and
# the policy `sluice bgp config frr` generates; the router (BIRD) merges
# both into one ECMP route. Drain and detach on the FRR node withdraw,
# undrain and attach announce again (bgp_lib.sh draws the lab).
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/bgp_lib.sh
need_root
for t in bird birdc python3 ethtool /usr/lib/frr/zebra /usr/lib/frr/bgpd; do
	command -v $t >/dev/null || skip "needs $t (scripts/deps.sh: bird2, frr)"
done
id frr >/dev/null 2>&1 || skip "needs the frr user (frr package)"
LAB_TAG=bgf$$
BGP_B=frr
trap bgp_down EXIT
bgp_up xdp || { fail "the lab comes up"; bgp_down; exit 1; }
cl() { bgp_in cl python3 "$TCPNAMES" "$@"; }

check "router: two next hops, one from BIRD (node a), one from FRR (node b)" bgp_wait_nh 2 40
check "FRR's announcement carries the service's community" \
	bash -c "birdc -s $BGP_DIR/bird-rt.ctl show route all $BGP_VIP/32 protocol lbb | grep -q '(65001,100)'"
fb=$(bgp_new_flows b)
out=$(cl spread "$BGP_VIP" "$BGP_PORT" 40 --par 8)
check "40 new connections all succeed" test "$(echo "$out" | json 'j["errors"]')" = 0
check "some went through the FRR node" test "$(bgp_new_flows b)" -gt "$fb"
bgp_sluice b drain web >/dev/null
check "drain on the FRR node: withdrawn (one next hop, node a's)" bgp_wait_nh 1 20
check "it is node a's" test "$(bgp_nexthops)" = 10.150.1.2
bgp_sluice b undrain web >/dev/null
check "undrain: announced again" bgp_wait_nh 2 20
bgp_sluice b detach up0 >/dev/null
check "detach on the FRR node: withdrawn" bgp_wait_nh 1 20
bgp_sluice b attach up0 xdp >/dev/null
check "attach: announced again" bgp_wait_nh 2 20
t_done
