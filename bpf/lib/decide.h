/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The decision for a new flow: ring from the source prefix, bucket from the
 * keyed flow hash, variant from the ring's weight (the canary owns the lowest
 * buckets, so ramping up only ever moves flows baseline -> canary), backend
 * from the variant's Maglev table.
 */
#ifndef SLUICE_BPF_DECIDE_H
#define SLUICE_BPF_DECIDE_H

#include "maps.h"
#include "parse.h"
#include "sluice_hash.h"

struct svc_view {
	void *inner;			/* the config inner map */
	struct sluice_svc_cfg *cfg;	/* its element 0 */
	struct sluice_exposure *exp;	/* NULL unless current for cfg */
	__u32 svc_id;
};

/* Resolve the service's current configuration generation, once per packet. */
static __always_inline int svc_view_get(__u32 svc_id, struct svc_view *v)
{
	__u32 zero = 0;

	v->inner = bpf_map_lookup_elem(&svc_cfg, &svc_id);
	if (!v->inner)
		return -1;
	v->cfg = bpf_map_lookup_elem(v->inner, &zero);
	if (!v->cfg)
		return -1;
	v->exp = bpf_map_lookup_elem(&exposure, &svc_id);
	if (v->exp && *(volatile __u32 *)&v->exp->gen != v->cfg->gen)
		v->exp = 0;
	v->svc_id = svc_id;
	return 0;
}

static __always_inline __u32 view_weight(const struct svc_view *v, __u32 ring)
{
	ring &= SLUICE_MAX_RINGS - 1;
	if (v->exp)
		return *(volatile __u16 *)&v->exp->weight[ring];
	return v->cfg->weight[ring];
}

static __always_inline __u32 view_lkg(const struct svc_view *v)
{
	if (v->exp)
		return *(volatile __u8 *)&v->exp->lkg & 1;
	return v->cfg->lkg & 1;
}

static __always_inline __u32 kill_word(__u32 svc_id)
{
	__u32 all = SLUICE_KILL_ALL_INDEX;
	__u32 *k = bpf_map_lookup_elem(&kill, &svc_id);
	__u32 *ka = bpf_map_lookup_elem(&kill, &all);
	__u32 w = 0;

	if (k)
		w |= *(volatile __u32 *)k;
	if (ka)
		w |= *(volatile __u32 *)ka;
	return w;
}

static __always_inline __u32 ring_of(const struct sluice_conn_key *f)
{
	__u32 *r;

	if (f->family == AF_INET) {
		struct sluice_lpm_v4 k = { .prefixlen = 32, .addr = f->src.v4 };

		r = bpf_map_lookup_elem(&ring_v4, &k);
	} else {
		struct sluice_lpm_v6 k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, f->src.v6, 16);
		r = bpf_map_lookup_elem(&ring_v6, &k);
	}
	if (!r || *r >= SLUICE_MAX_RINGS)
		return 0;
	return *r;
}

/* Slot -> backend id in the variant's table; SLUICE_NO_BACKEND if empty. */
static __always_inline __u32 table_pick(const struct svc_view *v,
					__u32 variant, __u32 h_slot)
{
	const struct sluice_svc_cfg *cfg = v->cfg;
	struct sluice_slots *s;
	__u32 slot, idx;

	if (!cfg->table_size || !cfg->nbackends[variant & 1])
		return SLUICE_NO_BACKEND;
	slot = h_slot % cfg->table_size;
	idx = 1 + (variant & 1) * cfg->table_elems + slot / SLUICE_SLOTS_PER_ELEM;
	s = bpf_map_lookup_elem(v->inner, &idx);
	if (!s)
		return SLUICE_NO_BACKEND;
	return s->backend[slot & (SLUICE_SLOTS_PER_ELEM - 1)];
}

/*
 * The decision hash of the words in pcpu_io, as a global function: the
 * verifier checks it once per program, and its callers see a scalar.
 * Inlined, its 150 instructions were walked again for every distinct
 * state reaching a decision (40% of sluice_xdp's processed instructions,
 * and over the 1M limit on 6.1 and 5.10). Arguments: scalars only (5.10
 * takes no pointer arguments in a global function). Returns the bucket
 * hash in the high word, the slot hash in the low.
 */
__attribute__((noinline)) __u64 sluice_flow_hash_g(__u32 seed)
{
	__u32 zero = 0, hb, hs;
	struct pcpu_io *io = bpf_map_lookup_elem(&pcpu_io, &zero);

	if (!io)
		return 0;
	sluice_hash_flow(&io->w, seed, &hb, &hs);
	return (__u64)hb << 32 | hs;
}

struct decision {
	__u32 backend_id;
	__u8 variant;
	__u8 ring;
};

/*
 * force_variant >= 0 pins the variant (revert); otherwise the bucket
 * decides. A chosen pool that is empty falls back to the last-known-good
 * pool; never the other way: an empty baseline must not expose the canary.
 */
static __always_inline int decide(const struct svc_view *v,
				  const struct sluice_conn_key *f, __u32 ring,
				  int force_variant, struct decision *d)
{
	const struct sluice_svc_cfg *cfg = v->cfg;
	struct pcpu_io *io;
	__u32 hb, hs, variant, id, zero = 0;
	__u64 hv;

	io = bpf_map_lookup_elem(&pcpu_io, &zero);
	if (!io)
		return -1;
	sluice_flow_words(&io->w, &f->src, &f->dst, f->sport, f->dport, f->proto,
			  f->family, cfg->affinity == SLUICE_AFF_CLIENT);
	hv = sluice_flow_hash_g(cfg->seed);
	hb = hv >> 32;
	hs = (__u32)hv;
	if (force_variant >= 0)
		variant = force_variant & 1;
	else
		variant = (hb % SLUICE_BUCKETS) < view_weight(v, ring)
			  ? SLUICE_CANARY : SLUICE_BASELINE;
	id = table_pick(v, variant, hs);
	if (id == SLUICE_NO_BACKEND && variant != view_lkg(v)) {
		variant = view_lkg(v);
		id = table_pick(v, variant, hs);
	}
	if (id == SLUICE_NO_BACKEND)
		return -1;
	d->backend_id = id;
	d->variant = variant;
	d->ring = ring;
	return 0;
}

#endif
