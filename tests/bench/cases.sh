#!/usr/bin/env bash
# Benchmark cases, sourced by run.sh and smoke_bench.sh after topo.sh.
#
# Adding a case: write case_NAME and add NAME to BENCH_CASES (or pass
# BENCH_CASES="..." to run.sh). run.sh calls it in a fresh topology (topo_up:
# gen ns, lb ns, two sinks, addresses, static neighbours, XDP_DROP on both
# sink0, XDP_PASS on lb0) with FAMILY=4 or 6 set. The case must make the lb
# namespace ($NS_LB) deliver what arrives on lb0 -- Ethernet to $LB0_MAC, IP
# to $VIP4/$VIP6 port 80, TCP over IPv4 and UDP over IPv6, sources in
# 10.201.0.0/16 / fd00:201::/64 -- to the sinks: $S14/$S16 ($S1_MAC) behind
# lb1 and $S24/$S26 ($S2_MAC) behind lb2, for either family. lb0 must keep an
# XDP program (veth drops ndo_xdp_xmit frames otherwise): replacing the
# XDP_PASS one is fine. Whatever reaches either sink counts (ethtool -S
# xdp_drops on sink0); splitting between sinks is recorded too.
# Return 0 when ready, 77 to skip the case (print why on stderr), anything
# else for a failure. An optional case_NAME_down runs before the topology
# is deleted (stop daemons there; namespaces, veths, XDP, nft and conntrack
# state all go with the namespaces).

: "${BENCH_CASES:=genmax floor sluice_xdp sluice_xdp_ipip sluice_xdp_nat sluice_tc kfwd nft_numgen nft_jhash ipt_statistic}"
# Share of new flows for the second sink in the DNAT cases, percent.
: "${BENCH_CANARY_PCT:=10}"

# (1) XDP floor: rewrite MACs, devmap redirect to lb1 -> sink 1.
case_floor() {
	nsx "$NS_LB" "$XDPLOAD" floor lb0 lb1 $S1_MAC >/dev/null
}

_fwd_on() {
	topo_sysctl "$NS_LB" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# (4) plain kernel forwarding: a route for the VIP towards sink 1.
case_kfwd() {
	_fwd_on &&
	if [ "$FAMILY" = 6 ]; then
		ip -n "$NS_LB" -6 route add $VIP6/128 via $S16 dev lb1
	else
		ip -n "$NS_LB" route add $VIP4/32 via $S14 dev lb1
	fi
}

# The VIP match, the DNAT targets and the split point, per family.
_nat_vars() {
	local cut=$((100 - BENCH_CANARY_PCT - 1))
	if [ "$FAMILY" = 6 ]; then
		NF=ip6 VIP=$VIP6 T1=$S16 T2=$S26
	else
		NF=ip VIP=$VIP4 T1=$S14 T2=$S24
	fi
	NAT_MAP="{ 0-$cut : $T1, $((cut + 1))-99 : $T2 }"
}

# (5a) nftables weighted DNAT, numgen random (per new flow).
case_nft_numgen() {
	_fwd_on && _nat_vars &&
	nsx "$NS_LB" nft -f - <<-EOT
	table inet slb {
		chain pre {
			type nat hook prerouting priority dstnat; policy accept;
			$NF daddr $VIP meta l4proto { tcp, udp } th dport 80 dnat $NF to numgen random mod 100 map $NAT_MAP
		}
	}
	EOT
}

# (5b) nftables weighted DNAT, jhash of source address and port.
case_nft_jhash() {
	_fwd_on && _nat_vars &&
	nsx "$NS_LB" nft -f - <<-EOT
	table inet slb {
		chain pre {
			type nat hook prerouting priority dstnat; policy accept;
			$NF daddr $VIP meta l4proto { tcp, udp } th dport 80 dnat $NF to jhash $NF saddr . th sport mod 100 seed 0x5eed map $NAT_MAP
		}
	}
	EOT
}

# (6) iptables statistic --mode random DNAT (whatever `iptables` is here:
# iptables-nft on Debian 12; BENCH_IPTABLES=legacy uses iptables-legacy).
case_ipt_statistic() {
	local ipt=iptables p=tcp vip=$VIP4 t1=$S14 t2=$S24
	[ "$FAMILY" = 6 ] && { ipt=ip6tables p=udp vip=$VIP6 t1="[$S16]" t2="[$S26]"; }
	[ "${BENCH_IPTABLES:-}" = legacy ] && ipt=$ipt-legacy
	command -v $ipt >/dev/null || { echo "no $ipt" >&2; return 77; }
	_fwd_on &&
	nsx "$NS_LB" $ipt -t nat -A PREROUTING -d $vip -p $p --dport 80 \
		-m statistic --mode random --probability 0.$(printf %02d "$BENCH_CANARY_PCT") \
		-j DNAT --to-destination $t2 &&
	nsx "$NS_LB" $ipt -t nat -A PREROUTING -d $vip -p $p --dport 80 \
		-j DNAT --to-destination $t1
}

# Generator ceiling (not a load balancer): lb0 drops everything at XDP, so
# the figure is what gen can push into a veth. Counted on lb0 instead of the
# sinks: a case may define case_NAME_count to print its own delivered count.
case_genmax() {
	nsx "$NS_LB" "$XDPLOAD" drop lb0 >/dev/null
}
case_genmax_count() {
	topo_dev_count "$NS_LB" lb0
}

# (2) sluice itself, configured through libsluice by build/bench/slconf with
# a private pin dir: services "bench4" ($VIP4:80/tcp) and "bench6"
# ($VIP6:80/udp), DSR, baseline = sink 1 (out of lb1), canary = sink 2 (out
# of lb2) at BENCH_CANARY_PCT % of flows. The generator sends TCP ACKs (no
# SYN) and repeats its flows, so after the warm-up every packet is a hit in
# the established table; the sink2 column shows the canary's share.
SLCONF=${SLCONF:-$TOPO_DIR/build/bench/slconf}

_sluice_case() {	# xdp|tc [dsr|ipip|nat]
	[ -x "$SLCONF" ] || { echo "build/bench/slconf not built" >&2; return 77; }
	SLUICE_PIN=/sys/fs/bpf/slb-$TOPO_TAG
	"$SLCONF" -N "$NS_LB" -p "$SLUICE_PIN" setup --attach "$1" --dev lb0 \
		--mode "${2:-dsr}" --tunnel-src4 $TUN4 --tunnel-src6 $TUN6 \
		--weight $((BENCH_CANARY_PCT * 100)) \
		--vip4 $VIP4 --vip6 $VIP6 \
		--base "$S14,$S16,$S1_MAC,lb1" --canary "$S24,$S26,$S2_MAC,lb2" >/dev/null
}
_sluice_case_down() {
	[ -n "${SLUICE_PIN:-}" ] && "$SLCONF" -p "$SLUICE_PIN" destroy >/dev/null
	SLUICE_PIN=
	return 0
}

# (2a) native XDP on lb0: MAC rewrite and devmap redirect to lb1/lb2.
case_sluice_xdp() { _sluice_case xdp; }
case_sluice_xdp_down() { _sluice_case_down; }

# (2b) TC ingress (clsact) on lb0: lb0 keeps topo's XDP_PASS program so that
# veth delivers the generator's frames; bpf_redirect to lb1/lb2 egress.
case_sluice_tc() { _sluice_case tc; }
case_sluice_tc_down() { _sluice_case_down; }

# (2c) the ipip and nat modes: same services and sinks, but the backends are
# only the sinks' addresses; device and next-hop MAC come from
# bpf_fib_lookup in the lb namespace: the connected routes to lb1/lb2 and
# topo's permanent neighbours give sink 1 (baseline, out of lb1) and sink 2
# (canary, out of lb2). bpf_fib_lookup answers "forwarding disabled" unless
# forwarding is on. ipip: outer IPv4 (proto 4) / IPv6 (next header 41)
# header from $TUN4 / $TUN6 to the sink's address, 20 / 40 bytes more per
# frame; nat: destination address rewritten to the sink's, checksums
# updated. The sinks' XDP_DROP program drops every frame whatever it holds,
# so xdp_drops counts the encapsulated and NATed frames one for one. This is
# the one-way forward path: nothing answers, so the nat reply program
# (`sluice attach DEV reply`) and the backends' decap are not exercised.
TUN4=10.200.9.0/24
TUN6=fd00:200:9::/64
case_sluice_xdp_ipip() { _fwd_on && _sluice_case xdp ipip; }
case_sluice_xdp_ipip_down() { _sluice_case_down; }
case_sluice_xdp_nat() { _fwd_on && _sluice_case xdp nat; }
case_sluice_xdp_nat_down() { _sluice_case_down; }
# the same through TC ingress (bpf_redirect to the FIB's device)
case_sluice_tc_ipip() { _fwd_on && _sluice_case tc ipip; }
case_sluice_tc_ipip_down() { _sluice_case_down; }
case_sluice_tc_nat() { _fwd_on && _sluice_case tc nat; }
case_sluice_tc_nat_down() { _sluice_case_down; }
