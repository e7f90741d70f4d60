#!/usr/bin/env bash
# sluice-test: host-only (sluiced against a real three-member etcd cluster in
# real time: leases and reconnects of seconds; the datapath it drives is
# tested in the guest by the lab tests.)
# A fleet node given every member of a real etcd cluster (Debian's
# etcd-server, three members on the loopback of a namespace of its own):
#   - bad --etcd lists are refused, naming the endpoint
#   - weights written through another member reach the node's maps
#   - the member the node talks to is killed: the node moves on to the
#     next one and keeps applying what is written
#   - a second member killed (no quorum): the node is cut off, holds its
#     weight, says so; a member back (quorum again): it converges
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
SLUICE=$PWD/build/sluice SLUICED=$PWD/build/sluiced
[ -x "$SLUICED" ] || skip "build/sluiced is not built"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	skip "needs etcd and etcdctl (Debian etcd-server, etcd-client: scripts/deps.sh)"
TAG=fm$$
NS=sl-$TAG
PIN=/sys/fs/bpf/sluice-$TAG
DIR=$(mktemp -d /tmp/sluice-members.XXXXXX)
declare -A EPID
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	for m in "${!EPID[@]}"; do kill -9 "${EPID[$m]}" 2>/dev/null; done
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS-x" 2>/dev/null
	rm -rf "$PIN" "$DIR"
}
trap cleanup EXIT

url() { echo "http://127.0.0.1:2379$1"; }
ENDPOINTS="$(url 1),$(url 2),$(url 3)"
CLUSTER=m1=http://127.0.0.1:23801,m2=http://127.0.0.1:23802,m3=http://127.0.0.1:23803
member_start() {	# I
	ip netns exec "$NS" etcd --name "m$1" --data-dir "$DIR/m$1" \
		--listen-client-urls "$(url "$1")" --advertise-client-urls "$(url "$1")" \
		--listen-peer-urls "http://127.0.0.1:2380$1" \
		--initial-advertise-peer-urls "http://127.0.0.1:2380$1" \
		--initial-cluster "$CLUSTER" --initial-cluster-token "$TAG" \
		>>"$DIR/m$1.log" 2>&1 &
	EPID[m$1]=$!
}
member_kill() { kill -9 "${EPID[m$1]}"; wait "${EPID[m$1]}" 2>/dev/null; unset "EPID[m$1]"; }
etcdctl_() {	# MEMBER ARGS
	local m=$1; shift
	ip netns exec "$NS" env ETCDCTL_API=3 etcdctl --dial-timeout 2s --command-timeout 3s \
		--endpoints "$(url "$m")" "$@"
}
# put MEMBER VALUE: the weight through that member, again until etcd takes
# it (a member killed while it led leaves the cluster electing for a while)
put() {
	wait_for 15 etcdctl_ "$1" put /sluice/cm/services/web/weights "$2" >/dev/null ||
		echo "  put $2 through member $1 failed"
}
sl() { nsenter --net="/run/netns/$NS" "$SLUICE" --pin-dir "$PIN" "$@"; }
ctl() { SLUICE_SOCKET=$DIR/d.sock sl "$@"; }
weight() { sl -j service show web | json 'j["services"][0]["weight"]["default"]'; }
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
fleet_is() { [ "$(fleet "$1")" = True ]; }

# a namespace with an interface for the instance, and the three members
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
for i in 1 2 3; do member_start $i; done
check "a three-member etcd cluster is healthy" wait_for 30 etcdctl_ 1 endpoint health --cluster

echo "== bad endpoint lists"
for bad in "$(url 1)," "$(url 1),ftp://127.0.0.1:1" "http://127.0.0.1:1/v3" \
	   "$(url 1),$(url 1),$(url 1),$(url 1),$(url 1),$(url 1),$(url 1),$(url 1),$(url 1)"; do
	out=$(nsenter --net="/run/netns/$NS" timeout 5 "$SLUICED" --socket "$DIR/bad.sock" \
		--db "$DIR/bad.db" --pin-dir "$PIN" --metrics off --etcd "$bad" 2>&1)
	rc=$?
	why=$(grep -e "--etcd: " <<<"$out")
	check "--etcd '${bad:0:50}': refused ($rc): ${why:0:120}" \
		[ "$rc" != 0 -a "$rc" != 124 -a -n "$why" ]
	check "  and nothing was opened (no state file)" [ ! -e "$DIR/bad.db" ]
done

echo "== three endpoints"
nsenter --net="/run/netns/$NS" "$SLUICED" --socket "$DIR/d.sock" --db "$DIR/d.db" \
	--pin-dir "$PIN" --metrics off --etcd "$ENDPOINTS" --cluster cm --node n1 \
	--lease-ttl 2 -v >>"$DIR/d.log" 2>&1 &
DPID=$!
check "sluiced starts in fleet mode" wait_for 10 ctl rollout status
check "it talks to the first member" wait_for 10 fleet_is "f['etcd']=='ok' and f['endpoint']=='$(url 1)' and f['endpoint_index']==1 and f['endpoints']==3"
put 2 500
check "a weight written through member 2 reaches the maps" wait_for 5 weight_is 500
ctl rollout status | grep -E "fleet|etcd endpoint" | sed 's/^/  /'

echo "== the member in use dies"
t0=$(date +%s%N)
member_kill 1
put 2 1500
t1=$(date +%s%N)
check "the next weight, written through member 2, reaches the maps within 10 s" wait_for 10 weight_is 1500
echo "  member 1 killed -> the write accepted: $(( (t1 - t0) / 1000000 )) ms -> in the maps: $(( ($(date +%s%N) - t1) / 1000000 )) ms more (polled every 100 ms)"
check "the node is on another member, etcd ok, the move counted" \
	fleet_is "f['etcd']=='ok' and f['endpoint']!='$(url 1)' and f['endpoint_switches']>=1"
ctl rollout status | grep -E "etcd endpoint" | sed 's/^/  /'
grep -m1 "127.0.0.1:23791" "$DIR/d.log" | sed 's/^/  log: /'

echo "== no quorum, then quorum again"
member_kill 2
check "two of three members dead: the node is cut off within 10 s" \
	wait_for 10 fleet_is "f['etcd']!='ok'"
check "and holds its weight" weight_is 1500
check "sluiced keeps running" kill -0 "$DPID"
member_start 1
check "member 1 back: quorum" wait_for 30 etcdctl_ 1 endpoint health
put 3 2500
check "the node converges: a weight written through member 3 reaches the maps within 15 s" \
	wait_for 15 weight_is 2500
check "etcd ok again" fleet_is "f['etcd']=='ok'"
kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=

echo "== TLS: an etcd member that asks for client certificates"
# a CA, the member's certificate (for 127.0.0.1; clientAuth too: etcd
# 3.4's JSON gateway presents it to etcd's own gRPC side) and the node's
cert() {	# NAME USAGE [SAN]
	openssl req -newkey rsa:2048 -nodes -keyout "$DIR/$1.key" -out "$DIR/$1.csr" \
		-subj "/CN=$1" 2>/dev/null &&
	printf 'extendedKeyUsage=%s\n%s' "$2" "${3:+subjectAltName=$3}" >"$DIR/$1.ext" &&
	openssl x509 -req -in "$DIR/$1.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
		-CAcreateserial -days 1 -extfile "$DIR/$1.ext" -out "$DIR/$1.pem" 2>/dev/null
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/ca.key" -out "$DIR/ca.pem" \
	-days 1 -subj "/CN=sluice test CA $TAG" 2>/dev/null &&
	cert srv serverAuth,clientAuth IP:127.0.0.1 &&
	cert n1 clientAuth || fail "certificates"
TURL=https://127.0.0.1:24791
ip netns exec "$NS" etcd --name t1 --data-dir "$DIR/t1" \
	--listen-client-urls "$TURL" --advertise-client-urls "$TURL" \
	--listen-peer-urls http://127.0.0.1:24801 --initial-advertise-peer-urls http://127.0.0.1:24801 \
	--initial-cluster t1=http://127.0.0.1:24801 --cert-file "$DIR/srv.pem" --key-file "$DIR/srv.key" \
	--trusted-ca-file "$DIR/ca.pem" --client-cert-auth >>"$DIR/t1.log" 2>&1 &
EPID[t1]=$!
tctl() { ip netns exec "$NS" env ETCDCTL_API=3 etcdctl --dial-timeout 2s --endpoints "$TURL" \
	--cacert "$DIR/ca.pem" --cert "$DIR/n1.pem" --key "$DIR/n1.key" "$@"; }
check "the TLS member is healthy (etcdctl with the client certificate)" wait_for 30 tctl endpoint health
for bad in "--etcd-cert $DIR/n1.pem" "--etcd-key $DIR/n1.key" "--etcd-cacert $DIR/none.pem" \
	   "--etcd-cert $DIR/n1.pem --etcd-key $DIR/none.key"; do
	# shellcheck disable=SC2086
	out=$(nsenter --net="/run/netns/$NS" timeout 5 "$SLUICED" --socket "$DIR/bad.sock" \
		--db "$DIR/bad.db" --pin-dir "$PIN" --metrics off --etcd "$TURL" $bad 2>&1)
	rc=$?
	why=$(grep -e "--etcd-" <<<"$out")
	check "${bad//$DIR\//}: refused ($rc): ${why:0:120}" [ "$rc" != 0 -a "$rc" != 124 -a -n "$why" ]
done
out=$(nsenter --net="/run/netns/$NS" timeout 5 "$SLUICED" --socket "$DIR/bad.sock" \
	--db "$DIR/bad.db" --pin-dir "$PIN" --metrics off --etcd-cacert "$DIR/ca.pem" 2>&1)
check "--etcd-cacert without --etcd: refused" [ $? != 0 ] && grep -q "need --etcd" <<<"$out"
dstart() {	# ARGS: sluiced in fleet mode on the TLS member
	nsenter --net="/run/netns/$NS" "$SLUICED" --socket "$DIR/d.sock" --db "$DIR/d.db" \
		--pin-dir "$PIN" --metrics off --etcd "$TURL" --cluster ct --node n1 \
		--lease-ttl 2 -v "$@" >>"$DIR/d.log" 2>&1 &
	DPID=$!
	wait_for 10 ctl rollout status
}
check "sluiced with the CA but no client certificate starts" dstart --etcd-cacert "$DIR/ca.pem"
sleep 3
check "and is cut off: etcd wants a client certificate ($(fleet "f['why']" | cut -c1-90))" \
	fleet_is "f['etcd']!='ok' and f['why']!=''"
kill "$DPID"; wait "$DPID" 2>/dev/null
check "sluiced with the CA and the node's certificate starts" \
	dstart --etcd-cacert "$DIR/ca.pem" --etcd-cert "$DIR/n1.pem" --etcd-key "$DIR/n1.key"
check "it talks to etcd over TLS" wait_for 10 fleet_is "f['etcd']=='ok' and f['endpoint']=='$TURL'"
tctl put /sluice/ct/services/web/weights 4200 >/dev/null
check "a weight written over TLS reaches the maps" wait_for 5 weight_is 4200
t_done
