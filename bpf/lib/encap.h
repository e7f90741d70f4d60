/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP-in-IP forwarding: IPv4 in IPv4 (protocol 4) and IPv6 in IPv6 (next
 * header 41). The outer source is taken per flow from the service's tunnel
 * prefix (host bits from a cheap mix of the client address and ports), so
 * a backend NIC that hashes the outer addresses spreads flows across its
 * queues; IPv6 also puts the mix in the flow label. Outer TTL / hop limit
 * 64, DF set (the size was checked against the next hop's MTU), TOS /
 * traffic class copied from the inner packet.
 *
 * Too big after encapsulation: an ICMP "fragmentation needed" (IPv4 with
 * DF) or ICMPv6 "packet too big" goes back to the client from the VIP,
 * quoting the start of its packet, with MTU = next hop MTU - overhead.
 * IPv4 without DF is passed to the stack (counted): it may fragment. An
 * ICMP error that is too big is never answered with one: it is passed.
 */
#ifndef SLUICE_BPF_ENCAP_H
#define SLUICE_BPF_ENCAP_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "ctx.h"
#include "csum.h"
#include "parse.h"

#ifndef IPPROTO_IPIP
#define IPPROTO_IPIP 4
#endif
#define ICMP_FRAG_NEEDED_CODE	4
#define ICMPV6_TYPE_ICMP	58
#define QUOTE4			64	/* bytes of the client's packet quoted */
#define QUOTE6			128

static __always_inline __u32 tun_mix(const struct pkt *pk)
{
	__u32 h = pk->flow.src.v6[3] ^ pk->flow.src.v4 ^
		  (((__u32)pk->flow.dport << 16) | pk->flow.sport);

	/* murmur3's finaliser: every input bit reaches every output bit */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

/* Prefix bits from pfx, host bits from h (host byte order mask math). */
static __always_inline __be32 pfx_word(__be32 pfx, int bits, __u32 h)
{
	__u32 mask;

	if (bits >= 32)
		return pfx;
	if (bits <= 0)
		return bpf_htonl(h);
	mask = ~0u << (32 - bits);
	return bpf_htonl((bpf_ntohl(pfx) & mask) | (h & ~mask));
}

/*
 * Room for an outer header of olen bytes in front of the IP header. The
 * L2 header moves to the new front (XDP); TC inserts after the MAC header.
 */
static __always_inline int grow_head(const struct hook *hk,
				     const struct pkt *pk, __u32 olen,
				     __u64 tc_flags)
{
	void *data, *data_end;
	__u8 l2[22];

	if (!hk->xdp) {
		if (pk->l3off != ETH_HLEN)
			return -1;	/* in-band VLAN tags under TC: not here */
		return bpf_skb_adjust_room(hk->ctx, olen, BPF_ADJ_ROOM_MAC,
					   tc_flags) ? -1 : 0;
	}
	if (bpf_xdp_adjust_head(hk->ctx, -(int)olen))
		return -1;
	data = hook_data(hk);
	data_end = hook_data_end(hk);
	if (data + olen + 22 > data_end)
		return -1;
	/* the L2 header (MACs, up to two VLAN tags, ethertype) to the new
	 * front: a packet that goes to the stack needs its MACs. Through the
	 * stack: 22 bytes moved by 20 overlap, and a direct copy may store
	 * over bytes it has yet to load. */
	if (pk->l3off >= 22) {
		__builtin_memcpy(l2, data + olen, 22);
		__builtin_memcpy(data, l2, 22);
	} else if (pk->l3off >= 18) {
		__builtin_memcpy(l2, data + olen, 18);
		__builtin_memcpy(data, l2, 18);
	} else {
		__builtin_memcpy(l2, data + olen, 14);
		__builtin_memcpy(data, l2, 14);
	}
	return 0;
}

static __always_inline int encap_ipip(const struct hook *hk,
				      const struct pkt *pk,
				      const struct sluice_backend *be)
{
	__u32 off = pk->l3off & 0x1f, h = tun_mix(pk);
	void *data, *data_end;

	if (pk->flow.family == AF_INET) {
		struct iphdr *o;

		if (grow_head(hk, pk, sizeof(*o), BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
			return -1;
		data = hook_data(hk);
		data_end = hook_data_end(hk);
		o = data + off;
		if ((void *)(o + 1) > data_end)
			return -1;
		o->version = 4;
		o->ihl = 5;
		o->tos = pk->tos;
		o->tot_len = bpf_htons(pk->ip_len + sizeof(*o));
		o->id = 0;
		o->frag_off = bpf_htons(0x4000);	/* DF */
		o->ttl = 64;
		o->protocol = IPPROTO_IPIP;
		o->saddr = pfx_word(be->tun_src.v4, be->tun_plen, h);
		o->daddr = be->addr.v4;
		iph_csum(o);
		return 0;
	} else {
		struct ipv6hdr *o;
		int bits = be->tun_plen;

		if (grow_head(hk, pk, sizeof(*o), BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
			return -1;
		data = hook_data(hk);
		data_end = hook_data_end(hk);
		o = data + off;
		if ((void *)(o + 1) > data_end)
			return -1;
		o->version = 6;
		o->priority = pk->tos >> 4;
		o->flow_lbl[0] = ((pk->tos & 0xf) << 4) | ((h >> 16) & 0xf);
		o->flow_lbl[1] = h >> 8;
		o->flow_lbl[2] = h;
		o->payload_len = bpf_htons(pk->ip_len);
		o->nexthdr = IPPROTO_IPV6;
		o->hop_limit = 64;
		__builtin_memcpy(&o->saddr, be->tun_src.v6, 12);
		o->saddr.in6_u.u6_addr32[3] =
			pfx_word(be->tun_src.v6[3], bits - 96, h);
		__builtin_memcpy(&o->daddr, be->addr.v6, 16);
		return 0;
	}
}

/*
 * Turn the client's packet into an ICMP error to the client about it.
 * Returns 0 when the frame is ready to go back out of the ingress device.
 */
static __always_inline int icmp_too_big(const struct hook *hk,
					const struct pkt *pk, __u32 mtu)
{
	__u32 off = pk->l3off & 0x1f, v4 = pk->flow.family == AF_INET;
	__u32 quote = v4 ? QUOTE4 : QUOTE6;
	__u32 hlen = v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u8 cmac[ETH_ALEN], lmac[ETH_ALEN];
	struct icmp_hdr *ic;
	void *data, *data_end;
	__u64 c;

	/* never an ICMP error about an ICMP error (RFC 1122 3.2.2, RFC 4443
	 * 2.4(e)); an ICMP error's flow.src is the quoted client, not its
	 * sender, besides */
	if (pk->icmp_err)
		return -1;
	if (v4 && !pk->df)
		return -1;
	if (pk->ip_len < quote)
		return -1;
	data = hook_data(hk);
	data_end = hook_data_end(hk);
	if (data + ETH_HLEN > data_end)
		return -1;
	__builtin_memcpy(cmac, data + 6, ETH_ALEN);
	__builtin_memcpy(lmac, data, ETH_ALEN);
	if (hk->xdp) {
		__u32 flen = data_end - data;
		int cut;

		/* keep the frame length a scalar: folded into pointer math,
		 * older verifiers reject it as unbounded */
		asm volatile("" : "+r"(flen));
		cut = (int)(off + quote) - (int)flen;

		if (bpf_xdp_adjust_tail(hk->ctx, cut))
			return -1;
		if (grow_head(hk, pk, hlen + sizeof(*ic), 0))
			return -1;
	} else {
		if (pk->l3off != ETH_HLEN)
			return -1;
		if (bpf_skb_change_tail(hk->ctx, off + quote, 0))
			return -1;
		if (grow_head(hk, pk, hlen + sizeof(*ic), 0))
			return -1;
		if (bpf_skb_pull_data(hk->ctx, off + hlen + sizeof(*ic) + quote))
			return -1;
	}
	data = hook_data(hk);
	data_end = hook_data_end(hk);
	set_macs(data, data_end, cmac, lmac);
	if (v4) {
		struct iphdr *ip = data + off;

		ic = (void *)(ip + 1);
		if ((void *)(ic + 1) + QUOTE4 > data_end)
			return -1;
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0xc0;		/* internetwork control, as Linux does */
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*ic) + QUOTE4);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->protocol = IPPROTO_ICMP;
		ip->saddr = pk->flow.dst.v4;
		ip->daddr = pk->flow.src.v4;
		iph_csum(ip);
		ic->type = ICMP_DEST_UNREACH;
		ic->code = ICMP_FRAG_NEEDED_CODE;
		ic->csum = 0;
		ic->rest = bpf_htonl(mtu & 0xffff);
		c = bpf_csum_diff(0, 0, (void *)ic, sizeof(*ic) + QUOTE4, 0);
		ic->csum = (__sum16)~csum_fold32(c);
	} else {
		struct ipv6hdr *ip6 = data + off;

		ic = (void *)(ip6 + 1);
		if ((void *)(ic + 1) + QUOTE6 > data_end)
			return -1;
		ip6->version = 6;
		ip6->priority = 0;
		ip6->flow_lbl[0] = 0;
		ip6->flow_lbl[1] = 0;
		ip6->flow_lbl[2] = 0;
		ip6->payload_len = bpf_htons(sizeof(*ic) + QUOTE6);
		ip6->nexthdr = ICMPV6_TYPE_ICMP;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, pk->flow.dst.v6, 16);
		__builtin_memcpy(&ip6->daddr, pk->flow.src.v6, 16);
		ic->type = ICMPV6_PKT_TOOBIG;
		ic->code = 0;
		ic->csum = 0;
		ic->rest = bpf_htonl(mtu);
		/* pseudo-header: addresses, length, next header */
		c = bpf_csum_diff(0, 0, (void *)&ip6->saddr, 32, 0);
		c += bpf_htonl(sizeof(*ic) + QUOTE6) + bpf_htonl(ICMPV6_TYPE_ICMP);
		c = bpf_csum_diff(0, 0, (void *)ic, sizeof(*ic) + QUOTE6,
				  csum_fold32(c));
		ic->csum = (__sum16)~csum_fold32(c);
	}
	return 0;
}

#endif
