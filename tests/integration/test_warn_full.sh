#!/usr/bin/env bash
# sluice-test: host-only (sluiced, Prometheus, wrk and tmux in real time: under
# qemu TCG they would judge the emulator's speed and cost CI most of its
# time; their kernel side is tested in the guest by the datapath and lab tests.)
# sluice rollout status warns about a canary sitting at 100 % longer than a
# configured time without promotion (--warn-full, $SLUICE_WARN_FULL), and
# not before; a bad duration is refused. Real sluiced in the lab.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup wf
lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "sluiced starts" rl_start
printf 'steps:\n  - weight: 100%%\n    hold: 10m\ngates:\n  - metric: error_ratio\n    max_increase: 50%%\n    min_samples: 5\n    on_inconclusive: extend\n' >"$RL_DIR/plan.yaml"
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
check "progressing at 100 %" rl_wait 10 'r["phase"]=="progressing" and r["weight"][0]==10000' web
sleep 2.2
w=$(rl rollout status web --warn-full 1s 2>&1 >/dev/null)
check "warned after 2 s over a 1 s limit ($w)" grep -q "Warning: web: the canary has been at 100% for [0-9]* s without promotion" <<<"$w"
w=$(SLUICE_WARN_FULL=1h rl rollout status web 2>&1 >/dev/null)
check "no warning under a 1 h limit" [ -z "$w" ]
# a step event younger than a second: the CLI's clock reads the step's own
# second, before its milliseconds (as right after the cutover step; under
# faketime so that it happens every time, not one run in a few)
at=$(rl -j rollout history web | json '[e["at_ms"] for e in j["events"] if e["type"]=="step"][-1]')
if command -v faketime >/dev/null && [ "$((at % 1000))" != 0 ]; then
	w=$(TZ=UTC SLUICE_SOCKET=$RL_SOCK faketime "$(date -u -d "@$((at / 1000))" '+%Y-%m-%d %H:%M:%S')" \
		build/sluice rollout status web --warn-full 1h 2>&1 >/dev/null)
	check "no warning for a step event younger than a second ($w)" [ -z "$w" ]
else
	echo "  note: faketime missing (or the step event on a whole second): the young step event is not checked"
fi
w=$(rl rollout status web --warn-full soon 2>&1)
check "a bad duration is refused ($w)" grep -q "'soon' is not a duration" <<<"$w"
t_done
