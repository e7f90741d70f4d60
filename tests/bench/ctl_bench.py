#!/usr/bin/env python3
"""sluiced control-socket benchmark helper (raw protocol, sluice_ctl.h).
start SOCKET PLAN PREFIX N      start rollouts PREFIX0001..N with PLAN
latency SOCKET PREFIX N COUNT   per-request latency of status (one service),
                                status (all), abort (distinct services,
                                first time) and abort (repeated); JSON out
"""
import json
import socket
import sys
import time


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def call(self, **req):
        req["v"] = 1
        self.s.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(self.f.readline())


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def timed(fn, n):
    out = []
    for i in range(n):
        t = time.perf_counter()
        r = fn(i)
        out.append((time.perf_counter() - t) * 1e3)
        if r.get("code") != 0:
            sys.exit(f"request failed: {r}")
    return {"n": n, "p50_ms": round(pct(out, 50), 3), "p99_ms": round(pct(out, 99), 3),
            "max_ms": round(max(out), 3)}


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    c = Ctl(path)
    if cmd == "start":
        plan, prefix, n = open(sys.argv[3]).read(), sys.argv[4], int(sys.argv[5])
        t = time.perf_counter()
        for i in range(1, n + 1):
            r = c.call(cmd="start", service="%s%04d" % (prefix, i), plan=plan)
            if r.get("code") != 0:
                sys.exit(f"start {i}: {r}")
        print(json.dumps({"started": n, "seconds": round(time.perf_counter() - t, 3)}))
    elif cmd == "latency":
        prefix, total, n = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        svc = "%s%04d" % (prefix, 1)
        res = {
            "status_one": timed(lambda i: c.call(cmd="status", service=svc), n),
            "status_all": timed(lambda i: c.call(cmd="status"), max(5, n // 20)),
            "abort_first": timed(lambda i: c.call(cmd="abort", service="%s%04d" % (prefix, total - i)), min(n, total // 2)),
            "abort_again": timed(lambda i: c.call(cmd="abort", service="%s%04d" % (prefix, total)), n),
            "ping": timed(lambda i: c.call(cmd="ping"), n),
        }
        print(json.dumps(res))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
