/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksums. Incremental updates follow RFC 1624 (HC' = ~(~HC +
 * ~m + m')) on raw 16-bit words, which is byte-order neutral; they work the
 * same from XDP and TC because both hooks see complete checksums here (a
 * CHECKSUM_PARTIAL packet from a local veth sender is the exception the lab
 * avoids with `ethtool -K tx off`).
 */
#ifndef SLUICE_BPF_CSUM_H
#define SLUICE_BPF_CSUM_H

#include <linux/types.h>
#include <linux/ip.h>

static __always_inline __u16 csum_fold32(__u64 c)
{
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)c;
}

static __always_inline void csum_update4(__sum16 *sum, __be32 from, __be32 to)
{
	__u32 f = ~(__u32)from, t = (__u32)to;
	__u64 c = (__u16)~*sum;

	c += (f & 0xffff) + (f >> 16) + (t & 0xffff) + (t >> 16);
	*sum = (__sum16)~csum_fold32(c);
}

static __always_inline void csum_update2(__sum16 *sum, __be16 from, __be16 to)
{
	__u64 c = (__u16)~*sum;

	c += (__u16)~from + (__u16)to;
	*sum = (__sum16)~csum_fold32(c);
}

/* A fresh IPv4 header without options. */
static __always_inline void iph_csum(struct iphdr *iph)
{
	__u16 *w = (__u16 *)iph;
	__u64 c = 0;
	int i;

	iph->check = 0;
#pragma unroll
	for (i = 0; i < 10; i++)
		c += w[i];
	iph->check = (__sum16)~csum_fold32(c);
}

#endif
