// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Error-budget burn rate: the workbook's rules scaled to a rollout's time
 * base, sliding windows over cumulative counters (simulated clock), min
 * events, the 0.5 % canary against a 99.9 % SLO that a 1 % threshold would
 * pass, spikes caught by the short pair, recovery, counters that go back.
 * sluice-test: host-only
 */
#include <math.h>
#include "test.h"
#include "burn.h"

/* Feed flows/s with a bad fraction (exact, deterministic) for secs seconds. */
static void feed(struct burn_track *t, uint64_t *now, uint64_t *bad, uint64_t *tot,
		 unsigned int secs, unsigned int flows, double bad_frac)
{
	static double carry;

	for (unsigned int i = 0; i < secs; i++) {
		double b = flows * bad_frac + carry;

		*now += 1000;
		*tot += flows;
		*bad += (uint64_t)b;
		carry = b - (uint64_t)b;
		burn_track_add(t, *now, *bad, *tot);
	}
}

static void test_rules(void)
{
	struct burn_cfg c = { .slo = 0.999 };
	char name[96];

	subtest("workbook rules scaled to the time base");
	burn_default_rules(&c, 300000);	/* 1 h -> 5 min */
	ASSERT_EQ(c.nrules, 3, "three pairs");
	ASSERT_EQ(c.rule[0].long_ms, 300000, "14.4x long window = time base");
	ASSERT_EQ(c.rule[0].short_ms, 25000, "14.4x short window = base / 12");
	ASSERT_EQ(c.rule[1].long_ms, 1800000, "6x long = 6 x base");
	ASSERT_EQ(c.rule[1].short_ms, 150000, "6x short = base / 2");
	ASSERT_EQ(c.rule[2].long_ms, 21600000, "1x long = 72 x base");
	ASSERT_EQ(c.rule[2].short_ms, 1800000, "1x short = 6 x base");
	burn_rule_name(&c.rule[0], name, sizeof(name));
	ASSERT_TRUE(!strcmp(name, "14.4x over 5m/25s"), name);
	burn_default_rules(&c, 3600000);
	burn_rule_name(&c.rule[2], name, sizeof(name));
	ASSERT_TRUE(!strcmp(name, "1x over 3d/6h"), "unscaled: the workbook's own 1x over 3d/6h");
	ASSERT_RANGE(burn_rate(5, 1000, 0.999), 4.999, 5.001, "0.5 % against 99.9 % burns 5x");
	ASSERT_TRUE(isnan(burn_rate(0, 0, 0.999)), "no events: NaN, not 0");
	ASSERT_RANGE(burn_budget_remaining(5, 10000, 0.999), 0.499, 0.501, "half the budget left");
	ASSERT_RANGE(burn_budget_remaining(2, 1000, 0.999), -1.001, -0.999, "overspent: negative");
	ASSERT_RANGE(burn_budget_remaining(0, 0, 0.999), 1, 1, "no events: untouched");
}

static void test_small_but_over_budget(void)
{
	struct burn_cfg c = { .slo = 0.999, .min_events = 200 };
	struct burn_track can, base;
	struct burn_eval ec, eb;
	uint64_t now = 0, bad = 0, tot = 0, now2 = 0, bad2 = 0, tot2 = 0;
	char why[300];
	double ratio;

	subtest("a canary at 0.5 % errors fails a 99.9 % SLO; a 1 % threshold would pass it");
	burn_default_rules(&c, 60000);
	burn_track_init(&can, &c);
	burn_track_init(&base, &c);
	feed(&can, &now, &bad, &tot, 120, 100, 0.005);
	feed(&base, &now2, &bad2, &tot2, 120, 1900, 0.0002);
	burn_judge(&can, &c, &ec);
	burn_judge(&base, &c, &eb);
	ratio = (double)bad / tot;
	ASSERT_TRUE(ratio < 0.01, "the canary's error ratio is under a 1 % threshold");
	ASSERT_EQ(ec.verdict, BURN_FAIL, "burn-rate verdict: fail");
	ASSERT_EQ(ec.fired, 2, "the 1x pair fired (14.4x and 6x did not)");
	ASSERT_RANGE(ec.rule[2].long_burn, 4.8, 5.2, "burn about 5x");
	ASSERT_EQ(eb.verdict, BURN_PASS, "baseline at 0.02 % passes (0.2x)");
	burn_explain(&ec, &eb, &c, why, sizeof(why));
	ASSERT_TRUE(strstr(why, "5.0x") && strstr(why, "1x over") && strstr(why, "baseline burns 0.2"),
		    why);

	subtest("the baseline just as bad: still a fail, and the reason says so");
	burn_track_init(&base, &c);
	now2 = bad2 = tot2 = 0;
	feed(&base, &now2, &bad2, &tot2, 120, 1900, 0.005);
	burn_judge(&base, &c, &eb);
	burn_explain(&ec, &eb, &c, why, sizeof(why));
	ASSERT_EQ(ec.verdict, BURN_FAIL, "canary still fails");
	ASSERT_TRUE(strstr(why, "service itself is over budget"), why);
}

static void test_healthy_and_low_traffic(void)
{
	struct burn_cfg c = { .slo = 0.999, .min_events = 500 };
	struct burn_track t;
	struct burn_eval e;
	uint64_t now = 0, bad = 0, tot = 0;
	char why[300];

	burn_default_rules(&c, 60000);
	subtest("low traffic is inconclusive, never a pass");
	burn_track_init(&t, &c);
	feed(&t, &now, &bad, &tot, 30, 2, 0);
	burn_judge(&t, &c, &e);
	ASSERT_EQ(e.verdict, BURN_INCONCLUSIVE, "60 flows, min 500: inconclusive");
	burn_explain(&e, NULL, &c, why, sizeof(why));
	ASSERT_TRUE(strstr(why, "too few flows"), why);
	subtest("a healthy canary passes");
	burn_track_init(&t, &c);
	now = bad = tot = 0;
	feed(&t, &now, &bad, &tot, 300, 200, 0.0005);
	burn_judge(&t, &c, &e);
	ASSERT_EQ(e.verdict, BURN_PASS, "0.05 % errors (0.5x): pass");
	ASSERT_RANGE(e.max_burn, 0.4, 0.6, "max burn about 0.5x");
}

static void test_spike_and_recovery(void)
{
	struct burn_cfg c = { .slo = 0.999, .min_events = 100 };
	struct burn_track t;
	struct burn_eval e;
	uint64_t now = 0, bad = 0, tot = 0;
	unsigned int secs = 0;

	subtest("a spike is caught by the fast pair within its short window");
	burn_default_rules(&c, 60000);	/* 14.4x over 60s/5s */
	c.nrules = 1;
	burn_track_init(&t, &c);
	feed(&t, &now, &bad, &tot, 600, 100, 0);
	burn_judge(&t, &c, &e);
	ASSERT_EQ(e.verdict, BURN_PASS, "clean for 10 minutes: pass");
	do {
		feed(&t, &now, &bad, &tot, 1, 100, 0.5);
		burn_judge(&t, &c, &e);
		secs++;
	} while (e.verdict != BURN_FAIL && secs < 120);
	ASSERT_EQ(e.verdict, BURN_FAIL, "50 % errors: fail");
	ASSERT_RANGE(secs, 1, 5, "within seconds (burn 500x crosses 14.4x at once)");
	subtest("the short window clears soon after the spike ends");
	feed(&t, &now, &bad, &tot, 10, 100, 0);
	burn_judge(&t, &c, &e);
	ASSERT_EQ(e.verdict, BURN_PASS, "short window clean again: the pair no longer fires");
	ASSERT_TRUE(e.rule[0].long_burn > 14.4, "while the long window still remembers the spike");
}

static void test_rebase(void)
{
	struct burn_cfg c = { .slo = 0.99, .min_events = 10 };
	struct burn_track t;
	uint64_t b, tot, span;

	subtest("counters that go backwards rebase, never go negative");
	burn_default_rules(&c, 60000);
	burn_track_init(&t, &c);
	burn_track_add(&t, 1000, 1000, 100000);
	burn_track_add(&t, 2000, 1001, 100100);
	burn_track_add(&t, 3000, 1, 50);	/* maps recreated */
	burn_track_add(&t, 4000, 2, 150);
	burn_track_window(&t, 0, &b, &tot, &span);
	ASSERT_TRUE(tot <= 100 + 150 && b <= tot, "window counts stay sane");
	ASSERT_EQ(span, 3000, "window spans the whole track");
	ASSERT_EQ(tot, 250, "counts carried across the rebase: 100 + 50 + 100");
	ASSERT_EQ(b, 3, "bad carried: 1 + 1 (the new map's first read) + 1");
}

int main(void)
{
	test_rules();
	test_small_but_over_budget();
	test_healthy_and_low_traffic();
	test_spike_and_recovery();
	test_rebase();
	return t_done();
}
