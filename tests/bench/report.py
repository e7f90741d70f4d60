#!/usr/bin/env python3
"""Assemble the benchmark's JSON and print its table.

  report.py RUNS.jsonl COST.json OUT.json key=value...

RUNS.jsonl: one object per measurement from run.sh (case, family, flows,
round, gen = gen -j output, delivered, sink1, sink2; or status/why).
COST.json: progcost -j outputs by name. key=value pairs become "meta",
except costruns=FILE (per-packet cost windows from sluice_cost.sh, one JSON
object a line), scale=FILE (slconf scale/swap output) and modecost=FILE
(one {"round": N, "ns": modecost's JSON line} a line: ns per packet per
forwarding mode, hit and new flow, BPF_PROG_TEST_RUN).
Ratios are computed within a round (same traffic, minutes apart at most)
and summarised by their median, as the machine's speed drifts between runs.
"""
import json
import statistics
import sys

REFS = ("floor", "nft_numgen")


def load_lines(path):
    if not path:
        return []
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except (OSError, ValueError) as e:
        print("report: %s: %s" % (path, e), file=sys.stderr)
        return []


def load_json(path):
    if not path:
        return {}
    try:
        return json.load(open(path))
    except (OSError, ValueError) as e:
        print("report: %s: %s" % (path, e), file=sys.stderr)
        return {}


def dist(v):
    v = [x for x in v if x is not None]
    if not v:
        return None
    return {"n": len(v), "min": min(v), "median": statistics.median(v),
            "max": max(v)}


EV_KEYS = ("conn_hit", "conn_unconfirmed_hit", "conn_miss", "conn_insert",
           "conn_promote", "forwarded")


def ev_delta(r):
    e0, e1 = r.get("ev0"), r.get("ev1")
    if not e0 or not e1:
        return None
    d = {k: e1["events"].get(k, 0) - e0["events"].get(k, 0) for k in EV_KEYS}
    fw = d["forwarded"] or 1
    d["hit_pct"] = 100.0 * d["conn_hit"] / fw
    d["miss_pct"] = 100.0 * d["conn_miss"] / fw
    return d


# Which empty-program window is the reference for a measurement.
def empty_ref(by, rnd, fam, name):
    if name.startswith("scale_"):
        e = by.get(("scale_empty", fam, rnd))
        return e
    v = [by.get(("empty", fam, rnd)), by.get(("empty_end", fam, rnd))]
    v = [x for x in v if x]
    return sum(v) / len(v) if v else None


def summarise_cost(rows):
    """Per (name, family): raw ns min/median/max over rounds, ratio to the
    empty program of the same round (median, min, max), difference, and the
    event counters' hit/miss shares. Also an estimate of the ratio without
    the statistics' own fixed cost (progcost's empty program in test run,
    stats on minus stats off), labelled as such."""
    by = {}
    for r in rows:
        c = r.get("cost")
        if c and c.get("packets"):
            by[(r["name"], r["family"], r["round"])] = c["stats_raw_ns"]
    out = []
    keys = []
    for r in rows:
        k = (r["name"], r["family"], r["flows"])
        if k not in keys:
            keys.append(k)
    for name, fam, flows in keys:
        rs = [r for r in rows if (r["name"], r["family"], r["flows"]) == (name, fam, flows)]
        row = {"name": name, "family": fam, "flows": flows, "rounds": len(rs)}
        if "test_run" in rs[0]:
            t = [r["test_run"] for r in rs if r.get("test_run")]
            row.update(kind="test_run",
                       ns=dist([x["raw_ns"] for x in t]),
                       empty_ns=dist([x["empty_ns"] for x in t]),
                       ratio=dist([x["raw_ns"] / x["empty_ns"] for x in t if x["empty_ns"]]),
                       stats_ns=dist([x["stats_raw_ns"] for x in t]),
                       stats_ratio=dist([x["stats_raw_ns"] / x["stats_empty_ns"]
                                         for x in t if x["stats_empty_ns"]]))
            out.append(row)
            continue
        ns, ratio, diff, est, ovh, pk, hits, miss = [], [], [], [], [], [], [], []
        for r in rs:
            c = r.get("cost")
            if not c or not c.get("packets"):
                continue
            ns.append(c["stats_raw_ns"])
            pk.append(c["packets"] / c["seconds"] / 1e6)
            o = c["stats_empty_ns"] - c["empty_ns"]	# stats' fixed cost
            ovh.append(o)
            e = empty_ref(by, r["round"], fam, name)
            if e:
                ratio.append(c["stats_raw_ns"] / e)
                diff.append(c["stats_raw_ns"] - e)
                if e - o > 0:
                    est.append((c["stats_raw_ns"] - o) / (e - o))
            d = ev_delta(r)
            if d:
                hits.append(d["hit_pct"])
                miss.append(d["miss_pct"])
        row.update(kind="live", ns=dist(ns), ratio=dist(ratio), diff_ns=dist(diff),
                   ratio_est_no_stats=dist(est), stats_overhead_ns=dist(ovh),
                   mpps=dist(pk), hit_pct=dist(hits), miss_pct=dist(miss))
        out.append(row)
    # the scale comparisons the targets name, per round, median
    def pair(a, b, fam=4):
        v = []
        for rnd in sorted({r["round"] for r in rows}):
            x, y = by.get((a, fam, rnd)), by.get((b, fam, rnd))
            if x and y:
                v.append(x / y)
        return dist(v)
    out.append({"name": "hit_1m_other/hit", "family": 4, "kind": "pair",
                "ratio": pair("hit_1m_other", "hit")})
    out.append({"name": "hit_1m_flows/hit", "family": 4, "kind": "pair",
                "ratio": pair("hit_1m_flows", "hit")})
    return out


def fmt3(d, f="%.1f"):
    if not d:
        return "-"
    return (f + " /" + f + " /" + f) % (d["min"], d["median"], d["max"])


def print_cost(rows):
    if not rows:
        return
    print()
    print("sluice per-packet cost: run-time statistics (run_time_ns/run_cnt) under live veth traffic,")
    print("ratio = to the empty XDP program measured the same way in the same round (median over rounds)")
    print("%-18s %4s %8s  %-22s %-19s %7s  %8s  %s" % (
        "measurement", "fam", "flows", "ns min/median/max", "ratio min/med/max",
        "-stats*", "diff ns", "hits/misses (events)"))
    for r in rows:
        if r["kind"] == "pair":
            if r["ratio"]:
                print("%-18s IPv%s %8s  %-22s %-19s" % (
                    r["name"], r["family"], "", "", fmt3(r["ratio"], "%.2f")))
            continue
        if r["kind"] == "test_run":
            print("%-18s IPv%s %8s  %-22s %-19s  (BPF_PROG_TEST_RUN, stats off; empty %s ns)" % (
                r["name"], r["family"], r["flows"], fmt3(r["ns"]),
                fmt3(r["ratio"], "%.2f"),
                "%.0f" % r["empty_ns"]["median"] if r["empty_ns"] else "-"))
            continue
        hm = "-"
        if r["hit_pct"]:
            hm = "%.1f%% / %.1f%%" % (r["hit_pct"]["median"], r["miss_pct"]["median"])
        print("%-18s IPv%s %8s  %-22s %-19s %7s  %8s  %s" % (
            r["name"], r["family"], r["flows"], fmt3(r["ns"]),
            fmt3(r["ratio"], "%.2f"),
            "%.2f" % r["ratio_est_no_stats"]["median"] if r["ratio_est_no_stats"] else "-",
            "%.1f" % r["diff_ns"]["median"] if r["diff_ns"] else "-", hm))
    ovh = [r["stats_overhead_ns"]["median"] for r in rows
           if r.get("stats_overhead_ns")]
    if ovh:
        print("* ratio estimated without the statistics' fixed cost (%.1f ns: empty program in" % statistics.median(ovh))
        print("  BPF_PROG_TEST_RUN, stats on minus off), subtracted from both sides")


MODES = ("dsr", "ipip", "nat")
MODE_KEYS = ("hit4", "new4", "hit6", "new6")
# throughput cases of each mode, XDP and TC
MODE_CASES = {"xdp": ("sluice_xdp", "sluice_xdp_ipip", "sluice_xdp_nat"),
              "tc": ("sluice_tc", "sluice_tc_ipip", "sluice_tc_nat")}


def summarise_modecost(rows):
    """Per mode and figure: ns min/median/max over rounds, the difference
    to the empty program and the ratio to it (both per round)."""
    out = []
    rows = [r["ns"] for r in rows if r.get("ns")]
    if not rows:
        return out
    out.append({"mode": "empty", "ns": dist([r["empty"] for r in rows])})
    for m in MODES:
        row = {"mode": m}
        for k in MODE_KEYS:
            v = [r[m][k] for r in rows if m in r]
            row[k] = dist(v)
            row[k + "_minus_empty"] = dist([r[m][k] - r["empty"] for r in rows if m in r])
            row[k + "_ratio_empty"] = dist([r[m][k] / r["empty"] for r in rows
                                            if m in r and r["empty"]])
        out.append(row)
    return out


def print_modecost(rows):
    if not rows:
        return
    print()
    print("per-packet cost per forwarding mode: BPF_PROG_TEST_RUN, one fresh packet per run, median of")
    print("each round's runs, ns min/median/max over rounds (the kernel's duration around the program;")
    print("an empty XDP program: %s ns). In brackets: median minus the empty program." % fmt3(rows[0]["ns"], "%.0f"))
    print("%-6s %-22s %-22s %-22s %-22s" % ("mode", "hit IPv4/TCP", "new flow IPv4/TCP",
                                             "hit IPv6/TCP", "new flow IPv6/TCP"))
    for r in rows[1:]:
        cells = []
        for k in MODE_KEYS:
            d, e = r[k], r[k + "_minus_empty"]
            cells.append("%s [%s]" % (fmt3(d, "%.0f"), "%.0f" % e["median"] if e else "-"))
        print("%-6s %-22s %-22s %-22s %-22s" % (r["mode"], *cells))


def mode_ratios(by_key, mpps_in_round):
    """Mpps of the ipip/nat cases over the same hook's dsr case, per round."""
    out = []
    for hook, cases in MODE_CASES.items():
        base = cases[0]
        for (case, fam, flows), runs in by_key.items():
            if case not in cases[1:]:
                continue
            v = []
            for r in runs:
                b = mpps_in_round(base, fam, flows, r["round"])
                if "mpps" in r and b:
                    v.append(r["mpps"] / b)
            if v:
                out.append({"case": case, "family": fam, "flows": flows,
                            "vs": base, "ratio": dist(v)})
    return out


def print_scale(sc):
    s = sc.get("scale") if sc else None
    if not s:
        return
    print()
    print("scale: %d services, %d backends" % (s["services"], s["backends"]))
    print("  configure (sluice_service_put each): %.2f s; per put ms %s (p90 %.1f)" % (
        s["configure_s"], fmt3(s["put_ms"]), s["put_ms"]["p90"]))
    for p in (1, 2):
        w = s.get("weight_changes_pass%d" % p)
        if w:
            print("  %d sluice_set_weight (%s change per service): %.1f ms total, each us %s" % (
                w["n"], "first" if p == 1 else "second", w["total_ms"],
                fmt3(w["each_us"])))
    print("  sluice_revert(NULL) with %d services: %.1f us (rc %d); resume %.1f us" % (
        s["services"], s["revert_all_us"], s["revert_rc"], s["resume_all_us"]))
    m = s["memory"]
    big = sorted(((k, v) for k, v in m.items() if isinstance(v, int) and k != "total"),
                 key=lambda kv: -kv[1])
    print("  map memory (memlock): total %.1f MiB = %s, svc_cfg inner maps %d x %.0f KiB = %.1f MiB" % (
        m["total"] / 2**20,
        ", ".join("%s %.1f" % (k, v / 2**20) for k, v in big[:5]),
        m["svc_cfg_inner"]["maps"],
        m["svc_cfg_inner"]["bytes"] / max(1, m["svc_cfg_inner"]["maps"]) / 1024,
        m["svc_cfg_inner"]["bytes"] / 2**20))
    for w in sc.get("swap", []):
        print("  table %5d slots (%d+%d backends, inner map %d KiB): service_put ms %s; "
              "maglev build (one table) ms %s; svc_cfg swap alone (RCU wait) ms %s" % (
                  w["table"], w["pool"], w["pool"], w["inner_map_bytes"] // 1024,
                  fmt3(w["service_put_ms"]), fmt3(w["maglev_build_ms"], "%.2f"),
                  fmt3(w["svc_cfg_swap_ms"])))


def print_flowcost(fc):
    """build/bench/flowcost: ns per packet net of the empty program."""
    if not fc:
        return

    def f3(v):	# flowcost gives [min, median, max]
        return fmt3(dict(zip(("min", "median", "max"), v)) if v else None, "%.0f")
    print()
    print("connection-table cost per packet (flowcost, BPF_PROG_TEST_RUN, ns net of an"
          " empty program; min/median/max of %s rounds)" % fc.get("rounds"))
    print("  %-10s %s" % ("floor", f3(fc.get("floor_net"))))
    for name, what in (("hit256", "hit, 256 flows"), ("hit10k", "hit, 10,000 flows"),
                       ("est1m", "1M established flows, data"),
                       ("ecmp1m", "1M unknown flows: 1st packet | 2nd-3rd"),
                       ("new", "new flow (SYN)"),
                       ("synflood", "SYN flood + 100K flows | flows after"),
                       ("ackflood", "ACK flood + 100K flows | flows after")):
        c = fc.get(name)
        if not c:
            continue
        line = "  %-10s %s" % (name, f3(c.get("net0")))
        if name in ("ecmp1m", "synflood", "ackflood"):
            line += " | %s" % f3(c.get("net1"))
        print(line + "   " + what)


def main():
    runs_path, cost_path, out_path = sys.argv[1:4]
    meta = dict(a.split("=", 1) for a in sys.argv[4:])
    costruns_path = meta.pop("costruns", None)
    modecost_path = meta.pop("modecost", None)
    scale_path = meta.pop("scale", None)
    flowcost = load_json(meta.pop("flowcost", None))
    runs = [json.loads(l) for l in open(runs_path) if l.strip()]
    cost = json.load(open(cost_path))

    by_key = {}
    order = []
    for r in runs:
        if "gen" in r:
            secs = r["gen"]["seconds"]
            r["mpps"] = r["delivered"] / secs / 1e6
            r["sent_mpps"] = r["gen"]["sent"] / secs / 1e6
        k = (r["case"], r["family"], r["flows"])
        if k not in by_key:
            by_key[k] = []
            order.append(k)
        by_key[k].append(r)

    def mpps_in_round(case, fam, flows, rnd):
        for r in by_key.get((case, fam, flows), []):
            if r["round"] == rnd and "mpps" in r:
                return r["mpps"]
        return None

    summary = []
    for k in order:
        case, fam, flows = k
        ok = [r for r in by_key[k] if "mpps" in r]
        row = {"case": case, "family": fam, "flows": flows, "runs": len(ok)}
        if not ok:
            bad = by_key[k][-1]
            row.update(status=bad.get("status", "failed"), why=bad.get("why", ""))
            summary.append(row)
            continue
        m = [r["mpps"] for r in ok]
        sent = sum(r["gen"]["sent"] for r in ok)
        deliv = sum(r["delivered"] for r in ok)
        s2 = sum(r["sink2"] for r in ok)
        row.update(status="ok", mpps_min=min(m), mpps_median=statistics.median(m),
                   mpps_max=max(m),
                   sent_mpps_median=statistics.median(r["sent_mpps"] for r in ok),
                   delivered_pct=100.0 * deliv / sent if sent else 0,
                   sink2_pct=100.0 * s2 / deliv if deliv else 0)
        for ref in REFS:
            ratios = []
            for r in ok:
                base = mpps_in_round(ref, fam, flows, r["round"])
                if base:
                    ratios.append(r["mpps"] / base)
            row["ratio_" + ref] = statistics.median(ratios) if ratios else None
        summary.append(row)

    cost_runs = load_lines(costruns_path)
    cost_summary = summarise_cost(cost_runs)
    scale = load_json(scale_path)
    modecost_runs = load_lines(modecost_path)
    modecost = summarise_modecost(modecost_runs)
    vs_dsr = mode_ratios(by_key, mpps_in_round)
    json.dump({"meta": meta, "summary": summary, "cost": cost,
               "cost_summary": cost_summary, "scale": scale,
               "modes_vs_dsr": vs_dsr,
               "modecost": {"summary": modecost, "runs": modecost_runs},
               "flowcost": flowcost,
               "runs": runs, "cost_runs": cost_runs},
              open(out_path, "w"), indent=1)

    print()
    print("%-16s %4s %7s  %21s  %7s %6s %6s  %7s %7s" % (
        "case", "fam", "flows", "Mpps min/median/max", "sent", "deliv",
        "sink2", "/floor", "/nft"))
    for row in summary:
        if row["status"] != "ok":
            print("%-16s IPv%s %7d  %s: %s" % (row["case"], row["family"],
                                              row["flows"], row["status"], row["why"]))
            continue
        r = lambda x: "%7.2f" % x if x is not None else "      -"
        print("%-16s IPv%s %7d  %6.3f /%6.3f /%6.3f  %7.3f %5.1f%% %5.1f%%  %s %s" % (
            row["case"], row["family"], row["flows"], row["mpps_min"],
            row["mpps_median"], row["mpps_max"], row["sent_mpps_median"],
            row["delivered_pct"], row["sink2_pct"], r(row["ratio_floor"]),
            r(row["ratio_nft_numgen"])))
    if cost:
        print()
        print("per-packet cost, ns (raw / empty program measured the same way / difference)")
        for name, c in cost.items():
            if "raw_ns" in c:
                print("  %-22s stats off %6.1f / %6.1f / %6.1f   stats on %6.1f / %6.1f / %6.1f" % (
                    name, c["raw_ns"], c["empty_ns"], c["net_ns"],
                    c["stats_raw_ns"], c["stats_empty_ns"], c["stats_net_ns"]))
            else:
                print("  %-22s live, stats on %6.1f / %6.1f / %6.1f  (%d runs)" % (
                    name, c["stats_raw_ns"], c["stats_empty_ns"],
                    c["stats_net_ns"], c["packets"]))
    if vs_dsr:
        print()
        print("forwarding modes: Mpps over the same hook's dsr case in the same round, min/median/max")
        for v in vs_dsr:
            print("  %-16s IPv%s %7d  / %-10s %s" % (v["case"], v["family"], v["flows"],
                                                  v["vs"], fmt3(v["ratio"], "%.2f")))
    print_modecost(modecost)
    print_flowcost(flowcost)
    print_cost(cost_summary)
    print_scale(scale)
    print()
    print("kernel %s, %s (%s vCPU), commit %s%s, %s" % (
        meta.get("kernel"), meta.get("cpu"), meta.get("nproc"),
        meta.get("commit", "")[:12], " (dirty)" if meta.get("dirty") == "yes" else "",
        meta.get("date")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
