#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time, crashes at chosen points;
# the kernel side it uses is tested in the guest by the datapath and lab
# tests)
# sluiced's durable intents (the outbox), against the real datapath
# (scripts/lab.sh, nat mode, real TCP), with the test hook
# SLUICED_FAILPOINT=WHERE:WHAT (rollouts.c) killing the daemon right before
# or right after the commit of a decision, before anything is carried out:
#   - after the commit of a rollback: the restart sets the kill switch
#     within a tick, and the rollback is notified exactly once, after the
#     commit only
#   - before the commit of a rollback: no notification for the decision
#     that never happened; after the restart exactly one
#   - after the commit of a step's weights, of a promotion, of a cutover:
#     the restart writes them within a tick
#   - an operator's change of the maps while sluiced was down wins: the
#     recorded action is dropped, "superseded" in the audit trail
#   - a command whose commit fails (SLUICED_FAILPOINT=commit-fails:WHAT)
#     is refused and changes nothing: not the status, not the maps, not
#     what the next ticks do, not the audit log (its lines wait for the
#     commit)
#   - a second sluiced on the same database is refused (the holder's pid
#     in the message) and changes nothing
#   - a 0-byte database is refused; a new database and the audit log are
#     created 0600 (WAL and SHM files too)
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup ob nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
NOTES=$RL_DIR/notes.jsonl
# one "ran" line per command run, then the event's JSON
NOTIFY=(--notify-command "echo ran >>$NOTES; cat >>$NOTES; echo >>$NOTES")
: >"$NOTES"

show() { lab_sluice -j service show web | json "(lambda s: $1)(j['services'][0])"; }
weight() { show 's["weight"]["default"]'; }
revert() { show 's["revert"]'; }
ncanary() { show 'len(s["canary"])'; }
notes() { grep -c "\"event\":\"$1\"" "$NOTES"; }
runs() { grep -c "^ran$" "$NOTES"; }
fresh_service() {	# a new service web, healthy canary, no rollout state on the maps
	rl_canary_heal
	lab_sluice service del web >/dev/null
	lab_service web 4 >/dev/null
}
died() {	# SECONDS: the daemon killed itself at its failpoint in time
	local t
	for t in $(seq $(($1 * 20))); do
		kill -0 "$RL_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$RL_PID" 2>/dev/null; then
		rl_kill9	# not at its failpoint in time: none left for the next part
		return 1
	fi
	wait "$RL_PID" 2>/dev/null
	local rc=$?
	RL_PID=
	grep -q "failpoint .*: killed" "$RL_LOG" && [ "$rc" = 137 ]
}
within() {	# SECONDS COMMAND...: COMMAND succeeds within SECONDS
	local secs=$1 t
	shift
	for t in $(seq $((secs * 20))); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
fp_start() { local fp=$1; shift; SLUICED_FAILPOINT=$fp rl_start "$@"; }	# WHERE:WHAT [OPTS]
refused() { [ "$1" != 0 ] && [ "$1" != 124 ]; }	# EXIT-STATUS: an exit, not the timeout
is() { [ "$($1)" = "$2" ]; }	# 'FUNCTION [ARG]' VALUE
isnt() { [ "$($1)" != "$2" ]; }

cat >"$RL_DIR/fail.yaml" <<'EOF'
steps:
  - weight: 5%
    hold: 30s
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
EOF

echo "== crash after the commit of a rollback, before the kill switch"
rl_canary_refuse
rl_load_start 300 600
check "sluiced starts (failpoint after-commit:revert)" \
	fp_start after-commit:revert "${NOTIFY[@]}"
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "sluiced died at the failpoint (the rollback committed, not carried out)" died 30
sleep 0.5
check "the kill switch is still off after the crash" is revert off
check "the weight is still 5%" is weight 500
check "no notification went out (sent only after the commit, with the actions)" is runs 0
check "sluiced restarts" rl_start "${NOTIFY[@]}"
check "the status says rolled_back" [ "$(rl_field web 'r["phase"]')" = rolled_back ]
check "the kill switch is set within a tick of the restart" within 2 isnt revert off
sleep 1
check "the rollback was notified exactly once" [ "$(notes rollback)/$(runs)" = 1/1 ]
rl_stop

echo "== crash before the commit of a rollback: no notification of it"
fresh_service
rl_canary_refuse
: >"$NOTES"
check "sluiced starts (failpoint before-commit:notify)" \
	fp_start before-commit:notify "${NOTIFY[@]}"
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "sluiced died at the failpoint (the rollback not committed)" died 30
sleep 1
check "no notification for the uncommitted rollback" is runs 0
check "sluiced restarts" rl_start "${NOTIFY[@]}"
check "the rollback is decided again and carried out" within 20 isnt revert off
sleep 1
check "the rollback was notified exactly once" [ "$(notes rollback)/$(runs)" = 1/1 ]
rl_stop
rl_load_stop

echo "== crash after the commit of a step's weights"
fresh_service
rl_load_start 100 600	# healthy: the gates pass
cat >"$RL_DIR/steps.yaml" <<'EOF'
steps:
  - weight: 5%
    hold: 3s
  - weight: 25%
    hold: 60s
  - cutover: green
    hold: 60s
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
EOF
check "sluiced starts" rl_start
rl rollout start web -f "$RL_DIR/steps.yaml" >/dev/null
check "the start's weights are written as the start returns, by the start itself" is weight 500
check "the start's intents find their rollout (none dropped)" \
	sh -c "! grep -q 'names no rollout' '$RL_LOG'"
rl_stop
check "sluiced starts (failpoint after-commit:weights)" \
	fp_start after-commit:weights
check "sluiced died at the failpoint (step 2 committed, not written)" died 10
check "the weight is still 5% after the crash" is weight 500
check "sluiced restarts" rl_start
check "the weight of step 2 (25%) is written within a tick of the restart" within 2 is weight 2500

echo "== crash after the commit of a cutover"
rl_stop
check "sluiced starts (failpoint after-commit:cutover)" \
	fp_start after-commit:cutover
rl rollout promote web >/dev/null	# ends step 2's hold: the cutover step
check "sluiced died at the failpoint (the cutover committed, not carried out)" died 10
check "the weight is still 25% after the crash" is weight 2500
check "sluiced restarts" rl_start
check "the cutover (100%, last-known-good baseline) is in the maps within a tick" \
	within 2 is weight 10000
check "the last-known-good is the baseline (blue)" [ "$(show 's["last_known_good"]')" = baseline ]

echo "== crash after the commit of a promotion"
rl rollout abort web >/dev/null
rl_stop
fresh_service
cat >"$RL_DIR/promote.yaml" <<'EOF'
steps:
  - weight: 5%
    hold: 2s
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
    on_inconclusive: extend
EOF
check "sluiced starts (failpoint after-commit:promote)" \
	fp_start after-commit:promote
rl rollout start web -f "$RL_DIR/promote.yaml" >/dev/null
# the load is slow on a busy machine: the step waits for its samples
check "sluiced died at the failpoint (the promotion committed, not carried out)" died 40
check "the weight is still 5% and the canary pool unchanged after the crash" \
	[ "$(weight)/$(ncanary)" = 500/2 ]
check "sluiced restarts" rl_start
check "the status says promoted" [ "$(rl_field web 'r["phase"]')" = promoted ]
check "the promotion is in the maps within a tick (canary pool emptied)" within 2 is ncanary 0
check "weight 0, the old canary is the baseline" \
	[ "$(weight)/$(show 'len(s["baseline"])')/$(show 's["last_known_good"]')" = 0/2/baseline ]
rl_stop

echo "== the operator's change while sluiced was down wins over a recorded action"
rl_load_stop
fresh_service
rl_canary_refuse
rl_load_start 300 600
check "sluiced starts (failpoint after-commit:revert)" \
	fp_start after-commit:revert
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
check "sluiced died at the failpoint" died 30
lab_sluice weight web 0% >/dev/null
check "sluiced restarts" rl_start
sleep 1.5
check "the kill switch stays off (the operator's weight 0 wins)" is revert off
check "the weight stays the operator's 0%" is weight 0
check "the audit trail says the rollback's kill switch was superseded by the operator" \
	grep -q 'superseded by the operator' "$RL_AUDIT"
rl_load_stop
rl_canary_heal

echo "== a command whose commit fails changes nothing"
rl_stop
fresh_service
check "sluiced starts (failpoint commit-fails:revert)" fp_start commit-fails:revert
rl rollout start web -f "$RL_DIR/fail.yaml" >/dev/null
rid=$(rl_field web 'r["rollout_id"]')
out=$(rl rollout abort web 2>&1)
rc=$?
echo "  the abort said: $out"
check "the abort whose commit failed is refused" refused "$rc"
check "saying nothing changed" grep -q "nothing changed" <<<"$out"
check "the audit log (JSON lines) has no abort of rollout $rid: it did not happen" \
	eval '! grep "\"type\":\"abort\"" "$RL_AUDIT" | grep -q "\"rollout_id\":$rid[,}]"'
check "it says the decision was not stored" \
	eval 'grep "\"rollout_id\":$rid[,}]" "$RL_AUDIT" | grep -q "not stored"'
phase() { rl_field web 'r["phase"]'; }
check "the rollout still progresses ($(phase))" is phase progressing
check "the maps were not reverted" is revert off
sleep 1.5	# ticks act on the committed state, not on the refused abort's
check "a tick later: still progressing, kill switch off, weight 5%" \
	eval 'is phase progressing && is revert off && is weight 500'
check "a command without actions commits (pause)" rl rollout pause web
check "paused" is phase paused
rl_stop
check "sluiced restarts" rl_start
check "the database says paused too" is phase paused
rl rollout abort web >/dev/null

echo "== a second sluiced on the same database"
snap=$(rl_snapshot web)
sum=$(sqlite3 "$RL_DB" 'SELECT count(*) FROM events' 2>/dev/null || echo "?")
nsenter --net="/run/netns/$(lab_ns lb)" timeout 10 "$SLUICED" --socket "$RL_DIR/other.sock" \
	--db "$RL_DB" --pin-dir "$(lab_pin)" --metrics off >"$RL_DIR/second.log" 2>&1
rc=$?
echo "  the second said: $(tail -n 1 "$RL_DIR/second.log")"
check "the second sluiced exits non-zero at once" refused "$rc"
check "its message names the holder's pid" grep -q "pid $RL_PID" "$RL_DIR/second.log"
check "it created no control socket" [ ! -e "$RL_DIR/other.sock" ]
check "the maps are unchanged" [ "$snap" = "$(rl_snapshot web)" ]
check "the first one still answers" rl rollout status web >/dev/null
rl_stop
check "the database is intact" [ "$sum" = "$(sqlite3 "$RL_DB" 'SELECT count(*) FROM events' 2>/dev/null || echo "?")" ]

echo "== an empty database file; the modes of new files"
mv "$RL_DB" "$RL_DIR/keep.db"
rm -f "$RL_DB-wal" "$RL_DB-shm"
: >"$RL_DB"
nsenter --net="/run/netns/$(lab_ns lb)" timeout 10 "$SLUICED" --socket "$RL_SOCK" \
	--db "$RL_DB" --pin-dir "$(lab_pin)" --metrics off >"$RL_DIR/empty.log" 2>&1
rc=$?
echo "  sluiced said: $(tail -n 1 "$RL_DIR/empty.log")"
check "a 0-byte database is refused" refused "$rc"
check "with a message saying it is empty" grep -q "empty" "$RL_DIR/empty.log"
check "and the file is left as it was (0 bytes)" [ "$(stat -c %s "$RL_DB")" = 0 ]
rm -f "$RL_DB" "$RL_AUDIT"
umask 022
check "sluiced starts on a new database (umask 022)" rl_start
sleep 0.5
mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
check "the new database is 0600" [ "$(mode "$RL_DB")" = 600 ]
check "its WAL is 0600" [ "$(mode "$RL_DB-wal")" = 600 ]
check "its SHM is 0600" [ "$(mode "$RL_DB-shm")" = 600 ]
check "the audit log is 0600" [ "$(mode "$RL_AUDIT")" = 600 ]
rl_stop
t_done
