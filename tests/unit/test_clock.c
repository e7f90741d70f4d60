// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// sluice-test: host-only (the daemon's clocks, simulated)
/*
 * sluiced's steady clock (clock.h) against a simulated wall clock that
 * steps: back an hour, forward an hour. It keeps counting elapsed time;
 * the wall clock is read only at the anchor.
 */
#include "test.h"
#include "clock.h"

static __u64 sim_wall = 1700000000000ull, sim_boot = 5000;

static __u64 fake_wall(void) { return sim_wall; }
static __u64 fake_boot(void) { return sim_boot; }

static void advance(__u64 ms)
{
	sim_wall += ms;
	sim_boot += ms;
}

static void test_steps(void)
{
	__u64 t0, t;

	subtest("steps");
	clock_test_sources(fake_wall, fake_boot);
	t0 = steady_ms();
	ASSERT_EQ(t0, sim_wall, "anchored at the wall clock");
	advance(1500);
	ASSERT_EQ(steady_ms() - t0, 1500, "elapsed 1.5 s");
	sim_wall -= 3600 * 1000;	/* NTP steps back an hour */
	advance(200);
	t = steady_ms();
	ASSERT_EQ(t - t0, 1700, "a step back of the wall clock: still elapsed time");
	ASSERT_TRUE(wall_ms() < t0, "the wall clock itself did step back");
	sim_wall += 2 * 3600 * 1000;	/* and forward two */
	advance(300);
	ASSERT_EQ(steady_ms() - t0, 2000, "a step forward: still elapsed time");
	clock_test_sources(NULL, NULL);
	t = steady_ms();
	ASSERT_RANGE((double)t, (double)wall_ms() - 1000, (double)wall_ms() + 1000,
		     "the system's clocks again: anchored at the real wall clock");
}

int main(void)
{
	test_steps();
	return t_done();
}
