// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The error budget left over the SLO window: from per-minute samples in a
 * real SQLite store (cumulative counters, a reset, samples outside the
 * window) and from an error ratio; the freeze it drives: exhausted
 * freezes once, too few events or a bad ratio decide nothing, budget back
 * lifts it.
 * sluice-test: host-only
 */
#include <math.h>
#include <unistd.h>
#include "test.h"
#include "store.h"
#include "error_budget.h"

#define MIN 60000ull
#define T0 (1764600000000ull / MIN * MIN)

static void put(struct store *st, const char *svc, __u64 minute, __u64 nc, __u64 nb,
		__u64 bc, __u64 bb)
{
	struct store_sample s = { .rollout_id = 1, .minute_ms = T0 + minute * MIN,
				  .new_c = nc, .new_b = nb, .bad_c = bc, .bad_b = bb };

	store_sample_put(st, svc, &s);
}

static void test_window(void)
{
	char path[] = "/tmp/test_budget.XXXXXX", db[64], err[256];
	struct store *st = NULL;
	__u64 bad, total, span;
	int fd = mkstemp(path);

	subtest("bad events and flows over the window come from the increases between samples");
	close(fd);
	unlink(path);
	snprintf(db, sizeof(db), "%s.db", path);
	if (!ASSERT_OK(store_open(db, &st, err, sizeof(err)), "store opens"))
		return;
	put(st, "web", 0, 0, 1000, 0, 1);	/* outside the window below */
	put(st, "web", 10, 100, 10000, 1, 10);
	put(st, "web", 11, 200, 20000, 2, 20);
	put(st, "web", 12, 300, 30000, 3, 130);
	/* the maps were recreated: the counters start again from 0 */
	put(st, "web", 13, 10, 1000, 0, 5);
	put(st, "web", 14, 20, 2000, 0, 10);
	put(st, "api", 12, 5, 5, 5, 5);
	ASSERT_OK(store_sample_window(st, "web", T0 + 10 * MIN, &bad, &total, &span), "window");
	/* 11: +10100 flows +11 bad; 12: +10100 +111; 13 (reset): 1010, 5;
	 * 14: +1010 +5 */
	ASSERT_EQ(total, 10100 + 10100 + 1010 + 1010, "flows: increases, the reset counted from 0");
	ASSERT_EQ(bad, 11 + 111 + 5 + 5, "bad events likewise");
	ASSERT_EQ(span, 4 * MIN, "span of the samples");
	ASSERT_OK(store_sample_window(st, "none", T0, &bad, &total, &span), "no samples");
	ASSERT_TRUE(!bad && !total && !span, "no samples: nothing");
	store_close(st);
	unlink(db);
	snprintf(err, sizeof(err), "%s-wal", db);
	unlink(err);
	snprintf(err, sizeof(err), "%s-shm", db);
	unlink(err);
	snprintf(err, sizeof(err), "%s.lock", db);
	unlink(err);
}

static void test_freeze(void)
{
	struct sluice_plan_budget b = { .present = true, .slo = 0.999, .freeze = true };
	struct eng_freeze f = { 0 };
	struct budget_left l;

	subtest("exhausted freezes once with the numbers; unknown keeps it; budget back lifts it");
	budget_from_counts(&b, 5, 10000, 10 * MIN, &l);
	ASSERT_TRUE(l.known && l.remaining > 0.49 && l.remaining < 0.51, "0.05% errors: half the budget left");
	ASSERT_TRUE(!budget_freeze_update(&f, &l, 1) && !f.frozen, "budget left: no freeze");
	budget_from_counts(&b, 20, 10000, 10 * MIN, &l);
	ASSERT_TRUE(l.known && l.remaining < 0, "0.2% errors on a 99.9% SLO: exhausted");
	ASSERT_TRUE(budget_freeze_update(&f, &l, 2) && f.frozen, "exhausted: frozen");
	ASSERT_TRUE(strstr(f.reason, "budget exhausted") && strstr(f.reason, "20 bad of 10000"),
		    "reason with the numbers");
	ASSERT_EQ(f.since_ms, 2, "since");
	ASSERT_TRUE(!budget_freeze_update(&f, &l, 3) && f.since_ms == 2, "a repeat changes nothing");
	budget_from_counts(&b, 0, 50, MIN, &l);
	ASSERT_TRUE(!l.known && strstr(l.text, "too few flows"), "50 flows: too few");
	ASSERT_TRUE(!budget_freeze_update(&f, &l, 4) && f.frozen, "too few: stays frozen");
	budget_from_ratio(&b, NAN, &l);
	ASSERT_TRUE(!l.known && !budget_freeze_update(&f, &l, 5) && f.frozen, "NaN ratio: stays frozen");
	budget_from_ratio(&b, 1.5, &l);
	ASSERT_TRUE(!l.known, "a ratio over 1 is no ratio");
	budget_from_ratio(&b, 0.0001, &l);
	ASSERT_TRUE(l.known && l.remaining > 0.89, "0.01% from Prometheus: 90% left");
	ASSERT_TRUE(budget_freeze_update(&f, &l, 6) && !f.frozen, "budget back: lifted");
	budget_from_counts(&b, 10, 10000, MIN, &l);
	ASSERT_TRUE(l.known && budget_freeze_update(&f, &l, 7) && f.frozen,
		    "exactly spent counts as exhausted");
}

int main(void)
{
	test_window();
	test_freeze();
	return t_done();
}
