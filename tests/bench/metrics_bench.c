// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * /metrics with N services (default 1000; nat mode, so each has the
 * handshake histogram; a rollout with one gate and burn rates): render
 * time and size, and a full scrape over loopback HTTP (libmicrohttpd
 * server, a libcurl client, connection kept alive like Prometheus's): the
 * first scrape of a new snapshot (renders it) and a second one (sends the
 * kept text). min/median/max in ms. Prints one JSON line.
 *   build/bench/metrics_bench [N] [REPEATS]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "metrics.h"
#include <curl/curl.h>

static double ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static struct metrics_snapshot *build(unsigned int n)
{
	struct metrics_snapshot *m = metrics_snapshot_new(n);
	uint64_t lat[SLUICE_LAT_BUCKETS] = { 0 };
	unsigned int i, b;

	snprintf(m->ring[0], sizeof(m->ring[0]), "default");
	for (b = 0; b < SLUICE_LAT_BUCKETS; b += 7)
		lat[b] = b * 3;
	for (i = 0; i < n; i++) {
		char name[32];
		struct metrics_service *s;

		snprintf(name, sizeof(name), "svc%04u", i);
		s = metrics_snapshot_add(m, name);
		s->mode = SLUICE_MODE_NAT;
		s->has_hist = true;
		for (int v = 0; v < 2; v++) {
			s->fs[v][0].packets = 123456789ull * (i + 1);
			s->fs[v][0].bytes = 98765432100ull * (i + 1);
			s->fs[v][0].new_flows = 4242 * (i + 1);
			metrics_hist_from_lat(lat, &s->hist[v]);
		}
		s->ro.present = true;
		s->ro.state = "progressing";
		s->ro.step = 2;
		s->ro.weight[0] = 2500;
		s->ro.ngates = 1;
		snprintf(s->ro.gate[0].name, METRICS_NAME, "error_ratio");
		s->ro.gate[0].verdict = MV_PASS;
		s->ro.gate[0].has_value[0] = s->ro.gate[0].has_value[1] = true;
		s->ro.gate[0].value[0] = 0.001;
		s->ro.gate[0].value[1] = 0.0012;
		s->ro.nburn = 3;
		for (int k = 0; k < 3; k++) {
			snprintf(s->ro.burn[k].window, 16, "%dm", 5 * (k + 1));
			s->ro.burn[k].burn = 0.5 * k;
		}
	}
	return m;
}

static size_t got_len;
static long got_status;

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
	got_len += s * n;
	return s * n;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "name": {"min": .., "median": .., "max": ..} */
static void stats(const char *name, double *v, unsigned int n, bool last)
{
	qsort(v, n, sizeof(*v), cmp_d);
	printf("\"%s\": {\"min\": %.2f, \"median\": %.2f, \"max\": %.2f}%s", name, v[0],
	       v[n / 2], v[n - 1], last ? "" : ", ");
}

static double scrape(CURL *e)
{
	double t0 = ms();

	got_len = 0;
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &got_status);
	return ms() - t0;
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 20;
	struct metrics_snapshot *m = build(n), **fresh;
	double *render = calloc(reps, sizeof(double)), *first = calloc(reps, sizeof(double));
	double *cached = calloc(reps, sizeof(double)), t0;
	char *buf = NULL, err[200], url[96];
	size_t len = 0, lines = 0;
	struct metrics_srv *srv;
	CURL *e;
	unsigned int r;

	fresh = calloc(reps, sizeof(*fresh));
	for (r = 0; r < reps; r++)
		fresh[r] = build(n);
	for (r = 0; r < reps; r++) {
		free(buf);
		t0 = ms();
		metrics_render_text(m, &buf, &len);
		render[r] = ms() - t0;
	}
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	unsetenv("http_proxy");
	srv = metrics_srv_start("127.0.0.1:0", err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", metrics_srv_port(srv));
	e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	/* a new snapshot each round, as the loop publishes one a second: the
	 * first scrape renders it, a second one (another Prometheus) does not */
	for (r = 0; r < reps; r++) {
		metrics_srv_publish(srv, fresh[r]);
		first[r] = scrape(e);
		cached[r] = scrape(e);
	}
	metrics_snapshot_free(m);
	printf("{\"services\": %u, \"bytes\": %zu, \"lines\": %zu, ", n, len, lines);
	stats("render_ms", render, reps, false);
	stats("scrape_new_snapshot_ms", first, reps, false);
	stats("scrape_again_ms", cached, reps, false);
	printf("\"http_status\": %ld, \"scrape_bytes\": %zu, \"repeats\": %u}\n", got_status,
	       got_len, reps);
	curl_easy_cleanup(e);
	metrics_srv_stop(srv);
	free(buf);
	free(render);
	free(first);
	free(cached);
	free(fresh);
	return 0;
}
