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
declare -A FL_PID

fl_ns() { echo "fl-$FL_TAG-$1"; }		# hub | n1..nN
fl_pin() { echo "/sys/fs/bpf/sluice-fl-$FL_TAG-$1"; }
fl_sluice() { local n=$1; shift; nsenter --net="/run/netns/$(fl_ns "$n")" "$SLUICE" --pin-dir "$(fl_pin "$n")" "$@"; }
fl_ctl() { local n=$1; shift; SLUICE_SOCKET=$FL_DIR/$n.sock fl_sluice "$n" "$@"; }
etcdctl_() { ip netns exec "$(fl_ns hub)" env ETCDCTL_API=3 etcdctl --endpoints "$FL_URL" "$@"; }

fl_down() {
	local n
	for n in "${!FL_PID[@]}"; do
		kill -9 "${FL_PID[$n]}" 2>/dev/null
	done
	FL_PID=()
	[ -n "$FL_ETCD_PID" ] && kill -9 "$FL_ETCD_PID" 2>/dev/null
	FL_ETCD_PID=
	for n in hub $(seq -f 'n%g' 1 "$FL_N"); do
		ip netns pids "$(fl_ns "$n")" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$(fl_ns "$n")" 2>/dev/null
		rm -rf "$(fl_pin "$n")"
	done
	[ -n "$FL_DIR" ] && rm -rf "$FL_DIR"
	FL_DIR=
	return 0
}

# fl_up: namespaces, etcd, every node's instance and service (no daemons)
fl_up() {
	local i t
	FL_DIR=$(mktemp -d "/tmp/sluice-fleet.$FL_TAG.XXXX")
	ip netns add "$(fl_ns hub)" || return 1
	ip -n "$(fl_ns hub)" link set lo up
	ip -n "$(fl_ns hub)" link add br0 type bridge
	ip -n "$(fl_ns hub)" addr add 10.77.0.1/24 dev br0
	ip -n "$(fl_ns hub)" link set br0 up
	for i in $(seq 1 "$FL_N"); do
		ip netns add "$(fl_ns n$i)" || return 1
		ip -n "$(fl_ns n$i)" link set lo up
		ip link add eth0 netns "$(fl_ns n$i)" type veth peer name "h$i" netns "$(fl_ns hub)"
		ip -n "$(fl_ns hub)" link set "h$i" master br0 up
		ip -n "$(fl_ns n$i)" addr add "10.77.0.1$i/24" dev eth0
		ip -n "$(fl_ns n$i)" link set eth0 up
		fl_sluice "n$i" service add web vip 10.200.0.10 port 8080 protocol tcp mode nat \
			seed 7 >/dev/null || return 1
		fl_sluice "n$i" backend add web 10.101.0.11 pool baseline >/dev/null &&
		fl_sluice "n$i" backend add web 10.101.0.12 pool baseline >/dev/null &&
		fl_sluice "n$i" backend add web 10.101.0.13 pool canary >/dev/null &&
		fl_sluice "n$i" backend add web 10.101.0.14 pool canary >/dev/null || return 1
	done
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
fl_nodes() { seq -f 'n%g' 1 "$FL_N"; }

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
