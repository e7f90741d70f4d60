// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Simulation benchmark of the sequential gate (`make seqsim`): thousands
 * of synthetic rollouts with fixed seeds through gate.c's whole path, one
 * evaluation per second at ~1,000 new flows/s, observed every 100 ms like
 * sluiced does (an evaluation before the second when a burst of bad events
 * already decides it; TICK=1000 as the third argument: once a second).
 *  1. false rollbacks of identical canaries over a 1/5/25/50 % ramp of
 *     300 s steps, against confidence 99 % and 95 % (margin 0: the null's
 *     boundary, the worst case; margin 20 %: a typical plan);
 *  2. detection of 2x and 5x canaries held at 1, 5, 25 and 50 %: time and
 *     canary flows to the rollback (median and p90), share caught in 1 h;
 *  3. a canary that fails every flow at 5 %.
 * Usage: seqsim [RUNS] [SEED] [TICK_MS]   (defaults 2000, 1, 100)
 */
#include <stdio.h>
#include <stdlib.h>
#include "gate.h"
#include "sim.h"

static int cmp_u(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Wilson 95 % interval of k in n. */
static void wilson(unsigned int k, unsigned int n, double *lo, double *hi)
{
	double p = (double)k / n, z = 1.96, d = 1 + z * z / n;
	double c = p + z * z / (2 * n), e = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n));

	*lo = (c - e) / d;
	*hi = (c + e) / d;
}

int main(int argc, char **argv)
{
	static const __u16 ramp[] = { 100, 500, 2500, 5000 };
	static const double confs[] = { 0.99, 0.95 }, margins[] = { 0, 0.2 };
	static const double mults[] = { 2, 5 };
	unsigned int runs = argc > 1 ? strtoul(argv[1], NULL, 0) : 2000;
	__u64 seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1, *tt, *ff;
	unsigned int tick = argc > 3 ? strtoul(argv[3], NULL, 0) : 100;
	unsigned int i, a, b, k;

	tt = calloc(runs, sizeof(*tt));
	ff = calloc(runs, sizeof(*ff));
	if (!runs || !tt || !ff)
		return 1;
	printf("# seqsim: %u runs per row, seed %llu, 1000 new flows/s, baseline error ratio 1%%,\n"
	       "# one evaluation per second, observed every %u ms\n", runs,
	       (unsigned long long)seed, tick);
	printf("\n## false rollbacks, identical canary, ramp 1/5/25/50%% x 300 s (1200 s)\n");
	printf("%-10s %-8s %-10s %-10s %s\n", "confidence", "margin", "rolled", "rate", "95% CI");
	for (a = 0; a < 2; a++)
		for (b = 0; b < 2; b++) {
			struct sim_gate_cfg c = { .margin = margins[b], .confidence = confs[a],
						  .flows_per_s = 1000, .base_rate = 0.01,
						  .canary_rate = 0.01, .weights = ramp,
						  .nweights = 4, .step_s = 300, .max_s = 1200,
						  .tick_ms = tick };
			unsigned int rej = 0;
			double lo, hi;

			for (i = 0; i < runs; i++)
				rej += sim_gate_run(&c, seed * 1000003 + a * 7919 + b * 104729 + i,
						    &ff[i]) > 0;
			wilson(rej, runs, &lo, &hi);
			printf("%-10.0f %-8.0f %-10u %-10.4f [%.4f, %.4f]  (allowed %.2f)\n",
			       confs[a] * 100, margins[b] * 100, rej, (double)rej / runs, lo, hi,
			       1 - confs[a]);
		}
	printf("\n## detection, confidence 99%%, margin 20%%, weight held, cap 3600 s\n");
	printf("%-6s %-7s %-8s %-10s %-10s %-12s %-12s\n", "canary", "weight", "caught",
	       "t_med(s)", "t_p90(s)", "flows_med", "flows_p90");
	for (a = 0; a < 2; a++)
		for (b = 0; b < 4; b++) {
			struct sim_gate_cfg c = { .margin = 0.2, .confidence = 0.99,
						  .flows_per_s = 1000, .base_rate = 0.01,
						  .canary_rate = 0.01 * mults[a], .weights = &ramp[b],
						  .nweights = 1, .max_s = 3600, .tick_ms = tick };
			unsigned int caught = 0, nr = runs / 4 ? runs / 4 : 1;

			for (i = 0; i < nr; i++) {
				__u64 f;
				__u64 t = sim_gate_run(&c, seed * 31 + a * 1000 + b * 100000 + i, &f);

				tt[i] = t ? (t + 999) / 1000 : 3601;
				ff[i] = t ? f : ~0ull;
				caught += t > 0;
			}
			qsort(tt, nr, sizeof(*tt), cmp_u);
			qsort(ff, nr, sizeof(*ff), cmp_u);
			printf("%-6s %-7s %3u/%-4u %-10llu %-10llu %-12llu %-12llu\n",
			       a ? "5x" : "2x", b == 0 ? "1%" : b == 1 ? "5%" : b == 2 ? "25%" : "50%",
			       caught, nr, (unsigned long long)tt[nr / 2],
			       (unsigned long long)tt[nr * 9 / 10], (unsigned long long)ff[nr / 2],
			       (unsigned long long)ff[nr * 9 / 10]);
		}
	printf("\n## total failure (every canary flow bad) at 5%%, confidence 99%%, margin 20%%\n");
	{
		struct sim_gate_cfg c = { .margin = 0.2, .confidence = 0.99, .flows_per_s = 1000,
					  .base_rate = 0.01, .canary_rate = 1,
					  .weights = &ramp[1], .nweights = 1, .max_s = 600,
					  .tick_ms = tick };
		unsigned int nr = runs / 4 ? runs / 4 : 1;

		for (k = 0; k < nr; k++) {
			__u64 t = sim_gate_run(&c, seed * 17 + k, &ff[k]);

			tt[k] = t ? t : 601000;
		}
		qsort(tt, nr, sizeof(*tt), cmp_u);
		qsort(ff, nr, sizeof(*ff), cmp_u);
		printf("time to rollback: median %llu ms, max %llu ms; canary flows median %llu, max %llu\n",
		       (unsigned long long)tt[nr / 2], (unsigned long long)tt[nr - 1],
		       (unsigned long long)ff[nr / 2], (unsigned long long)ff[nr - 1]);
	}
	free(tt);
	free(ff);
	return 0;
}
