#!/usr/bin/env bash
# sluice-test: host-only (sluiced's HTTP listener on loopback; the maps are
# only read, nothing is attached)
# sluiced reads its maps for /metrics when it is scraped, not every second
# whether anyone scrapes or not (issue 20: CPU at 1,000 rollouts):
# - no scrape for 3 s: the next scrape's snapshot is at most one newer than
#   the last one seen;
# - two scrapes within a second share one snapshot;
# - a scrape a second after a change shows it (a service added);
# - while the status page is polled, its document is rebuilt every second.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
SLUICE=${SLUICE_BIN:-$PWD/build/sluice}
SLUICED=${SLUICED_BIN:-$PWD/build/sluiced}
need_root
[ -x "$SLUICED" ] || skip "build/sluiced is missing: run make"
command -v curl >/dev/null || skip "needs curl"

PORT=$((19900 + $$ % 90))
PIN=/sys/fs/bpf/sluice-mod-$$
D=$(mktemp -d /tmp/sl-mod-XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	"$SLUICE" -d "$PIN" destroy >/dev/null 2>&1 || rm -rf "$PIN"
	rm -rf "$D"
	return 0
}
trap cleanup EXIT

svc() {	# svc N: one service's YAML
	cat <<EOF
  - name: svc$1
    vip: 10.253.0.$1
    port: 80
    protocol: tcp
    mode: nat
    table_size: 251
    baseline: [{address: 10.254.0.$1}]
    canary: [{address: 10.254.1.$1}]
EOF
}
{ echo services:; svc 1; svc 2; } >"$D/two.yaml"
{ echo services:; svc 1; svc 2; svc 3; } >"$D/three.yaml"

scrape() { curl -s -m 5 "http://127.0.0.1:$PORT/metrics"; }
builds() { scrape | awk '$1 == "sluiced_metrics_snapshots_total" {print $2}'; }

check "sluice apply of two services" "$SLUICE" -d "$PIN" apply -f "$D/two.yaml"
"$SLUICED" --socket "$D/ctl.sock" --db "$D/state.db" --pin-dir "$PIN" \
	--audit-log "$D/audit.jsonl" --metrics "127.0.0.1:$PORT" >>"$D/log" 2>&1 &
PID=$!
up=
for _ in $(seq 100); do
	[ -n "$(builds)" ] && { up=1; break; }
	sleep 0.05
done
check "sluiced answers /metrics with sluiced_metrics_snapshots_total" test -n "$up"
b0=$(builds)
sleep 3
b1=$(builds)
echo "    snapshots: $b0, then $b1 after 3 s without a scrape"
check "no scrape for 3 s: one snapshot more at most (the scrape's own)" \
	test "$b1" -le $((b0 + 1))
b2=$(builds)
check "a scrape right after: the same snapshot ($b1 -> $b2)" test "$b2" = "$b1"

check "a third service added" "$SLUICE" -d "$PIN" apply -f "$D/three.yaml"
sleep 1.1
check "a scrape a second later shows it" grep -q 'service="svc3"' <(scrape)

before=$(builds)
curl -s -o /dev/null -m 5 "http://127.0.0.1:$PORT/api/status"
ok=
for _ in $(seq 40); do
	curl -sf -o "$D/status.json" -m 5 "http://127.0.0.1:$PORT/api/status" && { ok=1; break; }
	sleep 0.1
done
check "/api/status answers within 4 s of the first ask" test -n "$ok"
check "  ... naming svc3" grep -q '"svc3"' "$D/status.json"
sleep 3
after=$(builds)
echo "    snapshots: $before, then $after after 3 s of the status page"
check "the status page polled: a snapshot every second ($before -> $after)" \
	test "$after" -ge $((before + 2))
check "sluiced still runs" kill -0 "$PID"
t_done
