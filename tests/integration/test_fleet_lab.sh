#!/usr/bin/env bash
# sluice-test: host-only (three sluiced in real time against a real etcd:
# leases of seconds, holds of seconds; under qemu TCG they would judge the
# emulator's speed. The datapath they drive is tested in the guest by the
# lab tests.)
# Fleet mode: three LB nodes (namespaces, XDP, DSR) behind an ECMP router,
# real TCP clients and backends, each node's sluiced watching a real etcd
# (Debian's etcd-server, in its own namespace and data dir):
#   - a service's configuration written to etcd (sluice apply -f --fleet)
#     reaches every node's maps, a backend added too; a bad file is refused
#     (file:line, nothing written); a bad config key changes no map and is
#     named in status; deleting the key deletes the service everywhere
#   - a weight written to etcd reaches every node's maps
#   - the same flows pick the same backends through any node; connections
#     that ECMP moves to another node mid-connection keep their backend
#   - one rollout driven through etcd (sluice rollout start --fleet): every
#     live node's maps show each step in order; the leader's sluiced is
#     killed mid-hold: another node leads within the lease TTL, keeps the
#     remaining hold, no step is written twice or skipped; the killed node
#     converges when it returns; the end promotes on every node (the
#     canary pool becomes the baseline, weights 0), as the local engine does
#   - a node cut from etcd holds its state, never advances, says so in
#     status, can still be reverted locally, converges when it returns
#   - the kill switch through etcd reverts every node; --clear lifts it
#   - freeze --fleet stops the hold (it resumes where it was on unfreeze);
#     pause --fleet and resume --fleet: the hold goes on where it stopped;
#     abort --fleet reverts every node
#   - every node's canary share of new flows over its last report
#     interval (rollout status) agrees with the weight (binomial bound)
#   - a node with no service in its maps that joins after a promotion
#     takes the promoted version as its baseline
#   - promote --fleet ends the step at once, once; --full promotes; a
#     promote without a running fleet rollout is refused, nothing written
#   - a canary whose backends never answer fails the error-ratio gate on
#     the fleet's summed counters: rolled back on every node, with the
#     plan's on_rollback: live_flows: reset on every node's maps
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
source tests/integration/fleet_lib.sh
need_root
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	skip "needs etcd and etcdctl (Debian etcd-server, etcd-client: scripts/deps.sh)"
command -v nft >/dev/null || skip "needs nft (nftables) for a failing canary"
FL_TAG=ft$$
trap fl_down EXIT

fl_up || { fail "fleet lab up"; t_done; exit; }
for n in $(fl_nodes); do
	check "sluiced $n starts in fleet mode" fl_start "$n"
done
has_leader() { [ -n "$(fl_leader)" ]; }
check "a leader is elected" fl_wait 5 has_leader

# ---- a service's configuration through etcd ----------------------------------
# fl_pool NODE SERVICE POOL: the pool's backend addresses in the node's maps
fl_pool() { fl_sluice "$1" -j service show "$2" 2>/dev/null |
	json "' '.join(sorted(b['address'] for b in j['services'][0]['$3']))" 2>/dev/null; }
fl_all_pool() {	# fl_all_pool SERVICE POOL "ADDRESSES"
	local n
	for n in $(fl_nodes); do
		[ "$(fl_pool "$n" "$1" "$2")" = "$3" ] || return 1
	done
}
no_service() { ! fl_sluice "$1" service show "$2" >/dev/null 2>&1; }
be() { echo "      - {address: 10.101.0.1$1, mac: '$(ip netns exec "$(fl_ns b$1)" cat /sys/class/net/eth0/address)', dev: lb1}"; }
# web as fl_up made it, and api (port PORT) on backends B...
cfg() {
	local port=$1 i
	shift
	printf 'services:\n  - name: web\n    vip: 10.200.0.10\n    port: 8080\n    mode: dsr\n    affinity: connection\n    seed: 7\n    baseline:\n'
	be 1; be 2
	echo "    canary:"
	be 3; be 4
	[ "$port" ] || return 0
	printf '  - name: api\n    vip: 10.200.0.11\n    port: %s\n    mode: dsr\n    seed: 7\n    baseline:\n' "$port"
	for i in "$@"; do be "$i"; done
}
crev() { etcdctl_ get -w json "/sluice/$FL_CLUSTER/services/api/config" | json 'j["kvs"][0]["mod_revision"]'; }
cfg 8081 1 2 >"$FL_DIR/cfg1.yaml"
check "sluice apply -f --fleet writes web and api to etcd" fl_ctl n1 apply -f "$FL_DIR/cfg1.yaml" --fleet
check "api appears on all 3 nodes with its backends" fl_wait 5 fl_all_pool api baseline "10.101.0.11 10.101.0.12"
check "web's pools are unchanged" fl_all_pool web canary "10.101.0.13 10.101.0.14"
cfg 8081 1 2 3 >"$FL_DIR/cfg2.yaml"
fl_ctl n2 apply -f "$FL_DIR/cfg2.yaml" --fleet >/dev/null
check "a backend added through etcd reaches every node" \
	fl_wait 5 fl_all_pool api baseline "10.101.0.11 10.101.0.12 10.101.0.13"
r0=$(crev)
cfg 99999 1 >"$FL_DIR/bad.cfg.yaml"
out=$(fl_ctl n1 apply -f "$FL_DIR/bad.cfg.yaml" --fleet 2>&1)
check "a bad file is refused naming file:line: $out" grep -q "bad.cfg.yaml:16:" <<<"$out"
check "and nothing is written to etcd" [ "$(crev)" = "$r0" ]
sed 's/mode: dsr/mode: sideways/' "$FL_DIR/cfg1.yaml" | etcdctl_ put "/sluice/$FL_CLUSTER/services/api/config" >/dev/null
api_err() { fl_ctl "$1" -j rollout status | json 'j["fleet"]["services"]["api"]["error"]' | grep -q "services/api/config:.*sideways"; }
check "a bad config written to etcd is named in every node's status" fl_wait 5 api_err n3
check "and changes no map" fl_all_pool api baseline "10.101.0.11 10.101.0.12 10.101.0.13"
check "rollout status says it was not applied" \
	grep -q "not applied: /sluice/$FL_CLUSTER/services/api/config:5:" <<<"$(fl_ctl n2 rollout status)"
etcdctl_ del "/sluice/$FL_CLUSTER/services/api/config" >/dev/null
all_no_api() { for n in $(fl_nodes); do no_service "$n" api || return 1; done; }
check "deleting the config key deletes api on every node" fl_wait 5 all_no_api

# ---- a weight through etcd ---------------------------------------------------
etcdctl_ put "$FL_PFX/weights" 2500 >/dev/null
check "weight 25% written to etcd is in every node's maps" fl_wait 5 fl_all_weight 2500
etcdctl_ put "$FL_PFX/weights" 25% >/dev/null
etcdctl_ put "$FL_PFX/weights" 20000 >/dev/null
sleep 0.5
check "weights that are not basis points change no map" fl_all_weight 2500
check "and say so in status, naming the key" \
	grep -q "services/web/weights: '20000' is not a weight" <<<"$(fl_ctl n1 -j rollout status)"

# ---- every node's split over its last report interval -------------------------
fl_cl python3 "$FL_TCP" load 10.200.0.10 8080 400 3.5 --timeout 2 >/dev/null 2>&1 &
load=$!
sleep 2.6	# both latest reports of every node within the load
st=$(fl_ctl n1 -j rollout status)
wait "$load"
# each share within 5 standard deviations of 25 % (binomial: p = 0.25 over
# n flows; about 6e-7 of a false failure per node), with n >= 60
bad=$(json '[(n, s["web"]) for n, s in j["fleet"]["shares"].items()
	if "web" not in s or s["web"]["flows"] < 60 or
	abs(s["web"]["canary_share"] - 0.25) > 5 * (0.25 * 0.75 / s["web"]["flows"]) ** 0.5]' <<<"$st")
check "every node's canary share of new flows agrees with 25 %: $(json '{n: (round(s["web"]["canary_share"], 3), s["web"]["flows"]) for n, s in j["fleet"]["shares"].items() if "web" in s}' <<<"$st") (off: $bad)" \
	[ "$bad" = "[]" -a "$(json 'len(j["fleet"]["shares"])' <<<"$st")" = "$FL_N" ]
check "rollout status text shows each node's share" \
	grep -q "^    web: canary [0-9.]*% of [0-9]* new flows" <<<"$(fl_ctl n1 rollout status)"

# ---- same decision on every node ---------------------------------------------
spread() { fl_cl python3 "$FL_TCP" spread 10.200.0.10 8080 120 --sport 31000 --par 8; }
all=$(spread)
same=1
for i in $(seq 1 "$FL_N"); do
	fl_ecmp "$i"
	one=$(spread)
	[ "$(echo "$one" | json 'sorted(j["counts"].items())')" = \
	  "$(echo "$all" | json 'sorted(j["counts"].items())')" ] || { same=0; echo "  n$i: $one, all: $all"; }
done
fl_ecmp $(seq 1 "$FL_N")
check "120 fixed flows reach the same backends through n1, n2, n3 alone and through ECMP" [ "$same" = 1 ]
check "those flows spanned both pools" \
	[ "$(echo "$all" | json 'len(j["counts"])')" -ge 3 ]

misses() { echo $(( $(for n in n1 n2; do fl_sluice "$n" -j stats | json 'j["events"]["conn_miss"]'; done | paste -sd+) )); }
fl_cl python3 "$FL_TCP" hold 10.200.0.10 8080 30 3 >"$FL_DIR/hold.json" &
hold=$!
sleep 1.5
m0=$(misses)
fl_ecmp 1 2	# n3's flows (and some of the others) move to another node
wait "$hold"
m1=$(misses)
fl_ecmp $(seq 1 "$FL_N")
check "connections did move: n1 and n2 met $((m1 - m0)) flows they had no entry for" [ "$m1" -gt "$m0" ]
hold_checks ecmp "an ECMP next hop removed mid-connection" "$(tail -1 "$FL_DIR/hold.json")"

# ---- a fleet rollout, the leader killed mid-hold -----------------------------
cat >"$FL_DIR/plan.yaml" <<'PLAN'
steps:
  - weight: 10%
    hold: 3s
  - weight: 50%
    hold: 5s
  - weight: 100%
    hold: 2s
gates:
  - metric: error_ratio
    max: 50%
    max_increase: 50%
    min_samples: 5
    on_inconclusive: extend
PLAN
etcdctl_ put "$FL_PFX/weights" 0 >/dev/null
check "weight 0 everywhere before the rollout" fl_wait 5 fl_all_weight 0
etcdctl_ del "$FL_PFX/weights" >/dev/null
phase() { etcdctl_ get --print-value-only "$FL_PFX/rollout" | json 'j["phase"]' 2>/dev/null; }
step() { etcdctl_ get --print-value-only "$FL_PFX/rollout" | json 'j.get("step")' 2>/dev/null; }
is() { [ "$($1)" = "$2" ]; }	# is FUNCTION VALUE, evaluated each time
leader_not() { local l; l=$(fl_leader); [ -n "$l" ] && [ "$l" != "$1" ]; }
etcd_state() { [ "$(fl_field "$1" 'f["etcd"]')" = "$2" ]; }
# every node's weights, 10 times a second, one file per node
sampler() {
	while :; do
		for n in $(fl_nodes); do
			fl_weight "$n" >>"$FL_DIR/w.$n" 2>/dev/null
		done
		sleep 0.05
	done
}
fl_cl python3 "$FL_TCP" load 10.200.0.10 8080 40 22 --timeout 2 >"$FL_DIR/load.json" 2>/dev/null &
load=$!
sampler &
samp=$!
check "sluice rollout start --fleet is written to etcd" \
	fl_ctl n2 rollout start web --fleet -f "$FL_DIR/plan.yaml"
check "the leader starts the fleet rollout" fl_wait 5 is step 0
check "the rollout reaches step 2 (50%)" fl_wait 20 is step 1
sleep 1
old=$(fl_leader)
fl_kill9 "$old"
check "another node leads within the lease TTL (+1 s) after $old's sluiced is killed" \
	fl_wait $((FL_TTL + 2)) leader_not "$old"
check "the rollout is promoted under the new leader" fl_wait 25 is phase promoted
live=$(fl_nodes | grep -v "^$old$")
promoted() { local n; for n in "$@"; do
	[ "$(fl_pool "$n" web baseline)" = "10.101.0.13 10.101.0.14" ] &&
	[ -z "$(fl_pool "$n" web canary)" ] && [ "$(fl_weight "$n")" = 0 ] || return 1; done; }
check "every live node promoted: the canary pool is the baseline, weight 0" fl_wait 3 promoted $live
kill "$samp" 2>/dev/null
wait "$samp" "$load" 2>/dev/null
# the rollout key's history: one write per transition, none twice
timeout 2 ip netns exec "$(fl_ns hub)" etcdctl --endpoints "$FL_URL" watch --rev 1 \
	"$FL_PFX/rollout" 2>/dev/null | grep '^{' >"$FL_DIR/hist" || true
check "the rollout key was written once per transition: start, 3 steps, promoted ($(tr '\n' ' ' <"$FL_DIR/hist"))" \
	[ "$(json 'len(j)' < <(python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin]))' <"$FL_DIR/hist"))" = 5 ]
check "steps 0, 1, 2 each written once, in order" \
	[ "$(python3 -c 'import json,sys; print([json.loads(l).get("step") for l in sys.stdin if json.loads(l)["phase"]=="progressing"])' <"$FL_DIR/hist")" = "[0, 1, 2]" ]
# the step held when the leader died kept its remaining hold: the next
# step began 5 s after it (the new leader acts at the hold's end), not 5 s
# after the new leader took over (1 s + the failover + 5 s)
gap=$(python3 -c '
import json,sys
s={}
for l in sys.stdin:
    r=json.loads(l)
    if r["phase"]=="progressing": s[r["step"]]=r["step_started_ms"]
print(s[2]-s[1])' <"$FL_DIR/hist")
check "the 5 s hold of step 2 was kept across the failover (next step after ${gap} ms)" \
	[ "$gap" -ge 5000 ] && [ "$gap" -lt 6500 ]
# the sequential test's evidence goes into etcd with each step it carries into
# (two gates: the plan's and the split check every rollout has)
ev=$(python3 -c '
import json,sys
print([len(r.get("gates", [])) for r in map(json.loads, sys.stdin) if r["phase"]=="progressing"])' <"$FL_DIR/hist")
check "steps 2 and 3 carry the gates' sequential-test evidence in etcd: $ev" \
	[ "$ev" = "[0, 2, 2]" ]
check "weights were written once per step and once (0) at the promotion (weights key version 4)" \
	[ "$(etcdctl_ get -w json "$FL_PFX/weights" | json 'j["kvs"][0]["version"]')" = 4 ]
for n in $(fl_nodes); do
	seq_=$(uniq "$FL_DIR/w.$n" | tr '\n' ' ')
	if [ "$n" = "$old" ]; then
		check "$n (killed at 50%) showed 10% then 50% and nothing else: $seq_" \
			[ "$(uniq "$FL_DIR/w.$n" | grep -v '^0$' | tr '\n' ' ')" = "1000 5000 " ]
	else
		check "$n's maps showed every step in order: $seq_" \
			[ "$(uniq "$FL_DIR/w.$n" | grep -v '^0$' | tr '\n' ' ')" = "1000 5000 10000 " ]
	fi
done
check "the gates were judged on traffic: the load had no errors" \
	[ "$(json 'j["errors"]' <"$FL_DIR/load.json")" = 0 ]
check "$old's sluiced restarts" fl_start "$old"
check "$old converges to the promotion when it returns" fl_wait 5 promoted "$old"
fresh=$(fl_nodes | grep -v "^$(fl_leader)$" | head -1)
fl_kill9 "$fresh"
fl_sluice "$fresh" service del web >/dev/null
check "$fresh's sluiced restarts with no service in its maps" fl_start "$fresh"
check "$fresh, fresh, takes the promoted version as its baseline from etcd" fl_wait 5 promoted "$fresh"
fl_ctl n3 apply -f "$FL_DIR/cfg1.yaml" --fleet >/dev/null
check "the lab's pools, written again through etcd, are back on every node" \
	fl_wait 5 fl_all_pool web canary "10.101.0.13 10.101.0.14"
check "with api again" fl_all_pool api baseline "10.101.0.11 10.101.0.12"

every_report() { [ "$(fl_ctl n2 rollout status | grep -c '^  node n[0-9]: revision')" = "$FL_N" ]; }
check "rollout status on one node shows every node's report" fl_wait 3 every_report || fl_ctl n2 rollout status
out=$(fl_ctl "$(fl_leader)" rollout status)
check "the leader's status shows its last judgement of the gate: $(grep "fleet's sums" <<<"$out")" \
	grep -q "gate 1 on the fleet's sums: pass: canary error ratio" <<<"$out"

# ---- a node cut off from etcd ------------------------------------------------
cut=$(for n in $(fl_nodes); do [ "$n" != "$(fl_leader)" ] && echo "$n"; done | tail -1)
ci=${cut#n}
ip -n "$(fl_ns hub)" link set "h$ci" down
check "$cut, cut from etcd, says so in status" \
	fl_wait 5 etcd_state "$cut" unreachable
fl_ctl "$cut" rollout status | grep -q "cut off from etcd" && ok "status text says cut off" ||
	fail "status text says cut off"
etcdctl_ put "$FL_PFX/weights" 4000 >/dev/null
others=$(fl_nodes | grep -v "^$cut$")
check "the other nodes apply 40%" fl_wait 5 fl_all_weight 4000 $others
check "$cut holds its last state (0 after the promotion)" [ "$(fl_weight "$cut")" = 0 ]
check "$cut does not lead while cut off" [ "$(fl_field "$cut" 'f["leader_here"]')" = False ]
fl_sluice "$cut" revert web >/dev/null
check "$cut can still be reverted locally" [ "$(fl_revert "$cut")" = revert ]
fl_sluice "$cut" resume web >/dev/null
ip -n "$(fl_ns hub)" link set "h$ci" up
check "$cut converges to etcd's 40% when it returns" fl_wait 10 fl_all_weight 4000 "$cut"
check "$cut says etcd ok again" fl_wait 5 etcd_state "$cut" ok

# ---- the kill switch through etcd --------------------------------------------
check "sluice rollout revert web --fleet" fl_ctl n1 rollout revert web --fleet
check "every node's maps are reverted" fl_wait 5 fl_all_revert revert
check "sluice rollout revert web --fleet --clear" fl_ctl n1 rollout revert web --fleet --clear
check "every node's kill switch is lifted" fl_wait 5 fl_all_revert off
# ---- freeze and abort through etcd ------------------------------------------
cat >"$FL_DIR/frz.yaml" <<'PLAN'
steps:
  - weight: 20%
    hold: 3s
  - weight: 60%
    hold: 30s
  - weight: 80%
    hold: 30s
gates:
  - metric: error_ratio
    max: 50%
    min_samples: 3
    on_inconclusive: extend
PLAN
frozen_at() { etcdctl_ get --print-value-only "$FL_PFX/rollout" | json '"frozen_at_ms" in j' 2>/dev/null; }
fl_cl python3 "$FL_TCP" load 10.200.0.10 8080 30 14 --timeout 2 >/dev/null 2>&1 &
load=$!
fl_ctl n1 rollout start web --fleet -f "$FL_DIR/frz.yaml" >/dev/null
check "a third fleet rollout is at its first step" fl_wait 5 is step 0
check "rollout freeze --fleet" fl_ctl n3 rollout freeze --reason "INC-1" --fleet
check "the leader records the freeze in the rollout's state" fl_wait 3 is frozen_at True
sleep 3.5	# longer than the whole hold
check "frozen: the first step is still held after its hold's length" is step 0
check "rollout unfreeze --fleet" fl_ctl n3 rollout unfreeze --fleet
check "the freeze's end is recorded" fl_wait 3 is frozen_at False
check "the hold resumes where it was: not over at once" is step 0
check "then the rollout advances" fl_wait 6 is step 1
check "every node at 60%" fl_wait 3 fl_all_weight 6000
started() { etcdctl_ get --print-value-only "$FL_PFX/rollout" | json 'j["step_started_ms"]'; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
sleep 2	# into the 30 s hold: a hold started afresh at the resume would show it
s0=$(started)
p=$(ms)
check "rollout pause web --fleet" fl_ctl n1 rollout pause web --fleet
check "the fleet rollout is paused" fl_wait 3 is phase paused
sleep 1.5
check "paused: still at the second step, 60% everywhere" is step 1
refused() { ! "$@" 2>/dev/null; }
check "rollout pause --fleet of a paused rollout is refused" refused fl_ctl n2 rollout pause web --fleet
q=$(ms)
check "rollout resume web --fleet" fl_ctl n2 rollout resume web --fleet
check "the fleet rollout progresses again" fl_wait 3 is phase progressing
shift_=$(( $(started) - s0 )) paused=$((q - p))
check "the hold goes on where it stopped: its start moved by the paused time (${shift_} ms for ${paused} ms)" \
	[ "$shift_" -gt $((paused - 700)) -a "$shift_" -lt $((paused + 700)) ]
check "still at the second step" is step 1
pending() { etcdctl_ get --print-value-only "$FL_PFX/rollout" | json '"promote" in j' 2>/dev/null; }
check "rollout promote web --fleet" fl_ctl n3 rollout promote web --fleet
check "the leader ends the 30 s hold at once: the third step" fl_wait 3 is step 2
check "every node at 80%" fl_wait 3 fl_all_weight 8000
check "the promote request was consumed with the step it caused" is pending False
sleep 1
check "and acted on once: still at the third step" is step 2
check "rollout abort web --fleet" fl_ctl n2 rollout abort web --fleet
check "the leader aborts the fleet rollout" fl_wait 5 is phase aborted
check "the abort reverts every node" fl_wait 5 fl_all_revert revert
rr() { etcdctl_ get -w json "$FL_PFX/rollout" | json 'j["kvs"][0]["mod_revision"]'; }
r0=$(rr)
out=$(fl_ctl n1 rollout promote web --fleet 2>&1)
check "promote --fleet of an aborted rollout is refused: $out" grep -q "no running fleet rollout of 'web'" <<<"$out"
check "and writes nothing" [ "$(rr)" = "$r0" ]
fl_ctl n1 rollout start web --fleet -f "$FL_DIR/frz.yaml" >/dev/null
check "a fleet rollout at its first step again" fl_wait 5 is step 0
check "rollout promote web --fleet --full" fl_wait 2 fl_ctl n2 rollout promote web --fleet --full
check "--full: the leader promotes at once" fl_wait 3 is phase promoted
check "every node promoted" fl_wait 3 promoted $(fl_nodes)
wait "$load"
fl_ctl n3 apply -f "$FL_DIR/cfg1.yaml" --fleet >/dev/null
check "the lab's pools are back through etcd" fl_wait 5 fl_all_pool web canary "10.101.0.13 10.101.0.14"

# ---- a failing canary: judged on the fleet's sums, rolled back everywhere ----
cat >"$FL_DIR/bad.yaml" <<'PLAN'
steps:
  - weight: 30%
    hold: 5s
  - weight: 100%
    hold: 3s
gates:
  - metric: error_ratio
    max: 5%
    max_increase: 20%
    min_samples: 5
    on_inconclusive: extend
on_rollback:
  live_flows: reset
PLAN
for i in 3 4; do	# the canary backends never answer a handshake
	ip netns exec "$(fl_ns b$i)" nft -f - <<'NFT'
table inet fltest {
	chain in {
		type filter hook input priority 0;
		tcp dport 8080 drop
	}
}
NFT
done
fl_cl python3 "$FL_TCP" load 10.200.0.10 8080 30 10 --timeout 2 >/dev/null 2>&1 &
load=$!
check "another fleet rollout starts after the abort" fl_ctl n3 rollout start web --fleet -f "$FL_DIR/bad.yaml"
check "its start lifts the kill switch on every node" fl_wait 5 fl_all_revert off
check "the canary failing on every node rolls the fleet rollout back" fl_wait 20 is phase rolled_back
check "the rollback names the fleet's sums: $(etcdctl_ get --print-value-only "$FL_PFX/rollout" | json 'j["reason"]' 2>/dev/null)" \
	grep -q "fleet's sums" <<<"$(etcdctl_ get --print-value-only "$FL_PFX/rollout")"
check "every node's maps are reverted by the rollback, live canary flows reset (the plan's live_flows: reset)" \
	fl_wait 5 fl_all_revert reset
check "rolled back at the failing first step" is step 0
check "the failing step was never passed (weights stay at 30%: $(for n in $(fl_nodes); do fl_weight $n; done | tr "\n" " "))" fl_all_weight 3000
wait "$load"

printf 'steps:\n  - weight: 10%%\n    hold: 2s\ngates:\n  - metric: latency_p99\n    max_increase: 20%%\n' >"$FL_DIR/lat.yaml"
out=$(fl_ctl n1 rollout start web --fleet -f "$FL_DIR/lat.yaml" 2>&1)
check "a fleet plan with a latency gate on this DSR service is refused as a node's, naming the file and the gate: $out" \
	eval 'grep -q "lat.yaml" <<<"$out" && grep -q "latency_p99 needs mode nat" <<<"$out"'
check "the refused plan changed nothing in etcd" is phase rolled_back
out=$(fl_ctl n1 rollout start web -f "$FL_DIR/plan.yaml" 2>&1)
check "a local rollout of a fleet service is refused, naming --fleet" grep -q -- "--fleet" <<<"$out"
out=$(fl_ctl n1 rollout revert web 2>&1)
check "rollout revert without --fleet is refused with a usage message" \
	grep -q -- "--fleet" <<<"$out"

t_done
