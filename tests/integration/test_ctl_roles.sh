#!/usr/bin/env bash
# The control socket's roles (issue 19): sluiced runs a plan's command
# gates, pre_step_hook and url: fetches as root, so a member of
# --socket-group must not be able to choose them.
# - a member of the group (a throwaway user, the group among its
#   supplementary groups) steers rollouts: start of a plan without
#   commands or URLs of its own, pause, resume, abort, freeze; and may
#   start the --config file's plan (root's file) even with a command gate;
# - it may not start a plan with a command gate, a pre_step_hook, a gate
#   url: or a budget url:, here or for the fleet, nor send the fleet a
#   configuration: each refusal (code 33) names root and what in the plan
#   needs it, and starts nothing;
# - root may; a user outside the group (the socket made 0666 by hand)
#   may only read: status works, pause names the control role.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SLUICED=$PWD/build/sluiced
S=$PWD/build/sluice
need_root
[ -x "$SLUICED" ] || skip "build/sluiced is missing: run make"
for t in setpriv useradd groupadd; do
	command -v $t >/dev/null || skip "needs $t"
done

NS=sl-roles-$$
PIN=/sys/fs/bpf/sluice-roles-$$
D=$(mktemp -d /tmp/sl-roles-XXXXXX)
chmod 0755 "$D"
GRP=slrg$$
USR=slru$$
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	userdel "$USR" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN" "$D" "/tmp/pwned-$$"
	return 0
}
trap cleanup EXIT
groupadd "$GRP" || skip "cannot add a group"
useradd -M -N -s /usr/sbin/nologin -G "$GRP" "$USR" || skip "cannot add a user"
ip netns add "$NS" || skip "cannot create a network namespace"
ip -n "$NS" link add veth0 type veth peer name veth1 || skip "no veth"
ip -n "$NS" link set veth0 up; ip -n "$NS" link set veth1 up
in_ns() { nsenter --net=/run/netns/"$NS" "$@"; }
in_ns "$S" -d "$PIN" attach veth0 xdpgeneric >/dev/null || skip "cannot attach XDP"

cat >"$D/sluice.yaml" <<YAML
services:
  - name: web
    vip: 10.9.0.1
    port: 80
    protocol: tcp
    mode: nat
    baseline:
      - address: 10.0.0.1
    canary:
      - address: 10.0.0.2
    rollout:
      steps:
        - {weight: 5%, hold: 10m}
      gates:
        - {metric: command, command: /bin/true, result: exit}
YAML
in_ns "$S" -d "$PIN" apply -f "$D/sluice.yaml" --keep >/dev/null || { fail "apply"; t_done; exit; }
plan() {	# plan FILE EXTRA-YAML: a one-step plan with an error-ratio gate, plus EXTRA
	{
		printf 'steps:\n  - {weight: 5%%, hold: 10m}\ngates:\n  - {name: errors, metric: error_ratio, max_increase: 20%%}\n'
		printf '%b' "${2:-}"
	} >"$1"
	chmod 0644 "$1"
}
plan "$D/plain.yaml"
plan "$D/cmd.yaml" '  - {name: smoke, metric: command, command: "touch /tmp/pwned-$$", result: exit}\n'
plan "$D/hook.yaml" 'pre_step_hook: "touch /tmp/pwned-$$"\n'
plan "$D/url.yaml" '  - {name: prom, metric: prometheus, query: "up", url: "http://127.0.0.1:19479", max: 1}\n'
plan "$D/budget.yaml" '  - {name: burn, metric: burn_rate}\nbudget: {slo: 99.9%, error_ratio_query: "x{{window}}", url: "http://127.0.0.1:19479"}\n'

SOCK=$D/ctl.sock
# nsenter itself in the background (not through the in_ns function, whose
# subshell would be $!, and killing it would leave sluiced running)
nsenter --net=/run/netns/"$NS" "$SLUICED" --socket "$SOCK" --socket-group "$GRP" --db "$D/state.db" --pin-dir "$PIN" \
	--config "$D/sluice.yaml" --audit-log "$D/audit.jsonl" --metrics off >"$D/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	SLUICE_SOCKET=$SOCK "$S" rollout status >/dev/null 2>&1 && break
	sleep 0.05
done
check "sluiced answers root" env SLUICE_SOCKET="$SOCK" "$S" rollout status

# member CMD...: the CLI as the group's member (the group supplementary)
member() { SLUICE_SOCKET=$SOCK setpriv --reuid "$USR" --regid users --init-groups "$S" "$@"; }
other() { SLUICE_SOCKET=$SOCK setpriv --reuid 61077 --regid 61077 --clear-groups "$S" "$@"; }
root() { SLUICE_SOCKET=$SOCK "$S" "$@"; }
phase() { root -j rollout status web 2>/dev/null | json 'j["rollouts"][0]["phase"]' 2>/dev/null; }
refused() {	# refused WHAT EXPECT CLI...: refused, EXPECT in the message, no rollout started
	local what=$1 expect=$2; shift 2
	if "$@" >"$D/out" 2>&1; then fail "$what: accepted"
	elif ! grep -q -- "$expect" "$D/out"; then fail "$what: said $(head -c 300 "$D/out")"
	else ok "$what: refused ('$(head -n1 "$D/out" | cut -c1-120)...')"; fi
}

check "the group's member may read: status" member rollout status
check "  ... and start a plan without commands or URLs" member rollout start web -f "$D/plain.yaml"
check "  ... pause it" member rollout pause web --reason roles-test
check "  ... resume it" member rollout resume web
check "  ... abort it" member rollout abort web
check "  ... freeze and unfreeze" bash -c "SLUICE_SOCKET=$SOCK setpriv --reuid $USR --regid users --init-groups $S rollout freeze --reason roles && SLUICE_SOCKET=$SOCK setpriv --reuid $USR --regid users --init-groups $S rollout unfreeze"
refused "the member starts a plan with a command gate" "needs root: gate 'smoke' runs a command" \
	member rollout start web -f "$D/cmd.yaml"
refused "the member starts a plan with a pre_step_hook" "needs root: its pre_step_hook runs a command" \
	member rollout start web -f "$D/hook.yaml"
refused "the member starts a plan with a gate url:" "needs root: gate 'prom' fetches its own url" \
	member rollout start web -f "$D/url.yaml"
refused "the member starts a plan with a budget url:" "needs root: its budget fetches its own url" \
	member rollout start web -f "$D/budget.yaml"
refused "the member sends the fleet a plan with a command gate" "needs root: gate 'smoke'" \
	member rollout start web --fleet -f "$D/cmd.yaml"
# (raw: the CLI checks a file of its own first)
R=$(SLUICE_SOCKET=$SOCK setpriv --reuid "$USR" --regid users --init-groups $PY "$PWD/tests/integration/ctl_limits.py" \
	ask "$SOCK" '{"v":1,"cmd":"fleet","action":"config","plan":"services: []\n","reason":"c.yaml"}')
echo "    $R"
check "the member sends the fleet a configuration: refused, code 33, names root" \
	test "$(echo "$R" | json 'j["code"] == 33 and "needs root: a fleet configuration" in j["error"]')" = True
check "  ... none of them started a rollout" test "$(phase)" = aborted
check "  ... nor ran anything" test ! -e "/tmp/pwned-$$"
check "the member may start the --config file's plan (root's file), command gate and all" \
	member rollout start web
check "  ... and abort it" member rollout abort web
check "root may start the plan with a command gate" root rollout start web -f "$D/cmd.yaml"
check "  ... and the member may abort it" member rollout abort web
rm -f "/tmp/pwned-$$"

# a user outside the group, with the socket opened to everyone by hand
chmod 0666 "$SOCK"
check "a user outside the group may read: status" other rollout status
refused "  ... but not pause" "needs the control role: root, or a member of group '$GRP'" \
	other rollout pause web --reason x
refused "  ... nor start" "needs the control role" other rollout start web -f "$D/plain.yaml"
check "sluiced is still running" kill -0 "$PID"
t_done
