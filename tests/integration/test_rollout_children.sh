#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time with commands of minutes;
# nothing here is about the kernel side)
# sluiced leaves no command behind (issue 19). Command gates and the
# pre-step hook run as `sh -c` children of sluiced; the commands here are
# a copy of sleep named after this test's directory (MARK), run as
# `MARK 300; true` so the shell stays as the group leader and the sleep
# is its child (a grandchild of sluiced), the hard case:
#   - `rollout abort` while a command gate and its baseline twin run: no
#     MARK process remains a few seconds later, no zombie child of sluiced
#   - the engine rolling back (another gate fails) while the slow gate
#     runs: the same
#   - `rollout promote --full` while the gate runs: the same
#   - `rollout abort` while the pre-step hook runs: the same
#   - SIGTERM to sluiced with gates and a hook running (no HTTP listener,
#     -m off): sluiced exits 0 and no MARK process remains
#   - kill -9 of sluiced: its direct children (the shells) die with it
#     (PR_SET_PDEATHSIG); their own children are out of its reach (the
#     documented limit: systemd's control group stop handles those)
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup ch

MARK=
cleanup() {
	# whatever this test's commands left (found by their unique path)
	[ -n "$MARK" ] && marks | xargs -r kill -9 2>/dev/null
	rl_cleanup
}
trap cleanup EXIT
MARK=$RL_DIR/gatesleep
HOOK=$RL_DIR/hooksleep
ln -s "$(command -v sleep)" "$MARK"
ln -s "$(command -v sleep)" "$HOOK"

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "sluiced starts (-m off)" rl_start -m off

marks() { pgrep -f "$RL_DIR/(gate|hook)sleep"; }
nmarks() { marks | wc -l; }
# wait_marks SECONDS COND: poll until [ "$(nmarks)" COND ] holds
wait_marks() {
	local end=$(( $(date +%s) + $1 ))
	while [ "$(date +%s)" -le "$end" ]; do
		# shellcheck disable=SC2086
		[ "$(nmarks)" $2 ] && return 0
		sleep 0.2
	done
	return 1
}
zombies() { ps -o stat= --ppid "$RL_PID" 2>/dev/null | grep -c '^Z'; }
no_zombies() {
	local end=$(( $(date +%s) + 5 ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(zombies)" = 0 ] && return 0
		sleep 0.2
	done
	ps -o pid=,stat=,args= --ppid "$RL_PID"
	return 1
}
# gone WHAT: no command of this test runs within 5 s, none is a zombie
gone() {
	if wait_marks 5 "-eq 0"; then
		ok "$1: no command of the rollout runs"
	else
		fail "$1: $(nmarks) commands still run: $(marks | tr '\n' ' ')"
	fi
	check "$1: sluiced has no zombie child" no_zombies
}

gate_plan() {	# FILE [EXTRA-GATE-LINES]
	cat >"$1" <<EOF
steps:
  - weight: 25%
    hold: 300s
gates:
  - name: slow
    metric: command
    command: '$MARK 300; true'
    result: value
    max_increase: 50%
    timeout: 10m
    interval: 1s
${2:-}
EOF
}
hook_plan() {
	cat >"$1" <<EOF
steps:
  - weight: 25%
    hold: 300s
gates:
  - name: ok
    metric: command
    command: 'true'
pre_step_hook: '$HOOK 300; true'
pre_step_timeout: 10m
EOF
}
# start PLAN N: a fresh service web (a promotion swaps its pools) and a
# rollout of PLAN, then N or more commands running (what an earlier
# check found left over is killed here, so each check stands alone)
start() {
	rl rollout abort web >/dev/null 2>&1
	wait_marks 5 "-eq 0" || marks | xargs -r kill -9 2>/dev/null
	lab_sluice service del web >/dev/null 2>&1
	lab_service web 4 >/dev/null
	rl rollout start web -f "$1" >/dev/null
	wait_marks 15 "-ge $2"
}

echo "== rollout abort with a gate running"
gate_plan "$RL_DIR/gate.yaml"
# canary and baseline: a shell and its sleep each
check "the gate's commands run (canary and baseline)" start "$RL_DIR/gate.yaml" 4
rl rollout abort web >/dev/null
gone "abort"

echo "== a rollback by the engine with a gate running"
gate_plan "$RL_DIR/fail.yaml" "  - name: bad
    metric: command
    command: 'exit 1'
    interval: 1s"
check "the gates run" start "$RL_DIR/fail.yaml" 4
check "the rollout is rolled back" rl_wait 20 'r["phase"]=="rolled_back"' web
echo "  $(rl_field web '(r["phase"], r.get("end_reason"), r.get("status"))')"
gone "rollback"

echo "== rollout promote --full with a gate running"
check "the gate runs" start "$RL_DIR/gate.yaml" 4
rl rollout promote web --full >/dev/null
check "the rollout is promoted" rl_wait 10 'r["phase"]=="promoted"' web
gone "promote"

echo "== rollout abort with the pre-step hook running"
hook_plan "$RL_DIR/hook.yaml"
check "the hook runs" start "$RL_DIR/hook.yaml" 2
rl rollout abort web >/dev/null
gone "hook abort"

echo "== SIGTERM with a gate running"
check "the gate runs" start "$RL_DIR/gate.yaml" 4
pid=$RL_PID
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
RL_PID=
check "sluiced exited 0 on SIGTERM (status $rc)" [ "$rc" = 0 ]
if wait_marks 5 "-eq 0"; then ok "SIGTERM: no command of the rollout runs"
else fail "SIGTERM: $(nmarks) commands still run: $(marks | tr '\n' ' ')"; fi

echo "== SIGTERM with the pre-step hook running"
check "sluiced starts again (-m off)" rl_start -m off
check "the hook runs" start "$RL_DIR/hook.yaml" 2
pid=$RL_PID
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
RL_PID=
check "sluiced exited 0 on SIGTERM (status $rc)" [ "$rc" = 0 ]
if wait_marks 5 "-eq 0"; then ok "SIGTERM: no hook runs"
else fail "SIGTERM: $(nmarks) hook processes still run: $(marks | tr '\n' ' ')"; fi

echo "== kill -9 of sluiced: its direct children die with it"
check "sluiced starts again (-m off)" rl_start -m off
check "the gate runs" start "$RL_DIR/gate.yaml" 4
shells() { pgrep -f "^/bin/sh -c $MARK" | wc -l; }
echo "  before: $(shells) shells"
rl_kill9
end=$(( $(date +%s) + 5 ))
while [ "$(shells)" != 0 ] && [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
check "kill -9: the gate's shells are gone (PR_SET_PDEATHSIG)" [ "$(shells)" = 0 ]
echo "  left to the service manager (the documented limit): $(nmarks) grandchildren"
marks | xargs -r kill -9 2>/dev/null

t_done
