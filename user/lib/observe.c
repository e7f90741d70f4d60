// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cheap reads for a poller (sluiced reads every service with a rollout
 * each second): the mmapped metadata and exposure, the configuration
 * element cached per generation (publishing bumps gen, so a cached element
 * of the live gen is the live one), and counters with batch lookups: one
 * syscall for a service's 16 flow_stats entries instead of 16.
 */
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

#define SVC_ENTRIES (SLUICE_VARIANTS * SLUICE_MAX_RINGS)

/* The cache is keyed by the inner map's id as well as gen: a service
 * deleted and added again under the same id starts at gen 1 again. */
static int cached_cfg(struct sluice *s, __u32 id, struct sluice_svc_cfg *cfg)
{
	struct sluice_svc_cfg *c;
	__u32 map_id;
	int err;

	if (!s->cfg_cache) {
		s->cfg_cache = calloc(SLUICE_MAX_SERVICES, sizeof(*s->cfg_cache));
		s->cfg_cache_map = calloc(SLUICE_MAX_SERVICES, sizeof(*s->cfg_cache_map));
		if (!s->cfg_cache || !s->cfg_cache_map)
			return -ENOMEM;
	}
	if (bpf_map_lookup_elem(s->svc_cfg_fd, &id, &map_id) < 0)
		return -errno;
	c = &s->cfg_cache[id];
	if (!c->gen || c->gen != s->meta[id].gen || s->cfg_cache_map[id] != map_id) {
		err = sluice_cfg_read(s, id, c, NULL);
		if (err) {
			c->gen = 0;
			return err;
		}
		s->cfg_cache_map[id] = map_id;
	}
	*cfg = *c;
	return 0;
}

static int view(struct sluice *s, const char *name, struct sluice_service_view *v,
		const __u32 *kill_words, __u32 nwords, __u32 kill_all);

int sluice_service_view(struct sluice *s, const char *name,
			struct sluice_service_view *v)
{
	return view(s, name, v, NULL, 0, 0);
}

int sluice_service_view_kill(struct sluice *s, const char *name,
			     struct sluice_service_view *v, const __u32 *kill_words,
			     __u32 nwords, __u32 kill_all)
{
	return view(s, name, v, kill_words, nwords, kill_all);
}

static int view(struct sluice *s, const char *name, struct sluice_service_view *v,
		const __u32 *kill_words, __u32 nwords, __u32 kill_all)
{
	const struct sluice_exposure *e;
	struct sluice_svc_cfg cfg = {};
	__u32 id = v->id, all = SLUICE_KILL_ALL_INDEX, gen;
	int err;

	if (id >= SLUICE_MAX_SERVICES || !(s->meta[id].flags & SLUICE_SVC_IN_USE) ||
	    strncmp(s->meta[id].name, name, SLUICE_NAME_LEN)) {
		err = sluice_service_lookup(s, name, &id);
		if (err)
			return err;
	}
	err = cached_cfg(s, id, &cfg);
	if (err)
		return sluice_seterr(s, err, "service '%s' has no configuration", name);
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->gen = cfg.gen;
	v->mode = cfg.mode;
	v->affinity = cfg.affinity;
	memcpy(v->nbackends, cfg.nbackends, sizeof(v->nbackends));
	/* the exposure mirror holds the live weights while its gen matches */
	e = &s->exp[id];
	gen = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);
	if (gen == cfg.gen) {
		int r;

		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			v->weight[r] = __atomic_load_n(&e->weight[r], __ATOMIC_RELAXED);
		v->lkg = __atomic_load_n(&e->lkg, __ATOMIC_RELAXED);
	} else {
		memcpy(v->weight, cfg.weight, sizeof(v->weight));
		v->lkg = cfg.lkg;
	}
	if (kill_words && id < nwords) {	/* read in one batch by the caller */
		v->kill = kill_words[id];
		v->kill_all = kill_all;
		return 0;
	}
	if (bpf_map_lookup_elem(s->kill_fd, &id, &v->kill) < 0 ||
	    bpf_map_lookup_elem(s->kill_fd, &all, &v->kill_all) < 0)
		return sluice_seterr(s, errno, "cannot read the kill switch: %s",
				     strerror(errno));
	return 0;
}

int sluice_rings_in_use(struct sluice *s, unsigned int *mask)
{
	struct sluice_ring_meta m;
	__u32 i;

	*mask = 1;
	for (i = 1; i < SLUICE_MAX_RINGS; i++)
		if (bpf_map_lookup_elem(s->ring_meta_fd, &i, &m) == 0 && m.in_use)
			*mask |= 1u << i;
	return 0;
}

/* Entries [first, first + n) of an array map in one call, per-CPU values
 * included (value_size per element: vsz x ncpus when percpu). Falls back
 * to single lookups on kernels without batch operations. */
static int array_range(struct sluice *s, int fd, __u32 first, __u32 n,
		       size_t elem, void *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 keys[SVC_ENTRIES], in = first, outb, cnt = n, i;
	int err;

	if (n > SVC_ENTRIES)
		return -EINVAL;
	if (n == 1)
		return bpf_map_lookup_elem(fd, &first, out) < 0 ? -errno : 0;
	err = bpf_map_lookup_batch(fd, first ? &in : NULL, &outb, keys, out,
				   &cnt, &o);
	if ((!err || errno == ENOENT) && cnt == n)
		return 0;
	for (i = 0; i < n; i++) {
		__u32 k = first + i;

		if (bpf_map_lookup_elem(fd, &k, (char *)out + i * elem) < 0)
			return -errno;
	}
	return 0;
}

int sluice_counters_get(struct sluice *s, __u32 svc_id, bool nat,
			unsigned int ring_mask,
			struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
			struct sluice_health health[SLUICE_VARIANTS])
{
	size_t fsz = sizeof(struct sluice_flow_stats) * s->ncpus;
	__u32 first = SLUICE_STATS_INDEX(svc_id, 0, 0), i;
	__u64 sweep[SVC_ENTRIES];
	struct sluice_flow_stats *pc;
	struct sluice_lat_hist *lh;
	int v, r, c, k, err;
	unsigned int b, hi;

	if (svc_id >= SLUICE_MAX_SERVICES)
		return sluice_seterr(s, EINVAL, "no service with id %u", svc_id);
	if (!s->pcpu_buf) {
		size_t want = fsz * SVC_ENTRIES;

		if (want < sizeof(struct sluice_lat_hist) * s->ncpus)
			want = sizeof(struct sluice_lat_hist) * s->ncpus;
		s->pcpu_buf = malloc(want);
		if (!s->pcpu_buf)
			return sluice_seterr(s, ENOMEM, "out of memory");
	}
	pc = s->pcpu_buf;
	/* per-CPU values are the cost: read the rings up to the highest in
	 * use, per variant (one ring: 2 entries of 16) */
	for (hi = SLUICE_MAX_RINGS; hi > 1 && !(ring_mask & (1u << (hi - 1))); hi--)
		;
	memset(pc, 0, fsz * SVC_ENTRIES);
	if (hi == SLUICE_MAX_RINGS) {
		err = array_range(s, s->flow_stats_fd, first, SVC_ENTRIES, fsz, pc);
	} else {
		err = array_range(s, s->flow_stats_fd, first, hi, fsz, pc);
		if (!err)
			err = array_range(s, s->flow_stats_fd, first + SLUICE_MAX_RINGS, hi,
					  fsz, (char *)pc + SLUICE_MAX_RINGS * fsz);
	}
	if (err)
		return sluice_seterr(s, -err, "cannot read counters: %s", strerror(-err));
	memset(fs, 0, sizeof(struct sluice_flow_stats) * SVC_ENTRIES);
	for (i = 0; i < SVC_ENTRIES; i++) {
		__u64 *dst = (__u64 *)&fs[i / SLUICE_MAX_RINGS][i % SLUICE_MAX_RINGS];

		for (c = 0; c < s->ncpus; c++)
			for (k = 0; k < (int)(sizeof(*pc) / 8); k++)
				dst[k] += ((__u64 *)&pc[i * s->ncpus + c])[k];
	}
	if (!health)
		return 0;
	memset(sweep, 0, sizeof(sweep));
	if (nat && hi == SLUICE_MAX_RINGS) {
		array_range(s, s->hs_sweep_fd, first, SVC_ENTRIES, sizeof(__u64), sweep);
	} else if (nat) {
		array_range(s, s->hs_sweep_fd, first, hi, sizeof(__u64), sweep);
		array_range(s, s->hs_sweep_fd, first + SLUICE_MAX_RINGS, hi, sizeof(__u64),
			    sweep + SLUICE_MAX_RINGS);
	}
	memset(health, 0, sizeof(*health) * SLUICE_VARIANTS);
	lh = s->pcpu_buf;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		struct sluice_health *h = &health[v];

		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			const struct sluice_flow_stats *f = &fs[v][r];
			__u32 idx = SLUICE_STATS_INDEX(svc_id, v, r);
			__u64 sw = sweep[v * SLUICE_MAX_RINGS + r];

			h->packets += f->packets;
			h->new_flows += f->new_flows;
			h->syn_retrans += f->syn_retrans;
			h->client_rst += f->client_rst;
			h->backend_rst += f->backend_rst;
			h->hs_timeout += f->hs_timeout + sw;
			h->hs_timeout_sweep += sw;
			if (!nat || !(ring_mask & (1u << r)) ||
			    (ring_mask & SLUICE_COUNTERS_NO_LAT) ||
			    bpf_map_lookup_elem(s->lat_hist_fd, &idx, lh) < 0)
				continue;	/* no handshake timed there yet */
			for (c = 0; c < s->ncpus; c++)
				for (b = 0; b < SLUICE_LAT_BUCKETS; b++)
					h->lat[b] += lh[c].b[b];
		}
		for (b = 0; b < SLUICE_LAT_BUCKETS; b++)
			h->hs_samples += h->lat[b];
	}
	return 0;
}

/* ---- the 100 ms look: has anything moved? ------------------------------ */

int sluice_service_stamp(struct sluice *s, __u32 id, const char *name, __u64 *stamp)
{
	const struct sluice_exposure *e;
	__u64 h = 1469598103934665603ull;
	__u32 w[4];
	int r;

	if (id >= SLUICE_MAX_SERVICES || !(s->meta[id].flags & SLUICE_SVC_IN_USE) ||
	    strncmp(s->meta[id].name, name, SLUICE_NAME_LEN))
		return -ENOENT;
	e = &s->exp[id];
	w[0] = __atomic_load_n(&s->meta[id].gen, __ATOMIC_ACQUIRE);
	w[1] = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);
	w[2] = __atomic_load_n(&e->lkg, __ATOMIC_RELAXED);
	w[3] = s->meta[id].flags;
	for (r = 0; r < 4; r++)
		h = (h ^ w[r]) * 1099511628211ull;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		h = (h ^ __atomic_load_n(&e->weight[r], __ATOMIC_RELAXED)) * 1099511628211ull;
	*stamp = h;
	return 0;
}

int sluice_counters_sum(struct sluice *s, __u32 svc_id, int variant,
			unsigned int ring_mask, __u64 *sum)
{
	size_t fsz = sizeof(struct sluice_flow_stats) * s->ncpus;
	const __u64 *p;
	unsigned int hi, i;
	int err;

	if (svc_id >= SLUICE_MAX_SERVICES || variant < 0 || variant >= SLUICE_VARIANTS)
		return sluice_seterr(s, EINVAL, "no service with id %u", svc_id);
	if (!s->pcpu_buf) {	/* sized as sluice_counters_get sizes it */
		size_t want = fsz * SVC_ENTRIES;

		if (want < sizeof(struct sluice_lat_hist) * s->ncpus)
			want = sizeof(struct sluice_lat_hist) * s->ncpus;
		s->pcpu_buf = malloc(want);
		if (!s->pcpu_buf)
			return sluice_seterr(s, ENOMEM, "out of memory");
	}
	for (hi = SLUICE_MAX_RINGS; hi > 1 && !(ring_mask & (1u << (hi - 1))); hi--)
		;
	err = array_range(s, s->flow_stats_fd, SLUICE_STATS_INDEX(svc_id, variant, 0), hi,
			  fsz, s->pcpu_buf);
	if (err)
		return sluice_seterr(s, -err, "cannot read counters: %s", strerror(-err));
	*sum = 0;
	p = s->pcpu_buf;
	for (i = 0; i < fsz * hi / sizeof(__u64); i++)
		*sum += p[i];
	return 0;
}

int sluice_kill_words(struct sluice *s, __u32 n, __u32 *words, __u32 *all)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 idx = SLUICE_KILL_ALL_INDEX, outb, cnt = n, i, *keys;
	int err = 0;

	if (n > SLUICE_MAX_SERVICES)
		n = cnt = SLUICE_MAX_SERVICES;
	if (bpf_map_lookup_elem(s->kill_fd, &idx, all) < 0)
		return sluice_seterr(s, errno, "cannot read the kill switch: %s", strerror(errno));
	if (!n)
		return 0;
	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return sluice_seterr(s, ENOMEM, "out of memory");
	if ((bpf_map_lookup_batch(s->kill_fd, NULL, &outb, keys, words, &cnt, &o) < 0 &&
	     errno != ENOENT) || cnt != n) {
		for (i = 0; i < n && !err; i++)
			if (bpf_map_lookup_elem(s->kill_fd, &i, &words[i]) < 0)
				err = sluice_seterr(s, errno, "cannot read the kill switch: %s",
						    strerror(errno));
	}
	free(keys);
	return err;
}
