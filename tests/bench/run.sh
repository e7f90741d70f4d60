#!/usr/bin/env bash
# sluice benchmark (`make bench`): every case in BENCH_CASES, each family and
# flow count, BENCH_ROUNDS rounds interleaved (round 1 runs every case, then
# round 2 ...), each run in a fresh topology (tests/bench/topo.sh) so no
# conntrack or map state carries over. Prints a table (min/median/max Mpps
# delivered at the sinks, ratios to the floor and to nftables computed within
# each round) and writes BENCH_OUT as JSON. Cases live in tests/bench/cases.sh.
#
# Environment (defaults):
#   BENCH_CASES     "genmax floor sluice_xdp sluice_xdp_ipip sluice_xdp_nat
#                   sluice_tc kfwd nft_numgen nft_jhash ipt_statistic"
#                   (also: sluice_tc_ipip sluice_tc_nat)
#   BENCH_FAMILIES  "4 6"      IPv4/TCP and IPv6/UDP
#   BENCH_FLOWS     4096       flows the generator cycles through; a list
#                              ("4096 1000000") runs each
#   BENCH_DURATION  2          seconds per measurement
#   BENCH_ROUNDS    5
#   BENCH_SIZE      64         frame bytes
#   BENCH_PATTERN   (none)     traffic users have (issue 24; IPv4/TCP only):
#                              est      every flow opened (SYN, ACK) before
#                                       the measurement, then data
#                              ecmp     no warm-up: every flow is
#                                       mid-connection and unknown (an ECMP
#                                       next hop just failed elsewhere)
#                              synflood flows opened, then half the frames
#                                       a spoofed SYN flood among their data
#                              (none: the warm-up sends the flows' ACKs)
#   BENCH_CPU       1          CPU for the generator; veth runs the lb and
#                              sink in softirq on that same CPU, so a figure
#                              is the cost of gen + lb + sink on one CPU
#   BENCH_COST      1          also measure ns/packet with run-time stats
#                              (tests/bench/sluice_cost.sh: empty program,
#                              floor, sluice hit / new flow / 1M entries)
#   BENCH_COST_ROUNDS 3        rounds of those
#   BENCH_MODECOST  (BENCH_COST) ns/packet per forwarding mode (dsr, ipip, nat;
#                              hit and new flow, IPv4/TCP and IPv6/TCP) vs
#                              an empty program: build/bench/modecost
#                              (BPF_PROG_TEST_RUN, one fresh packet per run),
#                              BENCH_COST_ROUNDS times
#   BENCH_MODECOST_RUNS 20000  runs per figure (median)
#   BENCH_FLOWCOST  (BENCH_COST) connection-table cost per traffic pattern
#                              (1M established, ECMP burst, new flows,
#                              floods): build/bench/flowcost,
#                              BENCH_COST_ROUNDS rounds
#   BENCH_COST_WINDOW 1        seconds per statistics window
#   BENCH_SCALE     1          1,000 services / 10,000 backends: configure
#                              time, memory, weight changes, revert, table
#                              swap, hit cost on one service
#   BENCH_PLOT      1          build/bench/rates.png when matplotlib exists
#   BENCH_OUT       build/bench/results.json
set -u
cd "$(dirname "$0")/../.."
. tests/bench/topo.sh
. tests/bench/cases.sh
. tests/bench/sluice_cost.sh

: "${BENCH_FAMILIES:=4 6}"
: "${BENCH_FLOWS:=4096}"
: "${BENCH_DURATION:=2}"
: "${BENCH_ROUNDS:=5}"
: "${BENCH_SIZE:=64}"
: "${BENCH_PATTERN:=}"
case "$BENCH_PATTERN" in
""|est|ecmp|synflood) ;;
*) echo "bench: BENCH_PATTERN must be est, ecmp or synflood" >&2; exit 2 ;;
esac
[ -n "$BENCH_PATTERN" ] && BENCH_FAMILIES=4
: "${BENCH_CPU:=1}"
: "${BENCH_COST:=1}"
: "${BENCH_MODECOST:=$BENCH_COST}"
: "${BENCH_MODECOST_RUNS:=20000}"
: "${BENCH_OUT:=build/bench/results.json}"
: "${BENCH_PLOT:=1}"

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, XDP)"
for b in gen xdpload progcost slconf; do
	[ -x build/bench/$b ] || die "build/bench/$b missing: run make"
done
[ "$BENCH_CPU" -lt "$(nproc)" ] 2>/dev/null || BENCH_CPU=0

TAG=b$$
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
RECORDS=$WORK/runs.jsonl
COSTRUNS=$WORK/cost_runs.jsonl
MODECOST=$WORK/modecost.jsonl
SCALE=$WORK/scale.json
CUR_CASE=
cleanup() {
	[ -n "$CUR_CASE" ] && declare -F "case_${CUR_CASE}_down" >/dev/null &&
		"case_${CUR_CASE}_down"
	topo_down "$TAG"
	for d in /sys/fs/bpf/slb-$TAG /sys/fs/bpf/slb-$TAG-scale; do
		[ -d "$d" ] && build/bench/slconf -p "$d" destroy >/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

delivered() {	# case: packets delivered so far, "total s1 s2"
	local n1 n2
	if declare -F "case_$1_count" >/dev/null; then
		echo "$("case_$1_count") 0 0"
		return
	fi
	n1=$(topo_sink_count "$NS_S1")
	n2=$(topo_sink_count "$NS_S2")
	echo "$((n1 + n2)) $n1 $n2"
}

# bench_one CASE FAMILY FLOWS ROUND: one measurement, one JSON line.
bench_one() {
	local c=$1 fam=$2 flows=$3 round=$4 rc=0 ff= out a b pat=
	topo_up "$TAG" 2 || die "topology setup failed"
	FAMILY=$fam
	CUR_CASE=$c
	"case_$c" 2>"$WORK/case.err" || rc=$?
	[ "$fam" = 6 ] && ff=-6
	if [ $rc = 0 ]; then
		case "$BENCH_PATTERN" in
		"")	# warm-up: neighbours, conntrack entries for the flows, caches
			topo_gen $ff -f "$flows" -s "$BENCH_SIZE" -c "$BENCH_CPU" -d 0.3 >/dev/null ;;
		est|synflood)	# every flow opened: SYN, then ACK
			topo_gen -f "$flows" -s "$BENCH_SIZE" -c "$BENCH_CPU" --pattern est \
				-n $((2 * flows)) -d 60 >/dev/null ;;
		ecmp)	;;	# nothing: the flows arrive mid-connection
		esac
		[ "$BENCH_PATTERN" = synflood ] && pat="--pattern synflood"
		sleep 0.3
		read -r -a a < <(delivered "$c")
		# shellcheck disable=SC2086
		out=$(topo_gen $ff -f "$flows" -s "$BENCH_SIZE" -c "$BENCH_CPU" $pat \
			-d "$BENCH_DURATION" -j) || rc=1
		sleep 0.2
		read -r -a b < <(delivered "$c")
	fi
	declare -F "case_${c}_down" >/dev/null && "case_${c}_down"
	CUR_CASE=
	topo_down "$TAG"
	if [ $rc = 0 ]; then
		echo "{\"case\":\"$c\",\"family\":$fam,\"flows\":$flows,\"round\":$round,\"pattern\":\"$BENCH_PATTERN\",\"gen\":$out,\"delivered\":$((b[0] - a[0])),\"sink1\":$((b[1] - a[1])),\"sink2\":$((b[2] - a[2]))}" >>"$RECORDS"
		awk -v n=$((b[0] - a[0])) -v o="$out" 'BEGIN {
			match(o, /"seconds":[0-9.]+/); s = substr(o, RSTART + 10, RLENGTH - 10)
			printf "%.3f Mpps\n", n / s / 1e6 }'
	else
		local why
		why=$(tail -n 1 "$WORK/case.err")
		echo "{\"case\":\"$c\",\"family\":$fam,\"flows\":$flows,\"round\":$round,\"status\":\"$([ $rc = 77 ] && echo skipped || echo failed)\",\"why\":\"${why//\"/\'}\"}" >>"$RECORDS"
		echo "$([ $rc = 77 ] && echo skipped || echo FAILED): $why"
	fi
	sleep 0.3	# let the namespace teardown finish off-CPU
}

start=$(date +%s)
echo "sluice bench: cases [$BENCH_CASES], IPv[$BENCH_FAMILIES], flows [$BENCH_FLOWS], ${BENCH_ROUNDS}x${BENCH_DURATION}s, ${BENCH_SIZE}-byte frames, CPU $BENCH_CPU${BENCH_PATTERN:+, pattern $BENCH_PATTERN}"
for round in $(seq 1 "$BENCH_ROUNDS"); do
	for flows in $BENCH_FLOWS; do
		for fam in $BENCH_FAMILIES; do
			for c in $BENCH_CASES; do
				declare -F "case_$c" >/dev/null || die "no function case_$c"
				printf 'round %s  %-16s IPv%s %7s flows  ' "$round" "$c" "$fam" "$flows"
				bench_one "$c" "$fam" "$flows" "$round"
			done
		done
	done
done

# Per-packet cost from the run-time statistics, outside the throughput runs.
COST=$WORK/cost.json
echo '{}' >"$COST"
: >"$COSTRUNS"
echo '{}' >"$SCALE"
if [ "$BENCH_COST" = 1 ]; then
	echo "per-packet cost (kernel.bpf_stats_enabled windows)"
	{
		echo "{"
		echo "\"empty_v4tcp\": $(build/bench/progcost --empty --test-run --pkt v4tcp -j),"
		echo "\"empty_v6udp\": $(build/bench/progcost --empty --test-run --pkt v6udp -j),"
		topo_up "$TAG" 2 || die "topology setup failed"
		id=$(nsx "$NS_LB" "$XDPLOAD" floor lb0 lb1 $S1_MAC)
		echo "\"floor_v4tcp_test_run\": $(build/bench/progcost --id "$id" --test-run --pkt v4tcp -j)"
		topo_down "$TAG"
		echo "}"
	} >"$COST.tmp" && mv "$COST.tmp" "$COST"
	cost_rounds
fi
# Per-packet cost per forwarding mode (BPF_PROG_TEST_RUN in modecost's own
# private network namespace), outside the throughput runs.
: >"$MODECOST"
if [ "$BENCH_MODECOST" = 1 ]; then
	if [ -x build/bench/modecost ]; then
		echo "per-packet cost per mode (modecost, BPF_PROG_TEST_RUN, median of $BENCH_MODECOST_RUNS runs)"
		for r in $(seq 1 "${BENCH_COST_ROUNDS:-3}"); do
			out=$(taskset -c "$BENCH_CPU" build/bench/modecost -n "$BENCH_MODECOST_RUNS" 2>"$WORK/modecost.err" | tail -n 1)
			if [ "${out:0:1}" = "{" ]; then
				echo "{\"round\":$r,\"ns\":$out}" >>"$MODECOST"
				echo "  round $r $out"
			else
				echo "bench: modecost round $r failed: $(tail -n 1 "$WORK/modecost.err")" >&2
			fi
		done
	else
		echo "bench: build/bench/modecost missing: no per-mode cost" >&2
	fi
fi
FLOWCOST=$WORK/flowcost.json
echo '{}' >"$FLOWCOST"
if [ "${BENCH_FLOWCOST:-$BENCH_COST}" = 1 ] && [ -x build/bench/flowcost ]; then
	echo "connection-table cost per pattern (flowcost, ${BENCH_COST_ROUNDS:-3} rounds)"
	build/bench/flowcost --rounds "${BENCH_COST_ROUNDS:-3}" --cpu "$BENCH_CPU" \
		>"$FLOWCOST.tmp" 2>"$WORK/flowcost.err" &&
		tail -n 1 "$FLOWCOST.tmp" >"$FLOWCOST" ||
		echo "bench: flowcost failed: $(tail -n 1 "$WORK/flowcost.err")" >&2
fi
if [ "$BENCH_SCALE" = 1 ]; then
	scale_section || { echo "bench: scale section failed" >&2; echo '{}' >"$SCALE"; }
fi

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ipt=$(iptables -V 2>/dev/null)
mkdir -p "$(dirname "$BENCH_OUT")"
python3 tests/bench/report.py "$RECORDS" "$COST" "$BENCH_OUT" \
	costruns="$COSTRUNS" scale="$SCALE" modecost="$MODECOST" flowcost="$FLOWCOST" \
	kernel="$(uname -r)" cpu="$cpu" nproc="$(nproc)" \
	commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	dirty="$(git status --porcelain 2>/dev/null | grep -q . && echo yes || echo no)" \
	date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" duration="$BENCH_DURATION" \
	rounds="$BENCH_ROUNDS" size="$BENCH_SIZE" gen_cpu="$BENCH_CPU" \
	canary_pct="$BENCH_CANARY_PCT" pattern="${BENCH_PATTERN:-ack}" iptables="$ipt" nft="$(nft -v 2>/dev/null)" \
	elapsed_s=$(($(date +%s) - start)) || die "report failed"
if [ "$BENCH_PLOT" = 1 ] && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
	/usr/bin/python3 tests/bench/plot.py "$BENCH_OUT" "$(dirname "$BENCH_OUT")/rates.png" ||
		echo "bench: plot failed" >&2
fi
echo "results: $BENCH_OUT ($(($(date +%s) - start)) s)"
