/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packets a receiving host would drop anyway. sluice never forwards them
 * to a backend: the parser reports them malformed and they pass to the
 * local stack untouched, which drops and counts them as it always does
 * (IpInHdrErrors, martian logging, ICMP parameter problems), so a host
 * behind sluice sees exactly what it would see without it. Passing, not
 * dropping: the stack is the authority on what is acceptable, and an
 * operator's own counters and logs keep working. Forwarding them unchanged
 * (Katran's choice) would make the backend do the same drop after a trip
 * over the network. The cost on the hit path is measured by
 * tests/bench/modecost --ref (README, "Malformed packets").
 *
 *   - IPv4 header checksum wrong (every option word included);
 *   - IPv4 options that do not parse: an option longer than the header or
 *     shorter than 2 bytes; also loose and strict source routes, which
 *     Linux drops unless accept_source_route is set;
 *   - IPv6 hop-by-hop / destination options: an option that runs past its
 *     header, or one whose type says "discard if unknown" (the two high
 *     bits not 00: the stack decides, and answers with ICMPv6 itself);
 *     headers with more than OPT6_MAX bytes of options are passed too;
 *   - IPv6 routing header with segments left: the VIP is not the final
 *     destination;
 *   - martian sources: IPv4 0/8, 127/8, 224/4 (multicast), 255.255.255.255;
 *     IPv6 ::, ::1, ff00::/8 (multicast), ::ffff:0:0/96 (v4-mapped).
 *
 * The option walks are bounded loops over constant offsets from a start
 * checked against a constant, every byte checked against data_end right
 * before it is read; they run as global functions (see below).
 */
#ifndef SLUICE_BPF_HOSTDROP_H
#define SLUICE_BPF_HOSTDROP_H

#include <linux/types.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "csum.h"
#include "ctx.h"

#define IPOPT_END_	0
#define IPOPT_NOOP_	1
#define IPOPT_LSRR_	0x83
#define IPOPT_SSRR_	0x89
#define OPT4_MAX	40	/* IHL 15: 40 bytes of options */
#define OPT6_MAX	14	/* TLV bytes checked per options header (16-byte header) */
#define OPT_OFF_MAX	0x1ff	/* options lie this close to the frame's start (a mask) */

/* The one's complement sum of the fixed 20 bytes of an IPv4 header. */
static __always_inline __u64 ip4_sum20(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u64 c = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		c += w[i];
	return c;
}

/*
 * The olen (<= 40, a multiple of 4) bytes of IPv4 options at data + off:
 * -1 when they do not parse (RFC 791), else their 16-bit one's complement
 * sum for the header checksum. skip counts the bytes left of the option
 * being passed over.
 */
static __always_inline int ip4_opts_walk(void *data, void *data_end,
					 __u32 off, __u32 olen)
{
	const __u8 *opt;
	__u32 skip = 0, end = 0;
	__u64 c = 0;
	int k;

	if (off > OPT_OFF_MAX || olen > OPT4_MAX)
		return 0;
	/* the mask bounds the offset for the verifier; the barrier keeps the
	 * compiler from dropping it as implied by the compare */
	asm volatile("" : "+r"(off));
	opt = data + (off & OPT_OFF_MAX);
#pragma unroll
	for (k = 0; k < OPT4_MAX; k += 4) {
		const __u32 *w = (const __u32 *)(opt + k);

		if ((__u32)k >= olen)
			break;
		if ((void *)(w + 1) > data_end)
			return -1;
		c += *w;
	}
	for (k = 0; k < OPT4_MAX; k++) {
		__u8 t, l;

		if ((__u32)k >= olen || end)
			break;
		if (skip) {
			skip--;
			continue;
		}
		if ((void *)(opt + k + 2) > data_end)
			return -1;	/* the sum read them all: never taken */
		t = opt[k];
		if (t == IPOPT_END_)
			end = 1;	/* the rest is padding */
		if (t == IPOPT_END_ || t == IPOPT_NOOP_)
			continue;
		if (t == IPOPT_LSRR_ || t == IPOPT_SSRR_)
			return -1;
		l = opt[k + 1];
		if (k + 1 >= (int)olen || l < 2 || l > olen - k)
			return -1;
		skip = l - 1;
	}
	return csum_fold32(c);
}

/*
 * 1 (0 when not) when the TLVs of the IPv6 hop-by-hop or destination options header of
 * hlen bytes at data + off parse and none says "discard if unknown".
 */
static __always_inline int ip6_opts_walk(void *data, void *data_end,
					 __u32 off, __u32 hlen)
{
	__u32 olen = hlen - 2, skip = 0;
	const __u8 *opt;
	int k;

	if (off > OPT_OFF_MAX || hlen < 8 || hlen > OPT6_MAX + 2)
		return 0;
	asm volatile("" : "+r"(off));	/* as in ip4_opts_walk */
	opt = data + (off & OPT_OFF_MAX) + 2;
	for (k = 0; k < OPT6_MAX; k++) {
		__u8 t, l;

		if ((__u32)k >= olen)
			return 1;
		if (skip) {
			skip--;
			continue;
		}
		if ((void *)(opt + k + 1) > data_end)
			return 0;
		t = opt[k];
		if (t == 0)		/* Pad1 */
			continue;
		if (t >> 6)
			return 0;
		if ((void *)(opt + k + 2) > data_end)
			return 0;
		l = opt[k + 1];
		if ((__u32)k + 2 > olen || l > olen - k - 2)
			return 0;	/* (found by test_fuzz) */
		skip = l + 1;
	}
	return 1;
}

/*
 * The walks as global functions: the verifier checks each once per
 * program, and its callers see only a 0/1 scalar. Inlined, every path
 * through a walk multiplied the states of the pipeline behind it (the TC
 * program neared the 1M-instruction limit). XDP and TC each need their
 * own: a global function's context argument has the program's type.
 */
__attribute__((noinline)) int sluice_opts_xdp(struct xdp_md *ctx, __u32 off,
					      __u32 len, __u32 v6)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return v6 ? ip6_opts_walk(data, data_end, off, len)
		  : ip4_opts_walk(data, data_end, off, len);
}

__attribute__((noinline)) int sluice_opts_tc(struct __sk_buff *skb, __u32 off,
					     __u32 len, __u32 v6)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	return v6 ? ip6_opts_walk(data, data_end, off, len)
		  : ip4_opts_walk(data, data_end, off, len);
}

/* Options of len bytes at offset off in the frame. IPv4: -1 when they do
 * not parse, else their checksum sum; IPv6 (an options header): 1 when
 * they pass, else 0. */
static __always_inline int opts_ok(const struct hook *hk, __u32 off, __u32 len,
				   __u32 v6)
{
	if (hk->xdp)
		return sluice_opts_xdp(hk->ctx, off, len, v6);
	return sluice_opts_tc(hk->ctx, off, len, v6);
}

static __always_inline int ip4_martian(__be32 saddr)
{
	__u32 a = bpf_ntohl(saddr), top = a >> 24;

	return top == 0 || top == 127 || (top >= 224 && top < 240) ||
	       a == 0xffffffffu;
}

static __always_inline int ip6_martian(const struct in6_addr *a)
{
	const __be32 *w = a->in6_u.u6_addr32;

	if (a->in6_u.u6_addr8[0] == 0xff)
		return 1;	/* multicast */
	if (w[0] || w[1])
		return 0;
	if (w[2] == bpf_htonl(0xffff))
		return 1;	/* v4-mapped */
	return !w[2] && (!w[3] || w[3] == bpf_htonl(1));	/* ::, ::1 */
}

#endif
