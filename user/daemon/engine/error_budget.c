// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Error budget left over the SLO window, and the freeze it drives. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "error_budget.h"

/* reasons are cut at their buffer size on purpose */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define DAY_MS 86400000ull

double budget_slo(const struct sluice_plan_budget *b)
{
	return b->slo > 0 && b->slo < 1 ? b->slo : 0.999;
}

uint64_t budget_window_ms(const struct sluice_plan_budget *b)
{
	return b->window_ms ? b->window_ms : 30 * DAY_MS;
}

static void window_name(uint64_t ms, char *buf, size_t len)
{
	if (ms % DAY_MS == 0)
		snprintf(buf, len, "%llud", (unsigned long long)(ms / DAY_MS));
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
}

static void judge(const struct sluice_plan_budget *b, double ratio, struct budget_left *out)
{
	double slo = budget_slo(b);

	out->known = true;
	out->error_ratio = ratio;
	out->remaining = 1.0 - ratio / (1.0 - slo);
}

void budget_from_counts(const struct sluice_plan_budget *b, uint64_t bad,
			uint64_t total, uint64_t span_ms, struct budget_left *out)
{
	uint64_t min = b->min_events ? b->min_events : 100;
	char w[16], s[16];

	memset(out, 0, sizeof(*out));
	out->bad = bad;
	out->total = total;
	out->span_ms = span_ms;
	window_name(budget_window_ms(b), w, sizeof(w));
	window_name(span_ms >= 60000 ? span_ms / 60000 * 60000 : 60000, s, sizeof(s));
	if (total < min) {
		snprintf(out->text, sizeof(out->text),
			 "too few flows for the budget (%llu over %s, need %llu)",
			 (unsigned long long)total, s, (unsigned long long)min);
		return;
	}
	judge(b, (double)bad / (double)total, out);
	snprintf(out->text, sizeof(out->text),
		 "%.1f%% budget left (SLO %g%%, %s): %llu bad of %llu flows in %s of samples",
		 out->remaining * 100, budget_slo(b) * 100, w, (unsigned long long)bad,
		 (unsigned long long)total, s);
}

void budget_from_ratio(const struct sluice_plan_budget *b, double ratio,
		       struct budget_left *out)
{
	char w[16];

	memset(out, 0, sizeof(*out));
	window_name(budget_window_ms(b), w, sizeof(w));
	if (!isfinite(ratio) || ratio < 0 || ratio > 1) {
		snprintf(out->text, sizeof(out->text),
			 "the error ratio query gave %g, not a ratio in [0, 1]", ratio);
		return;
	}
	judge(b, ratio, out);
	snprintf(out->text, sizeof(out->text),
		 "%.1f%% budget left (SLO %g%%, %s): error ratio %.4g%% (Prometheus)",
		 out->remaining * 100, budget_slo(b) * 100, w, ratio * 100);
}

bool budget_freeze_update(struct eng_freeze *f, const struct budget_left *l,
			  uint64_t now_ms)
{
	bool exhausted;

	if (!l->known)
		return false;
	exhausted = l->remaining <= 1e-9;	/* exactly spent, up to rounding */
	if (exhausted) {
		/* the numbers move while frozen: keep the reason current */
		snprintf(f->reason, sizeof(f->reason), "budget exhausted: %s", l->text);
		snprintf(f->who, sizeof(f->who), "%s", BUDGET_WHO);
	}
	if (exhausted == f->frozen)
		return false;
	f->frozen = exhausted;
	f->since_ms = now_ms;
	if (!exhausted)
		snprintf(f->reason, sizeof(f->reason), "budget back: %s", l->text);
	return true;
}
