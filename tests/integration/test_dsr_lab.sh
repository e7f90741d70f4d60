#!/usr/bin/env bash
# L2 DSR with real TCP: client ns -> LB ns (sluice) -> baseline and canary
# backend namespaces holding the VIP on loopback. Shares, stickiness of live
# connections through a ramp, and the kill switch, under native XDP and TC.
# SLUICE_IN_VM=1 (qemu TCG): TC only; the guest runs dsr over XDP with
# live traffic in test_upgrade_lab, and the host runs both here.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source scripts/lab.sh
need_root
[ -x "$SLUICE" ] || skip "build/sluice is not built"
LAB_TAG=dsr$$
trap lab_down EXIT

share_canary() {	# JSON counts -> canary percentage (b3, b4 are canary)
	json '100.0*(j["counts"].get("b3",0)+j["counts"].get("b4",0))/max(1,sum(j["counts"].values()))'
}
errors() { json 'j["errors"]'; }

run_mode() {
	local mode=$1 out pct
	echo "== mode $mode"
	lab_down
	lab_up "$mode" >/dev/null || { fail "$mode: lab up"; return; }
	lab_service web 4 connection >/dev/null || { fail "$mode: service"; return; }
	lab_service web6 6 connection >/dev/null || { fail "$mode: service v6"; return; }

	out=$(lab_spread 4 200)
	check "$mode: weight 0%: every connection on baseline" [ "$(echo "$out" | share_canary)" = 0.0 ]
	check "$mode: weight 0%: no connection failed" [ "$(echo "$out" | errors)" = 0 ]

	lab_sluice weight web 25% >/dev/null
	out=$(lab_spread 4 1000)
	pct=$(echo "$out" | share_canary)
	check "$mode: weight 25%: canary share $pct within 25±5" \
		python3 -c "import sys; sys.exit(not 20 <= $pct <= 30)"
	check "$mode: weight 25%: no connection failed" [ "$(echo "$out" | errors)" = 0 ]

	lab_sluice weight web6 50% >/dev/null
	out=$(lab_spread 6 400)
	pct=$(echo "$out" | share_canary)
	check "$mode: IPv6 weight 50%: canary share $pct within 50±8" \
		python3 -c "import sys; sys.exit(not 42 <= $pct <= 58)"

	lab_sluice weight web 100% >/dev/null
	out=$(lab_spread 4 200)
	check "$mode: weight 100%: every connection on canary" [ "$(echo "$out" | share_canary)" = 100.0 ]

	# live connections through a ramp and a revert
	lab_sluice weight web 50% >/dev/null
	lab_in cl python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" 40 6 >"/tmp/hold.$$" &
	local hp=$! w
	for _ in $(seq 50); do grep -q ready "/tmp/hold.$$" 2>/dev/null && break; sleep 0.1; done
	for w in 1% 5% 25% 50% 100% 0% 50%; do
		lab_sluice weight web "$w" >/dev/null
		sleep 0.4
	done
	lab_sluice revert web >/dev/null
	sleep 0.5
	lab_sluice resume web >/dev/null
	wait $hp
	out=$(tail -n 1 "/tmp/hold.$$")
	rm -f "/tmp/hold.$$"
	hold_checks "$mode" "the ramp and a revert" "$out"

	# the kill switch
	lab_sluice weight web 100% >/dev/null
	lab_sluice revert web >/dev/null
	out=$(lab_spread 4 200)
	check "$mode: reverted at 100%: every new connection on baseline" \
		[ "$(echo "$out" | share_canary)" = 0.0 ]
	check "$mode: second revert reports no change" \
		bash -c "nsenter --net=/run/netns/$(lab_ns lb) $SLUICE --pin-dir $(lab_pin) revert web | grep -qi 'no change\|already'"
	lab_sluice resume web >/dev/null
	out=$(lab_spread 4 100)
	check "$mode: resumed at 100%: every new connection on canary" \
		[ "$(echo "$out" | share_canary)" = 100.0 ]
}

[ "${SLUICE_IN_VM:-0}" = 1 ] || run_mode xdp
run_mode tc
t_done
