// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Maglev tables: even spread, weights, minimal disruption on removal, and
 * independence from the order backends are given in. Pure userspace:
 * sluice-test: host-only
 */
#include <math.h>
#include "test.h"

/* Maglev's disruption grows with N/M: the paper sizes M >= 100 N. */
static __u32 M = SLUICE_TABLE_DEFAULT;

static void make_in(struct sluice_maglev_in *in, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		in[i].id = i;
		in[i].weight = 100;
		in[i].key = 0x1000 + (__u64)i * 7777;
	}
}

static void counts(const __u32 *t, int *c, int n)
{
	int i;

	memset(c, 0, sizeof(int) * n);
	for (i = 0; i < (int)M; i++)
		if (t[i] < (__u32)n)
			c[t[i]]++;
}

int main(void)
{
	static __u32 t1[SLUICE_TABLE_MAX], t2[SLUICE_TABLE_MAX], t3[SLUICE_TABLE_MAX];
	struct sluice_maglev_in in[128], sub[128];
	int c[128], sizes[] = { 2, 3, 7, 10, 31, 64, 128 }, k, i, n;

	subtest("equal weights spread within 1% of even");
	for (k = 0; k < (int)(sizeof(sizes) / sizeof(sizes[0])); k++) {
		double even;
		char m[96];

		n = sizes[k];
		M = n > 40 ? SLUICE_TABLE_MAX : SLUICE_TABLE_DEFAULT;
		make_in(in, n);
		ASSERT_OK(sluice_maglev_build(in, n, M, t1), "build");
		counts(t1, c, n);
		even = (double)M / n;
		for (i = 0; i < n; i++) {
			snprintf(m, sizeof(m), "n=%d backend %d share vs even", n, i);
			ASSERT_RANGE(c[i] / even, 0.99, 1.01, m);
		}
	}

	subtest("removing 1 of N moves its slots and at most 1/N + 1% in all");
	for (k = 0; k < (int)(sizeof(sizes) / sizeof(sizes[0])); k++) {
		int removed, moved = 0, lost_moved = 0, others_moved = 0;
		char m[96];

		n = sizes[k];
		M = n > 40 ? SLUICE_TABLE_MAX : SLUICE_TABLE_DEFAULT;
		if (n < 3)
			continue;
		make_in(in, n);
		sluice_maglev_build(in, n, M, t1);
		removed = n / 2;
		memcpy(sub, in, sizeof(in[0]) * n);
		sub[removed] = sub[n - 1];
		sluice_maglev_build(sub, n - 1, M, t2);
		for (i = 0; i < (int)M; i++) {
			if (t1[i] == t2[i])
				continue;
			moved++;
			if (t1[i] == (__u32)removed)
				lost_moved++;
			else
				others_moved++;
		}
		counts(t1, c, n);
		snprintf(m, sizeof(m), "n=%d: every slot of the removed backend moved", n);
		ASSERT_EQ(lost_moved, c[removed], m);
		snprintf(m, sizeof(m), "n=%d: moved share <= 1/N + 1%%", n);
		ASSERT_RANGE((double)moved / M, 0, 1.0 / n + 0.01, m);
		snprintf(m, sizeof(m), "n=%d: other backends' slots moved < 1%%", n);
		ASSERT_RANGE((double)others_moved / M, 0, 0.01, m);
		fprintf(stderr, "  M=%u n=%3d: moved %.3f%% (removed backend %.3f%%, others %.3f%%)\n",
			M, n, 100.0 * moved / M, 100.0 * lost_moved / M, 100.0 * others_moved / M);
	}

	M = SLUICE_TABLE_DEFAULT;
	subtest("weights: shares proportional to weight");
	make_in(in, 4);
	in[0].weight = 100; in[1].weight = 200; in[2].weight = 300; in[3].weight = 400;
	sluice_maglev_build(in, 4, M, t1);
	counts(t1, c, 4);
	for (i = 0; i < 4; i++)
		ASSERT_RANGE(c[i] / (M * in[i].weight / 1000.0), 0.99, 1.01,
			     "weighted share within 1%");

	subtest("order of backends does not matter");
	make_in(in, 10);
	sluice_maglev_build(in, 10, M, t1);
	for (i = 0; i < 10; i++)
		sub[i] = in[9 - i];
	sluice_maglev_build(sub, 10, M, t3);
	ASSERT_TRUE(!memcmp(t1, t3, sizeof(__u32) * M), "same table from reversed input");

	subtest("sizes must be prime");
	ASSERT_EQ(sluice_maglev_build(in, 10, 16384, t1), -EINVAL, "16384 rejected");
	ASSERT_TRUE(sluice_is_prime(16381) && sluice_is_prime(65537), "16381, 65537 prime");
	return t_done();
}
