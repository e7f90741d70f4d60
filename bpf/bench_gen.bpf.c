// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traffic generator for the sluice benchmark (tests/bench/gen.c drives it).
 *
 * Run with BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES: the kernel hands
 * this program one frame per repetition from a page pool initialised with
 * the template, and executes the verdict for real (XDP_TX becomes a redirect
 * out of ctx_in->ingress_ifindex). Recycled pages keep whatever the receivers
 * wrote into them, so every frame's headers are rewritten from the template
 * here; the payload behind the headers is never written by anyone.
 *
 * Flow f = (frame number) % flows, or with random_flows a pseudo-random
 * number below flows (a spoofed flood: tuples seldom repeat); source port = sport_base + f % nports,
 * source address (IPv4 whole address, IPv6 last 32 bits) = saddr_base +
 * f / nports. Checksums: user space passes the one's complement sums of the
 * fixed parts (words in memory order, variable fields and checksum fields
 * zero); this program adds the variable words and folds.
 *
 * Patterns (TCP; issue 24's traffic): 1 "est": frames 0 .. 2 * flows - 1
 * open the flows (SYN of flow n / 2, then its ACK), then ACKs as usual;
 * 2 "synflood": odd frames are ACKs of the flows (flow (n / 2) % flows),
 * even frames a SYN from a random source in flood_base's /16 and a random
 * port (a spoofed SYN flood while established flows run).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GEN_TMPL_WORDS	10		/* up to 80 header bytes */

const volatile __u64 tmpl[GEN_TMPL_WORDS];	/* frame headers */
const volatile __u32 tmpl_words = 8;	/* words of tmpl to copy */
const volatile __u32 flows = 256;
const volatile __u32 nports = 256;	/* source ports per source address */
const volatile __u32 sport_base = 1024;	/* host order */
const volatile __u32 saddr_base;	/* host order, varied 32 bits */
const volatile __u32 saddr_off = 26;	/* offset of the varied 32 bits */
const volatile __u32 sport_off = 34;
const volatile __u32 l4csum_off = 50;
const volatile __u32 ipcsum_off;	/* 0: no IPv4 header checksum */
const volatile __u32 ip_sum;		/* partial sums, see above */
const volatile __u32 l4_sum;
const volatile __u32 l4_udp;		/* UDP: checksum 0 is sent as 0xffff */
const volatile __u32 random_flows;	/* pick each frame's flow at random */
const volatile __u32 pattern;		/* 0, 1 est, 2 synflood (above) */
const volatile __u32 flags_off;		/* TCP flags byte */
const volatile __u32 syn_adj;		/* checksum: SYN word - ACK word */
const volatile __u32 flood_base;	/* host order, pattern 2 */

__u64 frames;	/* one caller thread runs this program: no atomics needed */

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* A pointer to len bytes at a header offset, or NULL when out of the frame */
static __always_inline __u16 *field(void *data, void *data_end, __u32 off,
				    __u32 len)
{
	void *p;

	if (off > GEN_TMPL_WORDS * 8)
		return NULL;
	p = data + off;
	if (p + len > data_end)
		return NULL;
	return p;
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 *w = data;
	__u16 *sa, *sp, *l4c, *ipc, c;
	__u32 f, var, i, syn = 0, sum, saddr, sport;
	__u64 n;

#pragma unroll
	for (i = 0; i < GEN_TMPL_WORDS; i++) {
		if (i >= tmpl_words)
			break;
		if ((void *)(w + i + 1) > data_end)
			return XDP_ABORTED;
		w[i] = tmpl[i];
	}

	n = frames++;
	f = random_flows ? bpf_get_prandom_u32() % flows : n % flows;
	saddr = saddr_base + f / nports;
	sport = sport_base + f % nports;
	if (pattern == 1 && n < 2ull * flows) {
		f = n / 2;
		syn = !(n & 1);
		saddr = saddr_base + f / nports;
		sport = sport_base + f % nports;
	} else if (pattern == 2) {
		if (n & 1) {
			f = (n / 2) % flows;
			saddr = saddr_base + f / nports;
			sport = sport_base + f % nports;
		} else {
			f = bpf_get_prandom_u32();
			saddr = flood_base + ((f >> 14) & 0xffff);
			sport = 1024 + (f & 16383);
			syn = 1;
		}
	}
	sa = field(data, data_end, saddr_off, 4);
	sp = field(data, data_end, sport_off, 2);
	l4c = field(data, data_end, l4csum_off, 2);
	if (!sa || !sp || !l4c)
		return XDP_ABORTED;
	var = bpf_htonl(saddr);
	__builtin_memcpy(sa, &var, 4);
	*sp = bpf_htons(sport);
	sum = l4_sum;
	if (pattern && flags_off) {
		__u8 *fl = (__u8 *)field(data, data_end, flags_off, 1);

		if (!fl)
			return XDP_ABORTED;
		*fl = syn ? 0x02 : 0x10;
		if (syn)
			sum += syn_adj;
	}

	if (ipcsum_off) {
		ipc = field(data, data_end, ipcsum_off, 2);
		if (!ipc)
			return XDP_ABORTED;
		*ipc = csum_fold(ip_sum + sa[0] + sa[1]);
	}
	c = csum_fold(sum + sa[0] + sa[1] + *sp);
	if (l4_udp && !c)
		c = 0xffff;
	*l4c = c;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
