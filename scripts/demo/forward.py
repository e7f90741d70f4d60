#!/usr/bin/env python3
# forward.py PORT NETNS TARGET_PORT: the demo's status page on this host's
# loopback. sluiced serves it on the loopback of the lab's LB namespace;
# this listens on 127.0.0.1:PORT here, then enters NETNS (/run/netns/...)
# so that each client's connection goes on to 127.0.0.1:TARGET_PORT there.
# A socket stays in the namespace it was made in: the listener is the
# host's, every connection made after setns() is the namespace's.
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def pump(src, dst, done):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    # the second direction to end closes both
    with done["lock"]:
        done["n"] += 1
        last = done["n"] == 2
    if last:
        src.close()
        dst.close()


def main():
    port, netns, target = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("127.0.0.1", port))
    except OSError as e:
        sys.exit(f"forward.py: cannot listen on 127.0.0.1:{port}: {e.strerror}")
    ls.listen(32)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(netns, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET):
        sys.exit(f"forward.py: setns {netns}: {os.strerror(ctypes.get_errno())}")
    os.close(fd)
    while True:
        client, _ = ls.accept()
        try:
            up = socket.create_connection(("127.0.0.1", target), timeout=5)
            up.settimeout(None)
        except OSError:
            client.close()
            continue
        done = {"lock": threading.Lock(), "n": 0}
        for a, b in ((client, up), (up, client)):
            threading.Thread(target=pump, args=(a, b, done), daemon=True).start()


if __name__ == "__main__":
    main()
