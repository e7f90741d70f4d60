#!/usr/bin/env bash
# sluice-test: host-only (sluiced in real time: holds of seconds; the kernel
# side, weight writes, is the lab's, tested in the guest)
# Rollouts run on elapsed time, not on the wall clock. sluiced runs under
# libfaketime (Debian's faketime package; its monotonic clocks left alone),
# whose offset the test steps while a hold runs:
#   - the wall clock steps back an hour mid-hold: ticks go on and the hold
#     ends after its elapsed time (the next step's weight in the maps)
#   - the wall clock steps forward an hour mid-hold: the hold does not end
#     early; it too ends after its elapsed time
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -f "$FAKETIME_LIB" ] || skip "needs libfaketime (scripts/deps.sh installs faketime)"
rl_setup ck

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
cat >"$RL_DIR/plan.yaml" <<'P'
steps:
  - weight: 5%
    hold: 4s
  - weight: 25%
    hold: 1h
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 1
    on_inconclusive: extend
P
OFFSET=$RL_DIR/faketime
echo "+0" >"$OFFSET"
export LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$OFFSET FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1
check "sluiced starts under libfaketime" rl_start
unset LD_PRELOAD FAKETIME_TIMESTAMP_FILE FAKETIME_NO_CACHE FAKETIME_DONT_FAKE_MONOTONIC
weight() { lab_sluice -j service show web | json 'j["services"][0]["weight"]["default"]'; }
# wait_weight W SECONDS: the maps show weight W within SECONDS
wait_weight() {
	local end=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(weight)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

echo "== the wall clock steps back an hour mid-hold"
rl_load_start 40 60	# the gate's samples
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
check "step 1: 5% in the maps" wait_weight 500 5
sleep 1
echo "-1h" >"$OFFSET"
t0=$(date +%s.%N)
check "the hold of 4 s ends within 10 s of the step: 25% in the maps" wait_weight 2500 10
echo "  (25% after $(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s)"
check "the rollout is at step 2, progressing" \
	[ "$(rl_field web '(r["phase"], r["step"])')" = "('progressing', 1)" ]

echo "== the wall clock steps forward an hour mid-hold"
rl rollout abort web >/dev/null
rl rollout retry web >/dev/null
check "retry: step 1, 5% in the maps" wait_weight 500 5
sleep 1
echo "+0" >"$OFFSET"	# from -1h: an hour forward
sleep 1
check "1 s after the step forward the hold goes on: still 5%" [ "$(weight)" = 500 ]
check "and the rollout still holds step 1" \
	[ "$(rl_field web '(r["phase"], r["step"], r["hold_left_ms"] > 0)')" = "('progressing', 0, True)" ]
check "the hold ends after its elapsed time: 25% within 10 s" wait_weight 2500 10
rl_stop
t_done
