// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The one-sided (or two-sided) mixture test of seqtest.h. Per increment the
 * binomial log likelihood ratio of each alternative against the null's
 * boundary p0 is added; log M is the log of the equally weighted mixture.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "seqtest.h"

#define SEQ_STEP	1.25	/* ratio between neighbouring alternatives */

static int grid_size(const struct seq_test *t)
{
	return t->two_sided ? 2 * SEQ_GRID : SEQ_GRID;
}

/* Alternative j's rate ratio. */
static double ratio(const struct seq_test *t, int j)
{
	if (j < SEQ_GRID)
		return (1 + t->margin) * pow(SEQ_STEP, j + 1);
	return (1 + t->margin) * pow(SEQ_STEP, -(j - SEQ_GRID + 1));
}

/* Probability that a bad event is the canary's, for rate ratio r. */
static double share(double r, double rho)
{
	return r * rho / (r * rho + 1 - rho);
}

static double mixture(const struct seq_test *t)
{
	int j, n = grid_size(t);
	double mx = -INFINITY, s = 0;

	for (j = 0; j < n; j++)
		if (t->l[j] > mx)
			mx = t->l[j];
	for (j = 0; j < n; j++)
		s += exp(t->l[j] - mx);
	return mx + log(s / n);
}

int seq_init(struct seq_test *t, double margin, double alpha, bool two_sided)
{
	if (!(margin >= 0 && margin < 1000) || !(alpha > 0 && alpha < 1))
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->margin = margin;
	t->alpha = alpha;
	t->two_sided = two_sided;
	t->log_m = 0;	/* M starts at 1 */
	return 0;
}

bool seq_update(struct seq_test *t, __u64 x_c, __u64 x_b, double rho)
{
	double p0, lp0, lq0;
	int j, n = grid_size(t);

	if (t->rejected)
		return true;
	if (!(rho > 0 && rho < 1) || (!x_c && !x_b))
		return false;
	p0 = share(1 + t->margin, rho);
	lp0 = log(p0);
	lq0 = log1p(-p0);
	for (j = 0; j < n; j++) {
		double p = share(ratio(t, j), rho);

		t->l[j] += (double)x_c * (log(p) - lp0) +
			   (double)x_b * (log1p(-p) - lq0);
	}
	t->x_c += x_c;
	t->x_b += x_b;
	t->increments++;
	t->log_m = mixture(t);
	if (t->log_m >= seq_threshold(t))
		t->rejected = true;
	return t->rejected;
}

double seq_threshold(const struct seq_test *t)
{
	return -log(t->alpha);
}
