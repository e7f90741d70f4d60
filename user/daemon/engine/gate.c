// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Gate evaluation (gate.h). Each kind reduces the observation to samples n
 * and bad events x per variant and ring; the increment since the previous
 * evaluation feeds the gate's sequential test stratum by stratum; the
 * verdict follows from the test, the absolute threshold and min_samples.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gate.h"

const char *gate_outcome_name(enum gate_outcome o)
{
	static const char *const n[] = { "none", "pass", "fail", "inconclusive",
					 "error" };

	return (unsigned int)o < 5 ? n[o] : "?";
}

static bool is_latency(const struct sluice_plan_gate *g)
{
	return g->metric == SLUICE_METRIC_LATENCY_P95 ||
	       g->metric == SLUICE_METRIC_LATENCY_P99;
}

static bool is_external(const struct sluice_plan_gate *g)
{
	return g->metric >= SLUICE_METRIC_EXT_PROMETHEUS &&
	       g->metric < SLUICE_METRICS;
}

__u32 gate_signals(const struct sluice_plan_gate *g, __u8 mode)
{
	if (g->signals)
		return g->signals;
	return mode == SLUICE_MODE_NAT ? SLUICE_SIG_DEFAULT_NAT : SLUICE_SIG_DEFAULT_L3;
}

int gate_state_init(const struct sluice_plan_gate *g, struct gate_state *gs)
{
	double alpha = 1 - g->confidence;
	bool srm = g->metric == SLUICE_METRIC_NEW_FLOW_RATIO;
	/* latency: the margin is in the threshold T; absolute-only: 0 */
	double d = srm || is_latency(g) ? 0 : g->max_increase;

	memset(gs, 0, sizeof(*gs));
	if ((unsigned int)g->metric >= SLUICE_METRICS)
		return -EINVAL;
	return seq_init(&gs->seq, d, alpha, srm);
}

/* ---- reducing an observation to (n, x) ---------------------------------- */

struct incr {
	__u64 n[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	__u64 x[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
};

static __u64 lat_sum(const __u64 *lat)
{
	__u64 n = 0;
	unsigned int i;

	for (i = 0; i < SLUICE_LAT_BUCKETS; i++)
		n += lat[i];
	return n;
}

/* Handshakes in buckets that start at or above t_us. */
static __u64 lat_above(const __u64 *lat, double t_us)
{
	double lo, hi;
	__u64 n = 0;
	unsigned int i;

	for (i = 0; i < SLUICE_LAT_BUCKETS; i++) {
		sluice_lat_bucket_range(i, &lo, &hi);
		if (lo >= t_us)
			n += lat[i];
	}
	return n;
}

static __u64 bad_events(const struct sluice_flow_stats *f, __u32 sig)
{
	return (sig & SLUICE_SIG_SYN_RETRANS ? f->syn_retrans : 0) +
	       (sig & SLUICE_SIG_CLIENT_RST ? f->client_rst : 0) +
	       (sig & SLUICE_SIG_BACKEND_RST ? f->backend_rst : 0) +
	       (sig & SLUICE_SIG_HS_TIMEOUT ? f->hs_timeout : 0);
}

/* Cumulative (n, x) of every variant and ring as this gate counts them. */
static void reduce(const struct sluice_plan_gate *g, const struct gate_state *gs,
		   const struct eng_obs *obs, __u8 mode,
		   __u64 n[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		   __u64 x[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	__u32 sig = gate_signals(g, mode);
	int v, r;

	memset(n, 0, sizeof(__u64) * SLUICE_VARIANTS * SLUICE_MAX_RINGS);
	memset(x, 0, sizeof(__u64) * SLUICE_VARIANTS * SLUICE_MAX_RINGS);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		if (is_latency(g)) {
			n[v][0] = lat_sum(obs->health[v].lat);
			x[v][0] = gs->lat_threshold_us > 0 ?
				  lat_above(obs->health[v].lat, gs->lat_threshold_us) : 0;
			continue;
		}
		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			n[v][r] = obs->fs[v][r].new_flows;
			x[v][r] = bad_events(&obs->fs[v][r], sig);
		}
	}
}

/* The latency threshold T from the baseline's quantile before the step. */
static void set_lat_threshold(const struct sluice_plan_gate *g, struct gate_state *gs,
			      const struct gate_ctx *ctx, const struct eng_obs *obs)
{
	double pct = g->metric == SLUICE_METRIC_LATENCY_P95 ? 95 : 99;
	const __u64 *base = obs->health[SLUICE_BASELINE].lat;
	double q, t, lo, hi;
	unsigned int i;

	if (ctx->base_lat_before && lat_sum(ctx->base_lat_before) >= 100)
		base = ctx->base_lat_before;
	q = sluice_lat_percentile(base, pct);
	if (q < 0)
		return;		/* no baseline handshakes yet: try again later */
	t = q * (1 + g->max_increase);
	if (g->has_max_increase_abs && q + g->max_increase_abs * 1000 > t)
		t = q + g->max_increase_abs * 1000;
	for (i = 0; i < SLUICE_LAT_BUCKETS; i++) {
		sluice_lat_bucket_range(i, &lo, &hi);
		if (lo >= t)
			break;
	}
	if (i == SLUICE_LAT_BUCKETS)
		return;
	gs->lat_threshold_us = lo;
	gs->seq_on = true;
}

static void take_snapshot(const struct sluice_plan_gate *g, struct gate_state *gs,
			  const struct gate_ctx *ctx, const struct eng_obs *obs)
{
	reduce(g, gs, obs, ctx->mode, gs->snap_n, gs->snap_x);
	gs->snap_valid = true;
}

static void difference(struct gate_state *gs, __u64 cn[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		       __u64 cx[SLUICE_VARIANTS][SLUICE_MAX_RINGS], struct incr *d,
		       bool *rebased);
static void share_floor(const struct gate_ctx *ctx, bool partial, bool first,
			double floor[SLUICE_MAX_RINGS]);
static void feed_compare(struct gate_state *gs, const struct incr *d,
			 const double floor[SLUICE_MAX_RINGS]);

/* A comparison gate on datapath counters with its test running. */
static bool compares(const struct sluice_plan_gate *g, const struct gate_state *gs)
{
	return gate_bursty(g) && gs->seq_on;
}

void gate_step_begin(const struct sluice_plan_gate *g, struct gate_state *gs,
		     const struct gate_ctx *ctx, const struct eng_obs *obs)
{
	/* split at the weight change: what came since the previous
	 * evaluation was routed under the weights in force until now
	 * (obs->weight); it goes to the test, not to the new step. (A step
	 * that ends before its first increment was counted leaves it out:
	 * that one holds a third set of weights.) */
	if (obs->exists && gs->snap_valid && !gs->first_incr && compares(g, gs)) {
		__u64 cn[SLUICE_VARIANTS][SLUICE_MAX_RINGS], cx[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
		struct gate_ctx live = *ctx;
		double floor[SLUICE_MAX_RINGS];
		struct incr d;
		bool rebased;

		live.weight = obs->weight;
		reduce(g, gs, obs, ctx->mode, cn, cx);
		difference(gs, cn, cx, &d, &rebased);
		share_floor(&live, true, false, floor);
		feed_compare(gs, &d, floor);
	}
	memset(gs->step_n, 0, sizeof(gs->step_n));
	memset(gs->step_x, 0, sizeof(gs->step_x));
	gs->fails = 0;
	gs->errors = 0;
	gs->last.outcome = GATE_NONE;
	gs->first_incr = true;
	if (!is_latency(g) && !is_external(g))
		gs->seq_on = true;
	if (is_latency(g)) {
		gs->lat_threshold_us = 0;
		gs->seq_on = false;
		if (obs->exists)
			set_lat_threshold(g, gs, ctx, obs);
	}
	if (obs->exists && !is_external(g))
		take_snapshot(g, gs, ctx, obs);
	else
		gs->snap_valid = false;
}

static bool due_at(const struct sluice_plan_gate *g, const struct gate_state *gs,
		   __u64 tick_ms, __u64 now_ms)
{
	__u64 slack = gate_due_slack(g->interval_ms);

	if (!gs->last_eval_ms)
		return true;
	if (now_ms < gs->last_eval_ms)		/* clock stepped back */
		return false;
	/* the shell's ticks come up to one loop period late, so the tick an
	 * interval after this evaluation may fall a hair short of it: a tenth
	 * of the interval (at most 100 ms) counts as on time, or the gate
	 * would skip to the tick after (measured: 1 evaluation in 4). Ticks
	 * finer than that (100 ms, gate_bursty): half a tick, or the tick
	 * before the interval would count */
	if (tick_ms && tick_ms / 2 < slack)
		slack = tick_ms / 2;
	return now_ms - gs->last_eval_ms + slack >= g->interval_ms;
}

bool gate_due(const struct sluice_plan_gate *g, const struct gate_state *gs,
	      const struct eng_obs *obs, __u64 now_ms)
{
	return due_at(g, gs, obs->tick_ms, now_ms);
}

bool gate_quiet(const struct sluice_plan_gate *g, const struct gate_state *gs,
		__u64 tick_ms, __u64 now_ms)
{
	if (is_external(g) || is_latency(g) || due_at(g, gs, tick_ms, now_ms))
		return false;
	/* a rejection not yet said (a step's split) is said at once */
	return !(compares(g, gs) && gs->seq.rejected && gs->last.outcome != GATE_FAIL);
}

bool gate_bursty(const struct sluice_plan_gate *g)
{
	return g->compare_baseline && !is_external(g) &&
	       g->metric != SLUICE_METRIC_NEW_FLOW_RATIO;
}

/* ---- the increment and the test ----------------------------------------- */

/* cur - snap per (variant, ring); a pair that went backwards (maps
 * recreated) contributes nothing this time and is rebased. */
static void difference(struct gate_state *gs, __u64 cn[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		       __u64 cx[SLUICE_VARIANTS][SLUICE_MAX_RINGS], struct incr *d,
		       bool *rebased)
{
	int v, r;

	*rebased = false;
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			if (!gs->snap_valid || cn[v][r] < gs->snap_n[v][r] ||
			    cx[v][r] < gs->snap_x[v][r]) {
				d->n[v][r] = d->x[v][r] = 0;
				*rebased |= gs->snap_valid;
			} else {
				d->n[v][r] = cn[v][r] - gs->snap_n[v][r];
				d->x[v][r] = cx[v][r] - gs->snap_x[v][r];
			}
			gs->snap_n[v][r] = cn[v][r];
			gs->snap_x[v][r] = cx[v][r];
		}
	gs->snap_valid = true;
}

/* A configured canary share that measures exposure (0 or 100 %: none). */
static double wshare(const __u16 *w, int r)
{
	return w && w[r] > 0 && w[r] < SLUICE_BUCKETS ? w[r] / (double)SLUICE_BUCKETS : 0;
}

/*
 * Each ring's least exposure share for this increment, 0 for none
 * (gate.h): the configured weights in force where the increment is
 * partial (before the interval) or the step's first.
 */
static void share_floor(const struct gate_ctx *ctx, bool partial, bool first,
			double floor[SLUICE_MAX_RINGS])
{
	int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		double w = partial || first ? wshare(ctx->weight, r) : 0,
		       p = first ? wshare(ctx->prev_weight, r) : 0;

		floor[r] = w > p ? w : p;
	}
}

/*
 * Feed a comparison increment: a ring with a share floor and traffic is a
 * stratum of its own, its share at least the floor; other rings with
 * traffic on both sides are one stratum each; canary-only rings pooled
 * against baseline-only rings; with no baseline-only ring but a
 * canary-only one, all rings pool into one.
 */
static void feed_compare(struct gate_state *gs, const struct incr *d,
			 const double floor[SLUICE_MAX_RINGS])
{
	__u64 cn = 0, cx = 0, bn = 0, bx = 0, an[2] = {}, ax[2] = {};
	bool canary_only = false, base_only = false;
	int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		__u64 nc = d->n[SLUICE_CANARY][r], nb = d->n[SLUICE_BASELINE][r];
		double rho;

		if (floor[r] > 0 && nc + nb) {
			rho = (double)nc / (double)(nc + nb);
			seq_update(&gs->seq, d->x[SLUICE_CANARY][r], d->x[SLUICE_BASELINE][r],
				   rho > floor[r] ? rho : floor[r]);
			continue;
		}
		an[0] += nb;
		an[1] += nc;
		ax[0] += d->x[SLUICE_BASELINE][r];
		ax[1] += d->x[SLUICE_CANARY][r];
		if (nc && !nb) {
			canary_only = true;
			cn += nc;
			cx += d->x[SLUICE_CANARY][r];
		} else if (nb && !nc) {
			base_only = true;
			bn += nb;
			bx += d->x[SLUICE_BASELINE][r];
		}
	}
	if (canary_only && !base_only) {
		if (an[0] && an[1])
			seq_update(&gs->seq, ax[1], ax[0],
				   (double)an[1] / (double)(an[0] + an[1]));
		return;
	}
	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		__u64 nc = d->n[SLUICE_CANARY][r], nb = d->n[SLUICE_BASELINE][r];

		if (nc && nb && !floor[r])
			seq_update(&gs->seq, d->x[SLUICE_CANARY][r],
				   d->x[SLUICE_BASELINE][r],
				   (double)nc / (double)(nc + nb));
	}
	if (canary_only)
		seq_update(&gs->seq, cx, bx, (double)cn / (double)(cn + bn));
}

/* Sample ratio: canary new flows per ring against the configured share. */
static void feed_ratio(struct gate_state *gs, const struct incr *d, const __u16 *w)
{
	int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		if (w && w[r] > 0 && w[r] < SLUICE_BUCKETS)
			seq_update(&gs->seq, d->n[SLUICE_CANARY][r],
				   d->n[SLUICE_BASELINE][r], w[r] / (double)SLUICE_BUCKETS);
}

static double ratio(__u64 x, __u64 n)
{
	return n ? (double)x / (double)n : 0;
}

static enum gate_outcome finish(const struct sluice_plan_gate *g, struct gate_state *gs,
				struct gate_eval *ev, enum gate_outcome o, __u64 now_ms)
{
	ev->outcome = o;
	if (o == GATE_FAIL)
		gs->fails++;
	if (o == GATE_ERROR)
		gs->errors++;
	else
		gs->errors = 0;
	ev->fails = gs->fails;
	ev->errors = gs->errors;
	ev->min_samples = g->min_samples;
	gs->last_eval_ms = now_ms;
	gs->last = *ev;
	return o;
}

static enum gate_outcome eval_external(const struct sluice_plan_gate *g,
				       struct gate_state *gs, const struct gate_ctx *ctx,
				       const struct eng_obs *obs, __u64 now_ms,
				       struct gate_eval *ev)
{
	const struct eng_ext *e = &obs->ext[ctx->index];
	double lim;

	if (e->status == ENG_EXT_NONE || e->seq == gs->ext_seq) {
		/* nothing new: repeat the verdict (none yet: inconclusive) */
		*ev = gs->last;
		if (ev->outcome == GATE_NONE) {
			ev->outcome = GATE_INCONCLUSIVE;
			snprintf(ev->reason, sizeof(ev->reason), "no measurement yet");
		}
		return ev->outcome;
	}
	gs->ext_seq = e->seq;
	if (e->status == ENG_EXT_ERROR || !isfinite(e->canary) ||
	    (g->compare_baseline && e->verdict == ENG_EXT_VALUE && !isfinite(e->baseline))) {
		snprintf(ev->reason, sizeof(ev->reason), "measurement failed: %s",
			 e->status == ENG_EXT_ERROR ? e->reason : "not a number");
		return finish(g, gs, ev, GATE_ERROR, now_ms);
	}
	gs->step_n[SLUICE_CANARY] += e->samples_c;
	gs->step_n[SLUICE_BASELINE] += e->samples_b;
	ev->samples_c = gs->step_n[SLUICE_CANARY];
	ev->samples_b = gs->step_n[SLUICE_BASELINE];
	ev->canary = e->canary;
	ev->baseline = e->baseline;
	if (e->verdict != ENG_EXT_VALUE) {
		/* judged by the shell: a command's exit status, burn-rate rules */
		snprintf(ev->reason, sizeof(ev->reason), "%s", e->reason);
		return finish(g, gs, ev, e->verdict == ENG_EXT_PASS ? GATE_PASS :
					 e->verdict == ENG_EXT_FAIL ? GATE_FAIL :
					 GATE_INCONCLUSIVE, now_ms);
	}
	if (g->compare_baseline) {
		/* the margin is relative to the baseline's magnitude: the
		 * limit lies above the baseline for values of either sign
		 * (-1 with 20 %: -0.8, not -1.2) */
		lim = e->baseline + fabs(e->baseline) * g->max_increase +
		      (g->has_max_increase_abs ? g->max_increase_abs : 0);
		ev->threshold = lim;
		if (e->canary > lim) {
			snprintf(ev->reason, sizeof(ev->reason),
				 "canary %g above baseline %g beyond the margins (limit %g)",
				 e->canary, e->baseline, lim);
			return finish(g, gs, ev, GATE_FAIL, now_ms);
		}
	}
	if (g->has_max && e->canary > g->max) {
		ev->threshold = g->max;
		snprintf(ev->reason, sizeof(ev->reason), "canary %g above max %g",
			 e->canary, g->max);
		return finish(g, gs, ev, GATE_FAIL, now_ms);
	}
	if (ev->samples_c < g->min_samples) {
		snprintf(ev->reason, sizeof(ev->reason), "%llu of %llu samples",
			 (unsigned long long)ev->samples_c,
			 (unsigned long long)g->min_samples);
		return finish(g, gs, ev, GATE_INCONCLUSIVE, now_ms);
	}
	snprintf(ev->reason, sizeof(ev->reason), "canary %g, baseline %g: within the margins",
		 e->canary, e->baseline);
	return finish(g, gs, ev, GATE_PASS, now_ms);
}

/* Canary's quantile over the step, in milliseconds; -1 without samples. */
static double step_quantile_ms(const struct sluice_plan_gate *g, const struct gate_ctx *ctx,
			       const struct eng_obs *obs, int v)
{
	__u64 d[SLUICE_LAT_BUCKETS];
	const __u64 *start = ctx->lat_step_start[v];
	unsigned int i;
	double q;

	for (i = 0; i < SLUICE_LAT_BUCKETS; i++)
		d[i] = start && obs->health[v].lat[i] >= start[i] ?
		       obs->health[v].lat[i] - start[i] : start ? 0 : obs->health[v].lat[i];
	q = sluice_lat_percentile(d, g->metric == SLUICE_METRIC_LATENCY_P95 ? 95 : 99);
	return q < 0 ? -1 : q / 1000;
}

/* gate_evaluate; partial: before the interval is due (gate_burst) */
static enum gate_outcome evaluate(const struct sluice_plan_gate *g, struct gate_state *gs,
				  const struct gate_ctx *ctx, const struct eng_obs *obs,
				  __u64 now_ms, struct gate_eval *ev, bool partial)
{
	__u64 cn[SLUICE_VARIANTS][SLUICE_MAX_RINGS], cx[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	bool srm = g->metric == SLUICE_METRIC_NEW_FLOW_RATIO, rebased, first;
	double floor[SLUICE_MAX_RINGS];
	const char *unit = is_latency(g) ? "slow-handshake ratio" :
			   srm ? "canary share of new flows" : "error ratio";
	struct incr d;
	double rc, rb, lim;
	int v, r;

	memset(ev, 0, sizeof(*ev));
	ev->stat_limit = seq_threshold(&gs->seq);
	if (!obs->exists) {
		snprintf(ev->reason, sizeof(ev->reason), "the service does not exist");
		return finish(g, gs, ev, GATE_ERROR, now_ms);
	}
	if (is_external(g))
		return eval_external(g, gs, ctx, obs, now_ms, ev);
	if (is_latency(g) && ctx->mode != SLUICE_MODE_NAT) {
		snprintf(ev->reason, sizeof(ev->reason),
			 "handshake latency is measured in nat mode only");
		return finish(g, gs, ev, GATE_ERROR, now_ms);
	}
	if (is_latency(g) && !gs->seq_on) {
		set_lat_threshold(g, gs, ctx, obs);
		if (gs->seq_on)
			gs->snap_valid = false;	/* x counts from T on */
	}
	reduce(g, gs, obs, ctx->mode, cn, cx);
	difference(gs, cn, cx, &d, &rebased);
	first = gs->first_incr;
	gs->first_incr = false;
	if (first && (srm || !ctx->prev_weight))
		memset(&d, 0, sizeof(d));	/* rebase only (gate.h) */
	share_floor(ctx, partial, first, floor);
	if (!(is_latency(g) && !gs->seq_on)) {
		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				gs->step_n[v] += d.n[v][r];
				gs->step_x[v] += d.x[v][r];
			}
		if (srm)
			feed_ratio(gs, &d, ctx->weight);
		else if (gs->seq_on && g->compare_baseline)
			feed_compare(gs, &d, floor);
	}
	ev->samples_c = gs->step_n[SLUICE_CANARY];
	ev->samples_b = gs->step_n[SLUICE_BASELINE];
	ev->bad_c = srm ? 0 : gs->step_x[SLUICE_CANARY];
	ev->bad_b = srm ? 0 : gs->step_x[SLUICE_BASELINE];
	ev->stat = gs->seq.log_m;
	if (srm) {
		rc = ratio(ev->samples_c, ev->samples_c + ev->samples_b);
		ev->canary = rc;
		ev->baseline = 0;
		for (r = 0; r < SLUICE_MAX_RINGS; r++)	/* expected: largest ring share */
			if (ctx->weight && ctx->weight[r] / (double)SLUICE_BUCKETS > ev->baseline &&
			    ctx->weight[r] < SLUICE_BUCKETS)
				ev->baseline = ctx->weight[r] / (double)SLUICE_BUCKETS;
		if (gs->seq.rejected) {
			snprintf(ev->reason, sizeof(ev->reason),
				 "new flows do not split as configured: canary share %.4f vs weight %.4f (log M %.2f >= %.2f)",
				 rc, ev->baseline, ev->stat, ev->stat_limit);
			return finish(g, gs, ev, GATE_FAIL, now_ms);
		}
	} else {
		if (is_latency(g) && !gs->seq_on) {
			snprintf(ev->reason, sizeof(ev->reason),
				 "no baseline handshakes yet to set the latency threshold");
			return finish(g, gs, ev, GATE_INCONCLUSIVE, now_ms);
		}
		rc = ratio(ev->bad_c, ev->samples_c);
		rb = ratio(ev->bad_b, ev->samples_b);
		ev->canary = rc;
		ev->baseline = rb;
		lim = rb * (1 + g->max_increase) +
		      (g->has_max_increase_abs && !is_latency(g) ? g->max_increase_abs : 0);
		ev->threshold = g->compare_baseline ? lim : 0;
		if (g->compare_baseline && gs->seq.rejected &&
		    (!g->has_max_increase_abs || is_latency(g) ||
		     rc - rb > g->max_increase_abs)) {
			char t[48] = "", early[64] = "";

			if (partial)
				snprintf(early, sizeof(early), " (early, a burst: above %.2f)",
					 ev->stat_limit + GATE_BURST_MARGIN);
			if (is_latency(g))
				snprintf(t, sizeof(t), " (slow: above %.0f us)",
					 gs->lat_threshold_us);
			snprintf(ev->reason, sizeof(ev->reason),
				 "canary %s %.5f (%llu/%llu) vs baseline %.5f (%llu/%llu)%s: log M %.2f >= %.2f%s",
				 unit, rc, (unsigned long long)ev->bad_c,
				 (unsigned long long)ev->samples_c, rb,
				 (unsigned long long)ev->bad_b,
				 (unsigned long long)ev->samples_b, t, ev->stat,
				 ev->stat_limit, early);
			return finish(g, gs, ev, GATE_FAIL, now_ms);
		}
		if (g->has_max && ev->samples_c >= g->min_samples) {
			double val = is_latency(g) ? step_quantile_ms(g, ctx, obs, SLUICE_CANARY) : rc;

			if (val > g->max) {
				ev->threshold = g->max;
				snprintf(ev->reason, sizeof(ev->reason),
					 "canary %s %.5g over the step is above max %.5g",
					 is_latency(g) ? "latency (ms)" : unit, val, g->max);
				return finish(g, gs, ev, GATE_FAIL, now_ms);
			}
		}
	}
	if (ev->samples_c < g->min_samples) {
		snprintf(ev->reason, sizeof(ev->reason), "%llu of %llu canary samples in this step%s",
			 (unsigned long long)ev->samples_c, (unsigned long long)g->min_samples,
			 rebased ? " (counters were reset: rebased)" : "");
		return finish(g, gs, ev, GATE_INCONCLUSIVE, now_ms);
	}
	snprintf(ev->reason, sizeof(ev->reason),
		 "canary %s %.5f vs baseline %.5f: no evidence beyond the margins (log M %.2f < %.2f)",
		 unit, ev->canary, ev->baseline, ev->stat, ev->stat_limit);
	return finish(g, gs, ev, GATE_PASS, now_ms);
}

enum gate_outcome gate_evaluate(const struct sluice_plan_gate *g,
				struct gate_state *gs,
				const struct gate_ctx *ctx,
				const struct eng_obs *obs, __u64 now_ms,
				struct gate_eval *ev)
{
	return evaluate(g, gs, ctx, obs, now_ms, ev,
			gs->last_eval_ms && !gate_due(g, gs, obs, now_ms));
}

bool gate_burst(const struct sluice_plan_gate *g, const struct gate_state *gs,
		const struct gate_ctx *ctx, const struct eng_obs *obs, __u64 now_ms)
{
	__u64 cn[SLUICE_VARIANTS][SLUICE_MAX_RINGS], cx[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct gate_state t;
	struct gate_eval ev;
	bool news = false;
	int r;

	if (!compares(g, gs) || !obs->exists || !gs->last_eval_ms ||
	    gate_due(g, gs, obs, now_ms))
		return false;
	if (gs->seq.rejected)		/* and not yet said (a step's split) */
		return gs->last.outcome != GATE_FAIL;
	if (!gs->snap_valid)
		return false;
	/* cheap first: no new canary bad event, no burst */
	reduce(g, gs, obs, ctx->mode, cn, cx);
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		news |= cx[SLUICE_CANARY][r] > gs->snap_x[SLUICE_CANARY][r];
	if (!news)
		return false;
	t = *gs;
	return evaluate(g, &t, ctx, obs, now_ms, &ev, true) == GATE_FAIL &&
	       t.seq.log_m >= seq_threshold(&t.seq) + GATE_BURST_MARGIN;
}
