// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The plan's pre_step_hook, run for the engine: while a rollout's state
 * has hook_pending, the hook (sh -c) runs once per hook_seq through
 * cmdrun (asynchronous, killed at pre_step_timeout), with the service,
 * rollout, step and its weight in its environment; its outcome goes to
 * the engine in obs->hook. Exit 0 passes; any other status, a signal or
 * the timeout is a failure with its reason (the rollout pauses). A
 * restart runs a pending hook again: hooks must be safe to repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"
#include "cmdrun.h"

struct run {
	struct run *next;
	struct prestep *p;
	char service[SLUICE_NAME_LEN];
	__u64 rollout_id, seq;		/* what this run is for */
	unsigned int attempt;
	bool busy, done;
	int64_t id;
	struct eng_hook res;
};

struct prestep {
	struct cmdrun *cr;
	struct run *runs;
};

struct prestep *prestep_new(struct cmdrun *cr)
{
	struct prestep *p = calloc(1, sizeof(*p));

	if (p)
		p->cr = cr;
	return p;
}

static void cancel(struct run *u)
{
	if (u->busy)
		cmdrun_cancel(u->p->cr, u->id);
	u->busy = u->done = false;
}

void prestep_free(struct prestep *p)
{
	if (!p)
		return;
	while (p->runs) {
		struct run *u = p->runs;

		p->runs = u->next;
		cancel(u);
		free(u);
	}
	free(p);
}

void prestep_forget(struct prestep *p, const char *service)
{
	struct run **pp, *u;

	for (pp = p ? &p->runs : NULL; pp && *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->service, service)) {
			u = *pp;
			*pp = u->next;
			cancel(u);
			free(u);
			return;
		}
}

static void on_done(const struct cmd_result *r, void *arg)
{
	struct run *u = arg;

	if (r->err == -ECANCELED)
		return;
	u->busy = false;
	u->done = true;
	u->res.seq = u->seq;
	u->res.status = ENG_EXT_ERROR;
	if (r->err == -ETIMEDOUT)
		snprintf(u->res.reason, sizeof(u->res.reason), "timed out after %.0f ms (killed)",
			 r->elapsed_ms);
	else if (r->err)
		snprintf(u->res.reason, sizeof(u->res.reason), "cannot run: %.100s",
			 r->reason && *r->reason ? r->reason : strerror(-r->err));
	else if (!r->exited)
		snprintf(u->res.reason, sizeof(u->res.reason), "killed by signal %d (%s)",
			 r->signal, strsignal(r->signal));
	else if (r->status)
		snprintf(u->res.reason, sizeof(u->res.reason), "exit status %d", r->status);
	else {
		u->res.status = ENG_EXT_OK;
		snprintf(u->res.reason, sizeof(u->res.reason), "exit status 0 in %.0f ms",
			 r->elapsed_ms);
	}
}

static void start(struct run *u, const struct rollout *r)
{
	const struct sluice_plan *plan = r->plan;
	const struct sluice_plan_step *step = &plan->steps[r->st.step];
	char *argv[] = { "/bin/sh", "-c", (char *)plan->pre_step_hook, NULL };
	char buf[8][SLUICE_NAME_LEN + 32], *env[9];
	int i = 0;

	snprintf(buf[i], sizeof(buf[i]), "SLUICE_SERVICE=%s", r->service), i++;
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_ROLLOUT_ID=%llu",
		 (unsigned long long)r->st.rollout_id), i++;
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_ATTEMPT=%u", r->st.attempt), i++;
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_STEP=%d", r->st.step), i++;
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_STEPS=%u", plan->nsteps), i++;
	/* ring 0's share; SLUICE_WEIGHT_BP the exact basis points */
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_WEIGHT=%u.%02u", step->weight[0] / 100,
		 step->weight[0] % 100), i++;
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_WEIGHT_BP=%u", step->weight[0]), i++;
	snprintf(buf[i], sizeof(buf[i]), "SLUICE_STEP_KIND=%s",
		 sluice_step_kind_name(step->kind)), i++;
	for (int k = 0; k < i; k++)
		env[k] = buf[k];
	env[i] = NULL;
	u->rollout_id = r->st.rollout_id;
	u->attempt = r->st.attempt;
	u->seq = r->st.hook_seq;
	u->done = false;
	u->id = cmdrun_start(u->p->cr, argv, env, NULL, (unsigned int)plan->pre_step_timeout_ms,
			     on_done, u);
	u->busy = u->id > 0;
	if (!u->busy) {
		u->done = true;
		u->res.seq = u->seq;
		u->res.status = ENG_EXT_ERROR;
		snprintf(u->res.reason, sizeof(u->res.reason), "cannot start: %s",
			 strerror((int)-u->id));
	}
}

void prestep_tick(struct prestep *p, const struct rollout *r, struct eng_obs *obs)
{
	bool want = r->st.hook_pending && r->st.phase == ENG_PROGRESSING &&
		    r->plan->pre_step_hook[0] && r->st.step >= 0 &&
		    (unsigned int)r->st.step < r->plan->nsteps;
	struct run *u;

	memset(&obs->hook, 0, sizeof(obs->hook));
	if (!p)
		return;
	for (u = p->runs; u; u = u->next)
		if (!strcmp(u->service, r->service))
			break;
	if (!u && !want)
		return;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return;
		u->p = p;
		snprintf(u->service, sizeof(u->service), "%s", r->service);
		u->next = p->runs;
		p->runs = u;
	}
	if (!want) {
		cancel(u);	/* aborted, rolled back, promoted past it */
		return;
	}
	if (u->rollout_id != r->st.rollout_id || u->attempt != r->st.attempt ||
	    u->seq != r->st.hook_seq || (!u->busy && !u->done)) {
		cancel(u);
		start(u, r);
	}
	if (u->done)
		obs->hook = u->res;
}
