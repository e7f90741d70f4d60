// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Plans with external gates (prometheus, command, burn_rate), a budget and
 * a pre-step hook: good ones parse with their defaults and round-trip
 * through YAML; bad ones are rejected, each with its own message and
 * position.
 * sluice-test: host-only
 */
#include "test.h"
#include "plan.h"

static const char *good =
	"steps:\n"
	"  - weight: 5%\n"
	"    hold: 1m\n"
	"  - weight: 50%\n"
	"    hold: 5m\n"
	"gates:\n"
	"  - name: http5xx\n"
	"    metric: prometheus\n"
	"    query: 'sum(rate(http_requests_total{version=\"{{variant}}\",code=~\"5..\"}[1m])) / sum(rate(http_requests_total{version=\"{{ variant }}\"}[1m]))'\n"
	"    samples_query: 'sum(increase(http_requests_total{version=\"{{variant}}\"}[1m]))'\n"
	"    url: http://127.0.0.1:9090\n"
	"    interval: 2s\n"
	"    max: 0.01\n"
	"    max_increase: 20%\n"
	"  - name: smoke\n"
	"    metric: command\n"
	"    command: \"test -n \\\"$SLUICE_SERVICE\\\" && echo 'ok'\"\n"
	"    timeout: 3s\n"
	"  - name: latency\n"
	"    metric: command\n"
	"    command: /usr/local/bin/p99\n"
	"    result: value\n"
	"    max: 250\n"
	"  - metric: burn_rate\n"
	"budget:\n"
	"  slo: 99.9%\n"
	"  time_base: 1m\n"
	"  min_events: 50\n"
	"  error_ratio_query: 'sum(rate(errors{svc=\"{{service}}\"}[{{window}}]))'\n"
	"pre_step_hook: /usr/local/bin/before\n";

static void test_good(void)
{
	char err[512];
	struct sluice_plan *p, *q;
	char *y;

	subtest("external gates, budget and hook parse with their defaults and round-trip");
	p = sluice_plan_parse_string(good, "good.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(p, err))
		return;
	ASSERT_EQ(p->ngates, 5, "four gates and the split check");
	ASSERT_EQ(p->gates[0].metric, SLUICE_METRIC_EXT_PROMETHEUS, "prometheus kind");
	ASSERT_TRUE(strstr(p->gates[0].ext.query, "{{ variant }}"), "query stored as written");
	ASSERT_EQ(p->gates[0].ext.timeout_ms, 2000, "timeout defaults to the interval below 5 s");
	ASSERT_TRUE(p->gates[0].has_max && p->gates[0].max == 0.01, "max as a plain number");
	ASSERT_EQ(p->gates[1].ext.result, SLUICE_CMD_EXIT, "result defaults to exit");
	ASSERT_EQ(p->gates[1].ext.timeout_ms, 3000, "command timeout");
	ASSERT_EQ(p->gates[2].ext.result, SLUICE_CMD_VALUE, "result: value");
	ASSERT_EQ(p->gates[3].metric, SLUICE_METRIC_EXT_BURN_RATE, "burn_rate kind");
	ASSERT_TRUE(!strcmp(p->gates[3].name, "burn_rate"), "default name");
	ASSERT_TRUE(p->budget.present && p->budget.slo > 0.9989 && p->budget.slo < 0.9991, "slo");
	ASSERT_EQ(p->budget.window_ms, 30ull * 86400000, "window defaults to 30d");
	ASSERT_EQ(p->budget.check_interval_ms, 60000, "check interval defaults to 1m");
	ASSERT_TRUE(p->budget.freeze, "freeze defaults to true");
	ASSERT_EQ(p->pre_step_timeout_ms, 30000, "hook timeout defaults to 30s");
	y = sluice_plan_to_yaml(p, 0);
	ASSERT_TRUE(y, "to YAML");
	q = y ? sluice_plan_parse_string(y, "good.yaml", err, sizeof(err)) : NULL;
	if (!ASSERT_TRUE(q, err))
		fprintf(stderr, "%s", y ? y : "");
	if (q) {
		/* positions differ: compare what matters */
		for (unsigned int i = 0; i < p->ngates; i++) {
			ASSERT_TRUE(!memcmp(&p->gates[i].ext, &q->gates[i].ext, sizeof(p->gates[i].ext)),
				    "gate's external settings round-trip");
			ASSERT_TRUE(p->gates[i].max == q->gates[i].max, "max round-trips");
		}
		p->budget.pos = q->budget.pos;
		ASSERT_TRUE(!memcmp(&p->budget, &q->budget, sizeof(p->budget)), "budget round-trips");
		ASSERT_TRUE(!strcmp(p->pre_step_hook, q->pre_step_hook) &&
			    p->pre_step_timeout_ms == q->pre_step_timeout_ms, "hook round-trips");
	}
	free(y);
	sluice_plan_free(q);
	sluice_plan_free(p);
}

struct bad {
	const char *gates;	/* after "steps: [...]\ngates:\n" */
	const char *msg;
};

static const struct bad bads[] = {
	{ "  - metric: prometheus\n    max: 1%\n", "3:5: gate 1: a prometheus gate needs a query" },
	{ "  - metric: prometheus\n    query: 'up{v=\"{{version}}\"}'\n    max: 1\n",
	  "unknown placeholder {{version}}" },
	{ "  - metric: prometheus\n    query: 'up{v=\"{{variant\"}'\n    max: 1\n", "unterminated {{" },
	{ "  - metric: prometheus\n    query: 'x[{{window}}]'\n    max: 1\n", "{{window}} at offset 2 has no value" },
	{ "  - metric: prometheus\n    query: up\n", "prometheus needs a comparison" },
	{ "  - metric: prometheus\n    query: up\n    max: abc\n", "max: 'abc' is not a number" },
	{ "  - metric: prometheus\n    query: up\n    max: 1\n    url: ftp://x\n", "not an http:// or https://" },
	{ "  - metric: prometheus\n    query: up\n    max: 1\n    command: x\n", "command and result belong to command gates" },
	{ "  - metric: prometheus\n    query: up\n    max: 1\n    timeout: 1h\n", "timeout: '1h' is longer than 10m" },
	{ "  - metric: command\n", "a command gate needs a command" },
	{ "  - metric: command\n    command: ''\n", "command: empty" },
	{ "  - metric: command\n    command: x\n    max: 1\n", "result: exit judges by the exit status" },
	{ "  - metric: command\n    command: x\n    result: number\n", "result" },
	{ "  - metric: command\n    command: x\n    result: value\n", "command needs a comparison" },
	{ "  - metric: command\n    command: x\n    query: up\n", "belong to prometheus gates" },
	{ "  - metric: error_ratio\n    max: 1%\n    timeout: 1s\n", "timeout belongs to prometheus and command" },
	{ "  - metric: burn_rate\n", "needs a budget: section" },
	{ "  - metric: burn_rate\n    max: 1\nbudget:\n  slo: 99%\n", "judged by the budget's burn-rate rules" },
	{ "  - metric: error_ratio\n    max: 1%\nbudget:\n  window: 30d\n", "slo" },
	{ "  - metric: error_ratio\n    max: 1%\nbudget:\n  slo: 100%\n", "slo: 100% is out of range" },
	{ "  - metric: error_ratio\n    max: 1%\nbudget:\n  slo: 99%\n  time_base: 1d\n",
	  "time_base x 72" },
	{ "  - metric: error_ratio\n    max: 1%\nbudget:\n  slo: 99%\n  freeze: maybe\n", "freeze" },
	{ "  - metric: error_ratio\n    max: 1%\nbudget:\n  slo: 99%\n  error_ratio_query: 'x{v=\"{{variant}}\"}'\n",
	  "has no value" },
	{ "  - metric: error_ratio\n    max: 1%\nbudget:\n  slo: 99%\n  bogus: 1\n", "bogus" },
	{ "  - metric: error_ratio\n    max: 1%\npre_step_hook: ''\n", "pre_step_hook: empty" },
	{ "  - metric: error_ratio\n    max: 1%\npre_step_hook: x\npre_step_timeout: 11m\n",
	  "pre_step_timeout: '11m' is longer than 10m" },
};

static void test_bad(void)
{
	char text[1024], err[512], what[700];
	unsigned int i, j;
	char seen[sizeof(bads) / sizeof(bads[0])][512];

	subtest("bad external gates, budgets and hooks: each rejected with its own message");
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct sluice_plan *p;

		snprintf(text, sizeof(text), "steps: [{weight: 5%%, hold: 1m}]\ngates:\n%s",
			 bads[i].gates);
		err[0] = 0;
		p = sluice_plan_parse_string(text, "bad.yaml", err, sizeof(err));
		snprintf(what, sizeof(what), "bad plan %u rejected: \"%s\" has \"%s\"", i + 1,
			 err, bads[i].msg);
		ASSERT_TRUE(!p && strstr(err, bads[i].msg) && strstr(err, "bad.yaml:"), what);
		sluice_plan_free(p);
		snprintf(seen[i], sizeof(seen[i]), "%s", err);
		for (j = 0; j < i; j++)
			if (!strcmp(seen[j], err)) {
				snprintf(what, sizeof(what), "bad plans %u and %u share a message", j + 1, i + 1);
				ASSERT_TRUE(false, what);
			}
	}
}

int main(void)
{
	test_good();
	test_bad();
	return t_done();
}
