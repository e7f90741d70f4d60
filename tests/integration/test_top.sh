#!/usr/bin/env bash
# sluice-test: host-only (sluiced, Prometheus, wrk and tmux in real time: under
# qemu TCG they would judge the emulator's speed and cost CI most of its
# time; their kernel side is tested in the guest by the datapath and lab tests.)
# sluice top in tmux (its own server socket) against a live rollout in the
# lab (nat mode under XDP, real TCP, sluiced): the captured screen shows the
# service, its phase and step, the weight of the step and the gate's
# verdict with values; the key p pauses the rollout (sluiced's status says
# so); a with n does not abort; with sluiced stopped the screen says the
# daemon is down and still shows the map's weights. Bounds are generous.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup tp tmux
TM="tmux -L sluicetop$$"
cleanup() { $TM kill-server 2>/dev/null; rl_cleanup; }
trap cleanup EXIT

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "sluiced starts" rl_start
cat >"$RL_DIR/plan.yaml" <<'PLAN'
steps:
  - weight: 10%
    hold: 120s
  - weight: 50%
    hold: 120s
gates:
  - name: errors
    metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
    on_inconclusive: extend
PLAN
rl_load_start 100 60
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
check "rollout progressing" rl_wait 10 'r["phase"]=="progressing"' web

$TM new-session -d -x 160 -y 48 \
	"SLUICE_SOCKET=$RL_SOCK nsenter --net=/run/netns/$(lab_ns lb) $SLUICE --pin-dir $(lab_pin) top -d 0.5"
screen_has() {	# SECONDS REGEX...: every regex on the screen within SECONDS
	local end=$(( $(date +%s) + $1 )) re ok; shift
	while [ "$(date +%s)" -le "$end" ]; do
		$TM capture-pane -p >"$RL_DIR/screen.txt" 2>/dev/null
		ok=1
		for re in "$@"; do grep -Eq -- "$re" "$RL_DIR/screen.txt" || ok=0; done
		[ $ok = 1 ] && return 0
		sleep 0.3
	done
	return 1
}
check "screen: service web, progressing, step 1/2 with its hold bar" \
	screen_has 15 '^web +progressing +step 1/2 \[#*\.*\]'
check "screen: the weight of the step (10.00%) and per-variant rates" \
	screen_has 10 'weights: default 10\.00%' 'canary .*flows/s +errors' 'baseline .*flows/s'
check "screen: the gate's verdict with values" \
	screen_has 15 'gate errors +error_ratio +(pass|inconclusive) +canary [0-9.e-]+ baseline'
sed 's/^/    | /' "$RL_DIR/screen.txt" | head -24

$TM send-keys p
check "key p pauses the rollout" rl_wait 10 'r["phase"]=="paused"' web
check "screen: paused, and the pause in the last events" screen_has 10 '^web +paused' 'pause +paused'
$TM send-keys a
check "key a asks for a confirmation" screen_has 5 'abort web .*\? y/n'
$TM send-keys n
check "n cancels: still paused" screen_has 5 'abort cancelled'
check "  (sluiced agrees)" [ "$(rl_field web 'r["phase"]')" = paused ]
rl_load_stop
rl_stop
check "sluiced stopped: the screen says so and shows the maps' weights" \
	screen_has 10 'sluiced is not running' 'weights: default 10\.00%'
$TM send-keys q
t_done
