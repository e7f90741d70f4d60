#!/usr/bin/env python3
"""Bar chart of forwarding rates from build/bench/results.json.

  plot.py RESULTS.json OUT.png

Median Mpps per case and family, min..max as error bars. Needs matplotlib
(Debian: python3-matplotlib); run.sh calls it only when that imports.
"""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    res = json.load(open(sys.argv[1]))
    rows = [r for r in res["summary"] if r.get("status") == "ok"]
    cases = []
    for r in rows:
        if r["case"] not in cases:
            cases.append(r["case"])
    fams = sorted({r["family"] for r in rows})
    fig, ax = plt.subplots(figsize=(1.1 * len(cases) + 2, 4))
    width = 0.8 / max(1, len(fams))
    for i, fam in enumerate(fams):
        med, lo, hi, xs = [], [], [], []
        for j, c in enumerate(cases):
            r = [x for x in rows if x["case"] == c and x["family"] == fam]
            if not r:
                continue
            r = r[0]
            xs.append(j + (i - (len(fams) - 1) / 2) * width)
            med.append(r["mpps_median"])
            lo.append(r["mpps_median"] - r["mpps_min"])
            hi.append(r["mpps_max"] - r["mpps_median"])
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=3,
               label="IPv%d/%s" % (fam, "TCP" if fam == 4 else "UDP"))
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=30, ha="right")
    ax.set_ylabel("Mpps delivered (median, min..max)")
    m = res.get("meta", {})
    ax.set_title("sluice bench, %s, commit %s, %s flows" % (
        m.get("kernel", "?"), m.get("commit", "?")[:10],
        rows[0]["flows"] if rows else "?"), fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)
    print("plot: %s" % sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
