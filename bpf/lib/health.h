/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Health signals per (service, variant, ring). In every mode the forward
 * path counts new flows, SYN retransmissions of flows that have an entry,
 * and client RSTs (core.h, count_flow). In NAT mode replies cross this node,
 * so the reply path adds backend RSTs and the SYN -> SYN-ACK latency
 * (histogram layout and error bound: sluice_abi.h, SLUICE_LAT_*).
 *
 * Handshake timeout (NAT mode): a flow whose handshake has not completed
 * SLUICE_HS_TIMEOUT_NS after its first SYN. The datapath sees it when the
 * client retransmits the SYN that late (the flow is still in conn_new, and
 * Linux retransmits after 1 s); it counts it once per flow (flag in the
 * entry). A client that gives up without retransmitting is found by the
 * library's sweep of conn_new (sluice_health_sweep), which counts into
 * hs_sweep with the same flag. LRU eviction alone is not observable.
 */
#ifndef SLUICE_BPF_HEALTH_H
#define SLUICE_BPF_HEALTH_H

#include "maps.h"
#include "stats.h"

static __always_inline __u32 lat_bucket(__u64 us)
{
	__u64 v = us;
	__u32 e = 0;

	if (us < SLUICE_LAT_SUB)
		return us;
	if (us >= (1ull << (SLUICE_LAT_MAX_EXP + 1)))
		return SLUICE_LAT_BUCKETS - 1;
	if (v >> 16) { v >>= 16; e += 16; }
	if (v >> 8) { v >>= 8; e += 8; }
	if (v >> 4) { v >>= 4; e += 4; }
	if (v >> 2) { v >>= 2; e += 2; }
	if (v >> 1) { e += 1; }
	/* e = floor(log2(us)) >= SLUICE_LAT_SUB_BITS */
	return SLUICE_LAT_SUB + (e - SLUICE_LAT_SUB_BITS) * SLUICE_LAT_SUB +
	       ((us >> (e - SLUICE_LAT_SUB_BITS)) & (SLUICE_LAT_SUB - 1));
}

static __always_inline void lat_record(__u32 svc, __u32 variant, __u32 ring,
				       __u64 ns)
{
	struct sluice_lat_hist *h;
	__u32 idx, zero = 0, b;
	void *z;

	if (svc >= SLUICE_MAX_SERVICES || variant >= SLUICE_VARIANTS ||
	    ring >= SLUICE_MAX_RINGS)
		return;
	idx = SLUICE_STATS_INDEX(svc, variant, ring);
	h = bpf_map_lookup_elem(&lat_hist, &idx);
	if (!h) {
		z = bpf_map_lookup_elem(&lat_zero, &zero);
		if (!z)
			return;
		bpf_map_update_elem(&lat_hist, &idx, z, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&lat_hist, &idx);
		if (!h)
			return;
	}
	b = lat_bucket(ns / 1000);
	/* the compiler knows b's range and would drop the check the
	 * verifier needs: hide it */
	asm volatile("" : "+r"(b));
	if (b < SLUICE_LAT_BUCKETS)
		h->b[b] += 1;
}

#endif
