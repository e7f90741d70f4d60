#!/usr/bin/env bash
# A fleet lab for the fleet tests and benchmark (source after lib.sh):
# a hub namespace with a bridge and a real etcd (Debian's etcd-server) on
# 10.77.0.1, and FL_N LB nodes, each its own namespace linked to the hub,
# its own sluice instance (pin dir), service `web` (same configuration and
# seed everywhere) and its own sluiced --etcd. Cutting a node from etcd is
# its hub-side link going down. Every name carries FL_TAG.
FL_TAG=${FL_TAG:-$$}
FL_N=${FL_N:-3}
FL_DIR=
FL_ETCD_PID=
FL_TTL=${FL_TTL:-2}
FL_URL=http://10.77.0.1:2379
FL_CLUSTER=c$FL_TAG
FL_PFX=/sluice/$FL_CLUSTER/services/web
SLUICE=${SLUICE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/sluice}
SLUICED=${SLUICED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/sluiced}
FL_TCP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcpnames.py
declare -A FL_PID

fl_ns() { echo "fl-$FL_TAG-$1"; }
fl_nodes() { seq -f 'n%g' 1 "$FL_N"; }		# hub | n1..nN
fl_pin() { echo "/sys/fs/bpf/sluice-fl-$FL_TAG-$1"; }
fl_sluice() { local n=$1; shift; nsenter --net="/run/netns/$(fl_ns "$n")" "$SLUICE" --pin-dir "$(fl_pin "$n")" "$@"; }
fl_ctl() { local n=$1; shift; SLUICE_SOCKET=$FL_DIR/$n.sock fl_sluice "$n" "$@"; }
etcdctl_() { ip netns exec "$(fl_ns hub)" env ETCDCTL_API=3 etcdctl --endpoints "$FL_URL" "$@"; }

fl_down() {
	local n
	for n in "${!FL_PID[@]}"; do
		kill -9 "${FL_PID[$n]}" 2>/dev/null
		wait "${FL_PID[$n]}" 2>/dev/null
	done
	FL_PID=()
	[ -n "$FL_ETCD_PID" ] && kill -9 "$FL_ETCD_PID" 2>/dev/null && wait "$FL_ETCD_PID" 2>/dev/null
	FL_ETCD_PID=
	for n in hub rt cl sw b1 b2 b3 b4 $(fl_nodes); do
		ip netns pids "$(fl_ns "$n")" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$(fl_ns "$n")" 2>/dev/null
		rm -rf "$(fl_pin "$n")"
	done
	[ -n "$FL_DIR" ] && rm -rf "$FL_DIR"
	FL_DIR=
	return 0
}

# fl_up: namespaces, etcd, every node's instance and service (no daemons).
#
#   cl 10.100.0.2 -- rt (ECMP for the VIP over n1..nN) -- nI eth1 (XDP)
#   nI lb1 --+-- sw bridge --+-- b1 b2 (baseline) b3 b4 (canary), DSR:
#   rt rsw --+               +   VIP on lo, replies via rt 10.101.0.1
#   nI eth0 -- hub bridge -- etcd 10.77.0.1
fl_up() {
	local i t n
	FL_DIR=$(mktemp -d "/tmp/sluice-fleet.$FL_TAG.XXXX")
	for n in hub rt cl sw b1 b2 b3 b4 $(fl_nodes); do
		ip netns add "$(fl_ns "$n")" || return 1
		ip -n "$(fl_ns "$n")" link set lo up
	done
	for n in hub sw; do
		ip -n "$(fl_ns "$n")" link add br0 type bridge
		ip -n "$(fl_ns "$n")" link set br0 up
	done
	ip -n "$(fl_ns hub)" addr add 10.77.0.1/24 dev br0
	# client -- router
	ip link add eth0 netns "$(fl_ns cl)" type veth peer name r0 netns "$(fl_ns rt)"
	ip -n "$(fl_ns cl)" addr add 10.100.0.2/24 dev eth0
	ip -n "$(fl_ns cl)" link set eth0 up
	ip netns exec "$(fl_ns cl)" ethtool -K eth0 tx off >/dev/null
	ip -n "$(fl_ns cl)" route add default via 10.100.0.1
	ip netns exec "$(fl_ns rt)" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.fib_multipath_hash_policy=1
	ip -n "$(fl_ns rt)" addr add 10.100.0.1/24 dev r0
	ip -n "$(fl_ns rt)" link set r0 up
	# router -- backend switch (the backends' way back to the client)
	ip link add rsw netns "$(fl_ns rt)" type veth peer name swrt netns "$(fl_ns sw)"
	ip -n "$(fl_ns sw)" link set swrt master br0 up
	ip -n "$(fl_ns rt)" addr add 10.101.0.1/24 dev rsw
	ip -n "$(fl_ns rt)" link set rsw up
	for i in 1 2 3 4; do
		n=$(fl_ns "b$i")
		ip link add "sw$i" netns "$(fl_ns sw)" type veth peer name eth0 netns "$n"
		ip -n "$(fl_ns sw)" link set "sw$i" master br0 up
		ip -n "$n" addr add "10.101.0.1$i/24" dev eth0
		ip -n "$n" link set eth0 up
		ip -n "$n" route add default via 10.101.0.1
		ip -n "$n" addr add 10.200.0.10/32 dev lo
		ip netns exec "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
		ip netns exec "$n" python3 "$FL_TCP" serve "b$i" 8080 </dev/null >/dev/null 2>&1 & disown
	done
	for i in $(seq 1 "$FL_N"); do
		n=$(fl_ns "n$i")
		ip netns exec "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
		# etcd side
		ip link add eth0 netns "$n" type veth peer name "h$i" netns "$(fl_ns hub)"
		ip -n "$(fl_ns hub)" link set "h$i" master br0 up
		ip -n "$n" addr add "10.77.0.1$i/24" dev eth0
		ip -n "$n" link set eth0 up
		# traffic side: from the router, to the backends
		ip link add eth1 netns "$n" type veth peer name "r$i" netns "$(fl_ns rt)"
		ip -n "$(fl_ns rt)" addr add "10.90.$i.1/24" dev "r$i"
		ip -n "$(fl_ns rt)" link set "r$i" up
		ip -n "$n" addr add "10.90.$i.2/24" dev eth1
		ip -n "$n" link set eth1 up
		ip link add lb1 netns "$n" type veth peer name "swn$i" netns "$(fl_ns sw)"
		ip -n "$(fl_ns sw)" link set "swn$i" master br0 up
		# frames XDP redirects into lb1 need GRO on the other end
		ip netns exec "$(fl_ns sw)" ethtool -K "swn$i" gro on >/dev/null 2>&1
		ip -n "$n" addr add "10.101.0.2$i/24" dev lb1
		ip -n "$n" link set lb1 up
		fl_sluice "n$i" attach eth1 xdp >/dev/null || return 1
		# the same configuration and seed on every node
		fl_sluice "n$i" service add web vip 10.200.0.10 port 8080 protocol tcp mode dsr \
			affinity connection seed 7 >/dev/null || return 1
		for t in 1 2 3 4; do
			fl_sluice "n$i" backend add web "10.101.0.1$t" pool "$([ $t -le 2 ] && echo baseline || echo canary)" \
				mac "$(ip netns exec "$(fl_ns b$t)" cat /sys/class/net/eth0/address)" dev lb1 >/dev/null || return 1
		done
	done
	fl_ecmp $(seq 1 "$FL_N")
	ip netns exec "$(fl_ns hub)" etcd --name fl --data-dir "$FL_DIR/etcd" \
		--listen-client-urls "$FL_URL" --advertise-client-urls "$FL_URL" \
		--listen-peer-urls http://10.77.0.1:2380 \
		--initial-advertise-peer-urls http://10.77.0.1:2380 \
		--initial-cluster fl=http://10.77.0.1:2380 >"$FL_DIR/etcd.log" 2>&1 &
	FL_ETCD_PID=$!
	for t in $(seq 100); do
		etcdctl_ endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# fl_ecmp I...: the router spreads the VIP over nodes I... (by L4 hash)
fl_ecmp() {
	local hops=() i
	for i in "$@"; do
		hops+=(nexthop via "10.90.$i.2" dev "r$i")
	done
	ip -n "$(fl_ns rt)" route replace 10.200.0.10/32 "${hops[@]}"
}
fl_cl() { ip netns exec "$(fl_ns cl)" "$@"; }

# fl_start NODE: its sluiced, up when its socket answers
fl_start() {
	local n=$1 t
	nsenter --net="/run/netns/$(fl_ns "$n")" "$SLUICED" --socket "$FL_DIR/$n.sock" \
		--db "$FL_DIR/$n.db" --pin-dir "$(fl_pin "$n")" --metrics off \
		--etcd "$FL_URL" --cluster "$FL_CLUSTER" --node "$n" --lease-ttl "$FL_TTL" \
		-v >>"$FL_DIR/$n.log" 2>&1 &
	FL_PID[$n]=$!
	for t in $(seq 100); do
		fl_ctl "$n" rollout status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
fl_kill9() { kill -9 "${FL_PID[$1]}" 2>/dev/null; wait "${FL_PID[$1]}" 2>/dev/null; unset "FL_PID[$1]"; }

# what a node's maps say
fl_weight() { fl_sluice "$1" -j service show web | json 'j["services"][0]["weight"]["default"]'; }
fl_revert() { fl_sluice "$1" -j service show web | json 'j["services"][0]["revert"]'; }
# a field of a node's fleet status: fl_field n1 'f["leader"]'
fl_field() { fl_ctl "$1" -j rollout status | json "(lambda f: $2)(j['fleet'])"; }
fl_leader() { etcdctl_ get --print-value-only "/sluice/$FL_CLUSTER/leader"; }

# fl_wait SECONDS CMD...: until CMD succeeds
fl_wait() {
	local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 ))
	shift
	while [ $(( $(date +%s%N) / 1000000 )) -le "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
# every node's maps at weight W (bp): fl_all_weight W [NODES...]
fl_all_weight() {
	local w=$1 n
	shift
	[ $# = 0 ] && set -- $(fl_nodes)
	for n in "$@"; do
		[ "$(fl_weight "$n")" = "$w" ] || return 1
	done
}
fl_all_revert() {
	local want=$1 n
	for n in $(fl_nodes); do
		[ "$(fl_revert "$n")" = "$want" ] || return 1
	done
}
