#!/usr/bin/env bash
# The BGP lab (test_bgp_lab.sh, tests/bench/bgp_withdraw.sh): a router and
# two LB nodes, each with its own BIRD 2, the router doing ECMP over both
# nodes' announcements; DSR backends shared on one L2 segment.
#
#   cl 10.100.0.2 -- rt (BIRD AS 65000, merge paths) --+-- lba up0 10.150.1.2 (sluice, BIRD AS 65001)
#                    rtsw 10.160.0.1 (backends' gw)    +-- lbb up0 10.150.2.2 (sluice, BIRD AS 65001)
#                          |                                 | dn0 10.160.0.2/.3
#                          +------------ sw (bridge) --------+-- b1..b4 10.160.0.1N, VIP on lo
#
# Each LB node has its own pin directory, sluiced (socket, database, audit
# log) and BIRD (config, control socket, pid, log) under BGP_DIR; every
# name carries LAB_TAG. Source it after lib.sh.
BGP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLUICE=${SLUICE:-$BGP_ROOT/build/sluice}
SLUICED=${SLUICED:-$BGP_ROOT/build/sluiced}
source "$BGP_ROOT/scripts/veth_xdp_rx.sh"
TCPNAMES=$BGP_ROOT/tests/integration/tcpnames.py
BGP_VIP=10.200.0.10
BGP_VIP6=fd00:200::10
BGP_PORT=${BGP_PORT:-19522}
BGP_DIR=
BGP_NODES="cl rt sw lba lbb b1 b2 b3 b4"

bgp_ns() { echo "sb-$LAB_TAG-$1"; }
bgp_in() { local ns; ns=$(bgp_ns "$1"); shift; ip netns exec "$ns" "$@"; }
bgp_pin() { echo "/sys/fs/bpf/sluice-bgp-$LAB_TAG-$1"; }
# sluice on LB node a or b (nsenter keeps the host's bpffs, see lab.sh)
bgp_sluice() {
	local n=$1; shift
	nsenter --net="/run/netns/$(bgp_ns "lb$n")" "$SLUICE" --pin-dir "$(bgp_pin "$n")" "$@"
}
bgp_birdc() { local n=$1; shift; birdc -s "$BGP_DIR/bird-$n.ctl" "$@"; }

bgp_down() {
	local n f
	for f in "$BGP_DIR"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	sleep 0.2	# FRR's daemons exit on SIGTERM, out of their namespace's pid list
	for n in $BGP_NODES; do
		ip netns pids "$(bgp_ns "$n")" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$(bgp_ns "$n")" 2>/dev/null
	done
	rm -rf "$(bgp_pin a)" "$(bgp_pin b)"
	[ -n "$BGP_DIR" ] && rm -rf "$BGP_DIR"
	return 0
}

# bgp_bird NODE CONF: start a BIRD in the node's namespace
bgp_bird() {
	local n=$1
	printf '%s\n' "$2" >"$BGP_DIR/bird-$n.conf"
	bgp_in "$n" bird -c "$BGP_DIR/bird-$n.conf" -s "$BGP_DIR/bird-$n.ctl" \
		-P "$BGP_DIR/bird-$n.pid" || return 1
}

bgp_lb_bird() {	# NODE(a|b) ADDR K: its policy generated from its YAML
	"$SLUICE" bgp config bird -f "$BGP_DIR/cfg-$1.yaml" asn 65001 \
		>"$BGP_DIR/sluice-$1.conf" || return 1
	bgp_bird "lb$1" "router id $2;
include \"$BGP_DIR/sluice-$1.conf\";
log \"$BGP_DIR/bird-lb$1.log\" all;
protocol device { scan time 10; }
# sluice's VIP routes: learnt from its table, never written back
protocol kernel sluice {
	kernel table 247;
	learn;
	scan time 1;
	ipv4 { import all; export none; };
}
protocol kernel sluice6 {
	kernel table 247;
	learn;
	scan time 1;
	ipv6 { import all; export none; };
}
protocol bgp uplink {
	local $2 as 65001;
	neighbor ${2%.*}.1 as 65000;
	hold time 9;
	connect retry time 1;
	error wait time 1, 5;
	ipv4 { import none; export where sluice_vips(); };
}
protocol bgp uplink6 {
	local fd00:150:$3::2 as 65001;
	neighbor fd00:150:$3::1 as 65000;
	hold time 9;
	connect retry time 1;
	error wait time 1, 5;
	ipv6 { import none; export where sluice_vips(); };
}"
}

# bgp_lb_frr NODE ADDR: FRR (zebra + bgpd, as user frr) instead of BIRD on
# node a or b: the guide's frr.conf with the policy generated from its YAML
bgp_lb_frr() {
	local n=$1 d=$BGP_DIR/frr-$1
	mkdir -p "$d" && chmod 755 "$BGP_DIR" && chown frr:frr "$d" || return 1
	{
		printf 'frr defaults traditional\nhostname lb%s\nlog file %s/frr.log\n' "$n" "$d"
		printf '! sluice keeps its VIP routes in kernel table 247: import it into the RIB\nip import-table 247\n!\n'
		"$SLUICE" bgp config frr -f "$BGP_DIR/cfg-$n.yaml" asn 65001 || return 1
		printf '!\nroute-map UPLINK-OUT permit 10\n match source-protocol table\nexit\n!\n'
		printf 'router bgp 65001\n bgp router-id %s\n neighbor %s remote-as 65000\n' "$2" "${2%.*}.1"
		printf ' neighbor %s timers 3 9\n neighbor %s timers connect 1\n' "${2%.*}.1" "${2%.*}.1"
		printf ' address-family ipv4 unicast\n  redistribute table 247 route-map SLUICE-VIPS\n'
		printf '  neighbor %s route-map UPLINK-OUT out\n exit-address-family\nexit\n' "${2%.*}.1"
	} >"$d/frr.conf" || return 1
	bgp_in "lb$n" /usr/lib/frr/zebra -d -f "$d/frr.conf" -i "$d/zebra.pid" \
		-z "$d/zserv.api" --vty_socket "$d" >>"$d/start.log" 2>&1 || return 1
	bgp_in "lb$n" /usr/lib/frr/bgpd -d -f "$d/frr.conf" -i "$d/bgpd.pid" \
		-z "$d/zserv.api" --vty_socket "$d" >>"$d/start.log" 2>&1 || return 1
	cp "$d/zebra.pid" "$BGP_DIR/frr-zebra-$n.pid"
	cp "$d/bgpd.pid" "$BGP_DIR/frr-bgpd-$n.pid"
}

bgp_router_bird() {
	bgp_bird rt "router id 10.100.0.1;
log \"$BGP_DIR/bird-rt.log\" all;
protocol device { scan time 10; }
protocol direct { ipv4; interface \"rt*\"; }
protocol kernel {
	merge paths on;
	ipv4 { import none; export where proto ~ \"lb*\"; };
}
protocol kernel {
	merge paths on;
	ipv6 { import none; export where proto ~ \"lb*\"; };
}
template bgp lb {
	local as 65000;
	hold time 9;
	connect retry time 1;
	error wait time 1, 5;
	ipv4 { import all; export none; };
}
protocol bgp lba from lb { neighbor 10.150.1.2 as 65001; }
protocol bgp lbb from lb { neighbor 10.150.2.2 as 65001; }
template bgp lb6 {
	local as 65000;
	hold time 9;
	connect retry time 1;
	error wait time 1, 5;
	ipv6 { import all; export none; };
}
protocol bgp lba6 from lb6 { neighbor fd00:150:1::2 as 65001; }
protocol bgp lbb6 from lb6 { neighbor fd00:150:2::2 as 65001; }"
}

# bgp_up [xdp|xdpgeneric]: namespaces, links, servers, BIRDs; sluice is
# attached on both nodes (services are the test's)
bgp_up() {
	local mode=${1:-xdp} n i
	BGP_DIR=$(mktemp -d "/tmp/sluice-bgp.$$.XXXX")
	for n in $BGP_NODES; do
		ip netns add "$(bgp_ns "$n")" || return 1
		bgp_in "$n" ip link set lo up
	done
	ip link add eth0 netns "$(bgp_ns cl)" type veth peer name rtcl netns "$(bgp_ns rt)"
	ip link add up0 netns "$(bgp_ns lba)" type veth peer name rta netns "$(bgp_ns rt)"
	ip link add up0 netns "$(bgp_ns lbb)" type veth peer name rtb netns "$(bgp_ns rt)"
	ip link add rtsw netns "$(bgp_ns rt)" type veth peer name swrt netns "$(bgp_ns sw)"
	ip link add dn0 netns "$(bgp_ns lba)" type veth peer name swa netns "$(bgp_ns sw)"
	ip link add dn0 netns "$(bgp_ns lbb)" type veth peer name swb netns "$(bgp_ns sw)"
	bgp_in sw ip link add br0 type bridge
	for i in 1 2 3 4; do
		ip link add "sw$i" netns "$(bgp_ns sw)" type veth peer name eth0 netns "$(bgp_ns "b$i")"
	done
	for i in swrt swa swb sw1 sw2 sw3 sw4; do
		bgp_in sw ip link set "$i" master br0 up
	done
	bgp_in sw ip link set br0 up
	# DSR frames are XDP-redirected into dn0: its peer needs NAPI (GRO,
	# or an XDP program before 5.13)
	veth_xdp_rx "$(bgp_ns sw)" swa || return 1
	veth_xdp_rx "$(bgp_ns sw)" swb || return 1

	bgp_in cl ip addr add 10.100.0.2/24 dev eth0
	bgp_in cl ip link set eth0 up
	bgp_in cl ip route add default via 10.100.0.1
	# XDP forwards frames as they are: complete checksums from the start
	bgp_in cl ethtool -K eth0 tx off >/dev/null

	bgp_in rt sysctl -qw net.ipv6.conf.all.forwarding=1
	bgp_in rt ip -6 addr add fd00:150:1::1/64 dev rta nodad
	bgp_in rt ip -6 addr add fd00:150:2::1/64 dev rtb nodad
	bgp_in rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	bgp_in rt ip addr add 10.100.0.1/24 dev rtcl
	bgp_in rt ip addr add 10.150.1.1/24 dev rta
	bgp_in rt ip addr add 10.150.2.1/24 dev rtb
	bgp_in rt ip addr add 10.160.0.1/24 dev rtsw
	for i in rtcl rta rtb rtsw; do
		bgp_in rt ip link set "$i" up
		bgp_in rt ethtool -K "$i" tx off >/dev/null
	done

	for n in a b; do
		local k=1
		[ $n = b ] && k=2
		bgp_in "lb$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
		bgp_in "lb$n" ip addr add "10.150.$k.2/24" dev up0
		bgp_in "lb$n" ip -6 addr add "fd00:150:$k::2/64" dev up0 nodad
		bgp_in "lb$n" ip addr add "10.160.0.$((k + 1))/24" dev dn0
		bgp_in "lb$n" ip link set up0 up
		bgp_in "lb$n" ip link set dn0 up
		bgp_sluice "$n" attach up0 "$mode" >/dev/null || return 1
	done
	for i in 1 2 3 4; do
		bgp_in "b$i" ip addr add "10.160.0.1$i/24" dev eth0
		bgp_in "b$i" ip link set eth0 up
		bgp_in "b$i" ip route add default via 10.160.0.1
		bgp_in "b$i" ip addr add "$BGP_VIP/32" dev lo
		bgp_in "b$i" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
			net.ipv4.conf.all.arp_ignore=1
		bgp_in "b$i" ethtool -K eth0 tx off >/dev/null
		bgp_server "$i"
	done
	# both nodes: the same four backends (one consistent decision)
	for n in a b; do
		bgp_config "$n" 1 2 3 4 >"$BGP_DIR/cfg-$n.yaml"
		bgp_sluice "$n" apply -f "$BGP_DIR/cfg-$n.yaml" >/dev/null || return 1
	done
	bgp_router_bird || return 1
	bgp_lb_bird a 10.150.1.2 1 || return 1
	# BGP_B=frr: node b runs FRR (test_bgp_frr_lab.sh)
	if [ "${BGP_B:-bird}" = frr ]; then
		bgp_lb_frr b 10.150.2.2 || return 1
	else
		bgp_lb_bird b 10.150.2.2 2 || return 1
	fi
}

bgp_server() {	# start backend i's TCP server (and wait for it)
	local t
	bgp_in "b$1" python3 "$TCPNAMES" serve "b$1" "$BGP_PORT" </dev/null >/dev/null 2>&1 &
	for t in $(seq 50); do
		bgp_in "b$1" bash -c "exec 3<>/dev/tcp/127.0.0.1/$BGP_PORT" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
bgp_server_kill() { bgp_in "b$1" pkill -9 -f "tcpnames.py serve b$1 " ; }

bgp_mac() { bgp_in "$1" cat "/sys/class/net/$2/address"; }

# bgp_config NODE BACKENDS...: the YAML of node a or b (service web, DSR,
# health checks every 200 ms, down after 2 failures; web6: an IPv6 VIP,
# announced too, with a community)
bgp_config() {
	local n=$1 i; shift
	printf 'services:\n  - name: web\n    vip: %s\n    port: %s\n    mode: dsr\n' "$BGP_VIP" "$BGP_PORT"
	printf '    bgp: {communities: ["65001:100"]}\n'
	printf '    health_check: {type: tcp, interval: 200ms, timeout: 200ms, fall: 2, rise: 2}\n'
	printf '    baseline:\n'
	for i in "$@"; do
		printf '      - {address: 10.160.0.1%s, mac: "%s", dev: dn0}\n' "$i" "$(bgp_mac "b$i" eth0)"
	done
	printf '  - name: web6\n    vip: %s\n    port: %s\n    mode: dsr\n    bgp: true\n' "$BGP_VIP6" "$BGP_PORT"
	printf '    baseline:\n      - {address: "fd00:160::11", mac: "%s", dev: dn0}\n' "$(bgp_mac b1 eth0)"
}

# bgp_sluiced NODE [OPTIONS]: start sluiced on node a or b with its config
bgp_sluiced() {
	local n=$1 t; shift
	nsenter --net="/run/netns/$(bgp_ns "lb$n")" "$SLUICED" "$@" --socket "$BGP_DIR/sluiced-$n.sock" \
		--db "$BGP_DIR/sluiced-$n.db" --pin-dir "$(bgp_pin "$n")" \
		--audit-log "$BGP_DIR/audit-$n.jsonl" --config "$BGP_DIR/cfg-$n.yaml" -v \
		>>"$BGP_DIR/sluiced-$n.log" 2>&1 &
	echo $! >"$BGP_DIR/sluiced-$n.pid"
	for t in $(seq 100); do
		[ -S "$BGP_DIR/sluiced-$n.sock" ] && return 0
		sleep 0.05
	done
	return 1
}

# the router's next hops for the VIP, one per line (its kernel table)
bgp_nexthops() {
	bgp_in rt ip -4 route show "$BGP_VIP/32" | grep -o 'via [0-9.]*' | awk '{print $2}' | sort
}
bgp_nh_count() { bgp_nexthops | grep -c .; }
# the same for the IPv6 VIP
bgp_nh6_count() {
	bgp_in rt ip -6 route show "$BGP_VIP6/128" | grep -o 'via [0-9a-f:]*' | sort -u | grep -c .
}
bgp_wait_nh6() {
	local t
	for t in $(seq $(( $2 * 10 ))); do
		[ "$(bgp_nh6_count)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# bgp_wait_nh N SECONDS: until the router has N next hops for the VIP
bgp_wait_nh() {
	local end=$(( $(date +%s%N) / 1000000 + $2 * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -le $end ]; do
		[ "$(bgp_nh_count)" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
# new flows seen by node a or b for service web (its baseline)
bgp_new_flows() {
	bgp_sluice "$1" -j stats web | python3 -c "
import json,sys
j=json.load(sys.stdin)
print(sum(x['new_flows'] for x in j['services'][0]['health']))"
}
