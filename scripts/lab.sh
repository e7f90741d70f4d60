#!/usr/bin/env bash
# The sluice lab: network namespaces wired as a load-balancer node with its
# clients and backends, for the demo and the integration tests. Source it.
#
#   client ns  --veth-->  LB ns (sluice on lb0)  --veth--> switch ns (bridge)
#   10.100.0.2            lb0 10.100.0.1                    |-- b1 b2 (baseline)
#   fd00:100::2           lb1 10.101.0.1 ----------------- +-- b3 b4 (canary)
#
# DSR: sluice rewrites the destination MAC to a backend's and sends the
# frame out of lb1; backends hold the VIP on their loopback and answer the
# client directly (routed back by the LB ns kernel, not by sluice).
# ipip: sluice encapsulates toward the backend's address (next hop from the
# LB ns FIB); each backend runs `sluice decap attach eth0` and holds the VIP
# on loopback; replies go back like DSR's.
# nat: sluice rewrites the destination to the backend; replies come back
# through lb1, where `sluice attach lb1 MODE reply` gives them the VIP back.
# Every name carries LAB_TAG, so labs of concurrent runs never collide.

LAB_TAG=${LAB_TAG:-$$}
LAB_VIP4=10.200.0.10
LAB_VIP6=fd00:200::10
LAB_PORT=8080
LAB_NBACKENDS=4
lab_pin() { echo "/sys/fs/bpf/sluice-lab-$LAB_TAG"; }
SLUICE=${SLUICE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/sluice}
# shellcheck source=scripts/veth_xdp_rx.sh
source "$(dirname "${BASH_SOURCE[0]}")/veth_xdp_rx.sh"
TCPNAMES=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/integration/tcpnames.py

lab_ns() { echo "sl-$LAB_TAG-$1"; }
lab_in() { local ns; ns=$(lab_ns "$1"); shift; ip netns exec "$ns" "$@"; }
# nsenter, not `ip netns exec`: the latter gives the command a private
# /sys with an empty bpffs, so pins would not outlive the command.
lab_sluice() { nsenter --net="/run/netns/$(lab_ns lb)" "$SLUICE" --pin-dir "$(lab_pin)" "$@"; }
lab_mac() { lab_in "$1" cat "/sys/class/net/$2/address"; }

lab_down() {
	local n
	for n in cl lb sw $(seq -f 'b%g' 1 $LAB_NBACKENDS); do
		ip netns pids "$(lab_ns "$n")" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$(lab_ns "$n")" 2>/dev/null
	done
	rm -rf "$(lab_pin)"
	return 0
}

# lab_up [xdp|xdpgeneric|tc] [dsr|ipip|nat]: namespaces, links, addresses,
# servers, sluice (and the mode's backend/reply side).
LAB_FWD=dsr
lab_up() {
	local mode=${1:-xdp} i ns
	LAB_FWD=${2:-dsr}
	for n in cl lb sw $(seq -f 'b%g' 1 $LAB_NBACKENDS); do
		ip netns add "$(lab_ns "$n")" || return 1
		lab_in "$n" ip link set lo up
	done
	ip link add lb0 netns "$(lab_ns lb)" type veth peer name eth0 netns "$(lab_ns cl)"
	# LAB_LB1_QUEUES=N: lb1 and swlb with N queues each; a frame XDP
	# redirects into lb1 lands in swlb's queue (CPU number mod N), so
	# traffic handled on one CPU never fills another CPU's ring
	local q=()
	[ -n "${LAB_LB1_QUEUES:-}" ] && q=(numtxqueues "$LAB_LB1_QUEUES" numrxqueues "$LAB_LB1_QUEUES")
	ip link add lb1 netns "$(lab_ns lb)" "${q[@]}" type veth peer name swlb netns "$(lab_ns sw)" "${q[@]}"
	lab_in sw ip link add br0 type bridge
	lab_in sw ip link set swlb master br0
	for i in $(seq 1 $LAB_NBACKENDS); do
		ip link add "sw$i" netns "$(lab_ns sw)" type veth peer name eth0 netns "$(lab_ns b$i)"
		lab_in sw ip link set "sw$i" master br0 up
	done
	lab_in sw ip link set swlb up
	lab_in sw ip link set br0 up
	# frames redirected by XDP into lb1 arrive at swlb through veth's NAPI
	# path, which needs GRO (or an XDP program) on the receiving end
	lab_xdp_rx sw swlb || return 1

	lab_in cl ip addr add 10.100.0.2/24 dev eth0
	lab_in cl ip -6 addr add fd00:100::2/64 dev eth0 nodad
	lab_in cl ip link set eth0 up
	# veth leaves TCP checksums to "hardware"; a frame that XDP forwards
	# loses that note and would arrive with a bad checksum
	lab_in cl ethtool -K eth0 tx off >/dev/null
	# NAT replies are XDP-redirected into lb0: its peer needs NAPI (GRO)
	lab_xdp_rx cl eth0 || return 1
	lab_in cl ip route add default via 10.100.0.1
	lab_in cl ip -6 route add default via fd00:100::1

	lab_in lb sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	lab_in lb ip addr add 10.100.0.1/24 dev lb0
	lab_in lb ip -6 addr add fd00:100::1/64 dev lb0 nodad
	lab_in lb ip addr add 10.101.0.1/24 dev lb1
	lab_in lb ip -6 addr add fd00:101::1/64 dev lb1 nodad
	lab_in lb ip link set lb0 up
	lab_in lb ip link set lb1 up
	lab_in lb sysctl -qw net.ipv4.conf.lb0.rp_filter=0 net.ipv4.conf.lb1.rp_filter=0

	for i in $(seq 1 $LAB_NBACKENDS); do
		lab_in "b$i" ip addr add "10.101.0.1$i/24" dev eth0
		lab_in "b$i" ip -6 addr add "fd00:101::1$i/64" dev eth0 nodad
		lab_in "b$i" ip link set eth0 up
		lab_in "b$i" ip route add default via 10.101.0.1
		lab_in "b$i" ip -6 route add default via fd00:101::1
		lab_in "b$i" ip addr add "$LAB_VIP4/32" dev lo
		lab_in "b$i" ip -6 addr add "$LAB_VIP6/128" dev lo nodad
		lab_in "b$i" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
		# replies the LB rewrites (nat) must carry complete checksums
		lab_in "b$i" ethtool -K eth0 tx off >/dev/null
		if [ "$LAB_FWD" = ipip ]; then
			lab_in "b$i" "$SLUICE" decap attach eth0 >/dev/null || return 1
		fi
		lab_in "b$i" python3 "$TCPNAMES" serve "b$i" "$LAB_PORT" --family 6 \
			</dev/null >/dev/null 2>&1 &
	done
	lab_sluice attach lb0 "$mode" || return 1
	if [ "$LAB_FWD" = nat ]; then
		lab_sluice attach lb1 "$mode" reply || return 1
	fi
	lab_wait_servers
}

# lab_xdp_rx NODE DEV: veth_xdp_rx in the lab's namespace of NODE
lab_xdp_rx() { veth_xdp_rx "$(lab_ns "$1")" "$2"; }

lab_wait_servers() {
	local i t
	for i in $(seq 1 $LAB_NBACKENDS); do
		for t in $(seq 50); do
			lab_in "b$i" bash -c "exec 3<>/dev/tcp/127.0.0.1/$LAB_PORT" 2>/dev/null && break
			sleep 0.1
		done
	done
}

# lab_service NAME FAMILY(4|6) [affinity]: b1 b2 baseline, b3 b4 canary,
# in the lab's forwarding mode (LAB_FWD).
lab_service() {
	local name=$1 fam=$2 aff=${3:-connection} vip=$LAB_VIP4 pfx=10.101.0.1 i pool
	local tun=10.99.0.0/24 extra=()
	[ "$fam" = 6 ] && vip=$LAB_VIP6 pfx=fd00:101::1 tun=fd00:99::/64
	[ "$LAB_FWD" = ipip ] && extra=(tunnel-source "$tun")
	lab_sluice service add "$name" vip "$vip" port "$LAB_PORT" protocol tcp \
		mode "$LAB_FWD" affinity "$aff" "${extra[@]}" || return 1
	for i in $(seq 1 $LAB_NBACKENDS); do
		pool=baseline
		[ "$i" -gt $((LAB_NBACKENDS / 2)) ] && pool=canary
		if [ "$LAB_FWD" = dsr ]; then
			lab_sluice backend add "$name" "$pfx$i" pool $pool \
				mac "$(lab_mac "b$i" eth0)" dev lb1 || return 1
		else
			lab_sluice backend add "$name" "$pfx$i" pool $pool || return 1
		fi
	done
}

lab_vip() { [ "$1" = 6 ] && echo "$LAB_VIP6" || echo "$LAB_VIP4"; }
lab_spread() { lab_in cl python3 "$TCPNAMES" spread "$(lab_vip "$1")" "$LAB_PORT" "$2"; }

# For tests, over a `tcpnames.py spread` result on stdin: the canary's share
# in percent (b3, b4), and the failed connections.
_lab_py=python3
[ -x /usr/bin/python3 ] && _lab_py="/usr/bin/python3 -S"	# starts 5x faster
lab_canary_pct() {
	$_lab_py -c 'import json,sys; j=json.load(sys.stdin); c=j["counts"]; print(100.0*(c.get("b3",0)+c.get("b4",0))/max(1,sum(c.values())))'
}
lab_errors() { $_lab_py -c 'import json,sys; print(json.load(sys.stdin)["errors"])'; }
# lab_health SERVICE VARIANT FIELD: one health signal from `sluice -j stats`
lab_health() {
	lab_sluice -j stats "$1" | $_lab_py -c "
import json,sys
j=json.load(sys.stdin)
h=[x for x in j['services'][0]['health'] if x['variant']=='$2'][0]
v=h['$3']; print(-1 if v is None else v)"
}
# lab_event NAME: a global event counter
lab_event() {
	lab_sluice -j stats | $_lab_py -c "import json,sys; print(json.load(sys.stdin)['events'].get('$1',0))"
}
