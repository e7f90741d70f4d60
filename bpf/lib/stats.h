/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: per (service, variant, ring), and global events. */
#ifndef SLUICE_BPF_STATS_H
#define SLUICE_BPF_STATS_H

#include "maps.h"

static __always_inline void event_inc(__u32 ev)
{
	__u64 *c = bpf_map_lookup_elem(&events, &ev);

	if (c)
		*c += 1;	/* per-CPU slot: no atomic needed */
}

static __always_inline struct sluice_flow_stats *
flow_stats_get(__u32 svc_id, __u32 variant, __u32 ring)
{
	__u32 idx;

	if (svc_id >= SLUICE_MAX_SERVICES || variant >= SLUICE_VARIANTS ||
	    ring >= SLUICE_MAX_RINGS)
		return 0;
	idx = SLUICE_STATS_INDEX(svc_id, variant, ring);
	return bpf_map_lookup_elem(&flow_stats, &idx);
}

#endif
