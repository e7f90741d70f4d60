#!/usr/bin/env bash
# A reboot of an LB node (scripts/lab.sh), with the units `make install`
# writes: the node configured (/etc/sluice/sluice.yaml, its devices in
# /etc/default/sluice) and serving, sluiced running; then what a reboot does
# to the datapath: sluiced gone, the programs detached, the pins gone (the
# VIP no longer answers); then sluice-attach.service's commands and
# sluiced.service's, parsed from the installed unit files and run as
# systemd would (tests/integration/unit_exec.py): the node serves the same
# configuration again (same export, the canary's share, no failed
# connection) and sluiced answers. Prints the time from the boot unit's
# start to the first forwarded connection (tests/bench/boot.sh repeats it).
# The configuration is a plain one: a promoted rollout surviving the
# re-apply is the promotion work's (doc/guide/promotion.md).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup boot
command -v nsenter >/dev/null || skip "needs nsenter (util-linux)"
MODE=${SLUICE_BOOT_MODE:-xdp}
P=$RL_DIR/prefix			# PREFIX and SYSCONFDIR of the install
cleanup() { [ -n "${PROBE:-}" ] && kill "$PROBE" 2>/dev/null; rl_cleanup; }
trap cleanup EXIT

make -s install PREFIX="$P/usr" SYSCONFDIR="$P/etc" UNITDIR="$P/units" \
	>"$RL_DIR/install.log" 2>&1 || { cat "$RL_DIR/install.log"; fail "make install"; t_done; exit 1; }
lab_up "$MODE" dsr || skip "cannot build the lab ($MODE)"
lab_service web 4 >/dev/null || { fail "lab_service"; t_done; exit 1; }
lab_sluice weight web 25% >/dev/null

# the node's configuration, as an operator keeps it
lab_sluice export >"$P/etc/sluice/sluice.yaml"
cat >"$P/etc/default/sluice" <<EOF
# the lab node (test_reboot_lab.sh)
SLUICE_DEVICES="lb0:$MODE"
SLUICE_PIN_DIR=$(lab_pin)
SLUICE_SOCKET=$RL_SOCK
SLUICED_OPTS="--db $RL_DB --audit-log $RL_AUDIT --metrics off"
EOF
BEFORE=$(lab_sluice export | grep -v '^#')
spread=$(lab_spread 4 200)
check "configured: serving (no failed connection)" test "$(echo "$spread" | lab_errors)" = 0
pct=$(echo "$spread" | lab_canary_pct)
check "configured: the canary has ~25% ($pct%)" awk -v p="$pct" 'BEGIN{exit !(p > 10 && p < 40)}'
rl_start || { fail "sluiced did not start"; t_done; exit 1; }
check "configured: sluiced answers" bash -c "SLUICE_SOCKET=$RL_SOCK '$SLUICE' rollout status >/dev/null"

# --- the reboot: no daemon, no program, no pin
rl_stop
rm -rf "$(lab_pin)"	# first: a pinned bpf_link would hold the program
lab_in lb ip link set dev lb0 xdp off 2>/dev/null
lab_in lb tc qdisc del dev lb0 clsact 2>/dev/null
check "rebooted: no pins" test ! -e "$(lab_pin)"
check "rebooted: the VIP does not answer" bash -c "! ip netns exec $(lab_ns cl) python3 -c '
import socket; socket.create_connection((\"$LAB_VIP4\", $LAB_PORT), timeout=0.5)' 2>/dev/null"
check "rebooted: no program on lb0" bash -c "! ip -n $(lab_ns lb) -d link show lb0 | grep -q 'prog/\|xdp'"

# --- the boot: the units' commands, in the LB node's network namespace
UNITS=$P/units
check "installed units name the installed sluice-boot" \
	grep -q "^ExecStart=$P/usr/lib/sluice/sluice-boot" "$UNITS/sluice-attach.service"
# a client probes the VIP every 10 ms from before the unit starts
ip netns exec "$(lab_ns cl)" python3 -c '
import socket, sys, time
end = time.time() + 180	# the attach can take long on a loaded machine
while time.time() < end:
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.05)
        s.sendall(b"probe\n")
        if s.recv(100):
            print("%.6f" % time.time()); sys.exit(0)
    except OSError:
        time.sleep(0.01)
sys.exit(1)' "$LAB_VIP4" "$LAB_PORT" >"$RL_DIR/first" 2>/dev/null &
PROBE=$!
t0=$(date +%s.%N)
nsenter --net="/run/netns/$(lab_ns lb)" python3 tests/integration/unit_exec.py \
	"$UNITS/sluice-attach.service" >"$RL_DIR/boot.log" 2>&1
rc=$?
t1=$(date +%s.%N)
sed 's/^/    boot: /' "$RL_DIR/boot.log"
echo "  boot unit's commands: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", (b-a)*1000}') ms"
check "sluice-attach.service's commands succeed" test "$rc" = 0
wait "$PROBE" 2>/dev/null; PROBE=
if [ -s "$RL_DIR/first" ]; then
	echo "  boot unit start -> first forwarded connection: $(awk -v a="$t0" -v b="$(cat "$RL_DIR/first")" 'BEGIN{printf "%.0f", (b-a)*1000}') ms"
fi
check "after boot: the probe's connection was forwarded" test -s "$RL_DIR/first"
[ "$rc" = 0 ] && [ -s "$RL_DIR/first" ] || { t_done; exit 1; }	# nothing more to see
nsenter --net="/run/netns/$(lab_ns lb)" python3 tests/integration/unit_exec.py \
	"$UNITS/sluiced.service" >>"$RL_LOG" 2>&1 &
RL_PID=$!
for _ in $(seq 100); do rl rollout status >/dev/null 2>&1 && break; sleep 0.05; done
check "after boot: sluiced (from sluiced.service) answers on the configured socket" \
	bash -c "SLUICE_SOCKET=$RL_SOCK '$SLUICE' rollout status >/dev/null"
check "after boot: sluiced runs with the configuration" \
	bash -c "tr '\\0' ' ' </proc/$RL_PID/cmdline | grep -q -- '--config $P/etc/sluice/sluice.yaml --db $RL_DB'"
check "after boot: the same configuration (sluice export)" \
	test "$(lab_sluice export | grep -v '^#')" = "$BEFORE"
spread=$(lab_spread 4 200)
check "after boot: serving (no failed connection)" test "$(echo "$spread" | lab_errors)" = 0 ||
	echo "    spread: $spread"
pct=$(echo "$spread" | lab_canary_pct)
check "after boot: the canary has ~25% again ($pct%)" awk -v p="$pct" 'BEGIN{exit !(p > 10 && p < 40)}'
check "the state database records sluiced's version" \
	test "$(db_version "$RL_DB")" = "$(cat VERSION)"

# an empty SLUICE_DEVICES: the unit attaches and applies nothing, and succeeds
sed -i 's/^SLUICE_DEVICES=.*/SLUICE_DEVICES=""/' "$P/etc/default/sluice"
lab_sluice service del web >/dev/null
check "no devices: the boot unit succeeds" \
	bash -c "nsenter --net=/run/netns/$(lab_ns lb) python3 tests/integration/unit_exec.py '$UNITS/sluice-attach.service' >'$RL_DIR/b2' 2>&1"
check "  ... saying nothing was attached, and applies nothing" \
	bash -c "grep -q 'nothing attached' '$RL_DIR/b2' && ! '$SLUICE' -d '$(lab_pin)' service show web >/dev/null 2>&1"
t_done
