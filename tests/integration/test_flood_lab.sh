#!/usr/bin/env bash
# sluice-test: host-only (a flood at the generator's full rate needs real
# CPUs: under qemu TCG the generator reaches a small fraction of its rate
# and starves the real TCP clients on the emulated CPUs, so the test would
# judge the emulator. The kernel side, the flood churning the unconfirmed
# table only and never the established one, runs in the guest too:
# tests/unit/test_flood.c.)
#
# Floods under live traffic, in the lab (scripts/lab.sh, native XDP, DSR).
# The flood comes from the benchmark generator (build/bench/gen --random)
# in a namespace of its own, over a link of its own into the LB namespace
# (lb2, where sluice is attached too, as on a node with two uplinks):
# spoofed sources at random from 10.250.0.0/16 x 16384 ports toward the
# service's VIP and port, as fast as one CPU makes them. The generator
# runs on the last CPU and the real clients on CPU 0, and lb1 has a queue
# per CPU: XDP hands a frame to the queue of the CPU that forwards it, so
# the flood fills its own rings, never the clients' (on one link they
# shared the rings and most of the clients' segments were lost with the
# flood's: after the rest of the suite a connect() in 300 gave up). The
# flood still crosses the same LB, the same program, the same tables and
# the same link to the backends as the clients. The backends drop the
# spoofed packets that sluice forwards to them (strict rp_filter and a
# blackhole route for 10.250.0.0/16: the backends are not under test, and
# their drop counter shows the flood went through sluice to them).
#
# TCP: a SYN flood to web while 20 long-lived connections exchange a line
# every 100 ms (tcpnames.py hold) and batches of new connections arrive
# (tcpnames.py spread): one batch at 50%, one after a weight change to 90%,
# one after `sluice revert`, all during the flood. Checked: the live
# connections kept their backend with 0 errors and 0 resets; every new
# connection succeeded; the weight change and the revert took effect.
# A new connection's criterion is a real client's: one connect() with a 15 s
# timeout, so the kernel's own SYN retransmissions (at 1, 3 and 7 s) are
# allowed, and no connection is retried by the application.
# UDP: the same with a UDP flood to a UDP service: 16 flows established
# before the flood each reach one backend only, through the weight change
# and the revert; 16 flows started during the flood (after the revert)
# reach a baseline backend each. UDP is not retransmitted: the flood fills
# the LB's input ring and some datagrams are lost with it, so a flow only
# has to keep going (90% delivered), never to reach a second backend.
# Also checked: the flood filled the unconfirmed table and left the
# established one alone.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source scripts/lab.sh
need_root
GEN=$PWD/build/bench/gen
[ -x "$SLUICE" ] || skip "build/sluice is not built"
[ -x "$GEN" ] || skip "build/bench/gen is not built"
command -v nstat >/dev/null || skip "needs nstat (iproute2)"
source tests/bench/live_frames.sh
need_live_frames "$GEN"
LAB_TAG=fl$$
TMP=$(mktemp -d /tmp/sl-flood-XXXXXX)
GEN_PID=
cleanup() {
	[ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null
	lab_down
	ip netns del "$(lab_ns fl)" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

FLOOD_SRC=10.250.0.0 FLOOD_FLOWS=$((1 << 30))	# 10.250.0.0/16 x 16384 ports
# HOLD_SECS: the live connections outlast the flood (at most 30 s); an
# exchange may stall up to 20 s and a connect() wait 15 s, as a real
# client's would on a loaded node (retransmissions allowed)
UPORT=9090 HOLD=20 HOLD_SECS=40 NEW=100
GEN_CPU=$(($(nproc) - 1))
LAB_LB1_QUEUES=$(nproc)
# cl ARGS: a real client, in the client namespace, on CPU 0
cl() { lab_in cl taskset -c 0 "$@"; }

# flood_start tcp|udp PORT: the generator in the background (GEN_PID), at
# most 30 s; flood_stop ends it early (SIGALRM: it prints its count)
flood_start() {
	local extra=(--syn)
	[ "$1" = udp ] && extra=()
	ip netns exec "$(lab_ns fl)" "$GEN" -i eth0 --dst-mac "$(lab_mac lb lb2)" \
		--src-ip $FLOOD_SRC --dst-ip "$LAB_VIP4" --dport "$2" --proto "$1" \
		"${extra[@]}" --random -f $FLOOD_FLOWS -c "$GEN_CPU" -d 30 -j \
		>"$TMP/gen" 2>"$TMP/gen.err" &
	GEN_PID=$!
}
flood_stop() {	# prints the frames the generator sent
	local alive=0
	kill -0 "$GEN_PID" 2>/dev/null && alive=1
	kill -ALRM "$GEN_PID" 2>/dev/null
	wait "$GEN_PID"
	GEN_PID=
	check "the flood ran until the end of the sequence" [ $alive = 1 ]
	echo "  flood: $(cat "$TMP/gen" "$TMP/gen.err")"
}
gen_sent() { json 'j["sent"]' <"$TMP/gen" 2>/dev/null || echo 0; }
# the spoofed packets the backends dropped (IP-level rp_filter counter)
rp_drops() {
	local i n=0
	for i in $(seq 1 $LAB_NBACKENDS); do
		n=$((n + $(lab_in "b$i" nstat -asz TcpExtIPReversePathFilter | awk '/IPReversePathFilter/ {print $2}')))
	done
	echo $n
}
resets() { lab_in cl nstat -asz TcpEstabResets | awk '/TcpEstabResets/ {print $2}'; }
# fill: "established unconfirmed unconfirmed_max" from `sluice status`
fill() {
	lab_sluice -j status | json '"%d %d %d" % (j["maps"]["conn_established"]["used"], j["maps"]["conn_unconfirmed"]["used"], j["maps"]["conn_unconfirmed"]["max"])'
}
fill_checks() {	# TAG "EST UNC MAX" (mid-flood) EST_MAX (allowed in conn_est)
	local a
	read -r -a a <<<"$2"
	check "$1: the flood filled the unconfirmed table (${a[1]} of ${a[2]}, >= 1/$((2 * $(nproc))))" \
		[ "${a[1]}" -ge $((a[2] / (2 * $(nproc)))) ]
	check "$1: and left the established table alone (${a[0]} entries, <= $3)" \
		[ "${a[0]}" -le "$3" ]
}
# most frames the generator hands to its link are lost to a full ring on
# the way (into lb2, or behind sluice into the bridge); what
# counts is that sluice took the flood as new flows of the service and the
# backends got them: at least 100,000 of each in a flood of seconds
inserts() { lab_sluice -j stats | json 'j["events"]["conn_insert"]'; }
forwarded_check() {	# TAG RP0 INS0
	local sent got ins
	sent=$(gen_sent) got=$(($(rp_drops) - $2)) ins=$(($(inserts) - $3))
	check "$1: sluice took the flood as new flows ($ins of $sent frames sent) and forwarded it to the service's backends ($got)" \
		[ "$ins" -ge 100000 -a "$got" -ge 100000 ]
}

lab_up xdp dsr >/dev/null 2>&1 || { fail "lab up"; t_done; exit; }
# the flood's own namespace and link into the LB namespace
ip netns add "$(lab_ns fl)" &&
ip link add lb2 netns "$(lab_ns lb)" type veth peer name eth0 netns "$(lab_ns fl)" &&
lab_in fl ip link set eth0 up && lab_in lb ip link set lb2 up &&
lab_sluice attach lb2 xdp >/dev/null || { fail "the flood's link"; t_done; exit; }
for i in $(seq 1 $LAB_NBACKENDS); do
	lab_in "b$i" ip route add blackhole $FLOOD_SRC/16
	lab_in "b$i" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
done

echo "== TCP: a SYN flood under live and new connections"
lab_service web 4 >/dev/null && lab_sluice weight web 50% >/dev/null || { fail "service web"; t_done; exit; }
r0=$(resets) rp0=$(rp_drops) ins0=$(inserts)
cl env TCPNAMES_TIMEOUT=20 python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" $HOLD $HOLD_SECS >"$TMP/hold" &
HOLD_PID=$!
for _ in $(seq 100); do grep -q ready "$TMP/hold" 2>/dev/null && break; sleep 0.1; done
flood_start tcp "$LAB_PORT"
sleep 1.5
mid=$(fill)
new() {	# TAG: a batch of new connections, 4 at a time
	cl python3 "$TCPNAMES" spread "$LAB_VIP4" "$LAB_PORT" $NEW --par 4 --timeout 15 >"$TMP/new.$1"
}
new 50; lab_sluice weight web 90% >/dev/null; sleep 1
new 90; lab_sluice revert web >/dev/null; sleep 1
new rev; sleep 1
flood_stop
check "tcp: the live connections outlasted the flood" kill -0 $HOLD_PID
fill_checks tcp "$mid" $((HOLD + 3 * NEW + 50))
forwarded_check tcp "$rp0" "$ins0"
for t in 50 90 rev; do
	check "new connections at $t during the flood: all $NEW succeeded ($(cat "$TMP/new.$t"))" \
		[ "$(lab_errors <"$TMP/new.$t")" = 0 -a "$(json 'sum(j["counts"].values())' <"$TMP/new.$t")" = $NEW ]
done
check "the weight change took effect during the flood (canary $(lab_canary_pct <"$TMP/new.90")% > 50% at 90%)" \
	awk -v p="$(lab_canary_pct <"$TMP/new.90")" 'BEGIN { exit !(p > 50) }'
check "the revert took effect during the flood (canary $(lab_canary_pct <"$TMP/new.rev")% of new connections)" \
	awk -v p="$(lab_canary_pct <"$TMP/new.rev")" 'BEGIN { exit !(p == 0) }'
wait $HOLD_PID
out=$(tail -n 1 "$TMP/hold")
hold_checks tcp "the flood, a weight change and a revert" "$out"
check "tcp: every live connection kept exchanging lines (>= $HOLD_SECS each, one a second)" \
	[ "$(echo "$out" | json 'min(c["msgs"] for c in j["conns"])')" -ge $HOLD_SECS ]
check "tcp: the client saw no established connection reset ($r0 -> $(resets))" [ "$(resets)" = "$r0" ]

echo "== UDP: a UDP flood under established and new flows"
lab_sluice service add u vip "$LAB_VIP4" port $UPORT protocol udp mode dsr >/dev/null &&
for i in $(seq 1 $LAB_NBACKENDS); do
	pool=baseline; [ "$i" -gt 2 ] && pool=canary
	lab_sluice backend add u "10.101.0.1$i" pool $pool mac "$(lab_mac "b$i" eth0)" dev lb1 >/dev/null
done && lab_sluice weight u 50% >/dev/null || { fail "service u"; t_done; exit; }
for i in $(seq 1 $LAB_NBACKENDS); do
	lab_in "b$i" python3 "$TCPNAMES" udpsink $UPORT 15 >"$TMP/sink$i" &
done
sleep 0.5
rp0=$(rp_drops) ins0=$(inserts)
cl python3 "$TCPNAMES" udpflows "$LAB_VIP4" $UPORT 16 50 12 --sport 40000 >"$TMP/sentA" &
A_PID=$!
sleep 1
flood_start udp $UPORT
sleep 1.5
mid=$(fill)
lab_sluice weight u 90% >/dev/null; sleep 1
lab_sluice revert u >/dev/null; sleep 0.5
cl python3 "$TCPNAMES" udpflows "$LAB_VIP4" $UPORT 16 50 3 --sport 41000 >"$TMP/sentB"
flood_stop
check "udp: the established flows outlasted the flood" kill -0 $A_PID
fill_checks udp "$mid" $((HOLD + 3 * NEW + 50 + 32 + 200))
forwarded_check udp "$rp0" "$ins0"
wait $A_PID
for t in $(seq 100); do	# the sinks print when their time is up
	[ "$(cat "$TMP"/sink* | grep -c received)" = $LAB_NBACKENDS ] && break
	sleep 0.2
done
# per flow (source port): "backends delivered sent" for the ports in SENT
flows() {
	$PY -c '
import json, sys
sent = json.load(open(sys.argv[1]))["sent"]
got = {}
for i, f in enumerate(sys.argv[2:], 1):
    for line in open(f):
        if line.strip():
            for p, n in json.loads(line)["ports"].items():
                got.setdefault(p, {})["b%d" % i] = n
for p, n in sorted(sent.items()):
    print(",".join(sorted(got.get(p, {}))) or "-", sum(got.get(p, {}).values()), n)
' "$1" "$TMP"/sink1 "$TMP"/sink2 "$TMP"/sink3 "$TMP"/sink4
}
flows "$TMP/sentA" >"$TMP/flowsA"
flows "$TMP/sentB" >"$TMP/flowsB"
check "udp: each of the 16 established flows reached one backend only ($(cut -d' ' -f1 "$TMP/flowsA" | sort | uniq -c | tr -s ' \n' ' '))" \
	[ "$(awk '$1 !~ /,/ && $1 != "-"' "$TMP/flowsA" | wc -l)" = 16 ]
check "udp: the established flows spanned both pools" \
	[ "$(cut -d' ' -f1 "$TMP/flowsA" | sort -u | wc -l)" -ge 3 ]
check "udp: the established flows kept going (>= 90% delivered: $(awk '{d += $2; s += $3} END {print d " of " s}' "$TMP/flowsA"))" \
	awk '{d += $2; s += $3} END { exit !(s > 0 && d >= 0.9 * s) }' "$TMP/flowsA"
check "udp: each of the 16 flows started after the revert reached one baseline backend ($(cut -d' ' -f1 "$TMP/flowsB" | sort | uniq -c | tr -s ' \n' ' '))" \
	[ "$(awk '$1 == "b1" || $1 == "b2"' "$TMP/flowsB" | wc -l)" = 16 ]
check "udp: the new flows kept going (>= 90% delivered: $(awk '{d += $2; s += $3} END {print d " of " s}' "$TMP/flowsB"))" \
	awk '{d += $2; s += $3} END { exit !(s > 0 && d >= 0.9 * s) }' "$TMP/flowsB"
t_done
