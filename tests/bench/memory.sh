#!/usr/bin/env bash
# Map memory of an instance by configuration (`make bench-memory`): what
# `sluice -j status` reports (the kernel's memlock of every map, inner maps
# included) for
#   default       attach defaults (1M established + 256K unconfirmed), no NAT
#   default+nat   the same with one NAT service (the NAT table is made then:
#                 1M + 256K entries): the 1M-flow NAT configuration
#   small         conn 65536 conn-new 16384, no NAT
#   small+nat     the same with one NAT service (nat 81920 by default)
# Prints one line per configuration and the biggest maps of each; needs root.
set -u
cd "$(dirname "$0")/../.."
S=$PWD/build/sluice
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
PIN=/sys/fs/bpf/sluice-benchmem-$$
NS=sl-bmem-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf $PIN' EXIT
ip netns add $NS && ip -n $NS link add v0 type veth peer name v1 && ip -n $NS link set v0 up
sl() { nsenter --net=/run/netns/$NS "$S" -d "$PIN" "$@"; }
report() {
	sl -j status | python3 -c "
import json,sys
j=json.load(sys.stdin)['memory']
big=sorted(j['maps'], key=lambda m: -m.get('bytes',0))[:4]
print('%-12s %8.1f MiB   biggest: %s' % ('$1', j['total_bytes']/2**20,
      ', '.join('%s %.1f' % (m['name'], m['bytes']/2**20) for m in big)))"
}
run() {	# run NAME ATTACH-OPTIONS...
	local name=$1; shift
	sl attach v0 xdpgeneric "$@" >/dev/null || exit 1
	report "$name"
	sl service add n vip 10.77.0.1 port 80 protocol tcp mode nat >/dev/null
	report "$name+nat"
	sl detach v0 >/dev/null; sl destroy >/dev/null
}
echo "map memory per configuration ($(nproc) CPUs; per-CPU maps grow with the CPU count)"
run default
run small conn 65536 conn-new 16384
