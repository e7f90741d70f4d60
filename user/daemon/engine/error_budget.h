/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What is left of a service's error budget over its SLO window (the
 * plan's `budget:`), and the per-service freeze it drives: budget left
 * = 1 - error ratio / (1 - SLO) over the window (1 untouched, <= 0
 * exhausted). The error ratio comes from sluiced's per-minute samples of
 * the datapath counters (bad events per new flow, both variants) or from
 * a Prometheus query. Exhausted freezes the service (no rollout starts,
 * a running one holds, like the incident freeze); budget back lifts it.
 * Too few events, or a measurement that failed, decide nothing: the
 * freeze stays as it was.
 */
#ifndef SLUICED_BUDGET_H
#define SLUICED_BUDGET_H

#include <stdbool.h>
#include <stdint.h>
#include "plan.h"
#include "obs.h"

#define BUDGET_WHO	"error budget"

struct budget_left {
	bool known;		/* enough events for a verdict */
	double remaining;	/* 1 - burn over the window */
	double error_ratio;
	uint64_t bad, total;	/* datapath source; 0 for Prometheus */
	uint64_t span_ms;	/* what the samples cover (datapath) */
	char text[ENG_REASON_LEN];	/* one line with the numbers */
};

/* The budget's SLO (default 0.999), window (30 d), min events (100). */
double budget_slo(const struct sluice_plan_budget *b);
uint64_t budget_window_ms(const struct sluice_plan_budget *b);

void budget_from_counts(const struct sluice_plan_budget *b, uint64_t bad,
			uint64_t total, uint64_t span_ms, struct budget_left *out);
void budget_from_ratio(const struct sluice_plan_budget *b, double ratio,
		       struct budget_left *out);

/*
 * Fold a verdict into the service's freeze: an exhausted budget freezes
 * (reason with the numbers, since now_ms), budget back lifts it, an
 * unknown one leaves it. Returns true when f->frozen changed.
 */
bool budget_freeze_update(struct eng_freeze *f, const struct budget_left *l,
			  uint64_t now_ms);

#endif
