// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backends of the ipip mode: TC ingress program that strips the outer IPv4
 * (protocol 4) or IPv6 (next header 41) header and hands the inner packet
 * to the local stack, so a backend needs no ipip/ip6_tunnel module. The
 * inner packet's destination (the VIP) must be a local address (loopback).
 * Only same-family tunnels (4-in-4, 6-in-6) are what sluice sends; anything
 * else passes untouched, as does a packet whose lengths disagree (the
 * outer packet must lie in the frame and the inner one fill the outer
 * payload exactly), an outer IPv4 header with options or a bad checksum.
 * Counters: decap_stats[0] stripped, [1] passed.
 * `sluice decap attach DEV` / `detach DEV`.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef IPPROTO_IPIP
#define IPPROTO_IPIP 4
#endif
#ifndef IPPROTO_IPV6
#define IPPROTO_IPV6 41
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} decap_stats SEC(".maps");

/* An IPv4 header without options whose checksum is right. */
static __always_inline int ip4_hdr_ok(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 c = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		c += w[i];
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return c == 0xffff;
}

static __always_inline int count(__u32 i, int verdict)
{
	__u64 *c = bpf_map_lookup_elem(&decap_stats, &i);

	if (c)
		*c += 1;
	return verdict;
}

SEC("tc")
int sluice_decap(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct ethhdr *eth;
	__u32 flen;
	int olen = 0;

	if (bpf_skb_pull_data(skb, skb->len < 96 ? skb->len : 96) < 0)
		return TC_ACT_UNSPEC;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return TC_ACT_UNSPEC;
	/* lengths from the headers: the outer packet lies in the frame, and
	 * the inner one fills the outer payload exactly, as sluice sends it */
	flen = (__u32)(data_end - (void *)(eth + 1));
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *o = (void *)(eth + 1);
		struct iphdr *in;
		__u32 otot;

		if ((void *)(o + 1) > data_end || o->version != 4 || o->ihl < 5)
			return TC_ACT_UNSPEC;
		if (o->protocol != IPPROTO_IPIP || (o->frag_off & bpf_htons(0x3fff)))
			return TC_ACT_UNSPEC;
		/* no outer options (sluice sends none); a bad checksum is the
		 * stack's to drop */
		if (o->ihl != 5 || !ip4_hdr_ok(o))
			return count(1, TC_ACT_UNSPEC);
		olen = sizeof(*o);
		otot = bpf_ntohs(o->tot_len);
		in = (void *)(o + 1);
		if (otot > flen || otot < olen + sizeof(*in))
			return count(1, TC_ACT_UNSPEC);
		if ((void *)(in + 1) > data_end || in->version != 4 ||
		    bpf_ntohs(in->tot_len) != otot - olen)
			return count(1, TC_ACT_UNSPEC);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *o = (void *)(eth + 1);
		struct ipv6hdr *in;
		__u32 oplen;

		if ((void *)(o + 1) > data_end || o->version != 6 ||
		    o->nexthdr != IPPROTO_IPV6)
			return TC_ACT_UNSPEC;
		olen = sizeof(*o);
		oplen = bpf_ntohs(o->payload_len);
		in = (void *)(o + 1);
		if (oplen + olen > flen || oplen < sizeof(*in))
			return count(1, TC_ACT_UNSPEC);
		if ((void *)(in + 1) > data_end || in->version != 6 ||
		    bpf_ntohs(in->payload_len) + sizeof(*in) != oplen)
			return count(1, TC_ACT_UNSPEC);
	} else {
		return TC_ACT_UNSPEC;
	}
	if (bpf_skb_adjust_room(skb, -olen, BPF_ADJ_ROOM_MAC, 0))
		return count(1, TC_ACT_UNSPEC);
	return count(0, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
