#!/usr/bin/env bash
# Per-packet cost and control-plane scale of sluice itself, sourced by
# run.sh after topo.sh and cases.sh (which set WORK, TAG, BENCH_CPU, nsx ...).
#
# cost_rounds: BENCH_COST_ROUNDS rounds, each in a fresh topology. Every
# figure is the kernel's BPF run-time statistics (run_time_ns / run_cnt, via
# progcost --window) of the program attached to lb0 while the generator
# sends real traffic through the veth, so each one carries the statistics'
# own fixed cost; ratios are to the empty program (XDP_DROP, nothing else)
# measured the same way in the same round:
#   empty      xdpload drop on lb0, 256 flows (v4 at the start and the end
#              of the round, v6 at the start)
#   floor      bench_floor (MAC rewrite + devmap redirect), IPv4
#   hit        sluice XDP, 256 flows repeating (TCP ACKs / UDP): after the
#              warm-up every packet hits conn_est
#   new        sluice XDP, 2^24 flows cycling: every packet misses both
#              tables (conn_new holds 256K), so it pays the decision and
#              the write of a conn_new slot; as ACKs, these flows are
#              mid-connection: each leaves a conn_door tag
#   hit_1m_other  hit, 256 flows, conn_est holding 1M other entries
#   hit_1m_flows  hit, 1M flows cycling, all pre-filled: every packet hits
#              a different, cache-cold entry
#   new_small  new, with conn_est 64K / conn_new 4K entries (tables stay in
#              cache: the decision and insert without memory misses)
# plus BPF_PROG_TEST_RUN of the hit path (one packet repeated; DSR only
# rewrites MACs, so the repeats see the same packet), stats off and on.
# The event counters before/after each sluice window show hit/miss shares.
#
# scale_section: 1,000 services / 10,000 backends (slconf scale: time to
# configure, memory of every map and inner map, weight changes, revert
# --all), the per-packet hit cost on one of them vs the empty program, and
# table rebuild + swap at 16381 and 65537 slots (slconf swap).

: "${BENCH_COST_ROUNDS:=3}"
: "${BENCH_COST_WINDOW:=1}"
: "${BENCH_SCALE:=1}"
SLCONF=${SLCONF:-$TOPO_DIR/build/bench/slconf}
PROGCOST=${PROGCOST:-$TOPO_DIR/build/bench/progcost}

_cost_cpu() {	# a CPU other than the generator's for progcost
	[ "$(nproc)" -gt 1 ] || { echo 0; return; }
	[ "$BENCH_CPU" = 0 ] && echo 1 || echo 0
}

# _cw NAME FAMILY FLOWS "PROGCOST-ARGS" [PIN]: one live window -> one line
_cw() {
	local name=$1 fam=$2 flows=$3 parg=$4 pin=${5:-} ff= out e0=null e1=null gpid
	[ "$fam" = 6 ] && ff=-6
	# warm-up: neighbours, caches, and the flows' connection entries
	topo_gen $ff -f "$flows" -c "$BENCH_CPU" -d 0.3 >/dev/null
	[ -n "$pin" ] && e0=$("$SLCONF" -p "$pin" events)
	topo_gen $ff -f "$flows" -c "$BENCH_CPU" -j \
		-d "$(awk -v w="$BENCH_COST_WINDOW" 'BEGIN { print w + 1.2 }')" \
		>"$WORK/gen.json" &
	gpid=$!
	sleep 0.5
	# shellcheck disable=SC2086
	out=$(taskset -c "$(_cost_cpu)" "$PROGCOST" $parg --window "$BENCH_COST_WINDOW" \
		--trials 1 --repeat 200000 -j)
	wait $gpid
	[ -n "$pin" ] && e1=$("$SLCONF" -p "$pin" events)
	printf '{"round":%s,"name":"%s","family":%s,"flows":%s,"cost":%s,"gen":%s,"ev0":%s,"ev1":%s}\n' \
		"$ROUND" "$name" "$fam" "$flows" "${out:-null}" \
		"$(cat "$WORK/gen.json" 2>/dev/null || echo null)" "${e0:-null}" "${e1:-null}" >>"$COSTRUNS"
	printf '  round %s %-13s IPv%s %8s flows  %s ns\n' "$ROUND" "$name" "$fam" "$flows" \
		"$(echo "$out" | sed -n 's/.*"stats_raw_ns":\([0-9.]*\).*/\1/p')"
}

_cost_testrun() {	# NAME PKT PROG-PIN: BPF_PROG_TEST_RUN, one line
	local out
	out=$(taskset -c "$BENCH_CPU" "$PROGCOST" --pin "$3" --test-run --pkt "$2" \
		--repeat 500000 --trials 3 -j)
	printf '{"round":%s,"name":"%s","family":%s,"flows":1,"test_run":%s}\n' \
		"$ROUND" "$1" "$([ "$2" = v6udp ] && echo 6 || echo 4)" "${out:-null}" >>"$COSTRUNS"
	printf '  round %s %-13s %s  %s ns (empty %s ns, stats off)\n' "$ROUND" "$1" "$2" \
		"$(echo "$out" | sed -n 's/.*"raw_ns":\([0-9.]*\),"empty.*/\1/p')" \
		"$(echo "$out" | sed -n 's/.*"empty_ns":\([0-9.]*\),"net.*/\1/p')"
}

_sl_setup() {	# PIN [slconf options]: a fresh instance, XDP on lb0
	local pin=$1
	shift
	"$SLCONF" -N "$NS_LB" -p "$pin" setup --attach xdp \
		--weight $((BENCH_CANARY_PCT * 100)) "$@" >/dev/null
}

cost_round() {
	local pin=/sys/fs/bpf/slb-$TAG id prog
	topo_up "$TAG" 2 || return 1
	id=$(nsx "$NS_LB" "$XDPLOAD" drop lb0) || return 1
	_cw empty 4 256 "--id $id"
	_cw empty 6 256 "--id $id"
	id=$(nsx "$NS_LB" "$XDPLOAD" floor lb0 lb1 $S1_MAC) || return 1
	_cw floor 4 256 "--id $id"

	_sl_setup "$pin" || return 1
	prog=$pin/prog_lb0_xdp
	_cw hit 4 256 "--pin $prog" "$pin"
	_cw hit 6 256 "--pin $prog" "$pin"
	_cost_testrun hit_test_run v4tcp "$prog"
	_cost_testrun hit_test_run v6udp "$prog"
	_cw new 4 16777216 "--pin $prog" "$pin"
	_cw new 6 16777216 "--pin $prog" "$pin"
	# 1M entries that are not the generator's, then 256 hot flows
	"$SLCONF" -p "$pin" fill --n 1000000 --src 10.202.0.1 >>"$WORK/fill.jsonl"
	_cw hit_1m_other 4 256 "--pin $prog" "$pin"

	# a fresh instance holding exactly the generator's 1M flows
	"$SLCONF" -p "$pin" destroy >/dev/null
	_sl_setup "$pin" || return 1
	"$SLCONF" -p "$pin" fill --n 1000000 --src $CLIENT4 --sport 1024 \
		--nports 16384 >>"$WORK/fill.jsonl"
	_cw hit_1m_flows 4 1000000 "--pin $prog" "$pin"

	# new flows again, with tables small enough to stay in cache (conn_est
	# 64K, conn_new 4K entries): the decision and insert without the
	# misses of a large table
	"$SLCONF" -p "$pin" destroy >/dev/null
	_sl_setup "$pin" --conn 65536 --conn-new 4096 || return 1
	_cw new_small 4 16777216 "--pin $prog" "$pin"

	id=$(nsx "$NS_LB" "$XDPLOAD" drop lb0) || return 1
	_cw empty_end 4 256 "--id $id"
	"$SLCONF" -p "$pin" destroy >/dev/null
	topo_down "$TAG"
}

cost_rounds() {
	local r
	COSTRUNS=$WORK/cost_runs.jsonl
	: >"$COSTRUNS"
	echo "per-packet cost: $BENCH_COST_ROUNDS rounds, ${BENCH_COST_WINDOW}s windows of run-time statistics under live traffic"
	for r in $(seq 1 "$BENCH_COST_ROUNDS"); do
		ROUND=$r
		cost_round || { echo "bench: cost round $r failed" >&2; "$SLCONF" -p "/sys/fs/bpf/slb-$TAG" destroy >/dev/null 2>&1; topo_down "$TAG"; }
	done
}

scale_section() {
	local pin=/sys/fs/bpf/slb-$TAG-scale id out r
	SCALE=$WORK/scale.json
	echo "scale: ${BENCH_SCALE_SERVICES:-1000} services, ${BENCH_SCALE_BACKENDS:-10000} backends"
	topo_up "$TAG" 2 || return 1
	out=$("$SLCONF" -N "$NS_LB" -p "$pin" scale --attach xdp \
		--services "${BENCH_SCALE_SERVICES:-1000}" \
		--backends "${BENCH_SCALE_BACKENDS:-10000}" \
		--weight $((BENCH_CANARY_PCT * 100))) || { topo_down "$TAG"; return 1; }
	echo "{\"scale\":$out," >"$SCALE"
	for r in 1 2; do
		ROUND=$r
		_cw scale_hit 4 256 "--pin $pin/prog_lb0_xdp" "$pin"
		id=$(nsx "$NS_LB" "$XDPLOAD" drop lb0)
		_cw scale_empty 4 256 "--id $id"
		"$SLCONF" -N "$NS_LB" -p "$pin" attach --attach xdp >/dev/null
	done
	echo "\"swap\":[" >>"$SCALE"
	"$SLCONF" -N "$NS_LB" -p "$pin" swap --table 16381 --reps 10 >>"$SCALE"
	echo "," >>"$SCALE"
	"$SLCONF" -N "$NS_LB" -p "$pin" swap --table 65537 --reps 10 >>"$SCALE"
	echo "]}" >>"$SCALE"
	"$SLCONF" -p "$pin" destroy >/dev/null
	topo_down "$TAG"
}
