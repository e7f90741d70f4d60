#!/usr/bin/env bash
# sluice-test: host-only
# FRR (the second documented routing daemon, doc/guide/bgp.md): the policy
# `sluice bgp config frr` generates, inside the guide's frr.conf, is
# accepted by FRR's own parser (vtysh -C: every daemon's commands, nothing
# started); a broken line is caught the same way (the check can fail).
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh
command -v vtysh >/dev/null || skip "needs vtysh (scripts/deps.sh: frr)"
[ -x /usr/lib/frr/bgpd ] || skip "needs /usr/lib/frr/bgpd (frr)"
D=$(mktemp -d /tmp/sluice-frr.XXXX)
trap 'rm -rf "$D"' EXIT
cat >"$D/svc.yaml" <<'Y'
services:
  - name: web
    vip: 10.200.0.10
    port: 80
    bgp: {communities: ["65001:100", "65001:7"], prepend: 2}
    baseline: [{address: 10.1.0.1, mac: "02:00:00:00:00:01"}]
  - name: api
    vip: 10.200.0.11
    port: 443
    bgp: true
    baseline: [{address: 10.1.0.2, mac: "02:00:00:00:00:02"}]
Y
check "sluice bgp config frr renders the policy" \
	bash -c "build/sluice bgp config frr -f $D/svc.yaml asn 65001 >$D/policy.conf"
check "prepend without asn is refused, naming the line" \
	bash -c "build/sluice bgp config frr -f $D/svc.yaml 2>&1 | grep -q 'svc.yaml:5:10: service .web. prepends'"
check "... and exits with a usage error" \
	bash -c "build/sluice bgp config frr -f $D/svc.yaml >/dev/null 2>&1; test \$? = 2"
# frr.conf as the guide gives it (doc/guide/bgp.md)
frr_conf() {
	printf 'frr defaults traditional\nhostname lb1\n!\n! sluice keeps its VIP routes in kernel table 247: import it into the RIB\nip import-table 247\n!\n'
	cat "$D/policy.conf"
	# eBGP needs an outbound policy (FRR's ebgp-requires-policy): this
	# node originates nothing but the VIPs
	printf '!\nroute-map UPLINK-OUT permit 10\n match source-protocol table\nexit\n'
	printf '!\nrouter bgp 65001\n bgp router-id 10.150.1.2\n neighbor 10.150.1.1 remote-as 65000\n'
	printf ' address-family ipv4 unicast\n  redistribute table 247 route-map SLUICE-VIPS\n  neighbor 10.150.1.1 route-map UPLINK-OUT out\n exit-address-family\nexit\n'
}
frr_conf >"$D/frr.conf"
clean() { ! grep -qi -e 'unknown command' -e 'no such command' -e error <<<"$1"; }
out=$(vtysh -C -f "$D/frr.conf" 2>&1)
check "FRR's parser accepts the whole configuration (vtysh -C)" clean "$out"
[ "$T_FAILS" = 0 ] || { echo "$out"; cat "$D/frr.conf"; }
out=$(/usr/lib/frr/bgpd -C -f "$D/frr.conf" 2>&1 | grep -v 'line 5: ip import-table')
check "bgpd accepts its part (bgpd --dryrun)" clean "$out"
{ frr_conf; printf 'route-map SLUICE-VIPS permit 30\n set bogus 1\nexit\n'; } >"$D/bad.conf"
check "a broken line is reported by the same check" \
	bash -c "vtysh -C -f $D/bad.conf 2>&1 | grep -qi 'unknown command'"
t_done
