// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Multiwindow, multi-burn-rate error-budget rules over cumulative counters. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "burn.h"

#define HOUR_MS 3600000ull

void burn_default_rules(struct burn_cfg *c, uint64_t time_base_ms)
{
	static const struct { double long_h, short_h, factor; } wb[] = {
		{ 1, 5.0 / 60, 14.4 }, { 6, 0.5, 6 }, { 72, 6, 1 },
	};
	unsigned int i;

	c->nrules = 3;
	for (i = 0; i < 3; i++) {
		c->rule[i].long_ms = (uint64_t)(wb[i].long_h * time_base_ms);
		c->rule[i].short_ms = (uint64_t)(wb[i].short_h * time_base_ms);
		c->rule[i].factor = wb[i].factor;
	}
}

static void fmt_dur(uint64_t ms, char *buf, unsigned int len)
{
	static const struct { uint64_t ms; const char *u; } units[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
	};
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (ms >= units[i].ms && ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 units[i].u);
			return;
		}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

void burn_rule_name(const struct burn_rule *r, char *buf, unsigned int len)
{
	char l[16], s[16];

	fmt_dur(r->long_ms, l, sizeof(l));
	fmt_dur(r->short_ms, s, sizeof(s));
	snprintf(buf, len, "%gx over %s/%s", r->factor, l, s);
}

double burn_rate(uint64_t bad, uint64_t total, double slo)
{
	if (!total)
		return NAN;
	return ((double)bad / (double)total) / (1.0 - slo);
}

double burn_budget_remaining(uint64_t bad, uint64_t total, double slo)
{
	return total ? 1.0 - burn_rate(bad, total, slo) : 1.0;
}

void burn_track_init(struct burn_track *t, const struct burn_cfg *c)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->nwin = 2 * c->nrules;
	for (i = 0; i < c->nrules; i++) {
		t->w[2 * i].len_ms = c->rule[i].long_ms;
		t->w[2 * i + 1].len_ms = c->rule[i].short_ms;
	}
	for (i = 0; i < t->nwin; i++) {
		t->w[i].step_ms = t->w[i].len_ms / BURN_SLOTS;
		if (!t->w[i].step_ms)
			t->w[i].step_ms = 1;
	}
}

static void push(struct burn_window *w, const struct burn_snap *s)
{
	w->head = (w->head + 1) % (BURN_SLOTS + 1);
	w->s[w->head] = *s;
	if (w->n < BURN_SLOTS + 1)
		w->n++;
}

void burn_track_add(struct burn_track *t, uint64_t now_ms, uint64_t bad,
		    uint64_t total)
{
	unsigned int i;

	if (!t->started) {
		t->started = true;
		t->off_bad = -(int64_t)bad;
		t->off_total = -(int64_t)total;
	} else if (bad < t->last_raw_bad || total < t->last_raw_total) {
		/* maps recreated, counting from 0 again: continue from what
		 * was counted so far */
		t->off_bad = (int64_t)t->cur.bad;
		t->off_total = (int64_t)t->cur.total;
	}
	t->last_raw_bad = bad;
	t->last_raw_total = total;
	t->cur.t_ms = now_ms;
	t->cur.bad = (uint64_t)((int64_t)bad + t->off_bad);
	t->cur.total = (uint64_t)((int64_t)total + t->off_total);
	if (t->cur.bad > t->cur.total)
		t->cur.bad = t->cur.total;
	for (i = 0; i < t->nwin; i++) {
		struct burn_window *w = &t->w[i];

		if (!w->n || now_ms >= w->s[w->head].t_ms + w->step_ms)
			push(w, &t->cur);
	}
}

void burn_track_window(const struct burn_track *t, unsigned int i,
		       uint64_t *bad, uint64_t *total, uint64_t *span_ms)
{
	const struct burn_window *w = &t->w[i];
	const struct burn_snap *from = NULL;
	uint64_t start = t->cur.t_ms > w->len_ms ? t->cur.t_ms - w->len_ms : 0;
	unsigned int k;

	*bad = *total = *span_ms = 0;
	if (!w->n)
		return;
	/* oldest snapshot inside the window; all older: the newest */
	for (k = 0; k < w->n; k++) {
		unsigned int idx = (w->head + BURN_SLOTS + 1 - (w->n - 1 - k)) %
				   (BURN_SLOTS + 1);

		if (w->s[idx].t_ms >= start) {
			from = &w->s[idx];
			break;
		}
	}
	if (!from)
		from = &w->s[w->head];
	*bad = t->cur.bad - from->bad;
	*total = t->cur.total - from->total;
	*span_ms = t->cur.t_ms - from->t_ms;
}

void burn_judge(const struct burn_track *t, const struct burn_cfg *c,
		struct burn_eval *e)
{
	unsigned int i;
	bool all = true;

	memset(e, 0, sizeof(*e));
	e->fired = -1;
	for (i = 0; i < c->nrules; i++) {
		uint64_t lb, lt, sb, st, span;

		burn_track_window(t, 2 * i, &lb, &lt, &span);
		burn_track_window(t, 2 * i + 1, &sb, &st, &span);
		e->rule[i].long_total = lt;
		e->rule[i].short_total = st;
		e->rule[i].long_burn = lt ? burn_rate(lb, lt, c->slo) : 0;
		e->rule[i].short_burn = st ? burn_rate(sb, st, c->slo) : 0;
		e->rule[i].evaluable = lt >= c->min_events && st >= c->min_events && lt && st;
		e->rule[i].fires = e->rule[i].evaluable &&
				   e->rule[i].long_burn > c->rule[i].factor &&
				   e->rule[i].short_burn > c->rule[i].factor;
		if (e->rule[i].long_burn > e->max_burn)
			e->max_burn = e->rule[i].long_burn;
		if (e->rule[i].fires && e->fired < 0)
			e->fired = i;
		if (!e->rule[i].evaluable)
			all = false;
	}
	if (e->fired >= 0)
		e->verdict = BURN_FAIL;
	else
		e->verdict = all && c->nrules ? BURN_PASS : BURN_INCONCLUSIVE;
}

void burn_explain(const struct burn_eval *canary, const struct burn_eval *baseline,
		  const struct burn_cfg *c, char *buf, unsigned int len)
{
	char rule[96] = "";
	int i = canary->fired >= 0 ? canary->fired : 0, n;

	if (c->nrules)
		burn_rule_name(&c->rule[i], rule, sizeof(rule));
	switch (canary->verdict) {
	case BURN_FAIL:
		n = snprintf(buf, len, "canary burns its error budget %.1fx (long) and "
			     "%.1fx (short) against the %s rule, SLO %g%%",
			     canary->rule[i].long_burn, canary->rule[i].short_burn, rule,
			     c->slo * 100);
		break;
	case BURN_PASS:
		n = snprintf(buf, len, "canary burns at most %.2fx (limit %gx for %s), "
			     "SLO %g%%", canary->max_burn, c->rule[0].factor, rule,
			     c->slo * 100);
		break;
	default:
		n = snprintf(buf, len, "too few flows for a burn rate (%llu in the "
			     "shortest window, need %llu)",
			     (unsigned long long)canary->rule[0].short_total,
			     (unsigned long long)c->min_events);
		break;
	}
	if (n < 0 || (unsigned int)n >= len || !baseline)
		return;
	if (canary->verdict == BURN_FAIL && baseline->verdict == BURN_FAIL)
		snprintf(buf + n, len - n, "; the baseline burns %.1fx as well: the "
			 "service itself is over budget", baseline->rule[i].long_burn);
	else if (canary->verdict == BURN_FAIL)
		snprintf(buf + n, len - n, "; the baseline burns %.2fx",
			 baseline->rule[i].long_burn);
}
