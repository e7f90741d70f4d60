#!/usr/bin/env bash
# sluice-test: host-only (one sluiced --etcd against a real etcd, Debian's
# etcd-server, on the loopback of a namespace of its own; the datapath is
# tested in the guest by the lab tests.)
# What the fleet does with bad or junk keys in etcd:
#   - service keys that come and go free their slot: after 70 junk
#     services are written and deleted, a real service is still applied;
#     while more services than the table holds exist, status says so
#   - the kill switch takes only "on" and "off": ON, true, 1, yes, garbage
#     keep the maps as they are and are named in status (logged once)
#   - live_flows takes keep, reset and drain NNNms only: anything else is
#     named in status and read as keep
#   - a config key nested 60,000 deep is refused at once, naming the depth
#     limit and the key, and the node keeps its lease and its leadership
set -u
cd "$(dirname "$0")/../.."
source tests/integration/fleet_one.sh finputs 19437

echo "== junk service keys come and go"
for i in $(seq 1 70); do echo "put $PFX/junk$i/weights 100"; done | etcdctl_ txn >/dev/null 2>&1 ||
	for i in $(seq 1 70); do etcdctl_ put "$PFX/junk$i/weights" 100 >/dev/null; done
check "70 junk services: the node tracks its limit of 64" wait_for 5 fleet_is "len(f['services'])==64"
check "and says which keys it ignores (status bad_keys: $(fleet "len(f.get('bad_keys',{}))") keys)" \
	fleet_is "len(f.get('bad_keys',{}))==6 and all('more than 64 services' in b['error'] for b in f['bad_keys'].values())"
check "and logs it" grep -q "more than 64 services" "$DIR/d.log"
etcdctl_ del --prefix "$PFX/junk" >/dev/null
check "the junk deleted: their entries are freed" wait_for 5 fleet_is "len(f['services'])==0 and not f.get('bad_keys')"
etcdctl_ put "$PFX/web/weights" 2500 >/dev/null
check "a real service written afterwards reaches the maps" wait_for 5 weight_is 2500

echo "== the kill switch takes on and off only"
etcdctl_ put "$PFX/web/killswitch" on >/dev/null
check "killswitch on: the service reverts" wait_for 5 revert_is revert
for v in ON true 1 yes garbage; do
	etcdctl_ put "$PFX/web/killswitch" "$v" >/dev/null
	check "killswitch '$v': named in status" \
		wait_for 5 fleet_is "\"'$v'\" in f.get('bad_keys',{}).get('$PFX/web/killswitch',{}).get('error','')"
	check "  and the revert stays on" revert_is revert
done
check "the bad value is logged once" [ "$(grep -c "killswitch: 'garbage'" "$DIR/d.log")" = 1 ]
etcdctl_ put "$PFX/web/killswitch" off >/dev/null
check "killswitch off: lifted, and the bad key is gone from status" \
	wait_for 5 eval 'revert_is off && fleet_is "not f.get(\"bad_keys\")"'
etcdctl_ put "$PFX/web/killswitch" garbage >/dev/null
check "killswitch 'garbage' after off: named in status" \
	wait_for 5 fleet_is "'$PFX/web/killswitch' in f.get('bad_keys',{})"
check "  and the maps stay as they were (no revert)" revert_is off

echo "== live_flows takes keep, reset and drain NNNms only"
etcdctl_ put "$PFX/web/live_flows" "drain forever" >/dev/null
check "live_flows 'drain forever': named in status" \
	wait_for 5 fleet_is "\"'drain forever'\" in f.get('bad_keys',{}).get('$PFX/web/live_flows',{}).get('error','')"
etcdctl_ put "$PFX/web/killswitch" on >/dev/null
check "a kill switch beside it reverts" wait_for 5 revert_is revert
sleep 1
check "  and keeps live flows (a bad value reads as keep)" revert_is revert
etcdctl_ put "$PFX/web/live_flows" reset >/dev/null
etcdctl_ put "$PFX/web/killswitch" on >/dev/null
check "live_flows reset, the kill switch written again: live canary flows reset" wait_for 5 revert_is reset
etcdctl_ put "$PFX/web/killswitch" off >/dev/null
check "killswitch off lifts both" wait_for 5 revert_is off

echo "== a config key nested 60,000 deep"
python3 -c 'print("[" * 60000 + "]" * 60000)' >"$DIR/deep.yaml"
etcdctl_ put "$PFX/web/config" <"$DIR/deep.yaml" >/dev/null
check "refused, naming the key and the depth limit" \
	wait_for 5 fleet_is "'nested deeper than 64' in f.get('bad_keys',{}).get('$PFX/web/config',{}).get('error','')"
fleet "f['bad_keys']['$PFX/web/config']['error']" | cut -c1-150 | sed 's/^/  /'
sleep 5
check "5 s (2.5 lease TTLs) later: still connected and leading, on the same lease" \
	fleet_is "f['etcd']=='ok' and f['leader_here'] and f['leader']=='n1'"
etcdctl_ put "$PFX/web/weights" 3000 >/dev/null
check "a weight written afterwards reaches the maps" wait_for 3 weight_is 3000
check "the config error was logged once" [ "$(grep -c "nested deeper than 64" "$DIR/d.log")" = 1 ]
t_done
