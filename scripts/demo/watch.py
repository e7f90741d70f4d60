#!/usr/bin/env python3
"""Print a rollout as it happens, once a second: phase, step, weight, the
per-variant HTTP request rate and error ratio (from Prometheus) and each
gate's verdict with its values (from sluiced). Exits 0 when the rollout
reaches one of the wanted phases, 1 on another final phase or the time
limit. Optional actions: "at-weight BP CMD" runs CMD (a shell line) once
the maps' weight reaches BP basis points.

watch.py SERVICE WANTED[,WANTED] SECONDS PROM_URL [--at-weight BP CMD]
"""
import json, os, subprocess, sys, time, urllib.parse, urllib.request

svc, wanted, secs, prom = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3]), sys.argv[4]
at_bp, at_cmd = None, None
if len(sys.argv) > 6 and sys.argv[5] == "--at-weight":
    at_bp, at_cmd = int(sys.argv[6]), sys.argv[7]
sluice = os.environ["DEMO_SLUICE"].split()
FINAL = ("promoted", "rolled_back", "aborted")


def status():
    out = subprocess.run(sluice + ["-j", "rollout", "status", svc], capture_output=True, text=True)
    return json.loads(out.stdout)["rollouts"][0] if out.returncode == 0 else None


def q(expr):
    try:
        u = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        r = json.load(urllib.request.urlopen(u, timeout=1))["data"]["result"]
        return {x["metric"].get("variant", ""): float(x["value"][1]) for x in r}
    except Exception:
        return {}


end = time.time() + secs
while time.time() < end:
    r = status()
    if r is None:
        time.sleep(0.5)
        continue
    rate = q('sum by (variant) (rate(http_requests_total[5s]))')
    bad = q('sum by (variant) (rate(http_requests_total{code=~"5.."}[5s]))')
    w = r["weight"][0] if r["weight"] else 0
    parts = ["  %-11s step %d/%d weight %6.2f%%" % (r["phase"], r["step"] + 1, r["steps"], w / 100)]
    for v in ("baseline", "canary"):
        n = rate.get(v, 0)
        parts.append("%s %5.0f req/s %5.1f%% 5xx" % (v, n, 100 * bad.get(v, 0) / n if n else 0))
    for g in r["gates"]:
        c, b = g.get("canary"), g.get("baseline")
        parts.append("%s=%s (canary %s, baseline %s, n=%d)" % (
            g["name"], g["outcome"], "-" if c is None else "%.4g" % c,
            "-" if b is None else "%.4g" % b, g["samples_c"]))
    print(" | ".join(parts), flush=True)
    if at_bp is not None and w >= at_bp:
        print("  >>> weight reached %.2f%%: %s" % (at_bp / 100, at_cmd), flush=True)
        subprocess.run(at_cmd, shell=True)
        at_bp = None
    if r["phase"] in wanted:
        print("  => %s: %s" % (r["phase"], r.get("end_reason") or r["status"]), flush=True)
        sys.exit(0)
    if r["phase"] in FINAL:
        print("  => unexpected %s: %s" % (r["phase"], r.get("end_reason")), flush=True)
        sys.exit(1)
    time.sleep(1)
print("  => time limit (%.0f s) reached in phase %s" % (secs, r and r["phase"]), flush=True)
sys.exit(1)
