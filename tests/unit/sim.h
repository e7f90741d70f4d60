/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A simulated service for the engine's host-only tests and the sequential
 * test's simulation benchmark: synthetic new flows split by the live
 * weights, bad events at a rate per variant, actions applied like the
 * shell would apply them. Deterministic: a seeded xorshift generator.
 */
#ifndef SLUICE_SIM_H
#define SLUICE_SIM_H

#include <math.h>
#include <string.h>
#include "engine.h"

struct sim {
	struct eng_obs obs;
	__u64 rng;
	double flows_per_s;		/* new flows per second, all rings */
	double ring_share[SLUICE_MAX_RINGS];	/* share of flows per ring */
	double rate[SLUICE_VARIANTS];	/* bad events per flow */
	double ring_rate_mul[SLUICE_MAX_RINGS];	/* per-ring multiplier (1) */
	unsigned int promotions, reverts, undos;
	double split_skew;	/* > 0: the datapath splits at w x this */
};

static inline __u64 sim_rnd(struct sim *s)
{
	__u64 x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 2685821657736338717ull;
}

static inline double sim_unif(struct sim *s)
{
	return ((sim_rnd(s) >> 11) + 0.5) / 9007199254740992.0;
}

static inline __u64 sim_poisson(struct sim *s, double mean)
{
	double l, p = 1;
	__u64 k = 0;

	if (mean <= 0)
		return 0;
	if (mean > 50) {	/* normal approximation */
		double z = sqrt(-2 * log(sim_unif(s))) * cos(2 * M_PI * sim_unif(s));
		double v = mean + sqrt(mean) * z;

		return v < 0 ? 0 : (__u64)llround(v);
	}
	l = exp(-mean);
	do {
		k++;
		p *= sim_unif(s);
	} while (p > l);
	return k - 1;
}

static inline __u64 sim_binom(struct sim *s, __u64 n, double p)
{
	__u64 i, k = 0;

	if (p <= 0 || !n)
		return 0;
	if (p >= 1)
		return n;
	if (n <= 64) {
		for (i = 0; i < n; i++)
			k += sim_unif(s) < p;
		return k;
	}
	if (n * p < 30 || n * (1 - p) < 30) {
		if (p > 0.5)
			return n - sim_binom(s, n, 1 - p);
		k = sim_poisson(s, n * p);
		return k > n ? n : k;
	}
	{
		double z = sqrt(-2 * log(sim_unif(s))) * cos(2 * M_PI * sim_unif(s));
		double v = n * p + sqrt(n * p * (1 - p)) * z;

		return v < 0 ? 0 : v > n ? n : (__u64)llround(v);
	}
}

static inline void sim_init(struct sim *s, __u64 seed, double flows_per_s,
			    double base_rate, double canary_rate)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	s->flows_per_s = flows_per_s;
	s->ring_share[0] = 1;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		s->ring_rate_mul[r] = 1;
	s->rate[SLUICE_BASELINE] = base_rate;
	s->rate[SLUICE_CANARY] = canary_rate;
	s->obs.exists = true;
	s->obs.svc_id = 1;
	s->obs.gen = 1;
	s->obs.mode = SLUICE_MODE_DSR;
	s->obs.lkg = SLUICE_BASELINE;
	s->obs.nbackends[0] = s->obs.nbackends[1] = 2;
	s->obs.ring_in_use[0] = true;
}

/* dt_ms of traffic: flows per ring split by the effective weight. */
static inline void sim_traffic(struct sim *s, __u64 dt_ms)
{
	bool killed = s->obs.kill & SLUICE_KILL_REVERT;
	__u64 total = sim_poisson(s, s->flows_per_s * dt_ms / 1000.0);
	int r, v;

	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		double w = killed ? (s->obs.lkg == SLUICE_CANARY) :
			   s->obs.weight[r] / 10000.0, rest = 0;

		if (s->split_skew > 0 && w * s->split_skew <= 1)
			w *= s->split_skew;
		__u64 n = total, nv[2];
		int q;

		for (q = r; q < SLUICE_MAX_RINGS; q++)
			rest += s->ring_share[q];
		if (r < SLUICE_MAX_RINGS - 1)
			n = rest > 0 ? sim_binom(s, total, s->ring_share[r] / rest) : 0;
		total -= n;
		nv[1] = sim_binom(s, n, w);
		nv[0] = n - nv[1];
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			s->obs.fs[v][r].new_flows += nv[v];
			s->obs.fs[v][r].client_rst +=
				sim_binom(s, nv[v], s->rate[v] * s->ring_rate_mul[r]);
		}
	}
}

/* Perform the engine's actions like the shell. */
static inline void sim_apply(struct sim *s, const struct eng_out *out)
{
	unsigned int i;
	int r;

	for (i = 0; i < out->nactions; i++) {
		const struct eng_action *a = &out->actions[i];

		switch (a->kind) {
		case ENG_ACT_SET_WEIGHTS:
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				if (a->ring_mask & (1u << r))
					s->obs.weight[r] = a->weight[r];
			break;
		case ENG_ACT_REVERT:
			s->obs.kill |= SLUICE_KILL_REVERT;
			s->reverts++;
			break;
		case ENG_ACT_RESUME_KILL:
			s->obs.kill &= ~SLUICE_KILL_REVERT;
			break;
		case ENG_ACT_CUTOVER:
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				s->obs.weight[r] = 10000;
			break;
		case ENG_ACT_PROMOTE:
			if (a->gen != s->obs.gen)
				break;
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				s->obs.weight[r] = 0;
			s->rate[SLUICE_BASELINE] = s->rate[SLUICE_CANARY];
			s->obs.gen++;
			s->promotions++;
			break;
		case ENG_ACT_UNDO:
			s->undos++;
			s->obs.gen++;
			break;
		}
	}
}

/*
 * One synthetic rollout judged by one error-ratio gate (interval 1 s)
 * the way the engine drives it: every tick_ms (0: 1000) traffic, then an
 * evaluation when the gate is due or a burst decides it (gate.c's whole
 * path: counters, increments, strata, test). weights[i] holds for step_s
 * seconds each (the last one until max_s); a step begins like the
 * engine's: the gate's step begins on the old weights, which the shell
 * then rewrites. Returns the time the gate failed in ms (> 0), 0 if it
 * never did; the canary's new flows until then in *canary_flows.
 */
struct sim_gate_cfg {
	double margin, confidence;
	double flows_per_s, base_rate, canary_rate;
	const __u16 *weights;
	unsigned int nweights, step_s, max_s;
	unsigned int tick_ms;
};

static inline __u64 sim_gate_run(const struct sim_gate_cfg *c, __u64 seed,
				 __u64 *canary_flows)
{
	unsigned int tick = c->tick_ms ? c->tick_ms : 1000, step = 0;
	__u16 want[SLUICE_MAX_RINGS], prev[SLUICE_MAX_RINGS] = {};
	struct sluice_plan_gate g = {};
	struct gate_state gs;
	struct gate_ctx ctx = {};
	struct gate_eval ev;
	struct sim s;
	__u64 t;
	int r;

	g.metric = SLUICE_METRIC_ERROR_RATIO;
	g.interval_ms = 1000;
	g.compare_baseline = true;
	g.max_increase = c->margin;
	g.confidence = c->confidence;
	g.min_samples = 1;
	sim_init(&s, seed, c->flows_per_s, c->base_rate, c->canary_rate);
	gate_state_init(&g, &gs);
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		want[r] = s.obs.weight[r] = c->weights[0];
	s.obs.tick_ms = tick;
	ctx.mode = s.obs.mode;
	ctx.weight = want;
	ctx.prev_weight = prev;
	gate_step_begin(&g, &gs, &ctx, &s.obs);
	for (t = tick; t <= c->max_s * 1000ull; t += tick) {
		if (c->step_s && step + 1 < c->nweights && t > (step + 1) * c->step_s * 1000ull) {
			step++;
			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				prev[r] = s.obs.weight[r];
				want[r] = c->weights[step];
			}
			gate_step_begin(&g, &gs, &ctx, &s.obs);
			memcpy(s.obs.weight, want, sizeof(want));
		}
		sim_traffic(&s, tick);
		if ((gate_due(&g, &gs, &s.obs, t) || gate_burst(&g, &gs, &ctx, &s.obs, t)) &&
		    gate_evaluate(&g, &gs, &ctx, &s.obs, t, &ev) == GATE_FAIL) {
			*canary_flows = s.obs.fs[SLUICE_CANARY][0].new_flows;
			return t;
		}
	}
	*canary_flows = s.obs.fs[SLUICE_CANARY][0].new_flows;
	return 0;
}

#endif /* SLUICE_SIM_H */
