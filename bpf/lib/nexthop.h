/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The next hop toward a backend (ipip and nat modes) from the kernel's
 * routing and neighbour tables, through bpf_fib_lookup. The answer for a
 * backend is the same for every flow, so it is cached per backend id and
 * CPU (map nexthop) and refreshed once it is SLUICE_NH_TTL_NS old: a hit
 * costs an array lookup and a clock read, not a FIB walk. Only
 * successful lookups are cached, so a missing neighbour is retried on
 * every packet until the kernel has resolved it.
 */
#ifndef SLUICE_BPF_NEXTHOP_H
#define SLUICE_BPF_NEXTHOP_H

#include "ctx.h"
#include "maps.h"
#include "parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif

enum nh_rc {
	NH_OK = 0,
	NH_NO_NEIGH,	/* route known, neighbour not (yet): let the stack send */
	NH_FAIL,	/* no route, blackhole, unreachable, forwarding off */
	NH_OTHER,	/* anything else (lwt, frag needed, ...) */
};

static __always_inline int fib_rc(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return NH_OK;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return NH_NO_NEIGH;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
	case BPF_FIB_LKUP_RET_NOT_FWDED:
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return NH_FAIL;
	default:
		return NH_OTHER;
	}
}

/* A FIB lookup toward dst (family as the flow's); fills *p. */
static __always_inline int fib_to(const struct hook *hk, __u8 family,
				  const union sluice_addr *dst,
				  struct bpf_fib_lookup *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->ifindex = hk->ifindex;
	if (family == AF_INET) {
		p->family = AF_INET;
		p->ipv4_dst = dst->v4;
	} else {
		p->family = AF_INET6;
		__builtin_memcpy(p->ipv6_dst, dst->v6, 16);
	}
	return fib_rc(bpf_fib_lookup(hk->ctx, p, sizeof(*p), 0));
}

static __always_inline int nexthop_get(const struct hook *hk, __u32 be_id,
				       const struct sluice_backend *be,
				       struct sluice_nexthop **out)
{
	struct sluice_nexthop *nh = bpf_map_lookup_elem(&nexthop, &be_id);
	struct bpf_fib_lookup p;
	__u64 now;
	int rc;

	if (!nh)
		return NH_OTHER;
	/* bpf_ktime_get_coarse_ns() would be cheaper but needs 5.11 */
	now = bpf_ktime_get_ns();
	if (nh->stamp_ns && now - nh->stamp_ns < SLUICE_NH_TTL_NS) {
		*out = nh;
		return NH_OK;
	}
	rc = fib_to(hk, be->family, &be->addr, &p);
	if (rc != NH_OK)
		return rc;
	__builtin_memcpy(nh->dmac, p.dmac, 6);
	__builtin_memcpy(nh->smac, p.smac, 6);
	nh->ifindex = p.ifindex;
	nh->mtu = p.mtu_result ? p.mtu_result : 1500;
	nh->stamp_ns = now ? now : 1;
	*out = nh;
	return NH_OK;
}

static __always_inline void set_macs(void *data, void *data_end,
				     const __u8 *dmac, const __u8 *smac)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return;
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
}

#endif
