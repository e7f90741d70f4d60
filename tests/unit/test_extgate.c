// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * External gates measured the way sluiced does it (extgate_tick from an
 * epoll loop) against a real Prometheus scraping a test exporter whose
 * values this test writes: per-variant values and samples, an empty result
 * and several series as errors, Prometheus stopped = errors (never a
 * value); command gates that pass, fail, hang (killed) and print garbage;
 * a burn-rate gate that fails a canary at 0.5 % errors against a 99.9 %
 * SLO.
 * sluice-test: host-only
 */
#include <math.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include "test.h"
#include "external_gates.h"
#include "promlab.h"

static const char *plan_yaml =
	"steps:\n"
	"  - weight: 5%\n"
	"    hold: 10m\n"
	"gates:\n"
	"  - name: ratio\n"
	"    metric: prometheus\n"
	"    query: 'max(app_error_ratio{version=\"{{variant}}\"})'\n"
	"    samples_query: 'max(app_requests{version=\"{{variant}}\"})'\n"
	"    max_increase: 20%\n"
	"  - name: empty\n"
	"    metric: prometheus\n"
	"    query: 'max(app_error_ratio{version=\"{{variant}}-none\"})'\n"
	"    max: 1\n"
	"  - name: several\n"
	"    metric: prometheus\n"
	"    query: app_error_ratio\n"
	"    max: 1\n"
	"  - name: pass\n"
	"    metric: command\n"
	"    command: 'test \"$SLUICE_SERVICE/$SLUICE_VARIANT/$SLUICE_STEP\" = web/canary/0'\n"
	"  - name: fail\n"
	"    metric: command\n"
	"    command: 'exit 1'\n"
	"  - name: hang\n"
	"    metric: command\n"
	"    command: 'sleep 30'\n"
	"    timeout: 300ms\n"
	"  - name: garbage\n"
	"    metric: command\n"
	"    command: 'echo hello'\n"
	"    result: value\n"
	"    max: 1\n"
	"  - metric: burn_rate\n"
	"budget:\n"
	"  slo: 99.9%\n"
	"  time_base: 10s\n"
	"  min_events: 50\n";

static __u64 test_wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000ull + t.tv_nsec / 1000000;
}

struct loop {
	int ep;
	struct httpc *hc;
	struct cmdrun *cr;
	struct extgate *x;
	struct sluice_plan *plan;
	struct eng_obs obs;
	struct eng_ext ext[SLUICE_PLAN_MAX_GATES];
	__u64 seq0[SLUICE_PLAN_MAX_GATES];
};

/* Synthetic datapath counters: canary 100 flows/s with 0.5 % client
 * resets, baseline 1900 flows/s with 0.02 %, per 200 ms tick. */
static void advance(struct loop *l)
{
	static double cb, bb;

	l->obs.fs[SLUICE_CANARY][0].new_flows += 20;
	cb += 20 * 0.005;
	l->obs.fs[SLUICE_CANARY][0].client_rst = (__u64)cb;
	l->obs.fs[SLUICE_BASELINE][0].new_flows += 380;
	bb += 380 * 0.0002;
	l->obs.fs[SLUICE_BASELINE][0].client_rst = (__u64)bb;
}

/* Tick every 200 ms until every gate in mask has a new measurement. */
static int run(struct loop *l, unsigned int mask, int max_ms)
{
	struct extgate_ctx ctx = { .service = "web", .rollout_id = 1, .attempt = 1,
				   .step = 0, .rings = "default" };
	struct epoll_event ev;
	unsigned int i, left;
	int t;

	for (i = 0; i < SLUICE_PLAN_MAX_GATES; i++)
		l->seq0[i] = l->ext[i].seq;
	for (t = 0; t < max_ms; t += 200) {
		advance(l);
		extgate_tick(l->x, l->plan, &ctx, &l->obs, test_wall_ms(), l->ext);
		for (left = 0, i = 0; i < l->plan->ngates; i++)
			if ((mask & (1u << i)) && l->ext[i].seq == l->seq0[i])
				left++;
		if (!left)
			return 0;
		/* wait for I/O, at most until the next tick */
		for (int w = 0; w < 200; w += 50) {
			epoll_wait(l->ep, &ev, 1, 50);
			httpc_dispatch(l->hc);
			cmdrun_dispatch(l->cr);
		}
	}
	return -1;
}

int main(void)
{
	struct promlab lab;
	struct loop l = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	char err[512];
	int rc;

	unsetenv("http_proxy");
	rc = lab_start(&lab, NULL);
	if (rc == -ENOENT)
		t_skip("prometheus missing (Debian's prometheus: scripts/deps.sh)");
	if (rc) {
		fprintf(stderr, "prometheus did not start: %s (log in %s)\n", strerror(-rc), lab.dir);
		return 1;
	}
	lab_set(&lab, "app.prom",
		"# TYPE app_error_ratio gauge\n"
		"app_error_ratio{version=\"canary\"} 0.2\n"
		"app_error_ratio{version=\"baseline\"} 0.01\n"
		"# TYPE app_requests gauge\n"
		"app_requests{version=\"canary\"} 500\n"
		"app_requests{version=\"baseline\"} 9500\n");
	subtest("real Prometheus scrapes the test exporter");
	ASSERT_OK(lab_wait_value(&lab, "max(app_error_ratio{version=\"canary\"})", 0.2, 20000),
		  "exporter's value visible through Prometheus");

	l.plan = sluice_plan_parse_string(plan_yaml, "plan.yaml", err, sizeof(err));
	if (!ASSERT_TRUE(l.plan, err))
		return t_done();
	l.hc = httpc_new();
	l.cr = cmdrun_new();
	l.x = extgate_new(l.hc, l.cr, lab.url);
	l.ep = epoll_create1(0);
	epoll_ctl(l.ep, EPOLL_CTL_ADD, httpc_fd(l.hc), &ev);
	ev.data.fd = 1;
	epoll_ctl(l.ep, EPOLL_CTL_ADD, cmdrun_fd(l.cr), &ev);
	l.obs.exists = true;
	l.obs.mode = SLUICE_MODE_DSR;

	subtest("every external gate delivers a measurement");
	ASSERT_OK(run(&l, 0x7f, 15000), "all prometheus and command gates measured");

	subtest("prometheus: values and samples per variant");
	ASSERT_EQ(l.ext[0].status, ENG_EXT_OK, l.ext[0].reason);
	ASSERT_EQ(l.ext[0].verdict, ENG_EXT_VALUE, "the engine compares the values");
	ASSERT_RANGE(l.ext[0].canary, 0.2, 0.2, "canary value");
	ASSERT_RANGE(l.ext[0].baseline, 0.01, 0.01, "baseline value");
	ASSERT_EQ(l.ext[0].samples_c, 500, "canary samples from samples_query");
	ASSERT_EQ(l.ext[0].samples_b, 9500, "baseline samples");
	ASSERT_EQ(l.ext[1].status, ENG_EXT_ERROR, "empty result: an error");
	ASSERT_TRUE(strstr(l.ext[1].reason, "empty result"), l.ext[1].reason);
	ASSERT_EQ(l.ext[2].status, ENG_EXT_ERROR, "several series: an error");
	ASSERT_TRUE(strstr(l.ext[2].reason, "2 series"), l.ext[2].reason);

	subtest("command gates: pass, fail, hang, garbage");
	ASSERT_TRUE(l.ext[3].status == ENG_EXT_OK && l.ext[3].verdict == ENG_EXT_PASS,
		    "exit 0 with the right environment: pass");
	ASSERT_TRUE(l.ext[4].status == ENG_EXT_OK && l.ext[4].verdict == ENG_EXT_FAIL,
		    "exit 1: fail");
	ASSERT_EQ(l.ext[5].status, ENG_EXT_ERROR, "hang: an error");
	ASSERT_TRUE(strstr(l.ext[5].reason, "timed out"), l.ext[5].reason);
	ASSERT_EQ(l.ext[6].status, ENG_EXT_ERROR, "garbage: an error");
	ASSERT_TRUE(strstr(l.ext[6].reason, "not a number"), l.ext[6].reason);

	subtest("burn rate: 0.5 % errors against 99.9 % fails; a 1 % threshold would pass");
	for (int i = 0; i < 60 && l.ext[7].verdict != ENG_EXT_FAIL; i++)
		run(&l, 1u << 7, 2000);
	ASSERT_EQ(l.ext[7].status, ENG_EXT_OK, "burn measured");
	ASSERT_EQ(l.ext[7].verdict, ENG_EXT_FAIL, l.ext[7].reason);
	/* 5x once Prometheus' rate() has settled; the first failing
	 * evaluation may come earlier (CI saw 2.94): well above 1x is what
	 * matters */
	ASSERT_RANGE(l.ext[7].canary, 1.5, 8, "canary burns well above its budget (about 5x)");
	ASSERT_TRUE((double)l.obs.fs[1][0].client_rst / l.obs.fs[1][0].new_flows < 0.01,
		    "the canary's error ratio is under 1 %");

	subtest("Prometheus stopped: errors, never a value");
	lab_stop_prom(&lab);
	for (int k = 0; k < 3; k++) {
		ASSERT_OK(run(&l, 1, 10000), "a new measurement after the stop");
		ASSERT_EQ(l.ext[0].status, ENG_EXT_ERROR, "measurement is an error");
	}
	ASSERT_TRUE(strstr(l.ext[0].reason, "unreachable"), l.ext[0].reason);
	ASSERT_EQ(extgate_pending(l.x) <= 7, 1, "no measurement piles up");

	extgate_free(l.x);
	cmdrun_free(l.cr);
	httpc_free(l.hc);
	sluice_plan_free(l.plan);
	return t_done();
}
