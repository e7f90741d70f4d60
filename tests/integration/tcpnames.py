#!/usr/bin/env python3
"""Real TCP endpoints for the namespace labs.

serve NAME PORT [--family 4|6]   a backend: each line in, "NAME line" out
spread HOST PORT N               N short connections; prints JSON counts
hold HOST PORT K SECONDS         K long connections sending every 100 ms;
                                 prints JSON: per connection its backend,
                                 whether it ever changed, and errors
"""
import json
import socket
import socketserver
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


def spread(host, port, n):
    counts, errors = {}, 0
    for _ in range(n):
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                f = s.makefile("rb")
                who = ask(s, f, b"hi")
                counts[who] = counts.get(who, 0) + 1
        except OSError:
            errors += 1
    print(json.dumps({"counts": counts, "errors": errors}))


def hold(host, port, k, seconds):
    conns = []
    for i in range(k):
        s = socket.create_connection((host, port), timeout=5)
        f = s.makefile("rb")
        conns.append({"sock": s, "file": f, "first": ask(s, f, b"hello"),
                      "changed": False, "errors": 0, "msgs": 1})
    print(json.dumps({"ready": k}), flush=True)
    end = time.time() + seconds
    while time.time() < end:
        for c in conns:
            if c["errors"]:
                continue
            try:
                who = ask(c["sock"], c["file"], b"data")
                c["msgs"] += 1
                if who != c["first"]:
                    c["changed"] = True
            except OSError:
                c["errors"] += 1
        time.sleep(0.1)
    out = [{"backend": c["first"], "changed": c["changed"],
            "errors": c["errors"], "msgs": c["msgs"]} for c in conns]
    print(json.dumps({"conns": out}), flush=True)


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        fam = "6" if "--family" in sys.argv and sys.argv[-1] == "6" else "4"
        serve(sys.argv[2], int(sys.argv[3]), fam)
    elif cmd == "spread":
        spread(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "hold":
        hold(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
