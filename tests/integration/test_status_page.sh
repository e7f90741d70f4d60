#!/usr/bin/env bash
# sluice-test: host-only (sluiced in real time and a headless Chromium: under
# qemu TCG they would judge the emulator's speed and cost CI most of its
# time; the kernel side is tested in the guest by the datapath and lab tests.)
# sluiced's status page in a real browser (Debian's chromium, headless, its
# own profile directory) against a live rollout in the lab (nat mode under
# XDP, real TCP load, health checks, sluiced on its default listener
# 127.0.0.1:9469 in the LB namespace). The DOM Chromium renders after the
# page's script has fetched /api/status shows the service, its state, step
# and weight, the gate's verdict with values, a backend that fails its
# check as down, and the last transitions; a plan file name, a pause reason
# and a freeze reason carrying markup are shown as text, never run or
# parsed as HTML.
# The page as served holds none of this: it came through the fetch.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup sp chromium curl
URL=http://127.0.0.1:9469
CFG=$RL_DIR/sluice.yaml
# the markup of the plan's name: a file name holds no '/'
EVIL_PLAN="$RL_DIR/<img src=x onerror=alert(1)><script>.yaml"
EVIL_REASON='<script>document.title="pwned"</script><b>bold</b>'
EVIL_FREEZE='</div><iframe srcdoc=x>'

quiet() { "$@" >/dev/null; }
in_lb() { nsenter --net="/run/netns/$(lab_ns lb)" "$@"; }
# browse ARGS...: headless Chromium in the LB namespace on the page, its
# script given 6 s of virtual time (three polls of /api/status)
browse() {
	HOME=$RL_DIR timeout 60 nsenter --net="/run/netns/$(lab_ns lb)" chromium --headless \
		--no-sandbox --disable-gpu --no-first-run --disable-extensions \
		--disable-dev-shm-usage --user-data-dir="$RL_DIR/chromium" \
		--virtual-time-budget=6000 "$@" "$URL/" 2>>"$RL_DIR/chromium.err"
}
dom() { browse --dump-dom >"$1"; }	# FILE: the rendered DOM
# png_width FILE: a PNG's width from its IHDR chunk
png_width() { $PY -c 'import sys,struct; d=open(sys.argv[1],"rb").read(24); print(struct.unpack(">I", d[16:20])[0] if d[:8]==b"\x89PNG\r\n\x1a\n" else 0)' "$1"; }
has() {	# FILE REGEX...: every extended regex in FILE
	local f=$1 re; shift
	for re in "$@"; do
		grep -Eq -- "$re" "$f" || { echo "    no match for: $re"; return 1; }
	done
}
hasnt() { ! grep -Eq -- "$2" "$1"; }
# the sparkline of the default ring's weight: a step line through
# 5 % up to 25 %
sparkline_ok() {
	local pts
	pts=$(grep -o '<polyline points="[^"]*"' "$RL_DIR/dom1.html" | sed 's/.*points="//; s/"$//')
	echo "    points: $pts"
	# two levels or three (5 and 25 %, 0 if seen before the start), rising: y falls
	[ "$($PY -c 'import sys; ys=[float(p.split(",")[1]) for p in sys.argv[1].split()]; print(len(set(ys))>=2 and ys==sorted(ys, reverse=True))' "$pts")" = True ]
}
script_tags() { grep -o '<script' "$1" | wc -l; }

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
# b2 (baseline) is checked on a port nothing listens on: it fails its
# check (a canary backend down would hold the rollout's step)
cat >"$CFG" <<EOF
services:
  - name: web
    vip: $LAB_VIP4
    port: $LAB_PORT
    mode: nat
    health_check: {type: tcp, interval: 200ms, timeout: 200ms, fall: 2, rise: 2}
    baseline:
      backends:
        - address: 10.101.0.11
        - address: 10.101.0.12
          health_check: {type: tcp, port: 9, interval: 200ms, timeout: 200ms, fall: 2, rise: 2}
    canary:
      backends:
        - address: 10.101.0.13
        - address: 10.101.0.14
EOF
check "sluice apply of the service with health checks" lab_sluice apply -f "$CFG"
check "sluiced starts (default listener)" rl_start --config "$CFG"
sleep 1.2	# a snapshot or two
check "/api/status before anyone asked: 503 (the document is built on demand)" \
	[ "$(in_lb curl -s -o /dev/null -w '%{http_code}' "$URL/api/status")" = 503 ]
cat >"$EVIL_PLAN" <<'PLAN'
steps:
  - weight: 5%
    hold: 2s
  - weight: 25%
    hold: 120s
  - weight: 100%
    hold: 10s
gates:
  - name: errors
    metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
    on_inconclusive: extend
PLAN
rl_load_start 100 70
check "rollout start with a plan file named with markup" quiet rl rollout start web -f "$EVIL_PLAN"
check "the rollout reaches step 2 (25 %)" rl_wait 20 'r["phase"]=="progressing" and r["step"]==1' web
check "the gate has evaluated" rl_wait 15 'r["gates"][0]["outcome"] in ("pass","inconclusive")' web

echo "== /api/status and the page as served"
# sluiced builds the document only once it is asked for: 503 until then;
# and it is rebuilt with the once-a-second snapshot, so it may still show
# the moment step 2 began (its gate not evaluated yet), or a snapshot from
# before step 2 (a gate now evaluates in a step's first interval): wait for
# step 2 and its gate
api_status() {
	local t
	for t in $(seq 50); do
		in_lb curl -sf "$URL/api/status" >"$1" &&
			[ "$(json '[s["rollout"]["step"] == 1 and s["rollout"]["gates"][0]["outcome"] in ("pass","inconclusive") for s in j["services"] if s["name"]=="web" and s["rollout"]][0]' <"$1" 2>/dev/null)" = True ] &&
			return 0
		sleep 0.2
	done
	return 1
}
check "/api/status answers within a few seconds of the first request, step 2 and its gate evaluated" \
	api_status "$RL_DIR/status.json"
check "/api/status: web progressing at step 2, 2500 bp in the default ring" \
	[ "$(json '[(s["rollout"]["phase"], s["rollout"]["step"], s["weights"][0]["weight"]) for s in j["services"] if s["name"]=="web"][0]' \
	     <"$RL_DIR/status.json")" = "('progressing', 1, 2500)" ]
check "/api/status: the plan's name as sent, markup and all" \
	[ "$(json 'j["services"][0]["rollout"]["plan_name"]' <"$RL_DIR/status.json")" = "$EVIL_PLAN" ]
in_lb curl -sf "$URL/" >"$RL_DIR/served.html"
check "the page as served: no service data (it comes through the fetch)" \
	hasnt "$RL_DIR/served.html" 'data-service|10\.101\.0\.|progressing'
echo "== the page in headless Chromium, progressing"
check "chromium renders the page" dom "$RL_DIR/dom1.html"
[ -s "$RL_DIR/dom1.html" ] || sed 's/^/    | /' "$RL_DIR/chromium.err" | tail -5
check "DOM: the service's section, its state" \
	has "$RL_DIR/dom1.html" '<section class="service" data-service="web">' \
	'<span class="name">web</span><span class="state progressing">progressing</span>'
check "DOM: step 2/3 with its hold bar" has "$RL_DIR/dom1.html" '<span>step 2/3</span><progress'
check "DOM: the default ring at 25.00 % in the maps and wanted" \
	has "$RL_DIR/dom1.html" '<td>default</td><td class="n weight">25.00 %</td><td class="n">25.00 %</td>'
check "DOM: the weight's sparkline (a step line)" sparkline_ok
check "DOM: the gate's verdict with canary and baseline values" \
	has "$RL_DIR/dom1.html" '<td>errors</td><td>error_ratio</td><td class="verdict (pass|inconclusive)">(pass|inconclusive)</td><td class="n">[0-9.e+-]+</td><td class="n">[0-9.e+-]+</td>'
grep -o '<td>errors</td>.\{0,240\}' "$RL_DIR/dom1.html" | head -n 1 | sed 's/^/    row: /'
check "DOM: per-variant traffic rows" \
	has "$RL_DIR/dom1.html" '<td>baseline</td><td class="n">[0-9.]+</td>' '<td>canary</td><td class="n">[0-9.]+</td>'
check "DOM: health: b2 (failing its check) down, b1 up" \
	has "$RL_DIR/dom1.html" '<td>10\.101\.0\.12:8080</td><td>tcp</td><td class="health down">down</td>' \
	'<td>10\.101\.0\.11:8080</td><td>tcp</td><td class="health up">up</td>'
check "DOM: the last transitions: the start, the step" \
	has "$RL_DIR/dom1.html" '<ol class="events">.*<strong>start</strong>.*<strong>step</strong>'
check "DOM: the plan's name escaped, as text" \
	has "$RL_DIR/dom1.html" 'plan [^<]*&lt;img src=x onerror=alert\(1\)&gt;&lt;script&gt;\.yaml'
check "DOM: no element from the plan's name (no <img>, one <script>: the page's own)" \
	[ "$(script_tags "$RL_DIR/dom1.html")" = 1 -a -z "$(grep -o '<img' "$RL_DIR/dom1.html")" ]

check "chromium takes a screenshot of it (1000 px wide PNG)" \
	quiet browse --window-size=1000,1400 --screenshot="$RL_DIR/page.png"
check "  a PNG, 1000 px wide" [ "$(png_width "$RL_DIR/page.png" 2>/dev/null)" = 1000 ]
[ -n "${SLUICE_STATUS_SHOT:-}" ] && cp "$RL_DIR/page.png" "$SLUICE_STATUS_SHOT"

echo "== paused and frozen with reasons carrying markup"
check "pause with the reason" quiet rl rollout pause web --reason "$EVIL_REASON"
check "paused" rl_wait 5 'r["phase"]=="paused"' web
check "an incident freeze with a reason carrying markup" \
	quiet rl rollout freeze --reason "$EVIL_FREEZE"
sleep 1.2	# the next snapshot (once a second)
check "chromium renders the page again" dom "$RL_DIR/dom2.html"
check "DOM: paused, still step 2/3" \
	has "$RL_DIR/dom2.html" '<span class="state paused">paused</span>' '<span>step 2/3</span>'
check "DOM: the reason in the audit events, escaped" \
	has "$RL_DIR/dom2.html" '<strong>pause</strong>[^<]*&lt;script&gt;document\.title="pwned"&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;'
check "DOM: the reason's script did not run, its markup made no element" \
	[ "$(script_tags "$RL_DIR/dom2.html")" = 1 -a -z "$(grep -o '<b>' "$RL_DIR/dom2.html")" ]
check "DOM: the freeze's banner, its reason escaped" \
	has "$RL_DIR/dom2.html" '<div id="freeze">FROZEN: &lt;/div&gt;&lt;iframe srcdoc=x&gt; \(by [^)]*\)'
check "DOM: no element from the freeze's reason" hasnt "$RL_DIR/dom2.html" '<iframe'
check "DOM: the title is the page's" has "$RL_DIR/dom2.html" '<title>sluiced status</title>'
rl_load_stop

echo "== sluiced stopped"
rl_stop
check "its listener is closed" [ "$(in_lb curl -s -o /dev/null -w '%{http_code}' "$URL/")" = 000 ]
t_done
