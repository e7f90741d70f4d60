/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Destination NAT. Forward (client -> VIP): destination address and port
 * become the backend's. Reply (backend -> client, on the backend-facing
 * device): the source becomes the VIP and service port again, found in
 * nat_rev by the backend-side tuple. IPv4 header and TCP/UDP checksums are
 * updated incrementally (the L4 checksum covers the pseudo-header's
 * addresses); a UDP/IPv4 datagram without a checksum keeps none.
 */
#ifndef SLUICE_BPF_NAT_H
#define SLUICE_BPF_NAT_H

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "ctx.h"
#include "csum.h"
#include "parse.h"

#define L4_MAX_OFF 0x1ff	/* IP header + extension headers we rewrite behind */

/* Rewrite one address and port (dst when dir_dst, else src) of the packet. */
static __always_inline int nat_rewrite(const struct hook *hk,
				       const struct pkt *pk, int dir_dst,
				       const union sluice_addr *addr,
				       __be16 port)
{
	void *data = hook_data(hk), *data_end = hook_data_end(hk);
	__u32 off = pk->l3off & 0x1f, l4 = pk->l4rel;
	__sum16 *l4sum;
	__be16 *pp;
	int udp0 = 0, i;

	if (l4 > L4_MAX_OFF)
		return -1;
	if (pk->flow.proto == IPPROTO_TCP) {
		struct tcphdr *th = data + off + l4;

		if ((void *)(th + 1) > data_end)
			return -1;
		l4sum = &th->check;
		pp = dir_dst ? &th->dest : &th->source;
	} else {
		struct udphdr *uh = data + off + l4;

		if ((void *)(uh + 1) > data_end)
			return -1;
		l4sum = &uh->check;
		pp = dir_dst ? &uh->dest : &uh->source;
		udp0 = pk->flow.family == AF_INET && !uh->check;
	}
	if (pk->flow.family == AF_INET) {
		struct iphdr *ip = data + off;
		__be32 *a;

		if ((void *)(ip + 1) > data_end)
			return -1;
		a = dir_dst ? &ip->daddr : &ip->saddr;
		csum_update4(&ip->check, *a, addr->v4);
		if (!udp0)
			csum_update4(l4sum, *a, addr->v4);
		*a = addr->v4;
	} else {
		struct ipv6hdr *ip6 = data + off;
		__be32 *a;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		a = dir_dst ? ip6->daddr.in6_u.u6_addr32 : ip6->saddr.in6_u.u6_addr32;
#pragma unroll
		for (i = 0; i < 4; i++) {
			csum_update4(l4sum, a[i], addr->v6[i]);
			a[i] = addr->v6[i];
		}
	}
	if (!udp0) {
		csum_update2(l4sum, *pp, port);
		if (pk->flow.proto == IPPROTO_UDP && !*l4sum)
			*l4sum = 0xffff;	/* 0 means "no checksum" */
	}
	*pp = port;
	return 0;
}

/* The reply's key in nat_rev: the backend-side tuple. */
static __always_inline void nat_rev_key(const struct pkt *pk,
					const struct sluice_backend *be,
					struct sluice_conn_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src = be->addr;
	k->dst = pk->flow.src;
	k->sport = be->port;
	k->dport = pk->flow.sport;
	k->proto = pk->flow.proto;
	k->family = pk->flow.family;
}

#endif
