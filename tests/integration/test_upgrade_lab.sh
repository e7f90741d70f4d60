#!/usr/bin/env bash
# Hitless upgrade: `sluice upgrade` (this build's programs swapped in for
# the attached ones, the pinned maps kept) while traffic flows through the
# lab (scripts/lab.sh): native XDP with DSR, and TC with NAT (forward and
# reply programs). During each run: long-lived TCP connections exchange a
# message every 100 ms and a UDP stream of numbered datagrams runs at a
# fixed rate, while the programs are replaced several times. Checked: every
# upgrade changed the program ids; no TCP connection saw an error or moved
# to another backend; the client retransmitted no TCP segment; every UDP
# datagram sent arrived at a backend. A control (detach, then attach, in
# the middle of a stream) shows that the datagram count does see a gap.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source scripts/lab.sh
need_root
[ -x "$SLUICE" ] || skip "build/sluice is not built"
command -v nstat >/dev/null || skip "needs nstat (iproute2)"
LAB_TAG=upg$$
TMP=$(mktemp -d /tmp/sl-upg-XXXXXX)
trap 'lab_down; rm -rf "$TMP"' EXIT

UPORT=9090 RATE=1000 SECS=6 HOLD=20 UPGRADES=5
# under qemu TCG (vmtest) each upgrade takes seconds: fewer upgrades
[ "${SLUICE_IN_VM:-0}" = 1 ] && SECS=5 UPGRADES=3
# the held connections outlast the upgrades (their last message after the
# last one): the hold ends a second after it, or after HOLD_SECS at most
HOLD_SECS=300

udp_service() {	# the lab's backends for a UDP service on UPORT
	local i pool extra=()
	lab_sluice service add u vip "$LAB_VIP4" port $UPORT protocol udp mode "$LAB_FWD" >/dev/null || return 1
	for i in $(seq 1 $LAB_NBACKENDS); do
		pool=baseline; [ "$i" -gt 2 ] && pool=canary
		[ "$LAB_FWD" = dsr ] && extra=(mac "$(lab_mac "b$i" eth0)" dev lb1)
		lab_sluice backend add u "10.101.0.1$i" pool $pool "${extra[@]}" >/dev/null || return 1
	done
	lab_sluice weight u 50% >/dev/null
}
# The sinks count until sinks_total says the sender is done (and then until
# a quiet second): a fixed listening time cut off the tail of the stream
# when a slow guest (qemu TCG) took longer to start or send.
sinks_start() {
	local i
	rm -f "$TMP/stop"
	for i in $(seq 1 $LAB_NBACKENDS); do
		lab_in "b$i" python3 "$TCPNAMES" udpsink $UPORT 300 "$TMP/stop" >"$TMP/sink$i" &
	done
	sleep 0.5
}
sinks_total() {
	touch "$TMP/stop"
	wait_for_sinks
	cat "$TMP"/sink* | python3 -c "
import json,sys; print(sum(json.loads(l)['distinct'] for l in sys.stdin if l.strip()))"
}
wait_for_sinks() {
	local i t
	for t in $(seq 150); do
		local done=1
		for i in $(seq 1 $LAB_NBACKENDS); do grep -q received "$TMP/sink$i" 2>/dev/null || done=0; done
		[ $done = 1 ] && return 0
		sleep 0.2
	done
}
prog_ids() { lab_sluice -j status | json '",".join(str(a["prog_id"]) for a in j["attachments"])'; }
retrans() { lab_in cl nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}'; }

run() {	# HOOK MODE
	local tag="$1/$2" hold=$TMP/hold ids0 ids i n sent got r0 r1 out
	lab_down >/dev/null 2>&1
	lab_up "$1" "$2" >/dev/null 2>&1 || { fail "$tag: lab up"; return; }
	lab_service web 4 >/dev/null && lab_sluice weight web 50% >/dev/null
	udp_service || { fail "$tag: services"; return; }
	r0=$(retrans)
	sinks_start
	rm -f "$TMP/hold-stop"
	lab_in cl env TCPNAMES_STOP="$TMP/hold-stop" python3 "$TCPNAMES" hold "$LAB_VIP4" "$LAB_PORT" $HOLD $HOLD_SECS >"$hold" &
	local hold_pid=$!
	for _ in $(seq 100); do grep -q ready "$hold" 2>/dev/null && break; sleep 0.1; done
	lab_in cl python3 "$TCPNAMES" udpsend "$LAB_VIP4" $UPORT $((RATE * (SECS - 1))) $RATE >"$TMP/sent" &
	local send_pid=$!
	ids0=$(prog_ids) n=0
	for i in $(seq $UPGRADES); do
		sleep 0.7
		ids=$(prog_ids)
		if lab_sluice upgrade >"$TMP/up" 2>&1 && [ "$(prog_ids)" != "$ids" ]; then
			n=$((n + 1))
		else
			echo "    upgrade $i: $(cat "$TMP/up")"
		fi
	done
	local t_up; t_up=$(date +%s.%N)
	touch "$TMP/hold-stop"	# the hold ends after one more round, each after t_up
	check "$tag: $UPGRADES upgrades under traffic, each swapped every program ($ids0 -> $(prog_ids))" \
		[ "$n" = $UPGRADES ]
	wait $hold_pid $send_pid
	out=$(tail -n 1 "$hold")
	check "$tag: all $HOLD live TCP connections kept going (0 errors)" \
		[ "$(echo "$out" | json 'sum(c["errors"] for c in j["conns"])')" = 0 ]
	check "$tag: none moved to another backend" \
		[ "$(echo "$out" | json 'sum(c["changed"] for c in j["conns"])')" = 0 ]
	# progress past the last upgrade, not a rate: a slow guest (TCG on a
	# loaded host) sends fewer messages, and that says nothing of sluice
	check "$tag: every connection exchanged messages after the last upgrade" \
		[ "$(echo "$out" | json "int(min(c['last_ok'] for c in j['conns']) > $t_up)")" = 1 ]
	r1=$(retrans)
	check "$tag: the client retransmitted no TCP segment ($r0 -> $r1)" [ "$r0" = "$r1" ]
	sent=$(json 'j["sent"]' <"$TMP/sent") got=$(sinks_total)
	check "$tag: every UDP datagram arrived: $got of $sent" [ "$got" = "$sent" ]
	rm -f "$TMP"/sink*
}

run xdp dsr
run tc nat

# Control: the same stream across a detach and attach loses datagrams, so
# the count above would have seen a gap.
sinks_start
lab_in cl python3 "$TCPNAMES" udpsend "$LAB_VIP4" $UPORT $((RATE * 3)) $RATE >"$TMP/sent" &
send_pid=$!
sleep 1
lab_sluice detach lb0 >/dev/null; sleep 0.2; lab_sluice attach lb0 tc >/dev/null
wait $send_pid
sent=$(json 'j["sent"]' <"$TMP/sent") got=$(sinks_total)
check "control: detach + attach mid-stream loses datagrams ($got of $sent arrived)" [ "$got" -lt "$sent" ]
t_done
