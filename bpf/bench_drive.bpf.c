// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flow driver for tests/bench/flowcost.c: BPF_PROG_TEST_RUN with repeat N
 * runs this program N times on one IPv4/TCP frame; each run rewrites the
 * frame's source address, source port, TCP flags and sequence number for
 * the run's flow, fixes the IPv4 header checksum, and tail-calls the program
 * under test (sluice_xdp, an empty program or the floor). The kernel's
 * average duration is then the cost of a packet of a traffic pattern with
 * as many flows as wanted, without the live-frames generator and without
 * the run-time statistics' fixed cost. DSR only rewrites MACs, so the frame
 * the next run sees is the template again once this program has run.
 *
 * Patterns (`pattern`, set between runs through .bss):
 *   DATA       flow = n % flows, ACK: established traffic (or, when the
 *              flows were never seen, a mid-connection burst)
 *   HANDSHAKE  flow = (n / 2) % flows, SYN then ACK: opens every flow
 *   NEW        flow = n (never repeats), SYN, from the flood prefix
 *   SYNMIX     odd runs: DATA; even runs: a random SYN from the flood prefix
 *   ACKMIX     odd runs: DATA; even runs: a random ACK from the flood prefix
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { P_DATA = 0, P_HANDSHAKE, P_NEW, P_SYNMIX, P_ACKMIX };

/* IPv4 (no options) after 14 bytes of Ethernet, TCP after it */
#define OFF_IPCSUM	24
#define OFF_SADDR	26
#define OFF_SPORT	34
#define OFF_SEQ		38
#define OFF_FLAGS	47
#define TH_SYN		0x02
#define TH_ACK		0x10

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

__u32 pattern;
__u32 flows;
__u32 nports;			/* source ports per source address */
__u32 saddr_base;		/* host order */
__u32 flood_base;		/* host order: the flood's /16 */
__u32 ip_sum;			/* IPv4 header sum without saddr and csum */
__u64 n;			/* runs so far (one CPU runs this program) */

static __always_inline __u16 fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

SEC("xdp")
int bench_drive(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	__u32 f, saddr, sport, flags = TH_ACK, pat = pattern, fl = flows, np = nports;
	__u64 i = n++;
	__u16 *w;

	if (data + 54 > data_end || !fl || !np)
		return XDP_ABORTED;
	if (pat == P_HANDSHAKE) {
		f = (__u32)((i >> 1) % fl);
		flags = (i & 1) ? TH_ACK : TH_SYN;
	} else if (pat == P_NEW || ((pat == P_SYNMIX || pat == P_ACKMIX) && !(i & 1))) {
		f = pat == P_NEW ? (__u32)i : bpf_get_prandom_u32();
		saddr = flood_base + ((f >> 14) & 0xffff);
		sport = 1024 + (f & 16383);
		flags = pat == P_ACKMIX ? TH_ACK : TH_SYN;
		goto write;
	} else {
		f = (__u32)((pat == P_DATA ? i : i >> 1) % fl);
	}
	saddr = saddr_base + f / np;
	sport = 1024 + f % np;
write:
	saddr = bpf_htonl(saddr);
	__builtin_memcpy(p + OFF_SADDR, &saddr, 4);
	*(__u16 *)(p + OFF_SPORT) = bpf_htons(sport);
	/* the same sequence number for a flow's SYNs: retransmissions */
	f = bpf_htonl(f * 2654435761u);
	__builtin_memcpy(p + OFF_SEQ, &f, 4);
	p[OFF_FLAGS] = flags;
	w = (__u16 *)(p + OFF_SADDR);
	*(__u16 *)(p + OFF_IPCSUM) = fold(ip_sum + w[0] + w[1]);
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
