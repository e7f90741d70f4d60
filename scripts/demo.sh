#!/usr/bin/env bash
# The sluice demo lab: a load-balancer node in network namespaces with a
# client and four backends (two baseline, two canary). It ramps a canary
# 0% -> 1% -> 5% -> 25% -> 50% -> 100% with real TCP traffic at each step,
# shows where connections landed and the per-variant counters, then pulls
# the kill switch. Everything is removed at exit.
set -u
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "Error: run as root (BPF, namespaces)" >&2; exit 1; }
scripts/deps.sh || exit 1
make -j"$(nproc)" >build.log 2>&1 || { tail -n 30 build.log; exit 1; }
MODE=${1:-xdp}
LAB_TAG=demo$$
source scripts/lab.sh
trap lab_down EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show_spread() {
	lab_spread 4 "$1" | python3 -c '
import json, sys
j = json.load(sys.stdin); c = j["counts"]; n = sum(c.values()) or 1
base = c.get("b1", 0) + c.get("b2", 0); can = c.get("b3", 0) + c.get("b4", 0)
print("  %d connections: baseline %d (b1 %d, b2 %d), canary %d (b3 %d, b4 %d) = %.1f%% canary, %d errors"
      % (n, base, c.get("b1", 0), c.get("b2", 0), can, c.get("b3", 0), c.get("b4", 0),
         100.0 * can / n, j["errors"]))'
}

say "Building the lab (sluice attached to lb0 in $MODE mode)"
lab_up "$MODE" || exit 1
lab_service web 4 connection >/dev/null || exit 1
lab_sluice service show web

say "Deploy is not release: the canary pool exists and gets nothing at 0%"
show_spread 200
for w in 1% 5% 25% 50% 100%; do
	say "Ramp: sluice weight web $w"
	lab_sluice weight web "$w"
	show_spread 400
done

say "Incident: the kill switch sends every new flow to last-known-good"
lab_sluice revert web
lab_sluice revert web
show_spread 200

say "Counters per service, variant and ring"
lab_sluice stats web
