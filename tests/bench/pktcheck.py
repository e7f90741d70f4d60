#!/usr/bin/env python3
"""pktcheck: capture frames on an interface and check what the generator
built: IPv4 header checksum, TCP/UDP checksum over the pseudo header, and the
number of distinct flows (source address, source port).

  pktcheck.py DEV COUNT [TIMEOUT]    (prints a JSON summary; exit 1 on a bad
                                      checksum or when nothing arrived)
Run it in the namespace of DEV (ip netns exec), then start the traffic.
"""
import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def check(frame):
    """Return (ok, flow, why) for one frame, or None when not IP/TCP/UDP."""
    etype = struct.unpack("!H", frame[12:14])[0]
    if etype == 0x0800:
        ip = frame[14:]
        ihl = (ip[0] & 0xF) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        proto, src, dst = ip[9], ip[12:16], ip[16:20]
        if csum(ip[:ihl]) != 0xFFFF:
            return False, None, "IPv4 header checksum"
        l4 = ip[ihl:tot]
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
        saddr = socket.inet_ntop(socket.AF_INET, src)
    elif etype == 0x86DD:
        ip = frame[14:]
        plen = struct.unpack("!H", ip[4:6])[0]
        proto, src, dst = ip[6], ip[8:24], ip[24:40]
        l4 = ip[40:40 + plen]
        pseudo = src + dst + struct.pack("!IxxxB", len(l4), proto)
        saddr = socket.inet_ntop(socket.AF_INET6, src)
    else:
        return None
    if proto not in (6, 17):
        return None
    sport = struct.unpack("!H", l4[0:2])[0]
    if csum(pseudo + l4) != 0xFFFF:
        return False, (saddr, sport), "%s checksum" % ("TCP" if proto == 6 else "UDP")
    return True, (saddr, sport), None


def main():
    dev, want = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
    s.bind((dev, 0))
    s.settimeout(0.2)
    seen, bad, flows, why = 0, 0, set(), []
    end = time.time() + timeout
    while seen < want and time.time() < end:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        r = check(frame)
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
                      "why": sorted(set(why))}))
    return 0 if seen and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
