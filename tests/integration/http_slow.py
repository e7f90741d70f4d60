#!/usr/bin/env python3
"""Slow-header clients of an HTTP listener (test_metrics_http.sh): N
connections each send a request line and then one header byte a second,
never finishing the headers, for SECONDS. Prints one JSON line at the end:
how many the server closed ("closed") and how many it still held open.
usage: http_slow.py HOST PORT N SECONDS"""
import json
import socket
import sys
import time


def main():
    host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    socks, closed = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((host, port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: %s:%d\r\nX-Slow: " % (host.encode(), port))
            socks.append(s)
        except OSError:
            closed += 1
            s.close()
    end = time.monotonic() + secs
    while socks and time.monotonic() < end:
        time.sleep(1)
        alive = []
        for s in socks:
            try:
                s.sendall(b"x")
                s.setblocking(False)
                try:
                    if s.recv(4096) == b"":
                        raise ConnectionResetError("closed")
                except BlockingIOError:
                    pass
                s.setblocking(True)
                s.settimeout(2)
                alive.append(s)
            except OSError:
                closed += 1
                s.close()
        socks = alive
    print(json.dumps({"closed": closed, "open": len(socks)}), flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
