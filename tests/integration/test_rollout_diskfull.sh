#!/usr/bin/env bash
# sluice-test: host-only (the daemon in real time, a tmpfs mount)
# A round whose state cannot be committed (the state database's
# filesystem is full): sluiced stops through its loop, cleanly (control
# socket removed, exit status 1), and acts on nothing decided in that
# round: the step transition it could not persist never reaches the maps.
# It used to exit(1) inside the tick, skipping the shutdown.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup df nft
FS=
df_cleanup() {
	[ -n "$RL_PID" ] && kill -9 "$RL_PID" 2>/dev/null && wait "$RL_PID" 2>/dev/null
	RL_PID=
	[ -n "$FS" ] && umount "$FS" 2>/dev/null
	rl_cleanup
}
trap df_cleanup EXIT

FS=$RL_DIR/fs
mkdir -p "$FS"
mount -t tmpfs -o size=2m,mode=0700 sluice-df "$FS" || skip "cannot mount a tmpfs"
RL_DB=$FS/state.db

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "sluiced starts with its database on a 2 MiB tmpfs" rl_start

cat >"$RL_DIR/plan.yaml" <<'EOF'
steps:
  - weight: 5%
    hold: 3s
  - weight: 25%
    hold: 1h
gates:
  - metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
    on_inconclusive: extend
EOF
weight() { lab_sluice -j service show web | json 'j["services"][0]["weight"]["default"]'; }
rl_load_start 40 60
check "the rollout starts" rl rollout start web -f "$RL_DIR/plan.yaml"
for _ in $(seq 100); do [ "$(weight)" = 500 ] && break; sleep 0.05; done
check "step 1 (5%) is in the maps" [ "$(weight)" = 500 ]

# fill the filesystem: the next commit (the transition to 25 %, at the
# latest) cannot extend the write-ahead log
dd if=/dev/zero of="$FS/fill" bs=4k >/dev/null 2>&1
pid=$RL_PID
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "sluiced stopped within 10 s of the full filesystem" gone
gone || kill -9 "$pid"
wait "$pid" 2>/dev/null
rc=$?
RL_PID=
check "exit status 1 (got $rc)" [ "$rc" = 1 ]
check "the log says the state could not be persisted" grep -q "cannot persist the rollouts' state" "$RL_LOG"
check "a clean shutdown: the control socket was removed" [ ! -e "$RL_SOCK" ]
check "nothing of the uncommitted round was acted on: still 5%" [ "$(weight)" = 500 ]

rl_load_stop
rm -f "$FS/fill"
check "sluiced starts again once there is room" rl_start
check "the rollout resumes from the last committed state (step 1)" \
	[ "$(rl_field web 'r["step"]')" = 0 ]
t_done
