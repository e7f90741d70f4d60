#!/usr/bin/env bash
# Benchmark topology: three or four network namespaces joined by veth pairs.
#
#   gen ns            lb ns                       sink ns (1 or 2)
#   gen0 ---veth--- lb0     lb1 ---veth--- sink0      (slb-TAG-s1)
#                           lb2 ---veth--- sink0      (slb-TAG-s2)
#
# The generator (build/bench/gen) sends from gen0 with XDP live frames, so
# lb0 always carries an XDP program (xdpload pass by default; a case may
# replace it). Each sink0 runs XDP_DROP; `ethtool -S` xdp_drops counts what
# was delivered. Addresses exist only inside these namespaces:
#   gen-lb 10.200.0.0/24 fd00:200::/64     lb-s1 10.200.1.0/24 fd00:200:1::/64
#   clients 10.201.0.0/16 fd00:201::/64    lb-s2 10.200.2.0/24 fd00:200:2::/64
#   VIP 10.100.0.1 fd00:100::1 (what the generator sends to)
#
# Source it for the topo_* functions, or run it:
#   topo.sh up [TAG] [SINKS]   (prints the namespace names)
#   topo.sh down [TAG]
#   topo.sh left [TAG]         (lists leftovers; exit 1 if any)
# TAG defaults to the shell's pid; names are slb-TAG-{gen,lb,s1,s2}.

TOPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
XDPLOAD=${XDPLOAD:-$TOPO_DIR/build/bench/xdpload}

# Fixed, locally administered MACs: each veth link is its own L2 domain.
GEN_MAC=02:00:00:00:00:01
LB0_MAC=02:00:00:00:00:02
LB1_MAC=02:00:00:00:01:01
S1_MAC=02:00:00:00:01:02
LB2_MAC=02:00:00:00:02:01
S2_MAC=02:00:00:00:02:02
VIP4=10.100.0.1
VIP6=fd00:100::1
CLIENT4=10.201.0.1
CLIENT6=fd00:201::1
GEN4=10.200.0.1  LB04=10.200.0.2
GEN6=fd00:200::1 LB06=fd00:200::2
LB14=10.200.1.1  S14=10.200.1.2
LB16=fd00:200:1::1 S16=fd00:200:1::2
LB24=10.200.2.1  S24=10.200.2.2
LB26=fd00:200:2::1 S26=fd00:200:2::2

topo_names() {
	local tag=${1:-$$}
	TOPO_TAG=$tag
	NS_GEN=slb-$tag-gen
	NS_LB=slb-$tag-lb
	NS_S1=slb-$tag-s1
	NS_S2=slb-$tag-s2
}

# Run a command inside a namespace.
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

topo_sysctl() {	# ns key=value...
	local ns=$1
	shift
	nsx "$ns" sysctl -qw "$@" >/dev/null
}

_topo_link() {	# ns_a if_a mac_a ns_b if_b mac_b
	ip -n "$1" link add "$2" address "$3" type veth \
		peer name "$5" address "$6" netns "$4" &&
	ip -n "$1" link set "$2" up &&
	ip -n "$4" link set "$5" up
}

# topo_up [TAG] [SINKS=2]: build the topology. Returns non-zero (and cleans
# up) on failure.
topo_up() {
	topo_names "${1:-$$}"
	local sinks=${2:-2} ns
	TOPO_SINKS=$sinks
	for ns in "$NS_GEN" "$NS_LB" "$NS_S1" $([ "$sinks" -ge 2 ] && echo "$NS_S2"); do
		ip netns add "$ns" || { topo_down "$TOPO_TAG"; return 1; }
		ip -n "$ns" link set lo up
	done
	{
		_topo_link "$NS_GEN" gen0 $GEN_MAC "$NS_LB" lb0 $LB0_MAC &&
		_topo_link "$NS_LB" lb1 $LB1_MAC "$NS_S1" sink0 $S1_MAC &&
		if [ "$sinks" -ge 2 ]; then
			_topo_link "$NS_LB" lb2 $LB2_MAC "$NS_S2" sink0 $S2_MAC
		fi &&
		ip -n "$NS_GEN" addr add $GEN4/24 dev gen0 &&
		ip -n "$NS_GEN" addr add $GEN6/64 dev gen0 nodad &&
		ip -n "$NS_LB" addr add $LB04/24 dev lb0 &&
		ip -n "$NS_LB" addr add $LB06/64 dev lb0 nodad &&
		ip -n "$NS_LB" addr add $LB14/24 dev lb1 &&
		ip -n "$NS_LB" addr add $LB16/64 dev lb1 nodad &&
		ip -n "$NS_S1" addr add $S14/24 dev sink0 &&
		ip -n "$NS_S1" addr add $S16/64 dev sink0 nodad &&
		# the way back to the clients (rp_filter and replies)
		ip -n "$NS_LB" route add 10.201.0.0/16 via $GEN4 dev lb0 &&
		ip -n "$NS_LB" route add fd00:201::/64 via $GEN6 dev lb0 &&
		ip -n "$NS_LB" neigh replace $GEN4 lladdr $GEN_MAC dev lb0 nud permanent &&
		ip -n "$NS_LB" neigh replace $GEN6 lladdr $GEN_MAC dev lb0 nud permanent &&
		ip -n "$NS_LB" neigh replace $S14 lladdr $S1_MAC dev lb1 nud permanent &&
		ip -n "$NS_LB" neigh replace $S16 lladdr $S1_MAC dev lb1 nud permanent &&
		if [ "$sinks" -ge 2 ]; then
			ip -n "$NS_LB" addr add $LB24/24 dev lb2 &&
			ip -n "$NS_LB" addr add $LB26/64 dev lb2 nodad &&
			ip -n "$NS_S2" addr add $S24/24 dev sink0 &&
			ip -n "$NS_S2" addr add $S26/64 dev sink0 nodad &&
			ip -n "$NS_LB" neigh replace $S24 lladdr $S2_MAC dev lb2 nud permanent &&
			ip -n "$NS_LB" neigh replace $S26 lladdr $S2_MAC dev lb2 nud permanent
		fi &&
		topo_sysctl "$NS_LB" net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lb0.rp_filter=0 &&
		nsx "$NS_LB" "$XDPLOAD" pass lb0 >/dev/null &&
		nsx "$NS_S1" "$XDPLOAD" drop sink0 >/dev/null &&
		if [ "$sinks" -ge 2 ]; then
			nsx "$NS_S2" "$XDPLOAD" drop sink0 >/dev/null
		fi
	} || { echo "topo: setting up $TOPO_TAG failed" >&2; topo_down "$TOPO_TAG"; return 1; }
}

# topo_down [TAG]: delete the namespaces (their veths and XDP programs go
# with them). Safe to call twice.
topo_down() {
	topo_names "${1:-${TOPO_TAG:-$$}}"
	local ns
	for ns in "$NS_GEN" "$NS_LB" "$NS_S1" "$NS_S2"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# topo_left [TAG]: print anything of TAG's topology still present.
topo_left() {
	local tag=${1:-${TOPO_TAG:-$$}}
	ip netns list | awk '{print $1}' | grep -x "slb-$tag-.*"
	return 0
}

# Packets the sinks dropped (= received) so far: one number per sink, or the
# sum with topo_sink_total.
topo_dev_count() {	# ns dev: XDP_DROPs counted by a veth
	nsx "$1" ethtool -S "$2" 2>/dev/null |
		awk '$1 ~ /^(rx_queue_[0-9]+_)?xdp_drops:$/ { s += $2 } END { print s + 0 }'
}

topo_sink_count() {	# ns
	topo_dev_count "$1" sink0
}

topo_sink_total() {
	local n1 n2=0
	n1=$(topo_sink_count "$NS_S1")
	[ "${TOPO_SINKS:-2}" -ge 2 ] && n2=$(topo_sink_count "$NS_S2")
	echo $((n1 + n2))
}

# Run the generator in the gen ns: topo_gen ARGS... (see gen --help)
topo_gen() {
	nsx "$NS_GEN" "$TOPO_DIR/build/bench/gen" -i gen0 --dst-mac $LB0_MAC "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cmd=${1:-}
	case $cmd in
	up)    topo_up "${2:-$$}" "${3:-2}" || exit 1
	       echo "$NS_GEN $NS_LB $NS_S1 $([ "$TOPO_SINKS" -ge 2 ] && echo "$NS_S2")" ;;
	down)  topo_down "${2:?topo.sh down TAG}" ;;
	left)  out=$(topo_left "${2:?topo.sh left TAG}"); [ -z "$out" ] || { echo "$out"; exit 1; } ;;
	*)     echo "Usage: topo.sh {up [TAG] [SINKS] | down TAG | left TAG}" >&2; exit 2 ;;
	esac
fi
