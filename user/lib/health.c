// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health signals per variant: flow counters, handshake timeouts (datapath
 * and sweep) and the SYN -> SYN-ACK latency histogram, summed over CPUs and
 * rings. See bpf/lib/health.h for what the datapath counts and when.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "sluice_hash.h"

void sluice_lat_bucket_range(unsigned int i, double *lo, double *hi)
{
	unsigned int e, sub;

	if (i < SLUICE_LAT_SUB) {
		*lo = i;
		*hi = i + 1;
		return;
	}
	e = SLUICE_LAT_SUB_BITS + (i - SLUICE_LAT_SUB) / SLUICE_LAT_SUB;
	sub = (i - SLUICE_LAT_SUB) % SLUICE_LAT_SUB;
	*lo = (double)((1ull << e) + ((__u64)sub << (e - SLUICE_LAT_SUB_BITS)));
	*hi = *lo + (double)(1ull << (e - SLUICE_LAT_SUB_BITS));
}

double sluice_lat_percentile(const __u64 lat[SLUICE_LAT_BUCKETS], double p)
{
	__u64 n = 0, cum = 0, want;
	double lo, hi;
	unsigned int i;

	for (i = 0; i < SLUICE_LAT_BUCKETS; i++)
		n += lat[i];
	if (!n)
		return -1;
	if (p < 0)
		p = 0;
	if (p > 100)
		p = 100;
	want = (__u64)(p / 100.0 * n + 0.999999);	/* rank, 1-based */
	if (!want)
		want = 1;
	for (i = 0; i < SLUICE_LAT_BUCKETS; i++) {
		cum += lat[i];
		if (cum >= want)
			break;
	}
	if (i >= SLUICE_LAT_BUCKETS)
		i = SLUICE_LAT_BUCKETS - 1;
	sluice_lat_bucket_range(i, &lo, &hi);
	return (lo + hi) / 2;
}

void sluice_health_sub(struct sluice_health *d, const struct sluice_health *a,
		       const struct sluice_health *b)
{
	const __u64 *pa = (const __u64 *)a, *pb = (const __u64 *)b;
	__u64 *pd = (__u64 *)d;
	size_t i;

	for (i = 0; i < sizeof(*d) / sizeof(__u64); i++)
		pd[i] = pa[i] - pb[i];
}

int sluice_health_get(struct sluice *s, __u32 svc_id,
		      struct sluice_health out[SLUICE_VARIANTS])
{
	struct sluice_flow_stats st[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_lat_hist *pc;
	int v, r, c, err;
	unsigned int b;

	if (svc_id >= SLUICE_MAX_SERVICES)
		return sluice_seterr(s, EINVAL, "no service with id %u", svc_id);
	err = sluice_stats_get(s, svc_id, st);
	if (err)
		return sluice_seterr(s, err, "cannot read counters");
	pc = calloc(s->ncpus, sizeof(*pc));
	if (!pc)
		return sluice_seterr(s, ENOMEM, "out of memory");
	memset(out, 0, sizeof(*out) * SLUICE_VARIANTS);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		struct sluice_health *h = &out[v];

		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			__u32 idx = SLUICE_STATS_INDEX(svc_id, v, r);
			__u64 sw = 0;

			h->packets += st[v][r].packets;
			h->new_flows += st[v][r].new_flows;
			h->syn_retrans += st[v][r].syn_retrans;
			h->client_rst += st[v][r].client_rst;
			h->backend_rst += st[v][r].backend_rst;
			h->hs_timeout += st[v][r].hs_timeout;
			if (bpf_map_lookup_elem(s->hs_sweep_fd, &idx, &sw) == 0) {
				h->hs_timeout += sw;
				h->hs_timeout_sweep += sw;
			}
			if (bpf_map_lookup_elem(s->lat_hist_fd, &idx, pc) < 0)
				continue;	/* no handshake timed yet */
			for (c = 0; c < s->ncpus; c++)
				for (b = 0; b < SLUICE_LAT_BUCKETS; b++)
					h->lat[b] += pc[c].b[b];
		}
		for (b = 0; b < SLUICE_LAT_BUCKETS; b++)
			h->hs_samples += h->lat[b];
	}
	free(pc);
	return 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* bpf_ktime_get_ns's clock */
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Did the backend answer this unconfirmed flow at all (SYN-ACK or RST)? */
static bool answered(struct sluice *s, const struct sluice_conn_key *k,
		     const struct sluice_conn *e)
{
	const struct sluice_backend *be;
	struct sluice_conn_key rk;
	struct sluice_nat_rev rv;
	int tbl = sluice_nat_table(s, false);

	if (e->backend_id >= SLUICE_MAX_BACKENDS || tbl < 0)
		return false;
	be = &s->be[e->backend_id];
	memset(&rk, 0, sizeof(rk));
	rk.src = be->addr;
	rk.dst = k->src;
	rk.sport = be->port;
	rk.dport = k->sport;
	rk.proto = k->proto;
	rk.family = k->family;
	if (bpf_map_lookup_elem(tbl, &rk, &rv) < 0)
		return false;
	return rv.flags & (SLUICE_REV_ANSWERED | SLUICE_REV_RST);
}

void sluice_slot_seal(struct sluice_conn_slot *sl)
{
	sl->check = sluice_slot_check(sluice_key_hash(&sl->key), &sl->conn);
}

int sluice_slots_each(struct sluice *s,
		      int (*cb)(struct sluice_conn_slot *sl, __u32 i, void *arg),
		      void *arg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), i;
	struct sluice_conn_slot *sl;
	size_t sz;
	int rc = 0;

	if (bpf_obj_get_info_by_fd(s->conn_new_fd, &info, &len) ||
	    info.value_size != sizeof(*sl))
		return -EINVAL;
	sz = (size_t)info.max_entries * sizeof(*sl);
	sl = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, s->conn_new_fd, 0);
	if (sl == MAP_FAILED)
		return -errno;
	for (i = 0; i < info.max_entries && !rc; i++) {
		struct sluice_conn_slot c = sl[i];	/* the datapath writes on */

		if (!c.key.family ||
		    c.check != sluice_slot_check(sluice_key_hash(&c.key), &c.conn))
			continue;
		rc = cb(&sl[i], i, arg);
	}
	munmap(sl, sz);
	return rc;
}

struct sweep {
	struct sluice *s;
	__u64 now, timeout_ns, expire_ns;
	int n;
	int pending;	/* handshakes that may still time out */
};

static int sweep_slot(struct sluice_conn_slot *sl, __u32 i, void *arg)
{
	struct sweep *w = arg;
	struct sluice_conn e = sl->conn;
	struct sluice_conn_key k = sl->key;

	(void)i;
	if (!(e.flags & SLUICE_CONN_SYN) || !e.created_ns)
		return 0;
	if (e.created_ns > w->now) {	/* stamped on another CPU just now */
		w->pending++;
		return 0;
	}
	if (w->expire_ns && w->now - e.created_ns >= w->expire_ns) {
		sl->key.family = 0;	/* the slot is free */
		return 0;
	}
	if (e.flags & SLUICE_CONN_HS_COUNTED)
		return 0;
	if (w->now - e.created_ns < w->timeout_ns) {
		w->pending++;
		return 0;
	}
	if (answered(w->s, &k, &e))
		return 0;
	/* counted once: the flag goes into the slot, unless a new flow took
	 * it meanwhile (then that flow's entry stays as it is) */
	e.flags |= SLUICE_CONN_HS_COUNTED;
	if (memcmp(&sl->key, &k, sizeof(k)))
		return 0;
	sl->conn.flags = e.flags;
	sluice_slot_seal(sl);
	if (e.svc_id < SLUICE_MAX_SERVICES && e.variant < SLUICE_VARIANTS &&
	    e.ring < SLUICE_MAX_RINGS) {
		__u32 idx = SLUICE_STATS_INDEX(e.svc_id, e.variant, e.ring);
		__u64 c = 0;

		bpf_map_lookup_elem(w->s->hs_sweep_fd, &idx, &c);
		c++;
		bpf_map_update_elem(w->s->hs_sweep_fd, &idx, &c, BPF_ANY);
		w->n++;
	}
	return 0;
}

/* What moves whenever the datapath writes or re-decides a conn_new slot,
 * or touches an unconfirmed flow (the events' per-CPU sums). */
static int conn_new_mark(struct sluice *s, __u64 *mark)
{
	__u64 ev[SLUICE_EV_MAX] = { 0 };
	int err = sluice_events_get(s, ev);

	*mark = ev[SLUICE_EV_CONN_INSERT] + ev[SLUICE_EV_CONN_REDECIDE] +
		ev[SLUICE_EV_CONN_NEW_HIT];
	return err;
}

int sluice_health_sweep(struct sluice *s, __u64 timeout_ns, __u64 expire_ns)
{
	struct sweep w = { .s = s, .timeout_ns = timeout_ns, .expire_ns = expire_ns };
	__u64 mark = 0;
	bool marked;
	int err;

	/* The walk reads the whole table (tens of MB) each time. When the
	 * last one left no handshake that could still time out, and the
	 * datapath has not touched the table since, it would find nothing. */
	marked = !expire_ns && conn_new_mark(s, &mark) == 0;
	if (marked && s->sweep_idle && mark == s->sweep_mark)
		return 0;
	err = sluice_lock(s);
	if (err)
		return err;
	w.now = mono_ns();
	err = sluice_slots_each(s, sweep_slot, &w);
	sluice_unlock(s);
	s->sweep_idle = marked && err >= 0 && !w.pending;
	s->sweep_mark = mark;
	return err < 0 ? err : w.n;
}
