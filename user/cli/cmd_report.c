// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice report SERVICE [ROLLOUT]: a picture of one rollout from sluiced's
 * audit trail (over the control socket): the canary weight over time (per
 * ring when rings differ), each gate's canary and baseline values, step
 * boundaries, gate failures, pauses and freezes, and the promotion,
 * rollback or abort. SVG; PNG through rsvg-convert (librsvg2-bin).
 *
 * Every marker carries its event time as data-at-ms (milliseconds since
 * the epoch) and a class naming what it is, so tools (and the tests) can
 * read the picture back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "cli.h"
#include "sluice_ctl.h"

#define W		960
#define PLOT_X		70
#define PLOT_W		(W - PLOT_X - 160)
#define PANEL_H		150
#define PANEL_GAP	40
#define TOP		50
#define MAX_RINGS_DRAWN	8
#define MAX_GATES_DRAWN	6

struct rep {
	FILE *f;
	json_int_t t0, t1;		/* time span drawn */
};

static double xpos(const struct rep *r, json_int_t t)
{
	return PLOT_X + (double)(t - r->t0) * PLOT_W / (double)(r->t1 - r->t0);
}

/* Text into SVG: escape the XML specials. */
static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

/*
 * The weights of a step event's text (the engine's format: "weight 5.00%",
 * "weights stay ring0 100.00%, ring1 5.00%", "cutover to green, 100.00%"):
 * w[ring] in percent; returns the number of rings read (1: every ring).
 */
static int step_weights(const char *text, double *w, int max)
{
	const char *p = strstr(text, "weight");
	int n = 0;

	if (strstr(text, "cutover")) {
		w[0] = 100;
		return 1;
	}
	if (!p)
		return 0;
	p += strcspn(p, "0123456789r");
	while (*p && n < max) {
		char *end;
		double v;

		if (!strncmp(p, "ring", 4)) {
			p += 4;
			strtol(p, &end, 10);
			p = end;
			while (*p == ' ')
				p++;
		}
		v = strtod(p, &end);
		if (end == p || *end != '%')
			break;
		w[n++] = v;
		p = end + 1;
		if (strncmp(p, ", ring", 6))
			break;
		p += 2;
	}
	return n;
}

static void panel_frame(struct rep *r, int y, const char *title, double ymax, const char *unit)
{
	FILE *f = r->f;
	int i;

	fprintf(f, "<g class=\"panel\">\n<text x=\"%d\" y=\"%d\" class=\"title\">", PLOT_X, y - 8);
	xml_text(f, title);
	fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n",
		PLOT_X, y, PLOT_W, PANEL_H);
	for (i = 0; i <= 4; i++) {
		double v = ymax * (4 - i) / 4;

		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.4g%s</text>\n",
			PLOT_X - 4, y + i * PANEL_H / 4 + 4, v, unit);
	}
	fprintf(f, "</g>\n");
}

static double ypos(int y, double v, double ymax)
{
	if (v > ymax)
		v = ymax;
	if (v < 0)
		v = 0;
	return y + PANEL_H - v * PANEL_H / ymax;
}

/* The weight panel: a step line per ring (one line when all are equal). */
static void draw_weights(struct rep *r, json_t *ev, int y)
{
	double w[MAX_RINGS_DRAWN], cur[MAX_RINGS_DRAWN] = { 0 };
	int nr = 1, ring, n;
	size_t i;
	json_t *e;
	static const char *const col[] = { "#d9480f", "#5f3dc4", "#087f5b", "#1864ab",
					   "#c2255c", "#5c940d", "#862e9c", "#495057" };

	/* how many rings the plan names */
	json_array_foreach(ev, i, e)
		if (!strcmp(jstr(e, "type"), "step")) {
			n = step_weights(jstr(e, "text"), w, MAX_RINGS_DRAWN);
			if (n > nr)
				nr = n;
		}
	panel_frame(r, y, "canary weight (share of new flows)", 100, "%");
	for (ring = 0; ring < nr; ring++) {
		json_int_t last = r->t0;

		cur[ring] = 0;
		fprintf(r->f, "<polyline class=\"weight\" data-ring=\"%d\" stroke=\"%s\" points=\"%.1f,%.1f",
			ring, col[ring], xpos(r, r->t0), ypos(y, 0, 100));
		json_array_foreach(ev, i, e) {
			const char *t = jstr(e, "type");
			json_int_t at = jnum(e, "at_ms");
			double nw = cur[ring];

			if (!strcmp(t, "step")) {
				n = step_weights(jstr(e, "text"), w, MAX_RINGS_DRAWN);
				if (n == 1)
					nw = w[0];
				else if (n > ring)
					nw = w[ring];
			} else if (!strcmp(t, "rollback") || !strcmp(t, "abort") ||
				   !strcmp(t, "promote")) {
				/* the kill switch sends new flows to last-known-good;
				 * a promotion makes the canary the baseline (weight 0) */
				nw = 0;
			} else {
				continue;
			}
			fprintf(r->f, " %.1f,%.1f %.1f,%.1f", xpos(r, at), ypos(y, cur[ring], 100),
				xpos(r, at), ypos(y, nw, 100));
			cur[ring] = nw;
			last = at;
		}
		(void)last;
		fprintf(r->f, " %.1f,%.1f\"/>\n", xpos(r, r->t1), ypos(y, cur[ring], 100));
		if (nr == 1)
			fprintf(r->f, "<text x=\"%d\" y=\"%d\" class=\"legend\" fill=\"%s\">all rings</text>\n",
				PLOT_X + PLOT_W + 8, y + 14, col[0]);
		else
			fprintf(r->f, "<text x=\"%d\" y=\"%d\" class=\"legend\" fill=\"%s\">ring %d</text>\n",
				PLOT_X + PLOT_W + 8, y + 14 + ring * 14, col[ring], ring);
		if (nr == 1)
			break;
	}
}

/* One gate's panel: canary and baseline values at each evaluation, failed
 * evaluations marked. */
static void draw_gate(struct rep *r, json_t *ev, int gate, const char *title, int y)
{
	static const char *const var[] = { "baseline", "canary" };
	static const char *const col[] = { "#1c7ed6", "#e8590c" };
	double ymax = 0, v;
	size_t i;
	json_t *e, *x;
	bool ok;
	int k;

	json_array_foreach(ev, i, e) {
		if (strcmp(jstr(e, "type"), "gate") || jnum(e, "gate") != gate)
			continue;
		x = json_object_get(e, "eval");
		for (k = 0; k < 2; k++) {
			v = jreal(x, var[k], &ok);
			if (ok && v > ymax)
				ymax = v;
		}
		v = jreal(x, "threshold", &ok);
		if (ok && v > ymax)
			ymax = v;
	}
	if (ymax <= 0)
		ymax = 1e-3;
	ymax *= 1.15;
	panel_frame(r, y, title, ymax, "");
	for (k = 0; k < 2; k++) {
		bool first = true;

		fprintf(r->f, "<polyline class=\"gate-value\" data-gate=\"%d\" data-variant=\"%s\" stroke=\"%s\" points=\"",
			gate, var[k], col[k]);
		json_array_foreach(ev, i, e) {
			if (strcmp(jstr(e, "type"), "gate") || jnum(e, "gate") != gate)
				continue;
			v = jreal(json_object_get(e, "eval"), var[k], &ok);
			if (!ok)
				continue;
			fprintf(r->f, "%s%.1f,%.1f", first ? "" : " ", xpos(r, jnum(e, "at_ms")),
				ypos(y, v, ymax));
			first = false;
		}
		fprintf(r->f, "\"/>\n<text x=\"%d\" y=\"%d\" class=\"legend\" fill=\"%s\">%s</text>\n",
			PLOT_X + PLOT_W + 8, y + 14 + k * 14, col[k], var[k]);
	}
	json_array_foreach(ev, i, e) {
		const char *out;

		if (strcmp(jstr(e, "type"), "gate") || jnum(e, "gate") != gate)
			continue;
		x = json_object_get(e, "eval");
		out = jstr(x, "outcome");
		if (strcmp(out, "fail") && strcmp(out, "error"))
			continue;
		v = jreal(x, "canary", &ok);
		fprintf(r->f, "<circle class=\"gate-%s\" data-gate=\"%d\" data-at-ms=\"%lld\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>",
			out, gate, (long long)jnum(e, "at_ms"), xpos(r, jnum(e, "at_ms")),
			ypos(y, ok ? v : 0, ymax));
		xml_text(r->f, jstr(x, "reason"));
		fprintf(r->f, "</title></circle>\n");
	}
}

/* Vertical markers over every panel: steps and the rollout's transitions. */
static void draw_markers(struct rep *r, json_t *ev, int y0, int y1)
{
	size_t i;
	json_t *e;

	json_array_foreach(ev, i, e) {
		const char *t = jstr(e, "type"), *cls, *label;
		json_int_t at = jnum(e, "at_ms");
		double x = xpos(r, at);
		char buf[64];

		if (!strcmp(t, "step")) {
			snprintf(buf, sizeof(buf), "step %lld", (long long)jnum(e, "step"));
			cls = "step", label = buf;
		} else if (!strcmp(t, "rollback")) {
			cls = "marker rollback", label = "rolled back";
		} else if (!strcmp(t, "abort")) {
			cls = "marker abort", label = "aborted";
		} else if (!strcmp(t, "promote")) {
			cls = "marker promote", label = "promoted";
		} else if (!strcmp(t, "pause") || !strcmp(t, "freeze")) {
			cls = !strcmp(t, "pause") ? "marker pause" : "marker freeze";
			label = t;
		} else if (!strcmp(t, "resume") || !strcmp(t, "unfreeze")) {
			cls = "marker resume", label = t;
		} else {
			continue;
		}
		fprintf(r->f, "<g class=\"%s\" data-step=\"%lld\" data-at-ms=\"%lld\"><title>", cls,
			(long long)jnum(e, "step"), (long long)at);
		xml_text(r->f, jstr(e, "text"));
		fprintf(r->f, "</title><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
			      "<text x=\"%.1f\" y=\"%d\">%s</text></g>\n",
			x, y0, x, y1, x + 2, y0 + 12, label);
	}
}

/* The gates' names and metrics, when the status still holds this rollout. */
static json_t *gates_of(const char *service, json_int_t id)
{
	json_t *rep, *r, *g = NULL;
	size_t i;

	if (rollout_call(rollout_request("status", service), &rep))
		return NULL;
	json_array_foreach(json_object_get(rep, "rollouts"), i, r)
		if (jnum(r, "rollout_id") == id)
			g = json_incref(json_object_get(r, "gates"));
	json_decref(rep);
	return g;
}

static int write_svg(FILE *f, const char *service, json_int_t id, json_t *ev, json_t *gates)
{
	struct rep r = { .f = f };
	int ngates = -1, g, y, h;
	size_t i;
	json_t *e;
	char title[256];
	const char *end = "running";

	json_array_foreach(ev, i, e) {
		json_int_t at = jnum(e, "at_ms");
		const char *t = jstr(e, "type");

		if (!r.t0 || at < r.t0)
			r.t0 = at;
		if (at > r.t1)
			r.t1 = at;
		if (!strcmp(t, "gate") && jnum(e, "gate") > ngates)
			ngates = jnum(e, "gate");
		if (!strcmp(t, "promote"))
			end = "promoted";
		else if (!strcmp(t, "rollback"))
			end = "rolled back";
		else if (!strcmp(t, "abort"))
			end = "aborted";
		else if (!strcmp(t, "retry") || !strcmp(t, "start"))
			end = "running";
	}
	ngates++;
	if (ngates > MAX_GATES_DRAWN)
		ngates = MAX_GATES_DRAWN;
	/* a little room after the last event */
	r.t1 += (r.t1 - r.t0) / 20 + 1000;
	h = TOP + (1 + ngates) * (PANEL_H + PANEL_GAP) + 20;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
		   " data-service=\"", W, h, W, h);
	xml_text(f, service);
	fprintf(f, "\" data-rollout=\"%lld\" data-t0-ms=\"%lld\" data-t1-ms=\"%lld\">\n"
		   "<style>text{font:12px sans-serif;fill:#212529} .title{font-weight:bold}"
		   " .tick{font-size:10px} .frame{fill:#f8f9fa;stroke:#adb5bd}"
		   " polyline{fill:none;stroke-width:2}"
		   " .step line{stroke:#868e96;stroke-dasharray:4 3} .step text{fill:#495057;font-size:10px}"
		   " .rollback line,.abort line{stroke:#e03131;stroke-width:2} .rollback text,.abort text{fill:#e03131;font-weight:bold}"
		   " .promote line{stroke:#2f9e44;stroke-width:2} .promote text{fill:#2f9e44;font-weight:bold}"
		   " .pause line,.freeze line,.resume line{stroke:#f08c00;stroke-dasharray:2 2} .pause text,.freeze text,.resume text{fill:#f08c00}"
		   " .gate-fail{fill:#e03131} .gate-error{fill:#f08c00}</style>\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		(long long)id, (long long)r.t0, (long long)r.t1);
	snprintf(title, sizeof(title), "%s, rollout %lld: %s (%.1f s)", service, (long long)id,
		 end, (r.t1 - r.t0) / 1000.0);
	fprintf(f, "<text x=\"%d\" y=\"24\" class=\"title\" style=\"font-size:16px\">", PLOT_X);
	xml_text(f, title);
	fprintf(f, "</text>\n");
	y = TOP;
	draw_weights(&r, ev, y);
	for (g = 0; g < ngates; g++) {
		json_t *gi = json_array_get(gates, g);
		char t[160];

		y += PANEL_H + PANEL_GAP;
		if (gi)
			snprintf(t, sizeof(t), "gate %s (%s): canary vs baseline", jstr(gi, "name"),
				 jstr(gi, "metric"));
		else
			snprintf(t, sizeof(t), "gate %d: canary vs baseline", g + 1);
		draw_gate(&r, ev, g, t, y);
	}
	draw_markers(&r, ev, TOP, y + PANEL_H);
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">time: %.1f s from the first event</text>\n",
		PLOT_X, y + PANEL_H + 16, (r.t1 - r.t0) / 1000.0);
	fprintf(f, "</svg>\n");
	return ferror(f) ? -EIO : 0;
}

/* SVG to PNG with rsvg-convert (stdin -> out). */
static int to_png(const char *svg, const char *out)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (!pid) {
		execlp("rsvg-convert", "rsvg-convert", "-f", "png", "-b", "white", "-o", out, svg,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return -ENOENT;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

int do_report(int argc, char **argv)
{
	const char *service = NULL, *out = NULL, *id_arg = NULL;
	json_t *req, *rep, *all, *ev, *e, *gates;
	bool png = false;
	json_int_t id = 0;
	size_t i;
	int rc, a;
	FILE *f;
	char tmp[] = "/tmp/sluice-report.XXXXXX";

	rc = rollout_strip_socket(&argc, argv);
	if (rc)
		return rc;
	for (a = 0; a < argc; a++) {
		if (!strcmp(argv[a], "-o") && a + 1 < argc)
			out = argv[++a];
		else if (!strcmp(argv[a], "--png"))
			png = true;
		else if (argv[a][0] == '-')
			return usage_err("report: unknown option '%s'", argv[a]);
		else if (!service)
			service = argv[a];
		else if (!id_arg)
			id_arg = argv[a];
		else
			return usage_err("usage: %s report SERVICE [ROLLOUT] [-o FILE] [--png]", cli.prog);
	}
	if (!service)
		return usage_err("usage: %s report SERVICE [ROLLOUT] [-o FILE] [--png]", cli.prog);
	if (id_arg) {
		char *end;

		id = strtoll(id_arg, &end, 10);
		if (*end || id <= 0)
			return usage_err("report: ROLLOUT '%s' is not a rollout id (a number from "
					 "`sluice rollout history`)", id_arg);
	}
	if (out && strlen(out) > 4 && !strcmp(out + strlen(out) - 4, ".png"))
		png = true;
	if (png && !out)
		return usage_err("report: a PNG needs -o FILE");
	req = rollout_request("history", service);
	json_object_del(req, "who");
	json_object_set_new(req, "limit", json_integer(SLUICE_CTL_HISTORY_MAX));
	rc = rollout_call(req, &rep);
	if (rc)
		return rc;
	all = json_object_get(rep, "events");
	json_array_foreach(all, i, e)
		if (!id_arg && jnum(e, "rollout_id") > id)
			id = jnum(e, "rollout_id");
	ev = json_array();
	json_array_foreach(all, i, e)
		if (jnum(e, "rollout_id") == id)
			json_array_append(ev, e);
	json_decref(rep);
	if (!json_array_size(ev)) {
		json_decref(ev);
		if (id_arg)
			pr_error("%s: no events of rollout %lld", service, (long long)id);
		else
			pr_error("%s: no rollout in sluiced's history", service);
		return EXIT_ERR;
	}
	gates = gates_of(service, id);
	if (png) {
		int fd = mkstemp(tmp);

		f = fd < 0 ? NULL : fdopen(fd, "w");
	} else {
		f = out ? fopen(out, "w") : stdout;
	}
	if (!f) {
		pr_error("report: cannot write %s: %s", png ? tmp : out, strerror(errno));
		rc = EXIT_ERR;
		goto done;
	}
	rc = write_svg(f, service, id, ev, gates);
	if (f != stdout && fclose(f) && !rc)
		rc = -errno;
	if (rc) {
		pr_error("report: writing the SVG: %s", strerror(-rc));
		rc = EXIT_ERR;
	} else if (png) {
		rc = to_png(tmp, out);
		if (rc == -ENOENT)
			pr_error("report: PNG needs rsvg-convert (Debian: librsvg2-bin)");
		else if (rc)
			pr_error("report: rsvg-convert failed on the SVG");
		rc = rc ? EXIT_ERR : EXIT_OK;
	}
	if (png)
		unlink(tmp);
	if (!rc && out)
		pr_text("%s\n", out);
done:
	json_decref(gates);
	json_decref(ev);
	return rc;
}
