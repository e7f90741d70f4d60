// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * External gates' numbers (issue 12), against a real Prometheus that
 * gatebench.sh starts:
 *   gatebench latency URL N
 *     N Prometheus gate evaluations, one after the other: a single instant
 *     query (prom_query_start to its callback), and a whole gate
 *     measurement through extgate (canary, baseline and both samples
 *     queries in parallel, until its result reaches obs->ext).
 *   gatebench jitter URL SECONDS
 *     sluiced's loop shape (epoll over a 100 ms timerfd and the HTTP
 *     client) ticking a rollout with a datapath gate and a Prometheus gate
 *     every second against URL (a slow one: the sleeping endpoint), on a
 *     simulated service: how late each tick runs and how far apart the
 *     datapath gate's evaluations are (nominal 1000 ms).
 * min/median/p99/max in ms, one JSON line per mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include "sim.h"
#include "engine.h"
#include "external_gates.h"
#include "prom.h"

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static __u64 wall(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000ull + t.tv_nsec / 1000000;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void stats(const char *name, double *v, unsigned int n, bool last)
{
	if (!n) {
		printf("\"%s\": null%s", name, last ? "" : ", ");
		return;
	}
	qsort(v, n, sizeof(*v), cmp_d);
	printf("\"%s\": {\"n\": %u, \"min\": %.2f, \"median\": %.2f, \"p99\": %.2f, \"max\": %.2f}%s",
	       name, n, v[0], v[n / 2], v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], v[n - 1],
	       last ? "" : ", ");
}

/* Wait on the client's fd until done is set (or 10 s). */
static void pump(struct httpc *hc, volatile int *done)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;
	double t0 = mono();

	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(hc), &ev);
	while (!*done && mono() - t0 < 10000) {
		epoll_wait(ep, &out, 1, 50);
		httpc_dispatch(hc);
	}
	close(ep);
}

static int q_done, q_err;

static void on_q(const struct prom_result *r, void *arg)
{
	q_done = 1;
	q_err = r->err;
}

static const char gate_yaml[] =
	"steps:\n  - weight: 10%%\n    hold: 10m\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 20%%\n    min_samples: 100\n"
	"  - name: http5xx\n    metric: prometheus\n    url: %s\n"
	"    query: 'sum(rate(app_requests_total{version=\"{{variant}}\",code=~\"5..\"}[1m])) /"
	" sum(rate(app_requests_total{version=\"{{variant}}\"}[1m]))'\n"
	"    samples_query: 'sum(increase(app_requests_total{version=\"{{variant}}\"}[1m]))'\n"
	"    max_increase: 50%%\n    min_samples: 1\n    interval: 1s\n    timeout: %s\n"
	"    error_limit: 1000\n";

static struct sluice_plan *plan_for(const char *url, const char *timeout)
{
	char yaml[2048], err[512];
	struct sluice_plan *p;

	snprintf(yaml, sizeof(yaml), gate_yaml, url, timeout);
	p = sluice_plan_parse_string(yaml, "bench", err, sizeof(err));
	if (!p || sluice_plan_resolve(p, SLUICE_MODE_DSR, NULL, NULL, err, sizeof(err))) {
		fprintf(stderr, "plan: %s\n", err);
		exit(1);
	}
	return p;
}

static int latency(const char *url, unsigned int n)
{
	const char *q = "sum(rate(app_requests_total{version=\"canary\",code=~\"5..\"}[1m])) / "
			"sum(rate(app_requests_total{version=\"canary\"}[1m]))";
	struct httpc *hc = httpc_new();
	struct cmdrun *cr = cmdrun_new();
	struct extgate *xg = extgate_new(hc, cr, url);
	struct sluice_plan *p = plan_for(url, "2s");
	struct extgate_ctx ctx = { .service = "web", .rollout_id = 1, .attempt = 1,
				   .step = 0, .rings = "default" };
	double *one = calloc(n, sizeof(double)), *gate = calloc(n, sizeof(double)), t0;
	static struct sim sim;
	struct eng_ext ext[SLUICE_PLAN_MAX_GATES];
	unsigned int i, errors = 0, ok1 = 0, ok2 = 0;
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;
	__u64 seq = 0;

	sim_init(&sim, 1, 1000, 0.001, 0.001);
	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(hc), &ev);
	for (i = 0; i < n; i++) {
		q_done = 0;
		t0 = mono();
		prom_query_start(hc, url, q, 2000, on_q, NULL);
		pump(hc, &q_done);
		if (q_done && !q_err)
			one[ok1++] = mono() - t0;
		else
			errors++;
	}
	for (i = 0; i < n; i++) {
		/* one measurement: due now (a new step each round) */
		ctx.step = i % 2;
		t0 = mono();
		extgate_tick(xg, p, &ctx, &sim.obs, wall(), ext);
		while (ext[1].seq == seq && mono() - t0 < 10000) {
			epoll_wait(ep, &out, 1, 50);
			httpc_dispatch(hc);
			extgate_tick(xg, p, &ctx, &sim.obs, wall(), ext);
		}
		if (ext[1].seq != seq && ext[1].status == ENG_EXT_OK)
			gate[ok2++] = mono() - t0;
		else
			errors++;
		seq = ext[1].seq;
	}
	printf("{\"mode\": \"latency\", \"url\": \"%s\", ", url);
	stats("instant_query_ms", one, ok1, false);
	stats("gate_measurement_ms", gate, ok2, false);
	printf("\"errors\": %u}\n", errors);
	fflush(stdout);
	extgate_free(xg);
	cmdrun_free(cr);
	httpc_free(hc);
	sluice_plan_free(p);
	close(ep);
	free(one);
	free(gate);
	return 0;
}

static int jitter(const char *url, unsigned int secs)
{
	struct itimerspec its = { { 0, 100000000 }, { 0, 100000000 } };
	struct httpc *hc = httpc_new();
	struct cmdrun *cr = cmdrun_new();
	struct extgate *xg = extgate_new(hc, cr, url);
	struct sluice_plan *p = plan_for(url, "5s");
	struct extgate_ctx ctx = { .service = "web", .rollout_id = 1, .attempt = 1,
				   .rings = "default" };
	unsigned int cap = secs * 20 + 16, nlate = 0, ngap = 0, nev[2] = { 0 }, errs = 0, i;
	double *late = calloc(cap, sizeof(double)), *gap = calloc(cap, sizeof(double));
	double next, last_dp = 0, end;
	__u64 last_seq = 0, measurements = 0;
	static struct eng_state st;
	static struct eng_out out;
	static struct eng_env env;
	static struct sim sim;
	struct eng_cmd cmd = { .kind = ENG_CMD_START, .rollout_id = 1 };
	struct epoll_event ev = { .events = EPOLLIN }, evs[4];
	int ep = epoll_create1(0), tfd = timerfd_create(CLOCK_MONOTONIC, 0), n, k;

	sim_init(&sim, 2, 2000, 0.002, 0.002);
	eng_state_init(&st, "web");
	if (eng_command(p, &st, &cmd, &sim.obs, &env, wall(), &out)) {
		fprintf(stderr, "start: %s\n", out.error);
		return 1;
	}
	sim_apply(&sim, &out);
	timerfd_settime(tfd, 0, &its, NULL);
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(hc), &ev);
	next = mono() + 1000;	/* the rollout's interval: its smallest gate's */
	end = mono() + secs * 1000.0;
	while (mono() < end) {
		n = epoll_wait(ep, evs, 4, -1);
		for (k = 0; k < n; k++) {
			__u64 x;

			if (evs[k].data.u32 == 2) {
				httpc_dispatch(hc);
				continue;
			}
			if (read(tfd, &x, sizeof(x)) < 0 || mono() < next)
				continue;
			if (nlate < cap)
				late[nlate++] = mono() - next;
			next += 1000;
			if (next <= mono())
				next = mono() + 1000;
			sim_traffic(&sim, 1000);
			ctx.step = st.phase == ENG_PROGRESSING ? st.step : -1;
			extgate_tick(xg, p, &ctx, &sim.obs, wall(), sim.obs.ext);
			if (sim.obs.ext[1].seq != last_seq) {
				last_seq = sim.obs.ext[1].seq;
				measurements++;
			}
			eng_tick(p, &st, &sim.obs, &env, wall(), &out);
			sim_apply(&sim, &out);
			for (i = 0; i < out.nevents; i++) {
				const struct eng_event *e = &out.events[i];

				if (e->type != ENG_EV_GATE || e->gate < 0 || e->gate > 1)
					continue;
				nev[e->gate]++;
				if (e->gate == 1 && e->eval.outcome == GATE_ERROR)
					errs++;
				if (e->gate == 0) {
					if (last_dp && ngap < cap)
						gap[ngap++] = mono() - last_dp;
					last_dp = mono();
				}
			}
		}
	}
	printf("{\"mode\": \"jitter\", \"url\": \"%s\", \"seconds\": %u, ", url, secs);
	stats("tick_late_ms", late, nlate, false);
	stats("datapath_gate_interval_ms", gap, ngap, false);
	printf("\"datapath_evaluations\": %u, \"prometheus_evaluations\": %u, "
	       "\"prometheus_measurements\": %llu, \"prometheus_errors\": %u, \"phase\": \"%s\"}\n",
	       nev[0], nev[1], (unsigned long long)measurements, errs, eng_phase_name(st.phase));
	fflush(stdout);
	extgate_free(xg);
	cmdrun_free(cr);
	httpc_free(hc);
	sluice_plan_free(p);
	close(tfd);
	close(ep);
	free(late);
	free(gap);
	return 0;
}

int main(int argc, char **argv)
{
	unsetenv("http_proxy");
	if (argc == 4 && !strcmp(argv[1], "latency"))
		return latency(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "jitter"))
		return jitter(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: gatebench latency URL N | gatebench jitter URL SECONDS\n");
	return 2;
}
