// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rollout plans beyond parsing: resolving ring names to ids against the
 * rings that exist, and writing a plan back as YAML (the schema the parser
 * reads, so a plan round-trips).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "plan.h"

static const char *const metric_names[SLUICE_METRICS] = {
	[SLUICE_METRIC_ERROR_RATIO] = "error_ratio",
	[SLUICE_METRIC_LATENCY_P95] = "latency_p95",
	[SLUICE_METRIC_LATENCY_P99] = "latency_p99",
	[SLUICE_METRIC_NEW_FLOW_RATIO] = "new_flow_ratio",
	[SLUICE_METRIC_EXT_PROMETHEUS] = "prometheus",
	[SLUICE_METRIC_EXT_COMMAND] = "command",
	[SLUICE_METRIC_EXT_BURN_RATE] = "burn_rate",
};

const char *sluice_gate_metric_name(enum sluice_gate_metric m)
{
	return (unsigned int)m < SLUICE_METRICS ? metric_names[m] : "?";
}

bool sluice_plan_runs_commands(const struct sluice_plan *p, char *what, size_t len)
{
	unsigned int i;

	for (i = 0; i < p->ngates; i++) {
		const struct sluice_plan_gate *g = &p->gates[i];

		if (g->metric == SLUICE_METRIC_EXT_COMMAND) {
			snprintf(what, len, "gate '%s' runs a command", g->name);
			return true;
		}
		if (g->ext.url[0]) {
			snprintf(what, len, "gate '%s' fetches its own url: %s", g->name, g->ext.url);
			return true;
		}
	}
	if (p->pre_step_hook[0]) {
		snprintf(what, len, "its pre_step_hook runs a command");
		return true;
	}
	if (p->budget.present && p->budget.url[0]) {
		snprintf(what, len, "its budget fetches its own url: %s", p->budget.url);
		return true;
	}
	return false;
}

bool sluice_plan_cross_ring(const struct sluice_plan *plan, unsigned int step,
			    char *ring, size_t len)
{
	const struct sluice_plan_step *st;
	bool below = false, named_default = false;
	int full = -1;
	unsigned int j;

	if (step >= plan->nsteps || step >= SLUICE_PLAN_MAX_STEPS)
		return false;
	st = &plan->steps[step];
	if (st->kind != SLUICE_STEP_WEIGHT || !st->per_ring)
		return false;
	for (j = 0; j < st->nweights && j < SLUICE_MAX_RINGS; j++) {
		named_default |= !strcmp(st->weights[j].ring, "default");
		if (st->weights[j].bp >= 10000 && full < 0)
			full = j;
		else if (st->weights[j].bp < 10000)
			below = true;
	}
	/* rings the step does not name take 0 without a default */
	if (full < 0 || (!below && named_default))
		return false;
	if (ring)
		snprintf(ring, len, "%s", st->weights[full].ring);
	return true;
}

unsigned int sluice_plan_warnings(const struct sluice_plan *plan, char *buf, size_t len)
{
	unsigned int i, n = 0;
	size_t off = 0;
	char ring[SLUICE_RING_NAME_LEN + 1];

	if (len)
		buf[0] = 0;
	for (i = 0; i < plan->nsteps; i++) {
		const struct sluice_plan_step *st = &plan->steps[i];

		if (!sluice_plan_cross_ring(plan, i, ring, sizeof(ring)))
			continue;
		n++;
		if (off < len)
			off += snprintf(buf + off, len - off,
					"%s:%u:%u: warning: step %u: ring '%s' at 100%% canary has no baseline of its own: its canary is judged against the other rings' baseline, a different population (keep a within-ring control: e.g. 95%% instead of 100%%)\n",
					plan->source, st->pos.line, st->pos.col, i + 1, ring);
	}
	return n;
}

const char *sluice_step_kind_name(enum sluice_step_kind k)
{
	static const char *const n[] = { "weight", "pause", "cutover" };

	return (unsigned int)k < 3 ? n[k] : "?";
}

static int rerr(const struct sluice_plan *plan, const struct sluice_plan_pos *pos,
		char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int rerr(const struct sluice_plan *plan, const struct sluice_plan_pos *pos,
		char *err, size_t errlen, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pos->line)
		snprintf(err, errlen, "%s:%u:%u: %s", plan->source, pos->line,
			 pos->col, msg);
	else
		snprintf(err, errlen, "%s: %s", plan->source, msg);
	return -EINVAL;
}

int sluice_plan_resolve(struct sluice_plan *plan, __u8 mode,
			sluice_ring_lookup_fn ring_id, void *ctx,
			char *err, size_t errlen)
{
	struct sluice_plan *w;
	unsigned int i, j, r;
	int rc = 0;

	w = malloc(sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "%s: out of memory", plan->source);
		return -ENOMEM;
	}
	memcpy(w, plan, sizeof(*w));
	for (i = 0; i < w->ngates && !rc; i++) {
		const struct sluice_plan_gate *g = &w->gates[i];

		if (mode == SLUICE_MODE_NAT)
			continue;
		if (g->metric == SLUICE_METRIC_LATENCY_P95 ||
		    g->metric == SLUICE_METRIC_LATENCY_P99)
			rc = rerr(w, &g->pos, err, errlen,
				  "gate '%s': %s needs mode nat (only there do replies cross the node)",
				  g->name, metric_names[g->metric]);
		else if (g->signals & (SLUICE_SIG_BACKEND_RST | SLUICE_SIG_HS_TIMEOUT))
			rc = rerr(w, &g->pos, err, errlen,
				  "gate '%s': backend_rst and hs_timeout are seen in mode nat only",
				  g->name);
	}
	for (i = 0; i < w->nsteps && !rc; i++) {
		struct sluice_plan_step *st = &w->steps[i];
		__u16 dflt = 0;
		int id;

		if (st->kind != SLUICE_STEP_WEIGHT || !st->per_ring)
			continue;
		for (j = 0; j < st->nweights; j++)
			if (!strcmp(st->weights[j].ring, "default"))
				dflt = st->weights[j].bp;
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			st->weight[r] = dflt;
		for (j = 0; j < st->nweights && !rc; j++) {
			const struct sluice_plan_ring_weight *rw = &st->weights[j];

			if (!strcmp(rw->ring, "default"))
				continue;
			id = ring_id ? ring_id(ctx, rw->ring) : -ENOENT;
			if (id <= 0 || id >= SLUICE_MAX_RINGS)
				rc = rerr(w, &rw->pos, err, errlen,
					  "step %u: no ring '%s' (define it under rings:, or `sluice ring add`)",
					  i + 1, rw->ring);
			else
				st->weight[id] = rw->bp;
		}
		st->resolved = true;
	}
	if (!rc)
		memcpy(plan, w, sizeof(*w));
	free(w);
	return rc;
}

static int live_ring(void *ctx, const char *name)
{
	return sluice_ring_id(ctx, name);
}

int sluice_plan_resolve_live(struct sluice_plan *plan, struct sluice *s,
			     const struct sluice_service_spec *svc,
			     char *err, size_t errlen)
{
	return sluice_plan_resolve(plan, svc->mode, live_ring, s, err, errlen);
}

/* ---- YAML out ----------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void out(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0,
			      fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		b->cap = (b->cap + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			b->oom = true;
			return;
		}
	}
}

static void fmt_bp(char *s, size_t len, unsigned int bp)
{
	if (bp % 100)
		snprintf(s, len, "%u.%02u%%", bp / 100, bp % 100);
	else
		snprintf(s, len, "%u%%", bp / 100);
}

static void fmt_ms(char *s, size_t len, __u64 ms)
{
	static const struct { const char *u; __u64 ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
		{ "ms", 1 },
	};
	size_t n = 0;
	unsigned int i;

	if (!ms) {
		snprintf(s, len, "0s");
		return;
	}
	s[0] = 0;
	for (i = 0; i < 5 && n < len; i++)
		if (ms >= units[i].ms) {
			n += snprintf(s + n, len - n, "%llu%s",
				      (unsigned long long)(ms / units[i].ms), units[i].u);
			ms %= units[i].ms;
		}
}

/* key: 'text' (YAML single quotes: ' doubled) */
static void out_sq(struct buf *b, const char *pad, const char *key, const char *text)
{
	const char *q;

	out(b, "%s%s: '", pad, key);
	for (q = text; *q; q++)
		out(b, *q == '\'' ? "''" : "%c", *q);
	out(b, "'\n");
}

static void ext_to_yaml(struct buf *b, const char *pad, const struct sluice_plan_gate *g)
{
	char v[48], in[40];

	snprintf(in, sizeof(in), "%s    ", pad);
	if (g->metric == SLUICE_METRIC_EXT_PROMETHEUS) {
		out_sq(b, in, "query", g->ext.query);
		if (g->ext.samples_query[0])
			out_sq(b, in, "samples_query", g->ext.samples_query);
		if (g->ext.url[0])
			out(b, "%surl: %s\n", in, g->ext.url);
	}
	if (g->metric == SLUICE_METRIC_EXT_COMMAND) {
		out_sq(b, in, "command", g->ext.command);
		out(b, "%sresult: %s\n", in, g->ext.result == SLUICE_CMD_VALUE ? "value" : "exit");
	}
	if (g->ext.timeout_ms) {
		fmt_ms(v, sizeof(v), g->ext.timeout_ms);
		out(b, "%stimeout: %s\n", in, v);
	}
}

static void budget_to_yaml(struct buf *b, const char *pad, const struct sluice_plan *plan)
{
	const struct sluice_plan_budget *bd = &plan->budget;
	char v[48], in[40];

	snprintf(in, sizeof(in), "%s  ", pad);
	if (bd->present) {
		out(b, "%sbudget:\n%sslo: %.15g%%\n", pad, in, bd->slo * 100);
		fmt_ms(v, sizeof(v), bd->window_ms);
		out(b, "%swindow: %s\n", in, v);
		if (bd->time_base_ms) {
			fmt_ms(v, sizeof(v), bd->time_base_ms);
			out(b, "%stime_base: %s\n", in, v);
		}
		fmt_ms(v, sizeof(v), bd->check_interval_ms);
		out(b, "%smin_events: %llu\n%scheck_interval: %s\n%sfreeze: %s\n", in,
		    (unsigned long long)bd->min_events, in, v, in, bd->freeze ? "true" : "false");
		if (bd->error_ratio_query[0])
			out_sq(b, in, "error_ratio_query", bd->error_ratio_query);
		if (bd->url[0])
			out(b, "%surl: %s\n", in, bd->url);
	}
	if (plan->pre_step_hook[0]) {
		out_sq(b, pad, "pre_step_hook", plan->pre_step_hook);
		fmt_ms(v, sizeof(v), plan->pre_step_timeout_ms);
		out(b, "%spre_step_timeout: %s\n", pad, v);
	}
}

char *sluice_plan_to_yaml(const struct sluice_plan *plan, int indent)
{
	static const char *const sig[] = { "syn_retrans", "client_rst",
					   "backend_rst", "hs_timeout" };
	static const char *const inc[] = { "pause", "extend", "fail" };
	struct buf b = {};
	char v[48], pad[32];
	unsigned int i, j;

	snprintf(pad, sizeof(pad), "%*s", indent < 0 ? 0 : indent > 30 ? 30 : indent, "");
	out(&b, "%strigger: %s\n", pad,
	    plan->trigger == SLUICE_TRIGGER_CANARY_CHANGE ? "canary-change" : "manual");
	out(&b, "%son_failure: %s\n", pad,
	    plan->on_failure == SLUICE_ON_FAILURE_PAUSE ? "pause" : "rollback");
	if (plan->live_flows == SLUICE_LIVE_DRAIN)
		fmt_ms(v, sizeof(v), plan->live_drain_ms ? plan->live_drain_ms
							 : SLUICE_LIVE_DRAIN_DEFAULT_MS);
	out(&b, "%son_rollback:\n%s  live_flows: %s%s\n", pad, pad,
	    plan->live_flows == SLUICE_LIVE_KEEP ? "keep" :
	    plan->live_flows == SLUICE_LIVE_RESET ? "reset" : "drain ",
	    plan->live_flows == SLUICE_LIVE_DRAIN ? v : "");
	if (plan->on_canary_change != SLUICE_CANARY_CHANGE_RESTART)
		out(&b, "%son_canary_change: %s\n", pad,
		    plan->on_canary_change == SLUICE_CANARY_CHANGE_PAUSE ? "pause" : "fail");
	if (plan->split_check_off)
		out(&b, "%ssplit_check: false\n", pad);
	if (plan->rollback_window_ms != SLUICE_ROLLBACK_WINDOW_DEFAULT_MS) {
		fmt_ms(v, sizeof(v), plan->rollback_window_ms);
		out(&b, "%srollback_window: %s\n", pad, plan->rollback_window_ms ? v : "0s");
	}
	out(&b, "%ssteps:\n", pad);
	for (i = 0; i < plan->nsteps; i++) {
		const struct sluice_plan_step *st = &plan->steps[i];

		switch (st->kind) {
		case SLUICE_STEP_WEIGHT:
			if (!st->per_ring) {
				fmt_bp(v, sizeof(v), st->weight_all);
				out(&b, "%s  - weight: %s\n", pad, v);
			} else {
				out(&b, "%s  - weight: {", pad);
				for (j = 0; j < st->nweights; j++) {
					fmt_bp(v, sizeof(v), st->weights[j].bp);
					out(&b, "%s%s: %s", j ? ", " : "", st->weights[j].ring, v);
				}
				out(&b, "}\n");
			}
			fmt_ms(v, sizeof(v), st->hold_ms);
			out(&b, "%s    hold: %s\n", pad, v);
			break;
		case SLUICE_STEP_PAUSE:
			fmt_ms(v, sizeof(v), st->hold_ms);
			out(&b, "%s  - pause: %s\n", pad, st->hold_ms ? v : "indefinite");
			break;
		case SLUICE_STEP_CUTOVER:
			fmt_ms(v, sizeof(v), st->hold_ms);
			out(&b, "%s  - cutover: green\n%s    hold: %s\n", pad, pad, v);
			break;
		}
	}
	if (plan->ngates)
		out(&b, "%sgates:\n", pad);
	for (i = 0; i < plan->ngates; i++) {
		const struct sluice_plan_gate *g = &plan->gates[i];
		bool lat = g->metric == SLUICE_METRIC_LATENCY_P95 ||
			   g->metric == SLUICE_METRIC_LATENCY_P99;

		if (g->implicit)
			continue;	/* split_check's: the parser adds it */
		out(&b, "%s  - name: %s\n%s    metric: %s\n", pad, g->name, pad,
		    sluice_gate_metric_name(g->metric));
		fmt_ms(v, sizeof(v), g->interval_ms);
		out(&b, "%s    interval: %s\n", pad, v);
		if (g->compare_baseline && (!g->has_max_increase_abs || g->max_increase))
			out(&b, "%s    max_increase: %.15g%%\n", pad, g->max_increase * 100);
		if (g->has_max_increase_abs) {
			if (lat)
				fmt_ms(v, sizeof(v), (__u64)g->max_increase_abs);
			else if (g->metric >= SLUICE_METRIC_EXT_PROMETHEUS)
				snprintf(v, sizeof(v), "%.17g", g->max_increase_abs);
			else
				snprintf(v, sizeof(v), "%.15g%%", g->max_increase_abs * 100);
			out(&b, "%s    max_increase_abs: %s\n", pad, v);
		}
		if (g->has_max) {
			if (lat)
				fmt_ms(v, sizeof(v), (__u64)g->max);
			else if (g->metric >= SLUICE_METRIC_EXT_PROMETHEUS)
				snprintf(v, sizeof(v), "%.17g", g->max);
			else
				snprintf(v, sizeof(v), "%.15g%%", g->max * 100);
			out(&b, "%s    max: %s\n", pad, v);
		}
		out(&b, "%s    confidence: %.15g%%\n", pad, g->confidence * 100);
		out(&b, "%s    min_samples: %llu\n", pad, (unsigned long long)g->min_samples);
		out(&b, "%s    failure_limit: %u\n%s    error_limit: %u\n", pad,
		    g->failure_limit, pad, g->error_limit);
		out(&b, "%s    on_inconclusive: %s\n", pad,
		    (unsigned int)g->on_inconclusive < 3 ? inc[g->on_inconclusive] : "pause");
		if (g->signals) {
			out(&b, "%s    signals: [", pad);
			for (j = 0; j < 4; j++)
				if (g->signals & (1u << j))
					out(&b, "%s%s", (g->signals & ((1u << j) - 1)) ? ", " : "",
					    sig[j]);
			out(&b, "]\n");
		}
		ext_to_yaml(&b, pad, g);
	}
	budget_to_yaml(&b, pad, plan);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
