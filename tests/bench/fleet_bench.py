#!/usr/bin/env python3
"""Fleet-mode timings against a running fleet lab (tests/bench/fleet.sh).

write  URL PFX SOCKS RUNS   a weight put into etcd -> every node's maps:
                            per run the latest node's apply time (sluiced
                            stamps it right after the map write) minus the
                            time just before the put
kill   URL PFX SOCKS RUNS   the same for the kill switch (on/off in turn)
reqs   SOCKS SECONDS        etcd requests per node per second (each
                            sluiced's own counter) over SECONDS
Prints one JSON object.
"""
import base64
import json
import socket
import sys
import time
import urllib.request


def b64(s):
    return base64.b64encode(s.encode()).decode()


def put(url, key, value):
    body = json.dumps({"key": b64(key), "value": b64(value)}).encode()
    req = urllib.request.Request(url + "/v3/kv/put", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return int(json.load(r)["header"]["revision"])


def status(sock):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b'{"v":1,"cmd":"status"}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
    s.close()
    return json.loads(buf)["fleet"]


def stats(xs):
    xs = sorted(xs)
    if not xs:
        return {}
    return {"runs": len(xs), "median_ms": xs[len(xs) // 2],
            "p99_ms": xs[min(len(xs) - 1, int(len(xs) * 0.99))], "max_ms": xs[-1]}


def propagate(url, pfx, socks, runs, leaf):
    lat = []
    for i in range(runs):
        value = ("on" if i % 2 == 0 else "off") if leaf == "killswitch" else str(100 + i)
        t0 = time.time() * 1000
        rev = put(url, pfx + "/" + leaf, value)
        rev_f = "kill_rev" if leaf == "killswitch" else "weights_rev"
        at_f = "applied_kill_ms" if leaf == "killswitch" else "applied_weights_ms"
        done = {}
        end = time.time() + 5
        while len(done) < len(socks) and time.time() < end:
            for s in socks:
                if s in done:
                    continue
                f = status(s)["services"].get("web", {})
                if f.get(rev_f, 0) >= rev:
                    done[s] = f[at_f]
            time.sleep(0.005)
        if len(done) == len(socks):
            lat.append(max(done.values()) - t0)
        time.sleep(0.05)
    return stats([round(x, 1) for x in lat])


def reqs(socks, seconds):
    a = {s: status(s)["requests"] for s in socks}
    time.sleep(seconds)
    b = {s: status(s)["requests"] for s in socks}
    return {"per_node_per_s": [round((b[s] - a[s]) / seconds, 2) for s in socks]}


def main():
    cmd = sys.argv[1]
    if cmd in ("write", "kill"):
        url, pfx, socks, runs = sys.argv[2], sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])
        print(json.dumps(propagate(url, pfx, socks, runs,
                                   "weights" if cmd == "write" else "killswitch")))
    elif cmd == "reqs":
        print(json.dumps(reqs(sys.argv[2].split(","), float(sys.argv[3]))))


main()
