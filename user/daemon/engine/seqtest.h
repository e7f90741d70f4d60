/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The anytime-valid one-sided mixture test of two count streams
 * (/work/shared/notes/gates.md; Lindon & Malek, NeurIPS 2022): is the
 * canary's bad-event rate above (1 + margin) times the baseline's?
 *
 * Fed one increment at a time (the counts of one evaluation interval):
 * x_c, x_b bad events of canary and baseline, and the canary's exposure
 * share rho of that increment (its new flows over all new flows, or the
 * configured weight; it must not depend on the increment's bad events).
 * Under the null, given n = x_c + x_b, x_c is at most Binomial(n, p0) with
 * p0 = (1+d) rho / ((1+d) rho + 1 - rho). For each alternative ratio
 * r_j = (1+d) 1.25^j, j = 1..12, the test keeps the log likelihood ratio
 * l_j of p_j = r_j rho / (r_j rho + 1 - rho) against p0; the statistic is
 * log M = logsumexp_j(log(1/12) + l_j). M is a nonnegative supermartingale
 * under the null starting at 1, so P(log M ever >= log(1/alpha)) <= alpha
 * for unlimited looks (Ville's inequality): reject then, and only then.
 *
 * Two-sided (sample-ratio check): the grid also holds r_j = 1.25^-j, the
 * weights are 1/24, margin 0; x = new flows instead of bad events.
 *
 * Pure arithmetic, no allocation: the state is plain data to persist.
 */
#ifndef SLUICED_SEQTEST_H
#define SLUICED_SEQTEST_H

#include <stdbool.h>
#include <linux/types.h>

#define SEQ_GRID	12		/* alternatives per side */

struct seq_test {
	double margin;			/* d: tolerated relative increase */
	double alpha;			/* false-rejection bound, (0, 1) */
	bool two_sided;
	double l[2 * SEQ_GRID];		/* log likelihood ratio per
					 * alternative: [0, SEQ_GRID) above,
					 * [SEQ_GRID, 2 SEQ_GRID) below */
	double log_m;			/* the statistic, log M */
	__u64 x_c, x_b;			/* events fed so far */
	__u64 increments;		/* updates that carried events */
	bool rejected;			/* log_m reached log(1/alpha) once:
					 * sticky (the bound is for ever
					 * reaching it) */
};

/* margin >= 0, alpha in (0, 1). Returns 0 or -EINVAL. */
int seq_init(struct seq_test *t, double margin, double alpha, bool two_sided);

/*
 * One increment. rho in [0, 1]: with rho 0 or 1 (one side had no
 * exposure) the increment carries no evidence and is ignored, as is an
 * increment without events. Returns true when the test has rejected
 * (now or before).
 */
bool seq_update(struct seq_test *t, __u64 x_c, __u64 x_b, double rho);

/* log(1/alpha): the rejection threshold of log M. */
double seq_threshold(const struct seq_test *t);

#endif /* SLUICED_SEQTEST_H */
