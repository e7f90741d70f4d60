#!/usr/bin/env python3
"""modecheck: capture the frames sluice forwarded to one sink and check them
against the service's forwarding mode (the generator's frames, see gen.c):

  modecheck.py DEV COUNT TIMEOUT MODE BACKEND VIP [TUNNEL_PREFIX]

  dsr   destination = VIP, checksums as the generator made them
  ipip  outer IPv4 protocol 4 / IPv6 next header 41, outer destination =
        BACKEND, outer source inside TUNNEL_PREFIX, valid outer IPv4 header
        checksum; the inner packet is the generator's (destination VIP,
        valid checksums)
  nat   destination = BACKEND, destination port 80 (the service port),
        IPv4 header and TCP/UDP checksums valid after the rewrite

Frames that are not IP, and the lb's own ICMPv6 (neighbour discovery, MLD
reports behind a hop-by-hop header) are ignored. Prints a JSON summary (frames, bad, flows, why); exit 1 on a bad
frame or when nothing arrived. Run it in DEV's namespace with the sink's
program passing frames to the stack (an XDP_DROP sink hides them from
packet sockets), then start the traffic: once the file named by
$MODECHECK_READY exists (created after the socket is bound), or after a wait.
"""
import ipaddress
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pktcheck import check, csum  # noqa: E402

ETH_P_ALL = 0x0003


def l3(frame):
    """(version, proto, src, dst, header length, payload) or None."""
    etype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0xF) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        return (4, ip[9], ipaddress.ip_address(ip[12:16]),
                ipaddress.ip_address(ip[16:20]), ihl, ip[ihl:tot])
    if etype == 0x86DD and len(ip) >= 40:
        plen = struct.unpack("!H", ip[4:6])[0]
        return (6, ip[6], ipaddress.ip_address(ip[8:24]),
                ipaddress.ip_address(ip[24:40]), 40, ip[40:40 + plen])
    return None


def judge(frame, mode, backend, vip, tun):
    """Return None (not ours), or (ok, flow, why)."""
    h = l3(frame)
    if h is None:
        return None
    ver, proto, src, dst, hl, payload = h
    if ver == 6 and (proto == 58 or (proto == 0 and payload[:1] == b"\x3a")):
        return None		# ND; MLD (hop-by-hop router alert, then ICMPv6)
    if mode == "ipip":
        want = 4 if ver == 4 else 41
        if proto != want:
            return False, None, "outer protocol %d, want %d" % (proto, want)
        if dst != backend:
            return False, None, "outer destination %s, want %s" % (dst, backend)
        if tun is None or src not in tun:
            return False, None, "outer source %s not in %s" % (src, tun)
        if ver == 4 and csum(frame[14:14 + hl]) != 0xFFFF:
            return False, None, "outer IPv4 header checksum"
        inner = frame[:12] + struct.pack("!H", 0x0800 if ver == 4 else 0x86DD) + payload
        r = check(inner)
        if r is None:
            return False, None, "inner packet is not TCP/UDP"
        ih = l3(inner)
        if ih[3] != vip:
            return False, r[1], "inner destination %s, want %s" % (ih[3], vip)
        return r
    r = check(frame)
    if r is None:
        return False, None, "not TCP/UDP (protocol %d)" % proto
    want_dst = backend if mode == "nat" else vip
    if dst != want_dst:
        return False, r[1], "destination %s, want %s" % (dst, want_dst)
    dport = struct.unpack("!H", payload[2:4])[0]
    if dport != 80:
        return False, r[1], "destination port %d, want 80" % dport
    return r


def main():
    if len(sys.argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    dev, want, timeout, mode = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    backend = ipaddress.ip_address(sys.argv[5])
    vip = ipaddress.ip_address(sys.argv[6])
    tun = ipaddress.ip_network(sys.argv[7]) if len(sys.argv) > 7 else None
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
    s.bind((dev, 0))
    s.settimeout(0.2)
    if os.environ.get("MODECHECK_READY"):	# the socket sees frames from now on
        open(os.environ["MODECHECK_READY"], "w").close()
    seen, bad, flows, why = 0, 0, set(), []
    end = time.time() + timeout
    while seen < want and time.time() < end:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        r = judge(frame, mode, backend, vip, tun)
        if r is None:
            continue
        seen += 1
        ok, flow, reason = r
        if not ok:
            bad += 1
            why.append(reason)
        if flow:
            flows.add(flow)
    print(json.dumps({"frames": seen, "bad": bad, "flows": len(flows),
                      "why": sorted(set(why))[:5]}))
    return 0 if seen and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
