#!/usr/bin/env bash
# sluice-test: host-only (sluiced, Prometheus, wrk and tmux in real time: under
# qemu TCG they would judge the emulator's speed and cost CI most of its
# time; their kernel side is tested in the guest by the datapath and lab tests.)
# The demo as CI runs it: scripts/demo.sh --short (lab, HTTP backends, wrk,
# Prometheus, sluiced) must exit 0 and report each part OK: the healthy
# canary promoted, the faulty canary rolled back by a gate with its numbers,
# the blue-green cutover reverted by the kill switch, the freeze holding a
# rollout; a report SVG per part that parses; the status page's address
# printed (and its forwarder gone afterwards).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
[ -x build/sluiced ] || skip "build/sluiced is not built"
for t in wrk prometheus curl nft; do command -v $t >/dev/null || skip "needs $t (scripts/deps.sh)"; done
OUT=$(mktemp -d /tmp/sluice-demo-test.$$.XXXX)
trap 'rm -rf "$OUT"' EXIT
PAGE_PORT=$((20000 + $$ % 20000))
SLUICE_DEMO_NODEPS=1 SLUICE_DEMO_OUT=$OUT SLUICE_DEMO_LOGS=$OUT SLUICE_DEMO_PAGE_PORT=$PAGE_PORT timeout 300 \
	scripts/demo.sh --short >"$OUT/log" 2>&1
rc=$?
sed 's/^/    | /' "$OUT/log" | tail -40
# a failed run: what sluiced said (demo.sh keeps its log here)
[ $rc = 0 ] || sed 's/^/    sluiced| /' "$OUT/sluiced.log" 2>/dev/null | tail -30
check "demo.sh --short exits 0" [ $rc = 0 ]
for p in 1 2 3a 3b; do
	check "part $p OK" grep -q "^  part $p: OK" "$OUT/log"
	check "part $p: report SVG parses" python3 -c "import xml.etree.ElementTree as E,sys; E.parse(sys.argv[1])" "$OUT/part$p.svg"
done
check "part 3a says who reverted once (not 'by the operator the operator reverted')" \
	grep -q "sluiced: rolled_back: the operator reverted (kill switch on the maps)" "$OUT/log"
check "part 2 printed the failing gate's numbers" grep -Eq "gate [0-9] failed: canary [0-9.]+ vs baseline" "$OUT/log"
check "printed the status page's address (forwarded to this host)" \
	grep -q "status page: http://127.0.0.1:$PAGE_PORT/ " "$OUT/log"
check "  and its forwarder is gone" \
	[ "$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PAGE_PORT/")" = 000 ]
check "nothing of the lab is left (namespaces sl-demo*)" bash -c "! ip netns list | grep -q '^sl-demo'"
t_done
