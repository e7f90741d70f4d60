# shellcheck shell=bash
# veth_xdp_rx NETNS DEV: DEV, a veth in network namespace NETNS whose peer
# frames are XDP-redirected into, can take them. GRO turns on the NAPI path
# they need from 5.13 on (d3256efd8e8b); before, only an XDP program on DEV
# does, and without one veth drops every redirected frame, unseen by sluice
# (its program returned XDP_REDIRECT). So on older kernels DEV gets a
# program that passes everything (bench_sink's, from the build next to
# $SLUICE): a real deployment redirecting into veth needs the same
# (doc/guide/native-xdp.md).
veth_xdp_rx() {
	local min=5.13 k
	ip netns exec "$1" ethtool -K "$2" gro on >/dev/null 2>&1
	k=$(uname -r); k=${k%%-*}
	[ "$(printf '%s\n%s\n' "$min" "$k" | sort -V | head -n1)" = "$min" ] && return 0
	ip netns exec "$1" ip link set dev "$2" xdpdrv \
		obj "$(dirname "$SLUICE")/bpf/bench_sink.bpf.o" program bench_pass
}
