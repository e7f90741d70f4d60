#!/usr/bin/env bash
# Tuple reuse: the share of new connections that reach the side the
# configuration says, when every connection comes from a source port that
# already has a connection-table entry (issue 9). In the lab
# (scripts/lab.sh), per forwarding mode and hook: PORTS source ports are
# warmed at 50 % (so their entries point at both sides), then N connections
# cycle through the same ports at 0 %, at 100 % and after `revert` from
# 100 %, each closed with a RST so the port is free again at once. Target:
# canary 0 %, 100 %, 0 % exactly, and 0 SYN retransmissions (the backends
# are healthy). Also counts conn_redecided (entries replaced).
#
#   tests/bench/reuse_share.sh [-n N] [-p PORTS] [RUN ...]
#       RUN: HOOK:MODE (xdp:dsr ...); default every mode under xdp and tc.
#       Prints a table, then one JSON line per run.
set -u
cd "$(dirname "$0")/../.."
source scripts/lab.sh
N=600 PORTS=16
while getopts "n:p:" o; do
	case $o in
	n) N=$OPTARG ;;
	p) PORTS=$OPTARG ;;
	*) echo "usage: $0 [-n N] [-p PORTS] [HOOK:MODE ...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
RUNS=${*:-xdp:dsr xdp:ipip xdp:nat tc:dsr tc:ipip tc:nat}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
[ -x "$SLUICE" ] || { echo "build/sluice is not built" >&2; exit 77; }
LAB_TAG=rsh$$
JS=$(mktemp /tmp/sl-reuse-share-XXXXXX)
trap 'lab_down; rm -f "$JS"' EXIT

conns() {	# N: N connections over PORTS reused source ports
	lab_in cl python3 "$TCPNAMES" spread "$LAB_VIP4" "$LAB_PORT" "$1" \
		--sport 46000 --par "$PORTS" --reuse --rst
}
fmt() { echo "$1" | lab_canary_pct; }

printf "%-10s %6s %6s %10s %10s %10s %8s %8s %11s\n" run conns ports \
	"canary@0%" "canary@100" "canary@rev" errors syn_rtx redecided
for r in $RUNS; do
	hook=${r%%:*} mode=${r#*:}
	lab_down
	if ! lab_up "$hook" "$mode" >/dev/null || ! lab_service web 4 connection >/dev/null; then
		echo "$r: lab setup failed" >&2
		continue
	fi
	lab_sluice weight web 50% >/dev/null
	conns "$PORTS" >/dev/null	# every port gets an entry, on either side
	ev0=$(lab_event conn_redecided)
	lab_sluice weight web 0% >/dev/null
	o0=$(conns "$N")
	lab_sluice weight web 100% >/dev/null
	o100=$(conns "$N")
	lab_sluice revert web >/dev/null
	orev=$(conns "$N")
	lab_sluice resume web >/dev/null
	err=$(( $(echo "$o0" | lab_errors) + $(echo "$o100" | lab_errors) + $(echo "$orev" | lab_errors) ))
	rtx=$(( $(lab_health web baseline syn_retrans) + $(lab_health web canary syn_retrans) ))
	red=$(( $(lab_event conn_redecided) - ev0 ))
	printf "%-10s %6d %6d %9s%% %9s%% %9s%% %8d %8d %11d\n" "$r" $((3 * N)) "$PORTS" \
		"$(fmt "$o0")" "$(fmt "$o100")" "$(fmt "$orev")" "$err" "$rtx" "$red"
	printf '{"run": "%s", "conns_per_step": %d, "ports": %d, "canary_pct_at_0": %s, "canary_pct_at_100": %s, "canary_pct_after_revert": %s, "errors": %d, "syn_retrans": %d, "redecided": %d}\n' \
		"$r" "$N" "$PORTS" "$(fmt "$o0")" "$(fmt "$o100")" "$(fmt "$orev")" "$err" "$rtx" "$red" >>"$JS"
done
cat "$JS"
