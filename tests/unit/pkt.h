/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Crafting test packets: Ethernet (+VLAN), IPv4 (+options) or IPv6
 * (+extension headers), TCP or UDP, and ICMP errors that quote a flow. */
#ifndef SLUICE_TEST_PKT_H
#define SLUICE_TEST_PKT_H

#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "sluice.h"

struct flow {
	__u8 family;
	__u8 proto;
	union sluice_addr src, dst;
	__u16 sport, dport;	/* host order */
	__u8 tcp_flags;		/* TH_SYN etc. as in byte 13 */
	__u32 seq;		/* TCP sequence number, host order */
};

struct pkt_opts {
	int vlans;		/* 0, 1 or 2 tags */
	int ip_opt_words;	/* IPv4 option words (NOPs) */
	int ext_hdrs;		/* IPv6 destination-option headers */
	int payload;		/* bytes after L4 */
};

#define F_SYN 0x02
#define F_ACK 0x10
#define F_RST 0x04

static const __u8 t_lb_mac[6] = { 0x02, 0x1b, 0, 0, 0, 0x01 };
static const __u8 t_cl_mac[6] = { 0x02, 0xc1, 0, 0, 0, 0x01 };

static inline __u16 ip_csum(const void *p, int len)
{
	const __u16 *w = p;
	__u32 sum = 0;

	while (len > 1) {
		sum += *w++;
		len -= 2;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/*
 * A frame buffer whose IP header, after 14 (or 18, 22) bytes of Ethernet
 * and VLAN tags, is 4-byte aligned, so tests may read it through struct
 * iphdr and friends without undefined behaviour (UBSan: make sanitize).
 */
#define FRAME_BUF(name, size) \
	_Alignas(4) __u8 name##_mem[(size) + 2]; __u8 *const name = name##_mem + 2

/*
 * L3 + L4 (no Ethernet); returns its length. Built in an aligned scratch
 * buffer and copied: after a 14-byte Ethernet header the destination is
 * not 4-byte aligned, and struct iphdr stores there are undefined
 * behaviour (UBSan, make sanitize).
 */
static inline int build_l3_aligned(__u8 *b, const struct flow *f,
				   const struct pkt_opts *o);

static inline int build_l3(__u8 *b, const struct flow *f,
			   const struct pkt_opts *o)
{
	static _Alignas(8) __u8 scratch[16384];
	int len = build_l3_aligned(scratch, f, o);

	memcpy(b, scratch, len);
	return len;
}

static inline int build_l3_aligned(__u8 *b, const struct flow *f,
				   const struct pkt_opts *o)
{
	int l4len = (f->proto == IPPROTO_TCP ? 20 : 8) + (o ? o->payload : 0);
	int hl, i;
	__u8 *l4;

	if (f->family == AF_INET) {
		struct iphdr *ip = (void *)b;
		int ow = o ? o->ip_opt_words : 0;

		hl = 20 + 4 * ow;
		memset(b, 0, hl);
		ip->version = 4;
		ip->ihl = hl / 4;
		ip->ttl = 64;
		ip->protocol = f->proto;
		ip->tot_len = htons(hl + l4len);
		ip->saddr = f->src.v4;
		ip->daddr = f->dst.v4;
		for (i = 0; i < ow * 4; i++)
			b[20 + i] = 1;	/* NOP */
		ip->check = ip_csum(ip, hl);
	} else {
		struct ipv6hdr *ip6 = (void *)b;
		int ne = o ? o->ext_hdrs : 0;

		hl = 40 + 8 * ne;
		memset(b, 0, hl);
		ip6->version = 6;
		ip6->hop_limit = 64;
		ip6->payload_len = htons(hl - 40 + l4len);
		memcpy(&ip6->saddr, f->src.bytes, 16);
		memcpy(&ip6->daddr, f->dst.bytes, 16);
		ip6->nexthdr = ne ? IPPROTO_DSTOPTS : f->proto;
		for (i = 0; i < ne; i++) {
			b[40 + 8 * i] = i + 1 < ne ? IPPROTO_DSTOPTS : f->proto;
			b[40 + 8 * i + 1] = 0;	/* 8 bytes */
			b[40 + 8 * i + 2] = 1;	/* PadN */
			b[40 + 8 * i + 3] = 4;
		}
	}
	l4 = b + hl;
	memset(l4, 0, l4len);
	if (f->proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4;

		th->source = htons(f->sport);
		th->dest = htons(f->dport);
		th->seq = htonl(f->seq);
		th->doff = 5;
		l4[13] = f->tcp_flags;
		th->window = htons(65535);
	} else {
		struct udphdr *uh = (void *)l4;

		uh->source = htons(f->sport);
		uh->dest = htons(f->dport);
		uh->len = htons(l4len);
	}
	for (i = 0; o && i < o->payload; i++)
		l4[l4len - o->payload + i] = (__u8)i;
	return hl + l4len;
}

static inline int build_eth(__u8 *b, __u16 proto, int vlans)
{
	struct ethhdr *eth = (void *)b;
	int off = 14, i;

	memcpy(eth->h_dest, t_lb_mac, 6);
	memcpy(eth->h_source, t_cl_mac, 6);
	eth->h_proto = htons(vlans ? (vlans == 2 ? 0x88a8 : 0x8100) : proto);
	for (i = 0; i < vlans; i++) {
		__u16 *tag = (__u16 *)(b + off);

		tag[0] = htons(100 + i);
		tag[1] = htons(i + 1 < vlans ? 0x8100 : proto);
		off += 4;
	}
	return off;
}

static inline int build_pkt(__u8 *b, const struct flow *f,
			    const struct pkt_opts *o)
{
	int off = build_eth(b, f->family == AF_INET ? ETH_P_IP : ETH_P_IPV6,
			    o ? o->vlans : 0);

	return off + build_l3(b + off, f, o);
}

/*
 * An ICMP error from a router (rtr) to the VIP about a packet the VIP sent
 * to the client: the quoted packet is the reply direction of flow f.
 * type: 3/11 (v4) or 1/2/3 (v6).
 */
static inline int build_icmp_err_aligned(__u8 *b, const struct flow *f,
					 const union sluice_addr *rtr, int type);

/* Built in an aligned frame buffer and copied (see FRAME_BUF). */
static inline int build_icmp_err(__u8 *b, const struct flow *f,
				 const union sluice_addr *rtr, int type)
{
	static FRAME_BUF(scratch, 512);
	int len = build_icmp_err_aligned(scratch, f, rtr, type);

	memcpy(b, scratch, len);
	return len;
}

static inline int build_icmp_err_aligned(__u8 *b, const struct flow *f,
					 const union sluice_addr *rtr, int type)
{
	struct flow rev = *f, outer = {};
	_Alignas(4) __u8 inner[128];
	int off, ilen, hl;

	rev.src = f->dst;
	rev.dst = f->src;
	rev.sport = f->dport;
	rev.dport = f->sport;
	ilen = build_l3(inner, &rev, NULL);
	outer.family = f->family;
	outer.src = *rtr;
	outer.dst = f->dst;
	off = build_eth(b, f->family == AF_INET ? ETH_P_IP : ETH_P_IPV6, 0);
	if (f->family == AF_INET) {
		struct iphdr *ip = (void *)(b + off);

		hl = 20;
		memset(ip, 0, hl);
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_ICMP;
		ip->tot_len = htons(hl + 8 + ilen);
		ip->saddr = outer.src.v4;
		ip->daddr = outer.dst.v4;
		ip->check = ip_csum(ip, hl);
	} else {
		struct ipv6hdr *ip6 = (void *)(b + off);

		hl = 40;
		memset(ip6, 0, hl);
		ip6->version = 6;
		ip6->hop_limit = 64;
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->payload_len = htons(8 + ilen);
		memcpy(&ip6->saddr, outer.src.bytes, 16);
		memcpy(&ip6->daddr, outer.dst.bytes, 16);
	}
	memset(b + off + hl, 0, 8);
	b[off + hl] = type;
	b[off + hl + 1] = type == 3 && f->family == AF_INET ? 4 : 0;
	memcpy(b + off + hl + 8, inner, ilen);
	return off + hl + 8 + ilen;
}

static inline union sluice_addr A(const char *s)
{
	union sluice_addr a;
	__u8 fam;

	sluice_parse_addr(s, &a, &fam);
	return a;
}

static inline struct flow flow4(const char *src, const char *dst, __u16 sport,
				__u16 dport, __u8 proto, __u8 flags)
{
	struct flow f = { .family = AF_INET, .proto = proto, .src = A(src),
			  .dst = A(dst), .sport = sport, .dport = dport,
			  .tcp_flags = flags };
	return f;
}

static inline struct flow flow6(const char *src, const char *dst, __u16 sport,
				__u16 dport, __u8 proto, __u8 flags)
{
	struct flow f = flow4(src, dst, sport, dport, proto, flags);

	f.family = AF_INET6;
	return f;
}

/* Run one packet; returns the verdict, out holds the result bytes. */
static inline int t_run(int prog_fd, const void *in, __u32 len, __u8 *out,
			__u32 *out_len)
{
	__u8 scratch[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out ? out : scratch,
		    .data_size_out = sizeof(scratch), .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd, &o);

	if (err)
		return err;
	if (out_len)
		*out_len = o.data_size_out;
	return o.retval;
}

/*
 * Whether this kernel's XDP test runs take an xdp_md context (ctx_in, the
 * ingress device): only from 5.15 on (47316f4a3053 and ec94670fcb3b,
 * "bpf: Support input xdp_md context in BPF_PROG_TEST_RUN"); 5.10 refuses
 * every run that passes one with EINVAL. Without one the packet arrives on
 * the namespace's loopback, which forwards like any device (the namespace
 * sets conf.all.forwarding). Asked once, of a program that only passes, so
 * no frame of a test (too big for a test run, say) decides it.
 */
static inline bool t_xdp_takes_ctx(void)
{
	static int takes = -1;
	struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	__u8 frame[64] = { [12] = 0x08 };
	struct xdp_md ctx = { .data_end = sizeof(frame) };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = sizeof(frame), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int fd;

	if (takes >= 0)
		return takes;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "t_xdp_pass", "GPL", pass, 2, NULL);
	if (fd < 0)
		return false;	/* the test's own load will say why */
	takes = !(bpf_prog_test_run_opts(fd, &o) && errno == EINVAL);
	close(fd);
	if (!takes)
		fprintf(stderr, "  note: XDP test runs take no xdp_md context before "
			"5.15: the ingress device is lo\n");
	return takes;
}

/* The same for an XDP program that looks at its ingress device (the FIB
 * lookups of ipip and nat); out holds up to 4096 bytes. A failed run
 * leaves *out_len 0. */
static inline int t_run_ctx(int prog_fd, const __u8 *in, __u32 len, __u8 *out,
			    __u32 *out_len, int ifindex)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = 4096, .repeat = 1);
	int err;

	*out_len = 0;
	if (t_xdp_takes_ctx()) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err)
		return err;
	*out_len = o.data_size_out;
	return o.retval;
}

#endif
