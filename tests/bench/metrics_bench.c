// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * /metrics with N services (default 1000; nat mode, so each has the
 * handshake histogram; a rollout with one gate and burn rates): render
 * time and size, and a full scrape over loopback HTTP (libmicrohttpd
 * server, a libcurl client, connection kept alive like Prometheus's). Prints one JSON line.
 *   build/bench/metrics_bench [N] [REPEATS]
 */
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

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 20;
	struct metrics_snapshot *m = build(n);
	double t0, render_best = 1e9, scrape_best = 1e9, render_sum = 0, scrape_sum = 0;
	char *buf = NULL, err[200], url[96];
	size_t len = 0, lines = 0;
	struct metrics_srv *srv;
	CURL *e;
	unsigned int r;

	for (r = 0; r < reps; r++) {
		FILE *f;

		free(buf);
		buf = NULL;
		t0 = ms();
		f = open_memstream(&buf, &len);
		metrics_render(m, f);
		fclose(f);
		t0 = ms() - t0;
		render_sum += t0;
		if (t0 < render_best)
			render_best = t0;
	}
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	unsetenv("http_proxy");
	srv = metrics_srv_start("127.0.0.1:0", err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	metrics_srv_publish(srv, m);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", metrics_srv_port(srv));
	e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	for (r = 0; r < reps; r++) {
		got_len = 0;
		t0 = ms();
		if (curl_easy_perform(e) == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &got_status);
		t0 = ms() - t0;
		scrape_sum += t0;
		if (t0 < scrape_best)
			scrape_best = t0;
	}
	printf("{\"services\": %u, \"bytes\": %zu, \"lines\": %zu, \"render_ms_best\": %.2f, "
	       "\"render_ms_mean\": %.2f, \"scrape_ms_best\": %.2f, \"scrape_ms_mean\": %.2f, "
	       "\"http_status\": %ld, \"scrape_bytes\": %zu, \"repeats\": %u}\n",
	       n, len, lines, render_best, render_sum / reps, scrape_best, scrape_sum / reps,
	       got_status, got_len, reps);
	curl_easy_cleanup(e);
	metrics_srv_stop(srv);
	free(buf);
	return 0;
}
