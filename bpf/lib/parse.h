/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing. Each step checks bounds against data_end right before the
 * access it guards and returns a parse verdict. The result is the flow as the
 * client sent it (client -> VIP); for an ICMP error it is the flow embedded
 * in the error, turned around, so the error follows its flow.
 *
 * Every length is the packet's own: the IPv4 total length and IHL, the
 * IPv6 payload length across the extension-header chain, the TCP data
 * offset, the UDP length, and for an ICMP error the message it sits in
 * (the quoted IP header and its 8 L4 bytes must lie inside it). Bytes
 * past the IP length are padding and never parsed. What a host would
 * drop anyway is reported malformed too (hostdrop.h).
 */
#ifndef SLUICE_BPF_PARSE_H
#define SLUICE_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "sluice_abi.h"
#include "hostdrop.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* ICMP types steered like their flow (linux/icmp.h drags in libc). */
#define ICMP_DEST_UNREACH	3
#define ICMP_TIME_EXCEEDED	11
#define ICMPV6_DEST_UNREACH	1
#define ICMPV6_PKT_TOOBIG	2
#define ICMPV6_TIME_EXCEED	3

/* ICMP and ICMPv6 share this 8-byte header layout. */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be32 rest;
};

#define ETH_P_8021Q_BE	bpf_htons(0x8100)
#define ETH_P_8021AD_BE	bpf_htons(0x88A8)
#define IPV4_MF_OFFSET	bpf_htons(0x3fff)	/* MF flag or a fragment offset */
#define IPV6_EXT_MAX	4

enum parse_rc {
	PARSE_OK = 0,
	PARSE_NOT_IP,
	PARSE_TRUNCATED,
	PARSE_MALFORMED,
	PARSE_FRAGMENT,
	PARSE_ICMP_OTHER,
	PARSE_OTHER_L4,	/* IP, but not TCP/UDP/ICMP: never a service's */
};

struct pkt {
	struct sluice_conn_key flow;	/* client -> VIP */
	__u32 len;			/* frame length, for byte counters */
	__u8 tcp_flags;			/* 0 for UDP and ICMP errors */
	__u8 icmp_err;			/* 1 when steered as an ICMP error */
	__u8 df;			/* IPv4 don't-fragment bit set */
	__u8 tos;			/* IPv4 TOS / IPv6 traffic class */
	__u16 l3off;			/* IP header offset in the frame */
	__u16 l4rel;			/* L4 header offset from the IP header */
	__u16 ip_len;			/* IP packet length, header included */
};

/* TCP flag bits in byte 13 of the header. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

struct l4ports {
	__be16 src;
	__be16 dst;
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

/*
 * TCP or UDP header at pos; room: the L4 bytes the IP header says there
 * are. The header must fit in them (TCP: its data offset, UDP: its length,
 * which may be shorter than room, as the stack allows, never longer).
 */
static __always_inline int parse_ports(void *pos, void *data_end,
				       __u8 proto, struct l4ports *p,
				       __u8 *tcp_flags, __u32 room)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = pos;

		if ((void *)(th + 1) > data_end)
			return PARSE_TRUNCATED;
		if (room < sizeof(*th) || room < th->doff * 4)
			return PARSE_MALFORMED;
		if (th->doff < 5)
			return PARSE_MALFORMED;
		p->src = th->source;
		p->dst = th->dest;
		*tcp_flags = ((__u8 *)th)[13];
		return PARSE_OK;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = pos;
		__u32 ulen;

		if ((void *)(uh + 1) > data_end)
			return PARSE_TRUNCATED;
		ulen = bpf_ntohs(uh->len);
		if (room < sizeof(*uh) || ulen < sizeof(*uh) || ulen > room)
			return PARSE_MALFORMED;
		p->src = uh->source;
		p->dst = uh->dest;
		*tcp_flags = 0;
		return PARSE_OK;
	}
	return PARSE_OTHER_L4;
}

/*
 * The first 8 bytes of the TCP/UDP header quoted in an ICMP error (all
 * RFC 792 promises): the ports. room: quoted bytes left in the message.
 */
static __always_inline int quote_ports(void *pos, void *data_end, __u8 proto,
				       struct l4ports *p, __u32 room)
{
	struct l4ports *q = pos;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return PARSE_ICMP_OTHER;
	if (room < 8)
		return PARSE_MALFORMED;
	if ((void *)q + 8 > data_end)
		return PARSE_TRUNCATED;
	*p = *q;
	return PARSE_OK;
}

/*
 * The packet inside an ICMPv4 error: what the VIP sent to the client.
 * room: the bytes of the ICMP message after its 8-byte header, from the
 * outer total length; the quoted header and 8 L4 bytes must lie in it.
 */
static __always_inline int parse_icmp4_inner(void *pos, void *data_end,
					     struct pkt *pk, __be32 outer_dst,
					     __u32 room)
{
	struct iphdr *in = pos;
	struct l4ports p;
	__u32 hlen;
	int rc;

	if (room < sizeof(*in))
		return PARSE_MALFORMED;
	if ((void *)(in + 1) > data_end)
		return PARSE_TRUNCATED;
	if (in->version != 4 || in->ihl < 5)
		return PARSE_MALFORMED;
	hlen = in->ihl * 4;
	if (hlen > room)
		return PARSE_MALFORMED;
	if (in->frag_off & bpf_htons(0x1fff))
		return PARSE_FRAGMENT;	/* no ports in a later fragment */
	if (in->saddr != outer_dst)
		return PARSE_ICMP_OTHER; /* not about a packet the VIP sent */
	rc = quote_ports(pos + hlen, data_end, in->protocol, &p, room - hlen);
	if (rc != PARSE_OK)
		return rc;
	pk->flow.src.v4 = in->daddr;
	pk->flow.dst.v4 = in->saddr;
	pk->flow.sport = p.dst;
	pk->flow.dport = p.src;
	pk->flow.proto = in->protocol;
	pk->icmp_err = 1;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(const struct hook *hk, void *data,
				      void *pos, void *data_end, struct pkt *pk)
{
	struct iphdr *iph = pos;
	struct l4ports p;
	__u32 hlen, tot, room;
	__u64 sum;
	int rc;

	if ((void *)(iph + 1) > data_end)
		return PARSE_TRUNCATED;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen)
		return PARSE_MALFORMED;
	/* lengths compared as integers: older verifiers cannot bound a
	 * byte-swapped value added to a packet pointer */
	if (tot > (__u32)(data_end - pos))
		return PARSE_TRUNCATED;
	if (iph->frag_off & IPV4_MF_OFFSET)
		return PARSE_FRAGMENT;
	/* what a host would drop (hostdrop.h) */
	if (ip4_martian(iph->saddr))
		return PARSE_MALFORMED;
	sum = ip4_sum20(iph);
	if (hlen > sizeof(*iph)) {
		int o = opts_ok(hk, (void *)(iph + 1) - data,
				hlen - sizeof(*iph), 0);

		if (o < 0)
			return PARSE_MALFORMED;
		sum += o;
	}
	if (csum_fold32(sum) != 0xffff)
		return PARSE_MALFORMED;	/* header checksum */
	pk->flow.family = AF_INET;
	pk->l4rel = hlen;
	pk->ip_len = tot;
	pk->df = !!(iph->frag_off & bpf_htons(0x4000));
	pk->tos = iph->tos;
	pk->flow.src.v4 = iph->saddr;
	pk->flow.dst.v4 = iph->daddr;
	pk->flow.proto = iph->protocol;
	pos += hlen;
	room = tot - hlen;	/* bytes past the total length are padding */

	if (iph->protocol == IPPROTO_ICMP) {
		struct icmp_hdr *ic = pos;

		if (room < sizeof(*ic))
			return PARSE_MALFORMED;
		if ((void *)(ic + 1) > data_end)
			return PARSE_TRUNCATED;
		if (ic->type != ICMP_DEST_UNREACH &&
		    ic->type != ICMP_TIME_EXCEEDED)
			return PARSE_ICMP_OTHER;
		return parse_icmp4_inner(ic + 1, data_end, pk, iph->daddr,
					 room - sizeof(*ic));
	}
	rc = parse_ports(pos, data_end, iph->protocol, &p, &pk->tcp_flags,
			 room);
	if (rc != PARSE_OK)
		return rc;
	pk->flow.sport = p.src;
	pk->flow.dport = p.dst;
	return PARSE_OK;
}

static __always_inline int ipv6_is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_DSTOPTS || nh == IPPROTO_FRAGMENT;
}

/*
 * Skip extension headers; *pos ends at the upper-layer header and *ext
 * holds the bytes skipped. Every header lies inside the payload length
 * plen; options headers and routing headers are checked (hostdrop.h).
 */
static __always_inline int skip_ipv6_ext(const struct hook *hk, void *data,
					 void **pos, void *data_end, __u8 *nh,
					 __u32 plen, __u32 *ext)
{
	int i;

#pragma unroll
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 *h = *pos;
		__u32 hl;

		if (!ipv6_is_ext(*nh))
			return PARSE_OK;
		if (*ext + 8 > plen)
			return PARSE_MALFORMED;
		if ((void *)(h + 8) > data_end)
			return PARSE_TRUNCATED;
		if (*nh == IPPROTO_FRAGMENT)
			return PARSE_FRAGMENT;	/* ports only in the first */
		hl = (h[1] + 1) * 8;
		if (*ext + hl > plen)
			return PARSE_MALFORMED;
		if (*nh == IPPROTO_ROUTING && h[3])
			return PARSE_MALFORMED;	/* segments left: not the VIP's */
		if (*nh != IPPROTO_ROUTING && !opts_ok(hk, (void *)h - data, hl, 1))
			return PARSE_MALFORMED;
		*nh = h[0];
		*pos += hl;
		*ext += hl;
	}
	return ipv6_is_ext(*nh) ? PARSE_MALFORMED : PARSE_OK;
}

/* room: bytes of the ICMPv6 message after its 8-byte header. */
static __always_inline int parse_icmp6_inner(void *pos, void *data_end,
					     struct pkt *pk,
					     const struct in6_addr *outer_dst,
					     __u32 room)
{
	struct ipv6hdr *in = pos;
	struct l4ports p;
	int rc;

	if (room < sizeof(*in))
		return PARSE_MALFORMED;
	if ((void *)(in + 1) > data_end)
		return PARSE_TRUNCATED;
	if (in->version != 6)
		return PARSE_MALFORMED;
	if (in->saddr.in6_u.u6_addr32[0] != outer_dst->in6_u.u6_addr32[0] ||
	    in->saddr.in6_u.u6_addr32[1] != outer_dst->in6_u.u6_addr32[1] ||
	    in->saddr.in6_u.u6_addr32[2] != outer_dst->in6_u.u6_addr32[2] ||
	    in->saddr.in6_u.u6_addr32[3] != outer_dst->in6_u.u6_addr32[3])
		return PARSE_ICMP_OTHER;	/* not about a packet the VIP sent */
	rc = quote_ports(in + 1, data_end, in->nexthdr, &p, room - sizeof(*in));
	if (rc != PARSE_OK)
		return rc;
	__builtin_memcpy(&pk->flow.src, &in->daddr, 16);
	__builtin_memcpy(&pk->flow.dst, &in->saddr, 16);
	pk->flow.sport = p.dst;
	pk->flow.dport = p.src;
	pk->flow.proto = in->nexthdr;
	pk->icmp_err = 1;
	return PARSE_OK;
}

static __always_inline int parse_ipv6(const struct hook *hk, void *data,
				      void *pos, void *data_end, struct pkt *pk)
{
	struct ipv6hdr *ip6 = pos;
	struct l4ports p;
	__u32 ext = 0, plen;
	__u8 nh;
	int rc;

	if ((void *)(ip6 + 1) > data_end)
		return PARSE_TRUNCATED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	plen = bpf_ntohs(ip6->payload_len);
	if (sizeof(*ip6) + plen > (__u32)(data_end - pos))
		return PARSE_TRUNCATED;
	if (ip6_martian(&ip6->saddr))
		return PARSE_MALFORMED;
	pk->flow.family = AF_INET6;
	pk->ip_len = sizeof(*ip6) + plen;
	pk->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	__builtin_memcpy(&pk->flow.src, &ip6->saddr, 16);
	__builtin_memcpy(&pk->flow.dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;
	pos = ip6 + 1;
	rc = skip_ipv6_ext(hk, data, &pos, data_end, &nh, plen, &ext);
	if (rc != PARSE_OK)
		return rc;
	pk->flow.proto = nh;
	/* ext <= plen: skip_ipv6_ext kept every header inside it */

	if (nh == IPPROTO_ICMPV6) {
		struct icmp_hdr *ic = pos;

		if (plen - ext < sizeof(*ic))
			return PARSE_MALFORMED;
		if ((void *)(ic + 1) > data_end)
			return PARSE_TRUNCATED;
		if (ic->type != ICMPV6_DEST_UNREACH &&
		    ic->type != ICMPV6_PKT_TOOBIG &&
		    ic->type != ICMPV6_TIME_EXCEED)
			return PARSE_ICMP_OTHER;
		return parse_icmp6_inner(ic + 1, data_end, pk, &ip6->daddr,
					 plen - ext - sizeof(*ic));
	}
	pk->l4rel = sizeof(*ip6) + ext;
	rc = parse_ports(pos, data_end, nh, &p, &pk->tcp_flags, plen - ext);
	if (rc != PARSE_OK)
		return rc;
	pk->flow.sport = p.src;
	pk->flow.dport = p.dst;
	return PARSE_OK;
}

/* Ethernet, up to two VLAN tags, then IPv4 or IPv6. */
static __always_inline int parse_packet(const struct hook *hk, void *data,
					void *data_end, struct pkt *pk)
{
	struct ethhdr *eth = data;
	struct vlan_tag *vt;
	void *pos;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return PARSE_TRUNCATED;
	proto = eth->h_proto;
	pos = eth + 1;
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		vt = pos;
		if ((void *)(vt + 1) > data_end)
			return PARSE_TRUNCATED;
		proto = vt->proto;
		pos = vt + 1;
	}
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		vt = pos;
		if ((void *)(vt + 1) > data_end)
			return PARSE_TRUNCATED;
		proto = vt->proto;
		pos = vt + 1;
	}
	pk->len = data_end - data;
	pk->l3off = pos - data;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(hk, data, pos, data_end, pk);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(hk, data, pos, data_end, pk);
	return PARSE_NOT_IP;
}

#endif
