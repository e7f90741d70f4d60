#!/usr/bin/env bash
# One LB node in fleet mode against one real etcd member (Debian's
# etcd-server), in namespaces of their own: the instance with service web
# (dsr, one backend per pool) on eth1, and sluiced (audit log
# $DIR/audit.log) leading the fleet "ci". A test sources it from the
# repo's root:   source tests/integration/fleet_one.sh TAG PORT
# TAG names the namespaces, pins and directory; PORT is etcd's client port
# (PORT+1 its peer port). It gives sl, ctl, etcdctl_, weight, revert,
# fleet, wait_for, weight_is, revert_is, fleet_is, sluiced_start (again, after
# a kill), and cleans up on exit.
source tests/integration/lib.sh
need_root
SLUICE=$PWD/build/sluice SLUICED=$PWD/build/sluiced
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	skip "needs etcd and etcdctl (Debian etcd-server, etcd-client: scripts/deps.sh)"
TAG=$1$$
NS=sl-$TAG
PIN=/sys/fs/bpf/sluice-$TAG
DIR=$(mktemp -d /tmp/sluice-$1.XXXXXX)
URL=http://127.0.0.1:$2
EPID= DPID=
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	[ -n "$EPID" ] && kill -9 "$EPID" 2>/dev/null
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS-x" 2>/dev/null
	[ -n "${FLEET_KEEP:-}" ] && cp -r "$DIR" "$FLEET_KEEP"	# for a look after a failure
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
	--listen-peer-urls http://127.0.0.1:$(($2 + 1)) --initial-advertise-peer-urls http://127.0.0.1:$(($2 + 1)) \
	--initial-cluster e1=http://127.0.0.1:$(($2 + 1)) >>"$DIR/e1.log" 2>&1 &
EPID=$!
check "etcd is healthy" wait_for 30 etcdctl_ endpoint health
sluiced_start() {	# the node's sluiced, in the background: DPID
	nsenter --net="/run/netns/$NS" "$SLUICED" --socket "$DIR/d.sock" --db "$DIR/d.db" \
		--pin-dir "$PIN" --metrics off --etcd "$URL" --cluster ci --node n1 \
		--lease-ttl 2 -a "$DIR/audit.log" -v >>"$DIR/d.log" 2>&1 &
	DPID=$!
}
sluiced_start
check "sluiced starts in fleet mode and leads" wait_for 10 fleet_is "f['etcd']=='ok' and f['leader_here']"
