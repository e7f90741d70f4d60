#!/usr/bin/env python3
"""Assemble the benchmark's JSON and print its table.

  report.py RUNS.jsonl COST.json OUT.json key=value...

RUNS.jsonl: one object per measurement from run.sh (case, family, flows,
round, gen = gen -j output, delivered, sink1, sink2; or status/why).
COST.json: progcost -j outputs by name. key=value pairs become "meta".
Ratios are computed within a round (same traffic, minutes apart at most)
and summarised by their median, as the machine's speed drifts between runs.
"""
import json
import statistics
import sys

REFS = ("floor", "nft_numgen")


def main():
    runs_path, cost_path, out_path = sys.argv[1:4]
    meta = dict(a.split("=", 1) for a in sys.argv[4:])
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

    json.dump({"meta": meta, "summary": summary, "cost": cost, "runs": runs},
              open(out_path, "w"), indent=1)

    print()
    print("%-14s %4s %7s  %21s  %7s %6s %6s  %7s %7s" % (
        "case", "fam", "flows", "Mpps min/median/max", "sent", "deliv",
        "sink2", "/floor", "/nft"))
    for row in summary:
        if row["status"] != "ok":
            print("%-14s IPv%s %7d  %s: %s" % (row["case"], row["family"],
                                              row["flows"], row["status"], row["why"]))
            continue
        r = lambda x: "%7.2f" % x if x is not None else "      -"
        print("%-14s IPv%s %7d  %6.3f /%6.3f /%6.3f  %7.3f %5.1f%% %5.1f%%  %s %s" % (
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
    print()
    print("kernel %s, %s (%s vCPU), commit %s%s, %s" % (
        meta.get("kernel"), meta.get("cpu"), meta.get("nproc"),
        meta.get("commit", "")[:12], " (dirty)" if meta.get("dirty") == "yes" else "",
        meta.get("date")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
