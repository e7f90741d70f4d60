#!/usr/bin/env python3
"""Real TCP endpoints for the namespace labs.

serve NAME PORT [--family 4|6]   a backend: each line in, "NAME line" out
spread HOST PORT N [--sport BASE] [--par K] [--timeout S] [--rst] [--reuse]
                                 N short connections; prints JSON counts.
                                 --sport: source ports BASE.. (a fixed flow
                                 set, so shares are reproducible); --par:
                                 K at a time; --rst: close with a RST;
                                 --reuse: worker w makes connections
                                 w, w+K, ... all from port BASE + w (tuple
                                 reuse; with --rst, no TIME_WAIT stands in
                                 the way)
hold HOST PORT K SECONDS         K long connections sending every 100 ms;
                                 prints JSON: per connection its backend,
                                 whether it ever changed, and errors (the
                                 times of the last answer and the error)
load HOST PORT RATE SECONDS [--timeout S] [--src ADDR]
                                 RATE new connections a second for SECONDS
                                 (paced, each exchanges one line); prints
                                 JSON counts per backend and errors
blast HOST PORT SECONDS          UDP datagrams as fast as possible (keeps a
                                 rate-limiting qdisc full: a slow backend)
udpsend HOST PORT N RATE         N numbered UDP datagrams at RATE per second;
                                 prints JSON {"sent": N}
udpflows HOST PORT K RATE SECONDS --sport BASE
                                 K UDP flows (source ports BASE..BASE+K-1),
                                 each RATE numbered datagrams a second;
                                 prints JSON {"sent": {"PORT": n, ...}}
udpsink PORT SECONDS [STOPFILE]  count UDP datagrams (IPv4) for SECONDS, or
                                 until STOPFILE exists and 1 s is quiet;
                                 prints JSON {"received": n, "distinct": n,
                                 "max": n, "ports": {"SOURCE PORT": n, ...},
                                 "first_at"/"last_at": {"SOURCE PORT": time}}
"""
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time


def serve(name, port, family):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(name.encode() + b" " + line)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        # the default backlog of 5 drops SYNs of a burst of connections:
        # real SYN retransmissions that would blur the health counters
        request_queue_size = 128
        address_family = socket.AF_INET6 if family == "6" else socket.AF_INET

    host = "::" if family == "6" else "0.0.0.0"
    with Server((host, port), Handler) as srv:
        srv.serve_forever()


def ask(sock, f, msg):
    sock.sendall(msg + b"\n")
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    return line.split(b" ", 1)[0].decode()


def one(host, port, sport, timeout, rst, src=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        s.connect((host, port))
        f = s.makefile("rb")
        who = ask(s, f, b"hi")
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        return who
    finally:
        s.close()


def spread(host, port, n, sport=0, par=1, timeout=5.0, rst=False,
           reuse=False):
    counts, errors = {}, 0
    lock = threading.Lock()
    todo = list(range(n))

    def worker(w):
        nonlocal errors
        mine = list(range(w, n, max(1, par)))  # --reuse: a fixed share
        while True:
            with lock:
                if reuse and not mine or not reuse and not todo:
                    return
                i = mine.pop(0) if reuse else todo.pop(0)
            p = sport + (w if reuse else i) if sport else 0
            try:
                who = one(host, port, p, timeout, rst)
                with lock:
                    counts[who] = counts.get(who, 0) + 1
            except OSError:
                with lock:
                    errors += 1

    threads = [threading.Thread(target=worker, args=(w,))
               for w in range(max(1, par))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"counts": counts, "errors": errors}))


def hold(host, port, k, seconds):
    # TCPNAMES_TIMEOUT: how long one exchange may stall (a link that a
    # flood keeps full loses segments: TCP's retransmission backoff)
    conns, tmo = [], float(os.environ.get("TCPNAMES_TIMEOUT", "5"))
    for i in range(k):
        s = socket.create_connection((host, port), timeout=tmo)
        f = s.makefile("rb")
        conns.append({"sock": s, "file": f, "first": ask(s, f, b"hello"),
                      "changed": False, "errors": 0, "msgs": 1})
    print(json.dumps({"ready": k}), flush=True)
    # TCPNAMES_STOP: a file whose existence ends the hold early, after one
    # more whole round (every connection speaks after the file appeared)
    stop = os.environ.get("TCPNAMES_STOP")
    end, last = time.time() + seconds, False
    while time.time() < end and not last:
        last = bool(stop and os.path.exists(stop))
        for c in conns:
            if c["errors"]:
                continue
            try:
                who = ask(c["sock"], c["file"], b"data")
                c["msgs"] += 1
                if who != c["first"]:
                    c["changed"] = True
                c["last_ok"] = time.time()
            except OSError:
                c["errors"] += 1
                c["error_at"] = time.time()
        time.sleep(0.1)
    out = [{"backend": c["first"], "changed": c["changed"],
            "errors": c["errors"], "msgs": c["msgs"],
            "last_ok": c.get("last_ok", 0), "error_at": c.get("error_at", 0)}
           for c in conns]
    print(json.dumps({"conns": out}), flush=True)


def load(host, port, rate, seconds, timeout=2.0, src=None):
    counts, errors = {}, 0
    lock = threading.Lock()
    par = max(1, min(64, int(rate)))
    start = time.time()
    total = int(rate * seconds)
    stop = threading.Event()
    # SIGTERM ends the run early; the counts so far are still printed
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def worker(i):
        nonlocal errors
        k = i
        while k < total and not stop.is_set():
            due = start + k / rate
            now = time.time()
            if due > now:
                time.sleep(due - now)
            try:
                who = one(host, port, 0, timeout, False, src)
                with lock:
                    counts[who] = counts.get(who, 0) + 1
            except OSError:
                with lock:
                    errors += 1
            k += par

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(par)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
    for t in threads:
        t.join()
    print(json.dumps({"counts": counts, "errors": errors}), flush=True)


def blast(host, port, seconds):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    end, buf = time.time() + seconds, b"x" * 1000
    while time.time() < end:
        try:
            s.sendto(buf, (host, port))
        except OSError:
            time.sleep(0.001)


def udpsend(host, port, n, rate):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    start, sent = time.time(), 0
    for i in range(n):
        delay = start + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        s.sendto(struct.pack("!Q", i) + b"x" * 56, (host, port))
        sent += 1
    print(json.dumps({"sent": sent}), flush=True)


def udpflows(host, port, k, rate, seconds, sport):
    socks = []
    for i in range(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", sport + i))
        socks.append(s)
    sent = [0] * k
    start, n = time.time(), int(rate * seconds)
    for j in range(n):
        delay = start + j / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        for i, s in enumerate(socks):
            try:
                s.sendto(struct.pack("!Q", j) + b"x" * 56, (host, port))
                sent[i] += 1
            except OSError:
                pass
    print(json.dumps({"sent": {str(sport + i): sent[i] for i in range(k)}}),
          flush=True)


def udpsink(port, seconds, stopfile=None):
    # With STOPFILE: once it exists, drain until a second passes with no
    # datagram (a slow guest may still have some in flight), so the count
    # does not depend on guessing how long the sender takes.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # FORCE (root): SO_RCVBUF is capped by net.core.rmem_max (208 KiB by
    # default), and a sink slowed down by qemu TCG overflowed that buffer
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", port))
    end, got, seen, last = time.time() + seconds, 0, set(), time.time()
    ports, first_at, last_at = {}, {}, {}
    while True:
        now = time.time()
        if now >= end:
            break
        if stopfile and os.path.exists(stopfile) and now - last >= 1.0:
            break
        s.settimeout(min(end - now, 0.2))
        try:
            d, src = s.recvfrom(2048)
        except socket.timeout:
            continue
        got, last = got + 1, time.time()
        ports[str(src[1])] = ports.get(str(src[1]), 0) + 1
        first_at.setdefault(str(src[1]), last)
        last_at[str(src[1])] = last
        if len(d) >= 8:
            seen.add(struct.unpack("!Q", d[:8])[0])
    print(json.dumps({"received": got, "distinct": len(seen),
                      "max": max(seen) if seen else -1, "ports": ports,
                      "first_at": first_at, "last_at": last_at}),
          flush=True)


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        fam = "6" if "--family" in sys.argv and sys.argv[-1] == "6" else "4"
        serve(sys.argv[2], int(sys.argv[3]), fam)
    elif cmd == "spread":
        a, kw = sys.argv[5:], {}
        while a:
            k = a.pop(0)
            if k == "--rst":
                kw["rst"] = True
            elif k == "--reuse":
                kw["reuse"] = True
            elif k == "--sport":
                kw["sport"] = int(a.pop(0))
            elif k == "--par":
                kw["par"] = int(a.pop(0))
            elif k == "--timeout":
                kw["timeout"] = float(a.pop(0))
            else:
                sys.exit(__doc__)
        spread(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), **kw)
    elif cmd == "load":
        kw = {}
        if "--timeout" in sys.argv:
            kw["timeout"] = float(sys.argv[sys.argv.index("--timeout") + 1])
        if "--src" in sys.argv:
            kw["src"] = sys.argv[sys.argv.index("--src") + 1]
        load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
             float(sys.argv[5]), **kw)
    elif cmd == "blast":
        blast(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "hold":
        hold(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "udpsend":
        udpsend(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "udpflows" and len(sys.argv) == 9 and sys.argv[7] == "--sport":
        udpflows(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                 float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[8]))
    elif cmd == "udpsink":
        udpsink(int(sys.argv[2]), float(sys.argv[3]),
                sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
