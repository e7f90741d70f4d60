// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Established flows stay put across weight, ring and pool changes; the kill
 * switch sends new flows to last-known-good, idempotently; --reset moves live
 * canary flows, and only those.
 */
#include <linux/bpf.h>
#include "fixture.h"

#define N 2000

static struct flow conn(int i)
{
	char src[32];

	snprintf(src, sizeof(src), "198.18.%d.%d", i / 250, i % 250 + 1);
	return flow4(src, "192.0.2.30", 20000 + i, 443, IPPROTO_TCP, F_SYN);
}

/* Open N connections (SYN, then ACK to confirm); record their backends. */
static void open_all(int prog, int *be)
{
	int i;

	for (i = 0; i < N; i++) {
		struct flow f = conn(i);

		be[i] = t_send(prog, &f, NULL);
		f.tcp_flags = F_ACK;
		t_send(prog, &f, NULL);
	}
}

/* How many of the N connections' next packet went somewhere else. */
static int moved(int prog, const int *be, int *now)
{
	int i, n = 0;

	for (i = 0; i < N; i++) {
		struct flow f = conn(i);
		int b;

		f.tcp_flags = F_ACK;
		b = t_send(prog, &f, NULL);
		if (now)
			now[i] = b;
		n += b != be[i];
	}
	return n;
}

int main(void)
{
	struct sluice *s = t_instance("sticky", 0);
	struct sluice_service_spec *sp = t_spec("sticky", "192.0.2.30", 443,
						IPPROTO_TCP, 4, 4);
	struct sluice_service_spec *other = t_spec("other", "192.0.2.31", 443,
						   IPPROTO_TCP, 2, 2);
	static int be[N], now[N];
	int prog, i, n_canary = 0;
	__u32 word, id;

	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (!ASSERT_TRUE(prog >= 0, "XDP program loads"))
		return t_done();
	sp->weight[0] = 5000;
	ASSERT_OK(sluice_service_put(s, sp), "add service at 50%");
	other->weight[0] = 10000;
	ASSERT_OK(sluice_service_put(s, other), "add other service at 100%");
	sluice_service_lookup(s, "sticky", &id);
	open_all(prog, be);
	for (i = 0; i < N; i++)
		n_canary += be[i] >= 256;
	ASSERT_TRUE(n_canary > N / 4 && n_canary < 3 * N / 4, "about half on the canary");

	subtest("weight changes do not move established flows");
	ASSERT_OK(sluice_set_weight(s, "sticky", -1, 0), "weight 0");
	ASSERT_EQ(moved(prog, be, NULL), 0, "at 0%: none moved");
	ASSERT_OK(sluice_set_weight(s, "sticky", -1, 10000), "weight 100%");
	ASSERT_EQ(moved(prog, be, NULL), 0, "at 100%: none moved");

	subtest("ring changes do not move established flows");
	{
		struct sluice_prefix p;
		int r;

		sluice_parse_prefix("198.18.0.0/16", &p);
		ASSERT_OK(sluice_ring_set(s, "early", &p, 1), "ring over all clients");
		r = sluice_ring_id(s, "early");
		ASSERT_OK(sluice_set_weight(s, "sticky", r, 0), "ring weight 0");
		ASSERT_EQ(moved(prog, be, NULL), 0, "ring added: none moved");
		ASSERT_OK(sluice_ring_del(s, "early"), "ring deleted");
		ASSERT_EQ(moved(prog, be, NULL), 0, "ring deleted: none moved");
	}

	subtest("pool edits do not move established flows");
	{
		struct sluice_service_spec *e = sluice_spec_new();

		ASSERT_OK(sluice_service_get(s, "sticky", e), "read back");
		t_pool(e, SLUICE_BASELINE, 3, 10);	/* add 3 baseline */
		t_pool(e, SLUICE_CANARY, 3, 10);
		e->pool[SLUICE_BASELINE].be[0].draining = true;
		ASSERT_OK(sluice_service_put(s, e), "pools grown, one draining");
		ASSERT_EQ(moved(prog, be, NULL), 0, "pools edited: none moved");
		/* remove a backend outright: its flows keep going to it */
		e->pool[SLUICE_CANARY].be[0] = e->pool[SLUICE_CANARY].be[--e->pool[SLUICE_CANARY].n];
		ASSERT_OK(sluice_service_put(s, e), "one canary backend removed");
		ASSERT_EQ(moved(prog, be, NULL), 0, "backend removed: none moved");
		sluice_spec_free(e);
	}

	subtest("kill switch: new flows to last-known-good, idempotent");
	{
		int newc = 0;

		ASSERT_EQ(sluice_revert(s, "sticky", false), 1, "revert changes the state");
		ASSERT_OK(sluice_kill_get(s, "sticky", &word), "read kill word");
		ASSERT_EQ(word, SLUICE_KILL_REVERT, "kill word set");
		ASSERT_EQ(sluice_revert(s, "sticky", false), 0, "second revert: no change");
		ASSERT_OK(sluice_kill_get(s, "sticky", &word), "read kill word");
		ASSERT_EQ(word, SLUICE_KILL_REVERT, "kill word unchanged");
		for (i = 0; i < 1000; i++) {
			struct flow f = conn(i);

			f.sport = 50000 + i;	/* new connections */
			newc += t_variant_of_send(prog, &f);
		}
		ASSERT_EQ(newc, 0, "weight 100% but reverted: every new flow on baseline");
		ASSERT_EQ(moved(prog, be, NULL), 0, "revert without --reset: none moved");
	}

	subtest("revert --reset moves live canary flows, only those");
	{
		struct sluice_flow_stats st[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
		int wrong = 0, m;
		__u64 moves = 0;

		ASSERT_EQ(sluice_revert(s, "sticky", true), 1, "reset changes the state");
		m = moved(prog, be, now);
		ASSERT_EQ(m, n_canary, "exactly the canary flows moved");
		for (i = 0; i < N; i++) {
			if (be[i] < 256 && now[i] != be[i])
				wrong++;	/* a baseline flow moved */
			if (be[i] >= 256 && now[i] >= 256)
				wrong++;	/* a canary flow stayed */
		}
		ASSERT_EQ(wrong, 0, "baseline flows untouched, canary flows on baseline");
		sluice_stats_get(s, id, st);
		for (i = 0; i < SLUICE_MAX_RINGS; i++)
			moves += st[SLUICE_BASELINE][i].reset_moves;
		ASSERT_EQ(moves, n_canary, "reset_moves counted once per moved flow");
		ASSERT_EQ(moved(prog, now, NULL), 0, "moved flows then stay where they went");
		ASSERT_EQ(sluice_revert(s, "sticky", true), 0, "second reset: no change");
	}

	subtest("revert --all: one write for every service");
	{
		struct flow f = flow4("198.19.0.1", "192.0.2.31", 1000, 443, IPPROTO_TCP, F_SYN);
		int c;

		ASSERT_EQ(t_variant_of_send(prog, &f), 1, "other: canary at 100% before");
		ASSERT_EQ(sluice_revert(s, NULL, false), 1, "revert --all");
		ASSERT_EQ(sluice_revert(s, NULL, false), 0, "revert --all again: no change");
		for (i = 0, c = 0; i < 200; i++) {
			f.sport = 2000 + i;
			c += t_variant_of_send(prog, &f);
		}
		ASSERT_EQ(c, 0, "other: every new flow on baseline");
		ASSERT_EQ(sluice_resume(s, NULL), 1, "resume --all");
		ASSERT_EQ(sluice_resume(s, NULL), 0, "resume --all again: no change");
		f.sport = 3000;
		ASSERT_EQ(t_variant_of_send(prog, &f), 1, "other: canary again after resume");
	}

	subtest("last-known-good is what revert falls back to");
	{
		struct flow f = flow4("198.19.0.2", "192.0.2.31", 1000, 443, IPPROTO_TCP, F_SYN);
		int c;

		ASSERT_OK(sluice_set_weight(s, "other", -1, 0), "other at 0%");
		ASSERT_OK(sluice_set_lkg(s, "other", SLUICE_CANARY), "lkg = canary (green)");
		ASSERT_EQ(sluice_revert(s, "other", false), 1, "revert other");
		for (i = 0, c = 0; i < 200; i++) {
			f.sport = 4000 + i;
			c += t_variant_of_send(prog, &f);
		}
		ASSERT_EQ(c, 200, "reverted to the canary pool, the last-known-good");
	}
	sluice_spec_free(sp);
	sluice_spec_free(other);
	return t_done();
}
