// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* External gates' measurements, scheduled per service and gate. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "external_gates.h"
#include "prom.h"
#include "command_gate.h"
#include "gate.h"

#define BUCKETS		1024
#define DEFAULT_TIMEOUT	5000

enum part_kind { P_CAN = 0, P_BASE, P_SAMP_C, P_SAMP_B, P_N };

struct slot;

struct part {
	struct slot *s;
	bool used, done, is_cmd;
	int64_t id;
	int err;
	double v;
	bool pass;
	char reason[ENG_REASON_LEN];
};

struct slot {
	struct extgate *x;
	__u64 key;		/* gate identity: name + metric */
	int step;
	__u64 next_due_ms;
	bool busy;
	struct part parts[P_N];
	__u64 seq;
	__u64 measurements;	/* successful ones in this step */
	struct eng_ext last;
	/* burn rate */
	bool burn_on;
	struct burn_cfg bc;
	struct burn_track tr[SLUICE_VARIANTS];
	struct burn_eval ev[SLUICE_VARIANTS];
	bool judged;
};

struct svc {
	struct svc *next;
	char name[SLUICE_NAME_LEN];
	__u64 rollout_id;
	unsigned int attempt;
	struct slot g[SLUICE_PLAN_MAX_GATES];
};

struct extgate {
	struct httpc *hc;
	struct cmdrun *cr;
	char prom_url[SLUICE_GATE_URL_LEN];
	struct svc *tab[BUCKETS];
	unsigned int pending;
};

static __u64 fnv(const char *s, __u64 h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct svc **find(struct extgate *x, const char *name)
{
	struct svc **pp = &x->tab[fnv(name, 1469598103934665603ull) % BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			break;
	return pp;
}

struct extgate *extgate_new(struct httpc *hc, struct cmdrun *cr, const char *prom_url)
{
	struct extgate *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->hc = hc;
	x->cr = cr;
	snprintf(x->prom_url, sizeof(x->prom_url), "%s",
		 prom_url ? prom_url : "http://127.0.0.1:9090");
	return x;
}

static void cancel_parts(struct slot *s)
{
	unsigned int i;

	for (i = 0; i < P_N; i++) {
		struct part *p = &s->parts[i];

		if (!p->used || p->done)
			continue;
		if (p->is_cmd)
			cmdrun_cancel(s->x->cr, p->id);
		else
			httpc_cancel(s->x->hc, p->id);
	}
	memset(s->parts, 0, sizeof(s->parts));
	if (s->busy)
		s->x->pending--;
	s->busy = false;
}

static void svc_free(struct svc *v)
{
	unsigned int i;

	for (i = 0; i < SLUICE_PLAN_MAX_GATES; i++)
		cancel_parts(&v->g[i]);
	free(v);
}

void extgate_free(struct extgate *x)
{
	unsigned int b;

	if (!x)
		return;
	for (b = 0; b < BUCKETS; b++)
		while (x->tab[b]) {
			struct svc *v = x->tab[b];

			x->tab[b] = v->next;
			svc_free(v);
		}
	free(x);
}

void extgate_forget(struct extgate *x, const char *service)
{
	struct svc **pp = find(x, service), *v = *pp;

	if (!v)
		return;
	*pp = v->next;
	svc_free(v);
}

unsigned int extgate_pending(const struct extgate *x)
{
	return x->pending;
}

void extgate_burn_cfg(const struct sluice_plan *plan, struct burn_cfg *c)
{
	const struct sluice_plan_budget *b = &plan->budget;
	__u64 tb = b->time_base_ms;
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->slo = b->present && b->slo > 0 && b->slo < 1 ? b->slo : 0.999;
	c->min_events = b->present && b->min_events ? b->min_events : 100;
	if (!tb)
		for (i = 0; i < plan->nsteps; i++)
			if (plan->steps[i].hold_ms > tb)
				tb = plan->steps[i].hold_ms;
	burn_default_rules(c, tb ? tb : 3600000);
}

/* ---- finishing a measurement ------------------------------------------ */

static void finish(struct slot *s, const struct sluice_plan_gate *g)
{
	struct eng_ext *e = &s->last;
	static const char *const what[P_N] = { "canary", "baseline", "canary samples",
					       "baseline samples" };
	unsigned int i;

	for (i = 0; i < P_N; i++)
		if (s->parts[i].used && !s->parts[i].done)
			return;
	memset(e, 0, sizeof(*e));
	e->status = ENG_EXT_OK;
	for (i = 0; i < P_N; i++) {
		struct part *p = &s->parts[i];

		if (p->used && p->err) {
			e->status = ENG_EXT_ERROR;
			snprintf(e->reason, sizeof(e->reason), "%s: %.100s", what[i], p->reason);
			break;
		}
		if (p->used && (i == P_SAMP_C || i == P_SAMP_B) && p->v < 0) {
			e->status = ENG_EXT_ERROR;
			snprintf(e->reason, sizeof(e->reason), "%s: negative (%g)", what[i], p->v);
			break;
		}
	}
	if (e->status == ENG_EXT_OK) {
		s->measurements++;
		e->canary = s->parts[P_CAN].v;
		e->baseline = s->parts[P_BASE].used ? s->parts[P_BASE].v : NAN;
		/* the engine sums samples over a step's measurements */
		e->samples_c = s->parts[P_SAMP_C].used ? (__u64)s->parts[P_SAMP_C].v : 1;
		e->samples_b = s->parts[P_SAMP_B].used ? (__u64)s->parts[P_SAMP_B].v
						       : s->parts[P_BASE].used ? 1 : 0;
		e->verdict = ENG_EXT_VALUE;
		if (g->metric == SLUICE_METRIC_EXT_COMMAND && g->ext.result == SLUICE_CMD_EXIT) {
			e->verdict = s->parts[P_CAN].pass ? ENG_EXT_PASS : ENG_EXT_FAIL;
			e->canary = s->parts[P_CAN].pass ? 0 : 1;
			e->samples_c = 1;
		}
		snprintf(e->reason, sizeof(e->reason), "%s", s->parts[P_CAN].reason);
	}
	e->seq = ++s->seq;
	memset(s->parts, 0, sizeof(s->parts));
	s->busy = false;
	s->x->pending--;
}

/* the gate a slot belongs to, found again at completion */
struct call {
	struct part *p;
	struct sluice_plan_gate gate;
};

static void on_prom(const struct prom_result *r, void *arg)
{
	struct call *c = arg;
	struct part *p = c->p;

	if (r->err == -ECANCELED) {
		free(c);
		return;
	}
	p->done = true;
	p->err = r->err;
	p->v = r->value;
	if (r->err)
		snprintf(p->reason, sizeof(p->reason), "%.120s", r->reason);
	else
		snprintf(p->reason, sizeof(p->reason), "value %g (%.0f ms)", r->value,
			 r->elapsed_ms);
	finish(p->s, &c->gate);
	free(c);
}

static void on_cmd(const struct cmd_result *r, void *arg)
{
	struct call *c = arg;
	struct part *p = c->p;
	struct cmdgate_out o;

	if (r->err == -ECANCELED) {
		free(c);
		return;
	}
	cmdgate_interpret(r, c->gate.ext.result == SLUICE_CMD_VALUE ? CMDGATE_VALUE
								   : CMDGATE_EXIT, &o);
	p->done = true;
	p->err = o.err;
	p->v = o.value;
	p->pass = o.pass;
	snprintf(p->reason, sizeof(p->reason), "%.120s", o.reason);
	finish(p->s, &c->gate);
	free(c);
}

static void part_fail(struct part *p, int err, const char *fmt, const char *a)
{
	p->done = true;
	p->err = err;
	snprintf(p->reason, sizeof(p->reason), fmt, a);
}

static void start_prom(struct slot *s, const struct sluice_plan_gate *g,
		       const struct extgate_ctx *ctx, enum part_kind k)
{
	struct part *p = &s->parts[k];
	const char *tmpl = (k == P_SAMP_C || k == P_SAMP_B) ? g->ext.samples_query
							     : g->ext.query;
	struct sluice_query_vars v = {
		.service = ctx->service,
		.variant = (k == P_CAN || k == P_SAMP_C) ? "canary" : "baseline",
		.ring = ctx->rings ? ctx->rings : "default",
	};
	char q[4096], err[160];
	unsigned int to = g->ext.timeout_ms ? g->ext.timeout_ms : DEFAULT_TIMEOUT;
	struct call *c;

	p->used = true;
	p->s = s;
	if (sluice_query_expand(tmpl, &v, q, sizeof(q), err, sizeof(err)) < 0) {
		part_fail(p, -EINVAL, "query: %.110s", err);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		part_fail(p, -ENOMEM, "%s", "out of memory");
		return;
	}
	c->p = p;
	c->gate = *g;
	p->id = prom_query_start(s->x->hc, g->ext.url[0] ? g->ext.url : s->x->prom_url,
				 q, to, on_prom, c);
	if (p->id < 0) {
		free(c);
		part_fail(p, (int)p->id, "cannot start the query: %s", strerror((int)-p->id));
	}
}

static void start_cmd(struct slot *s, const struct sluice_plan_gate *g,
		      const struct extgate_ctx *ctx, enum part_kind k)
{
	struct part *p = &s->parts[k];
	char envbuf[1024], *env[7];
	char *argv[] = { "/bin/sh", "-c", (char *)g->ext.command, NULL };
	unsigned int to = g->ext.timeout_ms ? g->ext.timeout_ms : DEFAULT_TIMEOUT;
	struct call *c = calloc(1, sizeof(*c));

	p->used = true;
	p->s = s;
	p->is_cmd = true;
	if (!c) {
		part_fail(p, -ENOMEM, "%s", "out of memory");
		return;
	}
	c->p = p;
	c->gate = *g;
	cmdgate_env(envbuf, env, ctx->service, k == P_CAN ? "canary" : "baseline",
		    ctx->rings ? ctx->rings : "default", ctx->step, g->name);
	p->id = cmdrun_start(s->x->cr, argv, env, NULL, to, on_cmd, c);
	if (p->id < 0) {
		free(c);
		part_fail(p, (int)p->id, "cannot run the command: %s", strerror((int)-p->id));
	}
}

static void start(struct slot *s, const struct sluice_plan_gate *g,
		  const struct extgate_ctx *ctx)
{
	bool base = g->compare_baseline;

	s->busy = true;
	s->x->pending++;
	if (g->metric == SLUICE_METRIC_EXT_PROMETHEUS) {
		start_prom(s, g, ctx, P_CAN);
		if (base)
			start_prom(s, g, ctx, P_BASE);
		if (g->ext.samples_query[0]) {
			start_prom(s, g, ctx, P_SAMP_C);
			if (base)
				start_prom(s, g, ctx, P_SAMP_B);
		}
	} else {
		start_cmd(s, g, ctx, P_CAN);
		if (base && g->ext.result == SLUICE_CMD_VALUE)
			start_cmd(s, g, ctx, P_BASE);
	}
	finish(s, g);	/* all parts may have failed to start */
}

/* ---- burn rate ---------------------------------------------------------- */

/* The error signals of an error-ratio gate (plan.h's per-mode defaults). */
static __u32 burn_signals(const struct sluice_plan_gate *g, __u8 mode)
{
	if (g->signals)
		return g->signals;
	return mode == SLUICE_MODE_NAT ? SLUICE_SIG_DEFAULT_NAT : SLUICE_SIG_DEFAULT_L3;
}

static void burn_counts(const struct eng_obs *obs, __u32 sig, int v, __u64 *bad,
			__u64 *total)
{
	unsigned int r;

	*bad = *total = 0;
	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		const struct sluice_flow_stats *f = &obs->fs[v][r];

		*total += f->new_flows;
		if (sig & SLUICE_SIG_SYN_RETRANS)
			*bad += f->syn_retrans;
		if (sig & SLUICE_SIG_CLIENT_RST)
			*bad += f->client_rst;
		if (sig & SLUICE_SIG_BACKEND_RST)
			*bad += f->backend_rst;
		if (sig & SLUICE_SIG_HS_TIMEOUT)
			*bad += f->hs_timeout;
	}
}

static void burn_tick(struct slot *s, const struct sluice_plan *plan,
		      const struct sluice_plan_gate *g, const struct eng_obs *obs,
		      __u64 now_ms, bool due)
{
	struct eng_ext *e = &s->last;
	char why[300];
	__u64 bad, total;
	int v;

	if (!s->burn_on) {
		extgate_burn_cfg(plan, &s->bc);
		burn_track_init(&s->tr[0], &s->bc);
		burn_track_init(&s->tr[1], &s->bc);
		s->burn_on = true;
	}
	if (!obs->exists)
		return;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		burn_counts(obs, burn_signals(g, obs->mode), v, &bad, &total);
		burn_track_add(&s->tr[v], now_ms, bad, total);
	}
	if (!due)
		return;
	burn_judge(&s->tr[SLUICE_CANARY], &s->bc, &s->ev[SLUICE_CANARY]);
	burn_judge(&s->tr[SLUICE_BASELINE], &s->bc, &s->ev[SLUICE_BASELINE]);
	s->judged = true;
	memset(e, 0, sizeof(*e));
	e->status = ENG_EXT_OK;
	e->verdict = s->ev[1].verdict == BURN_FAIL ? ENG_EXT_FAIL :
		     s->ev[1].verdict == BURN_PASS ? ENG_EXT_PASS : ENG_EXT_INCONCLUSIVE;
	e->canary = s->ev[SLUICE_CANARY].max_burn;
	e->baseline = s->ev[SLUICE_BASELINE].max_burn;
	e->samples_c = s->ev[SLUICE_CANARY].rule[0].short_total;
	e->samples_b = s->ev[SLUICE_BASELINE].rule[0].short_total;
	e->measured_ms = now_ms;
	burn_explain(&s->ev[SLUICE_CANARY], &s->ev[SLUICE_BASELINE], &s->bc, why, sizeof(why));
	snprintf(e->reason, sizeof(e->reason), "%.127s", why);
	e->seq = ++s->seq;
}

/* ---- the tick ------------------------------------------------------------ */

static bool external(enum sluice_gate_metric m)
{
	return m == SLUICE_METRIC_EXT_PROMETHEUS || m == SLUICE_METRIC_EXT_COMMAND ||
	       m == SLUICE_METRIC_EXT_BURN_RATE;
}

bool extgate_plan_uses(const struct sluice_plan *plan)
{
	unsigned int i;

	for (i = 0; i < plan->ngates; i++)
		if (external(plan->gates[i].metric))
			return true;
	return false;
}

void extgate_tick(struct extgate *x, const struct sluice_plan *plan,
		  const struct extgate_ctx *ctx, const struct eng_obs *obs,
		  __u64 now_ms, struct eng_ext ext[SLUICE_PLAN_MAX_GATES])
{
	struct svc **pp = find(x, ctx->service), *v = *pp;
	unsigned int i;

	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return;
		snprintf(v->name, sizeof(v->name), "%s", ctx->service);
		*pp = v;
	}
	if (v->rollout_id != ctx->rollout_id || v->attempt != ctx->attempt) {
		/* a new rollout or attempt: nothing carries over */
		for (i = 0; i < SLUICE_PLAN_MAX_GATES; i++) {
			cancel_parts(&v->g[i]);
			memset(&v->g[i], 0, sizeof(v->g[i]));
		}
		v->rollout_id = ctx->rollout_id;
		v->attempt = ctx->attempt;
	}
	for (i = 0; i < plan->ngates && i < SLUICE_PLAN_MAX_GATES; i++) {
		const struct sluice_plan_gate *g = &plan->gates[i];
		struct slot *s = &v->g[i];
		__u64 key = fnv(g->name, g->metric + 1469598103934665603ull);
		__u64 iv = g->interval_ms ? g->interval_ms : 1000;
		bool due;

		if (!external(g->metric))
			continue;
		if (s->key != key) {	/* a reload changed the gate */
			cancel_parts(s);
			memset(s, 0, sizeof(*s));
			s->key = key;
			s->step = -2;
		}
		s->x = x;
		if (s->step != ctx->step) {	/* a new step: measure afresh */
			cancel_parts(s);
			s->step = ctx->step;
			s->measurements = 0;
			s->next_due_ms = now_ms;
		}
		due = ctx->step >= 0 && now_ms >= s->next_due_ms;
		if (due)	/* ticks run late: the same slack as gate_due */
			s->next_due_ms = now_ms + iv - gate_due_slack(iv);
		if (g->metric == SLUICE_METRIC_EXT_BURN_RATE)
			burn_tick(s, plan, g, obs, now_ms, due);
		else if (due && !s->busy)
			start(s, g, ctx);
		if (ext)
			ext[i] = s->last;
	}
}

bool extgate_burn(const struct extgate *x, const char *service,
		  struct burn_cfg *cfg, struct burn_eval *canary)
{
	struct svc *const *pp = find((struct extgate *)x, service);
	unsigned int i;

	if (!*pp)
		return false;
	for (i = 0; i < SLUICE_PLAN_MAX_GATES; i++)
		if ((*pp)->g[i].judged) {
			*cfg = (*pp)->g[i].bc;
			*canary = (*pp)->g[i].ev[SLUICE_CANARY];
			return true;
		}
	return false;
}
