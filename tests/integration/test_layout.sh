#!/usr/bin/env bash
# The layout pin and memory that follows the configuration:
# - an instance records its map layout version and table sizes in a pin;
#   pins of another layout version (or without a layout pin, or with a
#   foreign one) are refused by every command with the way to migrate, and
#   nothing is changed (same pins, same map ids, same attached program);
# - table sizes asked of an existing instance must match its own;
# - the NAT reverse table does not exist until the first NAT service, and
#   then has the size the attach asked for; `status` reports every map.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
S=$PWD/build/sluice
need_root
[ -x "$S" ] || skip "build/sluice is missing: run make"
command -v bpftool >/dev/null || skip "needs bpftool"

NS=sl-lay-$$
PIN=/sys/fs/bpf/sluice-lay-$$
TMP=$(mktemp -d /tmp/sl-lay-XXXXXX)
cleanup() { ip netns del "$NS" 2>/dev/null; rm -rf "$PIN" "$TMP"; }
trap cleanup EXIT
ip netns add "$NS" || skip "cannot create a network namespace"
ip -n "$NS" link add veth0 type veth peer name veth1 || skip "no veth"
ip -n "$NS" link set veth0 up; ip -n "$NS" link set veth1 up
sl() { nsenter --net=/run/netns/"$NS" "$S" -d "$PIN" "$@"; }

sl attach veth0 xdpgeneric conn 4096 conn-new 2048 nat 8192 >/dev/null
check "attach creates an instance with chosen sizes" test -e "$PIN/layout"
sl service add web vip 10.9.0.1 port 80 protocol tcp mode dsr >/dev/null
OUT=$(sl -j status)
check "status -j: layout version and a memory row per map" \
	test "$(echo "$OUT" | json 'j["layout_version"] > 1 and len(j["memory"]["maps"]) >= 19')" = True
check "no NAT service: the NAT table is not made" \
	test "$(echo "$OUT" | json '[m["present"] for m in j["memory"]["maps"] if m["name"]=="nat_rev"][0]')" = False
check "status -j: conn_est sized as asked (4096)" \
	test "$(echo "$OUT" | json '[m["max_entries"] for m in j["memory"]["maps"] if m["name"]=="conn_est"][0]')" = 4096
check "status text lists the memory of every map" \
	bash -c "'$S' -d '$PIN' status | grep -q 'conn_est .*bytes'"
sl service add nat1 vip 10.9.0.2 port 80 protocol tcp mode nat >/dev/null
OUT=$(sl -j status)
check "first NAT service: the NAT table exists with the attach's size (8192)" \
	test "$(echo "$OUT" | json '[(m["present"], m["max_entries"]) for m in j["memory"]["maps"] if m["name"]=="nat_rev"][0]')" = "(True, 8192)"
check "a second attach with other sizes is refused" \
	bash -c "! nsenter --net=/run/netns/$NS '$S' -d '$PIN' attach veth1 xdpgeneric conn 8192 2>$TMP/err"
check "  ... naming the size the instance has" grep -q "already has 4096 entries" "$TMP/err"
check "a second attach with the same sizes works" \
	bash -c "nsenter --net=/run/netns/$NS '$S' -d '$PIN' attach veth1 xdpgeneric conn 4096 >/dev/null"
sl detach veth1 >/dev/null

# What must not change while the pins are refused.
snapshot() {
	{ ls "$PIN"; bpftool -j map show pinned "$PIN/svc_index" | json 'j["id"]';
	  bpftool -j map show pinned "$PIN/conn_est" | json 'j["id"]';
	  ip -n "$NS" -d link show veth0 | grep -o 'prog/xdp id [0-9]*'; }
}
sl export > "$TMP/cfg.yaml"
GOOD_ID=$(bpftool -j map show pinned "$PIN/layout" | json 'j["id"]')
mv_layout() {	# keep the real one alive under another name
	bpftool map pin id "$GOOD_ID" "$PIN/layout_saved" 2>/dev/null
	rm -f "$PIN/layout"
}
# fake_layout MAGIC VERSION: a layout pin as another build would make it
fake_layout() {
	bpftool map create "$PIN/layout" type array key 4 value 32 entries 1 name sluice_layout &&
	bpftool map update pinned "$PIN/layout" key 0 0 0 0 value $($PY -c "
import struct,sys; print(' '.join(str(b) for b in struct.pack('<8I', $1, $2, 4096, 2048, 8192, 0, 0, 0)))")
}
refused() {	# refused WHAT EXPECT: every command fails, says EXPECT, changes nothing
	local what=$1 expect=$2 before cmd
	before=$(snapshot)
	for cmd in "status" "service add x vip 10.9.0.3 port 81 protocol tcp" \
		   "weight web 5%" "attach veth0 xdpgeneric" "export" "upgrade"; do
		# shellcheck disable=SC2086
		if sl $cmd >/dev/null 2>"$TMP/err"; then
			fail "$what: '$cmd' succeeded"
		elif ! grep -q "$expect" "$TMP/err" || ! grep -q "sluice destroy" "$TMP/err"; then
			fail "$what: '$cmd' said: $(head -c 300 "$TMP/err")"
		else
			ok "$what: '$cmd' refused, saying '$expect' and how to migrate"
		fi
	done
	check "$what: pins, map ids and the attached program unchanged" \
		test "$before" = "$(snapshot)"
}
mv_layout
fake_layout 0x65636c73 99
refused "pins of layout version 99" "layout version 99"
OUT=$(sl -j status 2>&1)
check "  ... and under -j the refusal is a JSON error" \
	test "$(echo "$OUT" | json '"layout version 99" in j["error"]')" = True
rm -f "$PIN/layout"
refused "pins without a layout pin" "no layout pin"
fake_layout 0x12345678 2
refused "a foreign layout pin" "magic"
rm -f "$PIN/layout"
bpftool map pin id "$GOOD_ID" "$PIN/layout"; rm -f "$PIN/layout_saved"
check "the right layout pin back: commands work again" bash -c "'$S' -d '$PIN' status >/dev/null"
OUT=$(sl export)
check "  ... with the configuration as it was" test "$OUT" = "$(cat "$TMP/cfg.yaml")"
sl detach veth0 >/dev/null
t_done
