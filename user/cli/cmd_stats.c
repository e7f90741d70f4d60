// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* stats: counters per (service, variant, ring), health signals per variant
 * (with handshake latency percentiles in NAT mode) and global events; with
 * -w, a bounded watch loop that adds rates and shows each window's health. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include "cli.h"

#define NF 8
static const char *const fields[NF] = {
	"packets", "bytes", "new_flows", "reset_moves", "syn_retrans",
	"client_rst", "backend_rst", "hs_timeout",
};

typedef struct sluice_flow_stats svc_stats[SLUICE_VARIANTS][SLUICE_MAX_RINGS];

struct sample {
	int n;
	__u32 ids[SLUICE_MAX_SERVICES];
	svc_stats *st;
	struct sluice_health (*h)[SLUICE_VARIANTS];
	__u64 ev[SLUICE_EV_MAX];
	double t;
};

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int take(struct sluice *s, struct sample *x)
{
	int i, err;

	x->t = now();
	for (i = 0; i < x->n; i++) {
		err = sluice_stats_get(s, x->ids[i], x->st[i]);
		if (err)
			return err;
		err = sluice_health_get(s, x->ids[i], x->h[i]);
		if (err)
			return err;
	}
	return sluice_events_get(s, x->ev);
}

static __u64 fv(const struct sluice_flow_stats *f, int k)
{
	return ((const __u64 *)f)[k];
}

static void print_row(const char *variant, const char *ring,
		      const struct sluice_flow_stats *f,
		      const struct sluice_flow_stats *prev, double dt)
{
	int k;

	pr_obj_open(NULL);
	pr_str(PR_ANY, "variant", "  %-9s", variant);
	pr_str(PR_ANY, "ring", "%-16s", ring);
	for (k = 0; k < NF; k++)
		pr_uint(PR_ANY, fields[k], k < 3 ? " %14llu" : " %11llu", fv(f, k));
	if (prev) {
		pr_obj_open("rates");
		pr_real(PR_ANY, "packets", " %12.1f", (fv(f, 0) - fv(prev, 0)) / dt);
		pr_real(PR_ANY, "bytes", " %14.1f", (fv(f, 1) - fv(prev, 1)) / dt);
		pr_real(PR_ANY, "new_flows", " %10.1f", (fv(f, 2) - fv(prev, 2)) / dt);
		pr_obj_close();
	}
	pr_text("\n");
	pr_obj_close();
}

static void print_ms(const char *key, double us)
{
	if (us < 0) {
		pr_text(" %9s", "-");
		pr_null(key);
		return;
	}
	pr_real(PR_ANY, key, " %9.3f", us / 1000.0);
}

/* Per variant: the health signals (a window's under -w). */
static void print_health(const struct sluice_health cur[SLUICE_VARIANTS],
			 const struct sluice_health *prev)
{
	struct sluice_health *w = calloc(1, sizeof(*w));
	int v;

	if (!w)
		return;
	pr_text("  %-9s %10s %11s %10s %11s %10s %10s %9s %9s %9s\n",
		prev ? "window" : "health", "new_flows", "syn_retrans", "client_rst",
		"backend_rst", "hs_timeout", "handshakes", "p50_ms", "p95_ms", "p99_ms");
	pr_arr_open("health");
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		if (prev)
			sluice_health_sub(w, &cur[v], &prev[v]);
		else
			memcpy(w, &cur[v], sizeof(*w));
		pr_obj_open(NULL);
		pr_str(PR_ANY, "variant", "  %-9s", variant_str(v));
		pr_uint(PR_ANY, "new_flows", " %10llu", w->new_flows);
		pr_uint(PR_ANY, "syn_retrans", " %11llu", w->syn_retrans);
		pr_uint(PR_ANY, "client_rst", " %10llu", w->client_rst);
		pr_uint(PR_ANY, "backend_rst", " %11llu", w->backend_rst);
		pr_uint(PR_ANY, "hs_timeout", " %10llu", w->hs_timeout);
		pr_uint(PR_ANY, "handshakes", " %10llu", w->hs_samples);
		print_ms("p50_ms", sluice_lat_percentile(w->lat, 50));
		print_ms("p95_ms", sluice_lat_percentile(w->lat, 95));
		print_ms("p99_ms", sluice_lat_percentile(w->lat, 99));
		pr_text("\n");
		pr_obj_close();
	}
	pr_arr_close();
	free(w);
}

static void print_sample(struct sluice *s, const struct sample *x,
			 const struct sample *prev, bool all)
{
	char ring[SLUICE_RING_NAME_LEN + 8], name[SLUICE_NAME_LEN];
	struct sluice_flow_stats tot;
	double dt = prev ? x->t - prev->t : 0;
	int i, v, r, k;

	if (prev)
		pr_real(PR_JSON, "interval", "", dt);
	pr_arr_open("services");
	for (i = 0; i < x->n; i++) {
		struct sluice_service_spec *sp = NULL;

		snprintf(name, sizeof(name), "?");
		sp = sluice_spec_new();
		if (sp && !sluice_service_get_id(s, x->ids[i], sp))
			snprintf(name, sizeof(name), "%s", sp->name);
		sluice_spec_free(sp);
		pr_obj_open(NULL);
		pr_str(PR_ANY, "name", "service %s", name);
		pr_uint(PR_ANY, "id", " (id %llu)\n", x->ids[i]);
		pr_text("  %-9s%-16s %14s %14s %14s %11s %11s %11s %11s %11s%s\n",
			"variant", "ring", "packets", "bytes", "new_flows",
			"reset_moves", "syn_retrans", "client_rst", "backend_rst",
			"hs_timeout", prev ? "       pkts/s        bytes/s    flows/s" : "");
		memset(&tot, 0, sizeof(tot));
		pr_arr_open("rows");
		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				const struct sluice_flow_stats *f = &x->st[i][v][r];
				bool zero = true, known;

				for (k = 0; k < NF; k++) {
					((__u64 *)&tot)[k] += fv(f, k);
					zero &= !fv(f, k);
				}
				known = sluice_ring_name(s, r, ring, sizeof(ring)) == 0;
				if (!known)
					snprintf(ring, sizeof(ring), "ring%d", r);
				if (!all && !known && zero)
					continue;
				print_row(variant_str(v), ring, f,
					  prev ? &prev->st[i][v][r] : NULL, dt);
			}
		pr_arr_close();
		pr_obj_open("total");
		pr_text("  %-25s", "total");
		for (k = 0; k < NF; k++)
			pr_uint(PR_ANY, fields[k], k < 3 ? " %14llu" : " %11llu", fv(&tot, k));
		pr_text("\n");
		pr_obj_close();
		print_health(x->h[i], prev ? prev->h[i] : NULL);
		pr_obj_close();
	}
	pr_arr_close();
	pr_obj_open("events");
	pr_text("events:\n");
	for (k = 0; k < SLUICE_EV_MAX; k++) {
		if (!all && !x->ev[k] && !out_json)
			continue;
		pr_text("  %-22s", sluice_event_name(k));
		pr_uint(PR_ANY, sluice_event_name(k), " %14llu", x->ev[k]);
		if (prev)
			pr_text(" %12.1f/s", (x->ev[k] - prev->ev[k]) / dt);
		pr_text("\n");
	}
	pr_obj_close();
}

int do_stats(int argc, char **argv)
{
	struct sample *a = NULL, *b = NULL, *t;
	const char *name = NULL;
	double watch = 0;
	long count = -1, done = 0;
	bool all = false;
	struct sluice *s = NULL;
	int i, rc = EXIT_ERR, err;
	char *end;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-w") || !strcmp(argv[i], "--watch")) {
			if (++i >= argc)
				return usage_err("-w needs SECONDS");
			watch = strtod(argv[i], &end);
			if (*end || !(watch >= 0.01 && watch <= 3600))
				return usage_err("-w: '%s' is not a number of seconds (0.01 to 3600)",
						 argv[i]);
		} else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--count")) {
			if (++i >= argc)
				return usage_err("-c needs COUNT");
			count = strtol(argv[i], &end, 10);
			if (*end || count < 1 || count > 1000000)
				return usage_err("-c: '%s' is not a count (1 or more)", argv[i]);
		} else if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all")) {
			all = true;
		} else if (argv[i][0] == '-' || name) {
			return usage_err("usage: %s stats [SERVICE] [-w SECONDS] [-c COUNT] [-a]",
					 cli.prog);
		} else {
			name = argv[i];
		}
	}
	if (count > 0 && !watch)
		watch = 1;
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	if (!a || !b)
		goto out;
	if (name) {
		err = sluice_service_lookup(s, name, &a->ids[0]);
		if (err) {
			lib_fail(s, err);
			goto out;
		}
		a->n = 1;
	} else {
		a->n = sluice_service_ids(s, a->ids, SLUICE_MAX_SERVICES);
	}
	memcpy(b->ids, a->ids, sizeof(a->ids));
	b->n = a->n;
	a->st = calloc(a->n + 1, sizeof(svc_stats));
	b->st = calloc(a->n + 1, sizeof(svc_stats));
	a->h = calloc(a->n + 1, sizeof(*a->h));
	b->h = calloc(a->n + 1, sizeof(*b->h));
	if (!a->st || !b->st || !a->h || !b->h)
		goto out;
	/* unconfirmed NAT handshakes past the timeout count as hs_timeout */
	sluice_health_sweep(s, SLUICE_HS_TIMEOUT_NS, 0);
	err = take(s, a);
	if (err) {
		pr_error("cannot read counters: %s", strerror(-err));
		goto out;
	}
	if (!watch) {
		print_sample(s, a, NULL, all);
		rc = EXIT_OK;
		goto out;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	while (!stop && (count < 0 || done < count)) {
		struct timespec ts = { (time_t)watch,
				       (long)((watch - (time_t)watch) * 1e9) };

		nanosleep(&ts, NULL);
		if (stop)
			break;
		sluice_health_sweep(s, SLUICE_HS_TIMEOUT_NS, 0);
		err = take(s, b);
		if (err) {
			pr_error("cannot read counters: %s", strerror(-err));
			goto out;
		}
		print_sample(s, b, a, all);
		pr_flush();
		if (!out_json)
			printf("\n");
		done++;
		t = a;
		a = b;
		b = t;
	}
	rc = EXIT_OK;
out:
	if (a) {
		free(a->st);
		free(a->h);
	}
	if (b) {
		free(b->st);
		free(b->h);
	}
	free(a);
	free(b);
	sluice_close(s);
	return rc;
}
