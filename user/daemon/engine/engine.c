// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rollout state machine (engine.h). Level-triggered: each tick first
 * reconciles what the maps show with what the state wants (re-asking for a
 * write a crash interrupted, or noticing that an operator acted), then
 * accrues hold time, evaluates the due gates, and advances when the hold
 * is done and every gate passed. Time only ever comes in as now_ms.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"

/* Status lines and event texts are cut at their buffer size on purpose. */
#ifndef __clang__	/* clang has no such warning, and would warn of that */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static const char ENGINE_WHO[] = "engine";

const char *eng_phase_name(enum eng_phase p)
{
	static const char *const n[] = { "none", "pending", "progressing", "paused",
					 "promoted", "rolled_back", "aborted" };

	return (unsigned int)p < 7 ? n[p] : "?";
}

const char *eng_pause_reason_name(enum eng_pause_reason r)
{
	static const char *const n[] = { "none", "command", "pause step",
					 "gate inconclusive", "gate errors",
					 "gate failed", "operator weight",
					 "precondition", "pre-step hook",
					 "canary changed", "split mismatch" };

	return (unsigned int)r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

const char *eng_event_type_name(enum eng_event_type t)
{
	static const char *const n[] = { "start", "step", "gate", "pause", "resume",
					 "freeze", "unfreeze", "promote", "rollback",
					 "abort", "retry", "operator", "error", "health",
					 "hook", "canary_change" };

	return (unsigned int)t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

const char *eng_action_kind_name(enum eng_action_kind k)
{
	static const char *const n[] = { "set_weights", "revert", "resume_kill",
					 "cutover", "promote", "undo" };

	return (unsigned int)k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

bool eng_terminal(enum eng_phase p)
{
	return p == ENG_PROMOTED || p == ENG_ROLLED_BACK || p == ENG_ABORTED;
}

static bool active(enum eng_phase p)
{
	return p == ENG_PROGRESSING || p == ENG_PAUSED;
}

void eng_state_init(struct eng_state *st, const char *service)
{
	memset(st, 0, sizeof(*st));
	st->version = ENG_STATE_VERSION;
	snprintf(st->service, sizeof(st->service), "%s", service ? service : "");
	st->step = -1;
	snprintf(st->status, sizeof(st->status), "no rollout");
}

/* "2026-12-01T21:44:05Z" */
static void fmt_time(char *buf, size_t len, __u64 ms)
{
	time_t t = ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_dur(char *buf, size_t len, __u64 ms)
{
	__u64 s = (ms + 999) / 1000;

	if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum%02llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
}

static void fmt_weights(char *buf, size_t len, const __u16 *w)
{
	size_t n = 0;
	int r;

	for (r = 1; r < SLUICE_MAX_RINGS; r++)
		if (w[r] != w[0])
			break;
	if (r == SLUICE_MAX_RINGS) {
		snprintf(buf, len, "%u.%02u%%", w[0] / 100, w[0] % 100);
		return;
	}
	buf[0] = 0;
	for (r = 0; r < SLUICE_MAX_RINGS && n < len; r++)
		n += snprintf(buf + n, len - n, "%sring%d %u.%02u%%", r ? ", " : "", r,
			      w[r] / 100, w[r] % 100);
}

/* ---- output ------------------------------------------------------------- */

static struct eng_event *event(struct eng_out *out, const struct eng_state *st,
			       enum eng_event_type type, const char *who, __u64 now_ms,
			       const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct eng_event *event(struct eng_out *out, const struct eng_state *st,
			       enum eng_event_type type, const char *who, __u64 now_ms,
			       const char *fmt, ...)
{
	struct eng_event *ev;
	va_list ap;

	out->changed = true;
	if (out->nevents >= ENG_MAX_EVENTS)
		return NULL;
	ev = &out->events[out->nevents++];
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->rollout_id = st->rollout_id;
	ev->attempt = st->attempt;
	ev->step = st->step;
	ev->at_ms = now_ms;
	ev->gate = -1;
	snprintf(ev->who, sizeof(ev->who), "%s", who && *who ? who : ENGINE_WHO);
	va_start(ap, fmt);
	vsnprintf(ev->text, sizeof(ev->text), fmt, ap);
	va_end(ap);
	return ev;
}

static struct eng_action *action(struct eng_out *out, enum eng_action_kind kind)
{
	struct eng_action *a;

	if (out->nactions >= ENG_MAX_ACTIONS)
		return NULL;
	a = &out->actions[out->nactions++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	out->changed = true;
	return a;
}

static int cmd_err(struct eng_out *out, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cmd_err(struct eng_out *out, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	out->nactions = out->nevents = 0;
	out->changed = false;
	return -err;
}

static void set_phase(struct eng_state *st, enum eng_phase p, __u64 now_ms)
{
	if (st->phase != p)
		st->phase_since_ms = now_ms;
	st->phase = p;
}

static bool weights_equal(const __u16 *a, const __u16 *b)
{
	return !memcmp(a, b, sizeof(__u16) * SLUICE_MAX_RINGS);
}

static void ask_weights(const struct eng_state *st, struct eng_out *out)
{
	struct eng_action *a;

	if (st->want_cutover) {
		a = action(out, ENG_ACT_CUTOVER);
		if (a)
			a->variant = SLUICE_CANARY;
		return;
	}
	a = action(out, ENG_ACT_SET_WEIGHTS);
	if (a) {
		memcpy(a->weight, st->want_weight, sizeof(a->weight));
		a->ring_mask = (1u << SLUICE_MAX_RINGS) - 1;
	}
}

static bool frozen_env(const struct eng_env *env)
{
	return env && (env->global.frozen || env->service.frozen);
}

static const struct eng_freeze *freeze_of(const struct eng_env *env)
{
	return env->global.frozen ? &env->global : &env->service;
}

/* ---- status ------------------------------------------------------------- */

static void gate_wait_text(const struct sluice_plan *plan, const struct eng_state *st,
			   char *buf, size_t len)
{
	unsigned int i;

	if (st->canary_down) {
		snprintf(buf, len, "canary backends down (%u of %u) to come back",
			 st->canary_down, st->canary_active);
		return;
	}
	snprintf(buf, len, "the gates");
	for (i = 0; i < plan->ngates && i < st->ngates; i++) {
		const struct gate_state *gs = &st->gates[i];

		if (gs->last.outcome == GATE_PASS)
			continue;
		snprintf(buf, len, "gate '%s' (%s: %s)", plan->gates[i].name,
			 gate_outcome_name(gs->last.outcome),
			 gs->last.outcome == GATE_NONE ? "not evaluated yet" : gs->last.reason);
		return;
	}
}

static void update_status(const struct sluice_plan *plan, struct eng_state *st,
			  const struct eng_env *env, __u64 now_ms)
{
	char t[32], t2[32], w[96], held[24], hold[24], gw[280];
	const struct sluice_plan_step *step =
		st->step >= 0 && (unsigned int)st->step < plan->nsteps ? &plan->steps[st->step] : NULL;
	size_t n;

	fmt_time(t, sizeof(t), st->phase_since_ms);
	switch (st->phase) {
	case ENG_NONE:
		snprintf(st->status, sizeof(st->status), "no rollout");
		return;
	case ENG_PENDING:
		if (frozen_env(env)) {
			fmt_time(t2, sizeof(t2), freeze_of(env)->since_ms);
			snprintf(st->status, sizeof(st->status),
				 "pending: frozen (%s) by %s since %s; waiting since %s",
				 freeze_of(env)->reason, freeze_of(env)->who, t2, t);
		} else {
			snprintf(st->status, sizeof(st->status), "pending: %s; since %s",
				 st->end_reason[0] ? st->end_reason : "waiting to start", t);
		}
		return;
	case ENG_PROMOTED:
		snprintf(st->status, sizeof(st->status), "promoted at %s", t);
		return;
	case ENG_ROLLED_BACK:
	case ENG_ABORTED:
		snprintf(st->status, sizeof(st->status), "%s at %s%s: %s",
			 st->phase == ENG_ABORTED ? "aborted" : "rolled back", t,
			 st->by_operator ? " by the operator" : "", st->end_reason);
		return;
	case ENG_PAUSED:
		if (st->pause_reason == ENG_PAUSE_STEP && step && step->hold_ms) {
			fmt_dur(held, sizeof(held), step->hold_ms - (st->held_ms < step->hold_ms ?
								     st->held_ms : step->hold_ms));
			n = snprintf(st->status, sizeof(st->status),
				     "paused: pause step %d/%u, resumes by itself in %s (or `promote`); since %s",
				     st->step + 1, plan->nsteps, held, t);
		} else if (st->pause_reason == ENG_PAUSE_STEP) {
			n = snprintf(st->status, sizeof(st->status),
				     "paused: pause step %d/%u, waiting for `promote`; since %s",
				     st->step + 1, plan->nsteps, t);
		} else {
			n = snprintf(st->status, sizeof(st->status), "paused: %s%s%s%s%s; since %s",
				     eng_pause_reason_name(st->pause_reason),
				     st->pause_who[0] ? " by " : "", st->pause_who,
				     st->end_reason[0] ? ": " : "", st->end_reason, t);
		}
		if (frozen_env(env) && n < sizeof(st->status))
			snprintf(st->status + n, sizeof(st->status) - n, " (frozen: %s by %s)",
				 freeze_of(env)->reason, freeze_of(env)->who);
		return;
	case ENG_PROGRESSING:
		break;
	}
	if (!step) {
		snprintf(st->status, sizeof(st->status), "progressing; since %s", t);
		return;
	}
	if (st->hook_pending) {
		fmt_time(t2, sizeof(t2), st->hook_since_ms);
		fmt_weights(w, sizeof(w), step->weight);
		snprintf(st->status, sizeof(st->status),
			 "step %d/%u (%s): waiting for the pre-step hook since %s%s%s", st->step + 1,
			 plan->nsteps, w, t2, frozen_env(env) ? "; frozen: " : "",
			 frozen_env(env) ? freeze_of(env)->reason : "");
		return;
	}
	fmt_weights(w, sizeof(w), st->want_weight);
	fmt_dur(held, sizeof(held), st->held_ms < step->hold_ms ? st->held_ms : step->hold_ms);
	fmt_dur(hold, sizeof(hold), step->hold_ms);
	if (frozen_env(env)) {
		fmt_time(t2, sizeof(t2), freeze_of(env)->since_ms);
		snprintf(st->status, sizeof(st->status),
			 "frozen: %s by %s since %s; step %d/%u (%s) held %s of %s",
			 freeze_of(env)->reason, freeze_of(env)->who, t2, st->step + 1,
			 plan->nsteps, w, held, hold);
		return;
	}
	if (st->held_ms < step->hold_ms && !st->promote_pending) {
		fmt_time(t2, sizeof(t2), now_ms + (step->hold_ms - st->held_ms));
		snprintf(st->status, sizeof(st->status),
			 "holding step %d/%u (%s) until %s (held %s of %s)", st->step + 1,
			 plan->nsteps, w, t2, held, hold);
		return;
	}
	gate_wait_text(plan, st, gw, sizeof(gw));
	fmt_time(t2, sizeof(t2), st->waiting_since_ms ? st->waiting_since_ms : now_ms);
	snprintf(st->status, sizeof(st->status),
		 "step %d/%u (%s): hold done; waiting for %s since %s", st->step + 1,
		 plan->nsteps, w, gw, t2);
}

/* ---- transitions -------------------------------------------------------- */

static void gate_ctx_of(const struct eng_state *st, const struct eng_obs *obs,
			unsigned int i, struct gate_ctx *ctx)
{
	int v;

	memset(ctx, 0, sizeof(*ctx));
	ctx->index = i;
	ctx->mode = obs->mode;
	ctx->weight = st->want_weight;
	ctx->prev_weight = st->prev_weight;
	for (v = 0; v < SLUICE_VARIANTS; v++)
		ctx->lat_step_start[v] = st->lat_valid ? st->lat_step[v] : NULL;
	ctx->base_lat_before = st->base_before_valid ? st->base_lat_before : NULL;
}

/* The step's weights, gate bases and hold start: now (after its hook). */
static void apply_step(const struct sluice_plan *plan, struct eng_state *st,
		       const struct eng_obs *obs, const char *who, __u64 now_ms,
		       struct eng_out *out)
{
	int idx = st->step;
	const struct sluice_plan_step *step = &plan->steps[idx];
	struct gate_ctx ctx;
	char w[96], h[24];
	unsigned int i, b;
	int v;

	st->step_started_ms = now_ms;
	st->held_ms = 0;
	st->last_tick_ms = now_ms;
	st->hook_pending = false;
	/* latency bases: the baseline over the step that ends, the
	 * histograms where this one starts */
	if (st->lat_valid) {
		for (b = 0; b < SLUICE_LAT_BUCKETS; b++) {
			__u64 a = obs->health[SLUICE_BASELINE].lat[b];

			st->base_lat_before[b] = a >= st->lat_step[SLUICE_BASELINE][b] ?
						 a - st->lat_step[SLUICE_BASELINE][b] : 0;
		}
		st->base_before_valid = true;
	}
	for (v = 0; v < SLUICE_VARIANTS; v++)
		memcpy(st->lat_step[v], obs->health[v].lat, sizeof(st->lat_step[v]));
	st->lat_valid = true;
	if (step->kind != SLUICE_STEP_PAUSE) {
		memcpy(st->prev_weight, obs->weight, sizeof(st->prev_weight));
		memcpy(st->want_weight, step->weight, sizeof(st->want_weight));
		st->want_cutover = step->kind == SLUICE_STEP_CUTOVER;
		st->wrote = true;
		if (!weights_equal(obs->weight, st->want_weight))
			ask_weights(st, out);
	}
	for (i = 0; i < plan->ngates; i++) {
		gate_ctx_of(st, obs, i, &ctx);
		gate_step_begin(&plan->gates[i], &st->gates[i], &ctx, obs);
	}
	fmt_weights(w, sizeof(w), step->kind == SLUICE_STEP_PAUSE ? st->want_weight
								   : step->weight);
	fmt_dur(h, sizeof(h), step->hold_ms);
	if (step->kind == SLUICE_STEP_PAUSE) {
		set_phase(st, ENG_PAUSED, now_ms);
		st->pause_reason = ENG_PAUSE_STEP;
		event(out, st, ENG_EV_STEP, who, now_ms, "step %d/%u: pause %s (weights stay %s)",
		      idx + 1, plan->nsteps, step->hold_ms ? h : "until promote", w);
	} else {
		set_phase(st, ENG_PROGRESSING, now_ms);
		event(out, st, ENG_EV_STEP, who, now_ms, "step %d/%u: %s %s, hold %s",
		      idx + 1, plan->nsteps,
		      step->kind == SLUICE_STEP_CUTOVER ? "cutover to green," : "weight", w, h);
	}
}

static void begin_step(const struct sluice_plan *plan, struct eng_state *st,
		       const struct eng_obs *obs, int idx, const char *who,
		       __u64 now_ms, struct eng_out *out)
{
	st->step = idx;
	st->waiting_since_ms = 0;
	st->promote_pending = false;
	st->extend_step = false;
	st->pause_reason = ENG_PAUSE_NONE;
	st->pause_who[0] = 0;
	st->end_reason[0] = 0;
	st->hook_pending = false;
	if (plan->pre_step_hook[0] && plan->steps[idx].kind != SLUICE_STEP_PAUSE) {
		/* the weights wait for the hook (hook_wait) */
		st->hook_pending = true;
		st->hook_seq++;
		st->hook_since_ms = now_ms;
		st->step_started_ms = now_ms;
		st->held_ms = 0;
		set_phase(st, ENG_PROGRESSING, now_ms);
		event(out, st, ENG_EV_HOOK, who, now_ms,
		      "step %d/%u: running the pre-step hook before its weights (timeout %llus)",
		      idx + 1, plan->nsteps,
		      (unsigned long long)(plan->pre_step_timeout_ms + 999) / 1000);
		return;
	}
	apply_step(plan, st, obs, who, now_ms, out);
}

static void promote(const struct sluice_plan *plan, struct eng_state *st,
		    const struct eng_obs *obs, const char *who, const char *why,
		    __u64 now_ms, struct eng_out *out)
{
	struct eng_action *a = action(out, ENG_ACT_PROMOTE);

	st->promote_gen = obs->gen;
	st->hook_pending = false;
	if (a)
		a->gen = obs->gen;
	set_phase(st, ENG_PROMOTED, now_ms);
	st->promote_pending = st->promote_full = false;
	snprintf(st->end_reason, sizeof(st->end_reason), "%s", why);
	event(out, st, ENG_EV_PROMOTE, who, now_ms,
	      "promoted (%s): the canary pool becomes the baseline (decided on gen %u)",
	      why, obs->gen);
}

static void rollback(struct eng_state *st, enum eng_phase phase, const char *who,
		     bool by_operator, const char *why, __u64 now_ms, struct eng_out *out)
{
	if (!by_operator || phase == ENG_ABORTED) {
		action(out, ENG_ACT_REVERT);
		st->want_revert = true;
	}
	st->by_operator = by_operator;
	st->promote_pending = st->promote_full = false;
	st->resume_kill_pending = false;
	st->hook_pending = false;
	snprintf(st->end_reason, sizeof(st->end_reason), "%s", why);
	set_phase(st, phase, now_ms);
	event(out, st, phase == ENG_ABORTED ? ENG_EV_ABORT : ENG_EV_ROLLBACK, who, now_ms,
	      "%s: %s", phase == ENG_ABORTED ? "aborted" : "rolled back", why);
}

static void pause_for(struct eng_state *st, enum eng_pause_reason r, const char *who,
		      const char *why, __u64 now_ms, struct eng_out *out)
{
	set_phase(st, ENG_PAUSED, now_ms);
	st->pause_reason = r;
	snprintf(st->pause_who, sizeof(st->pause_who), "%s", who ? who : "");
	snprintf(st->end_reason, sizeof(st->end_reason), "%s", why ? why : "");
	event(out, st, ENG_EV_PAUSE, who, now_ms, "paused: %s%s%s",
	      eng_pause_reason_name(r), why && *why ? ": " : "", why ? why : "");
}

/* A precondition for starting; 0 or -errno with msg. */
static int can_start(const struct eng_obs *obs, char *msg, size_t len)
{
	if (!obs || !obs->exists) {
		snprintf(msg, len, "the service does not exist");
		return -ENOENT;
	}
	if (!obs->nbackends[SLUICE_CANARY]) {
		snprintf(msg, len, "the canary pool has no active backend");
		return -EINVAL;
	}
	if (obs->nactive[SLUICE_CANARY] && obs->ndown[SLUICE_CANARY] >= obs->nactive[SLUICE_CANARY]) {
		snprintf(msg, len, "every canary backend is down by health check (%u of %u)",
			 obs->ndown[SLUICE_CANARY], obs->nactive[SLUICE_CANARY]);
		return -EINVAL;
	}
	if (obs->lkg != SLUICE_BASELINE) {
		snprintf(msg, len, "the last-known-good is the canary: a rollback would send flows to it");
		return -EINVAL;
	}
	if (obs->kill_global & SLUICE_KILL_REVERT) {
		snprintf(msg, len, "the global kill switch is on (sluice resume)");
		return -EINVAL;
	}
	return 0;
}

/* The service's own kill word, left by a rollback: cleared after the
 * first step's weights are written. */
static void resume_kill(struct eng_state *st, const struct eng_obs *obs,
			struct eng_out *out)
{
	st->want_revert = false;
	/* asked once, never again: the caller commits the decision and
	 * carries it out before the next tick (sluiced's outbox, replayed at
	 * start; the fleet leader's etcd transaction), or drops it when the
	 * maps changed since. A kill switch seen on after that is the
	 * operator's: asking again would clear a revert made right after */
	st->resume_kill_pending = false;
	if ((obs->kill & SLUICE_KILL_REVERT) && !(obs->kill_global & SLUICE_KILL_REVERT))
		action(out, ENG_ACT_RESUME_KILL);
}

/* Step 0 of a new attempt (start or retry). */
static int start_attempt(const struct sluice_plan *plan, struct eng_state *st,
			 const struct eng_obs *obs, bool retry, const char *who,
			 __u64 now_ms, struct eng_out *out)
{
	unsigned int i;
	int err;

	st->ngates = plan->ngates;
	for (i = 0; i < plan->ngates; i++) {
		err = gate_state_init(&plan->gates[i], &st->gates[i]);
		if (err)
			return err;
	}
	st->attempt = retry ? st->attempt + 1 : 1;
	st->started_ms = now_ms;
	st->last_tick_ms = now_ms;
	st->lkg_at_start = obs->lkg;
	st->by_operator = false;
	st->want_revert = false;
	st->promote_pending = st->promote_full = false;
	st->pending_retry = false;
	st->lat_valid = st->base_before_valid = false;
	st->canary_down = st->canary_active = 0;
	st->canary_id = obs->canary_id;		/* the evidence is about this pool */
	st->undone = false;
	st->end_reason[0] = 0;
	event(out, st, retry ? ENG_EV_RETRY : ENG_EV_START, who, now_ms,
	      "%s: attempt %u, %u steps, %u gates", retry ? "retry" : "start", st->attempt,
	      plan->nsteps, plan->ngates);
	begin_step(plan, st, obs, 0, who, now_ms, out);
	if (st->hook_pending)
		/* the revert stands until step 1's hook passed */
		st->want_revert = obs->kill & SLUICE_KILL_REVERT;
	else
		resume_kill(st, obs, out);
	return 0;
}

/* The next step, or promotion after the last. */
static void advance(const struct sluice_plan *plan, struct eng_state *st,
		    const struct eng_obs *obs, const char *who, const char *why,
		    __u64 now_ms, struct eng_out *out)
{
	if ((unsigned int)st->step + 1 >= plan->nsteps)
		promote(plan, st, obs, who, why, now_ms, out);
	else
		begin_step(plan, st, obs, st->step + 1, who, now_ms, out);
}

/* ---- one tick ----------------------------------------------------------- */

static int check_fit(const struct sluice_plan *plan, const struct eng_state *st,
		     struct eng_out *out)
{
	unsigned int i;

	if (st->version != ENG_STATE_VERSION)
		return cmd_err(out, EINVAL, "state version %u, expected %u", st->version,
			       ENG_STATE_VERSION);
	if (!plan->nsteps || plan->nsteps > SLUICE_PLAN_MAX_STEPS ||
	    plan->ngates > SLUICE_PLAN_MAX_GATES)
		return cmd_err(out, EINVAL, "the plan has %u steps and %u gates",
			       plan->nsteps, plan->ngates);
	for (i = 0; i < plan->nsteps; i++)
		if (plan->steps[i].kind == SLUICE_STEP_WEIGHT && !plan->steps[i].resolved)
			return cmd_err(out, EINVAL, "plan step %u is not resolved against the rings",
				       i + 1);
	if (active(st->phase) &&
	    (st->step < 0 || (unsigned int)st->step >= plan->nsteps || st->ngates != plan->ngates))
		return cmd_err(out, EINVAL,
			       "the state (step %d, %u gates) does not fit the plan (%u steps, %u gates)",
			       st->step, st->ngates, plan->nsteps, plan->ngates);
	return 0;
}

/* Maps against the state. Returns true when the operator acted. */
static bool reconcile(struct eng_state *st, const struct eng_obs *obs,
		      const struct eng_env *env, __u64 now_ms, struct eng_out *out)
{
	char w[96];

	if (st->resume_kill_pending)	/* a state from before resume_kill asked once */
		st->resume_kill_pending = false, out->changed = true;
	if ((obs->kill & SLUICE_KILL_REVERT) && !st->want_revert) {
		event(out, st, ENG_EV_OPERATOR, "operator", now_ms,
		      "the kill switch was set on the maps (%s)",
		      obs->kill_global & SLUICE_KILL_REVERT ? "global" : "service");
		rollback(st, ENG_ROLLED_BACK, "operator", true,
			 "the operator reverted (kill switch on the maps); the engine writes nothing",
			 now_ms, out);
		return true;
	}
	if (!st->wrote || weights_equal(obs->weight, st->want_weight))
		return false;
	if (weights_equal(obs->weight, st->prev_weight)) {
		ask_weights(st, out);	/* decided before a crash, not yet written */
		return false;
	}
	fmt_weights(w, sizeof(w), obs->weight);
	event(out, st, ENG_EV_OPERATOR, "operator", now_ms,
	      "the weights were changed on the maps to %s", w);
	memcpy(st->want_weight, obs->weight, sizeof(st->want_weight));
	memcpy(st->prev_weight, obs->weight, sizeof(st->prev_weight));
	st->want_cutover = false;
	if (env && env->operator_weight_ends) {
		char why[160];

		snprintf(why, sizeof(why),
			 "the operator set the weights to %s; the engine writes nothing", w);
		rollback(st, ENG_ROLLED_BACK, "operator", true, why, now_ms, out);
	} else if (st->phase != ENG_PAUSED || st->pause_reason != ENG_PAUSE_OPERATOR_WEIGHT)
		pause_for(st, ENG_PAUSE_OPERATOR_WEIGHT, "operator", w, now_ms, out);
	return true;
}

static void accrue(const struct sluice_plan *plan, struct eng_state *st, bool frozen,
		   __u64 now_ms)
{
	const struct sluice_plan_step *step = &plan->steps[st->step];
	__u64 d = now_ms > st->last_tick_ms ? now_ms - st->last_tick_ms : 0;

	st->last_tick_ms = now_ms;
	if (frozen)
		return;
	if (st->phase == ENG_PROGRESSING ||
	    (st->phase == ENG_PAUSED && st->pause_reason == ENG_PAUSE_STEP && step->hold_ms))
		st->held_ms += d;
}

/* The canary failed (msg says how): on_failure. */
static void failed(const struct sluice_plan *plan, struct eng_state *st, const char *msg,
		   __u64 now_ms, struct eng_out *out)
{
	if (plan->on_failure == SLUICE_ON_FAILURE_ROLLBACK)
		rollback(st, ENG_ROLLED_BACK, ENGINE_WHO, false, msg, now_ms, out);
	else if (st->phase != ENG_PAUSED || st->pause_reason != ENG_PAUSE_GATE_FAILED)
		pause_for(st, ENG_PAUSE_GATE_FAILED, ENGINE_WHO, msg, now_ms, out);
}

/* A gate's failure count passed its limit. */
static void gate_failed(const struct sluice_plan *plan, struct eng_state *st,
			unsigned int i, const char *why, __u64 now_ms, struct eng_out *out)
{
	char msg[ENG_STATUS_LEN];

	snprintf(msg, sizeof(msg), "gate '%s' failed in step %d: %s", plan->gates[i].name,
		 st->step + 1, why);
	failed(plan, st, msg, now_ms, out);
}

/*
 * Backend health of the pools: a canary backend down is evidence against
 * the canary (the step waits for it, maybe_advance), the whole canary
 * pool down fails it; the baseline's are not held against the canary.
 */
static void judge_health(const struct sluice_plan *plan, struct eng_state *st,
			 const struct eng_obs *obs, __u64 now_ms, struct eng_out *out)
{
	unsigned int nd = obs->ndown[SLUICE_CANARY], na = obs->nactive[SLUICE_CANARY];
	char msg[ENG_STATUS_LEN];

	if (nd > na)
		nd = na;
	if (nd != st->canary_down || na != st->canary_active) {
		if (nd != st->canary_down)
			event(out, st, ENG_EV_HEALTH, ENGINE_WHO, now_ms,
			      nd ? "canary backends down (%u of %u): evidence against the canary%s" :
				   "canary backends down (%u of %u): all back up",
			      nd, na, nd < na ? "; the step waits until they are back" : "");
		st->canary_down = nd;
		st->canary_active = na;
		out->changed = true;
	}
	if (!na || nd < na)
		return;
	snprintf(msg, sizeof(msg), "canary backends down (%u of %u) in step %d", nd, na,
		 st->step + 1);
	if (st->phase != ENG_PAUSED || st->pause_reason != ENG_PAUSE_GATE_FAILED)
		failed(plan, st, msg, now_ms, out);
}

static void evaluate_gates(const struct sluice_plan *plan, struct eng_state *st,
			   const struct eng_obs *obs, __u64 now_ms, struct eng_out *out)
{
	unsigned int i;

	for (i = 0; i < plan->ngates && active(st->phase); i++) {
		const struct sluice_plan_gate *g = &plan->gates[i];
		struct gate_state *gs = &st->gates[i];
		struct gate_eval ev;
		struct gate_ctx ctx;
		struct eng_event *e;
		enum gate_outcome o;

		if (g->implicit && obs->affinity != SLUICE_AFF_CONNECTION)
			continue;	/* flows split by client: no flow split to check */
		gate_ctx_of(st, obs, i, &ctx);
		if (g->implicit && (!weights_equal(obs->weight, st->want_weight) ||
				    (obs->kill & SLUICE_KILL_REVERT))) {
			/* the maps do not show the step's weights yet (a
			 * write after the decision, a kill switch being
			 * cleared): the split is judged from when they do */
			if (!gate_state_init(g, gs))
				gate_step_begin(g, gs, &ctx, obs);
			continue;
		}
		/* due each interval, or at once when a burst of bad events
		 * already decides it (gate.h) */
		if (!gate_due(g, gs, obs, now_ms) && !gate_burst(g, gs, &ctx, obs, now_ms))
			continue;
		o = gate_evaluate(g, gs, &ctx, obs, now_ms, &ev);
		e = event(out, st, ENG_EV_GATE, ENGINE_WHO, now_ms, "gate '%s': %s: %s",
			  g->name, gate_outcome_name(o), ev.reason);
		if (e) {
			e->gate = i;
			e->eval = ev;
		}
		if (o == GATE_FAIL && g->implicit) {
			char why[ENG_STATUS_LEN];

			/* the measurement is broken, not the canary */
			snprintf(why, sizeof(why), "split check in step %d: %s (split_check: false switches it off)",
				 st->step + 1, ev.reason);
			if (st->phase != ENG_PAUSED)
				pause_for(st, ENG_PAUSE_SPLIT, ENGINE_WHO, why, now_ms, out);
		} else if (o == GATE_FAIL && gs->fails > g->failure_limit)
			gate_failed(plan, st, i, ev.reason, now_ms, out);
		else if (o == GATE_ERROR && gs->errors > g->error_limit &&
			 st->phase == ENG_PROGRESSING) {
			char why[ENG_STATUS_LEN];

			snprintf(why, sizeof(why), "gate '%s' errored %u times in a row: %s",
				 g->name, gs->errors, ev.reason);
			pause_for(st, ENG_PAUSE_GATE_ERRORS, ENGINE_WHO, why, now_ms, out);
		}
	}
}

static void maybe_advance(const struct sluice_plan *plan, struct eng_state *st,
			  const struct eng_obs *obs, __u64 now_ms, struct eng_out *out)
{
	const struct sluice_plan_step *step = &plan->steps[st->step];
	unsigned int i;

	if (st->phase == ENG_PAUSED) {
		if (st->pause_reason == ENG_PAUSE_STEP && step->hold_ms &&
		    st->held_ms >= step->hold_ms)
			advance(plan, st, obs, ENGINE_WHO, "pause step ended", now_ms, out);
		return;
	}
	if (st->phase != ENG_PROGRESSING)
		return;
	if (st->promote_pending) {
		advance(plan, st, obs, "operator", "promoted by the operator", now_ms, out);
		return;
	}
	if (st->held_ms < step->hold_ms)
		return;
	if (!st->waiting_since_ms) {
		st->waiting_since_ms = now_ms;
		out->changed = true;
	}
	if (st->canary_down)
		return;		/* judge_health: evidence against the canary */
	for (i = 0; i < plan->ngates; i++) {
		const struct gate_state *gs = &st->gates[i];
		const struct sluice_plan_gate *g = &plan->gates[i];

		if (gs->last.outcome == GATE_PASS || g->implicit)
			continue;	/* the split check never holds a step */
		if (gs->last.outcome != GATE_INCONCLUSIVE)
			return;		/* not yet evaluated, errored, failed */
		if (st->extend_step)
			return;
		switch (g->on_inconclusive) {
		case SLUICE_INCONCLUSIVE_EXTEND:
			return;
		case SLUICE_INCONCLUSIVE_FAIL: {
			char why[220];

			snprintf(why, sizeof(why), "inconclusive at the end of the hold: %s",
				 gs->last.reason);
			gate_failed(plan, st, i, why, now_ms, out);
			return;
		}
		case SLUICE_INCONCLUSIVE_PAUSE: {
			char why[ENG_STATUS_LEN];

			snprintf(why, sizeof(why), "gate '%s' at the end of the hold: %s",
				 g->name, gs->last.reason);
			pause_for(st, ENG_PAUSE_INCONCLUSIVE, ENGINE_WHO, why, now_ms, out);
			return;
		}
		}
	}
	advance(plan, st, obs, ENGINE_WHO, "every gate passed", now_ms, out);
}

/* A step waiting for its pre-step hook: apply it once the hook passed
 * (not while frozen: no step begins then), pause when it failed. */
static void hook_wait(const struct sluice_plan *plan, struct eng_state *st,
		      const struct eng_obs *obs, bool frozen, __u64 now_ms,
		      struct eng_out *out)
{
	const struct eng_hook *h = &obs->hook;
	char why[ENG_STATUS_LEN];

	st->last_tick_ms = now_ms;
	if (st->phase != ENG_PROGRESSING || h->seq != st->hook_seq ||
	    h->status == ENG_EXT_NONE)
		return;
	if (h->status == ENG_EXT_ERROR) {
		snprintf(why, sizeof(why), "step %d/%u's pre-step hook: %s", st->step + 1,
			 plan->nsteps, h->reason);
		pause_for(st, ENG_PAUSE_HOOK, ENGINE_WHO, why, now_ms, out);
		return;
	}
	if (frozen)
		return;
	event(out, st, ENG_EV_HOOK, NULL, now_ms, "step %d/%u: the pre-step hook passed (%s)",
	      st->step + 1, plan->nsteps, h->reason);
	apply_step(plan, st, obs, ENGINE_WHO, now_ms, out);
	if (st->step == 0)
		resume_kill(st, obs, out);
}

/*
 * The canary pool against the one the evidence is about (issue 21). Its
 * first sight (a state from before, a pool that was empty) is taken as
 * the judged one. true: it changed and on_canary_change acted.
 */
static bool canary_changed(const struct sluice_plan *plan, struct eng_state *st,
			   const struct eng_obs *obs, __u64 now_ms, struct eng_out *out)
{
	static const char *const policy[] = { "restart", "pause", "fail" };
	char why[ENG_STATUS_LEN], msg[160];
	unsigned int p = plan->on_canary_change < 3 ? plan->on_canary_change : 0;

	if (!obs->canary_id || obs->canary_id == st->canary_id)
		return false;
	if (!st->canary_id) {
		st->canary_id = obs->canary_id;
		out->changed = true;
		return false;
	}
	if (st->phase == ENG_PAUSED && st->pause_reason == ENG_PAUSE_CANARY_CHANGED)
		return false;	/* already waiting for the operator */
	snprintf(why, sizeof(why),
		 "the canary pool changed at step %d/%u (now %u active backends): the evidence so far is about another pool",
		 st->step + 1, plan->nsteps, obs->nbackends[SLUICE_CANARY]);
	if (p == SLUICE_CANARY_CHANGE_RESTART && can_start(obs, msg, sizeof(msg)))
		p = SLUICE_CANARY_CHANGE_PAUSE;	/* cannot begin again: wait */
	event(out, st, ENG_EV_CANARY_CHANGE, ENGINE_WHO, now_ms, "%s; on_canary_change: %s%s",
	      why, policy[p], p == SLUICE_CANARY_CHANGE_RESTART ?
	      ": a new attempt from step 1 with fresh evidence" : "");
	switch (p) {
	case SLUICE_CANARY_CHANGE_RESTART:
		start_attempt(plan, st, obs, true, ENGINE_WHO, now_ms, out);
		break;
	case SLUICE_CANARY_CHANGE_PAUSE:
		pause_for(st, ENG_PAUSE_CANARY_CHANGED, ENGINE_WHO, why, now_ms, out);
		break;
	default:
		rollback(st, ENG_ROLLED_BACK, ENGINE_WHO, false, why, now_ms, out);
	}
	return true;
}

static void reset_out(struct eng_out *out)
{
	out->changed = false;
	out->nactions = out->nevents = 0;
	out->error[0] = 0;
}

/* A rollout persisted before its plan's split check existed (a plan
 * re-parsed after an upgrade has one gate more, last): its gate joins
 * with the current step. */
static void adopt_split_check(const struct sluice_plan *plan, struct eng_state *st,
			      const struct eng_obs *obs)
{
	unsigned int i = st->ngates;
	struct gate_ctx ctx;

	if (!active(st->phase) || i + 1 != plan->ngates || !plan->gates[i].implicit ||
	    gate_state_init(&plan->gates[i], &st->gates[i]))
		return;
	st->ngates++;
	gate_ctx_of(st, obs, i, &ctx);
	gate_step_begin(&plan->gates[i], &st->gates[i], &ctx, obs);
}

int eng_tick(const struct sluice_plan *plan, struct eng_state *st,
	     const struct eng_obs *obs, const struct eng_env *env,
	     __u64 now_ms, struct eng_out *out)
{
	bool frozen = frozen_env(env);
	char msg[160];
	int err;

	reset_out(out);
	adopt_split_check(plan, st, obs);
	err = check_fit(plan, st, out);
	if (err)
		return err;
	if (st->phase == ENG_NONE || eng_terminal(st->phase)) {
		st->last_tick_ms = now_ms;
		update_status(plan, st, env, now_ms);
		return 0;
	}
	if (frozen != st->frozen) {
		st->frozen = frozen;
		st->frozen_since_ms = now_ms;
		if (frozen)
			event(out, st, ENG_EV_FREEZE, freeze_of(env)->who, now_ms,
			      "frozen: %s", freeze_of(env)->reason);
		else
			event(out, st, ENG_EV_UNFREEZE, NULL, now_ms, "unfrozen: holds resume");
	}
	if (!obs->exists) {
		set_phase(st, ENG_ABORTED, now_ms);
		st->by_operator = true;
		snprintf(st->end_reason, sizeof(st->end_reason),
			 "the service '%s' no longer exists", st->service);
		event(out, st, ENG_EV_ABORT, "operator", now_ms, "%s", st->end_reason);
		update_status(plan, st, env, now_ms);
		return 0;
	}
	if (st->phase == ENG_PENDING) {
		st->last_tick_ms = now_ms;
		if (!frozen) {
			err = can_start(obs, msg, sizeof(msg));
			if (!err)
				err = start_attempt(plan, st, obs, st->pending_retry, NULL,
						    now_ms, out);
			if (err && strcmp(st->end_reason, msg)) {
				snprintf(st->end_reason, sizeof(st->end_reason), "%s", msg);
				event(out, st, ENG_EV_ERROR, NULL, now_ms, "cannot start: %s", msg);
			}
		}
		update_status(plan, st, env, now_ms);
		return 0;
	}
	if (canary_changed(plan, st, obs, now_ms, out) ||
	    reconcile(st, obs, env, now_ms, out)) {
		st->last_tick_ms = now_ms;
	} else if (st->hook_pending) {
		/* the previous step's weights still serve: its gates still
		 * judge them (a failure rolls back while the hook runs) */
		if (st->step > 0)
			evaluate_gates(plan, st, obs, now_ms, out);
		hook_wait(plan, st, obs, frozen, now_ms, out);
	} else {
		accrue(plan, st, frozen, now_ms);
		judge_health(plan, st, obs, now_ms, out);
		evaluate_gates(plan, st, obs, now_ms, out);
		if (!frozen && active(st->phase))
			maybe_advance(plan, st, obs, now_ms, out);
	}
	update_status(plan, st, env, now_ms);
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

static int cmd_start(const struct sluice_plan *plan, struct eng_state *st,
		     const struct eng_cmd *cmd, const struct eng_obs *obs,
		     const struct eng_env *env, __u64 now_ms, struct eng_out *out)
{
	char msg[160];
	int err;

	if (active(st->phase) || st->phase == ENG_PENDING) {
		if (!cmd->rollout_id || cmd->rollout_id == st->rollout_id)
			return 0;	/* a repeat */
		return cmd_err(out, EBUSY, "rollout %llu of '%s' is %s; abort it first",
			       (unsigned long long)st->rollout_id, st->service,
			       eng_phase_name(st->phase));
	}
	if (eng_terminal(st->phase)) {
		if (cmd->rollout_id == st->rollout_id)
			return 0;	/* the same start again */
		if (!cmd->rollout_id)
			return cmd_err(out, EALREADY,
				       "rollout %llu of '%s' has ended (%s): retry it, or start a new one with a new id",
				       (unsigned long long)st->rollout_id, st->service,
				       eng_phase_name(st->phase));
	}
	err = can_start(obs, msg, sizeof(msg));
	if (err)
		return cmd_err(out, -err, "cannot start a rollout of '%s': %s", st->service, msg);
	if (env && env->service.frozen)
		return cmd_err(out, EAGAIN, "cannot start a rollout of '%s': frozen: %s",
			       st->service, env->service.reason);
	st->rollout_id = cmd->rollout_id ? cmd->rollout_id : st->rollout_id + 1;
	st->attempt = 0;
	st->created_ms = now_ms;
	if (frozen_env(env)) {
		set_phase(st, ENG_PENDING, now_ms);
		st->pending_retry = false;
		st->end_reason[0] = 0;
		st->last_tick_ms = now_ms;
		event(out, st, ENG_EV_START, cmd->who, now_ms,
		      "start requested while frozen (%s): waits for unfreeze",
		      freeze_of(env)->reason);
		return 0;
	}
	return start_attempt(plan, st, obs, false, cmd->who, now_ms, out);
}

static int cmd_retry(const struct sluice_plan *plan, struct eng_state *st,
		     const struct eng_cmd *cmd, const struct eng_obs *obs,
		     const struct eng_env *env, __u64 now_ms, struct eng_out *out)
{
	char msg[160];
	int err;

	if (st->phase == ENG_NONE)
		return cmd_err(out, ENOENT, "no rollout of '%s' to retry", st->service);
	if (st->phase == ENG_PENDING)
		return 0;
	if (st->phase == ENG_PROMOTED)
		return cmd_err(out, EINVAL, "rollout %llu of '%s' was promoted: start a new one",
			       (unsigned long long)st->rollout_id, st->service);
	if (active(st->phase))
		return cmd_err(out, EINVAL, "rollout %llu of '%s' is %s: nothing to retry",
			       (unsigned long long)st->rollout_id, st->service,
			       eng_phase_name(st->phase));
	err = can_start(obs, msg, sizeof(msg));
	if (err)
		return cmd_err(out, -err, "cannot retry the rollout of '%s': %s", st->service, msg);
	if (env && env->service.frozen)
		return cmd_err(out, EAGAIN, "cannot retry the rollout of '%s': frozen: %s",
			       st->service, env->service.reason);
	if (frozen_env(env)) {
		set_phase(st, ENG_PENDING, now_ms);
		st->pending_retry = true;
		st->end_reason[0] = 0;
		st->last_tick_ms = now_ms;
		event(out, st, ENG_EV_RETRY, cmd->who, now_ms,
		      "retry requested while frozen (%s): waits for unfreeze",
		      freeze_of(env)->reason);
		return 0;
	}
	return start_attempt(plan, st, obs, true, cmd->who, now_ms, out);
}

static int cmd_resume(const struct sluice_plan *plan, struct eng_state *st,
		      const struct eng_cmd *cmd, const struct eng_obs *obs,
		      __u64 now_ms, struct eng_out *out)
{
	enum eng_pause_reason r = st->pause_reason;
	unsigned int i;

	if (st->phase == ENG_PROGRESSING || st->phase == ENG_PENDING)
		return 0;
	if (st->phase != ENG_PAUSED)
		return cmd_err(out, st->phase == ENG_NONE ? ENOENT : EALREADY,
			       "no running rollout of '%s' to resume (%s)", st->service,
			       eng_phase_name(st->phase));
	if (r == ENG_PAUSE_STEP) {
		advance(plan, st, obs, cmd->who, "the operator resumed the pause step",
			now_ms, out);
		return 0;
	}
	if (r == ENG_PAUSE_CANARY_CHANGED) {
		/* the operator takes the new pool: this step begins again,
		 * every gate with fresh evidence about it */
		for (i = 0; i < plan->ngates; i++)
			gate_state_init(&plan->gates[i], &st->gates[i]);
		st->canary_id = obs->canary_id;
		event(out, st, ENG_EV_RESUME, cmd->who, now_ms,
		      "resumed (was paused: %s): step %d/%u begins again on the new canary pool",
		      eng_pause_reason_name(r), st->step + 1, plan->nsteps);
		begin_step(plan, st, obs, st->step, cmd->who, now_ms, out);
		return 0;
	}
	/* the operator judged what paused it: failed or errored gates start
	 * afresh, hold time already accrued stays */
	for (i = 0; i < plan->ngates; i++) {
		struct gate_state *gs = &st->gates[i];

		if ((r == ENG_PAUSE_GATE_FAILED && gs->last.outcome == GATE_FAIL) ||
		    (r == ENG_PAUSE_GATE_ERRORS && gs->last.outcome == GATE_ERROR)) {
			struct gate_state fresh;
			struct gate_ctx ctx;

			gate_state_init(&plan->gates[i], &fresh);
			*gs = fresh;
			gate_ctx_of(st, obs, i, &ctx);
			gate_step_begin(&plan->gates[i], gs, &ctx, obs);
		}
	}
	set_phase(st, ENG_PROGRESSING, now_ms);
	if (r == ENG_PAUSE_INCONCLUSIVE)
		st->extend_step = true;
	if (st->hook_pending) {		/* run the hook again */
		st->hook_seq++;
		st->hook_since_ms = now_ms;
	}
	st->pause_reason = ENG_PAUSE_NONE;
	st->pause_who[0] = 0;
	st->end_reason[0] = 0;
	st->waiting_since_ms = 0;
	st->last_tick_ms = now_ms;
	event(out, st, ENG_EV_RESUME, cmd->who, now_ms, "resumed (was paused: %s)",
	      eng_pause_reason_name(r));
	if (r == ENG_PAUSE_OPERATOR_WEIGHT && !st->hook_pending) {
		/* back to the step's weights */
		const struct sluice_plan_step *step = &plan->steps[st->step];

		memcpy(st->prev_weight, obs->weight, sizeof(st->prev_weight));
		memcpy(st->want_weight, step->weight, sizeof(st->want_weight));
		st->want_cutover = step->kind == SLUICE_STEP_CUTOVER;
		if (!weights_equal(obs->weight, st->want_weight))
			ask_weights(st, out);
	}
	return 0;
}

/* Undo a promotion within the plan's rollback_window (issue 21, section 4). */
static int cmd_undo(const struct sluice_plan *plan, struct eng_state *st,
		    const struct eng_cmd *cmd, __u64 now_ms, struct eng_out *out)
{
	char w[24], ago[24];

	if (st->phase == ENG_ROLLED_BACK && st->undone)
		return 0;	/* undone already */
	if (st->phase != ENG_PROMOTED)
		return cmd_err(out, st->phase == ENG_NONE ? ENOENT : EINVAL,
			       "rollout %llu of '%s' is %s: only a promotion can be undone%s",
			       (unsigned long long)st->rollout_id, st->service,
			       eng_phase_name(st->phase),
			       active(st->phase) ? " (abort a running rollout)" : "");
	fmt_dur(w, sizeof(w), plan->rollback_window_ms);
	if (!plan->rollback_window_ms)
		return cmd_err(out, EALREADY,
			       "the plan of '%s' keeps no rollback window (rollback_window: 0): the previous baseline is gone",
			       st->service);
	if (now_ms - st->phase_since_ms > plan->rollback_window_ms) {
		fmt_dur(ago, sizeof(ago), now_ms - st->phase_since_ms - plan->rollback_window_ms);
		return cmd_err(out, EALREADY,
			       "the rollback window of '%s' (%s after the promotion) ended %s ago: the previous baseline is gone",
			       st->service, w, ago);
	}
	action(out, ENG_ACT_UNDO);
	st->undone = true;
	st->by_operator = true;
	snprintf(st->end_reason, sizeof(st->end_reason),
		 "promotion undone by %s%s%s: the previous baseline serves again",
		 cmd->who[0] ? cmd->who : "the operator", cmd->reason[0] ? ": " : "",
		 cmd->reason);
	set_phase(st, ENG_ROLLED_BACK, now_ms);
	event(out, st, ENG_EV_ROLLBACK, cmd->who, now_ms, "%s (rollback window %s)",
	      st->end_reason, w);
	return 0;
}

int eng_command(const struct sluice_plan *plan, struct eng_state *st,
		const struct eng_cmd *cmd, const struct eng_obs *obs,
		const struct eng_env *env, __u64 now_ms, struct eng_out *out)
{
	struct eng_state *save;
	int err;

	reset_out(out);
	if (obs)
		adopt_split_check(plan, st, obs);
	err = check_fit(plan, st, out);
	if (err)
		return err;
	if (!obs || !cmd)
		return cmd_err(out, EINVAL, "no observation or command");
	/* commands are all-or-nothing: work on a copy */
	save = malloc(sizeof(*save));
	if (!save)
		return cmd_err(out, ENOMEM, "out of memory");
	memcpy(save, st, sizeof(*save));
	switch (cmd->kind) {
	case ENG_CMD_START:
		err = cmd_start(plan, st, cmd, obs, env, now_ms, out);
		break;
	case ENG_CMD_RETRY:
		err = cmd_retry(plan, st, cmd, obs, env, now_ms, out);
		break;
	case ENG_CMD_PAUSE:
		if (st->phase == ENG_PAUSED || st->phase == ENG_PENDING) {
			err = 0;
		} else if (st->phase != ENG_PROGRESSING) {
			err = cmd_err(out, st->phase == ENG_NONE ? ENOENT : EALREADY,
				      "no running rollout of '%s' to pause (%s)", st->service,
				      eng_phase_name(st->phase));
		} else {
			pause_for(st, ENG_PAUSE_COMMAND, cmd->who, cmd->reason, now_ms, out);
			err = 0;
		}
		break;
	case ENG_CMD_RESUME:
		err = cmd_resume(plan, st, cmd, obs, now_ms, out);
		break;
	case ENG_CMD_PROMOTE:
		if (st->phase == ENG_PROMOTED) {
			err = 0;
		} else if (!active(st->phase)) {
			err = cmd_err(out, st->phase == ENG_NONE ? ENOENT :
				      st->phase == ENG_PENDING ? EINVAL : EALREADY,
				      "no running rollout of '%s' to promote (%s)", st->service,
				      eng_phase_name(st->phase));
		} else if (frozen_env(env)) {
			err = cmd_err(out, EBUSY, "frozen (%s by %s): unfreeze before promoting",
				      freeze_of(env)->reason, freeze_of(env)->who);
		} else if (obs->canary_id && st->canary_id && obs->canary_id != st->canary_id) {
			/* never promote a pool other than the judged one */
			err = cmd_err(out, EINVAL,
				      "the canary pool of '%s' changed since its evidence began: not promoted (on_canary_change decides%s)",
				      st->service, st->pause_reason == ENG_PAUSE_CANARY_CHANGED &&
				      st->phase == ENG_PAUSED ? "; resume to judge the new pool" : "");
		} else if (st->hook_pending && !cmd->full) {
			/* promote ends a hold: this step has none yet, and
			 * advancing would skip the step its hook guards */
			err = cmd_err(out, EBUSY,
				      "step %d/%u of '%s' waits for its pre-step hook: promote once the hook has passed (or promote --full)",
				      st->step + 1, plan->nsteps, st->service);
		} else if (cmd->full) {
			promote(plan, st, obs, cmd->who, "promote --full by the operator",
				now_ms, out);
			err = 0;
		} else if (st->phase == ENG_PAUSED) {
			advance(plan, st, obs, cmd->who, "promoted by the operator", now_ms, out);
			err = 0;
		} else {
			event(out, st, ENG_EV_PROMOTE, cmd->who, now_ms,
			      "promote: step %d ends now, its gates are not waited for",
			      st->step + 1);
			advance(plan, st, obs, cmd->who, "promoted by the operator", now_ms, out);
			err = 0;
		}
		break;
	case ENG_CMD_ABORT:
		if (st->phase == ENG_ABORTED || st->phase == ENG_ROLLED_BACK) {
			err = 0;	/* already back on the last-known-good */
		} else if (st->phase == ENG_NONE) {
			err = cmd_err(out, ENOENT, "no rollout of '%s' to abort", st->service);
		} else if (st->phase == ENG_PROMOTED) {
			err = cmd_err(out, EALREADY,
				      "rollout %llu of '%s' was promoted: nothing to abort",
				      (unsigned long long)st->rollout_id, st->service);
		} else {
			char why[ENG_STATUS_LEN];

			snprintf(why, sizeof(why), "aborted by %s%s%s",
				 cmd->who[0] ? cmd->who : "the operator",
				 cmd->reason[0] ? ": " : "", cmd->reason);
			if (st->phase == ENG_PENDING) {
				set_phase(st, ENG_ABORTED, now_ms);
				st->by_operator = true;
				snprintf(st->end_reason, sizeof(st->end_reason), "%s", why);
				event(out, st, ENG_EV_ABORT, cmd->who, now_ms, "%s (never started)", why);
			} else {
				rollback(st, ENG_ABORTED, cmd->who, true, why, now_ms, out);
			}
			err = 0;
		}
		break;
	case ENG_CMD_UNDO:
		err = cmd_undo(plan, st, cmd, now_ms, out);
		break;
	default:
		err = cmd_err(out, EINVAL, "unknown command %d", cmd->kind);
	}
	if (err)
		memcpy(st, save, sizeof(*st));
	else
		update_status(plan, st, env, now_ms);
	free(save);
	return err;
}

__u64 eng_hold_left(const struct sluice_plan *plan, const struct eng_state *st)
{
	const struct sluice_plan_step *step;

	if (!active(st->phase) || st->step < 0 || (unsigned int)st->step >= plan->nsteps)
		return 0;
	step = &plan->steps[st->step];
	return st->held_ms < step->hold_ms ? step->hold_ms - st->held_ms : 0;
}

bool eng_tick_quiet(const struct sluice_plan *plan, const struct eng_state *st,
		    const struct eng_env *env, __u64 tick_ms, __u64 now_ms)
{
	bool frozen = frozen_env(env);
	unsigned int i;
	__u64 held;

	if (st->phase != ENG_PROGRESSING || frozen != st->frozen || st->hook_pending ||
	    st->promote_pending || st->resume_kill_pending || plan->pre_step_hook[0] ||
	    st->step < 0 || (unsigned int)st->step >= plan->nsteps ||
	    st->ngates != plan->ngates || now_ms < st->last_tick_ms)
		return false;
	/* the hold ends by now (or has: waiting for the gates) */
	held = st->held_ms + (frozen ? 0 : now_ms - st->last_tick_ms);
	if (held >= plan->steps[st->step].hold_ms)
		return false;
	for (i = 0; i < plan->ngates; i++)
		if (!gate_quiet(&plan->gates[i], &st->gates[i], tick_ms, now_ms))
			return false;
	return true;
}
