// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The maps -> struct eng_obs for one service, cheaply (sluiced reads every
 * rollout's service each second): libsluice's service view (mmapped
 * metadata and exposure, the configuration cached per generation) and its
 * batched counters. Nothing is written.
 */
#include <string.h>
#include "sluiced.h"

/* Active and down backends per pool, and the canary's identity, read from
 * the records once per configuration generation. */
static int pool_health(struct daemon *d, struct rollout *r, __u32 gen)
{
	struct sluice_service_spec *sp;
	unsigned int i;
	int v, err;

	if (r->health_valid && r->health_gen == gen)
		return 0;
	sp = sluice_spec_new();
	if (!sp)
		return -ENOMEM;
	err = sluice_service_get(d->s, r->service, sp);
	if (!err) {
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			r->nactive[v] = r->ndown[v] = 0;
			for (i = 0; i < sp->pool[v].n; i++) {
				r->nactive[v] += !sp->pool[v].be[i].draining;
				r->ndown[v] += !sp->pool[v].be[i].draining && sp->pool[v].be[i].down;
			}
		}
		r->canary_id = sluice_pool_identity(&sp->pool[SLUICE_CANARY], NULL);
		/* a publish between the view and this read: read again next time */
		r->health_gen = sp->gen;
		r->health_valid = sp->gen == gen;
	}
	sluice_spec_free(sp);
	return err;
}

/* Handshake-latency histograms are per-CPU arrays of many buckets, the
 * dearest read of a sample: only plans with a latency gate need them. */
static bool plan_needs_latency(const struct sluice_plan *p)
{
	unsigned int i;

	for (i = 0; p && i < p->ngates; i++)
		if (p->gates[i].metric == SLUICE_METRIC_LATENCY_P95 ||
		    p->gates[i].metric == SLUICE_METRIC_LATENCY_P99)
			return true;
	return false;
}

int sample_fill(struct daemon *d, struct rollout *r, struct eng_obs *obs)
{
	struct sluice_service_view v = { .id = r->svc_id };
	unsigned int rings = 1;
	int err, i;

	memset(obs, 0, sizeof(*obs));
	if (!d->s)
		return -ENODEV;
	err = sluice_service_view(d->s, r->service, &v);
	if (err)
		return err;	/* exists stays false: gates error, never pass */
	r->svc_id = v.id;
	if (d->in_round)
		rings = d->round_rings;
	else
		sluice_rings_in_use(d->s, &rings);
	err = sluice_counters_get(d->s, v.id, v.mode == SLUICE_MODE_NAT,
				  rings | (plan_needs_latency(r->plan) ? 0 :
					   SLUICE_COUNTERS_NO_LAT),
				  obs->fs, obs->health);
	if (!err)
		err = pool_health(d, r, v.gen);
	if (err)
		return err;
	obs->exists = true;
	obs->svc_id = v.id;
	obs->gen = v.gen;
	obs->tick_ms = r->interval_ms;
	obs->mode = v.mode;
	obs->affinity = v.affinity;
	obs->lkg = v.lkg;
	obs->kill = v.kill | v.kill_all;
	obs->kill_global = v.kill_all;
	memcpy(obs->weight, v.weight, sizeof(obs->weight));
	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		obs->ring_in_use[i] = rings & (1u << i);
	memcpy(obs->nbackends, v.nbackends, sizeof(obs->nbackends));
	memcpy(obs->nactive, r->nactive, sizeof(obs->nactive));
	memcpy(obs->ndown, r->ndown, sizeof(obs->ndown));
	obs->canary_id = r->canary_id;
	return 0;
}

/* NAT handshakes whose client gave up without retransmitting are found
 * only by walking the unconfirmed table: once per loop round, when a
 * rollout of a NAT service is active. */
void sample_sweep(struct daemon *d)
{
	unsigned int i;

	if (!d->s)
		return;
	for (i = 0; i < d->nro; i++)
		if (d->ro[i]->st.phase != ENG_NONE && !eng_terminal(d->ro[i]->st.phase)) {
			struct sluice_service_view v = { .id = d->ro[i]->svc_id };

			if (sluice_service_view(d->s, d->ro[i]->service, &v) == 0 &&
			    v.mode == SLUICE_MODE_NAT) {
				sluice_health_sweep(d->s, SLUICE_HS_TIMEOUT_NS, 0);
				return;
			}
		}
}

void sample_totals(const struct eng_obs *obs, __u64 new_flows[2], __u64 bad[2])
{
	int v, r;

	for (v = 0; v < SLUICE_VARIANTS; v++) {
		new_flows[v] = bad[v] = 0;
		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			const struct sluice_flow_stats *f = &obs->fs[v][r];

			new_flows[v] += f->new_flows;
			bad[v] += f->client_rst;
			if (obs->mode == SLUICE_MODE_NAT)
				bad[v] += f->backend_rst + f->hs_timeout;
			else
				bad[v] += f->syn_retrans;
		}
		if (obs->mode == SLUICE_MODE_NAT)
			bad[v] += obs->health[v].hs_timeout_sweep;
	}
}
