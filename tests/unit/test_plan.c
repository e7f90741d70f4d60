// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rollout plans: good plans parse and round-trip through YAML; bad plans
 * are rejected each with its own message at its file:line:col; the
 * examples in examples/ parse; a config's rollout: section is checked by
 * sluice_config_parse.
 * sluice-test: host-only
 */
#include "test.h"
#include "plan.h"

#define G "gates:\n  - metric: error_ratio\n    max_increase: 20%\n"
#define S "steps:\n  - weight: 5%\n    hold: 1m\n"

struct bad {
	const char *yaml, *where, *msg;
};

static const struct bad bad[] = {
	{ "", "bad.yaml:", "the plan file is empty" },
	{ "steps: [\n", "bad.yaml:2:1", "YAML syntax error" },
	{ "- 1\n", "bad.yaml:1:1", "rollout: expected a mapping" },
	{ G, "bad.yaml:1:1", "missing required key 'steps'" },
	{ S, "bad.yaml:1:1", "at least one quantitative gate" },
	{ S G "colour: red\n", "bad.yaml:7:1", "unknown key 'colour' in rollout" },
	{ S G "steps: []\n", "bad.yaml:7:1", "duplicate key 'steps'" },
	{ "steps: []\n" G, "bad.yaml:1:8", "steps: the list is empty" },
	{ "steps: 5%\n" G, "bad.yaml:1:8", "steps: expected a list" },
	{ "steps:\n  - hold: 1m\n" G, "bad.yaml:2:5", "needs one of weight, pause or cutover" },
	{ "steps:\n  - weight: 5%\n" G, "bad.yaml:2:5", "step 1: a weight step needs a hold" },
	{ "steps:\n  - weight: 5%\n    hold: 1m\n  - weight: 10%\n" G, "bad.yaml:4:5",
	  "step 2: a weight step needs a hold" },
	{ "steps:\n  - cutover: green\n" G, "bad.yaml:2:5", "a cutover step needs a hold" },
	{ "steps:\n  - weight: 5%\n    pause: 1m\n    hold: 1m\n" G, "bad.yaml:3:5",
	  "more than one of weight, pause and cutover" },
	{ "steps:\n  - pause: 1m\n    hold: 1m\n" G, "bad.yaml:3:5",
	  "a pause step takes its duration as 'pause: 30m'" },
	{ "steps:\n  - weight: 120%\n    hold: 1m\n" G, "bad.yaml:2:13", "out of range 0%..100%" },
	{ "steps:\n  - weight: five\n    hold: 1m\n" G, "bad.yaml:2:13", "is not a weight" },
	{ "steps:\n  - weight: 0%\n    hold: 1m\n" G, "bad.yaml:2:13", "exposes no canary traffic" },
	{ "steps:\n  - weight: {internal: 0%}\n    hold: 1m\n" G, "bad.yaml:2:13",
	  "0% in every ring" },
	{ "steps:\n  - weight: {a: 5%, a: 6%}\n    hold: 1m\n" G, "bad.yaml:2:21",
	  "ring 'a' appears twice" },
	{ "steps:\n  - weight: 5%\n    hold: 10\n" G, "bad.yaml:3:11", "is not a duration" },
	{ "steps:\n  - weight: 5%\n    hold: 40d\n" G, "bad.yaml:3:11", "longer than 30 days" },
	{ "steps:\n  - weight: 5%\n    hold: 0s\n" G, "bad.yaml:3:11", "shorter than 1ms" },
	{ "steps:\n  - weight: 5%\n    hold: 1x\n" G, "bad.yaml:3:11", "'1x' is not a duration" },
	{ "steps:\n  - pause: soon\n" G, "bad.yaml:2:12", "'soon' is not a duration" },
	{ "steps:\n  - cutover: blue\n    hold: 1m\n" G, "bad.yaml:2:14",
	  "cutover: must be green or canary" },
	{ "steps:\n  - weight: 5%\n    hold: 1m\n    jump: 1\n" G, "bad.yaml:4:5",
	  "unknown key 'jump' in step 1" },
	{ S "gates: {}\n", "bad.yaml:4:8", "gates: expected a list" },
	{ S "gates: []\n", "bad.yaml:4:8", "gates: the list is empty" },
	{ S "gates:\n  - max_increase: 5%\n", "bad.yaml:5:5", "missing required key 'metric'" },
	{ S "gates:\n  - metric: cpu\n", "bad.yaml:5:13",
	  "metric: must be error_ratio, latency_p95, latency_p99, new_flow_ratio, prometheus, command or burn_rate" },
	{ S "gates:\n  - metric: error_ratio\n", "bad.yaml:5:5", "error_ratio needs a comparison" },
	{ S "gates:\n  - metric: error_ratio\n    max_increase: 20\n", "bad.yaml:6:19",
	  "'20' is not a percentage" },
	{ S "gates:\n  - metric: error_ratio\n    max_increase: 2000%\n", "bad.yaml:6:19",
	  "out of range 0%..1000%" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    confidence: 100%\n",
	  "bad.yaml:7:17", "confidence: 100% is out of range 50%..100% (exclusive)" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    confidence: 40%\n",
	  "bad.yaml:7:17", "out of range 50%..100%" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    min_samples: 0\n",
	  "bad.yaml:7:18", "min_samples: 0 is out of range" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    min_samples: \"5\"\n",
	  "bad.yaml:7:18", "quoted string" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    failure_limit: -1\n",
	  "bad.yaml:7:20", "failure_limit: expected an integer" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    interval: 10ms\n",
	  "bad.yaml:7:15", "shorter than 100ms" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    interval: 2h\n",
	  "bad.yaml:7:15", "longer than 1h" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    on_inconclusive: ignore\n",
	  "bad.yaml:7:22", "must be pause, extend or fail" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    signals: [syn_retrans, syn_retrans]\n",
	  "bad.yaml:7:28", "'syn_retrans' appears twice" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    signals: []\n",
	  "bad.yaml:7:14", "signals: the list is empty" },
	{ S "gates:\n  - metric: error_ratio\n    max: 20%\n    signals: [fin]\n",
	  "bad.yaml:7:15", "signal: must be syn_retrans" },
	{ S "gates:\n  - metric: new_flow_ratio\n    max_increase: 5%\n", "bad.yaml:6:19",
	  "new_flow_ratio compares the canary's share" },
	{ S "gates:\n  - metric: latency_p99\n    max_increase: 2%\n", "bad.yaml:6:19",
	  "at least 5%" },
	{ S "gates:\n  - metric: latency_p99\n    max: 5%\n", "bad.yaml:6:10",
	  "a latency gate takes a duration" },
	{ S "gates:\n  - metric: new_flow_ratio\n    signals: [client_rst]\n", "bad.yaml:6:14",
	  "signals apply to error_ratio and burn_rate gates only" },
	{ S G "  - metric: error_ratio\n    max: 1%\n", "bad.yaml:7:5",
	  "name 'error_ratio' is already gate 1's" },
	{ S "gates:\n  - metric: error_ratio\n    max: 1%\n    name: a b\n", "bad.yaml:7:11",
	  "may hold only letters" },
	{ S G "on_failure: retry\n", "bad.yaml:7:13", "on_failure: must be rollback or pause" },
	{ S G "trigger: cron\n", "bad.yaml:7:10", "trigger: must be manual or canary-change" },
	{ S G "on_rollback:\n  live_flows: kill\n", "bad.yaml:8:15",
	  "live_flows: must be keep, reset or drain DURATION (e.g. drain 10s), not 'kill'" },
	{ S G "on_rollback:\n  live_flows: drain soon\n", "bad.yaml:8:15",
	  "the grace is not a duration" },
	{ S G "on_rollback:\n  live_flows: drain 2h\n", "bad.yaml:8:15", "longer than 1h" },
	{ S G "on_rollback:\n  live: keep\n", "bad.yaml:8:3", "live" },
	{ S G "on_canary_change: ignore\n", "bad.yaml:7:19",
	  "on_canary_change: must be restart, pause or fail" },
	{ S G "rollback_window: soon\n", "bad.yaml:7:18", "rollback_window: 'soon' is not a duration" },
	{ S G "split_check: maybe\n", "bad.yaml:7:14", "split_check: must be false or true" },
};

/* issue 21: on_canary_change, rollback_window, split_check; rings judged
 * against other rings warn */
static void test_issue21_keys(void)
{
	char err[512], w[1024];
	struct sluice_plan *p, *q;
	char *y;

	subtest("on_canary_change, rollback_window, split_check: defaults, values, round trip");
	p = sluice_plan_parse_string(S G, "d.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(p != NULL, err))
		return;
	ASSERT_EQ(p->on_canary_change, SLUICE_CANARY_CHANGE_RESTART, "on_canary_change: restart by default");
	ASSERT_EQ(p->rollback_window_ms, 3600000, "rollback_window: 1h by default");
	ASSERT_TRUE(!p->split_check_off && p->ngates == 2 && p->gates[1].implicit,
		    "split_check: on by default");
	y = sluice_plan_to_yaml(p, 0);
	ASSERT_TRUE(y && !strstr(y, "split_check") && !strstr(y, "new_flow_ratio"),
		    "the implicit gate is not written back");
	free(y);
	sluice_plan_free(p);
	p = sluice_plan_parse_string(S G "on_canary_change: pause\nrollback_window: 0s\nsplit_check: false\n",
				     "v.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(p != NULL, err))
		return;
	ASSERT_TRUE(p->on_canary_change == SLUICE_CANARY_CHANGE_PAUSE && !p->rollback_window_ms &&
		    p->split_check_off && p->ngates == 1, "pause, 0s, false");
	y = sluice_plan_to_yaml(p, 0);
	q = y ? sluice_plan_parse_string(y, "rt.yaml", err, sizeof(err)) : NULL;
	ASSERT_TRUE(q && q->nsteps == p->nsteps &&
		    q->on_canary_change == p->on_canary_change &&
		    q->rollback_window_ms == p->rollback_window_ms &&
		    q->split_check_off && q->ngates == 1, "round trip through YAML");
	free(y);
	sluice_plan_free(q);
	sluice_plan_free(p);
	p = sluice_plan_parse_string(S "gates:\n  - metric: new_flow_ratio\n", "n.yaml", err, sizeof(err));
	ASSERT_TRUE(p && p->ngates == 1 && !p->gates[0].implicit,
		    "a plan with its own new_flow_ratio gate gets no second one");
	sluice_plan_free(p);

	subtest("a ring at 100% canary (judged against other rings) warns; 95% does not");
	p = sluice_plan_parse_string("steps:\n  - weight: {internal: 100%}\n    hold: 10m\n"
				     "  - weight: {internal: 95%}\n    hold: 10m\n"
				     "  - weight: {internal: 100%, default: 100%}\n    hold: 10m\n"
				     "  - weight: 100%\n    hold: 10m\n" G, "r.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(p != NULL, err))
		return;
	ASSERT_EQ(sluice_plan_warnings(p, w, sizeof(w)), 1, "one warning");
	ASSERT_TRUE(strstr(w, "r.yaml:2:5: warning: step 1: ring 'internal' at 100% canary") &&
		    strstr(w, "95%"), w);
	ASSERT_TRUE(sluice_plan_cross_ring(p, 0, NULL, 0) && !sluice_plan_cross_ring(p, 1, NULL, 0) &&
		    !sluice_plan_cross_ring(p, 2, NULL, 0) && !sluice_plan_cross_ring(p, 3, NULL, 0),
		    "only step 1 compares across rings");
	sluice_plan_free(p);
}

static void test_bad_plans(void)
{
	char err[512];
	unsigned int i, n = sizeof(bad) / sizeof(bad[0]);

	subtest("bad plans: each rejected with its own message and position");
	ASSERT_TRUE(n >= 30, "at least 30 bad plans");
	for (i = 0; i < n; i++) {
		struct sluice_plan *p;
		char what[160];
		unsigned int j;

		err[0] = 0;
		p = sluice_plan_parse_string(bad[i].yaml, "bad.yaml", err, sizeof(err));
		snprintf(what, sizeof(what), "bad plan %u (%s) rejected", i + 1, bad[i].msg);
		ASSERT_TRUE(!p, what);
		sluice_plan_free(p);
		snprintf(what, sizeof(what), "bad plan %u: '%s' has '%s' and '%s'", i + 1, err,
			 bad[i].where, bad[i].msg);
		ASSERT_TRUE(!strncmp(err, bad[i].where, strlen(bad[i].where)) &&
			    strstr(err, bad[i].msg), what);
		for (j = 0; j < i; j++)
			if (!strcmp(bad[j].msg, bad[i].msg) && strcmp(bad[j].where, bad[i].where) == 0)
				break;
		ASSERT_TRUE(j == i, "its own message and position");
	}
}

static struct sluice_plan *parse_file(const char *path)
{
	char err[512];
	struct sluice_plan *p = sluice_plan_parse(path, err, sizeof(err));

	if (!p)
		fprintf(stderr, "  %s\n", err);
	return p;
}

static void test_good_plans(void)
{
	static const char *const files[] = { "examples/rollout-canary.yaml",
					     "examples/rollout-rings.yaml",
					     "examples/rollout-bluegreen.yaml",
					     "examples/demo/canary.yaml",
					     "examples/demo/bluegreen.yaml" };
	char err[512];
	unsigned int i;
	struct sluice_plan *p;

	subtest("good plans: fields, defaults, round trip through YAML");
	p = sluice_plan_parse_string(
		"steps:\n  - weight: 0.25%\n    hold: 1m30s\n  - pause: ~\n  - pause: 10m\n"
		"  - weight: {internal: 100%, broad: 5%}\n    hold: 1h\n"
		"gates:\n  - metric: error_ratio\n    max_increase: 20%\n    max_increase_abs: 0.1%\n"
		"  - name: p95\n    metric: latency_p95\n    max_increase: 10%\n    max: 250ms\n"
		"    interval: 5s\n    confidence: 95%\n    min_samples: 1000\n    failure_limit: 2\n"
		"    error_limit: 0\n    on_inconclusive: extend\n"
		"  - metric: error_ratio\n    name: rst\n    max: 2%\n    signals: [client_rst, backend_rst]\n"
		"on_failure: pause\ntrigger: canary-change\non_rollback:\n  live_flows: drain 30s\n",
		"good.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(p != NULL, err))
		return;
	ASSERT_EQ(p->nsteps, 4, "4 steps");
	ASSERT_EQ(p->steps[0].weight_all, 25, "0.25% = 25 bp");
	ASSERT_EQ(p->steps[0].hold_ms, 90000, "1m30s");
	ASSERT_TRUE(p->steps[1].kind == SLUICE_STEP_PAUSE && !p->steps[1].hold_ms, "indefinite pause");
	ASSERT_EQ(p->steps[2].hold_ms, 600000, "timed pause");
	ASSERT_TRUE(p->steps[3].per_ring && p->steps[3].nweights == 2 &&
		    !strcmp(p->steps[3].weights[1].ring, "default"), "broad is default");
	ASSERT_EQ(p->ngates, 4, "3 gates and the split check");
	ASSERT_TRUE(p->gates[3].implicit && p->gates[3].metric == SLUICE_METRIC_NEW_FLOW_RATIO &&
		    !strcmp(p->gates[3].name, "split_check"),
		    "split_check: on by default, a new_flow_ratio gate of its own, last");
	ASSERT_TRUE(!strcmp(p->gates[0].name, "error_ratio"), "default name");
	ASSERT_RANGE(p->gates[0].max_increase, 0.2, 0.2, "20%");
	ASSERT_RANGE(p->gates[0].max_increase_abs, 0.001, 0.001, "0.1%");
	ASSERT_RANGE(p->gates[0].confidence, 0.99, 0.99, "default confidence 99%");
	ASSERT_EQ(p->gates[0].min_samples, 100, "default min_samples");
	ASSERT_EQ(p->gates[0].interval_ms, 1000, "default interval 1s");
	ASSERT_RANGE(p->gates[1].max, 250, 250, "latency max in ms");
	ASSERT_EQ(p->gates[1].on_inconclusive, SLUICE_INCONCLUSIVE_EXTEND, "extend");
	ASSERT_EQ(p->gates[2].signals, SLUICE_SIG_CLIENT_RST | SLUICE_SIG_BACKEND_RST, "signals");
	ASSERT_EQ(p->on_failure, SLUICE_ON_FAILURE_PAUSE, "on_failure pause");
	ASSERT_EQ(p->trigger, SLUICE_TRIGGER_CANARY_CHANGE, "trigger");
	ASSERT_TRUE(p->live_flows == SLUICE_LIVE_DRAIN && p->live_drain_ms == 30000,
		    "on_rollback: live_flows: drain 30s");
	{
		char *y1 = sluice_plan_to_yaml(p, 0), *y2;
		struct sluice_plan *q = sluice_plan_parse_string(y1, "rt.yaml", err, sizeof(err));

		ASSERT_TRUE(q != NULL, "its YAML parses again");
		y2 = q ? sluice_plan_to_yaml(q, 0) : NULL;
		ASSERT_TRUE(y2 && !strcmp(y1, y2), "and writes the same YAML");
		ASSERT_TRUE(q && q->nsteps == p->nsteps && q->ngates == p->ngates, "same counts");
		ASSERT_TRUE(q && q->live_flows == SLUICE_LIVE_DRAIN && q->live_drain_ms == 30000,
			    "the live-flow grace survives the round trip");
		free(y1);
		free(y2);
		sluice_plan_free(q);
	}
	{
		struct sluice_plan *d = sluice_plan_parse_string(
			"steps:\n  - weight: 5%\n    hold: 1m\ngates:\n  - metric: error_ratio\n    max: 1%\n",
			"default.yaml", err, sizeof(err));

		ASSERT_TRUE(d && d->live_flows == SLUICE_LIVE_DRAIN &&
			    d->live_drain_ms == SLUICE_LIVE_DRAIN_DEFAULT_MS,
			    "without on_rollback: live flows drain for 10s");
		sluice_plan_free(d);
	}
	/* resolving: the latency gate needs nat; rings must exist */
	ASSERT_EQ(sluice_plan_resolve(p, SLUICE_MODE_DSR, NULL, NULL, err, sizeof(err)),
		  -EINVAL, "latency gate in dsr mode rejected");
	ASSERT_TRUE(strstr(err, "good.yaml:12:5: gate 'p95': latency_p95 needs mode nat") != NULL, err);
	ASSERT_EQ(sluice_plan_resolve(p, SLUICE_MODE_NAT, NULL, NULL, err, sizeof(err)),
		  -EINVAL, "unknown ring rejected");
	ASSERT_TRUE(strstr(err, "good.yaml:6:14: step 4: no ring 'internal'") != NULL, err);
	ASSERT_TRUE(!p->steps[3].resolved, "plan unchanged on error");
	sluice_plan_free(p);

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		p = parse_file(files[i]);
		ASSERT_TRUE(p != NULL, files[i]);
		sluice_plan_free(p);
	}
}

static void test_config_rollout(void)
{
	char err[512];
	struct sluice_config *c;
	struct sluice_plan *p;

	subtest("sluice apply files: rollout: is parsed and checked in place");
	c = sluice_config_parse("examples/apply-with-rollout.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(c != NULL, err))
		return;
	p = c->services[0].rollout;
	ASSERT_TRUE(p && p->nsteps == 3 && p->ngates == 3, "the service's plan (and its split check)");
	sluice_config_free(c);
	c = sluice_config_parse("examples/apply-rings.yaml", err, sizeof(err));
	if (ASSERT_TRUE(c != NULL, err)) {
		p = c->services[0].rollout;
		ASSERT_TRUE(c->nrings == 2 && p && p->nsteps == 4 && p->ngates == 3,
			    "examples/apply-rings.yaml: rings internal, early and a 4-step plan");
		sluice_config_free(c);
	}
	c = sluice_config_parse("examples/apply-sticky-cohort.yaml", err, sizeof(err));
	if (ASSERT_TRUE(c != NULL, err)) {
		p = c->services[0].rollout;
		ASSERT_TRUE(c->services[0].affinity == SLUICE_AFF_CLIENT && p &&
				    p->nsteps == 4 && p->ngates == 3,
			    "examples/apply-sticky-cohort.yaml: client affinity and its plan");
		sluice_config_free(c);
	}
	c = sluice_config_parse_string(
		"services:\n  - name: web\n    vip: 192.0.2.1\n    port: 80\n"
		"    rollout:\n      steps:\n        - weight: 5%\n          hold: 1m\n"
		"      gates:\n        - metric: latency_p99\n          max_increase: 10%\n",
		"cfg.yaml", err, sizeof(err));
	ASSERT_TRUE(!c, "latency gate in a dsr service rejected");
	ASSERT_TRUE(strstr(err, "cfg.yaml:10:19: gate 1: latency_p99 needs mode nat") != NULL, err);
	c = sluice_config_parse_string(
		"services:\n  - name: web\n    vip: 192.0.2.1\n    port: 80\n"
		"    rollout:\n      steps:\n        - weight: 5%\n",
		"cfg.yaml", err, sizeof(err));
	ASSERT_TRUE(!c && strstr(err, "cfg.yaml:7:11: step 1: a weight step needs a hold"), err);
	c = sluice_config_parse_string(
		"services:\n  - name: web\n    vip: 192.0.2.1\n    port: 80\n    rollout: 5\n",
		"cfg.yaml", err, sizeof(err));
	ASSERT_TRUE(!c && strstr(err, "cfg.yaml:5:14: rollout: expected a mapping"), err);
}

static void test_durations(void)
{
	__u64 ms;

	subtest("durations");
	ASSERT_TRUE(!sluice_parse_duration("500ms", &ms) && ms == 500, "500ms");
	ASSERT_TRUE(!sluice_parse_duration("1m30s", &ms) && ms == 90000, "1m30s");
	ASSERT_TRUE(!sluice_parse_duration("1.5s", &ms) && ms == 1500, "1.5s");
	ASSERT_TRUE(!sluice_parse_duration("2h", &ms) && ms == 7200000, "2h");
	ASSERT_TRUE(!sluice_parse_duration("1d", &ms) && ms == 86400000, "1d");
	ASSERT_EQ(sluice_parse_duration("5", &ms), -EINVAL, "no unit");
	ASSERT_EQ(sluice_parse_duration("s", &ms), -EINVAL, "no number");
	ASSERT_EQ(sluice_parse_duration("5mm", &ms), -EINVAL, "bad unit");
	ASSERT_EQ(sluice_parse_duration("31d", &ms), -ERANGE, "too long");
}

/* What makes sluiced run a command or fetch a URL of the plan's choosing
 * (the control socket's root role). */
static void test_runs_commands(void)
{
	static const struct { const char *extra, *what; } cases[] = {
		{ "", NULL },
		{ "  - {metric: prometheus, query: up, max: 1}\n", NULL },
		{ "  - {name: smoke, metric: command, command: /bin/true}\n", "gate 'smoke' runs a command" },
		{ "  - {name: p, metric: prometheus, query: up, max: 1, url: 'http://h:9090'}\n",
		  "gate 'p' fetches its own url: http://h:9090" },
		{ "pre_step_hook: /bin/true\n", "its pre_step_hook runs a command" },
	};
	char yaml[512], err[256], what[256];
	struct sluice_plan *p;
	unsigned int i;

	subtest("plans that run commands or fetch URLs");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), "steps:\n  - {weight: 5%%, hold: 1m}\ngates:\n"
			 "  - {metric: error_ratio, max_increase: 20%%}\n%s", cases[i].extra);
		p = sluice_plan_parse_string(yaml, "p.yaml", err, sizeof(err));
		if (!ASSERT_TRUE(p, err))
			continue;
		what[0] = 0;
		ASSERT_EQ(sluice_plan_runs_commands(p, what, sizeof(what)), cases[i].what != NULL,
			  cases[i].what ? cases[i].what : "runs nothing");
		if (cases[i].what)
			ASSERT_TRUE(!strcmp(what, cases[i].what), what);
		sluice_plan_free(p);
	}
}

int main(void)
{
	test_runs_commands();
	test_bad_plans();
	test_good_plans();
	test_config_rollout();
	test_durations();
	test_issue21_keys();
	return t_done();
}
