// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The anytime-valid mixture test (user/daemon/engine/seqtest.c) and a short,
 * deterministic version of the simulation benchmark (tests/bench/seqsim.c):
 * identical canaries are rolled back at most at the configured rate, clearly
 * worse ones are caught. Fixed seeds: the same numbers every run.
 * sluice-test: host-only
 */
#include "test.h"
#include "seqtest.h"
#include "gate.h"
#include "sim.h"

static void test_math(void)
{
	struct seq_test t;
	int i;

	subtest("the mixture statistic");
	ASSERT_EQ(seq_init(&t, 0.2, 0, false), -EINVAL, "alpha 0 rejected");
	ASSERT_EQ(seq_init(&t, -1, 0.01, false), -EINVAL, "negative margin rejected");
	ASSERT_OK(seq_init(&t, 0.2, 0.01, false), "init");
	ASSERT_RANGE(t.log_m, 0, 0, "M starts at 1");
	ASSERT_RANGE(seq_threshold(&t), 4.6051, 4.6052, "threshold log(100)");
	ASSERT_TRUE(!seq_update(&t, 0, 0, 0.5), "no events: no evidence");
	ASSERT_TRUE(!seq_update(&t, 50, 0, 1.0), "rho 1: ignored");
	ASSERT_TRUE(!seq_update(&t, 50, 0, 0.0), "rho 0: ignored");
	ASSERT_EQ(t.increments, 0, "nothing counted");
	/* one-sided: a canary better than the baseline only lowers M */
	for (i = 0; i < 1000; i++)
		seq_update(&t, 0, 10, 0.5);
	ASSERT_TRUE(!t.rejected && t.log_m < 0, "a better canary is never rejected");
	ASSERT_OK(seq_init(&t, 0.2, 0.01, false), "init");
	for (i = 0; i < 100 && !t.rejected; i++)
		seq_update(&t, 3, 1, 0.5);	/* 3x at equal exposure */
	ASSERT_TRUE(t.rejected, "a 3x canary at 50% is rejected");
	ASSERT_TRUE(i < 30, "within 30 increments of 4 events");
	ASSERT_TRUE(seq_update(&t, 0, 100, 0.5), "rejection is sticky");
	/* the null boundary: x_c / n = p0 exactly keeps M below 1 on average */
	ASSERT_OK(seq_init(&t, 0, 0.05, true), "two-sided init");
	for (i = 0; i < 100 && !t.rejected; i++)
		seq_update(&t, 0, 20, 0.5);	/* nothing on the canary side */
	ASSERT_TRUE(t.rejected, "two-sided: a missing canary share is rejected");
}

static void test_short_sim(void)
{
	static const __u16 ramp[] = { 100, 500, 2500, 5000 };
	struct sim_gate_cfg c = { .margin = 0, .confidence = 0.95, .flows_per_s = 1000,
				  .base_rate = 0.01, .canary_rate = 0.01, .weights = ramp,
				  .nweights = 4, .step_s = 120, .max_s = 480 };
	unsigned int i, n = 300, rejected = 0, caught = 0, t;
	__u64 flows, worst = 0;
	char msg[128];

	subtest("short simulation: false rollbacks <= configured rate, 5x caught");
	for (i = 0; i < n; i++)
		rejected += sim_gate_run(&c, 1000 + i, &flows) > 0;
	snprintf(msg, sizeof(msg), "identical canary, margin 0, 95%%: %u of %u rolled back",
		 rejected, n);
	fprintf(stderr, "  %s\n", msg);
	ASSERT_TRUE(rejected <= n * 5 / 100, msg);
	c.confidence = 0.99;
	c.margin = 0.2;
	rejected = 0;
	for (i = 0; i < n; i++)
		rejected += sim_gate_run(&c, 2000 + i, &flows) > 0;
	snprintf(msg, sizeof(msg), "identical canary, margin 20%%, 99%%: %u of %u rolled back",
		 rejected, n);
	fprintf(stderr, "  %s\n", msg);
	ASSERT_TRUE(rejected <= n / 100, msg);
	c.canary_rate = 0.05;
	c.nweights = 1;
	c.weights = &ramp[1];	/* 5 % */
	for (i = 0; i < 100; i++) {
		t = sim_gate_run(&c, 3000 + i, &flows);
		caught += t > 0;
		if (t && flows > worst)
			worst = flows;
	}
	snprintf(msg, sizeof(msg), "5x canary at 5%%: %u of 100 caught, at most %llu canary flows",
		 caught, (unsigned long long)worst);
	fprintf(stderr, "  %s\n", msg);
	ASSERT_EQ(caught, 100, msg);
	ASSERT_TRUE(worst < 2000, "within 2,000 canary flows");
}

int main(void)
{
	test_math();
	test_short_sim();
	return t_done();
}
