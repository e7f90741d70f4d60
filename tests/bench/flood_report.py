#!/usr/bin/env python3
"""Summary of tests/bench/flood.sh's rounds (one JSON line per round and
family): flood_report.py FILE [key=value ...] prints the figures with
min/median/max over rounds; flood_report.py --line reads one round on stdin
and prints its digest."""
import json
import statistics
import sys

NEW_TABLE = 262144  # the default instance's conn-new


def rate(w, f):
    """per second between a window's two counter reads"""
    dt = w["e1"]["t"] - w["e0"]["t"]
    return (f(w["e1"]) - f(w["e0"])) / dt if dt > 0 else 0.0


def ev(name):
    return lambda e: e["ev"]["events"][name]


def figures(r):
    fl, hi, mx = r["flood"], r["hits"], r["mixed"]
    e1 = fl["e1"]["ev"]["events"]
    af = r["after_flood"]
    new_evict = max(0, e1["conn_insert"] - e1["conn_promote"] - af["conn_new"])
    est_evict = max(0, r["est"] + e1["conn_promote"] - af["conn_est"])
    processed = rate(fl, ev("conn_miss"))
    idle, legit = r["idle"], r["legit"]
    rec = next((s["flows"] for s in legit
                if s["c"]["conn_new_from"] * 100 < NEW_TABLE), None)
    half = next((s["flows"] for s in legit
                 if s["c"]["conn_new_from"] * 2 < idle[-1]["c"]["conn_new_from"]), None)
    out = {
        "offered_mpps": fl["gen"][0]["mpps"],
        "flood_processed_mpps": processed / 1e6,
        "flood_forwarded_mpps": rate(fl, lambda e: e["sinks"]) / 1e6,
        "flood_ns": fl["cost"]["stats_net_ns"],
        "conn_new_fill_pct": 100.0 * af["conn_new"] / NEW_TABLE,
        "conn_new_flood": af["conn_new_from"],
        "conn_est": af["conn_est"],
        "conn_est_flood": af["conn_est_from"],
        "conn_new_evictions": new_evict,
        "conn_new_evict_per_insert": new_evict / max(1, e1["conn_insert"]),
        "conn_est_evictions": est_evict,
        "conn_new_entry_life_ms": 1e3 * af["conn_new_from"] / processed if processed else None,
        "hits_alone_mpps": rate(hi, lambda e: e["ev"]["events"]["conn_hit"]) / 1e6,
        "hits_alone_ns": hi["cost"]["stats_net_ns"],
        "hits_during_flood_mpps": rate(mx, lambda e: e["ev"]["events"]["conn_hit"]) / 1e6,
        "flood_during_hits_mpps": rate(mx, ev("conn_miss")) / 1e6,
        "mixed_ns": mx["cost"]["stats_net_ns"],
        "hit_ns_idle": r["idle_hit"]["raw_ns"],
        "hit_ns_during_flood": r["flood_hit"]["raw_ns"],
        "idle_flood_entries_start": idle[0]["c"]["conn_new_from"],
        "idle_flood_entries_end": idle[-1]["c"]["conn_new_from"],
        "idle_s": idle[-1]["after"],
        "recover_half_flows": half,
        "recover_flows": rec,
        "recover_s_1k": rec / 1e3 if rec else None,
        "recover_s_flood_rate": rec / processed if rec and processed else None,
    }
    return out


LABELS = [
    ("offered_mpps", "flood offered (generator), Mpps"),
    ("flood_processed_mpps", "flood processed by sluice (misses), Mpps"),
    ("flood_forwarded_mpps", "flood forwarded (delivered at the sinks), Mpps"),
    ("flood_ns", "flood packet cost (new flow, full table), ns over empty"),
    ("conn_new_fill_pct", "conn_new fill after the flood, % of 262144"),
    ("conn_new_flood", "  of it the flood's entries"),
    ("conn_est", "conn_est entries after the flood"),
    ("conn_est_flood", "  of it the flood's entries"),
    ("conn_new_evictions", "conn_new evictions (whole flood)"),
    ("conn_new_evict_per_insert", "  per insert"),
    ("conn_est_evictions", "conn_est evictions (established flows lost)"),
    ("conn_new_entry_life_ms", "unconfirmed entry lifetime under the flood, ms"),
    ("hits_alone_mpps", "established hits alone, Mpps forwarded"),
    ("hits_during_flood_mpps", "established hits during the flood, Mpps forwarded"),
    ("flood_during_hits_mpps", "  with the flood processed at, Mpps"),
    ("hits_alone_ns", "established hit, live, ns over empty (stats window)"),
    ("mixed_ns", "flood + hits mix, live, ns over empty"),
    ("hit_ns_idle", "hit cost, BPF_PROG_TEST_RUN, idle, ns"),
    ("hit_ns_during_flood", "hit cost, BPF_PROG_TEST_RUN, during the flood, ns"),
    ("idle_flood_entries_start", "flood entries in conn_new when it stopped"),
    ("idle_flood_entries_end", "  after the idle seconds (no timeout)"),
    ("recover_half_flows", "new flows until half the flood's entries left"),
    ("recover_flows", "new flows until < 1% of conn_new is the flood's"),
    ("recover_s_1k", "  = seconds at 1,000 new flows/s"),
    ("recover_s_flood_rate", "  = seconds at the flood's own rate"),
]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 1000:
        return "%.3g" % v
    return "%d" % v


def main():
    if sys.argv[1:2] == ["--line"]:
        f = figures(json.loads(sys.stdin.read()))
        print("flood %.2f Mpps offered, %.2f processed; conn_new %.0f%%, "
              "evictions est %d; hits %.2f -> %.2f Mpps; hit %.0f -> %.0f ns; "
              "recovered after %s new flows" % (
                  f["offered_mpps"], f["flood_processed_mpps"],
                  f["conn_new_fill_pct"], f["conn_est_evictions"],
                  f["hits_alone_mpps"], f["hits_during_flood_mpps"],
                  f["hit_ns_idle"], f["hit_ns_during_flood"],
                  fmt(f["recover_flows"])))
        return
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    meta = " ".join(sys.argv[2:])
    print("flood benchmark (%s), %d runs" % (meta, len(rows)))
    for fam in sorted({r["family"] for r in rows}):
        fs = [figures(r) for r in rows if r["family"] == fam]
        print("IPv%d/%s flood, %d rounds: min / median / max" %
              (fam, "TCP SYN" if fam == 4 else "UDP", len(fs)))
        for key, label in LABELS:
            vals = [f[key] for f in fs if f[key] is not None]
            if not vals:
                print("  %-58s -" % label)
                continue
            print("  %-58s %s / %s / %s" % (label, fmt(min(vals)),
                                            fmt(statistics.median(vals)),
                                            fmt(max(vals))))


if __name__ == "__main__":
    main()
