#!/usr/bin/env python3
"""Bad requests on sluiced's control socket, in its raw protocol (one JSON
line each way, include/sluice_ctl.h). Each must get its own error code and
its own message; the daemon must still answer afterwards.
usage: ctl_bad.py SOCKET"""
import json
import socket
import sys

LONG = "x" * 40
CASES = [  # (what, raw line bytes, expected code)
    ("not JSON", b"hello there", 10),
    ("an array, not an object", b"[1, 2]", 10),
    ("duplicate keys", b'{"v":1,"cmd":"status","cmd":"ping"}', 10),
    ("invalid UTF-8", b'{"v":1,"cmd":"st\xff\xfeus"}', 10),
    ("no version", b'{"cmd":"status"}', 11),
    ("version as a string", b'{"v":"1","cmd":"status"}', 11),
    ("unknown version", b'{"v":2,"cmd":"status"}', 11),
    ("no cmd", b'{"v":1}', 12),
    ("cmd not a string", b'{"v":1,"cmd":5}', 12),
    ("unknown cmd", b'{"v":1,"cmd":"explode"}', 12),
    ("unknown field", b'{"v":1,"cmd":"status","bogus":1}', 13),
    ("service not a string", b'{"v":1,"cmd":"status","service":7}', 13),
    ("service not a name", b'{"v":1,"cmd":"status","service":"a b"}', 13),
    ("service too long", ('{"v":1,"cmd":"status","service":"%s"}' % LONG).encode(), 13),
    ("abort without service", b'{"v":1,"cmd":"abort"}', 13),
    ("freeze without reason", b'{"v":1,"cmd":"freeze"}', 13),
    ("freeze with an empty reason", b'{"v":1,"cmd":"freeze","reason":""}', 13),
    ("reason too long", ('{"v":1,"cmd":"freeze","reason":"%s"}' % ("r" * 200)).encode(), 13),
    ("reason of two lines", b'{"v":1,"cmd":"abort","service":"web","reason":"a\\nb"}', 13),
    ("full not a boolean", b'{"v":1,"cmd":"promote","service":"web","full":"yes"}', 13),
    ("history limit 0", b'{"v":1,"cmd":"history","service":"web","limit":0}', 13),
    ("history limit a string", b'{"v":1,"cmd":"history","service":"web","limit":"5"}', 13),
    ("plan_name without plan", b'{"v":1,"cmd":"start","service":"web","plan_name":"p"}', 13),
    ("plan that is not YAML", b'{"v":1,"cmd":"start","service":"web","plan":"steps: [\\n"}', 22),
    ("plan with a step without hold", b'{"v":1,"cmd":"start","service":"web","plan":"steps:\\n  - weight: 5%\\ngates:\\n  - metric: error_ratio\\n"}', 22),
    ("start of an unknown service", b'{"v":1,"cmd":"start","service":"nosuch","plan":"steps:\\n  - weight: 5%\\n    hold: 1s\\ngates:\\n  - metric: error_ratio\\n"}', 20),
    ("abort of a service without rollout", b'{"v":1,"cmd":"abort","service":"ghost"}', 21),
    ("health with a field it does not take", b'{"v":1,"cmd":"health","who":"x"}', 13),
]


def exchange(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(line + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return json.loads(buf)


def main():
    path, fails, msgs = sys.argv[1], 0, set()
    for what, line, code in CASES:
        try:
            r = exchange(path, line)
        except (OSError, ValueError) as e:
            print(f"  FAIL: {what}: no reply ({e})")
            fails += 1
            continue
        good = r.get("code") == code and r.get("error") and r["error"] not in msgs
        msgs.add(r.get("error"))
        print(f"  {'ok' if good else 'FAIL'}: bad request '{what}': code {r.get('code')} "
              f"(want {code}): {r.get('error')}")
        fails += not good
    # a line over the limit: answered with code 14, then the connection ends
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(b'{"v":1,"cmd":"status","x":"' + b"a" * (300 * 1024))
    except OSError:
        pass
    buf = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except OSError:
        pass
    s.close()
    try:
        r = json.loads(buf.split(b"\n")[0])
    except ValueError:
        r = {}
    good = r.get("code") == 14 and r.get("error") not in msgs
    print(f"  {'ok' if good else 'FAIL'}: bad request 'line over 256 KiB': code {r.get('code')} "
          f"(want 14): {r.get('error')}")
    fails += not good
    r = exchange(path, b'{"v":1,"cmd":"ping"}')
    good = r.get("code") == 0
    print(f"  {'ok' if good else 'FAIL'}: after {len(CASES) + 1} bad requests sluiced still answers ping")
    fails += not good
    print(f"  {'ok' if len(msgs) == len(CASES) else 'FAIL'}: {len(msgs)} distinct messages for {len(CASES)} requests")
    fails += len(msgs) != len(CASES)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
