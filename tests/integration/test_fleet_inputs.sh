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
#   - a config key nested 60,000 deep is refused at once, naming the depth
#     limit and the key, and the node keeps its lease and its leadership
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
SLUICE=$PWD/build/sluice SLUICED=$PWD/build/sluiced
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	skip "needs etcd and etcdctl (Debian etcd-server, etcd-client: scripts/deps.sh)"
TAG=fi$$
NS=sl-$TAG
PIN=/sys/fs/bpf/sluice-$TAG
DIR=$(mktemp -d /tmp/sluice-finputs.XXXXXX)
URL=http://127.0.0.1:19437
EPID= DPID=
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	[ -n "$EPID" ] && kill -9 "$EPID" 2>/dev/null
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS-x" 2>/dev/null
	rm -rf "$PIN" "$DIR"
}
trap cleanup EXIT

PFX=/sluice/ci/services
etcdctl_() { ip netns exec "$NS" env ETCDCTL_API=3 etcdctl --endpoints "$URL" "$@"; }
sl() { nsenter --net="/run/netns/$NS" "$SLUICE" --pin-dir "$PIN" "$@"; }
ctl() { SLUICE_SOCKET=$DIR/d.sock sl "$@"; }
weight() { sl -j service show web | json 'j["services"][0]["weight"]["default"]'; }
revert() { sl -j service show web | json 'j["services"][0]["revert"]'; }
fleet() { ctl -j rollout status | json "(lambda f: $1)(j['fleet'])"; }
wait_for() {	# SECONDS CMD...: until CMD succeeds
	local end=$(( $(date +%s) + $1 )); shift
	while [ "$(date +%s)" -le "$end" ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
weight_is() { [ "$(weight)" = "$1" ]; }
revert_is() { [ "$(revert)" = "$1" ]; }
fleet_is() { [ "$(fleet "$1")" = True ]; }

ip netns add "$NS" && ip netns add "$NS-x" || { fail "namespaces"; t_done; exit; }
ip -n "$NS" link set lo up
ip link add eth1 netns "$NS" type veth peer name eth0 netns "$NS-x"
ip -n "$NS" link set eth1 up
ip -n "$NS-x" link set eth0 up
sl attach eth1 xdp >/dev/null &&
sl service add web vip 10.200.0.10 port 8080 protocol tcp mode dsr >/dev/null &&
sl backend add web 10.101.0.11 pool baseline mac 02:00:00:00:00:11 dev eth1 >/dev/null &&
sl backend add web 10.101.0.13 pool canary mac 02:00:00:00:00:13 dev eth1 >/dev/null ||
	{ fail "the instance and service web"; t_done; exit; }
ip netns exec "$NS" etcd --name e1 --data-dir "$DIR/e1" \
	--listen-client-urls "$URL" --advertise-client-urls "$URL" \
	--listen-peer-urls http://127.0.0.1:19438 --initial-advertise-peer-urls http://127.0.0.1:19438 \
	--initial-cluster e1=http://127.0.0.1:19438 >>"$DIR/e1.log" 2>&1 &
EPID=$!
check "etcd is healthy" wait_for 30 etcdctl_ endpoint health
nsenter --net="/run/netns/$NS" "$SLUICED" --socket "$DIR/d.sock" --db "$DIR/d.db" \
	--pin-dir "$PIN" --metrics off --etcd "$URL" --cluster ci --node n1 \
	--lease-ttl 2 -v >>"$DIR/d.log" 2>&1 &
DPID=$!
check "sluiced starts in fleet mode and leads" wait_for 10 fleet_is "f['etcd']=='ok' and f['leader_here']"

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
