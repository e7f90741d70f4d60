#!/usr/bin/env bash
# Flood benchmark (`make floodbench`): a spoofed flood at the generator's
# full rate (build/bench/gen --random: sources at random from a /16 x 16384
# ports) against a service that also carries established flows, in the
# benchmark topology (tests/bench/topo.sh: gen ns -> lb ns with sluice XDP,
# DSR -> two XDP_DROP sinks) with the default table sizes (conn 1M,
# conn-new 256K). IPv4/TCP: a SYN flood to bench4; IPv6/UDP: a UDP flood to
# bench6. Each round starts a fresh topology and instance, writes
# FLOOD_EST established flows into conn_est (slconf fill) and measures:
#   idle       the hit cost of an established flow, BPF_PROG_TEST_RUN
#              (progcost --test-run, statistics off) on the other CPU
#   hits       established traffic alone (gen cycling over those flows):
#              forwarding rate and ns/packet (run-time statistics window)
#   flood      the flood alone: offered and forwarded rate, ns/packet, the
#              event counters (misses, inserts, promotions), both tables'
#              fill and the flood's share of each, evictions (inserts -
#              promotions - what the table holds; conn_est: what it lost of
#              the flows written into it plus promotions)
#   mixed      flood and established traffic at once (one generator per
#              CPU): the established hits forwarded per second during the
#              flood (conn_hit counter), next to the hits-only figure
#   hit_during the idle hit cost again, while the flood runs
#   recovery   after the flood: the unconfirmed table's flood entries over
#              FLOOD_IDLE seconds with no traffic (they have no timeout),
#              then after each burst of new legitimate flows (FLOOD_BURST
#              from each CPU) until fewer than 1% of the table is the
#              flood's (at most FLOOD_RECOVER_STEPS bursts): the new flows
#              it takes, and so the time at a given arrival rate
# Rates are per second of wall time between two counter reads; the machine
# is shared, so compare within a round. Writes FLOOD_OUT (JSON lines, one
# per round and family) and prints a summary (min/median/max over rounds).
#
# Environment (defaults): FLOOD_ROUNDS 3, FLOOD_WINDOW 2 (s), FLOOD_EST
# 100000, FLOOD_FAMILIES "4 6", FLOOD_IDLE 2, FLOOD_BURST 16384,
# FLOOD_RECOVER_STEPS 48,
# BENCH_CPU 1 (the flood's CPU; the other generator and the test runs use
# the other one), FLOOD_OUT build/bench/flood.jsonl
set -u
cd "$(dirname "$0")/../.."
. tests/bench/topo.sh
: "${FLOOD_ROUNDS:=3}" "${FLOOD_WINDOW:=2}" "${FLOOD_EST:=100000}"
: "${FLOOD_FAMILIES:=4 6}" "${FLOOD_IDLE:=2}" "${FLOOD_BURST:=16384}"
: "${FLOOD_RECOVER_STEPS:=48}"
: "${BENCH_CPU:=1}" "${FLOOD_OUT:=build/bench/flood.jsonl}"
SLCONF=$TOPO_DIR/build/bench/slconf
PROGCOST=$TOPO_DIR/build/bench/progcost
die() { echo "floodbench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, XDP)"
for b in gen xdpload progcost slconf; do
	[ -x build/bench/$b ] || die "build/bench/$b missing: run make"
done
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (one generator each)"
[ "$BENCH_CPU" -lt "$(nproc)" ] 2>/dev/null || BENCH_CPU=1
OTHER_CPU=$([ "$BENCH_CPU" = 0 ] && echo 1 || echo 0)

TAG=fb$$
PIN=/sys/fs/bpf/slb-$TAG
WORK=$(mktemp -d /tmp/sluice-floodbench.XXXXXX)
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	[ -d "$PIN" ] && "$SLCONF" -p "$PIN" destroy >/dev/null
	topo_down "$TAG"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FLOWS_FLOOD=$((1 << 30))
flood_args() {	# FAMILY: the generator's flood
	if [ "$1" = 6 ]; then
		echo "-6 --proto udp --src-ip fd00:250:: --random -f $FLOWS_FLOOD"
	else
		echo "--syn --src-ip 10.250.0.0 --random -f $FLOWS_FLOOD"
	fi
}
flood_prefix() { [ "$1" = 6 ] && echo fd00:250::/96 || echo 10.250.0.0/16; }
hits_args() { [ "$1" = 6 ] && echo "-6 -f $FLOOD_EST" || echo "-f $FLOOD_EST"; }
legit_args() {	# new flows that are not the flood's (--src-ip per burst)
	if [ "$1" = 6 ]; then
		echo "-6 --proto udp -f $FLOOD_BURST"
	else
		echo "--syn -f $FLOOD_BURST"
	fi
}
events() { echo "{\"t\":$(date +%s.%N),\"ev\":$("$SLCONF" -p "$PIN" events),\"sinks\":$(topo_sink_total)}"; }
conns() { "$SLCONF" -p "$PIN" conns --src "$(flood_prefix "$1")"; }
hitcost() {	# FAMILY: BPF_PROG_TEST_RUN of an established flow, other CPU
	taskset -c "$OTHER_CPU" "$PROGCOST" --pin "$PIN/prog_lb0_xdp" --test-run \
		--pkt "$([ "$1" = 6 ] && echo v6udp || echo v4tcp)" --repeat 200000 --trials 3 -j
}

# window NAME "GEN-ARGS@CPU"...: the generators for FLOOD_WINDOW + 1.2 s,
# counters and a statistics window in the middle; one JSON object
window() {
	local name=$1 g pids=() i=0 e0 e1 cost
	shift
	for g in "$@"; do
		# shellcheck disable=SC2086
		topo_gen ${g%@*} -c "${g#*@}" -j -d "$(awk -v w="$FLOOD_WINDOW" 'BEGIN { print w + 1.2 }')" \
			>"$WORK/gen$i.json" &
		pids+=($!)
		i=$((i + 1))
	done
	sleep 0.5
	e0=$(events)
	cost=$("$PROGCOST" --pin "$PIN/prog_lb0_xdp" --window "$FLOOD_WINDOW" --trials 1 --repeat 100000 -j)
	e1=$(events)
	wait "${pids[@]}"
	printf '"%s":{"e0":%s,"e1":%s,"cost":%s,"gen":[%s]}' "$name" "$e0" "$e1" "${cost:-null}" \
		"$(for ((i = 0; i < ${#pids[@]}; i++)); do cat "$WORK/gen$i.json"; done | paste -sd,)"
}

since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

# recovery FAMILY: JSON of the unconfirmed table's flood entries after the
# flood: idle, then after each burst of new flows. The table is counted
# between bursts only: a walk of a hash table that is being churned counts
# some entries twice. Each burst is FLOOD_BURST new flows from each CPU
# (the table keeps one LRU list per CPU), from addresses no burst used.
recovery() {
	local fam=$1 t0 c i=0 step src
	printf '"idle":['
	t0=$(date +%s.%N)
	while :; do
		c=$(conns "$fam")
		printf '%s{"after":%s,"c":%s}' "$([ $i -gt 0 ] && echo ,)" "$(since "$t0")" "$c"
		i=$((i + 1))
		awk -v a="$(date +%s.%N)" -v b="$t0" -v w="$FLOOD_IDLE" 'BEGIN { exit !(a - b >= w) }' && break
		sleep 0.5
	done
	printf '],"burst":%s,"legit":[' "$FLOOD_BURST"
	for step in $(seq 1 "$FLOOD_RECOVER_STEPS"); do
		for cpu in 0 1; do
			if [ "$fam" = 6 ]; then src=fd00:202::$step:${cpu}000
			else src=10.$((202 + cpu)).$step.0; fi
			# shellcheck disable=SC2046
			topo_gen $(legit_args "$fam") --src-ip "$src" -n "$FLOOD_BURST" -c $cpu >/dev/null
		done
		c=$(conns "$fam")
		printf '%s{"flows":%s,"c":%s}' "$([ "$step" -gt 1 ] && echo ,)" $((2 * step * FLOOD_BURST)) "$c"
		# recovered: under 1% of the table is the flood's
		echo "$c" | awk -F'"conn_new_from":' '{ split($2, a, "}"); n = a[1] } END { exit !(n * 100 < '"$TABLE_NEW"') }' && break
	done
	printf ']'
}

TABLE_NEW=262144	# slconf setup's conn-new: the default instance's
: >"$WORK/out.jsonl"
echo "floodbench: ${FLOOD_ROUNDS} rounds, IPv[$FLOOD_FAMILIES], $FLOOD_EST established flows, ${FLOOD_WINDOW}s windows, flood on CPU $BENCH_CPU"
for round in $(seq 1 "$FLOOD_ROUNDS"); do
	for fam in $FLOOD_FAMILIES; do
		printf 'round %s IPv%s ' "$round" "$fam"
		topo_up "$TAG" 2 || die "topology setup failed"
		"$SLCONF" -N "$NS_LB" -p "$PIN" setup --attach xdp --weight 1000 >/dev/null ||
			die "slconf setup failed"
		fill=$("$SLCONF" -p "$PIN" fill --n "$FLOOD_EST" --family "$fam") || die "fill failed"
		{
			printf '{"round":%s,"family":%s,"est":%s,"fill":%s,' "$round" "$fam" "$FLOOD_EST" "$fill"
			printf '"idle_hit":%s,' "$(hitcost "$fam")"
			# shellcheck disable=SC2046
			window hits "$(hits_args "$fam")@$OTHER_CPU"; printf ','
			window flood "$(flood_args "$fam")@$BENCH_CPU"; printf ','
			printf '"after_flood":%s,' "$(conns "$fam")"
			window mixed "$(flood_args "$fam")@$BENCH_CPU" "$(hits_args "$fam")@$OTHER_CPU"; printf ','
			# shellcheck disable=SC2046
			topo_gen $(flood_args "$fam") -c "$BENCH_CPU" -d 3 >/dev/null &
			sleep 0.5
			printf '"flood_hit":%s,' "$(hitcost "$fam")"
			wait
			printf '"end":%s,' "$(events)"
			recovery "$fam"
			printf '}\n'
		} >>"$WORK/out.jsonl" 2>"$WORK/err" || echo "failed: $(tail -n 1 "$WORK/err")"
		tail -n 1 "$WORK/out.jsonl" | python3 tests/bench/flood_report.py --line
		"$SLCONF" -p "$PIN" destroy >/dev/null
		topo_down "$TAG"
		sleep 0.3
	done
done
mkdir -p "$(dirname "$FLOOD_OUT")"
cp "$WORK/out.jsonl" "$FLOOD_OUT"
python3 tests/bench/flood_report.py "$FLOOD_OUT" kernel="$(uname -r)" nproc="$(nproc)" \
	commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "results: $FLOOD_OUT"
