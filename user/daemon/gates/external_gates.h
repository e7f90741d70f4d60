/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The shell's side of external gates: for every service with a rollout,
 * start each Prometheus / command gate's measurement when its interval is
 * due (asynchronously: httpc, cmdrun), fold the burn-rate gates' windows
 * from the observed counters, and hand each gate's latest result to the
 * engine in obs->ext[] (a new seq per finished measurement; the engine
 * evaluates each seq once). A measurement still running when the next is
 * due is not doubled; one that outlives its step is dropped.
 */
#ifndef SLUICED_EXTGATE_H
#define SLUICED_EXTGATE_H

#include "obs.h"
#include "burn.h"
#include "httpc.h"
#include "cmdrun.h"

struct extgate;

/* What the shell knows of the rollout this tick. */
struct extgate_ctx {
	const char *service;
	__u64 rollout_id;
	unsigned int attempt;
	int step;			/* -1: not progressing (nothing starts) */
	const char *rings;		/* {{ring}}: names of the rings with canary
					 * traffic, '|'-joined (for =~) */
};

struct extgate *extgate_new(struct httpc *hc, struct cmdrun *cr,
			    const char *prom_url);
void extgate_free(struct extgate *x);

/* Does the plan have a gate measured here (Prometheus, command, burn
 * rate)? Plans without one need no slots. */
bool extgate_plan_uses(const struct sluice_plan *plan);
void extgate_tick(struct extgate *x, const struct sluice_plan *plan,
		  const struct extgate_ctx *ctx, const struct eng_obs *obs,
		  __u64 now_ms, struct eng_ext ext[SLUICE_PLAN_MAX_GATES]);
/* The rollout ended or the service went: cancel and drop its state. */
void extgate_forget(struct extgate *x, const char *service);
/* Measurements in flight (tests, benchmarks). */
unsigned int extgate_pending(const struct extgate *x);

/* The latest burn-rate judgment of a service's first burn gate, for
 * /metrics; false when it has none. */
bool extgate_burn(const struct extgate *x, const char *service,
		  struct burn_cfg *cfg, struct burn_eval *canary);

/* The burn configuration of a plan (budget with defaults filled). */
void extgate_burn_cfg(const struct sluice_plan *plan, struct burn_cfg *c);

#endif
