/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Error-budget burn rate (Google SRE Workbook, "Alerting on SLOs",
 * multiwindow multi-burn-rate). burn = error ratio / (1 - SLO): 1 spends
 * the budget exactly over the SLO period. A rule fires when both its long
 * and its short window burn faster than its factor.
 *
 * The workbook's pairs (14.4x over 1 h / 5 m, 6x over 6 h / 30 m, 1x over
 * 3 d / 6 h) are meant for a 30-day period; a rollout step lasts minutes,
 * so the windows are scaled by time_base / 1 h (the factors, being rates,
 * stay). Windows reach back at most to when tracking started (the canary's
 * first traffic), and a window with fewer than min_events flows makes the
 * verdict inconclusive, never a pass. Burn rules are absolute guards with no
 * peeking control: they stand beside the sequential comparison, not in its
 * place.
 */
#ifndef SLUICED_BURN_H
#define SLUICED_BURN_H

#include <stdbool.h>
#include <stdint.h>

#define BURN_MAX_RULES	4
#define BURN_SLOTS	24	/* snapshots per window: +-1/24 of its length */

struct burn_rule {
	uint64_t long_ms, short_ms;
	double factor;
};

struct burn_cfg {
	double slo;			/* (0, 1), e.g. 0.999 */
	uint64_t min_events;		/* per window, for a verdict */
	unsigned int nrules;
	struct burn_rule rule[BURN_MAX_RULES];
};

/* The workbook's three pairs with 1 h scaled to time_base_ms. */
void burn_default_rules(struct burn_cfg *c, uint64_t time_base_ms);
/* A rule as text: "14.4x over 1h/5m" (windows in the largest whole unit). */
void burn_rule_name(const struct burn_rule *r, char *buf, unsigned int len);

/* bad / total / (1 - slo); NaN without events. */
double burn_rate(uint64_t bad, uint64_t total, double slo);
/* Budget left over a window with these counts: 1 - burn (1 = untouched,
 * <= 0 = exhausted). 1 without events. */
double burn_budget_remaining(uint64_t bad, uint64_t total, double slo);

struct burn_snap {
	uint64_t t_ms, bad, total;
};

struct burn_window {
	uint64_t len_ms, step_ms;
	unsigned int n, head;		/* ring of the last BURN_SLOTS+1 */
	struct burn_snap s[BURN_SLOTS + 1];
};

/* Sliding windows over one stream of cumulative (bad, total) counters. */
struct burn_track {
	bool started;
	int64_t off_bad, off_total;	/* cumulative = raw + off (rebases) */
	uint64_t last_raw_bad, last_raw_total;
	struct burn_snap cur;		/* rebased cumulative, last update */
	unsigned int nwin;
	struct burn_window w[2 * BURN_MAX_RULES];
};

void burn_track_init(struct burn_track *t, const struct burn_cfg *c);
/* Feed the cumulative counters as read at now_ms (monotonic in time). A
 * counter that went backwards (maps recreated) rebases, never goes
 * negative. */
void burn_track_add(struct burn_track *t, uint64_t now_ms, uint64_t bad,
		    uint64_t total);
/* Counts in window i (0: rule 0 long, 1: rule 0 short, ...) at the last
 * update, and the span they cover. */
void burn_track_window(const struct burn_track *t, unsigned int i,
		       uint64_t *bad, uint64_t *total, uint64_t *span_ms);

enum burn_verdict { BURN_PASS, BURN_FAIL, BURN_INCONCLUSIVE };

struct burn_eval {
	enum burn_verdict verdict;
	double max_burn;		/* highest long-window burn of any rule */
	int fired;			/* first rule that fired, or -1 */
	struct {
		double long_burn, short_burn;
		uint64_t long_total, short_total;
		bool evaluable, fires;
	} rule[BURN_MAX_RULES];
};

/* Judge the track against the rules. */
void burn_judge(const struct burn_track *t, const struct burn_cfg *c,
		struct burn_eval *e);
/* One line for the audit trail: the canary's verdict with its numbers, and
 * the baseline's burn (NULL: unknown) so that a service already over budget
 * on both variants says so. */
void burn_explain(const struct burn_eval *canary, const struct burn_eval *baseline,
		  const struct burn_cfg *c, char *buf, unsigned int len);

#endif
