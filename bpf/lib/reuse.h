/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tuple reuse: when an entry found in a connection table belongs to a flow
 * that is over, and the packet starts a new one that must be decided afresh
 * with the current configuration (weights, rings, kill switch, cutover,
 * pools), like conntrack and the nftables DNAT it is compared with do.
 *
 * TCP: a bare SYN (no ACK) that repeats the entry's initial sequence number
 * is a retransmission of the handshake in progress (it stays, and counts as
 * syn_retrans); one with another sequence number is a new connection. Time
 * alone cannot tell them apart: SYN retransmissions go on for about two
 * minutes. An entry made by a packet other than a SYN (a flow picked up
 * mid-stream) has no sequence number to compare: a bare SYN on it is new.
 *
 * UDP has no SYN: an entry silent for longer than the service's udp_idle_s
 * is decided afresh on its next packet (0: never). The seen tick (~1.07 s,
 * SLUICE_SEEN_SHIFT) is written in place only when it changes, so a busy
 * flow dirties its entry's cache line about once a second, not per packet.
 * A flow is re-decided after between udp_idle_s and udp_idle_s + 2.2 s of
 * silence, never before.
 *
 * Races: two CPUs can see the same tuple at once (RSS spreads a client's
 * retransmissions, generic XDP moves flows). Each re-decision writes a whole
 * new entry: into conn_est with one LRU hash update, which links a fresh
 * element in place of the old under the bucket lock, into conn_new by
 * rewriting the flow's slot, whose check word makes a half-written slot
 * read as no entry (conntrack.h). A reader sees the old entry, the new one
 * or none, never a mix, and of two writers the later one wins whole. Both
 * decided from the same tuple, hash and configuration, so they wrote the
 * same backend; if the configuration changed between the two, the loser's
 * packet is the first packet of a connection that the winner's entry then
 * carries (the same outcome as two racing SYNs without any entry). A
 * retransmitted SYN racing the re-decision finds either the old entry (its
 * sequence number differs: re-decided again, to the same backend) or the
 * new one (same sequence number: a retransmission). The seen tick is a
 * plain store of a value every racer computes alike.
 */
#ifndef SLUICE_BPF_REUSE_H
#define SLUICE_BPF_REUSE_H

#include "ctx.h"
#include "maps.h"
#include "parse.h"

#define REUSE_L4_MAX_OFF	0x1ff	/* as nat.h: IP header + extensions */

static __always_inline int is_bare_syn(const struct pkt *pk)
{
	return (pk->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

/* The TCP sequence number of the parsed packet (host order); -1 if cut. */
static __always_inline int tcp_seq_of(const struct hook *hk,
				      const struct pkt *pk, __u32 *seq)
{
	void *data = hook_data(hk), *data_end = hook_data_end(hk);
	__u32 off = pk->l3off & 0x1f, l4 = pk->l4rel;
	struct tcphdr *th;

	if (l4 > REUSE_L4_MAX_OFF)
		return -1;
	th = data + off + l4;
	if ((void *)(th + 1) > data_end)
		return -1;
	*seq = bpf_ntohl(th->seq);
	return 0;
}

/* 1 when a bare SYN on entry e starts a new connection, 0 when it repeats
 * the SYN that made e. */
static __always_inline int syn_is_new(const struct sluice_conn *e, __u32 seq)
{
	if (!(e->flags & SLUICE_CONN_SYN))
		return 1;
	return e->syn_seq != seq;
}

/*
 * The tick of bpf_ktime_get_ns() >> SLUICE_SEEN_SHIFT, read from jiffies
 * where the kernel's HZ is known (libbpf reads it from the kernel config):
 * a memory load instead of a clock read, which measured ~45 ns per UDP
 * packet here (tests/bench, issue 9). jiffies_64 starts at INITIAL_JIFFIES
 * (-300 s) and is kept in step with the monotonic clock by the timer tick,
 * so both give the same tick, give or take one jiffy at a tick boundary.
 */
extern const unsigned int CONFIG_HZ __kconfig __weak;

static __always_inline __u32 seen_tick(void)
{
	__u64 hz = CONFIG_HZ, j;

	if (!hz)
		return (__u32)(bpf_ktime_get_ns() >> SLUICE_SEEN_SHIFT);
	j = bpf_jiffies64() - (__u64)(__u32)(-300 * (int)hz);
	return (__u32)((j * (1000000000ull / hz)) >> SLUICE_SEEN_SHIFT);
}

/* Idle ticks beyond which a UDP entry is re-decided; 0: never. */
static __always_inline __u32 udp_idle_ticks(__u32 idle_s)
{
	if (!idle_s)
		return 0;
	/* rounded up: now - seen > U ticks means more than U ticks of
	 * silence, as seen is the tick the last packet fell in */
	return (__u32)((((__u64)idle_s * 1000000000ull) +
			(1ull << SLUICE_SEEN_SHIFT) - 1) >> SLUICE_SEEN_SHIFT);
}

static __always_inline int udp_is_idle(const struct sluice_conn *e,
				       __u32 now, __u32 idle_ticks)
{
	return idle_ticks && now - e->seen > idle_ticks;
}

/* Keep the seen tick current: a store only when the tick moved on. */
static __always_inline void udp_touch(struct sluice_conn *live, __u32 now)
{
	if (*(volatile __u32 *)&live->seen != now)
		*(volatile __u32 *)&live->seen = now;
}

#endif
