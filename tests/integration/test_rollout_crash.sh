#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time: holds, gates and checks of
# seconds. Under qemu TCG they would cost CI most of its time and judge the
# emulator's speed; the kernel side they use, counters, weight writes and
# the kill switch, is tested in the guest by the datapath and lab tests.)
# sluiced's crash safety and its control socket, against the real datapath
# (scripts/lab.sh, nat mode, real TCP):
#   - kill -9 right after a transition (the new weight is in the maps),
#     during a hold, and during a rollback: the restart resumes where the
#     state was (remaining hold included: it accrues while the daemon is
#     down) and changes no map (snapshots of the live configuration, kill
#     words and exposure before the kill and after the restart)
#   - a state database that is truncated, of an unknown version or with a
#     corrupt state: sluiced refuses to start with a clear message and the
#     maps are untouched; the intact file starts again
#   - more than 20 bad socket requests, each its own code and message
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup rc nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "sluiced starts" rl_start

cat >"$RL_DIR/plan.yaml" <<'EOF'
steps:
  - weight: 5%
    hold: 1s
  - weight: 25%
    hold: 40s
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
    on_inconclusive: extend
EOF
weight() { lab_sluice -j service show web | json 'j["services"][0]["weight"]["default"]'; }
same_maps() {	# BEFORE: the maps now equal the snapshot
	local now
	now=$(rl_snapshot web)
	[ "$1" = "$now" ] || { diff <(echo "$1") <(echo "$now") | head -20; return 1; }
}

echo "== kill -9 right after a transition"
rl_load_start 40 60
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
# Step 1 ends when the canary has 5 samples: about 2 connections a second
# reach it, so the wait is random (2-4 s here, rarely over 6.5 s: CI drew
# one). Poll by the clock, not by a count of polls that each cost a CLI run.
end=$(( $(date +%s) + 30 ))
while [ "$(weight)" != 2500 ] && [ "$(date +%s)" -le "$end" ]; do sleep 0.05; done
rl_kill9
check "the transition to step 2 (25%) was in the maps when sluiced died" [ "$(weight)" = 2500 ]
snap=$(rl_snapshot web)
check "sluiced restarts" rl_start
sleep 2
check "the restart changed no map" same_maps "$snap"
check "resumed at step 2, progressing" [ "$(rl_field web '(r["phase"], r["step"])')" = "('progressing', 1)" ]

echo "== kill -9 during a hold"
left1=$(rl_field web 'r["hold_left_ms"]')
snap=$(rl_snapshot web)
rl_kill9
sleep 3
check "sluiced restarts" rl_start
sleep 1.5	# the first tick accrues the time since the last persisted one
left2=$(rl_field web 'r["hold_left_ms"]')
echo "  hold left before the kill ${left1} ms; 3 s down and 1.5 s up later ${left2} ms"
accrued() { [ $((left1 - left2)) -ge 4000 ] && [ "$left2" -gt 0 ]; }
check "the hold kept accruing while sluiced was down (>= 4 s less left, some left)" accrued
check "the restart changed no map" same_maps "$snap"
check "still progressing at step 2" [ "$(rl_field web '(r["phase"], r["step"])')" = "('progressing', 1)" ]
rl rollout abort web >/dev/null

echo "== kill -9 during a rollback"
lab_sluice service del web >/dev/null
lab_service web 4 >/dev/null
rl_canary_refuse
sed -i 's/hold: 1s/hold: 30s/; s/weight: 5%/weight: 25%/' "$RL_DIR/plan.yaml"
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
for _ in $(seq 300); do
	[ "$(lab_sluice -j service show web | json 'j["services"][0]["revert"]')" != off ] && break
	sleep 0.05
done
rl_kill9
check "the kill switch was set when sluiced died" \
	[ "$(lab_sluice -j service show web | json 'j["services"][0]["revert"]')" != off ]
snap=$(rl_snapshot web)
check "sluiced restarts" rl_start
sleep 2
check "the restart changed no map" same_maps "$snap"
check "the rollout is rolled back, with the reason kept" \
	[ "$(rl_field web 'r["phase"]=="rolled_back" and len(r["end_reason"])>0')" = True ]
rl_load_stop
rl_canary_heal

echo "== a state database sluiced cannot trust: refuse to start, touch nothing"
rl_stop
# through SQLite's backup, not cp: what the WAL still holds comes along
python3 -c "import sqlite3,sys; d=sqlite3.connect(sys.argv[2]); sqlite3.connect(sys.argv[1]).backup(d); d.execute('PRAGMA journal_mode=DELETE'); d.close()" \
	"$RL_DB" "$RL_DIR/good.db"
snap=$(rl_snapshot web)
refuses() {	# WHAT: sluiced exits non-zero with "refusing to start" and the maps stay
	: >"$RL_DIR/refuse.log"
	timeout 10 nsenter --net="/run/netns/$(lab_ns lb)" "$SLUICED" --socket "$RL_SOCK" \
		--db "$RL_DB" --pin-dir "$(lab_pin)" 2>"$RL_DIR/refuse.log"
	local rc=$?
	echo "  sluiced said: $(tail -n 1 "$RL_DIR/refuse.log")"
	[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "refusing to start" "$RL_DIR/refuse.log" &&
		same_maps "$snap"
}
sz=$(stat -c %s "$RL_DIR/good.db")
head -c $((sz / 2)) "$RL_DIR/good.db" >"$RL_DB"; rm -f "$RL_DB-wal" "$RL_DB-shm"
check "a truncated database: refused" refuses
head -c 4096 /dev/urandom >"$RL_DB"
check "a file that is not a database: refused" refuses
edit_db() {	# PYTHON statement on connection c
	cp "$RL_DIR/good.db" "$RL_DB"; rm -f "$RL_DB-wal" "$RL_DB-shm"
	python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); $1; c.commit()" "$RL_DB"
}
edit_db "c.execute(\"UPDATE meta SET value='7' WHERE key='schema'\")"
check "an unknown schema version: refused" refuses
edit_db "import json; s=json.loads(c.execute('SELECT state FROM rollouts').fetchone()[0]); s['version']=99; c.execute('UPDATE rollouts SET state=?', (json.dumps(s),))"
check "a state of unknown version: refused" refuses
edit_db "s=c.execute('SELECT state FROM rollouts').fetchone()[0]; c.execute('UPDATE rollouts SET state=?', (s[:len(s)//2],))"
check "a truncated state: refused" refuses
edit_db "c.execute(\"UPDATE rollouts SET state='{\\\"version\\\": 1, \\\"phase\\\": 42}'\")"
check "a corrupt state: refused" refuses
cp "$RL_DIR/good.db" "$RL_DB"; rm -f "$RL_DB-wal" "$RL_DB-shm"
check "the intact database starts again" rl_start
check "and resumes the rolled-back rollout as it was" [ "$(rl_field web 'r["phase"]')" = rolled_back ]

echo "== bad control requests"
out=$(python3 tests/integration/ctl_bad.py "$RL_SOCK")
echo "$out"
T_CHECKS=$((T_CHECKS + $(grep -c '^  ok:\|^  FAIL:' <<<"$out")))
T_FAILS=$((T_FAILS + $(grep -c '^  FAIL:' <<<"$out")))
check "the socket is mode 0600" [ "$(stat -c %a "$RL_SOCK")" = 600 ]
check "sluiced is still running" kill -0 "$RL_PID"
rl_stop
t_done
