// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rollout plans from YAML: a service's `rollout:` section (config_yaml.c
 * hands the node over) or a standalone plan file with the same mapping at
 * the top. Everything is checked here that can be checked without the
 * live rings; sluice_plan_resolve (plan.c) does the rest.
 *
 *   rollout:
 *     trigger: manual | canary-change
 *     on_failure: rollback | pause
 *     on_canary_change: restart | pause | fail   # the canary pool changed
 *     rollback_window: 1h                 # the old baseline kept for undo
 *     split_check: true                   # new flows split as configured
 *     steps:
 *       - weight: 5%                      # or {internal: 100%, default: 5%}
 *         hold: 10m
 *       - pause: ~                        # until `promote`; or pause: 30m
 *       - cutover: green                  # blue-green
 *         hold: 5m
 *     gates:
 *       - metric: error_ratio             # latency_p95 latency_p99
 *         interval: 1s                    # new_flow_ratio
 *         max_increase: 20%
 *         max_increase_abs: 0.1%          # latency: a duration
 *         max: 5%                         # latency: a duration
 *         confidence: 99%
 *         min_samples: 500
 *         failure_limit: 0
 *         error_limit: 3
 *         on_inconclusive: pause | extend | fail
 *         signals: [syn_retrans, client_rst, backend_rst, hs_timeout]
 *       - metric: prometheus              # external: measured by sluiced
 *         query: 'sum(rate(http_requests_total{version="{{variant}}",code=~"5.."}[1m]))
 *                 / sum(rate(http_requests_total{version="{{variant}}"}[1m]))'
 *         samples_query: 'sum(increase(http_requests_total{version="{{variant}}"}[1m]))'
 *         url: http://127.0.0.1:9090      # default: sluiced --prometheus
 *         timeout: 2s
 *         max: 1%                         # or 0.01; max_increase as above
 *       - metric: command
 *         command: /usr/local/bin/smoke-test
 *         result: exit                    # 0 pass, 1 fail; or value (stdout)
 *       - metric: burn_rate               # against budget: below
 *     budget:
 *       slo: 99.9%
 *       window: 30d                       # the SLO period
 *       time_base: 5m                     # the workbook's 1 h becomes this
 *       min_events: 100
 *       check_interval: 1m
 *       freeze: true                      # exhausted: no starts, pause
 *       error_ratio_query: '...{{window}}...'   # default: the datapath
 *     on_rollback:
 *       live_flows: drain 10s             # keep | reset | drain DURATION
 *     pre_step_hook: /usr/local/bin/before-step   # failure pauses
 *     pre_step_timeout: 30s
 */
#include <math.h>
#include "yaml_walk.h"
#include "plan.h"

#define DURATION_MAX_MS	(30ull * 24 * 3600 * 1000)	/* 30 days */

static struct sluice_plan_pos ppos(const yaml_node_t *n)
{
	struct sluice_plan_pos p = { n->start_mark.line + 1,
				     n->start_mark.column + 1 };
	return p;
}

/* "500ms", "30s", "5m", "2h", "1d", "1m30s", "1.5s": milliseconds. */
int sluice_parse_duration(const char *s, __u64 *ms)
{
	static const struct { const char *u; double ms; } units[] = {
		{ "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 },
		{ "d", 86400e3 },
	};
	double total = 0;
	unsigned int i;

	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		double v;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = strtod(s, &end);
		if (end == s || !isalpha((unsigned char)*end))
			return -EINVAL;
		s = end;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].u);

			/* "m" must not swallow the "m" of "ms" */
			if (!strncmp(s, units[i].u, n) && !isalpha((unsigned char)s[n]))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		s += strlen(units[i].u);
		total += v * units[i].ms;
		if (total > (double)DURATION_MAX_MS)
			return -ERANGE;
	}
	*ms = (__u64)llround(total);
	return 0;
}

static int get_duration(struct pctx *p, const yaml_node_t *n, const char *what,
			__u64 min_ms, __u64 *ms)
{
	int err = want_scalar(p, n, what);

	if (err)
		return err;
	err = sluice_parse_duration(sval(n), ms);
	if (err == -ERANGE)
		return perr(p, n, "%s: '%s' is longer than 30 days", what, sval(n));
	if (err)
		return perr(p, n, "%s: '%s' is not a duration (write 500ms, 30s, 5m, 2h or 1m30s)",
			    what, sval(n));
	if (*ms < min_ms)
		return perr(p, n, "%s: '%s' is shorter than %llums", what, sval(n),
			    (unsigned long long)min_ms);
	return 0;
}

/* "20%", "0.1%": a ratio in [lo, hi] (both as ratios). */
static int get_percent(struct pctx *p, const yaml_node_t *n, const char *what,
		       double lo, double hi, bool hi_open, double *out)
{
	const char *s;
	char *end;
	double v;
	int err = want_scalar(p, n, what);

	if (err)
		return err;
	s = sval(n);
	if (!isdigit((unsigned char)*s))
		return perr(p, n, "%s: '%s' is not a percentage (write 20%% or 0.5%%)", what, s);
	v = strtod(s, &end);
	if (end == s || strcmp(end, "%"))
		return perr(p, n, "%s: '%s' is not a percentage (write 20%% or 0.5%%)", what, s);
	v /= 100;
	if (!isfinite(v) || v < lo || v > hi || (hi_open && v >= hi))
		return perr(p, n, "%s: %s is out of range %g%%..%g%%%s", what, s, lo * 100,
			    hi * 100, hi_open ? " (exclusive)" : "");
	*out = v;
	return 0;
}

/* ---- steps -------------------------------------------------------------- */

struct step_ctx {
	struct sluice_plan_step *st;
	yaml_node_t *hold, *kind_node;
	int kinds;
};

static int st_weight(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct step_ctx *c = o;
	struct sluice_plan_step *st = c->st;
	yaml_node_pair_t *pair;
	unsigned int i;
	bool any = false;
	int err;

	c->kinds++;
	c->kind_node = k;
	st->kind = SLUICE_STEP_WEIGHT;
	if (v->type != YAML_MAPPING_NODE) {
		err = get_weight(p, v, "weight", &st->weight_all);
		if (err)
			return err;
		if (!st->weight_all)
			return perr(p, v, "weight: a step at 0%% exposes no canary traffic to judge");
		for (i = 0; i < SLUICE_MAX_RINGS; i++)
			st->weight[i] = st->weight_all;
		st->resolved = true;
		return 0;
	}
	st->per_ring = true;
	if (!v->data.mapping.pairs.top || v->data.mapping.pairs.top == v->data.mapping.pairs.start)
		return perr(p, v, "weight: the per-ring mapping is empty");
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *rk = yaml_document_get_node(&p->doc, pair->key);
		yaml_node_t *rv = yaml_document_get_node(&p->doc, pair->value);
		struct sluice_plan_ring_weight *w;
		char ring[SLUICE_RING_NAME_LEN];

		err = get_str(p, rk, "ring name", ring, sizeof(ring));
		if (err)
			return err;
		if (!strcmp(ring, "broad"))
			snprintf(ring, sizeof(ring), "default");
		for (i = 0; i < st->nweights; i++)
			if (!strcmp(st->weights[i].ring, ring))
				return perr(p, rk, "weight: ring '%s' appears twice", ring);
		if (st->nweights >= SLUICE_MAX_RINGS)
			return perr(p, rk, "weight: more than %d rings", SLUICE_MAX_RINGS);
		w = &st->weights[st->nweights];
		snprintf(w->ring, sizeof(w->ring), "%s", ring);
		w->pos = ppos(rk);
		err = get_weight(p, rv, "weight", &w->bp);
		if (err)
			return err;
		any |= w->bp > 0;
		st->nweights++;
	}
	if (!any)
		return perr(p, v, "weight: a step at 0%% in every ring exposes no canary traffic to judge");
	return 0;
}

static int st_hold(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct step_ctx *c = o;

	c->hold = k;
	return get_duration(p, v, "hold", 1, &c->st->hold_ms);
}

static int st_pause(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct step_ctx *c = o;

	c->kinds++;
	c->kind_node = k;
	c->st->kind = SLUICE_STEP_PAUSE;
	if (is_null(v) || (v->type == YAML_SCALAR_NODE &&
			   !strcmp(sval(v), "indefinite")))
		return 0;
	if (v->type == YAML_MAPPING_NODE && v->data.mapping.pairs.top == v->data.mapping.pairs.start)
		return 0;	/* pause: {} */
	return get_duration(p, v, "pause", 1, &c->st->hold_ms);
}

static int st_cutover(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "green", "canary" };
	struct step_ctx *c = o;
	int x, i, err;

	c->kinds++;
	c->kind_node = k;
	c->st->kind = SLUICE_STEP_CUTOVER;
	err = get_enum(p, v, "cutover", n, 2, &x);
	if (err)
		return err;
	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		c->st->weight[i] = SLUICE_BUCKETS;
	c->st->resolved = true;
	return 0;
}

static const struct key_def step_keys[] = {
	{ "weight", st_weight, false },
	{ "hold", st_hold, false },
	{ "pause", st_pause, false },
	{ "cutover", st_cutover, false },
};

static int parse_step(struct pctx *p, yaml_node_t *n, struct sluice_plan *plan)
{
	struct sluice_plan_step *st;
	struct step_ctx c = {};
	char what[48];
	int err;

	if (plan->nsteps >= SLUICE_PLAN_MAX_STEPS)
		return perr(p, n, "steps: more than %d steps", SLUICE_PLAN_MAX_STEPS);
	st = &plan->steps[plan->nsteps];
	memset(st, 0, sizeof(*st));
	st->pos = ppos(n);
	c.st = st;
	snprintf(what, sizeof(what), "step %u", plan->nsteps + 1);
	err = walk_mapping(p, n, what, step_keys,
			   sizeof(step_keys) / sizeof(step_keys[0]), &c);
	if (err)
		return err;
	if (!c.kinds)
		return perr(p, n, "%s: needs one of weight, pause or cutover", what);
	if (c.kinds > 1)
		return perr(p, c.kind_node, "%s: has more than one of weight, pause and cutover",
			    what);
	if (st->kind == SLUICE_STEP_PAUSE && c.hold)
		return perr(p, c.hold, "%s: a pause step takes its duration as 'pause: 30m', not 'hold'",
			    what);
	if (st->kind != SLUICE_STEP_PAUSE && !c.hold)
		return perr(p, n, "%s: a %s step needs a hold (how long it is judged before the next step)",
			    what, st->kind == SLUICE_STEP_CUTOVER ? "cutover" : "weight");
	plan->nsteps++;
	return 0;
}

struct plan_ctx {
	struct sluice_plan *plan;
	int mode;		/* the service's enum sluice_mode, -1 unknown */
};

static int pl_steps(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	yaml_node_item_t *it;
	int err;

	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "steps: expected a list, got %s", node_kind(v));
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return perr(p, v, "steps: the list is empty");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		err = parse_step(p, yaml_document_get_node(&p->doc, *it), plan);
		if (err)
			return err;
	}
	return 0;
}

/* ---- gates -------------------------------------------------------------- */

struct gate_ctx_y {
	struct sluice_plan_gate *g;
	yaml_node_t *metric, *incr, *incr_abs, *max, *signals, *name;
	yaml_node_t *query, *samples_query, *url, *command, *result, *timeout;
	yaml_node_t *abs_raw, *max_raw;	/* parsed once the metric is known */
};

static const char *const metric_names[] = {
	[SLUICE_METRIC_ERROR_RATIO] = "error_ratio",
	[SLUICE_METRIC_LATENCY_P95] = "latency_p95",
	[SLUICE_METRIC_LATENCY_P99] = "latency_p99",
	[SLUICE_METRIC_NEW_FLOW_RATIO] = "new_flow_ratio",
	[SLUICE_METRIC_EXT_PROMETHEUS] = "prometheus",
	[SLUICE_METRIC_EXT_COMMAND] = "command",
	[SLUICE_METRIC_EXT_BURN_RATE] = "burn_rate",
};
#define METRICS_PARSED	SLUICE_METRICS

static bool is_latency(enum sluice_gate_metric m)
{
	return m == SLUICE_METRIC_LATENCY_P95 || m == SLUICE_METRIC_LATENCY_P99;
}

static int gt_name(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	size_t i;
	int err = get_str(p, v, "gate name", c->g->name, sizeof(c->g->name));

	if (err)
		return err;
	for (i = 0; c->g->name[i]; i++)
		if (!isalnum((unsigned char)c->g->name[i]) && !strchr("_.-", c->g->name[i]))
			return perr(p, v, "gate name: '%s' may hold only letters, digits, '_', '.', '-'",
				    c->g->name);
	c->name = v;
	return 0;
}

static int gt_metric(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	int x, err = get_enum(p, v, "metric", metric_names, METRICS_PARSED, &x);

	if (err)
		return err;
	c->g->metric = x;
	c->metric = v;
	return 0;
}

static int gt_interval(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	int err = get_duration(p, v, "interval", 100, &c->g->interval_ms);

	if (!err && c->g->interval_ms > 3600 * 1000)
		return perr(p, v, "interval: '%s' is longer than 1h", sval(v));
	return err;
}

static int gt_incr(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	c->incr = v;
	c->g->compare_baseline = true;
	return get_percent(p, v, "max_increase", 0, 10, false, &c->g->max_increase);
}

/* The metric decides the unit: read after the mapping. */
static int gt_incr_abs(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	c->abs_raw = v;
	return want_scalar(p, v, "max_increase_abs");
}

static int gt_max(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	c->max_raw = v;
	return want_scalar(p, v, "max");
}

static int gt_conf(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	return get_percent(p, v, "confidence", 0.5, 1, true, &c->g->confidence);
}

static int gt_min(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	unsigned long x;
	int err = get_uint(p, v, "min_samples", 1, 1000000000UL, &x);

	c->g->min_samples = x;
	return err;
}

static int gt_flim(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	unsigned long x;
	int err = get_uint(p, v, "failure_limit", 0, 1000, &x);

	c->g->failure_limit = x;
	return err;
}

static int gt_elim(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	unsigned long x;
	int err = get_uint(p, v, "error_limit", 0, 1000, &x);

	c->g->error_limit = x;
	return err;
}

static int gt_inconc(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "pause", "extend", "fail" };
	struct gate_ctx_y *c = o;
	int x, err = get_enum(p, v, "on_inconclusive", n, 3, &x);

	c->g->on_inconclusive = x;
	return err;
}

static int gt_signals(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "syn_retrans", "client_rst", "backend_rst",
					 "hs_timeout" };
	struct gate_ctx_y *c = o;
	yaml_node_item_t *it;

	c->signals = v;
	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "signals: expected a list, got %s", node_kind(v));
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return perr(p, v, "signals: the list is empty (leave it out for the mode's default)");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *s = yaml_document_get_node(&p->doc, *it);
		int x, err = get_enum(p, s, "signal", n, 4, &x);

		if (err)
			return err;
		if (c->g->signals & (1u << x))
			return perr(p, s, "signals: '%s' appears twice", sval(s));
		c->g->signals |= 1u << x;
	}
	return 0;
}

static bool is_external(enum sluice_gate_metric m)
{
	return m == SLUICE_METRIC_EXT_PROMETHEUS || m == SLUICE_METRIC_EXT_COMMAND ||
	       m == SLUICE_METRIC_EXT_BURN_RATE;
}

/* A query template: stored, placeholders checked. */
static int get_query(struct pctx *p, yaml_node_t *v, const char *what, bool window,
		     char *out, size_t len)
{
	char why[200];
	int err = want_scalar(p, v, what);

	if (err)
		return err;
	if (strlen(sval(v)) >= len)
		return perr(p, v, "%s: longer than %zu characters", what, len - 1);
	if (sluice_query_check(sval(v), window, why, sizeof(why)))
		return perr(p, v, "%s: %s", what, why);
	snprintf(out, len, "%s", sval(v));
	return 0;
}

static int gt_query(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	c->query = v;
	return get_query(p, v, "query", false, c->g->ext.query, sizeof(c->g->ext.query));
}

static int gt_samples_query(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	c->samples_query = v;
	return get_query(p, v, "samples_query", false, c->g->ext.samples_query,
			 sizeof(c->g->ext.samples_query));
}

/* http://host:port[/path] or https://... */
static int get_url(struct pctx *p, yaml_node_t *v, const char *what, char *out, size_t len)
{
	int err = get_str(p, v, what, out, len);

	if (err)
		return err;
	if ((strncmp(out, "http://", 7) && strncmp(out, "https://", 8)) ||
	    !out[strncmp(out, "http://", 7) ? 8 : 7] || strpbrk(out, " \t\n?#"))
		return perr(p, v, "%s: '%s' is not an http:// or https:// base URL", what, out);
	return 0;
}

static int gt_url(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;

	c->url = v;
	return get_url(p, v, "url", c->g->ext.url, sizeof(c->g->ext.url));
}

static int gt_command(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	int err = get_str(p, v, "command", c->g->ext.command, sizeof(c->g->ext.command));

	c->command = v;
	if (!err && !c->g->ext.command[0])
		return perr(p, v, "command: empty");
	return err;
}

static int gt_result(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "exit", "value" };
	struct gate_ctx_y *c = o;
	int x, err = get_enum(p, v, "result", n, 2, &x);

	c->result = v;
	c->g->ext.result = x;
	return err;
}

static int gt_timeout(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct gate_ctx_y *c = o;
	int err = get_duration(p, v, "timeout", 10, &c->g->ext.timeout_ms);

	c->timeout = v;
	if (!err && c->g->ext.timeout_ms > 600 * 1000)
		return perr(p, v, "timeout: '%s' is longer than 10m", sval(v));
	return err;
}

static const struct key_def gate_keys[] = {
	{ "name", gt_name, false },
	{ "metric", gt_metric, true },
	{ "interval", gt_interval, false },
	{ "max_increase", gt_incr, false },
	{ "max_increase_abs", gt_incr_abs, false },
	{ "max", gt_max, false },
	{ "confidence", gt_conf, false },
	{ "min_samples", gt_min, false },
	{ "failure_limit", gt_flim, false },
	{ "error_limit", gt_elim, false },
	{ "on_inconclusive", gt_inconc, false },
	{ "signals", gt_signals, false },
	{ "query", gt_query, false },
	{ "samples_query", gt_samples_query, false },
	{ "url", gt_url, false },
	{ "command", gt_command, false },
	{ "result", gt_result, false },
	{ "timeout", gt_timeout, false },
};

/* max_increase_abs and max: a duration for latency, a percentage else. */
static int gate_value(struct pctx *p, struct gate_ctx_y *c, yaml_node_t *v,
		      const char *what, double *out)
{
	__u64 ms;
	int err;

	if (is_external(c->g->metric) && !strchr(sval(v), '%')) {
		char *end;

		if (want_scalar(p, v, what))
			return -EINVAL;
		*out = strtod(sval(v), &end);
		if (end == sval(v) || *end || !isfinite(*out))
			return perr(p, v, "%s: '%s' is not a number or a percentage", what, sval(v));
		if (*out < 0 && !strcmp(what, "max_increase_abs"))
			return perr(p, v, "%s: %s is negative", what, sval(v));
		return 0;
	}
	if (is_latency(c->g->metric)) {
		if (!isalpha((unsigned char)sval(v)[strlen(sval(v)) - 1]))
			return perr(p, v, "%s: a latency gate takes a duration (like 20ms), not '%s'",
				    what, sval(v));
		err = get_duration(p, v, what, 0, &ms);
		*out = ms;
		return err;
	}
	return get_percent(p, v, what, 0, 1, false, out);
}

/* Keys of external gates: each only where it means something. */
static int check_external(struct pctx *p, yaml_node_t *n, struct gate_ctx_y *c,
			  const char *what)
{
	struct sluice_plan_gate *g = c->g;
	enum sluice_gate_metric m = g->metric;
	yaml_node_t *prom_only = c->query ? c->query : c->samples_query ? c->samples_query : c->url;
	yaml_node_t *cmd_only = c->command ? c->command : c->result;

	if (m != SLUICE_METRIC_EXT_PROMETHEUS && prom_only)
		return perr(p, prom_only, "%s: query, samples_query and url belong to prometheus gates",
			    what);
	if (m != SLUICE_METRIC_EXT_COMMAND && cmd_only)
		return perr(p, cmd_only, "%s: command and result belong to command gates", what);
	if (c->timeout && m != SLUICE_METRIC_EXT_PROMETHEUS && m != SLUICE_METRIC_EXT_COMMAND)
		return perr(p, c->timeout, "%s: timeout belongs to prometheus and command gates",
			    what);
	if (m == SLUICE_METRIC_EXT_PROMETHEUS && !c->query)
		return perr(p, n, "%s: a prometheus gate needs a query", what);
	if (m == SLUICE_METRIC_EXT_COMMAND && !c->command)
		return perr(p, n, "%s: a command gate needs a command", what);
	if (m == SLUICE_METRIC_EXT_COMMAND && g->ext.result == SLUICE_CMD_EXIT &&
	    (g->compare_baseline || g->has_max))
		return perr(p, c->incr ? c->incr : c->abs_raw ? c->abs_raw : c->max_raw,
			    "%s: result: exit judges by the exit status (0 pass, 1 fail); "
			    "max and max_increase need result: value", what);
	if (m == SLUICE_METRIC_EXT_BURN_RATE && (g->compare_baseline || g->has_max))
		return perr(p, c->incr ? c->incr : c->abs_raw ? c->abs_raw : c->max_raw,
			    "%s: a burn_rate gate is judged by the budget's burn-rate rules, not "
			    "max or max_increase", what);
	if ((m == SLUICE_METRIC_EXT_PROMETHEUS || m == SLUICE_METRIC_EXT_COMMAND) &&
	    !g->ext.timeout_ms)
		g->ext.timeout_ms = g->interval_ms < 5000 ? g->interval_ms : 5000;
	return 0;
}

static int parse_gate(struct pctx *p, yaml_node_t *n, struct sluice_plan *plan,
		      int mode)
{
	struct sluice_plan_gate *g;
	struct gate_ctx_y c = {};
	char what[48];
	unsigned int i;
	int err;

	if (plan->ngates >= SLUICE_PLAN_MAX_GATES)
		return perr(p, n, "gates: more than %d gates", SLUICE_PLAN_MAX_GATES);
	g = &plan->gates[plan->ngates];
	memset(g, 0, sizeof(*g));
	g->pos = ppos(n);
	g->interval_ms = 1000;
	g->confidence = 0.99;
	g->min_samples = 100;
	g->error_limit = 3;
	c.g = g;
	snprintf(what, sizeof(what), "gate %u", plan->ngates + 1);
	err = walk_mapping(p, n, what, gate_keys,
			   sizeof(gate_keys) / sizeof(gate_keys[0]), &c);
	if (err)
		return err;
	if (c.abs_raw) {
		err = gate_value(p, &c, c.abs_raw, "max_increase_abs", &g->max_increase_abs);
		if (err)
			return err;
		g->has_max_increase_abs = true;
		g->compare_baseline = true;
	}
	if (c.max_raw) {
		err = gate_value(p, &c, c.max_raw, "max", &g->max);
		if (err)
			return err;
		g->has_max = true;
	}
	if (!g->name[0])
		snprintf(g->name, sizeof(g->name), "%s", metric_names[g->metric]);
	for (i = 0; i < plan->ngates; i++)
		if (!strcmp(plan->gates[i].name, g->name))
			return perr(p, c.name ? c.name : n,
				    "%s: name '%s' is already gate %u's (line %u); give each gate its own name",
				    what, g->name, i + 1, plan->gates[i].pos.line);
	err = check_external(p, n, &c, what);
	if (err)
		return err;
	if (g->metric == SLUICE_METRIC_NEW_FLOW_RATIO) {
		if (g->compare_baseline || g->has_max)
			return perr(p, c.incr ? c.incr : c.abs_raw ? c.abs_raw : c.max_raw,
				    "%s: new_flow_ratio compares the canary's share of new flows with the configured weight: it takes no max_increase, max_increase_abs or max",
				    what);
	} else if (!g->compare_baseline && !g->has_max &&
		   g->metric != SLUICE_METRIC_EXT_BURN_RATE &&
		   !(g->metric == SLUICE_METRIC_EXT_COMMAND && g->ext.result == SLUICE_CMD_EXIT)) {
		return perr(p, n, "%s: %s needs a comparison: max_increase (relative to the baseline), max_increase_abs, or max (absolute)",
			    what, metric_names[g->metric]);
	}
	if (is_latency(g->metric) && c.incr && g->max_increase < 0.05)
		return perr(p, c.incr, "%s: max_increase of a latency gate must be at least 5%% (histogram buckets are up to 6.25%% wide)",
			    what);
	if (g->signals && g->metric != SLUICE_METRIC_ERROR_RATIO &&
	    g->metric != SLUICE_METRIC_EXT_BURN_RATE)
		return perr(p, c.signals, "%s: signals apply to error_ratio and burn_rate gates only",
			    what);
	if (mode >= 0 && mode != SLUICE_MODE_NAT) {
		if (is_latency(g->metric))
			return perr(p, c.metric, "%s: %s needs mode nat (only there do replies cross the node)",
				    what, metric_names[g->metric]);
		if (g->signals & (SLUICE_SIG_BACKEND_RST | SLUICE_SIG_HS_TIMEOUT))
			return perr(p, c.signals, "%s: backend_rst and hs_timeout are seen in mode nat only",
				    what);
	}
	plan->ngates++;
	return 0;
}

static int pl_gates(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct plan_ctx *c = o;
	yaml_node_item_t *it;
	int err;

	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "gates: expected a list, got %s", node_kind(v));
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return perr(p, v, "gates: the list is empty: a plan needs at least one quantitative gate");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		err = parse_gate(p, yaml_document_get_node(&p->doc, *it), c->plan,
				 c->mode);
		if (err)
			return err;
	}
	return 0;
}

static int pl_trigger(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "manual", "canary-change" };
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	int x, err = get_enum(p, v, "trigger", n, 2, &x);

	plan->trigger = x;
	return err;
}

static int pl_on_failure(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "rollback", "pause" };
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	int x, err = get_enum(p, v, "on_failure", n, 2, &x);

	plan->on_failure = x;
	return err;
}

/* "keep", "reset", "drain" (the default grace) or "drain 30s". */
static int or_live(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan *plan = o;
	const char *s;
	int err = want_scalar(p, v, "live_flows");

	if (err)
		return err;
	s = sval(v);
	plan->live_drain_ms = 0;
	if (!strcmp(s, "keep")) {
		plan->live_flows = SLUICE_LIVE_KEEP;
	} else if (!strcmp(s, "reset")) {
		plan->live_flows = SLUICE_LIVE_RESET;
	} else if (!strcmp(s, "drain")) {
		plan->live_flows = SLUICE_LIVE_DRAIN;
	} else if (!strncmp(s, "drain ", 6)) {
		plan->live_flows = SLUICE_LIVE_DRAIN;
		err = sluice_parse_duration(s + 6, &plan->live_drain_ms);
		if (err || !plan->live_drain_ms)
			return perr(p, v, "live_flows: '%s': the grace is not a duration (write drain 10s, drain 1m)",
				    s);
		if (plan->live_drain_ms > SLUICE_LIVE_DRAIN_MAX_MS)
			return perr(p, v, "live_flows: '%s': a grace longer than 1h keeps users on a failed canary; use keep",
				    s);
	} else {
		return perr(p, v, "live_flows: must be keep, reset or drain DURATION (e.g. drain 10s), not '%s'",
			    s);
	}
	return 0;
}

static const struct key_def on_rollback_keys[] = {
	{ "live_flows", or_live, false },
};

static int pl_on_rollback(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	return walk_mapping(p, v, "on_rollback", on_rollback_keys,
			    sizeof(on_rollback_keys) / sizeof(on_rollback_keys[0]),
			    ((struct plan_ctx *)o)->plan);
}

static int pl_on_canary_change(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "restart", "pause", "fail" };
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	int x, err = get_enum(p, v, "on_canary_change", n, 3, &x);

	plan->on_canary_change = x;
	return err;
}

static int pl_split_check(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "false", "true" };
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	int x, err = get_enum(p, v, "split_check", n, 2, &x);

	plan->split_check_off = !x;
	return err;
}

/* split_check (on unless switched off): the datapath splits new flows as
 * configured, checked in every rollout by a new_flow_ratio gate of its own
 * unless the plan has one (or a gate of that name, or no room) */
static void add_split_check(struct sluice_plan *plan)
{
	struct sluice_plan_gate *g;
	unsigned int i;

	for (i = 0; i < plan->ngates; i++)
		if (plan->gates[i].metric == SLUICE_METRIC_NEW_FLOW_RATIO ||
		    !strcmp(plan->gates[i].name, "split_check"))
			return;
	if (plan->split_check_off || plan->ngates >= SLUICE_PLAN_MAX_GATES)
		return;
	g = &plan->gates[plan->ngates++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "split_check");
	g->metric = SLUICE_METRIC_NEW_FLOW_RATIO;
	g->interval_ms = 1000;
	g->confidence = 0.999;	/* a false pause in 1,000 steps */
	g->min_samples = 100;
	g->error_limit = 3;
	g->on_inconclusive = SLUICE_INCONCLUSIVE_EXTEND;
	g->implicit = true;
	g->pos = plan->pos;
}

static int pl_rollback_window(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;

	return get_duration(p, v, "rollback_window", 0, &plan->rollback_window_ms);
}

static int bd_slo(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan_budget *b = o;

	return get_percent(p, v, "slo", 0.5, 1, true, &b->slo);
}

static int bd_window(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	return get_duration(p, v, "window", 60000, &((struct sluice_plan_budget *)o)->window_ms);
}

static int bd_time_base(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	return get_duration(p, v, "time_base", 1000,
			    &((struct sluice_plan_budget *)o)->time_base_ms);
}

static int bd_min_events(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	unsigned long x;
	int err = get_uint(p, v, "min_events", 1, 1000000000UL, &x);

	((struct sluice_plan_budget *)o)->min_events = x;
	return err;
}

static int bd_check(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	return get_duration(p, v, "check_interval", 1000,
			    &((struct sluice_plan_budget *)o)->check_interval_ms);
}

static int bd_freeze(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "false", "true" };
	int x, err = get_enum(p, v, "freeze", n, 2, &x);

	((struct sluice_plan_budget *)o)->freeze = x;
	return err;
}

static int bd_query(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan_budget *b = o;

	return get_query(p, v, "error_ratio_query", true, b->error_ratio_query,
			 sizeof(b->error_ratio_query));
}

static int bd_url(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan_budget *b = o;

	return get_url(p, v, "url", b->url, sizeof(b->url));
}

static const struct key_def budget_keys[] = {
	{ "slo", bd_slo, true },
	{ "window", bd_window, false },
	{ "time_base", bd_time_base, false },
	{ "min_events", bd_min_events, false },
	{ "check_interval", bd_check, false },
	{ "freeze", bd_freeze, false },
	{ "error_ratio_query", bd_query, false },
	{ "url", bd_url, false },
};

static int pl_budget(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan_budget *b = &((struct plan_ctx *)o)->plan->budget;
	int err;

	b->window_ms = 30ull * 86400000;
	b->min_events = 100;
	b->check_interval_ms = 60000;
	b->freeze = true;
	b->pos = ppos(k);
	err = walk_mapping(p, v, "budget", budget_keys,
			   sizeof(budget_keys) / sizeof(budget_keys[0]), b);
	if (err)
		return err;
	if (b->time_base_ms && b->time_base_ms * 72 > b->window_ms)
		return perr(p, v, "budget: time_base x 72 (the slowest burn rule's window) is "
			    "longer than the SLO window");
	b->present = true;
	return 0;
}

static int pl_hook(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	int err = get_str(p, v, "pre_step_hook", plan->pre_step_hook,
			  sizeof(plan->pre_step_hook));

	if (!err && !plan->pre_step_hook[0])
		return perr(p, v, "pre_step_hook: empty");
	return err;
}

static int pl_hook_timeout(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_plan *plan = ((struct plan_ctx *)o)->plan;
	int err = get_duration(p, v, "pre_step_timeout", 10, &plan->pre_step_timeout_ms);

	if (!err && plan->pre_step_timeout_ms > 600 * 1000)
		return perr(p, v, "pre_step_timeout: '%s' is longer than 10m", sval(v));
	return err;
}

static const struct key_def plan_keys[] = {
	{ "steps", pl_steps, true },
	{ "gates", pl_gates, false },
	{ "budget", pl_budget, false },
	{ "pre_step_hook", pl_hook, false },
	{ "pre_step_timeout", pl_hook_timeout, false },
	{ "on_failure", pl_on_failure, false },
	{ "on_rollback", pl_on_rollback, false },
	{ "trigger", pl_trigger, false },
	{ "on_canary_change", pl_on_canary_change, false },
	{ "rollback_window", pl_rollback_window, false },
	{ "split_check", pl_split_check, false },
};

int sluice_plan_parse_node(struct pctx *p, yaml_node_t *n, int mode,
			   struct sluice_plan *plan)
{
	struct plan_ctx c = { .plan = plan, .mode = mode };
	int err;

	memset(plan, 0, sizeof(*plan));
	plan->rollback_window_ms = SLUICE_ROLLBACK_WINDOW_DEFAULT_MS;
	snprintf(plan->source, sizeof(plan->source), "%s", p->file);
	plan->pos = ppos(n);
	if (n->type != YAML_MAPPING_NODE)
		return perr(p, n, "rollout: expected a mapping with steps and gates, got %s",
			    node_kind(n));
	err = walk_mapping(p, n, "rollout", plan_keys,
			   sizeof(plan_keys) / sizeof(plan_keys[0]), &c);
	if (err)
		return err;
	if (!plan->ngates)
		return perr(p, n, "rollout: a plan needs at least one quantitative gate (gates: - metric: error_ratio ...): without one nothing judges the canary");
	for (unsigned int i = 0; i < plan->ngates; i++)
		if (plan->gates[i].metric == SLUICE_METRIC_EXT_BURN_RATE && !plan->budget.present)
			return perr(p, n, "rollout: gate '%s' (burn_rate) needs a budget: section with the SLO (line %u)",
				    plan->gates[i].name, plan->gates[i].pos.line);
	if (plan->pre_step_hook[0] && !plan->pre_step_timeout_ms)
		plan->pre_step_timeout_ms = 30000;
	if (plan->live_flows == SLUICE_LIVE_DRAIN && !plan->live_drain_ms)
		plan->live_drain_ms = SLUICE_LIVE_DRAIN_DEFAULT_MS;
	add_split_check(plan);
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

static struct sluice_plan *parse_doc(const char *text, size_t len, const char *name,
				     char *err, size_t errlen)
{
	struct pctx p = { .file = name, .err = err, .errlen = errlen };
	struct sluice_plan *plan;
	yaml_node_t *root;
	int rc;

	plan = calloc(1, sizeof(*plan));
	if (!plan) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	if (load_doc(&p, text, len, SLUICE_PLAN_MAX_BYTES, "a plan")) {
		free(plan);
		return NULL;
	}
	root = yaml_document_get_root_node(&p.doc);
	if (!root || is_null(root)) {
		snprintf(err, errlen, "%s: the plan file is empty", name);
		rc = -EINVAL;
	} else {
		rc = sluice_plan_parse_node(&p, root, -1, plan);
	}
	yaml_document_delete(&p.doc);
	if (rc) {
		free(plan);
		return NULL;
	}
	return plan;
}

struct sluice_plan *sluice_plan_parse(const char *path, char *err, size_t errlen)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct sluice_plan *plan = NULL;
	char *text;
	size_t len;
	FILE *f;

	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (!sluice_file_trusted(fileno(f), name, err, errlen)) {
		text = sluice_read_bounded(f, SLUICE_PLAN_MAX_BYTES, "a plan", name, &len,
					   err, errlen);
		if (text)
			plan = parse_doc(text, len, name, err, errlen);
		free(text);
	}
	if (f != stdin)
		fclose(f);
	return plan;
}

struct sluice_plan *sluice_plan_parse_string(const char *text, const char *name,
					     char *err, size_t errlen)
{
	return parse_doc(text, strlen(text), name ? name : "<string>", err, errlen);
}

void sluice_plan_free(struct sluice_plan *plan)
{
	free(plan);
}
