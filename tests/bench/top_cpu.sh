#!/usr/bin/env bash
# CPU used by `sluice top` refreshing once a second against a live rollout
# (lab, nat mode under XDP, sluiced, paced load of ~100 new flows/s), in
# tmux, over SECONDS (default 30): utime+stime of the top process from
# /proc, as % of one core. Usage: tests/bench/top_cpu.sh [SECONDS]
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source scripts/lab.sh
source tests/integration/rollout_lib.sh
need_root
SECS=${1:-30}
LAB_TAG=tc$$
TM="tmux -L topcpu$$"
rl_init
trap '$TM kill-server 2>/dev/null; rl_cleanup' EXIT
lab_up xdp nat >/dev/null && lab_service web 4 >/dev/null && rl_start || { echo "setup failed" >&2; exit 1; }
printf 'steps:\n  - weight: 10%%\n    hold: 10m\ngates:\n  - metric: error_ratio\n    max_increase: 50%%\n    min_samples: 5\n    on_inconclusive: extend\n' >"$RL_DIR/plan.yaml"
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
rl_load_start 100 $((SECS + 10))
$TM new-session -d -x 160 -y 48 \
	"SLUICE_SOCKET=$RL_SOCK exec nsenter --net=/run/netns/$(lab_ns lb) $SLUICE --pin-dir $(lab_pin) top -d 1"
sleep 2
pid=$(for p in $(pgrep -f -- "--pin-dir $(lab_pin) top -d 1"); do [ "$(cat /proc/$p/comm)" = sluice ] && echo $p; done | head -1)
[ -n "$pid" ] || { echo "sluice top did not start" >&2; exit 1; }
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu "$pid"); t0=$(date +%s.%N)
sleep "$SECS"
c1=$(cpu "$pid"); t1=$(date +%s.%N)
python3 -c "
c = ($c1 - $c0) / $tick; t = $t1 - $t0
print('sluice top -d 1: %.2f s CPU over %.1f s = %.2f %% of a core' % (c, t, 100 * c / t))"
