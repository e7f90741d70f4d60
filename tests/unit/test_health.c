// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backend health (sluice_backend_health_set) through the real datapath
 * (BPF_PROG_TEST_RUN): a backend marked down leaves its pool's table while
 * established flows, its own included, keep their backends; only its share
 * of new flows moves; it rejoins exactly where it was; a pool whose every
 * backend is down keeps them all; configuration edits keep the health state.
 */
#include <linux/bpf.h>
#include "fixture.h"

#define NB 10		/* baseline backends */
#define NEST 2000	/* established connections */
#define NNEW 4000	/* probes of new-flow placement */

static struct flow est(int i)
{
	char src[32];

	snprintf(src, sizeof(src), "198.18.%d.%d", i / 250, i % 250 + 1);
	return flow4(src, "192.0.2.40", 20000 + i, 443, IPPROTO_TCP, F_SYN);
}

static struct flow probe(int i)
{
	char src[32];

	snprintf(src, sizeof(src), "198.19.%d.%d", i / 250, i % 250 + 1);
	return flow4(src, "192.0.2.40", 30000 + i, 443, IPPROTO_TCP, F_SYN);
}

/*
 * Where new flows go now: a SYN of each probe, then its unconfirmed entry
 * is forgotten, so the next call decides them afresh from the live tables.
 */
static void place(struct sluice *s, int prog, int *be)
{
	int i;

	for (i = 0; i < NNEW; i++) {
		struct flow f = probe(i);

		be[i] = t_send(prog, &f, NULL);
	}
	t_clear_unconfirmed(t_pin_dir);
}

static struct sluice_health_mark mark(const struct sluice_service_spec *sp,
				      int v, int i, bool down)
{
	struct sluice_health_mark m = {
		.addr = sp->pool[v].be[i].addr, .family = sp->pool[v].be[i].family,
		.port = sp->pool[v].be[i].port, .down = down,
	};
	return m;
}

int main(void)
{
	struct sluice *s = t_instance("health", 0);
	struct sluice_service_spec *sp = t_spec("hc", "192.0.2.40", 443,
						IPPROTO_TCP, NB, 4);
	struct sluice_service_spec *got = sluice_spec_new();
	struct sluice_health_result res;
	struct sluice_health_mark m;
	static int be[NEST], before[NNEW], after[NNEW];
	int prog, i, dead = 3;

	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (!ASSERT_TRUE(prog >= 0, "XDP program loads"))
		return t_done();
	ASSERT_OK(sluice_service_put(s, sp), "service with 10 baseline, 4 canary backends");
	ASSERT_OK(sluice_set_weight(s, "hc", -1, 0), "weight 0: every flow on baseline");
	for (i = 0; i < NEST; i++) {
		struct flow f = est(i);

		be[i] = t_send(prog, &f, NULL);
		f.tcp_flags = F_ACK;
		t_send(prog, &f, NULL);
	}
	place(s, prog, before);

	subtest("a backend marked down leaves the table; established flows stay");
	{
		int on_dead = 0, moved_est = 0, to_dead = 0, moved = 0, moved_other = 0;

		m = mark(sp, SLUICE_BASELINE, dead, true);
		ASSERT_EQ(sluice_backend_health_set(s, "hc", &m, 1, &res), 1,
			  "mark down: one backend changed");
		ASSERT_EQ(res.in_table[SLUICE_BASELINE], NB - 1, "9 backends in the baseline table");
		ASSERT_EQ(res.all_down[SLUICE_BASELINE], 0, "baseline not all down");
		ASSERT_EQ(res.in_table[SLUICE_CANARY], 4, "canary table untouched");
		ASSERT_EQ(sluice_backend_health_set(s, "hc", &m, 1, &res), 0,
			  "mark down again: no change (idempotent)");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		ASSERT_TRUE(got->pool[SLUICE_BASELINE].n == NB, "the backend is still configured");
		for (i = 0; i < (int)got->pool[SLUICE_BASELINE].n; i++)
			if (!memcmp(&got->pool[0].be[i].addr, &m.addr, sizeof(m.addr)))
				ASSERT_TRUE(got->pool[0].be[i].down, "read back: it is down");
		for (i = 0; i < NEST; i++) {
			struct flow f = est(i);

			f.tcp_flags = F_ACK;
			on_dead += be[i] == dead;
			moved_est += t_send(prog, &f, NULL) != be[i];
		}
		ASSERT_TRUE(on_dead > 0, "some established flows were on the dead backend");
		ASSERT_EQ(moved_est, 0, "no established flow moved (the dead one's included)");
		place(s, prog, after);
		for (i = 0; i < NNEW; i++) {
			to_dead += after[i] == dead;
			moved += after[i] != before[i];
			moved_other += before[i] != dead && after[i] != before[i];
		}
		ASSERT_EQ(to_dead, 0, "no new flow reaches the dead backend");
		ASSERT_RANGE((double)moved / NNEW, 0.5 / NB, 1.5 / NB,
			     "share of new flows moved is about 1/N");
		ASSERT_RANGE((double)moved_other / NNEW, 0, 0.02,
			     "new flows of the other backends: under 2% moved");
		fprintf(stderr, "  moved %.4f of new flows (ideal 1/N = %.4f), of which not the dead one's %.4f\n",
			(double)moved / NNEW, 1.0 / NB, (double)moved_other / NNEW);
	}

	subtest("configuration edits keep the health state");
	{
		ASSERT_OK(sluice_set_weight(s, "hc", -1, 500), "weight 5% (fast path)");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		for (i = 0; i < (int)got->pool[0].n; i++) {
			got->pool[0].be[i].down = false;	/* put ignores it */
			got->pool[0].be[i].weight = 100;
		}
		ASSERT_OK(sluice_service_put(s, got), "put the spec again (as apply or backend set would)");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		for (i = 0; i < (int)got->pool[0].n; i++)
			if (!memcmp(&got->pool[0].be[i].addr, &m.addr, sizeof(m.addr)))
				ASSERT_TRUE(got->pool[0].be[i].down, "still down after a put");
		ASSERT_EQ(got->weight[0], 500, "weight kept");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		ASSERT_OK(sluice_backend_health_set(s, "hc", &m, 1, &res), "health set");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		ASSERT_EQ(got->weight[0], 500, "a health change keeps the fast-path weight");
		ASSERT_OK(sluice_set_weight(s, "hc", -1, 0), "weight back to 0");
	}

	subtest("an unknown backend is an error and changes nothing");
	{
		struct sluice_health_mark ms[2] = { mark(sp, 0, 0, true), m };
		__u32 gen;

		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		gen = got->gen;
		ms[1].addr = A("10.99.99.99");
		ASSERT_EQ(sluice_backend_health_set(s, "hc", ms, 2, NULL), -ENOENT,
			  "no such backend: ENOENT");
		ASSERT_TRUE(strstr(sluice_errmsg(s), "no backend 10.99.99.99") != NULL,
			    "the message names the backend");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		ASSERT_EQ(got->gen, gen, "nothing published");
		ASSERT_EQ(got->pool[0].be[0].down, 0, "the valid mark was not applied either");
		ASSERT_EQ(sluice_backend_health_set(s, "nope", &m, 1, NULL), -ENOENT,
			  "no such service: ENOENT");
	}

	subtest("it rejoins where it was");
	{
		int same = 0;

		m.down = false;
		ASSERT_EQ(sluice_backend_health_set(s, "hc", &m, 1, &res), 1, "mark up");
		ASSERT_EQ(res.in_table[SLUICE_BASELINE], NB, "10 backends in the table");
		place(s, prog, after);
		for (i = 0; i < NNEW; i++)
			same += after[i] == before[i];
		ASSERT_EQ(same, NNEW, "every new flow goes where it went before the failure");
	}

	subtest("every backend of a pool down: all kept in the table");
	{
		struct sluice_health_mark all[NB];
		int lost = 0, only = 0;

		for (i = 0; i < NB; i++)
			all[i] = mark(sp, SLUICE_BASELINE, i, true);
		ASSERT_EQ(sluice_backend_health_set(s, "hc", all, NB - 1, &res), NB - 1,
			  "9 of 10 down, one publish");
		ASSERT_EQ(res.in_table[0], 1, "one backend left in the table");
		place(s, prog, after);
		for (i = 0; i < NNEW; i++)
			only += after[i] == NB - 1;
		ASSERT_EQ(only, NNEW, "every new flow on the last backend up");
		ASSERT_EQ(sluice_backend_health_set(s, "hc", &all[NB - 1], 1, &res), 1,
			  "the last one down too");
		ASSERT_EQ(res.all_down[0], 1, "reported: every baseline backend down");
		ASSERT_EQ(res.in_table[0], NB, "all 10 kept in the table");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		ASSERT_EQ(got->pool[0].all_down, 1, "service get says all down");
		place(s, prog, after);
		for (i = 0; i < NNEW; i++)
			lost += after[i] != before[i];
		ASSERT_EQ(lost, 0, "new flows still forwarded, spread as when all were up");
		all[0].down = false;
		ASSERT_EQ(sluice_backend_health_set(s, "hc", all, 1, &res), 1, "one comes back");
		ASSERT_EQ(res.all_down[0], 0, "no longer all down");
		ASSERT_EQ(res.in_table[0], 1, "only it in the table");
		for (i = 0; i < NB; i++)
			all[i].down = false;
		ASSERT_EQ(sluice_backend_health_set(s, "hc", all, NB, &res), NB - 1,
			  "the rest come back");
	}

	subtest("a canary backend down: the baseline table is untouched");
	{
		int same = 0;

		m = mark(sp, SLUICE_CANARY, 0, true);
		ASSERT_EQ(sluice_backend_health_set(s, "hc", &m, 1, &res), 1, "canary 0 down");
		ASSERT_EQ(res.in_table[SLUICE_CANARY], 3, "3 canary backends in the table");
		place(s, prog, after);
		for (i = 0; i < NNEW; i++)
			same += after[i] == before[i];
		ASSERT_EQ(same, NNEW, "baseline placement unchanged (weight 0)");
	}

	subtest("a removed backend added back starts up");
	{
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		got->pool[SLUICE_CANARY].n = 0;
		ASSERT_OK(sluice_service_put(s, got), "canary pool emptied");
		got->pool[SLUICE_CANARY] = sp->pool[SLUICE_CANARY];
		ASSERT_OK(sluice_service_put(s, got), "canary pool back");
		ASSERT_OK(sluice_service_get(s, "hc", got), "read back");
		for (i = 0; i < (int)got->pool[1].n; i++)
			ASSERT_EQ(got->pool[1].be[i].down, 0, "re-added canary backend is up");
	}
	sluice_spec_free(sp);
	sluice_spec_free(got);
	return t_done();
}
