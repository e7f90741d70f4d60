#!/usr/bin/env bash
# Permissions and limits:
# - the pin directory is 0700 and root's (made so, or fixed, by attach);
# - the CLI with privileges dropped (capsh, setpriv) names what it lacks
#   (CAP_BPF / CAP_NET_ADMIN / root) instead of a raw EPERM, and changes
#   nothing;
# - `sluice apply` refuses a configuration file others can write (or own,
#   or swap in their directory), and changes nothing;
# - every documented limit (services, backends per pool, backends in all,
#   rings, ring prefixes per family, plan steps and gates, name lengths,
#   udp-idle, table sizes, plan durations, health-check statuses) exceeded
#   by one is a clear error that changes nothing; at the limit it is
#   accepted where that is cheap.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
S=$PWD/build/sluice
need_root
[ -x "$S" ] || skip "build/sluice is missing: run make"
command -v capsh >/dev/null || skip "needs capsh (libcap2-bin)"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"

NS=sl-perm-$$
PIN=/sys/fs/bpf/sluice-perm-$$
TMP=$(mktemp -d /tmp/sl-perm-XXXXXX)
chmod 0755 "$TMP"
cleanup() { ip netns del "$NS" 2>/dev/null; rm -rf "$PIN" "$PIN-x" "$TMP"; }
trap cleanup EXIT
ip netns add "$NS" || skip "cannot create a network namespace"
ip -n "$NS" link add veth0 type veth peer name veth1 || skip "no veth"
ip -n "$NS" link set veth0 up; ip -n "$NS" link set veth1 up
sl() { nsenter --net=/run/netns/"$NS" "$S" -d "$PIN" "$@"; }
# fails WHAT EXPECT CMD...: exit status 1 and EXPECT in the message
fails() {
	local what=$1 expect=$2; shift 2
	if "$@" >"$TMP/out" 2>"$TMP/err"; then fail "$what: succeeded"
	elif ! grep -q -- "$expect" "$TMP/err" "$TMP/out"; then
		fail "$what: said $(head -c 300 "$TMP/err")"
	else ok "$what: refused ('$(head -n1 "$TMP/err" | cut -c1-110)...')"; fi
}
state() { sl export; ls "$PIN"; }

# --- the pin directory
mkdir -p "$PIN"; chmod 0755 "$PIN"
sl attach veth0 xdpgeneric conn 4096 conn-new 1024 nat 4096 >/dev/null
check "attach makes the pin directory 0700 root (was 0755)" \
	test "$(stat -c '%a %u' "$PIN")" = "700 0"
sl service add web vip 10.9.0.1 port 80 protocol tcp >/dev/null
BEFORE=$(state)

# --- privileges
DROP_ALL=cap_bpf,cap_sys_admin,cap_net_admin,cap_perfmon
nocap() { local drop=$1; shift; nsenter --net=/run/netns/"$NS" capsh --drop="$drop" -- -c "$*"; }
fails "attach without CAP_BPF/CAP_SYS_ADMIN/CAP_NET_ADMIN (fresh dir)" "missing: CAP_BPF CAP_NET_ADMIN" \
	nocap $DROP_ALL "'$S' -d '$PIN-x' attach veth1 xdpgeneric"
check "  ... and made no pin directory" test ! -e "$PIN-x"
fails "service add without CAP_BPF" "CAP_BPF" \
	nocap $DROP_ALL "'$S' -d '$PIN' service add w2 vip 10.9.0.2 port 80 protocol tcp"
fails "weight without CAP_BPF" "CAP_BPF" nocap $DROP_ALL "'$S' -d '$PIN' weight web 5%"
fails "attach without CAP_NET_ADMIN only" "missing: CAP_NET_ADMIN" \
	nocap cap_net_admin "'$S' -d '$PIN' attach veth1 xdpgeneric"
fails "status as an unprivileged user" "not root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$S" -d "$PIN" status
OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$S" -j -d "$PIN" status 2>&1)
check "  ... under -j as a JSON error" test "$(echo "$OUT" | json '"needs root" in j["error"]')" = True
check "nothing changed by the refused commands" test "$BEFORE" = "$(state)"

# --- configuration files others can write
cat > "$TMP/c.yaml" <<EOF
services:
  - name: web2
    vip: 10.9.0.5
    port: 80
    protocol: tcp
    mode: nat
    baseline:
      - address: 10.0.0.1
EOF
chmod 0666 "$TMP/c.yaml"
fails "apply of a world-writable file" "writable by everyone" sl apply -f "$TMP/c.yaml"
chmod 0664 "$TMP/c.yaml"
fails "apply of a group-writable file" "writable by its group" sl apply -f "$TMP/c.yaml"
chmod 0644 "$TMP/c.yaml"; chown 65534 "$TMP/c.yaml"
fails "apply of a file another user owns" "owned by uid 65534" sl apply -f "$TMP/c.yaml"
chown 0 "$TMP/c.yaml"; chmod 0777 "$TMP"
fails "apply of a file in a directory others can write (not sticky)" "directory is writable" \
	sl apply -f "$TMP/c.yaml"
chmod 0755 "$TMP"
check "nothing changed by the refused applies" test "$BEFORE" = "$(state)"
check "the same file, 0644 root, applies" bash -c "nsenter --net=/run/netns/$NS '$S' -d '$PIN' apply -f '$TMP/c.yaml' --keep >/dev/null"
check "  ... from stdin too" bash -c "nsenter --net=/run/netns/$NS '$S' -d '$PIN' apply -f - --keep <'$TMP/c.yaml' >/dev/null"
BEFORE=$(state)

# --- limits: one past each is an error that changes nothing
gen() {	# gen KIND N > file: a configuration N of KIND
	$PY - "$1" "$2" <<'PY'
import sys
kind, n = sys.argv[1], int(sys.argv[2])
out = []
def svc(name, vip, bes):
    return (["  - name: %s" % name, "    vip: %s" % vip, "    port: 80",
             "    protocol: tcp", "    mode: nat", "    baseline:"] +
            ["      - address: %s" % b for b in bes])
def addr(base, i):
    return "10.%d.%d.%d" % (base + i // 65536, i // 256 % 256, i % 256)
if kind == "services":
    out.append("services:")
    for i in range(n):
        out += svc("s%d" % i, addr(20, i), [])
elif kind == "pool":
    out.append("services:")
    out += svc("big", "10.30.0.1", [addr(40, i) for i in range(n)])
elif kind == "backends":	# n backends over services of 4096 each
    out.append("services:")
    for k in range((n + 4095) // 4096):
        out += svc("b%d" % k, "10.31.0.%d" % (k + 1),
                   [addr(40 + k, i) for i in range(min(4096, n - k * 4096))])
elif kind in ("steps", "gates"):	# a plan with n steps (or n gates)
    out.append("services:")
    out += svc("plan", "10.32.0.1", ["10.50.0.1"])
    out += ["    canary: [{address: 10.50.0.2}]", "    rollout:", "      steps:"]
    ns = n if kind == "steps" else 1
    out += ["        - {weight: %d%%, hold: 1m}" % (1 + i % 99) for i in range(ns)]
    out.append("      gates:")
    ng = n if kind == "gates" else 1
    out += ["        - {name: g%d, metric: error_ratio, max_increase: 20%%, min_samples: 100}" % i
            for i in range(ng)]
elif kind == "rings":
    out.append("rings:")
    for i in range(n):
        out.append("  r%d: [10.%d.0.0/16]" % (i, 100 + i))
elif kind == "prefixes":
    out += ["rings:", "  many:"]
    out += ["    - 172.%d.%d.0/24" % (16 + i // 256, i % 256) for i in range(n)]
print("\n".join(out))
PY
}
limit() {	# limit KIND N EXPECT: N is one past the limit
	gen "$1" "$2" > "$TMP/l.yaml"
	fails "limit: $1 ($2, one past the limit)" "$3" sl apply -f "$TMP/l.yaml" --keep
	check "  ... changed nothing" test "$BEFORE" = "$(state)"
}
limit services 4097 "more services than the datapath holds (4096)"
limit pool 4097 "4096"
limit backends 65537 "more backends in all services than the datapath holds (65536)"
limit rings 8 "too many rings: at most 7"
limit steps 33 "more than 32 steps"
limit gates 17 "more than 16 gates"
limit prefixes 4097 "more than 4096 IPv4 prefixes"
fails "limit: weight above 100%" "" sl weight web 100.01%
check "  ... changed nothing" test "$BEFORE" = "$(state)"
# the other documented limits (sluice(8) LIMITS), one past each
fails "limit: a service name of 32 characters" "" \
	sl service add "$(printf 'n%.0s' $(seq 32))" vip 10.9.0.9 port 80 protocol tcp
fails "limit: a ring name of 16 characters" "1-15 characters" \
	sl ring add "$(printf 'r%.0s' $(seq 16))" 10.251.0.0/16
fails "limit: udp-idle 86401" "86400" \
	sl service add u1 vip 10.9.0.9 port 53 protocol udp udp-idle 86401
fails "limit: conn-new 1023 (fresh instance)" "1024" \
	nsenter --net=/run/netns/"$NS" "$S" -d "$PIN-x" attach veth1 xdpgeneric conn-new 1023
fails "limit: nat 1023 (fresh instance)" "1024" \
	nsenter --net=/run/netns/"$NS" "$S" -d "$PIN-x" attach veth1 xdpgeneric nat 1023
check "  ... and made no instance" test ! -e "$PIN-x/layout"
gen steps 1 | sed -e 's/hold: 1m/hold: 31d/' >"$TMP/l.yaml"	# a pipe: no /dev/fd in the vmtest guest
fails "limit: a hold of 31 days" "hold" sl apply -f "$TMP/l.yaml" --keep
$PY - <<'PY' >"$TMP/l.yaml"
print("""services:
  - name: hc
    vip: 10.33.0.1
    port: 80
    protocol: tcp
    mode: nat
    health_check: {type: http, path: /, expect: [200, 201, 202, 203, 204, 205, 206, 207, 208]}
    baseline:
      - address: 10.51.0.1""")
PY
fails "limit: 9 expected statuses of a health check" "8" sl apply -f "$TMP/l.yaml" --keep
check "  ... all changed nothing" test "$BEFORE" = "$(state)"
gen rings 7 > "$TMP/l.yaml"
check "at the limit: 7 rings apply" bash -c "nsenter --net=/run/netns/$NS '$S' -d '$PIN' apply -f '$TMP/l.yaml' --keep >/dev/null"
check "  ... and an 8th by the CLI is refused" bash -c "! nsenter --net=/run/netns/$NS '$S' -d '$PIN' ring add r8 10.250.0.0/16 2>/dev/null"
sl detach veth0 >/dev/null
t_done
