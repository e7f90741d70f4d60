// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The maps -> struct eng_obs for one service, cheaply (sluiced reads every
 * rollout's service each second): libsluice's service view (mmapped
 * metadata and exposure, the configuration cached per generation) and its
 * batched counters. Nothing is written.
 */
#include <string.h>
#include <stdlib.h>
#include "sluiced.h"
#include "external_gates.h"

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
bool plan_needs_latency(const struct sluice_plan *p)
{
	unsigned int i;

	for (i = 0; p && i < p->ngates; i++)
		if (p->gates[i].metric == SLUICE_METRIC_LATENCY_P95 ||
		    p->gates[i].metric == SLUICE_METRIC_LATENCY_P99)
			return true;
	return false;
}

/* ---- the 100 ms look ----------------------------------------------------
 *
 * A rollout with a gate judged against the baseline ticks every loop
 * round (100 ms) so a burst of canary failures is caught before the
 * gate's interval (gate_burst). Most of those ticks see nothing new. A
 * look asks the engine whether the tick has anything due by time
 * (eng_tick_quiet) and compares what a full tick would read with what the
 * last one read: the service's stamp (configuration generation, weights,
 * last-known-good: mmapped, no syscall), the canary's counters summed (one
 * lookup; a burst needs new canary events), the kill words (one batch per
 * round for every rollout), the rings in use and the handshake sweep. All
 * equal: the tick is skipped, and the engine gets exactly the
 * observations it got before, only not the repeats of an unchanged one.
 * A full tick still runs at least once a second (the status text, the
 * per-minute sample), as for a rollout without such a gate.
 */
struct look_round {
	bool valid;		/* words[] read in this round */
	__u32 n, all;
	__u32 words[SLUICE_MAX_SERVICES];
	unsigned int sweeps;	/* handshake sweeps that counted something */
};

static __u64 canary_sum(const struct eng_obs *obs)
{
	const __u64 *p = (const __u64 *)obs->fs[SLUICE_CANARY];
	__u64 sum = 0;
	size_t i;

	for (i = 0; i < SLUICE_MAX_RINGS * sizeof(struct sluice_flow_stats) / sizeof(__u64); i++)
		sum += p[i];
	return sum;
}

static struct look_round *look_round(struct daemon *d)
{
	if (!d->look)
		d->look = calloc(1, sizeof(*d->look));
	return d->look;
}

static void look_record(struct daemon *d, struct rollout *r, const struct eng_obs *obs,
			unsigned int rings)
{
	r->look.valid = sluice_service_stamp(d->s, obs->svc_id, r->service,
					     &r->look.stamp) == 0;
	r->look.rings = rings;
	r->look.kill = obs->kill;
	r->look.canary = canary_sum(obs);
	r->look.sweeps = look_round(d) ? d->look->sweeps : 0;
}

/* The kill words of every rollout's service, once per round. */
static bool round_kill(struct daemon *d)
{
	struct look_round *L = look_round(d);
	unsigned int i;

	if (!L || !d->in_round)
		return false;
	if (L->valid)
		return true;
	L->n = 0;
	for (i = 0; i < d->nro; i++)
		if (d->ro[i]->svc_id < SLUICE_MAX_SERVICES && d->ro[i]->svc_id >= L->n)
			L->n = d->ro[i]->svc_id + 1;
	L->valid = sluice_kill_words(d->s, L->n, L->words, &L->all) == 0;
	return L->valid;
}

bool sample_quiet(struct daemon *d, struct rollout *r, __u64 now)
{
	struct look_round *L = look_round(d);
	__u64 stamp, sum;

	if (!L || !r->look.valid || !r->resolved || !d->s || !d->in_round || now - r->look.full_ms >= SLUICED_INTERVAL_MS ||
	    now / 60000 != r->sample_minute || plan_needs_latency(r->plan) ||
	    extgate_plan_uses(r->plan) || r->svc_id >= SLUICE_MAX_SERVICES)
		return false;
	budget_env(d, r->service, &d->env.service);
	if (!eng_tick_quiet(r->plan, &r->st, &d->env, r->interval_ms, now))
		return false;
	if (r->look.rings != d->round_rings || r->look.sweeps != L->sweeps ||
	    sluice_service_stamp(d->s, r->svc_id, r->service, &stamp) || stamp != r->look.stamp)
		return false;
	if (!round_kill(d) || r->svc_id >= L->n ||
	    (L->words[r->svc_id] | L->all) != r->look.kill)
		return false;
	if (sluice_counters_sum(d->s, r->svc_id, SLUICE_CANARY, d->round_rings, &sum))
		return false;
	return sum == r->look.canary;
}

/*
 * After a quiet look (sample_quiet: nothing moved, not even one packet of
 * the canary), the look after two quiet ones comes 200 ms later, then 400,
 * then 800, never past the next full tick (a second after the last), and
 * only over looks that would have found nothing due: a hold's end, a
 * gate's interval (eng_tick_quiet is monotone in time: once due, due), so
 * the look that sees it is the one a 100 ms tick would have made. A full
 * tick that finds the canary's counters unchanged keeps the streak
 * (tick_one). A canary with traffic keeps its looks 100 ms apart, so a
 * burst of bad events is still judged within a look; an idle one is
 * looked at about twice a second instead of ten times.
 */
void sample_back_off(struct daemon *d, struct rollout *r)
{
	unsigned int k;

	if (r->look.quiet < 8)
		r->look.quiet++;
	k = r->look.quiet >= 4 ? 8 : r->look.quiet >= 3 ? 4 : r->look.quiet >= 2 ? 2 : 1;
	for (; k > 1; k /= 2) {
		__u64 at = r->next_ms + (k - 1) * r->interval_ms;

		/* the looks skipped, up to at - interval, would find nothing due */
		if (at <= r->look.full_ms + SLUICED_INTERVAL_MS &&
		    eng_tick_quiet(r->plan, &r->st, &d->env, r->interval_ms, at - r->interval_ms)) {
			r->next_ms = at;
			return;
		}
	}
}

void sample_round_end(struct daemon *d)
{
	if (d->look)
		d->look->valid = false;
}

void sample_free(struct daemon *d)
{
	free(d->look);
	d->look = NULL;
}

int sample_fill(struct daemon *d, struct rollout *r, struct eng_obs *obs)
{
	struct sluice_service_view v = { .id = r->svc_id };
	unsigned int rings = 1;
	int err, i;

	memset(obs, 0, sizeof(*obs));
	if (!d->s)
		return -ENODEV;
	if (round_kill(d))	/* in a round: its kill words, no syscall */
		err = sluice_service_view_kill(d->s, r->service, &v, d->look->words,
					       d->look->n, d->look->all);
	else
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
	look_record(d, r, obs, rings);
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
				/* what it counts is in no flow counter: the next
				 * look of every rollout is a full tick */
				if (sluice_health_sweep(d->s, SLUICE_HS_TIMEOUT_NS, 0) > 0 &&
				    look_round(d))
					d->look->sweeps++;
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
