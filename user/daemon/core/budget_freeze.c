// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The error-budget freeze in sluiced: for every service whose rollout
 * (running or finished) has a plan with `budget:` (freeze on), the budget
 * left over the SLO window is checked every check_interval, from the
 * store's per-minute samples (taken here once a minute too while no
 * rollout runs, so the history goes on) or from the budget's Prometheus
 * query (asynchronous, like gates). The result is the service's freeze
 * (eng_env.service) handed to the engine with every tick and command:
 * exhausted refuses `rollout start` and holds a running rollout; budget
 * back lifts it. A transition is logged, put in the audit trail and
 * notified.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"
#include "error_budget.h"
#include "prom.h"
#include "notify.h"

#define QUERY_TIMEOUT_MS 10000

struct bsvc {
	struct bsvc *next;
	struct daemon *d;
	char service[SLUICE_NAME_LEN];
	struct sluice_plan_budget cfg;
	struct eng_freeze f;
	struct budget_left last;
	__u64 next_ms;
	bool busy;		/* a query in flight */
	int64_t qid;
	char error[160];	/* the last check's failure, "" */
};


static bool wanted(const struct sluice_plan *p)
{
	return p && p->budget.present && p->budget.freeze;
}

static struct bsvc *find(struct daemon *d, const char *service, bool create)
{
	struct bsvc *b;

	for (b = d->budgets; b; b = b->next)
		if (!strcmp(b->service, service))
			return b;
	if (!create)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	snprintf(b->service, sizeof(b->service), "%s", service);
	b->next = d->budgets;
	d->budgets = b;
	return b;
}

static void note(struct bsvc *b, bool changed)
{
	struct daemon *d = b->d;
	struct rollout *r = ro_find(d, b->service);
	char text[320];

	if (!changed)
		return;
	snprintf(text, sizeof(text), "%s: %s", b->f.frozen ? "frozen" : "unfrozen",
		 b->f.frozen ? b->f.reason : b->last.text);
	dlog(d, b->f.frozen ? LOG_WARN_ : LOG_INFO_, "%s: %s", b->service, text);
	audit_note(d, b->service, r ? r->st.rollout_id : 0,
		   b->f.frozen ? "freeze" : "unfreeze", BUDGET_WHO, text);
	gs_notify_service_freeze(d, b->service, b->f.frozen, &b->f);
}

static void apply(struct bsvc *b, const struct budget_left *l, __u64 now)
{
	b->last = *l;
	b->error[0] = 0;
	note(b, budget_freeze_update(&b->f, l, now));
}

static void on_prom(const struct prom_result *res, void *arg)
{
	struct bsvc *b = arg;
	struct budget_left l;

	if (res->err == -ECANCELED)
		return;
	b->busy = false;
	if (res->err) {
		/* unknown is not "budget back": the freeze stays as it is */
		if (strcmp(b->error, res->reason))
			dlog(b->d, LOG_WARN_, "%s: error budget query: %s", b->service, res->reason);
		snprintf(b->error, sizeof(b->error), "%.159s", res->reason);
		return;
	}
	budget_from_ratio(&b->cfg, res->value, &l);
	apply(b, &l, steady_ms());
}

static void check_prom(struct daemon *d, struct bsvc *b)
{
	char win[24], q[4096], err[160];
	struct sluice_query_vars v = { .service = b->service, .window = win };
	__u64 w = budget_window_ms(&b->cfg);

	if (b->busy)
		return;
	if (w % 86400000 == 0)
		snprintf(win, sizeof(win), "%llud", (unsigned long long)(w / 86400000));
	else
		snprintf(win, sizeof(win), "%llus", (unsigned long long)(w / 1000));
	if (sluice_query_expand(b->cfg.error_ratio_query, &v, q, sizeof(q), err, sizeof(err)) < 0) {
		snprintf(b->error, sizeof(b->error), "query: %.150s", err);
		return;
	}
	b->qid = prom_query_start(d->hc, b->cfg.url[0] ? b->cfg.url :
				  d->o.prom_url ? d->o.prom_url : "http://127.0.0.1:9090",
				  q, QUERY_TIMEOUT_MS, on_prom, b);
	b->busy = b->qid > 0;
}

static int samples_left(struct daemon *d, struct bsvc *b, __u64 now, struct budget_left *l)
{
	__u64 w = budget_window_ms(&b->cfg), bad, total, span;

	if (store_sample_window(d->db, b->service, now > w ? now - w : 0, &bad, &total, &span)) {
		snprintf(b->error, sizeof(b->error), "%.159s", store_errmsg(d->db));
		return -EIO;
	}
	budget_from_counts(&b->cfg, bad, total, span, l);
	return 0;
}

static void check_samples(struct daemon *d, struct bsvc *b, __u64 now)
{
	struct budget_left l;

	if (!samples_left(d, b, now, &l))
		apply(b, &l, now);
}

/* The verdict into b->f without a note (a budget nobody tracks yet). */
static void check_samples_only(struct daemon *d, struct bsvc *b, __u64 now)
{
	struct budget_left l;

	if (!samples_left(d, b, now, &l))
		budget_freeze_update(&b->f, &l, now);
}

static void check(struct daemon *d, struct bsvc *b, __u64 now)
{
	b->next_ms = now + (b->cfg.check_interval_ms ? b->cfg.check_interval_ms : 60000);
	if (b->cfg.error_ratio_query[0])
		check_prom(d, b);
	else
		check_samples(d, b, now);
}

/* A rollout's plan: its budget takes over (a new plan may change it). */
static struct bsvc *adopt(struct daemon *d, const char *service,
			  const struct sluice_plan *p)
{
	struct bsvc *b = find(d, service, wanted(p));

	if (!b)
		return NULL;
	b->d = d;
	if (!wanted(p)) {
		/* the plan has no budget (any more): nothing freezes */
		if (b->f.frozen) {
			struct budget_left l = { .known = true, .remaining = 1 };

			snprintf(l.text, sizeof(l.text), "the plan has no budget");
			apply(b, &l, steady_ms());
		}
		return NULL;
	}
	if (memcmp(&b->cfg, &p->budget, sizeof(b->cfg))) {
		b->cfg = p->budget;
		b->next_ms = 0;		/* check the new budget now */
	}
	return b;
}

void budget_tick(struct daemon *d, __u64 now)
{
	static __u64 last;
	unsigned int i;

	/* check_interval is 1 s at least: look once a second */
	if (last && now - last < 1000)
		return;
	last = now;

	/* the checks need only the store or the HTTP client: right after a
	 * restart they run before the rollouts' first tick */
	for (i = 0; i < d->nro; i++) {
		struct rollout *r = d->ro[i];
		struct bsvc *b = adopt(d, r->service, r->plan);
		bool running = r->st.phase != ENG_NONE && !eng_terminal(r->st.phase);

		if (!b)
			continue;
		/* a running rollout's tick takes the samples; keep the history
		 * going between rollouts */
		if (!running && d->s && !b->cfg.error_ratio_query[0] &&
		    r->sample_minute != now / 60000 && !sample_fill(d, r, &d->obs))
			ro_take_sample(d, r, now);
		if (now >= b->next_ms)
			check(d, b, now);
	}
}

static bool same_source(const struct sluice_plan_budget *a, const struct sluice_plan_budget *b)
{
	return budget_slo(a) == budget_slo(b) && budget_window_ms(a) == budget_window_ms(b) &&
	       !strcmp(a->error_ratio_query, b->error_ratio_query) && !strcmp(a->url, b->url);
}

void budget_start_check(struct daemon *d, const char *service,
			const struct sluice_plan *plan, __u64 now, struct eng_freeze *out)
{
	struct bsvc *b = find(d, service, false), tmp = { .d = d };

	memset(out, 0, sizeof(*out));
	if (!wanted(plan))
		return;
	if (b && same_source(&b->cfg, &plan->budget)) {
		/* the samples answer at once; a query's last answer stands
		 * (the next one freezes the rollout it finds running) */
		if (!b->cfg.error_ratio_query[0])
			check(d, b, now);
		*out = b->f;
		return;
	}
	if (plan->budget.error_ratio_query[0])
		return;		/* not asked yet: the first answer decides */
	/* another budget than the one tracked (the plan is not the
	 * service's yet): judged for this start only */
	tmp.cfg = plan->budget;
	snprintf(tmp.service, sizeof(tmp.service), "%s", service);
	check_samples_only(d, &tmp, now);
	*out = tmp.f;
}

void budget_env(struct daemon *d, const char *service, struct eng_freeze *out)
{
	struct bsvc *b = find(d, service, false);

	if (b && b->f.frozen)
		*out = b->f;
	else
		memset(out, 0, sizeof(*out));
}

json_t *budget_json(struct daemon *d, const char *service)
{
	struct bsvc *b = find(d, service, false);
	json_t *o;

	if (!b)
		return json_null();
	o = json_pack("{s:b, s:s, s:s, s:I, s:s}", "frozen", b->f.frozen,
		      "reason", b->f.frozen ? b->f.reason : "", "text", b->last.text,
		      "since_ms", (json_int_t)b->f.since_ms, "error", b->error);
	if (o && b->last.known)
		json_object_set_new(o, "remaining", json_real(b->last.remaining));
	return o ? o : json_null();
}

bool budget_remaining(struct daemon *d, const char *service, double *remaining,
		      bool *frozen)
{
	struct bsvc *b = find(d, service, false);

	if (!b)
		return false;
	*frozen = b->f.frozen;
	*remaining = b->last.remaining;
	return b->last.known;
}

void budget_free(struct daemon *d)
{
	while (d->budgets) {
		struct bsvc *b = d->budgets;

		d->budgets = b->next;
		if (b->busy)
			httpc_cancel(d->hc, b->qid);
		free(b);
	}
}
