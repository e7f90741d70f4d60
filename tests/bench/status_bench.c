// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The status page's cost to sluiced's loop with N services (default 4096,
 * nat mode, ROLLOUTS of them with a rollout, one gate and 64 audit events
 * in a real SQLite store): per snapshot, status_track (rates, weight
 * changes: every second, watched or not) and status_doc (the JSON, built
 * only while someone polls, at most every 20x its cost), and the
 * document's size. Medians of REPEATS. Prints one JSON line.
 *   build/bench/status_bench [N] [ROLLOUTS] [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "sluiced.h"
#include "metrics.h"

static double ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char plan_yaml[] =
	"steps:\n  - weight: 5%\n    hold: 30s\n  - weight: 50%\n    hold: 30s\n"
	"gates:\n  - name: errors\n    metric: error_ratio\n    max_increase: 50%\n";

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? atoi(argv[1]) : 4096;
	unsigned int nro = argc > 2 ? atoi(argv[2]) : 16;
	unsigned int reps = argc > 3 ? atoi(argv[3]) : 9, i, k;
	struct metrics_snapshot *m = metrics_snapshot_new(n);
	struct daemon d = { 0 };
	double *track = calloc(reps, sizeof(double)), *doc = calloc(reps, sizeof(double));
	char db[64], err[256];
	size_t size = 0;

	if (nro > n)
		nro = n;
	snprintf(db, sizeof(db), "/tmp/sluice-status-bench-%d.db", getpid());
	if (store_open(db, &d.db, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	d.ro = calloc(nro ? nro : 1, sizeof(*d.ro));
	snprintf(m->ring[0], sizeof(m->ring[0]), "default");
	for (i = 0; i < n; i++) {
		struct metrics_service *s;
		char name[32];

		snprintf(name, sizeof(name), "svc-%u", i);
		s = metrics_snapshot_add(m, name);
		s->mode = SLUICE_MODE_NAT;
		s->weight[0] = 500;
		if (i >= nro)
			continue;
		d.ro[i] = calloc(1, sizeof(**d.ro));
		snprintf(d.ro[i]->service, sizeof(d.ro[i]->service), "%s", name);
		d.ro[i]->plan = sluice_plan_parse_string(plan_yaml, "plan", err, sizeof(err));
		eng_state_init(&d.ro[i]->st, name);
		d.ro[i]->st.phase = ENG_PROGRESSING;
		d.ro[i]->st.step = 0;
		d.ro[i]->st.ngates = 1;
		d.nro++;
		store_begin(d.db);
		for (k = 0; k < 64; k++)
			store_event_add(d.db, name, 1, 1000 + k, k % 4 ? "gate" : "step",
					k % 4 ? "{\"type\":\"gate\",\"text\":\"pass\"}"
					      : "{\"type\":\"step\",\"text\":\"step 1/2\"}");
		store_commit(d.db);
	}
	for (k = 0; k < reps; k++) {
		double t0 = ms(), t1, t2;
		char *s;

		for (i = 0; i < n; i++)
			m->svc[i].fs[SLUICE_CANARY][0].new_flows += 10;
		status_track(&d, m, 1000000 + k * 1000, true);
		t1 = ms();
		s = status_doc(&d, m, 1000000 + k * 1000);
		t2 = ms();
		track[k] = t1 - t0;
		doc[k] = t2 - t1;
		size = s ? strlen(s) : 0;
		free(s);
	}
	qsort(track, reps, sizeof(double), cmp);
	qsort(doc, reps, sizeof(double), cmp);
	printf("{\"services\": %u, \"rollouts\": %u, \"track_ms\": %.3f, \"doc_ms\": %.3f, "
	       "\"doc_bytes\": %zu, \"refresh_ms\": %.0f}\n", n, nro, track[reps / 2],
	       doc[reps / 2], size, doc[reps / 2] * 20 < 1000 ? 1000 : doc[reps / 2] * 20);
	status_doc_free(&d);
	for (i = 0; i < d.nro; i++) {
		sluice_plan_free(d.ro[i]->plan);
		free(d.ro[i]);
	}
	free(d.ro);
	store_close(d.db);
	unlink(db);
	snprintf(err, sizeof(err), "%s-wal", db);
	unlink(err);
	snprintf(err, sizeof(err), "%s-shm", db);
	unlink(err);
	metrics_snapshot_free(m);
	free(track);
	free(doc);
	return 0;
}
