/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fuzz's judge: a strict parser written for the test from the RFCs
 * and the README's policy ("Malformed packets"), sharing no code with
 * bpf/lib, and the output each mode documents. A packet is well-formed
 * when every length is the packet's own and consistent (Ethernet, up to
 * two VLAN tags; IPv4: IHL, total length inside the frame, no fragment,
 * header checksum right, options that parse and no source route, no
 * martian source; IPv6: payload length inside the frame, at most four
 * extension headers inside it, no fragment, no routing header with
 * segments left, options headers of at most 16 bytes whose TLVs parse and
 * none of which says "discard if unknown", no martian source; TCP: data
 * offset >= 5 inside the IP payload; UDP: 8 <= length <= IP payload; an
 * ICMP/ICMPv6 error of a steered type whose quoted IP header and 8 L4
 * bytes lie inside the message and quote a TCP/UDP packet the VIP sent).
 */
#ifndef SLUICE_FUZZ_JUDGE_H
#define SLUICE_FUZZ_JUDGE_H

#include <stdlib.h>
#include <linux/pkt_cls.h>
#include "fuzz_gen.h"

enum {
	FZ_P_NO_ABORT,		/* never XDP_ABORTED, never a failed run */
	FZ_P_ONLY_VALID,	/* forwarded only if well-formed and a service's */
	FZ_P_VALID_FWD,		/* a well-formed service packet is forwarded */
	FZ_P_LEN,		/* output length agrees with the frame */
	FZ_P_SHAPE_DSR,		/* dsr: only the MACs changed */
	FZ_P_SHAPE_NAT,		/* nat: only dst address/port, checksums */
	FZ_P_SHAPE_IPIP,	/* ipip: one outer header, inner unchanged */
	FZ_P_SHAPE_ICMP,	/* ipip too big: a well-formed ICMP answer */
	FZ_P_SHAPE_REPLY,	/* nat reply: only src address/port, checksums */
	FZ_P_SHAPE_DECAP,	/* decap: exactly the outer header removed */
	FZ_PROPS,
};

static const char *const fz_prop_names[FZ_PROPS] = {
	"never aborted", "forwarded only if valid+service",
	"valid service packet forwarded", "output length agrees",
	"dsr: only MACs changed", "nat: only dst, port, checksums",
	"ipip: one outer header, inner same", "ipip too big: ICMP answer",
	"nat reply: only src, port, checksums", "decap: outer header removed",
};

#define FZ_RUN_FAILED	(-1000)	/* the verdict of a test run that failed */

struct fz_counts {
	/* tried: judged; short: under 14 bytes, never run; refused: the
	 * kernel refused the test run (EINVAL), so nothing was judged */
	__u64 tried, short_, refused, forwarded, passed;
	__u64 checked[FZ_PROPS], viol[FZ_PROPS];
	__u64 per_prog[FZ_PROGS], refused_prog[FZ_PROGS];
	const char *last_why;
};

/* What the strict parser found. */
struct sp {
	const char *why;	/* why not well-formed (NULL: it is) */
	__u32 l2, l3, iplen, l4, room, ulen;
	__u8 family, proto, icmp, df, flags;
	union sluice_addr src, dst;	/* of the packet itself */
	__u16 sport, dport;
	/* the flow it is steered as (an ICMP error: its quote, reversed) */
	__u8 fproto;
	union sluice_addr fsrc, fdst;
	__u16 fsport, fdport;
};

static inline int sp_bad(struct sp *o, const char *why)
{
	o->why = why;
	return 0;
}

static inline int sp_martian4(const __u8 *a)
{
	return a[0] == 0 || a[0] == 127 || (a[0] >= 224 && a[0] < 240) ||
	       (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

static inline int sp_martian6(const __u8 *a)
{
	static const __u8 z[16];
	int i;

	if (a[0] == 0xff)
		return 1;
	if (memcmp(a, z, 10))
		return 0;
	if (a[10] == 0xff && a[11] == 0xff)
		return 1;
	for (i = 10; i < 15; i++)
		if (a[i])
			return 0;
	return a[15] <= 1;
}

static inline int sp_opts4(const __u8 *o, __u32 n)
{
	__u32 k = 0;

	while (k < n) {
		if (o[k] == 0)
			return 1;
		if (o[k] == 1) {
			k++;
			continue;
		}
		if (o[k] == 0x83 || o[k] == 0x89)
			return 0;	/* source routes */
		if (k + 1 >= n || o[k + 1] < 2 || k + o[k + 1] > n)
			return 0;
		k += o[k + 1];
	}
	return 1;
}

static inline int sp_opts6(const __u8 *h, __u32 hl)
{
	__u32 k = 2;

	if (hl > 16)
		return 0;
	while (k < hl) {
		if (h[k] == 0) {
			k++;
			continue;
		}
		if (h[k] >> 6)
			return 0;
		if (k + 1 >= hl || k + 2 + h[k + 1] > hl)
			return 0;
		k += 2 + h[k + 1];
	}
	return 1;
}

/* The L4 header at b + o->l4 with o->room bytes of IP payload. */
static inline int sp_l4(const __u8 *b, struct sp *o, const __u8 *outer_dst)
{
	const __u8 *l4 = b + o->l4;
	__u32 room = o->room;
	int v4 = o->family == AF_INET;

	o->fproto = o->proto;
	o->fsrc = o->src;
	o->fdst = o->dst;
	if (o->proto == IPPROTO_TCP) {
		if (room < 20)
			return sp_bad(o, "TCP header past the IP payload");
		if ((l4[12] >> 4) < 5 || (l4[12] >> 4) * 4u > room)
			return sp_bad(o, "TCP data offset");
		o->flags = l4[13];
	} else if (o->proto == IPPROTO_UDP) {
		if (room < 8)
			return sp_bad(o, "UDP header past the IP payload");
		o->ulen = fz_get16(l4 + 4);
		if (o->ulen < 8 || o->ulen > room)
			return sp_bad(o, "UDP length");
	} else if (o->proto == (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		const __u8 *q = l4 + 8;
		__u32 msg, qh;

		if (room < 8)
			return sp_bad(o, "ICMP header past the IP payload");
		if (v4 ? l4[0] != 3 && l4[0] != 11 : l4[0] < 1 || l4[0] > 3)
			return sp_bad(o, "ICMP type not steered");
		msg = room - 8;
		if (msg < (v4 ? 20u : 40u))
			return sp_bad(o, "quoted IP header past the message");
		if ((q[0] >> 4) != (v4 ? 4 : 6))
			return sp_bad(o, "quoted IP version");
		qh = v4 ? (q[0] & 0xf) * 4u : 40u;
		if (qh < 20 || qh + 8 > msg)
			return sp_bad(o, "quoted header + 8 bytes past the message");
		if (v4 && (fz_get16(q + 6) & 0x1fff))
			return sp_bad(o, "quoted later fragment");
		if (memcmp(q + (v4 ? 12 : 8), outer_dst, v4 ? 4 : 16))
			return sp_bad(o, "quote not from the outer destination");
		o->fproto = v4 ? q[9] : q[6];
		if (o->fproto != IPPROTO_TCP && o->fproto != IPPROTO_UDP)
			return sp_bad(o, "quoted protocol");
		memset(&o->fsrc, 0, sizeof(o->fsrc));
		memset(&o->fdst, 0, sizeof(o->fdst));
		memcpy(&o->fsrc, q + (v4 ? 16 : 24), v4 ? 4 : 16);
		memcpy(&o->fdst, q + (v4 ? 12 : 8), v4 ? 4 : 16);
		o->fsport = fz_get16(q + qh + 2);
		o->fdport = fz_get16(q + qh);
		o->icmp = 1;
		return 1;
	} else {
		return sp_bad(o, "not TCP, UDP or ICMP");
	}
	o->sport = o->fsport = fz_get16(l4);
	o->dport = o->fdport = fz_get16(l4 + 2);
	return 1;
}

static inline int sp_parse(const __u8 *b, __u32 len, struct sp *o)
{
	__u32 off = 14, avail;
	__u16 et;
	const __u8 *ip;
	int i;

	memset(o, 0, sizeof(*o));
	if (len < 14)
		return sp_bad(o, "short Ethernet");
	et = fz_get16(b + 12);
	for (i = 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++) {
		if (off + 4 > len)
			return sp_bad(o, "short VLAN tag");
		et = fz_get16(b + off + 2);
		off += 4;
	}
	o->l2 = o->l3 = off;
	ip = b + off;
	avail = len - off;
	if (et == 0x0800) {
		__u32 hl, tot;

		o->family = AF_INET;
		if (avail < 20 || (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
			return sp_bad(o, "IPv4 header");
		hl = (ip[0] & 0xf) * 4;
		tot = fz_get16(ip + 2);
		if (tot < hl || tot > avail)
			return sp_bad(o, "IPv4 total length");
		if (fz_get16(ip + 6) & 0x3fff)
			return sp_bad(o, "IPv4 fragment");
		if (fz_fold(fz_sum(ip, hl, 0)) != 0xffff)
			return sp_bad(o, "IPv4 header checksum");
		if (!sp_opts4(ip + 20, hl - 20))
			return sp_bad(o, "IPv4 options");
		if (sp_martian4(ip + 12))
			return sp_bad(o, "IPv4 martian source");
		o->iplen = tot;
		o->df = !!(ip[6] & 0x40);
		o->proto = ip[9];
		memcpy(&o->src, ip + 12, 4);
		memcpy(&o->dst, ip + 16, 4);
		o->l4 = off + hl;
		o->room = tot - hl;
		return sp_l4(b, o, ip + 16);
	}
	if (et == 0x86dd) {
		__u32 plen, ext = 0;
		__u8 nh;
		int n = 0;

		o->family = AF_INET6;
		if (avail < 40 || (ip[0] >> 4) != 6)
			return sp_bad(o, "IPv6 header");
		plen = fz_get16(ip + 4);
		if (40 + plen > avail)
			return sp_bad(o, "IPv6 payload length");
		if (sp_martian6(ip + 8))
			return sp_bad(o, "IPv6 martian source");
		nh = ip[6];
		while (nh == 0 || nh == 43 || nh == 60 || nh == 44) {
			const __u8 *h = ip + 40 + ext;
			__u32 hl;

			if (n++ == 4)
				return sp_bad(o, "more than 4 extension headers");
			if (nh == 44)
				return sp_bad(o, "IPv6 fragment");
			if (ext + 8 > plen)
				return sp_bad(o, "extension header past the payload");
			hl = (h[1] + 1) * 8;
			if (ext + hl > plen)
				return sp_bad(o, "extension header past the payload");
			if (nh == 43 && h[3])
				return sp_bad(o, "routing header with segments left");
			if (nh != 43 && !sp_opts6(h, hl))
				return sp_bad(o, "IPv6 options");
			nh = h[0];
			ext += hl;
		}
		o->iplen = 40 + plen;
		o->proto = nh;
		memcpy(&o->src, ip + 8, 16);
		memcpy(&o->dst, ip + 24, 16);
		o->l4 = off + 40 + ext;
		o->room = plen - ext;
		return sp_l4(b, o, ip + 24);
	}
	return sp_bad(o, "not IP");
}

/* The service a well-formed packet's flow belongs to, or NULL. */
static inline const struct fz_svc *sp_service(const struct fz_env *e,
					      const struct sp *o)
{
	int i;

	for (i = 0; i < e->nsvc; i++) {
		const struct fz_svc *z = &e->svc[i];

		if (z->family == o->family && z->proto == o->fproto &&
		    z->port == o->fdport &&
		    !memcmp(&z->vip, &o->fdst, z->family == AF_INET ? 4 : 16))
			return z;
	}
	return NULL;
}

static inline int sp_is_backend(const struct fz_svc *z, const __u8 *a)
{
	int i;

	for (i = 0; i < 4; i++)
		if (!memcmp(&z->be[i], a, z->family == AF_INET ? 4 : 16))
			return 1;
	return 0;
}

/* 1 if the TCP/UDP checksum of the packet parsed as o (bytes b) is right. */
static inline int sp_l4_ok(const __u8 *b, const struct sp *o)
{
	__u32 n = o->proto == IPPROTO_UDP ? o->ulen : o->room, s;
	const __u8 *ip = b + o->l3;

	if (o->proto == IPPROTO_UDP && o->family == AF_INET &&
	    !fz_get16(b + o->l4 + 6))
		return 1;	/* no checksum */
	if (o->family == AF_INET)
		s = fz_sum(ip + 12, 8, 0);
	else
		s = fz_sum(ip + 8, 32, 0);
	s += o->proto + n;
	return fz_fold(fz_sum(b + o->l4, n, s)) == 0xffff;
}

/* ---- the NAT flows the reply path knows ------------------------------ */

#define FZ_REV_SLOTS (1u << 23)
static __u64 *fz_rev;

static inline __u64 fz_rev_hash(__u8 family, __u8 proto, const void *src,
				const void *dst, __u16 sport, __u16 dport)
{
	const __u8 *a = src, *d = dst;
	__u64 h = 0xcbf29ce484222325ull ^ (family << 8 | proto);
	int i, n = family == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++)
		h = (h ^ a[i]) * 0x100000001b3ull;
	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 0x100000001b3ull;
	h = (h ^ sport) * 0x100000001b3ull;
	h = (h ^ dport) * 0x100000001b3ull;
	return h | 1;
}

static inline int fz_rev_has(__u64 h, int add)
{
	__u32 i = h & (FZ_REV_SLOTS - 1), n;

	if (!fz_rev && !(fz_rev = calloc(FZ_REV_SLOTS, sizeof(*fz_rev))))
		return 0;
	for (n = 0; n < 64; n++, i = (i + 1) & (FZ_REV_SLOTS - 1)) {
		if (fz_rev[i] == h)
			return 1;
		if (!fz_rev[i]) {
			if (add)
				fz_rev[i] = h;
			return 0;
		}
	}
	return 0;
}

/* A nat forward output: remember the reply tuple (backend -> client). */
static inline void fz_rev_add(const __u8 *out, __u32 olen)
{
	struct sp o;

	if (sp_parse(out, olen, &o) && !o.icmp)
		fz_rev_has(fz_rev_hash(o.family, o.proto, &o.dst, &o.src,
				       o.dport, o.sport), 1);
}

/* ---- the judge --------------------------------------------------------- */

static inline int fz_viol(struct fz_counts *c, int prop, const char *why)
{
	c->viol[prop]++;
	c->last_why = why;
	return 1;
}

static inline int fz_check(struct fz_counts *c, int prop, int ok, const char *why)
{
	c->checked[prop]++;
	return ok ? 0 : fz_viol(c, prop, why);
}

static const __u8 fz_nb_mac[6] = { 0x02, 0x4e, 0x49, 0x47, 0x48, 0x01 };

/* bytes equal outside the listed [from, to) ranges (n of them) */
static inline int fz_same_except(const __u8 *a, const __u8 *b, __u32 len,
				 const __u32 (*r)[2], int n)
{
	__u32 i;
	int k, skip;

	for (i = 0; i < len; i++) {
		skip = 0;
		for (k = 0; k < n; k++)
			if (i >= r[k][0] && i < r[k][1])
				skip = 1;
		if (!skip && a[i] != b[i])
			return 0;
	}
	return 1;
}

static inline int fz_sent(int prog, int v)
{
	if (fz_is_xdp(prog))
		return v == XDP_TX || v == XDP_REDIRECT;
	return v == TC_ACT_REDIRECT;
}

static inline int fz_passed(int prog, int v)
{
	if (fz_is_xdp(prog))
		return v == XDP_PASS;
	return v == TC_ACT_UNSPEC || v == TC_ACT_OK;
}

static int fz_judge_dsr(const struct fz_svc *z, const struct fz_case *c, int v,
			const __u8 *out, __u32 olen, struct fz_counts *cnt)
{
	int i, mac = 0;

	for (i = 0; i < 4; i++)
		if (!memcmp(out, z->mac[i], 6))
			mac = 1;
	return fz_check(cnt, FZ_P_SHAPE_DSR,
			fz_sent(c->prog, v) && olen == c->len && mac &&
			!memcmp(out + 6, c->pkt, 6) &&
			!memcmp(out + 12, c->pkt + 12, c->len - 12),
			"dsr output is not the input with the backend's MACs");
}

static int fz_judge_nat(const struct fz_svc *z, const struct sp *in,
			const struct fz_case *c, int v, const __u8 *out,
			__u32 olen, struct fz_counts *cnt)
{
	__u32 l3 = in->l3, l4 = in->l4, cs = in->proto == IPPROTO_TCP ? 16 : 6;
	__u32 r[5][2] = {
		{ 0, 12 },
		{ l3 + 10, l3 + 12 },
		{ in->family == AF_INET ? l3 + 16 : l3 + 24,
		  in->family == AF_INET ? l3 + 20 : l3 + 40 },
		{ l4 + 2, l4 + 4 },
		{ l4 + cs, l4 + cs + 2 },
	};
	struct sp o;
	int ok;

	if (in->family == AF_INET6)
		r[1][0] = r[1][1] = 0;
	ok = fz_sent(c->prog, v) && olen == c->len &&
	     fz_same_except(out, c->pkt, olen, r, 5) &&
	     !memcmp(out, fz_nb_mac, 6) && sp_parse(out, olen, &o) &&
	     sp_is_backend(z, o.dst.bytes) && o.dport == FZ_NAT_PORT &&
	     (!sp_l4_ok(c->pkt, in) || sp_l4_ok(out, &o));
	if (ok)
		fz_rev_add(out, olen);
	return fz_check(cnt, FZ_P_SHAPE_NAT, ok,
			"nat output: more than destination, port and checksums "
			"changed, or a valid checksum broken");
}

static int fz_judge_icmp_answer(const struct fz_env *e, const struct sp *in,
				const struct fz_case *c, int v, const __u8 *out,
				__u32 olen, struct fz_counts *cnt)
{
	int v4 = in->family == AF_INET;
	__u32 l2 = in->l2, hl = v4 ? 20 : 40, q = v4 ? 64 : 128;
	const __u8 *ip = out + l2, *ic = ip + hl;
	int ok = fz_sent(c->prog, v) && olen == l2 + hl + 8 + q &&
		 !memcmp(out, c->pkt + 6, 6) && !memcmp(out + 6, c->pkt, 6) &&
		 !memcmp(out + 12, c->pkt + 12, l2 - 12);

	(void)e;
	if (ok && v4) {
		ok = ip[0] == 0x45 && fz_get16(ip + 2) == hl + 8 + q && ip[9] == 1 &&
		     !memcmp(ip + 12, &in->dst, 4) && !memcmp(ip + 16, &in->src, 4) &&
		     fz_fold(fz_sum(ip, 20, 0)) == 0xffff && ic[0] == 3 && ic[1] == 4 &&
		     fz_get16(ic + 6) == 1480 &&
		     fz_fold(fz_sum(ic, 8 + q, 0)) == 0xffff &&
		     !memcmp(ic + 8, c->pkt + l2, q);
	} else if (ok) {
		__u32 s = fz_sum(ip + 8, 32, 0) + 58 + 8 + q;

		ok = (ip[0] >> 4) == 6 && fz_get16(ip + 4) == 8 + q && ip[6] == 58 &&
		     !memcmp(ip + 8, &in->dst, 16) && !memcmp(ip + 24, &in->src, 16) &&
		     ic[0] == 2 && ic[1] == 0 && fz_get16(ic + 6) == 1460 &&
		     fz_fold(fz_sum(ic, 8 + q, s)) == 0xffff &&
		     !memcmp(ic + 8, c->pkt + l2, q);
	}
	return fz_check(cnt, FZ_P_SHAPE_ICMP, ok,
			"too big for the tunnel: not a well-formed ICMP answer to the sender");
}

static int fz_judge_ipip(const struct fz_env *e, const struct fz_svc *z,
			 const struct sp *in, const struct fz_case *c, int v,
			 const __u8 *out, __u32 olen, struct fz_counts *cnt)
{
	int v4 = in->family == AF_INET, tc = !fz_is_xdp(c->prog);
	__u32 l2 = in->l2, ol = v4 ? 20 : 40;
	const __u8 *o = out + l2;
	int ok;

	if (olen != c->len + ol)
		return fz_check(cnt, FZ_P_SHAPE_IPIP, 0, "ipip: frame not one outer header longer");
	if (z->no_neigh)
		ok = fz_passed(c->prog, v) && !memcmp(out, c->pkt, l2);
	else
		ok = fz_sent(c->prog, v) && !memcmp(out, fz_nb_mac, 6) &&
		     !memcmp(out + 6, e->out_mac, 6) &&
		     !memcmp(out + 12, c->pkt + 12, l2 - 12);
	if (tc && l2 != 14)
		ok = 0;
	ok = ok && !memcmp(out + l2 + ol, c->pkt + l2, c->len - l2);
	if (ok && v4)
		ok = o[0] == 0x45 && o[1] == c->pkt[l2 + 1] &&
		     fz_get16(o + 2) == in->iplen + 20 && fz_get16(o + 6) == 0x4000 &&
		     o[8] == 64 && o[9] == 4 && fz_fold(fz_sum(o, 20, 0)) == 0xffff &&
		     o[12] == 10 && o[13] == 99 && o[14] == 0 && sp_is_backend(z, o + 16);
	else if (ok)
		ok = (o[0] >> 4) == 6 && fz_get16(o + 4) == in->iplen && o[6] == 41 &&
		     o[7] == 64 && !memcmp(o + 8, "\xfd\x00\x00\x99\x00\x00\x00\x00", 8) &&
		     sp_is_backend(z, o + 24);
	return fz_check(cnt, FZ_P_SHAPE_IPIP, ok,
			"ipip output is not one outer header in front of the unchanged packet");
}

static int fz_judge_reply(const struct fz_env *e, const struct sp *in,
			  const struct fz_case *c, int v, const __u8 *out,
			  __u32 olen, struct fz_counts *cnt)
{
	const struct fz_svc *z = NULL;
	__u32 l3 = in->l3, l4 = in->l4, cs = in->proto == IPPROTO_TCP ? 16 : 6;
	__u32 r[5][2] = {
		{ 0, fz_sent(c->prog, v) ? 12 : 0 },
		{ l3 + 10, l3 + 12 },
		{ in->family == AF_INET ? l3 + 12 : l3 + 8,
		  in->family == AF_INET ? l3 + 16 : l3 + 24 },
		{ l4, l4 + 2 },
		{ l4 + cs, l4 + cs + 2 },
	};
	struct sp o;
	int i, ok;

	for (i = 0; i < e->nsvc; i++)
		if (e->svc[i].mode == SLUICE_MODE_NAT && e->svc[i].family == in->family &&
		    e->svc[i].proto == in->proto)
			z = &e->svc[i];
	if (in->family == AF_INET6)
		r[1][0] = r[1][1] = 0;
	ok = z && (fz_sent(c->prog, v) || fz_passed(c->prog, v)) && olen == c->len &&
	     fz_same_except(out, c->pkt, olen, r, 5) && sp_parse(out, olen, &o) &&
	     !memcmp(&o.src, &z->vip, in->family == AF_INET ? 4 : 16) &&
	     o.sport == z->port && (!sp_l4_ok(c->pkt, in) || sp_l4_ok(out, &o));
	return fz_check(cnt, FZ_P_SHAPE_REPLY, ok,
			"nat reply: more than source, port and checksums changed, "
			"or a valid checksum broken");
}

/* decap strips iff the outer header and the inner packet agree exactly */
static inline int fz_decap_expect(const __u8 *b, __u32 len, __u32 *ol)
{
	const __u8 *o = b + 14;
	__u32 flen = len - 14;

	if (len < 14)
		return 0;
	if (fz_get16(b + 12) == 0x0800) {
		__u32 tot;

		if (flen < 20 || o[0] != 0x45 || o[9] != 4 || (fz_get16(o + 6) & 0x3fff) ||
		    fz_fold(fz_sum(o, 20, 0)) != 0xffff)
			return 0;
		tot = fz_get16(o + 2);
		if (tot > flen || tot < 40 || (o[20] >> 4) != 4 ||
		    fz_get16(o + 22) != tot - 20)
			return 0;
		*ol = 20;
		return 1;
	}
	if (fz_get16(b + 12) == 0x86dd) {
		__u32 pl;

		if (flen < 40 || (o[0] >> 4) != 6 || o[6] != 41)
			return 0;
		pl = fz_get16(o + 4);
		if (pl + 40 > flen || pl < 40 || (o[40] >> 4) != 6 ||
		    fz_get16(o + 44) + 40u != pl)
			return 0;
		*ol = 40;
		return 1;
	}
	return 0;
}

/*
 * Judge one run of case c: verdict v, output out/olen. Returns the number
 * of violations (0 or 1; the first property that fails is counted).
 */
static int fz_judge(const struct fz_env *e, const struct fz_case *c, int v,
		    const __u8 *out, __u32 olen, struct fz_counts *cnt)
{
	int changed = olen != c->len || memcmp(out, c->pkt, c->len);
	int fwd, ok, own = 0;
	const struct fz_svc *z = NULL;
	struct sp in;

	cnt->tried++;
	cnt->per_prog[c->prog]++;
	if (fz_check(cnt, FZ_P_NO_ABORT, v != FZ_RUN_FAILED &&
		     !(fz_is_xdp(c->prog) && v == XDP_ABORTED),
		     "aborted, or the test run failed"))
		return 1;
	fwd = fz_sent(c->prog, v) || changed;
	if (fwd)
		cnt->forwarded++;
	else
		cnt->passed++;

	if (c->prog == FZ_DECAP) {
		__u32 ol = 0;

		if (!fz_decap_expect(c->pkt, c->len, &ol))
			return fz_check(cnt, FZ_P_ONLY_VALID, !changed && v != TC_ACT_SHOT,
					"decap changed a frame it must pass untouched");
		if (fz_check(cnt, FZ_P_VALID_FWD, v == TC_ACT_OK && changed,
			     "decap passed a well-formed ipip frame"))
			return 1;
		if (fz_check(cnt, FZ_P_LEN, olen == c->len - ol, "decap: output length"))
			return 1;
		return fz_check(cnt, FZ_P_SHAPE_DECAP,
				!memcmp(out, c->pkt, 14) &&
				!memcmp(out + 14, c->pkt + 14 + ol, olen - 14),
				"decap output is not the inner packet behind the MAC header");
	}

	ok = sp_parse(c->pkt, c->len, &in);
	if (ok && (c->prog == FZ_REPLY_XDP || c->prog == FZ_REPLY_TC)) {
		__u64 h = fz_rev_hash(in.family, in.proto, &in.src, &in.dst,
				      in.sport, in.dport);

		ok = !in.icmp && fz_rev_has(h, 0);
		if (!ok)
			in.why = in.icmp ? "reply path: ICMP error" : "not a known NAT reply";
		/* an older flow's entry may be evicted (nat_rev is an LRU):
		 * only the case's own must be there */
		own = ok && h == c->own_reply;
	} else if (ok) {
		z = sp_service(e, &in);
		if (!z) {
			ok = 0;
			in.why = "no such service";
		}
	}
	if (!ok)
		return fz_check(cnt, FZ_P_ONLY_VALID, !fwd && fz_passed(c->prog, v),
				in.why ? in.why : "forwarded though not valid");
	if (c->prog == FZ_REPLY_XDP || c->prog == FZ_REPLY_TC) {
		if (!changed && !own)
			return fz_check(cnt, FZ_P_ONLY_VALID, !fwd && fz_passed(c->prog, v),
					"reply path: passed, yet sent");
		if (fz_check(cnt, FZ_P_VALID_FWD, changed, "the case's own NAT reply not translated"))
			return 1;
		return fz_judge_reply(e, &in, c, v, out, olen, cnt);
	}
	if (z->mode == SLUICE_MODE_DSR) {
		if (fz_check(cnt, FZ_P_VALID_FWD, fwd, "dsr: valid service packet not forwarded"))
			return 1;
		if (fz_check(cnt, FZ_P_LEN, olen == c->len, "dsr: output length"))
			return 1;
		return fz_judge_dsr(z, c, v, out, olen, cnt);
	}
	/* a frame longer than the 1500-byte next hop: whenever the next-hop
	 * cache is refreshed, bpf_fib_lookup may answer "fragmentation
	 * needed" (TC checks the frame, padding included) and nat and ipip
	 * pass the packet untouched */
	if (z->mode != SLUICE_MODE_DSR && !fwd && !z->no_neigh &&
	    (c->len - in.l2 > 1500 || in.iplen > 1500))
		return fz_check(cnt, FZ_P_VALID_FWD, 1, "");
	if (z->mode == SLUICE_MODE_NAT) {
		if (in.icmp)
			return fz_check(cnt, FZ_P_VALID_FWD, !fwd,
					"nat: an ICMP error must pass untouched");
		if (fz_check(cnt, FZ_P_VALID_FWD, fwd, "nat: valid service packet not forwarded"))
			return 1;
		if (fz_check(cnt, FZ_P_LEN, olen == c->len, "nat: output length"))
			return 1;
		return fz_judge_nat(z, &in, c, v, out, olen, cnt);
	}
	/* ipip: too big for the 1500-byte next hop? */
	{
		int v4 = in.family == AF_INET, tc = !fz_is_xdp(c->prog);
		__u32 ol = v4 ? 20 : 40, q = v4 ? 64 : 128;

		if (tc && in.l2 != 14)
			return fz_check(cnt, FZ_P_VALID_FWD, !fwd,
					"ipip under TC with VLAN tags: must pass untouched");
		if (in.iplen + ol > 1500 && !z->no_neigh) {
			if (in.icmp || (v4 && !in.df) || in.iplen < q)
				return fz_check(cnt, FZ_P_VALID_FWD, !fwd,
						"too big, no ICMP answer possible: must pass untouched");
			return fz_judge_icmp_answer(e, &in, c, v, out, olen, cnt);
		}
		if (fz_check(cnt, FZ_P_VALID_FWD, fwd, "ipip: valid service packet not encapsulated"))
			return 1;
		return fz_judge_ipip(e, z, &in, c, v, out, olen, cnt);
	}
}

/* After a reply case's setup ran: build the reply from its backend. */
static inline void fz_note_reply(const struct fz_env *e, struct fz_case *c,
				 const __u8 *out, __u32 olen)
{
	union sluice_addr be = e->svc[c->reply_svc].be[0];
	struct sp o;

	if (sp_parse(out, olen, &o) && !o.icmp) {
		be = o.dst;
		fz_rev_add(out, olen);
		c->own_reply = fz_rev_hash(o.family, o.proto, &o.dst, &o.src,
					   o.dport, o.sport);
	}
	fz_build_reply(e, c, &be);
}

#endif
