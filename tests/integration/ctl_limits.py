#!/usr/bin/env python3
"""Clients of sluiced's control socket that misbehave, in its raw protocol
(include/sluice_ctl.h), for test_ctl_limits.sh. Each prints one JSON line.

  ctl_limits.py pipeline SOCK N SECONDS
      N clients send `status` requests as fast as they can and never read
      a reply; after a second a fresh client sends `ping`. Prints how long
      the ping took ("ping_s", null: no answer within SECONDS) and how many
      of the N the daemon closed within SECONDS ("closed").
  ctl_limits.py hold SOCK N
      opens N connections and sends nothing; prints how many were refused
      (a reply line, then the end of the connection) and the first refusal,
      then holds the rest open until killed (at most 120 s).
  ctl_limits.py ask SOCK JSON
      one request; prints the reply line (or {"error": ...} without one).
"""
import json
import socket
import sys
import threading
import time

STATUS = b'{"v":1,"cmd":"status"}\n' * 2000


def connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def ask(path, line, timeout=5):
    s = connect(path, timeout)
    try:
        try:
            s.sendall(line.encode() + b"\n")
        except OSError:
            pass	# refused: the reason is a line before the end
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
        return json.loads(buf) if buf else {"error": "no reply: the connection ended"}
    finally:
        s.close()


def pipeline(path, n, secs):
    closed = [False] * n
    stop = time.monotonic() + secs

    def flood(i):
        try:
            s = connect(path, 1)
        except OSError:
            closed[i] = True
            return
        while time.monotonic() < stop:
            try:
                s.sendall(STATUS)
            except socket.timeout:
                continue	# the daemon is not reading us (now)
            except OSError:
                closed[i] = True
                break
        s.close()

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(1)
    t0 = time.monotonic()
    try:
        r = ask(path, '{"v":1,"cmd":"ping"}', timeout=secs)
        ping_s = time.monotonic() - t0 if r.get("code") == 0 else None
    except OSError:
        ping_s = None
    for t in threads:
        t.join(max(0, stop - time.monotonic()) + 1)
    print(json.dumps({"ping_s": ping_s, "closed": sum(closed), "clients": n}))


def hold(path, n):
    socks, refused, first = [], 0, None
    for _ in range(n):
        try:
            socks.append(connect(path))
        except OSError as e:
            refused += 1
            first = first or f"connect: {e}"
    time.sleep(1)
    kept = []
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(4096)
        except BlockingIOError:
            kept.append(s)	# accepted: the daemon waits for a request
            continue
        except OSError as e:
            d = str(e).encode()
        refused += 1
        first = first or d.decode(errors="replace").strip()
        s.close()
    print(json.dumps({"accepted": len(kept), "refused": refused, "first": first}), flush=True)
    time.sleep(120)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "pipeline":
        pipeline(path, int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "hold":
        hold(path, int(sys.argv[3]))
    elif cmd == "ask":
        try:
            print(json.dumps(ask(path, sys.argv[3])))
        except OSError as e:
            print(json.dumps({"error": f"{e}"}))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
