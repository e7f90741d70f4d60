// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice top: a live view of every service (ncurses). From sluiced's
 * control socket: each rollout's state, step, a progress bar of the hold,
 * the gates' verdicts and values, the selected service's last audit events;
 * keys to pause, resume, promote, abort (confirmed) and freeze. From the
 * maps (always): weights per ring and per-variant rates (new flows/s,
 * error ratio over the mode's default error signals, handshake p95/p99 in
 * nat mode). With no daemon it says so and shows the maps alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curses.h>
#include "cli.h"
#include "sluice_ctl.h"
#include "ctl_client.h"

#define MAX_SVCS	256

struct svc_rates {
	char name[SLUICE_NAME_LEN];
	__u32 id;
	bool nat;
	struct sluice_service_view v;
	struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_health h[SLUICE_VARIANTS];
	/* rates since the previous refresh, per variant */
	double flows_s[SLUICE_VARIANTS], err[SLUICE_VARIANTS];
	double p95[SLUICE_VARIANTS], p99[SLUICE_VARIANTS];
	bool have_rates;
};

struct top {
	struct sluice *s;
	struct svc_rates svc[MAX_SVCS], prev[MAX_SVCS];
	int nsvc, nprev, sel;
	double interval;
	json_t *status;			/* sluiced's status reply, NULL: down */
	char msg[512];			/* the last key's outcome */
	struct timespec last;
};

static __u64 bad_of(const struct sluice_flow_stats *f, bool nat)
{
	/* the default error signals of a gate (user/lib/plan.h) */
	return f->client_rst + (nat ? f->backend_rst + f->hs_timeout : f->syn_retrans);
}

static const struct svc_rates *prev_of(const struct top *t, __u32 id)
{
	int i;

	for (i = 0; i < t->nprev; i++)
		if (t->prev[i].id == id)
			return &t->prev[i];
	return NULL;
}

/* Read every service's view and counters; rates against the last read. */
static void read_maps(struct top *t, double dt)
{
	__u32 ids[MAX_SVCS];
	unsigned int mask = 1;
	int n, i, v;
	unsigned int r, b;

	memcpy(t->prev, t->svc, sizeof(t->svc));
	t->nprev = t->nsvc;
	t->nsvc = 0;
	n = sluice_service_ids(t->s, ids, MAX_SVCS);
	sluice_rings_in_use(t->s, &mask);
	for (i = 0; i < n; i++) {
		struct svc_rates *x = &t->svc[t->nsvc];
		const struct svc_rates *p;

		memset(x, 0, sizeof(*x));
		x->id = ids[i];
		if (sluice_service_name(t->s, ids[i], x->name, sizeof(x->name)) ||
		    sluice_service_view(t->s, x->name, &x->v))
			continue;
		x->nat = x->v.mode == SLUICE_MODE_NAT;
		if (sluice_counters_get(t->s, ids[i], x->nat, mask, x->fs, x->h))
			continue;
		t->nsvc++;
		p = prev_of(t, ids[i]);
		if (!p || dt <= 0)
			continue;
		x->have_rates = true;
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			__u64 nf = 0, bad = 0, lat[SLUICE_LAT_BUCKETS];

			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				nf += x->fs[v][r].new_flows - p->fs[v][r].new_flows;
				bad += bad_of(&x->fs[v][r], x->nat) - bad_of(&p->fs[v][r], x->nat);
			}
			x->flows_s[v] = nf / dt;
			x->err[v] = nf ? (double)bad / nf : 0;
			for (b = 0; b < SLUICE_LAT_BUCKETS; b++)
				lat[b] = x->h[v].lat[b] >= p->h[v].lat[b] ?
					 x->h[v].lat[b] - p->h[v].lat[b] : 0;
			x->p95[v] = x->nat ? sluice_lat_percentile(lat, 0.95) : -1;
			x->p99[v] = x->nat ? sluice_lat_percentile(lat, 0.99) : -1;
		}
	}
}

static json_t *rollout_of(const struct top *t, const char *name)
{
	json_t *r;
	size_t i;

	if (!t->status)
		return NULL;
	json_array_foreach(json_object_get(t->status, "rollouts"), i, r)
		if (!strcmp(jstr(r, "service"), name))
			return r;
	return NULL;
}

/* Quiet calls: the screen shows failures, nothing goes to stderr. */
static int quiet_call(json_t *req, json_t **rep, char *err, size_t len)
{
	struct sluice_ctl *c = sluice_ctl_connect(rollout_socket(), err, len);
	int rc;

	*rep = NULL;
	if (!c) {
		json_decref(req);
		return -ENOTCONN;
	}
	rc = sluice_ctl_call(c, req, rep, err, len);
	sluice_ctl_close(c);
	json_decref(req);
	if (!rc && sluice_ctl_code(*rep) != SLUICE_CTL_OK) {
		snprintf(err, len, "%s", jstr(*rep, "error"));
		json_decref(*rep);
		*rep = NULL;
		return -EINVAL;
	}
	return rc;
}

static void fmt_pct(char *b, size_t n, double v)
{
	snprintf(b, n, "%.2f%%", v * 100);
}

static void bar(int width, double frac)
{
	int i, full = frac <= 0 ? 0 : frac >= 1 ? width : (int)(frac * width + 0.5);

	addch('[');
	for (i = 0; i < width; i++)
		addch(i < full ? '#' : '.');
	addch(']');
}

static void draw_service(struct top *t, int idx, int *row)
{
	const struct svc_rates *x = &t->svc[idx];
	static const char *const var[] = { "baseline", "canary" };
	json_t *r = rollout_of(t, x->name), *g;
	char b1[32], b2[32];
	unsigned int ring;
	size_t i;
	int v;

	if (idx == t->sel)
		attron(A_REVERSE);
	mvprintw((*row)++, 0, "%-16s %-12s", x->name,
		 r ? jstr(r, "phase") : (t->status ? "no rollout" : "-"));
	if (r) {
		json_int_t hold = jnum(r, "hold_ms"), left = jnum(r, "hold_left_ms");

		printw(" step %lld/%lld ", (long long)jnum(r, "step") + 1, (long long)jnum(r, "steps"));
		if (hold > 0) {
			bar(20, (double)(hold - left) / hold);
			printw(" %.0fs/%.0fs", (hold - left) / 1000.0, hold / 1000.0);
		}
		if (json_is_true(json_object_get(r, "frozen")))
			printw("  FROZEN");
	}
	if (idx == t->sel)
		attroff(A_REVERSE);
	move((*row)++, 2);
	printw("weights:");
	for (ring = 0; ring < SLUICE_MAX_RINGS; ring++) {
		char rn[SLUICE_RING_NAME_LEN];

		if (ring && x->v.weight[ring] == x->v.weight[0])
			continue;
		if (sluice_ring_name(t->s, ring, rn, sizeof(rn)))
			snprintf(rn, sizeof(rn), "ring%u", ring);
		printw(" %s %u.%02u%%", rn, x->v.weight[ring] / 100, x->v.weight[ring] % 100);
	}
	if (x->v.kill || x->v.kill_all)
		printw("  KILL SWITCH ON (last-known-good: %s)", x->v.lkg ? "canary" : "baseline");
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		fmt_pct(b1, sizeof(b1), x->err[v]);
		mvprintw((*row)++, 2, "%-8s %3u backends", var[v], x->v.nbackends[v]);
		if (!x->have_rates) {
			printw("  (rates after the next refresh)");
			continue;
		}
		printw("  %8.1f flows/s  errors %7s", x->flows_s[v], b1);
		if (x->nat) {
			snprintf(b2, sizeof(b2), "%.2f/%.2f ms", x->p95[v] / 1000, x->p99[v] / 1000);
			printw("  handshake p95/p99 %s", x->p95[v] >= 0 ? b2 : "-");
		}
	}
	if (!r)
		return;
	json_array_foreach(json_object_get(r, "gates"), i, g) {
		bool ok1, ok2, ok3;
		double c = jreal(g, "canary", &ok1), bl = jreal(g, "baseline", &ok2),
		       th = jreal(g, "threshold", &ok3);
		const char *out = jstr(g, "outcome");

		mvprintw((*row)++, 2, "gate %-10s %-14s ", jstr(g, "name"), jstr(g, "metric"));
		if (!strcmp(out, "fail") || !strcmp(out, "error"))
			attron(A_BOLD);
		printw("%-12s", out);
		attroff(A_BOLD);
		printw(" canary %.4g baseline %.4g threshold %.4g  n=%lld/%lld (min %lld)",
		       ok1 ? c : 0, ok2 ? bl : 0, ok3 ? th : 0, (long long)jnum(g, "samples_c"),
		       (long long)jnum(g, "samples_b"), (long long)jnum(g, "min_samples"));
	}
	mvprintw((*row)++, 2, "%s", jstr(r, "status"));
}

static void draw_events(struct top *t, int *row)
{
	json_t *req, *rep, *e, *ev;
	char err[256];
	size_t i, n;

	if (!t->status || t->sel >= t->nsvc)
		return;
	req = json_pack("{s:s, s:s, s:i}", "cmd", "history", "service", t->svc[t->sel].name,
			"limit", 6);
	if (quiet_call(req, &rep, err, sizeof(err)))
		return;
	ev = json_object_get(rep, "events");
	n = json_array_size(ev);
	mvprintw((*row)++, 0, "last events of %s:", t->svc[t->sel].name);
	json_array_foreach(ev, i, e) {
		time_t at = jnum(e, "at_ms") / 1000;
		struct tm tm;
		char ts[16];

		localtime_r(&at, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		mvprintw((*row)++, 2, "%s %-8s %.*s", ts, jstr(e, "type"), COLS > 30 ? COLS - 22 : 8,
			 jstr(e, "text"));
	}
	(void)n;
	json_decref(rep);
}

static void draw(struct top *t)
{
	char err[256], ts[16];
	json_t *f;
	time_t now = time(NULL);
	struct tm tm;
	int row = 2, i;

	erase();
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	json_decref(t->status);
	t->status = NULL;
	if (quiet_call(json_pack("{s:s}", "cmd", "status"), &t->status, err, sizeof(err)))
		mvprintw(0, 0, "sluice top %s  sluiced is not running (%s): map counters only", ts, err);
	else
		mvprintw(0, 0, "sluice top %s  sluiced: %d rollout(s)", ts,
			 (int)json_array_size(json_object_get(t->status, "rollouts")));
	f = t->status ? json_object_get(t->status, "freeze") : NULL;
	if (f && json_is_true(json_object_get(f, "frozen"))) {
		attron(A_BOLD);
		printw("  FROZEN: %s (by %s)", jstr(f, "reason"), jstr(f, "who"));
		attroff(A_BOLD);
	}
	if (!t->nsvc)
		mvprintw(row++, 0, "no services");
	for (i = 0; i < t->nsvc && row < LINES - 10; i++) {
		draw_service(t, i, &row);
		row++;
	}
	draw_events(t, &row);
	mvprintw(LINES - 2, 0, "%s", t->msg);
	mvprintw(LINES - 1, 0, "up/down select  p pause  r resume  P promote  a abort  "
			       "f freeze  u unfreeze  q quit");
	refresh();
}

/* A command on the selected service (or the freeze). */
static void act(struct top *t, const char *cmd)
{
	char err[256];
	json_t *req, *rep;
	const char *name = t->sel < t->nsvc ? t->svc[t->sel].name : NULL;

	if (!strcmp(cmd, "freeze"))
		req = json_pack("{s:s, s:s, s:s}", "cmd", cmd, "reason", "frozen from sluice top",
				"who", "sluice-top");
	else if (!strcmp(cmd, "unfreeze"))
		req = json_pack("{s:s, s:s}", "cmd", cmd, "who", "sluice-top");
	else if (name)
		req = json_pack("{s:s, s:s, s:s}", "cmd", cmd, "service", name, "who", "sluice-top");
	else
		return;
	if (quiet_call(req, &rep, err, sizeof(err)))
		snprintf(t->msg, sizeof(t->msg), "%s%s%s: %s", cmd, name ? " " : "", name ? name : "",
			 err);
	else
		snprintf(t->msg, sizeof(t->msg), "%s%s%s: %s", cmd, name ? " " : "", name ? name : "",
			 json_is_true(json_object_get(rep, "changed")) ? "done" : "nothing to change");
	json_decref(rep);
}

static bool confirm(struct top *t, const char *what)
{
	int c;

	mvprintw(LINES - 2, 0, "%s? y/n ", what);
	clrtoeol();
	refresh();
	timeout(-1);
	c = getch();
	timeout((int)(t->interval * 1000));
	return c == 'y' || c == 'Y';
}

static double elapsed(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) / 1e9;
}

static double since(struct timespec *a)
{
	struct timespec b;
	double d;

	clock_gettime(CLOCK_MONOTONIC, &b);
	d = (b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) / 1e9;
	*a = b;
	return d;
}

int do_top(int argc, char **argv)
{
	static struct top t;
	char q[80];
	int c, a;

	t.interval = 1;
	if (rollout_strip_socket(&argc, argv))
		return EXIT_USAGE;
	for (a = 0; a < argc; a++) {
		char *end;

		if (!strcmp(argv[a], "-d") && a + 1 < argc) {
			t.interval = strtod(argv[++a], &end);
			if (*end || t.interval < 0.1 || t.interval > 3600)
				return usage_err("top: -d SECONDS: 0.1 to 3600, not '%s'", argv[a]);
		} else {
			return usage_err("usage: %s top [--socket PATH] [-d SECONDS]", cli.prog);
		}
	}
	t.s = cli_open(false);
	if (!t.s)
		return EXIT_ERR;
	since(&t.last);
	read_maps(&t, 0);
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout((int)(t.interval * 1000));
	for (;;) {
		draw(&t);
		c = getch();
		if (c == 'q')
			break;
		switch (c) {
		case KEY_UP: if (t.sel > 0) t.sel--; break;
		case KEY_DOWN: if (t.sel + 1 < t.nsvc) t.sel++; break;
		case 'p': act(&t, "pause"); break;
		case 'r': act(&t, "resume"); break;
		case 'P': act(&t, "promote"); break;
		case 'f': act(&t, "freeze"); break;
		case 'u': act(&t, "unfreeze"); break;
		case 'a':
			if (t.sel >= t.nsvc)
				break;
			snprintf(q, sizeof(q), "abort %s (roll back to last-known-good)",
				 t.svc[t.sel].name);
			if (confirm(&t, q))
				act(&t, "abort");
			else
				snprintf(t.msg, sizeof(t.msg), "abort cancelled");
			break;
		}
		/* rates over the real time between two reads of the maps */
		if (c == ERR || elapsed(&t.last) >= t.interval)
			read_maps(&t, since(&t.last));
	}
	endwin();
	json_decref(t.status);
	sluice_close(t.s);
	return EXIT_OK;
}
