#!/usr/bin/env bash
# sluice-test: host-only (sluiced, Prometheus, wrk and tmux in real time: under
# qemu TCG they would judge the emulator's speed and cost CI most of its
# time; their kernel side is tested in the guest by the datapath and lab tests.)
# sluice report against a real rollout (scripts/lab.sh, nat mode under
# XDP, real TCP, sluiced): a canary that is healthy for its first step
# (10 %, 2 s hold) and then refuses every connection with a RST at 25 % is
# rolled back by its gate. The SVG the report writes parses as XML, has a
# step boundary at each step event's time and the rollback marker at the
# rollback's time (data-at-ms, and the x position the time axis gives), a
# failed-gate mark, and a PNG is written through rsvg-convert when present.
# Time bounds are generous (x5).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/rollout_lib.sh
rl_setup rp nft

lab_up xdp nat >/dev/null || { fail "lab up"; t_done; exit; }
lab_service web 4 >/dev/null || { fail "service web"; t_done; exit; }
check "sluiced starts" rl_start
cat >"$RL_DIR/plan.yaml" <<'PLAN'
steps:
  - weight: 10%
    hold: 2s
  - weight: 25%
    hold: 60s
gates:
  - name: errors
    metric: error_ratio
    max_increase: 50%
    confidence: 99.99%
    min_samples: 5
    on_inconclusive: extend
PLAN
rl_load_start 100 40
rl rollout start web -f "$RL_DIR/plan.yaml" >/dev/null
check "step 2 reached within 15 s" rl_wait 15 'r["step"]>=1' web
rl_canary_refuse
check "rolled back within 15 s" rl_wait 15 'r["phase"]=="rolled_back"' web
rl_load_stop

check "sluice report writes an SVG" rl report web -o "$RL_DIR/web.svg"
rl -j rollout history web >"$RL_DIR/history.json"
check "the SVG parses; step boundaries and the rollback marker at the history's times" \
	python3 - "$RL_DIR/web.svg" "$RL_DIR/history.json" <<'PY'
import json, sys, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
ev = json.load(open(sys.argv[2]))["events"]
rid = max(e["rollout_id"] for e in ev)
ev = [e for e in ev if e["rollout_id"] == rid]
t0, t1 = int(root.get("data-t0-ms")), int(root.get("data-t1-ms"))
def marks(cls):
    return [g for g in root.iter(NS + "g") if cls in (g.get("class") or "").split()]
def x_ok(g):	# the line sits where the time axis puts data-at-ms
    at = int(g.get("data-at-ms")); x = float(g.find(NS + "line").get("x1"))
    return abs(x - (70 + (at - t0) * 730 / (t1 - t0))) < 0.2
steps = sorted(int(g.get("data-at-ms")) for g in marks("step"))
want = sorted(e["at_ms"] for e in ev if e["type"] == "step")
rb = [int(g.get("data-at-ms")) for g in marks("rollback")]
rbw = [e["at_ms"] for e in ev if e["type"] == "rollback"]
fails = [c for c in root.iter(NS + "circle") if c.get("class") == "gate-fail"]
print("  steps at", [s - t0 for s in steps], "ms; rollback at", [r - t0 for r in rb], "ms;",
      len(fails), "failed evaluations marked")
ok = (steps == want and len(want) == 2 and rb == rbw and len(rb) == 1 and
      all(x_ok(g) for g in marks("step") + marks("rollback")) and
      rb[0] > steps[1] and len(fails) >= 1 and root.get("data-service") == "web")
sys.exit(0 if ok else 1)
PY
check "the weight line goes 0 -> 10 % -> 25 % -> 0 (rolled back)" \
	python3 - "$RL_DIR/web.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
pl = [p for p in root.iter(NS + "polyline") if p.get("class") == "weight"][0]
ys = [float(p.split(",")[1]) for p in pl.get("points").split()]
# panel top 50, height 150: weight w% at y = 200 - 1.5 w
w = []
for y in ys:
    v = round((200 - y) / 1.5)
    if not w or w[-1] != v:
        w.append(v)
print("  weights drawn:", w)
sys.exit(0 if w == [0, 10, 25, 0] else 1)
PY
msg=$(rl report web nope -o "$RL_DIR/x.svg" 2>&1)
check "a bad ROLLOUT argument is refused ($msg)" grep -q "is not a rollout id" <<<"$msg"
msg=$(rl report web 99999 -o "$RL_DIR/x.svg" 2>&1)
check "an unknown rollout is refused with a message ($msg)" grep -q "no events of rollout 99999" <<<"$msg"
if command -v rsvg-convert >/dev/null; then
	check "--png through rsvg-convert gives a PNG" \
		bash -c "SLUICE_SOCKET=$RL_SOCK build/sluice report web -o $RL_DIR/web.png >/dev/null && head -c 8 $RL_DIR/web.png | od -c | grep -q 'P   N   G'"
else
	echo "  (rsvg-convert not installed: PNG not checked)"
fi
t_done
