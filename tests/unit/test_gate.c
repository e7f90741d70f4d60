// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * gate.c on its own, fed hand-made observations: the limits of external
 * value gates for values of either sign.
 * sluice-test: host-only
 */
#include <math.h>
#include "test.h"
#include "gate.h"

/* One external value measurement (seq) judged by a max_increase gate. */
static enum gate_outcome ext_eval(struct sluice_plan_gate *g, struct gate_state *gs,
				  __u64 seq, double canary, double baseline,
				  struct gate_eval *ev)
{
	struct gate_ctx ctx = { .index = 0, .mode = SLUICE_MODE_NAT };
	static struct eng_obs obs;

	memset(&obs, 0, sizeof(obs));
	obs.exists = true;
	obs.mode = SLUICE_MODE_NAT;
	obs.ext[0].status = ENG_EXT_OK;
	obs.ext[0].verdict = ENG_EXT_VALUE;
	obs.ext[0].seq = seq;
	obs.ext[0].canary = canary;
	obs.ext[0].baseline = baseline;
	obs.ext[0].samples_c = obs.ext[0].samples_b = 100;
	return gate_evaluate(g, gs, &ctx, &obs, seq * 1000, ev);
}

static void test_ext_negative_baseline(void)
{
	struct sluice_plan_gate g = {};
	struct gate_state gs;
	struct gate_eval ev;
	struct eng_obs obs = { .exists = true };
	struct gate_ctx ctx = {};

	subtest("max_increase on negative values: equal values pass, limits above the baseline");
	g.metric = SLUICE_METRIC_EXT_PROMETHEUS;
	g.interval_ms = 1000;
	g.compare_baseline = true;
	g.max_increase = 0.2;
	g.confidence = 0.99;
	g.min_samples = 1;
	ASSERT_OK(gate_state_init(&g, &gs), "init");
	gate_step_begin(&g, &gs, &ctx, &obs);
	ASSERT_EQ(ext_eval(&g, &gs, 1, -1, -1, &ev), GATE_PASS, "both -1: pass");
	fprintf(stderr, "  %s (limit %g)\n", ev.reason, ev.threshold);
	ASSERT_RANGE(ev.threshold, -0.8 - 1e-9, -0.8 + 1e-9, "limit of -1 +20 % is -0.8");
	ASSERT_EQ(ext_eval(&g, &gs, 2, -0.9, -1, &ev), GATE_PASS, "-0.9 vs -1: within 20 %");
	ASSERT_EQ(ext_eval(&g, &gs, 3, -0.5, -1, &ev), GATE_FAIL, "-0.5 vs -1: 50 % higher, fails");
	ASSERT_TRUE(strstr(ev.reason, "limit -0.8") != NULL, "reason names the limit -0.8");
	/* positive and zero baselines keep their limits */
	ASSERT_EQ(ext_eval(&g, &gs, 4, 1.1, 1, &ev), GATE_PASS, "1.1 vs 1: pass");
	ASSERT_RANGE(ev.threshold, 1.2 - 1e-9, 1.2 + 1e-9, "limit of 1 +20 % is 1.2");
	ASSERT_EQ(ext_eval(&g, &gs, 5, 1.3, 1, &ev), GATE_FAIL, "1.3 vs 1: fails");
	ASSERT_EQ(ext_eval(&g, &gs, 6, 0, 0, &ev), GATE_PASS, "0 vs 0: pass");
	/* with an absolute margin on top */
	g.has_max_increase_abs = true;
	g.max_increase_abs = 0.5;
	ASSERT_EQ(ext_eval(&g, &gs, 7, -0.4, -1, &ev), GATE_PASS, "-0.4 vs -1 (+20 % +0.5): pass");
	ASSERT_RANGE(ev.threshold, -0.3 - 1e-9, -0.3 + 1e-9, "limit -1 + 0.2 + 0.5");
}

int main(void)
{
	test_ext_negative_baseline();
	return t_done();
}
