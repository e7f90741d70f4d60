/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fuzz's packets: valid service packets of every kind, built from a
 * per-case generator state (splitmix64 of seed and case number, so a case
 * replays alone), then mutated. Every header field written is recorded
 * (offset, size) so mutations can aim at fields and their boundaries.
 */
#ifndef SLUICE_FUZZ_GEN_H
#define SLUICE_FUZZ_GEN_H

#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "sluice.h"

#define FZ_BUF		4096
#define FZ_NAT_PORT	8443
#define FZ_MAX_SVC	32
#define FZ_MAX_FIELDS	160

enum { FZ_XDP, FZ_TC, FZ_REPLY_XDP, FZ_REPLY_TC, FZ_DECAP, FZ_PROGS };

static inline int fz_is_xdp(int p)
{
	return p == FZ_XDP || p == FZ_REPLY_XDP;
}

struct fz_svc {
	__u8 family, proto, mode, no_neigh;
	union sluice_addr vip;
	__u16 port;
	union sluice_addr be[4];
	__u8 mac[4][6];
};

struct fz_env {
	struct fz_svc svc[FZ_MAX_SVC];
	int nsvc;
	int ifin;
	__u8 out_mac[6];
};

struct fz_field {
	__u16 off, size;
};

struct fz_case {
	__u64 id, seed, rng;
	int prog, mutated, reply_svc;
	__u8 pkt[FZ_BUF];
	__u32 len;
	__u8 setup[FZ_BUF];
	__u32 setup_len;
	union sluice_addr client;
	__u16 cport;
	__u64 own_reply;	/* the tuple hash of the reply its setup created */
	struct fz_field f[FZ_MAX_FIELDS];
	int nf;
	int ip4_off[3], nip4;	/* IPv4 headers whose checksum a fix-up may redo */
};

static inline __u64 fz_next(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline __u32 fz_below(__u64 *s, __u32 n)
{
	return n ? (__u32)(fz_next(s) % n) : 0;
}

static inline void fz_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline __u16 fz_get16(const __u8 *p)
{
	return (p[0] << 8) | p[1];
}

static inline __u32 fz_sum(const __u8 *p, __u32 n, __u32 s)
{
	__u32 i;

	for (i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

static inline __u16 fz_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static inline void fz_field(struct fz_case *c, __u32 off, __u32 size)
{
	if (c->nf < FZ_MAX_FIELDS) {
		c->f[c->nf].off = off;
		c->f[c->nf].size = size;
		c->nf++;
	}
}

/* The services every run configures: each mode, family and protocol. */
static inline void fz_env_init(struct fz_env *e)
{
	static const __u8 modes[4][2] = {
		{ SLUICE_MODE_DSR, 0 }, { SLUICE_MODE_IPIP, 0 },
		{ SLUICE_MODE_IPIP, 1 }, { SLUICE_MODE_NAT, 0 },
	};
	int m, fam, pr, v, i;

	memset(e->svc, 0, sizeof(e->svc));
	e->nsvc = 0;
	for (m = 0; m < 4; m++)
		for (fam = 0; fam < 2; fam++)
			for (pr = 0; pr < 2; pr++) {
				struct fz_svc *z = &e->svc[e->nsvc++];
				char a[64];

				z->mode = modes[m][0];
				z->no_neigh = modes[m][1];
				z->family = fam ? AF_INET6 : AF_INET;
				z->proto = pr ? IPPROTO_UDP : IPPROTO_TCP;
				z->port = pr ? 53 : 80;
				snprintf(a, sizeof(a), fam ? "2001:db8::%x" : "192.0.2.%d",
					 fam ? 0x10 + m : 10 + m);
				inet_pton(z->family, a, z->vip.bytes);
				/* as tests/unit/fixture.h's t_pool lays them out */
				for (v = 0; v < 2; v++)
					for (i = 0; i < 2; i++) {
						int idx = (z->no_neigh ? 500 : 0) + i;
						__u8 *mac = z->mac[v * 2 + i];

						if (fam)
							snprintf(a, sizeof(a), "fd00:%d::%x", 10 + v, idx + 1);
						else
							snprintf(a, sizeof(a), "10.%d.%d.%d", 10 + v,
								 idx / 250, idx % 250 + 1);
						inet_pton(z->family, a, z->be[v * 2 + i].bytes);
						mac[0] = 0x02;
						mac[1] = 0xbe;
						mac[4] = v;
						mac[5] = idx;
					}
			}
}

/* ---- building ------------------------------------------------------- */

struct fz_l4 {
	__u8 family, proto;
	union sluice_addr src, dst;
	__u16 sport, dport;
};

static inline __u32 fz_eth(struct fz_case *c, __u8 *b, __u16 et, int vlans)
{
	static const __u8 lb[6] = { 0x02, 0x1b, 0, 0, 0, 0x01 };
	static const __u8 cl[6] = { 0x02, 0xc1, 0, 0, 0, 0x01 };
	__u32 off = 14;
	int i;

	memcpy(b, lb, 6);
	memcpy(b + 6, cl, 6);
	fz_field(c, 0, 6);
	fz_field(c, 6, 6);
	fz_field(c, 12, 2);
	fz_put16(b + 12, vlans ? (vlans == 2 ? 0x88a8 : 0x8100) : et);
	for (i = 0; i < vlans; i++) {
		fz_put16(b + off, (i + 1) * 100 + fz_below(&c->rng, 4));
		fz_put16(b + off + 2, i + 1 < vlans ? 0x8100 : et);
		fz_field(c, off, 2);
		fz_field(c, off + 2, 2);
		off += 4;
	}
	return off;
}

/* IPv4 options, a multiple of 4 bytes, well-formed. */
static inline __u32 fz_opts4(struct fz_case *c, __u8 *o, __u32 base)
{
	__u32 n = 0, max = 4 * (1 + fz_below(&c->rng, 10));

	while (n < max) {
		__u32 left = max - n, k = fz_below(&c->rng, 4);

		fz_field(c, base + n, 1);
		if (k == 0 || left < 4) {
			o[n++] = 1;		/* NOP */
		} else if (k == 1 && left >= 7) {
			__u32 l = left >= 11 && fz_below(&c->rng, 2) ? 11 : 7;

			o[n] = 7;		/* record route */
			o[n + 1] = l;
			o[n + 2] = 4;
			memset(o + n + 3, 0, l - 3);
			fz_field(c, base + n + 1, 1);
			n += l;
		} else if (k == 2 && left >= 8) {
			o[n] = 0x44;		/* timestamp */
			o[n + 1] = 8;
			o[n + 2] = 5;
			o[n + 3] = 0;
			memset(o + n + 4, 0, 4);
			fz_field(c, base + n + 1, 1);
			n += 8;
		} else {
			o[n] = 0;		/* end of list, then padding */
			memset(o + n + 1, 0, left - 1);
			n = max;
		}
	}
	return max;
}

/* IPv6 extension headers (hop-by-hop first, then destination options or a
 * routing header with no segments left); returns their length. */
static inline __u32 fz_ext6(struct fz_case *c, __u8 *b, __u32 base, __u8 last,
			    __u8 *first)
{
	int n = 1 + fz_below(&c->rng, 3), i;
	__u8 types[3];
	__u32 off = 0;

	for (i = 0; i < n; i++)
		types[i] = i == 0 && fz_below(&c->rng, 2) ? IPPROTO_HOPOPTS :
			   fz_below(&c->rng, 4) == 0 ? IPPROTO_ROUTING : IPPROTO_DSTOPTS;
	*first = types[0];
	for (i = 0; i < n; i++) {
		__u8 *h = b + off;
		__u32 hl = types[i] != IPPROTO_ROUTING && fz_below(&c->rng, 3) == 0 ? 16 : 8;

		memset(h, 0, hl);
		h[0] = i + 1 < n ? types[i + 1] : last;
		h[1] = hl / 8 - 1;
		fz_field(c, base + off, 1);
		fz_field(c, base + off + 1, 1);
		fz_field(c, base + off + 2, 1);
		fz_field(c, base + off + 3, 1);
		if (types[i] == IPPROTO_ROUTING) {
			h[2] = fz_below(&c->rng, 5);	/* type; segments left 0 */
		} else if (fz_below(&c->rng, 2)) {
			h[2] = 1;			/* PadN */
			h[3] = hl - 4;
		} else {
			h[2] = 0x1e;			/* unknown, "skip" */
			h[3] = 2;
			h[4] = fz_next(&c->rng);
			h[5] = fz_next(&c->rng);
			h[6] = 1;			/* PadN */
			h[7] = hl - 8;
		}
		off += hl;
	}
	return off;
}

/* TCP options, a multiple of 4 bytes. */
static inline __u32 fz_opts_tcp(struct fz_case *c, __u8 *o)
{
	__u32 n = 0;
	int k = fz_below(&c->rng, 16);

	if (k & 1) {
		o[n] = 2; o[n + 1] = 4; fz_put16(o + n + 2, 1460); n += 4;
	}
	if (k & 2) {
		o[n] = 1; o[n + 1] = 3; o[n + 2] = 3; o[n + 3] = 7; n += 4;
	}
	if (k & 4) {
		o[n] = 1; o[n + 1] = 1; o[n + 2] = 4; o[n + 3] = 2; n += 4;
	}
	if (k & 8) {
		o[n] = 1; o[n + 1] = 1; o[n + 2] = 8; o[n + 3] = 10;
		memset(o + n + 4, 0x5a, 8);
		n += 12;
	}
	return n;
}

static inline void fz_l4_csum(__u8 *ip, __u8 family, __u32 l4off, __u32 l4len,
			      __u8 proto)
{
	__u8 *l4 = ip + l4off;
	__u32 coff = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2, s;
	__u16 v;

	l4[coff] = l4[coff + 1] = 0;
	if (proto == IPPROTO_ICMP) {
		s = 0;
	} else if (family == AF_INET) {
		s = fz_sum(ip + 12, 8, 0) + proto + l4len;
	} else {
		s = fz_sum(ip + 8, 32, 0) + proto + l4len;
	}
	v = ~fz_fold(fz_sum(l4, l4len, s));
	if (proto == IPPROTO_UDP && !v)
		v = 0xffff;
	fz_put16(l4 + coff, v);
}

static inline void fz_ip4_csum(__u8 *ip)
{
	__u32 hl = (ip[0] & 0xf) * 4;

	ip[10] = ip[11] = 0;
	fz_put16(ip + 10, ~fz_fold(fz_sum(ip, hl, 0)));
}

/*
 * An IP packet (no Ethernet) of flow f at b, recording fields relative to
 * base. big: grow the payload to an IP length near 1500. Returns length.
 */
static inline __u32 fz_ip(struct fz_case *c, __u8 *b, __u32 base,
			  const struct fz_l4 *f, __u8 tcp_flags, int big,
			  int rich)
{
	static const __u8 tcp_f[9][2] = {
		{ 0, 2 }, { 2, 2 }, { 4, 4 }, { 8, 4 }, { 12, 1 }, { 13, 1 },
		{ 14, 2 }, { 16, 2 }, { 18, 2 },
	};
	__u32 hl, l4len, pay, i, topt = 0;
	__u8 *l4;

	if (f->family == AF_INET) {
		hl = 20;
		memset(b, 0, 20);
		if (rich && fz_below(&c->rng, 4) == 0)
			hl += fz_opts4(c, b + 20, base + 20);
		b[0] = 0x40 | (hl / 4);
		b[1] = fz_below(&c->rng, 4) ? 0 : fz_next(&c->rng);
		fz_put16(b + 4, fz_next(&c->rng));
		fz_put16(b + 6, fz_below(&c->rng, 2) ? 0x4000 : 0);
		b[8] = 1 + fz_below(&c->rng, 255);
		b[9] = f->proto;
		memcpy(b + 12, &f->src.v4, 4);
		memcpy(b + 16, &f->dst.v4, 4);
		for (i = 0; i < 10; i++)
			fz_field(c, base + (i < 2 ? i : 2 * i - 2), i < 2 ? 1 : 2);
		fz_field(c, base + 12, 4);
		fz_field(c, base + 16, 4);
		if (c->nip4 < 3)
			c->ip4_off[c->nip4++] = base;
	} else {
		__u8 first = f->proto;

		hl = 40;
		memset(b, 0, 40);
		if (rich && fz_below(&c->rng, 4) == 0)
			hl += fz_ext6(c, b + 40, base + 40, f->proto, &first);
		b[0] = 0x60 | (fz_below(&c->rng, 4) ? 0 : fz_below(&c->rng, 16));
		b[6] = first;
		b[7] = 1 + fz_below(&c->rng, 255);
		memcpy(b + 8, f->src.bytes, 16);
		memcpy(b + 24, f->dst.bytes, 16);
		fz_field(c, base, 4);
		fz_field(c, base + 4, 2);
		fz_field(c, base + 6, 1);
		fz_field(c, base + 7, 1);
		fz_field(c, base + 8, 16);
		fz_field(c, base + 24, 16);
	}
	l4 = b + hl;
	if (f->proto == IPPROTO_TCP) {
		memset(l4, 0, 20);
		if (rich && fz_below(&c->rng, 2))
			topt = fz_opts_tcp(c, l4 + 20);
		l4len = 20 + topt;
		fz_put16(l4, f->sport);
		fz_put16(l4 + 2, f->dport);
		for (i = 4; i < 12; i++)
			l4[i] = fz_next(&c->rng);
		l4[12] = (l4len / 4) << 4;
		l4[13] = tcp_flags;
		fz_put16(l4 + 14, 65535);
		for (i = 0; i < 9; i++)
			fz_field(c, base + hl + tcp_f[i][0], tcp_f[i][1]);
	} else {
		memset(l4, 0, 8);
		l4len = 8;
		fz_put16(l4, f->sport);
		fz_put16(l4 + 2, f->dport);
		for (i = 0; i < 4; i++)
			fz_field(c, base + hl + 2 * i, 2);
	}
	pay = big ? 1400 + fz_below(&c->rng, 101) - hl - l4len : fz_below(&c->rng, 65);
	for (i = 0; i < pay; i++)
		l4[l4len + i] = fz_next(&c->rng);
	l4len += pay;
	if (f->proto == IPPROTO_UDP)
		fz_put16(l4 + 4, l4len);
	if (f->family == AF_INET)
		fz_put16(b + 2, hl + l4len);
	else
		fz_put16(b + 4, hl - 40 + l4len);
	if (f->family == AF_INET)
		fz_ip4_csum(b);
	if (fz_below(&c->rng, 10))
		fz_l4_csum(b, f->family, hl, l4len, f->proto);
	else if (f->proto == IPPROTO_UDP && f->family == AF_INET && fz_below(&c->rng, 2))
		fz_put16(l4 + 6, 0);	/* no checksum */
	return hl + l4len;
}

static inline void fz_client(struct fz_case *c, __u8 family, union sluice_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		a->bytes[0] = 198; a->bytes[1] = 51; a->bytes[2] = 100;
		a->bytes[3] = 2 + fz_below(&c->rng, 250);
	} else {
		inet_pton(AF_INET6, "2001:db8:1::", a->bytes);
		a->bytes[13] = fz_next(&c->rng);
		a->bytes[14] = fz_next(&c->rng);
		a->bytes[15] = 2 + fz_below(&c->rng, 250);
	}
}

/* An ICMP error from a router to the VIP quoting the VIP's packet to the
 * client; oversize when big. Returns the IP packet's length. */
static inline __u32 fz_icmp_err(struct fz_case *c, __u8 *b, __u32 base,
				const struct fz_svc *z, int big)
{
	struct fz_l4 q = { .family = z->family, .proto = z->proto,
			   .src = z->vip, .sport = z->port,
			   .dport = 1024 + fz_below(&c->rng, 60000) };
	__u32 hl = z->family == AF_INET ? 20 : 40, qlen, ilen, i;
	__u8 *ic = b + hl;

	fz_client(c, z->family, &q.dst);
	memset(b, 0, hl);
	if (z->family == AF_INET) {
		b[0] = 0x45;
		b[6] = fz_below(&c->rng, 2) ? 0x40 : 0;
		b[8] = 64;
		b[9] = IPPROTO_ICMP;
		b[12] = 203; b[13] = 0; b[14] = 113; b[15] = 1 + fz_below(&c->rng, 250);
		memcpy(b + 16, &z->vip.v4, 4);
		ic[0] = fz_below(&c->rng, 2) ? 3 : 11;
		ic[1] = ic[0] == 3 ? fz_below(&c->rng, 5) : 0;
		if (ic[0] == 3 && ic[1] == 4)
			fz_put16(ic + 6, 1400);
		for (i = 0; i < 10; i++)
			fz_field(c, base + (i < 2 ? i : 2 * i - 2), i < 2 ? 1 : 2);
		fz_field(c, base + 16, 4);
		if (c->nip4 < 3)
			c->ip4_off[c->nip4++] = base;
	} else {
		b[0] = 0x60;
		b[6] = IPPROTO_ICMPV6;
		b[7] = 64;
		inet_pton(AF_INET6, "2001:db8:ff::", b + 8);
		b[23] = 1 + fz_below(&c->rng, 250);
		memcpy(b + 24, z->vip.bytes, 16);
		ic[0] = 1 + fz_below(&c->rng, 3);
		if (ic[0] == 2)
			fz_put16(ic + 6, 1280);
		fz_field(c, base + 4, 2);
		fz_field(c, base + 6, 1);
		fz_field(c, base + 24, 16);
	}
	fz_field(c, base + hl, 1);
	fz_field(c, base + hl + 1, 1);
	fz_field(c, base + hl + 2, 2);
	fz_field(c, base + hl + 4, 4);
	/* the quote: the whole original packet, or its header and 8 bytes */
	qlen = fz_ip(c, ic + 8, base + hl + 8, &q, 0x12, big, 0);
	ilen = fz_below(&c->rng, 3) == 0 ?
		(z->family == AF_INET ? (ic[8] & 0xfu) * 4 : 40u) + 8 : qlen;
	if (big)
		ilen = 1500 - hl - 8;	/* an IP packet of 1500 bytes */
	if (ilen > qlen)
		ilen = qlen;
	if (z->family == AF_INET) {
		fz_put16(b + 2, hl + 8 + ilen);
		fz_ip4_csum(b);
		fz_l4_csum(b, AF_INET, hl, 8 + ilen, IPPROTO_ICMP);
	} else {
		__u32 s;

		fz_put16(b + 4, 8 + ilen);
		ic[2] = ic[3] = 0;
		s = fz_sum(b + 8, 32, 0) + IPPROTO_ICMPV6 + 8 + ilen;
		fz_put16(ic + 2, ~fz_fold(fz_sum(ic, 8 + ilen, s)));
	}
	return hl + 8 + ilen;
}

/* ---- mutating -------------------------------------------------------- */

static inline void fz_insert(struct fz_case *c, __u32 at, __u32 n)
{
	__u32 i;

	if (at > c->len || c->len + n > FZ_BUF - 64)
		return;
	memmove(c->pkt + at + n, c->pkt + at, c->len - at);
	for (i = 0; i < n; i++)
		c->pkt[at + i] = fz_next(&c->rng);
	c->len += n;
}

static inline void fz_delete(struct fz_case *c, __u32 at, __u32 n)
{
	if (at >= c->len)
		return;
	if (at + n > c->len)
		n = c->len - at;
	memmove(c->pkt + at, c->pkt + at + n, c->len - at - n);
	c->len -= n;
}

/* A boundary value for a field of size bytes that now holds v. */
static inline __u32 fz_boundary(struct fz_case *c, __u32 v, __u32 size)
{
	__u32 max = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;

	switch (fz_below(&c->rng, 9)) {
	case 0: return 0;
	case 1: return max;
	case 2: return 1;
	case 3: return v + 1;
	case 4: return v - 1;
	case 5: return v + 1 + fz_below(&c->rng, 16);
	case 6: return v - 1 - fz_below(&c->rng, 16);
	case 7: return max - 1;
	default: return fz_next(&c->rng);
	}
}

static inline void fz_set_field(__u8 *p, __u32 size, __u32 v)
{
	__u32 i;

	for (i = 0; i < size && i < 4; i++)
		p[size - 1 - i] = v >> (8 * i);
}

static inline __u32 fz_get_field(const __u8 *p, __u32 size)
{
	__u32 v = 0, i;

	for (i = 0; i < size && i < 4; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void fz_mutate(struct fz_case *c)
{
	int n = 1 + fz_below(&c->rng, 3), i;

	for (i = 0; i < n && c->len; i++) {
		const struct fz_field *f = c->nf ? &c->f[fz_below(&c->rng, c->nf)] : NULL;
		__u32 at = f ? (fz_below(&c->rng, 2) ? f->off : f->off + f->size) : 0;

		switch (fz_below(&c->rng, 8)) {
		case 0: {		/* bit flips, mostly in the headers */
			__u32 hdr = c->nf ? c->f[c->nf - 1].off + c->f[c->nf - 1].size : c->len;
			__u32 pos = fz_below(&c->rng, 4) ? fz_below(&c->rng, hdr) : fz_below(&c->rng, c->len);
			int bits = 1 + fz_below(&c->rng, 3);

			while (bits-- && pos < c->len)
				c->pkt[pos] ^= 1 << fz_below(&c->rng, 8);
			break;
		}
		case 1:
		case 2:
		case 3:		/* a boundary value in a field (lengths among them) */
			if (f && f->off + f->size <= c->len) {
				__u32 sz = f->size > 4 ? 4 : f->size;
				__u32 v = fz_get_field(c->pkt + f->off, sz);

				fz_set_field(c->pkt + f->off, sz, fz_boundary(c, v, sz));
			}
			break;
		case 4:		/* truncation at a field boundary */
			if (f && at < c->len)
				c->len = at;
			break;
		case 5:		/* inserted bytes */
			fz_insert(c, f ? at : fz_below(&c->rng, c->len + 1),
				  1 + fz_below(&c->rng, 8));
			break;
		case 6:		/* deleted bytes */
			fz_delete(c, f ? at : fz_below(&c->rng, c->len),
				  1 + fz_below(&c->rng, 8));
			break;
		default:	/* appended bytes: padding, or what looks like more */
			fz_insert(c, c->len, 1 + fz_below(&c->rng, 48));
			break;
		}
	}
	/* half the time, IPv4 header checksums redone so the mutation gets
	 * past the checksum check to the parsing behind it */
	for (i = 0; i < c->nip4; i++) {
		__u32 o = c->ip4_off[i];
		__u8 *ip = c->pkt + o;

		if (fz_below(&c->rng, 2) && o + 20 <= c->len && (ip[0] >> 4) == 4 &&
		    (ip[0] & 0xf) >= 5 && o + (ip[0] & 0xf) * 4 <= c->len)
			fz_ip4_csum(ip);
	}
}

/* ---- cases ------------------------------------------------------------ */

static inline const struct fz_svc *fz_pick(const struct fz_env *e, struct fz_case *c,
					   int mode)
{
	int idx[FZ_MAX_SVC], n = 0, i;

	for (i = 0; i < e->nsvc; i++)
		if (mode < 0 || e->svc[i].mode == mode)
			idx[n++] = i;
	return &e->svc[idx[fz_below(&c->rng, n)]];
}

static inline __u8 fz_tcp_flags(struct fz_case *c)
{
	static const __u8 fl[] = { 0x02, 0x10, 0x12, 0x11, 0x04, 0x18, 0x14, 0x03, 0x00 };

	return fz_below(&c->rng, 8) ? fl[fz_below(&c->rng, sizeof(fl))]
				    : (__u8)fz_next(&c->rng);
}

/* A forward packet (client -> VIP, or an ICMP error) for one service. */
static inline void fz_build_fwd(const struct fz_env *e, struct fz_case *c, int tc)
{
	const struct fz_svc *z = fz_pick(e, c, -1);
	int vlans = fz_below(&c->rng, 4) == 0 ? 1 + fz_below(&c->rng, 2) : 0;
	int big = fz_below(&c->rng, 12) == 0;
	__u32 l2;

	if (tc && fz_below(&c->rng, 2))
		vlans = 0;
	l2 = fz_eth(c, c->pkt, z->family == AF_INET ? 0x0800 : 0x86dd, vlans);
	if (fz_below(&c->rng, 8) == 0) {
		c->len = l2 + fz_icmp_err(c, c->pkt + l2, l2, z, big);
	} else {
		struct fz_l4 f = { .family = z->family, .proto = z->proto,
				   .dst = z->vip, .dport = z->port,
				   .sport = 1024 + fz_below(&c->rng, 60000) };

		fz_client(c, z->family, &f.src);
		c->len = l2 + fz_ip(c, c->pkt + l2, l2, &f, fz_tcp_flags(c), big, 1);
	}
}

/* The setup of a reply case: a NAT flow's first packet, plain. */
static inline void fz_build_reply_setup(const struct fz_env *e, struct fz_case *c)
{
	const struct fz_svc *z = fz_pick(e, c, SLUICE_MODE_NAT);
	struct fz_l4 f = { .family = z->family, .proto = z->proto, .dst = z->vip,
			   .dport = z->port, .sport = 1024 + fz_below(&c->rng, 60000) };
	struct fz_case tmp;
	__u32 l2;

	c->reply_svc = z - e->svc;
	/* a client of its own (198.51.101.0/24, 2001:db8:2::/64), port from
	 * the case number: no earlier flow has this tuple, so the setup
	 * always writes the reply's entry */
	memset(&f.src, 0, sizeof(f.src));
	if (z->family == AF_INET) {
		f.src.bytes[0] = 198; f.src.bytes[1] = 51; f.src.bytes[2] = 101;
		f.src.bytes[3] = 2 + (c->id / 60000) % 250;
	} else {
		inet_pton(AF_INET6, "2001:db8:2::", f.src.bytes);
		f.src.bytes[13] = c->id >> 32;
		f.src.bytes[14] = c->id >> 24;
		f.src.bytes[15] = 2 + (c->id / 60000) % 250;
		f.src.bytes[12] = (c->id / 15000000) & 0xff;
	}
	f.sport = 1024 + c->id % 60000;
	c->client = f.src;
	c->cport = f.sport;
	tmp.nf = 0;
	tmp.nip4 = 0;
	tmp.rng = c->rng;
	l2 = fz_eth(&tmp, c->setup, z->family == AF_INET ? 0x0800 : 0x86dd, 0);
	c->setup_len = l2 + fz_ip(&tmp, c->setup + l2, l2, &f, 0x02, 0, 0);
	c->rng = tmp.rng;
}

/* The reply itself, from the backend the setup went to. */
static inline void fz_build_reply(const struct fz_env *e, struct fz_case *c,
				  const union sluice_addr *be)
{
	const struct fz_svc *z = &e->svc[c->reply_svc];
	struct fz_l4 f = { .family = z->family, .proto = z->proto, .src = *be,
			   .sport = FZ_NAT_PORT, .dst = c->client, .dport = c->cport };
	int vlans = fz_below(&c->rng, 4) == 0 ? 1 + fz_below(&c->rng, 2) : 0;
	__u32 l2;

	l2 = fz_eth(c, c->pkt, z->family == AF_INET ? 0x0800 : 0x86dd, vlans);
	c->len = l2 + fz_ip(c, c->pkt + l2, l2, &f,
			    fz_below(&c->rng, 2) ? 0x12u : fz_tcp_flags(c),
			    0, 1);
	if (fz_below(&c->rng, 8)) {
		c->mutated = 1;
		fz_mutate(c);
	}
}

/* An ipip frame for the decap program: one outer header, a valid inner. */
static inline void fz_build_decap(const struct fz_env *e, struct fz_case *c)
{
	const struct fz_svc *z = fz_pick(e, c, -1);
	struct fz_l4 f = { .family = z->family, .proto = z->proto, .dst = z->vip,
			   .dport = z->port, .sport = 1024 + fz_below(&c->rng, 60000) };
	__u32 l2, ol = z->family == AF_INET ? 20 : 40, il;
	__u8 *o;

	l2 = fz_eth(c, c->pkt, z->family == AF_INET ? 0x0800 : 0x86dd, 0);
	fz_client(c, z->family, &f.src);
	il = fz_ip(c, c->pkt + l2 + ol, l2 + ol, &f, fz_tcp_flags(c), 0, 1);
	o = c->pkt + l2;
	memset(o, 0, ol);
	if (z->family == AF_INET) {
		o[0] = 0x45;
		fz_put16(o + 2, ol + il);
		o[6] = 0x40;
		o[8] = 64;
		o[9] = 4;
		o[12] = 10; o[13] = 99; o[14] = 0; o[15] = fz_next(&c->rng);
		memcpy(o + 16, &z->be[0].v4, 4);
		fz_ip4_csum(o);
		fz_field(c, l2, 1);
		fz_field(c, l2 + 2, 2);
		fz_field(c, l2 + 6, 2);
		fz_field(c, l2 + 9, 1);
		fz_field(c, l2 + 10, 2);
		if (c->nip4 < 3)
			c->ip4_off[c->nip4++] = l2;
	} else {
		o[0] = 0x60;
		fz_put16(o + 4, il);
		o[6] = 41;
		o[7] = 64;
		inet_pton(AF_INET6, "fd00:99::", o + 8);
		o[23] = fz_next(&c->rng);
		memcpy(o + 24, z->be[0].bytes, 16);
		fz_field(c, l2, 4);
		fz_field(c, l2 + 4, 2);
		fz_field(c, l2 + 6, 1);
	}
	c->len = l2 + ol + il;
}

/* Case `id` of the run with `seed`: its program and its packet. */
static inline void fz_gen(const struct fz_env *e, __u64 seed, __u64 id,
			  struct fz_case *c)
{
	__u32 k;

	c->id = id;
	c->seed = seed;
	c->rng = seed * 0x2545f4914f6cdd1dull ^ (id + 1) * 0x9e3779b97f4a7c15ull;
	fz_next(&c->rng);
	c->nf = 0;
	c->nip4 = 0;
	c->len = 0;
	c->setup_len = 0;
	c->own_reply = 0;
	c->mutated = 0;
	k = fz_below(&c->rng, 16);
	c->prog = k < 6 ? FZ_XDP : k < 10 ? FZ_TC : k < 12 ? FZ_REPLY_XDP :
		  k < 14 ? FZ_REPLY_TC : FZ_DECAP;
	if (c->prog == FZ_REPLY_XDP || c->prog == FZ_REPLY_TC) {
		fz_build_reply_setup(e, c);
		return;		/* the reply is built once the setup ran */
	}
	if (c->prog == FZ_DECAP)
		fz_build_decap(e, c);
	else
		fz_build_fwd(e, c, c->prog == FZ_TC);
	if (fz_below(&c->rng, 8)) {
		c->mutated = 1;
		fz_mutate(c);
	}
}

#endif
