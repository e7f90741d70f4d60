#!/usr/bin/env bash
# The sluice CLI end to end against a real instance: programs attached to a
# veth pair in a private network namespace, a private pin directory, real
# UDP flows through XDP. Every command in text and JSON (JSON is parsed), a
# table of bad inputs (each must fail with its own message and leave every
# map byte-identical), apply/export round trip and idempotence, revert
# idempotence. Prints one line per case; exit 0 only if all pass.
#
# The CLI runs under `nsenter --net` rather than `ip netns exec`: the latter
# remounts /sys, which hides /sys/fs/bpf and would give every invocation a
# fresh, private bpffs.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
S=$ROOT/${SLUICE_BUILD:-build}/sluice

[ "$(id -u)" = 0 ] || { echo "needs root (BPF, namespaces)"; exit 77; }
[ -x "$S" ] || { echo "build/sluice is missing: run make"; exit 77; }
for t in bpftool python3 nsenter ip; do
	command -v $t >/dev/null || { echo "needs $t"; exit 77; }
done
# Debian's python without site packages starts in ~15 ms (a pyenv build or
# site imports cost several times that, and the checks run hundreds of times)
PY=python3
[ -x /usr/bin/python3 ] && PY="/usr/bin/python3 -S"

NS=sl-cli-$$
PIN=/sys/fs/bpf/sluice-cli-$$
TMP=$(mktemp -d /tmp/sl-cli-XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT

ip netns add "$NS" || { echo "cannot create a network namespace"; exit 77; }
ip -n "$NS" link add veth0 type veth peer name veth1 || { echo "no veth support"; exit 77; }
ip -n "$NS" link set veth0 up
ip -n "$NS" link set veth1 up
ip -n "$NS" link set lo up

sl() { nsenter --net=/run/netns/"$NS" "$S" -d "$PIN" "$@"; }
inns() { nsenter --net=/run/netns/"$NS" "$@"; }

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }

# run NAME CMD... : must succeed; output in $OUT
run() {
	local name=$1; shift
	OUT=$("$@" 2>"$TMP/err"); RC=$?
	if [ $RC -ne 0 ]; then bad "$name" "rc=$RC $(head -c 300 "$TMP/err")"; return 1; fi
	ok "$name"
}
# has NAME SUBSTRING : $OUT contains it
has() {
	if [[ $OUT == *"$2"* ]]; then ok "$1"; else bad "$1" "no '$2' in: $(echo "$OUT" | head -c 400)"; fi
}
# json NAME PY-EXPR : $OUT parses as JSON and the expression on `d` holds
json() {
	if echo "$OUT" | $PY -c "import json,sys
d=json.load(sys.stdin)
sys.exit(0 if ($2) else 1)" 2>"$TMP/pyerr"; then ok "$1"
	else bad "$1" "$(head -c 200 "$TMP/pyerr") in: $(echo "$OUT" | head -c 400)"; fi
}

# A snapshot of the configuration state: every pinned control map, plus the
# exported configuration. The big mmappable arrays (backends: 64k entries,
# svc_meta, exposure) are hashed byte for byte through mmap (bpftool would
# take seconds to print backends); the others are dumped with bpftool, except
# svc_cfg (array of maps): before 6.7 the kernel waits an RCU grace period
# after every lookup in one (maybe_wait_bpf_programs), ~17 ms under TCG, so
# a dump of its 4096 slots takes 70 s there. The host reads every slot; under
# vmtest only the slots svc_index names and the next few free ones (where a
# new service would land), the rest is the host run's.
cat > "$TMP/maphash.py" <<'PY'
import ctypes, hashlib, mmap, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def bpf(cmd, attr): return libc.syscall(321, cmd, attr, len(attr))
def obj_get(path):
    name = ctypes.create_string_buffer(path.encode())
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("Q", attr, 0, ctypes.addressof(name))
    return bpf(7, attr)                                   # BPF_OBJ_GET
def keys_values(fd, ksize, keys=None):
    # u32 values of the given keys, or of every key (get_next_key walk)
    key, nxt, val = (ctypes.create_string_buffer(ksize) for _ in range(3))
    attr = ctypes.create_string_buffer(128)
    out, first = [], True
    while True:
        if keys is not None:
            if not keys: return out
            struct.pack_into("I", key, 0, keys.pop(0))
        else:
            struct.pack_into("IIQQ", attr, 0, fd, 0,
                             0 if first else ctypes.addressof(key), ctypes.addressof(nxt))
            first = False
            if bpf(4, attr) != 0: return out              # BPF_MAP_GET_NEXT_KEY
            ctypes.memmove(key, nxt, ksize)
        struct.pack_into("IIQQ", attr, 0, fd, 0, ctypes.addressof(key), ctypes.addressof(val))
        if bpf(1, attr) == 0:                             # BPF_MAP_LOOKUP_ELEM
            out.append((key.raw, struct.unpack_from("I", val)[0]))
args = sys.argv[1:]
while args:
    path, size = args.pop(0), args.pop(0)
    fd = obj_get(path)
    if fd < 0:
        print(path, "missing"); continue
    if size.startswith("aom:"):      # aom:INDEX-MAP:SLOTS (slot ids: u32)
        _, index, slots = size.split(":")
        if os.environ.get("SLUICE_IN_VM") == "1":
            ifd = obj_get(index)
            used = sorted(v for _, v in keys_values(ifd, 20)) if ifd >= 0 else []
            free = [i for i in range(int(slots)) if i not in used][:4]
            want = sorted(used + free)
        else:
            want = list(range(int(slots)))
        print(path, keys_values(fd, 4, want))
        continue
    m = mmap.mmap(fd, int(size), mmap.MAP_SHARED, mmap.PROT_READ)
    print(path, hashlib.sha256(m[:]).hexdigest())
PY
snap() {
	local m args=()
	{
		for m in svc_index kill ring_v4 ring_v6 ring_meta; do
			[ -e "$PIN/$m" ] && echo "map dump pinned $PIN/$m"
		done
	} > "$TMP/batch"
	bpftool batch file "$TMP/batch" 2>&1
	# ABI sizes: backends 65536 x 48, svc_meta 4096 x 64, exposure 4096 x 32
	args=("$PIN/backends" $((65536 * 48)) "$PIN/svc_meta" $((4096 * 64))
	      "$PIN/svc_cfg" "aom:$PIN/svc_index:4096")
	[ -e "$PIN/exposure" ] && args+=("$PIN/exposure" $((4096 * 32)))
	$PY "$TMP/maphash.py" "${args[@]}"
	echo "== export"; sl -j export
}

start=$(date +%s)

# ---------------------------------------------------------------- basics
if [ "${SLUICE_IN_VM:-0}" != 1 ]; then	# text only: the host run's
run "version" sl --version && has "version mentions libbpf" "libbpf v"
run "help" sl help && has "help lists objects" "cutover SERVICE blue|green"
run "help object" sl help service && has "help service" "service add NAME vip ADDR"
fi
OUT=$(sl -j status 2>&1); RC=$?
[ $RC -ne 0 ] && [[ $OUT == *'"error"'* ]] && ok "status without instance: JSON error" || bad "status without instance" "$OUT"

# ---------------------------------------------------------------- attach
run "attach xdp" sl attach veth0 xdp && has "attach text" "attached to veth0 (xdp)"
run "attach tc" sl -j attach veth1 tc && json "attach JSON" 'd["mode"]=="tc"'
run "status text" sl status && has "status shows veth0" "attached: veth0" && has "status shows fill" "services:"
run "status JSON" sl -j status && json "status JSON attachments" \
	'sorted(a["mode"] for a in d["attachments"])==["tc","xdp"] and all(a["prog_id"]>0 for a in d["attachments"]) and d["maps"]["conn_established"]["max"]>0'
run "detach tc" sl detach veth1 && has "detach text" "detached from veth1"
run "status after detach" sl -j status && json "one attachment left" 'len(d["attachments"])==1'

# ---------------------------------------------------------------- services
run "service add web" sl service add web vip 192.0.2.10 port 80 && has "add text" "service web added"
run "service add dns (udp)" sl -j service add dns vip 192.0.2.53 port 53 protocol udp affinity client seed 7 \
	&& json "add JSON" 'd["service"]=="dns" and d["action"]=="added"'
run "service add v6" sl service add web6 vip 2001:db8::10 port 443 table-size 251
run "service add udp-idle" sl service add q vip 192.0.2.54 port 443 protocol udp udp-idle 45
run "service show udp-idle" sl service show q && has "show text: udp-idle" "udp-idle 45s"
run "service set udp-idle" sl service set q udp-idle 90
run "service show udp-idle JSON" sl -j service show q && json "show JSON: udp_idle" 'd["services"][0]["udp_idle"]==90'
run "export udp_idle" sl export && has "export: udp_idle" "udp_idle: 90"
run "service show dns default idle" sl -j service show dns && json "udp default idle 30 s" 'd["services"][0]["udp_idle"]==30'
run "service del udp-idle" sl service del q
run "service set" sl service set web6 seed 42 && has "set text" "updated"
run "backend add" sl backend add web 10.1.0.1 mac 02:00:00:00:00:01
run "backend add canary" sl backend add web 10.1.0.2 pool canary mac 02:00:00:00:00:02 weight 50
run "backend add green alias" sl backend add web 10.1.0.3 pool green mac 02:00:00:00:00:03 state draining
run "backend add dev" sl backend add web 10.1.0.4 mac 02:00:00:00:00:04 dev veth0
run "backend add dns" sl backend add dns 10.2.0.1 mac 02:00:00:00:01:01
run "backend add dns canary" sl backend add dns 10.2.0.2 mac 02:00:00:00:01:02 pool canary
run "backend add v6" sl backend add web6 2001:db8:1::1 mac 02:00:00:00:02:01
run "backend set" sl backend set web 10.1.0.1 weight 200 && has "set text" "updated"
run "backend set moves pool" sl backend set web 10.1.0.4 pool canary
run "backend del" sl backend del web 10.1.0.4 && has "del text" "deleted"
run "backend show" sl backend show web && has "backend show text" "10.1.0.2 port 80 weight 50 active mac 02:00:00:00:00:02"
run "pool show JSON" sl -j pool show web canary && json "pool JSON" \
	'[b["address"] for b in d["canary"]]==["10.1.0.2","10.1.0.3"] and d["canary"][1]["state"]=="draining" and "baseline" not in d'
run "service show text" sl service show web && has "show text" "vip 192.0.2.10:80/tcp mode dsr"
run "service show JSON" sl -p service show && json "show JSON" \
	'{s["name"] for s in d["services"]}=={"web","dns","web6"} and [s for s in d["services"] if s["name"]=="dns"][0]["affinity"]=="client" and [s for s in d["services"] if s["name"]=="web"][0]["baseline"][0]["weight"]==200'

# ---------------------------------------------------------------- rings
run "ring add" sl ring add internal 10.0.0.0/8 fd00::/8 && has "ring add text" "ring internal (id 1)"
run "ring add 2" sl ring add early 192.168.0.0/16
run "ring set" sl ring set early 192.168.0.0/16 172.16.0.0/12
run "ring show" sl ring show && has "ring show text" "early (id 2): 172.16.0.0/12 192.168.0.0/16"
run "ring show JSON" sl -j ring show internal && json "ring JSON" 'd["rings"][0]["prefixes"]==["10.0.0.0/8","fd00::/8"]'
run "ring del" sl ring del early
run "ring gone" sl -j ring show && json "ring deleted" '[r["name"] for r in d["rings"]]==["default","internal"]'

# ---------------------------------------------------------------- weight
wof() { sl -j service show "$1" | $PY -c "import json,sys;d=json.load(sys.stdin);print(d['services'][0]['weight']['$2'])"; }
run "weight 5%" sl weight web 5% && has "weight text" "weight 5.00% on all rings (was 0.00%)"
[ "$(wof web default)" = 500 ] && [ "$(wof web internal)" = 500 ] && ok "weight 5% is 500bp on every ring" || bad "weight 5%"
run "weight 0.25%" sl weight web 0.25%; [ "$(wof web default)" = 25 ] && ok "0.25% is 25bp" || bad "0.25%"
run "weight 500bp" sl -j weight web 500bp && json "weight JSON" 'd["weight"]==500 and d["previous"]==25'
run "weight per ring" sl weight web internal 100%
[ "$(wof web internal)" = 10000 ] && [ "$(wof web default)" = 500 ] && ok "ring weight only on its ring" || bad "ring weight"
run "weight dns 50%" sl weight dns 50%

# ---------------------------------------------------------------- traffic + stats
ip -n "$NS" addr add 10.9.0.1/24 dev veth1
ip -n "$NS" route add 192.0.2.0/24 dev veth1
MAC0=$(ip -n "$NS" -j link show veth0 | $PY -c 'import json,sys;print(json.load(sys.stdin)[0]["address"])')
ip -n "$NS" neigh add 192.0.2.53 lladdr "$MAC0" dev veth1
# Forty distinct source ports: an ephemeral port picked at random may repeat
# a closed socket's, and a repeated 5-tuple is one flow, not two.
inns $PY -c "
import socket
for i in range(40):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.9.0.1', 41000 + i))
    s.sendto(b'x' * 10, ('192.0.2.53', 53)); s.close()"
sleep 0.3
run "stats text" sl stats dns && has "stats rows" "canary   internal" && has "stats events" "conn_insert"
run "stats JSON" sl -j stats dns && json "stats counted the flows (client affinity: one client, one variant)" \
	'd["services"][0]["total"]["new_flows"]==40 and d["services"][0]["total"]["packets"]==40 and sum(r["new_flows"] for r in d["services"][0]["rows"] if r["ring"]=="internal")==40 and d["events"]["conn_insert"]>=40'
run "stats all" sl -j stats && json "stats every service" 'len(d["services"])==3'
run "stats watch" sl -j stats dns -w 0.2 -c 2
n=$(echo "$OUT" | wc -l)
[ "$n" = 2 ] && echo "$OUT" | $PY -c "import json,sys
for l in sys.stdin: d=json.loads(l); assert 'rates' in d['services'][0]['rows'][0] and d['interval']>0.1" \
	&& ok "watch: 2 JSON samples with rates" || bad "watch samples" "$OUT"
run "stats watch text" sl stats dns -w 0.1 -c 1 && has "watch text has rates" "pkts/s"

# ---------------------------------------------------------------- cutover
lkg() { sl -j service show "$1" | $PY -c "import json,sys;print(json.load(sys.stdin)['services'][0]['last_known_good'])"; }
run "cutover green" sl cutover web green && has "cutover text" "new flows go to green"
[ "$(wof web default)" = 10000 ] && [ "$(wof web internal)" = 10000 ] && [ "$(lkg web)" = baseline ] \
	&& ok "green: 100% on all rings, lkg blue" || bad "cutover green state"
run "cutover green again" sl -j cutover web green && json "second cutover: no change" 'd["changed"] is False'
run "cutover blue" sl cutover web blue
[ "$(wof web default)" = 0 ] && [ "$(lkg web)" = canary ] && ok "blue: 0%, lkg green" || bad "cutover blue state"

# ---------------------------------------------------------------- revert / resume
run "revert" sl revert web && has "revert text" "reverted: new flows go to canary"
A=$(snap)
[[ $A == *"svc_cfg [(b'"* ]] && ok "the snapshot reads svc_cfg's slots" || bad "snapshot" "no svc_cfg slots in: $A"
run "revert again" sl revert web && has "second revert: no change" "already reverted, nothing changed"
B=$(snap)
[ "$A" = "$B" ] && ok "second revert leaves maps identical" || bad "revert idempotence" "$(diff <(echo "$A") <(echo "$B") | head)"
run "revert JSON again" sl -j revert web && json "revert JSON changed=false" 'd["changed"] is False and d["service"]=="web"'
run "revert --reset" sl -j revert web --reset && json "reset is a change" 'd["changed"] is True and d["reset"] is True'
run "revert --all" sl -j revert --all && json "revert --all changed" 'd["changed"] is True and d["all"] is True and d["services"]==3'
A=$(snap)
run "revert --all again" sl revert --all && has "revert --all no change" "already reverted, nothing changed"
B=$(snap)
[ "$A" = "$B" ] && ok "second revert --all leaves maps identical" || bad "revert --all idempotence"
run "status shows global revert" sl status && has "status kill" "ALL services reverted"
run "resume --all" sl resume --all && has "resume text" "global revert cleared" && has "resume notes per-service" "still reverted individually"
run "resume web" sl resume web && has "resume web text" "resumed"
run "resume web again" sl -j resume web && json "resume no change" 'd["changed"] is False'

# ---------------------------------------------------------------- apply / export
run "weight before export" sl weight web internal 100%
run "export" sl export; echo "$OUT" > "$TMP/state.yaml"
has "export has rings" 'internal: ["10.0.0.0/8", "fd00::/8"]'
has "export has per-ring weight" "internal: 100%"
run "export JSON" sl -j export && json "export JSON" 'len(d["services"])==3 and d["rings"]["internal"]==["10.0.0.0/8","fd00::/8"]'
echo "$OUT" > "$TMP/state.json"
A=$(snap)
run "apply own export" sl apply -f "$TMP/state.yaml" && has "apply of export: no change" "0 changes, nothing to do"
run "apply JSON export" sl -j apply -f "$TMP/state.json" && json "JSON export applies with no change" 'd["changes"]==0'
B=$(snap)
[ "$A" = "$B" ] && ok "apply of the export leaves maps identical" || bad "apply export identical" "$(diff <(echo "$A") <(echo "$B") | head)"

cat > "$TMP/new.yaml" <<'Y'
# a desired state: web changes, dns goes, api comes, a ring is added
rings:
  internal: [10.0.0.0/8, "fd00::/8"]
  early: [192.168.0.0/16]
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    weight:
      default: 1%
      early: 10%
      internal: 100%
    last_known_good: baseline
    blue:
      backends:
        - {address: 10.1.0.1, mac: "02:00:00:00:00:01", weight: 200}
    green:
      backends:
        - address: 10.1.0.2
          mac: "02:00:00:00:00:02"
          weight: 50
        - {address: 10.1.0.3, mac: "02:00:00:00:00:03", state: draining}
  - name: web6
    vip: "2001:db8::10"
    port: 443
    seed: 42
    table_size: 251
    baseline:
      - {address: "2001:db8:1::1", mac: "02:00:00:00:02:01"}
  - name: api
    vip: 192.0.2.20
    port: 8080
    protocol: tcp
    affinity: client
    weight: 0.5%
    baseline:
      backends: [{address: 10.3.0.1, mac: "02:00:00:00:03:01", dev: veth0}]
    canary:
      backends: [{address: 10.3.0.2, mac: "02:00:00:00:03:02"}]
Y
run "apply --dry-run" sl -j apply -f "$TMP/new.yaml" --dry-run && json "dry run plans" \
	'd["dry_run"] and d["changes"]==4 and {(i["kind"],i["name"],i["result"]) for i in d["items"]}>={("service","dns","deleted"),("service","api","added"),("service","web","updated"),("ring","early","added"),("service","web6","unchanged")}'
B=$(snap)
[ "$(snap)" = "$B" ] && [ "$(sl -j service show dns | head -c 20)" != "" ] && ok "dry run changed nothing" || bad "dry run"
run "apply new" sl apply -f "$TMP/new.yaml" && has "apply reports changes" "4 changes"
run "state after apply" sl -j service show && json "applied state" \
	'{s["name"] for s in d["services"]}=={"web","web6","api"} and [s for s in d["services"] if s["name"]=="web"][0]["weight"]=={"default":100,"internal":10000,"early":1000} and [s for s in d["services"] if s["name"]=="api"][0]["baseline"][0]["dev"]=="veth0"'
A=$(snap)
run "apply again" sl -j apply -f "$TMP/new.yaml" && json "second apply: no change" 'd["changes"]==0 and all(i["result"]=="unchanged" for i in d["items"])'
B=$(snap)
[ "$A" = "$B" ] && ok "second apply leaves maps identical" || bad "apply idempotence" "$(diff <(echo "$A") <(echo "$B") | head)"
run "export after apply" sl export; echo "$OUT" > "$TMP/new-export.yaml"
run "restore old state" sl apply -f "$TMP/state.yaml" && has "restore changes" "changes"
run "export restored" sl export
[ "$OUT" = "$(cat "$TMP/state.yaml")" ] && ok "round trip: apply(export) reproduces the state" || bad "round trip" "$(diff <(echo "$OUT") "$TMP/state.yaml" | head)"
run "apply new again" sl apply -f "$TMP/new.yaml"
run "export again" sl export
[ "$OUT" = "$(cat "$TMP/new-export.yaml")" ] && ok "round trip 2: same export" || bad "round trip 2"
sl revert web >/dev/null   # a revert survives an apply: not part of the configuration
run "apply keeps kill switch" sl apply -f "$TMP/new.yaml"
run "kill still set" sl -j service show web && json "revert survives apply" 'd["services"][0]["revert"]=="revert"'
sl resume web >/dev/null

# ---------------------------------------------------------------- bad inputs
# name | expected exit code | distinctive message | command...
Y() { printf '%s\n' "$@" > "$TMP/bad.yaml"; }
# badcase checks parsing, validation and error text: nothing kernel-specific,
# so under vmtest (qemu TCG, ~1 s a command) it is left to the host run.
# kbadcase also runs there: errors found against the kernel's state (devices,
# attachments, live maps) and validate-then-apply of a whole file.
badcase() {
	[ "${SLUICE_IN_VM:-0}" = 1 ] && return 0
	kbadcase "$@"
}
kbadcase() {
	local name=$1 want_rc=$2 msg=$3; shift 3
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ $rc -ne "$want_rc" ]; then bad "bad: $name" "rc=$rc want $want_rc: $out"; return; fi
	if [[ $out != *"$msg"* ]]; then bad "bad: $name" "no '$msg' in: $out"; return; fi
	# Under qemu TCG a snapshot costs seconds: there the whole table is
	# compared once at its end (FULL0), which any change would still show.
	if [ "${SLUICE_IN_VM:-0}" != 1 ] && [ "$(snap)" != "$BASE" ]; then
		bad "bad: $name" "maps changed"; BASE=$(snap); return
	fi
	ok "bad: $name"
}
FULL0=$(snap)
BASE=$(snap)
M=mac
badcase "weight over 100%"      2 "weight '101%' is out of range" sl weight web 101%
badcase "weight over 10000bp"   2 "out of range" sl weight web 10001bp
badcase "weight without unit"   2 "'5' is not a weight" sl weight web 5
badcase "weight too fine"       2 "not a weight" sl weight web 0.125%
badcase "weight negative"       2 "not a weight" sl weight web -5%
badcase "weight unknown svc"    1 "no service 'nosuch'" sl weight nosuch 5%
badcase "weight unknown ring"   1 "no ring 'nosuch'" sl weight web nosuch 5%
badcase "weight JSON error"     2 '{"error":"weight' sl -j weight web 200%
kbadcase "service exists"        1 "service 'web' already exists" sl service add web vip 192.0.2.10 port 80
badcase "service bad vip"       2 "'300.1.1.1' is not an IPv4 or IPv6 address" sl service add x vip 300.1.1.1 port 80
badcase "service port range"    2 "port: 70000 is out of range" sl service add x vip 192.0.2.99 port 70000
badcase "service no port"       2 "'port PORT' is required" sl service add x vip 192.0.2.99
badcase "service no vip"        2 "'vip ADDR' is required" sl service add x port 80
badcase "service bad proto"     2 "protocol must be tcp or udp" sl service add x vip 192.0.2.99 port 80 protocol sctp
badcase "service ipip no tunnel" 1 "ipip needs tunnel-source" sl service add x vip 192.0.2.99 port 80 mode ipip
kbadcase "service VIP taken"     1 "is already service 'web'" sl service add x vip 192.0.2.10 port 80
badcase "service bad name"      1 "service name 'bad name!'" sl service add 'bad name!' vip 192.0.2.99 port 80
badcase "service table prime"   1 "table size 100 must be a prime" sl service add x vip 192.0.2.99 port 80 table-size 100
badcase "service bad keyword"   2 "unknown service keyword 'colour'" sl service add x vip 192.0.2.99 port 80 colour red
badcase "service udp-idle 0"    2 "udp-idle: must be 1..86400 seconds" sl service add x vip 192.0.2.99 port 80 protocol udp udp-idle 0
badcase "service udp-idle range" 2 "udp-idle: 86401 is out of range" sl service add x vip 192.0.2.99 port 80 protocol udp udp-idle 86401
badcase "service del unknown"   1 "no service 'nosuch'" sl service del nosuch
kbadcase "backend duplicate"     1 "already has backend 10.1.0.1 port 80" sl backend add web 10.1.0.1 $M 02:00:00:00:00:09
badcase "backend dup other pool" 1 "already has backend 10.1.0.2" sl backend add web 10.1.0.2 pool baseline $M 02:00:00:00:00:09
badcase "backend no mac (DSR)"  1 "DSR needs the backend's MAC" sl backend add web 10.1.0.9
badcase "backend bad mac"       2 "'02:00:00:00:00' is not a MAC address" sl backend add web 10.1.0.9 $M 02:00:00:00:00
badcase "backend bad address"   2 "'10.1.0.999' is not an IPv4 or IPv6 address" sl backend add web 10.1.0.999 $M 02:00:00:00:00:09
badcase "backend family"        1 "address family differs from the VIP's" sl backend add web fd00::9 $M 02:00:00:00:00:09
badcase "backend weight 0"      2 "weight: must be 1..65535" sl backend add web 10.1.0.9 $M 02:00:00:00:00:09 weight 0
badcase "backend weight big"    2 "weight: 70000 is out of range" sl backend add web 10.1.0.9 $M 02:00:00:00:00:09 weight 70000
badcase "backend bad state"     2 "state must be active or draining" sl backend add web 10.1.0.9 $M 02:00:00:00:00:09 state sleeping
kbadcase "backend no device"     1 "no device 'nosuchdev0'" sl backend add web 10.1.0.9 $M 02:00:00:00:00:09 dev nosuchdev0
badcase "backend DSR port"      1 "which DSR cannot rewrite" sl backend add web 10.1.0.9 $M 02:00:00:00:00:09 port 8080
badcase "backend bad pool"      2 "pool must be baseline, canary, blue or green" sl backend add web 10.1.0.9 pool purple
badcase "backend del unknown"   1 "has no backend 10.1.0.77" sl backend del web 10.1.0.77
badcase "backend set unknown"   1 "has no backend 10.1.0.77" sl backend set web 10.1.0.77 weight 5
badcase "ring exists"           1 "ring 'internal' already exists" sl ring add internal 10.0.0.0/8
kbadcase "ring overlap"          1 "overlaps 10.0.0.0/8 of ring 'internal'" sl ring add other 10.1.0.0/16
badcase "ring overlap inside"   1 "prefixes 1 and 2 overlap" sl ring add other 172.16.0.0/12 172.16.1.0/24
badcase "ring host bits"        2 "'10.1.2.3/16' has host bits set" sl ring add other 10.1.2.3/16
badcase "ring bad prefix"       2 "'10.1.0.0/33' is not a prefix" sl ring add other 10.1.0.0/33
badcase "ring named default"    2 "ring 'default' is built in" sl ring add default 172.16.0.0/12
badcase "ring del unknown"      1 "no ring 'nosuch'" sl ring del nosuch
badcase "ring set unknown"      1 "no ring 'nosuch'" sl ring set nosuch 172.16.0.0/12
badcase "cutover bad color"     2 "blue (baseline) or green (canary), not 'purple'" sl cutover web purple
badcase "cutover unknown"       1 "no service 'nosuch'" sl cutover nosuch green
badcase "revert no target"      2 "revert needs a SERVICE or --all" sl revert
badcase "revert unknown"        1 "no service 'nosuch'" sl revert nosuch
badcase "resume both"           2 "not both" sl resume web --all
badcase "stats unknown"         1 "no service 'nosuch'" sl stats nosuch
badcase "stats bad interval"    2 "'abc' is not a number of seconds" sl stats -w abc
badcase "unknown object"        2 "unknown object 'frobnicate'; try 'sluice help'" sl frobnicate
badcase "ambiguous object"      2 "ambiguous object 'st' (status, stats)" sl st
badcase "unknown command"       2 "unknown command 'frob'" sl service frob
badcase "unknown option"        2 "unknown option '-x'" sl -x status
kbadcase "attach no device"      1 "no device 'nosuchdev0'" sl attach nosuchdev0
badcase "attach bad mode"       2 "attach mode must be xdp, xdpgeneric or tc" sl attach veth0 sideways
kbadcase "detach not attached"   1 "sluice is not attached to 'lo'" sl detach lo
badcase "apply missing file"    1 "cannot open" sl apply -f "$TMP/nonexistent.yaml"
badcase "apply no -f"           2 "apply needs -f FILE" sl apply

# YAML: each error names file:line:col
V='    vip: 192.0.2.30'
Y 'servics: []'
badcase "yaml unknown top key"  1 "bad.yaml:1:1: unknown key 'servics' in the configuration" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    colour: red'
badcase "yaml unknown svc key"  1 "bad.yaml:5:5: unknown key 'colour' in service 'x'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: "80"'
badcase "yaml quoted int"       1 "bad.yaml:4:11: port: expected an integer, got the quoted string" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: http'
badcase "yaml port not int"     1 "port: expected an integer 1..65535, got 'http'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 70000'
badcase "yaml port range"       1 "port: 70000 is out of range" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' '    port: 80'
badcase "yaml missing vip"      1 "bad.yaml:2:5: service 'x': missing required key 'vip'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    weight: 150%'
badcase "yaml weight range"     1 "weight: '150%' is out of range" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    weight: 5'
badcase "yaml weight unit"      1 "weight: '5' is not a weight" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    weight: {nosuch: 5%}'
badcase "yaml weight ring"      1 "weight for unknown ring 'nosuch'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - {name: x, vip: 192.0.2.30, port: 80}' '  - {name: x, vip: 192.0.2.31, port: 80}'
badcase "yaml duplicate service" 1 "bad.yaml:3:5: duplicate service name 'x' (first at line 2)" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - {name: x, vip: 192.0.2.30, port: 80}' '  - {name: y, vip: 192.0.2.30, port: 80}'
badcase "yaml duplicate VIP"    1 "192.0.2.30 port 80/tcp is already service 'x'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    port: 81'
badcase "yaml duplicate key"    1 "bad.yaml:5:5: duplicate key 'port'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline:' '      - {address: 10.4.0.1, mac: "02:00:00:00:04:01"}' \
  '    canary:' '      - {address: 10.4.0.1, mac: "02:00:00:00:04:02"}'
badcase "yaml duplicate backend" 1 "bad.yaml:8:9: duplicate backend 10.4.0.1 port 80" sl apply -f "$TMP/bad.yaml"
Y 'rings:' '  a: [10.0.0.0/8]' '  b: [10.20.0.0/16]'
badcase "yaml ring overlap"     1 "bad.yaml:3:7: ring 'b': prefix 10.20.0.0/16 overlaps 10.0.0.0/8 of ring 'a'" sl apply -f "$TMP/bad.yaml"
Y 'rings:' '  a: [10.0.0.1/8]'
badcase "yaml ring host bits"   1 "has host bits set" sl apply -f "$TMP/bad.yaml"
Y 'rings:' '  a: 10.0.0.0/8'
badcase "yaml ring not list"    1 "ring 'a': expected a list of prefixes, got a scalar" sl apply -f "$TMP/bad.yaml"
Y 'rings: {a: [], b: [], c: [], d: [], e: [], f: [], g: [], h: []}'
badcase "yaml too many rings"   1 "too many rings" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  name: x'
badcase "yaml services not list" 1 "bad.yaml:2:3: services: expected a list, got a mapping" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline:' '      backends: [10.4.0.1]'
badcase "yaml backend not map"  1 "expected a mapping, got a scalar" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline:' '      backends:' '        - {mac: "02:00:00:00:04:01"}'
badcase "yaml backend address"  1 "missing required key 'address'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: [x' "$V"
badcase "yaml syntax"           1 "bad.yaml:3:" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline: []' '    blue: []'
badcase "yaml baseline+blue"    1 "use either baseline/canary or blue/green" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    mode: ipip'
badcase "yaml ipip no tunnel"   1 "bad.yaml:2:5: service 'x': ipip needs tunnel-source" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    mode: bogus'
badcase "yaml mode unknown"     1 "mode: must be dsr, ipip or nat, not 'bogus'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline: [{address: 10.4.0.1}]'
badcase "yaml DSR no mac"       1 "DSR needs the backend's MAC" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    table_size: 100'
badcase "yaml table prime"      1 "table_size: 100 is not a prime" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    protocol: udp' '    udp_idle: 0'
badcase "yaml udp_idle range"   1 "bad.yaml:6:15: udp_idle: 0 is out of range 1..86400" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline: [{address: "fd00::1", mac: "02:00:00:00:04:01"}]'
badcase "yaml backend family"   1 "address family differs" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    baseline: [{address: 10.4.0.1, mac: "02:00:00:00:04:01", dev: nosuchdev0}]'
kbadcase "yaml no device"        1 "no device 'nosuchdev0'" sl apply -f "$TMP/bad.yaml"
# a valid new service before an invalid one: nothing at all is applied
Y 'services:' '  - {name: fresh, vip: 192.0.2.40, port: 80}' '  - {name: broken, vip: 192.0.2.41, port: 80, protocol: sctp}'
kbadcase "yaml valid+invalid"    1 "protocol: must be tcp or udp, not 'sctp'" sl apply -f "$TMP/bad.yaml"
# passes the parser, fails the library check of the second service
Y 'services:' '  - {name: fresh, vip: 192.0.2.40, port: 80}' '  - {name: broken, vip: 192.0.2.41, port: 80, table_size: 3, baseline: [{address: 10.4.0.1, mac: "02:00:00:00:04:01"}, {address: 10.4.0.2, mac: "02:00:00:00:04:02"}]}'
kbadcase "yaml lib check, 2nd svc" 1 "bad.yaml:3:5: service 'broken': table size 3 is too small" sl apply -f "$TMP/bad.yaml"
# --keep: live services stay, so their VIPs and ring prefixes still conflict
Y 'services:' '  - {name: other, vip: 192.0.2.10, port: 80}'
kbadcase "yaml --keep VIP taken" 1 "is already service 'web'" sl apply --keep -f "$TMP/bad.yaml"
Y 'rings:' '  other: [10.1.0.0/16]'
kbadcase "yaml --keep ring overlap" 1 "overlaps 10.0.0.0/8 of live ring 'internal', which is kept" sl apply --keep -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    weight: {default: 5%, default: 6%}'
badcase "yaml duplicate ring weight" 1 "duplicate weight for ring 'default'" sl apply -f "$TMP/bad.yaml"
Y 'services:' '  - name: x' "$V" '    port: 80' '    last_known_good: purple'
badcase "yaml lkg"              1 "last_known_good: must be baseline, canary, blue or green" sl apply -f "$TMP/bad.yaml"
badcase "yaml JSON error"       1 '{"error":"' sl -j apply -f "$TMP/bad.yaml"
[ "$(snap)" = "$FULL0" ] && ok "all maps (backends too) identical after the bad-input table" || bad "bad inputs changed the maps"

# ---------------------------------------------------------------- teardown
run "service del" sl service del api && has "del text" "deleted"
run "detach" sl detach veth0
run "destroy" sl destroy
[ ! -e "$PIN" ] && ok "destroy removed the pin dir" || bad "destroy"

echo "$pass passed, $fail failed ($(( $(date +%s) - start ))s)"
[ "$fail" -eq 0 ]
