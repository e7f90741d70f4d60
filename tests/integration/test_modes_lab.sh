#!/usr/bin/env bash
# The ipip and nat forwarding modes with real TCP, IPv4 and IPv6, under
# native XDP and TC: client ns -> LB ns (sluice) -> 2 baseline + 2 canary
# backend namespaces (scripts/lab.sh). Per mode and attach path: shares of
# a fixed set of connections (source ports BASE.., so each share is
# reproducible) at 5% and 50%; live connections through a ramp; the kill
# switch and --reset; health signals while the canary misbehaves (refuses
# with RST, drops every SYN, answers only after the client's SYN
# retransmission - this kernel has neither netem nor fq to delay packets).
# SLUICE_IN_VM=1 (vmtest: qemu TCG, ~10x slower) runs smaller counts with
# wider tolerances, and each forwarding mode and attach path once (ipip over
# XDP, nat over TC) instead of all four pairs: the host runs all four.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source scripts/lab.sh
need_root
[ -x "$SLUICE" ] || skip "build/sluice is not built"
command -v nft >/dev/null || skip "needs nft (nftables) for the health checks"
LAB_TAG=modes$$
trap lab_down EXIT

# HOLD live connections for HOLD_S seconds across the ramp (each must have
# made MSGS exchanges: it was alive through all of it); RESET_S: the live
# connections that revert --reset must end. Under TCG a command takes ~1 s
# and a busy guest exchanges far less often: longer holds, fewer exchanges.
N=2000 TOL=2 HOLD=50 HOLD_S=5 MSGS=20 RESET_S=3
if [ "${SLUICE_IN_VM:-0}" = 1 ]; then
	N=200 TOL=5 HOLD=50 HOLD_S=20 MSGS=5 RESET_S=12
fi

spread() {	# FAMILY N [tcpnames options]
	local fam=$1 n=$2; shift 2
	lab_in cl python3 "$TCPNAMES" spread "$(lab_vip "$fam")" "$LAB_PORT" "$n" "$@"
}
in_range() { python3 -c "import sys; sys.exit(not $2 <= $1 <= $3)"; }
canary_do() {	# run a command in both canary backends
	local b
	for b in b3 b4; do lab_in "$b" "$@" || return 1; done
}
fresh_service() {	# NAME FAMILY: delete (counters go with it) and re-add, 50%
	lab_sluice service del "$1" >/dev/null 2>&1
	lab_service "$1" "$2" connection >/dev/null || return 1
	lab_sluice weight "$1" 50% >/dev/null
}

check_shares() {
	local tag=$1 fam=$2 svc=$3 base=$4 out pct w
	for w in 5 50; do
		lab_sluice weight "$svc" "$w%" >/dev/null
		out=$(spread "$fam" "$N" --sport "$base" --par 4)
		pct=$(echo "$out" | lab_canary_pct)
		check "$tag: IPv$fam weight $w%: canary share $pct% of $N within $w±$TOL" \
			in_range "$pct" $((w - TOL)) $((w + TOL))
		check "$tag: IPv$fam weight $w%: all $N connections completed" \
			[ "$(echo "$out" | lab_errors)" = 0 ]
		base=$((base + N))
	done
}

check_ramp() {
	local tag=$1 hold=/tmp/hold.$$ hp w out
	lab_sluice weight web 50% >/dev/null
	lab_in cl python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" "$HOLD" "$HOLD_S" >"$hold" &
	hp=$!
	for _ in $(seq 100); do grep -q ready "$hold" 2>/dev/null && break; sleep 0.1; done
	for w in 1% 5% 25% 50% 100% 0%; do
		lab_sluice weight web "$w" >/dev/null
		sleep 0.5
	done
	wait $hp
	out=$(tail -n 1 "$hold")
	rm -f "$hold"
	hold_checks "$tag" "1-5-25-50-100-0%" "$out"
	check "$tag: every live connection kept sending (>= $MSGS exchanges each)" \
		[ "$(echo "$out" | json 'min(c["msgs"] for c in j["conns"])')" -ge "$MSGS" ]
}

check_revert() {
	local tag=$1 hold=/tmp/hold.$$ hp out
	lab_sluice weight web 100% >/dev/null
	lab_sluice revert web >/dev/null
	out=$(spread 4 200 --par 4)
	check "$tag: reverted at 100%: all 200 new connections on baseline" \
		[ "$(echo "$out" | lab_canary_pct)" = 0.0 ]
	lab_sluice resume web >/dev/null
	# --reset: live canary flows are re-decided onto baseline, whose
	# backends do not know them and answer with a RST (through the reply
	# path in nat): canary connections end, baseline ones are untouched
	lab_sluice weight web 50% >/dev/null
	lab_in cl python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" 20 "$RESET_S" >"$hold" &
	hp=$!
	for _ in $(seq 100); do grep -q ready "$hold" 2>/dev/null && break; sleep 0.1; done
	sleep 0.5
	lab_sluice revert web --reset >/dev/null
	wait $hp
	out=$(tail -n 1 "$hold")
	rm -f "$hold"
	check "$tag: revert --reset: every live canary connection was ended" \
		[ "$(echo "$out" | json 'all(c["errors"]>0 for c in j["conns"] if c["backend"] in ("b3","b4")) and any(c["backend"] in ("b3","b4") for c in j["conns"])')" = True ]
	check "$tag: revert --reset: live baseline connections untouched" \
		[ "$(echo "$out" | json 'sum(c["errors"]+c["changed"] for c in j["conns"] if c["backend"] in ("b1","b2"))')" = 0 ]
	out=$(spread 4 100 --par 4)
	check "$tag: after --reset: new connections on baseline, none failed" \
		[ "$(echo "$out" | lab_canary_pct)" = 0.0 ] && [ "$(echo "$out" | lab_errors)" = 0 ]
	lab_sluice resume web >/dev/null
}

check_health() {
	local tag=$1 fwd=$2 fam=$3 svc=web out tbl
	[ "$fam" = 6 ] && svc=web6
	tbl="inet sltest"
	# refused: the canary answers every SYN with a RST
	fresh_service "$svc" "$fam" || { fail "$tag: health service"; return; }
	canary_do nft add table $tbl
	canary_do nft add chain $tbl in '{ type filter hook input priority 0; }'
	canary_do nft add rule $tbl in tcp dport "$LAB_PORT" tcp flags syn reject with tcp reset
	out=$(spread "$fam" 100 --par 8 --timeout 3)
	if [ "$fwd" = nat ]; then
		check "$tag: IPv$fam refusing canary: backend_rst counted on canary" \
			[ "$(lab_health "$svc" canary backend_rst)" -ge 20 ]
		check "$tag: IPv$fam refusing canary: baseline backend_rst stays 0" \
			[ "$(lab_health "$svc" baseline backend_rst)" = 0 ]
	fi
	check "$tag: IPv$fam refusing canary: only canary connections failed ($(echo "$out" | lab_errors) errors)" \
		[ "$(echo "$out" | json 'j["counts"].get("b3",0)+j["counts"].get("b4",0)')" = 0 ]
	# silent: the canary drops every SYN
	canary_do nft flush chain $tbl in
	canary_do nft add rule $tbl in tcp dport "$LAB_PORT" tcp flags syn drop
	fresh_service "$svc" "$fam"
	spread "$fam" 40 --par 40 --timeout 1.6 >/dev/null
	check "$tag: IPv$fam silent canary: SYN retransmissions counted on canary" \
		[ "$(lab_health "$svc" canary syn_retrans)" -ge 5 ]
	check "$tag: IPv$fam silent canary: baseline syn_retrans stays 0" \
		[ "$(lab_health "$svc" baseline syn_retrans)" = 0 ]
	if [ "$fwd" = nat ]; then
		check "$tag: IPv$fam silent canary: hs_timeout on canary, no handshake timed" \
			[ "$(lab_health "$svc" canary hs_timeout)" -ge 5 ] && [ "$(lab_health "$svc" canary handshakes)" = 0 ]
		check "$tag: IPv$fam silent canary: baseline hs_timeout 0, handshakes timed" \
			[ "$(lab_health "$svc" baseline hs_timeout)" = 0 ] && [ "$(lab_health "$svc" baseline handshakes)" -ge 5 ]
	fi
	# slow: the canary drops each connection's first SYN (answers ~1 s late)
	canary_do nft flush chain $tbl in
	if [ "$fam" = 4 ]; then
		canary_do nft add set $tbl seen '{ type ipv4_addr . inet_service; flags dynamic; timeout 30s; }'
		canary_do nft add rule $tbl in tcp dport "$LAB_PORT" tcp flags syn ip saddr . tcp sport != @seen update @seen '{ ip saddr . tcp sport }' drop
	else
		canary_do nft add set $tbl seen '{ type ipv6_addr . inet_service; flags dynamic; timeout 30s; }'
		canary_do nft add rule $tbl in tcp dport "$LAB_PORT" tcp flags syn ip6 saddr . tcp sport != @seen update @seen '{ ip6 saddr . tcp sport }' drop
	fi
	fresh_service "$svc" "$fam"
	out=$(spread "$fam" 60 --par 30 --timeout 4)
	check "$tag: IPv$fam slow canary: every connection completed" [ "$(echo "$out" | lab_errors)" = 0 ]
	if [ "$fwd" = nat ]; then
		check "$tag: IPv$fam slow canary: canary p50 handshake $(lab_health "$svc" canary p50_ms) ms >= 900" \
			in_range "$(lab_health "$svc" canary p50_ms)" 900 3000
		check "$tag: IPv$fam slow canary: baseline p99 $(lab_health "$svc" baseline p99_ms) ms < 100" \
			in_range "$(lab_health "$svc" baseline p99_ms)" 0 100
	else
		check "$tag: IPv$fam slow canary: syn_retrans on canary only" \
			[ "$(lab_health "$svc" canary syn_retrans)" -ge 5 ] && [ "$(lab_health "$svc" baseline syn_retrans)" = 0 ]
	fi
	canary_do nft delete table $tbl
	# client RSTs are counted per variant
	fresh_service "$svc" "$fam"
	spread "$fam" 40 --par 4 --rst >/dev/null
	check "$tag: IPv$fam client RSTs counted on both variants" \
		[ "$(lab_health "$svc" canary client_rst)" -ge 5 ] && [ "$(lab_health "$svc" baseline client_rst)" -ge 5 ]
	lab_sluice service del "$svc" >/dev/null  # the last phase
}

run() {
	local attach=$1 fwd=$2 tag="$2/$1"
	echo "== $tag"
	lab_down
	lab_up "$attach" "$fwd" >/dev/null || { fail "$tag: lab up"; return; }
	lab_service web 4 connection >/dev/null || { fail "$tag: service"; return; }
	lab_service web6 6 connection >/dev/null || { fail "$tag: service v6"; return; }
	check_shares "$tag" 4 web 20000
	check_shares "$tag" 6 web6 30000
	check_ramp "$tag"
	check_revert "$tag"
	check_health "$tag" "$fwd" 4
	# IPv6 health signals over XDP; not in the guest, whose IPv6 paths
	# the shares above cover (the host runs them)
	[ "$attach" = xdp ] && [ "${SLUICE_IN_VM:-0}" != 1 ] && check_health "$tag" "$fwd" 6
	check "$tag: nothing dropped for want of a redirect target" \
		[ "$(lab_sluice -j stats | json 'j["events"].get("drop_redirect_fail",0)')" = 0 ]
}

run xdp ipip
[ "${SLUICE_IN_VM:-0}" = 1 ] || run xdp nat
[ "${SLUICE_IN_VM:-0}" = 1 ] || run tc ipip
run tc nat
t_done
