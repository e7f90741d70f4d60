// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* /metrics: snapshots and their Prometheus text exposition. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "sluice.h"
#include "metrics.h"

const char *const metrics_rollout_states[] = {
	"pending", "progressing", "paused", "promoted", "rolled_back", "aborted", NULL,
};

static const char *const verdict_names[MV_N] = {
	[MV_NONE] = "none", [MV_PASS] = "pass", [MV_FAIL] = "fail",
	[MV_INCONCLUSIVE] = "inconclusive", [MV_ERROR] = "error",
};

static const char *const variant_names[SLUICE_VARIANTS] = { "baseline", "canary" };

struct metrics_snapshot *metrics_snapshot_new(unsigned int cap)
{
	struct metrics_snapshot *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->svc = calloc(cap ? cap : 1, sizeof(*m->svc));
	if (!m->svc) {
		free(m);
		return NULL;
	}
	m->cap = cap;
	return m;
}

void metrics_snapshot_free(struct metrics_snapshot *m)
{
	if (!m)
		return;
	free(m->text);
	free(m->svc);
	free(m->status);
	free(m->be);
	free(m->vip);
	free(m);
}

/* Append a zeroed element to a growing array; NULL out of memory. */
static void *grow_add(void **arr, unsigned int *n, unsigned int *cap, size_t size)
{
	char *p;

	if (*n == *cap) {
		unsigned int c = *cap ? *cap * 2 : 64;

		p = realloc(*arr, c * size);
		if (!p)
			return NULL;
		*arr = p;
		*cap = c;
	}
	p = (char *)*arr + (size_t)(*n)++ * size;
	memset(p, 0, size);
	return p;
}

struct metrics_backend *metrics_snapshot_add_backend(struct metrics_snapshot *m)
{
	return grow_add((void **)&m->be, &m->nbe, &m->be_cap, sizeof(*m->be));
}

struct metrics_vip *metrics_snapshot_add_vip(struct metrics_snapshot *m)
{
	return grow_add((void **)&m->vip, &m->nvip, &m->vip_cap, sizeof(*m->vip));
}

struct metrics_service *metrics_snapshot_add(struct metrics_snapshot *m,
					     const char *name)
{
	struct metrics_service *s;

	if (m->nsvc >= m->cap)
		return NULL;
	s = &m->svc[m->nsvc++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->ro.step = -1;
	return s;
}

void metrics_hist_from_lat(const uint64_t *lat, struct metrics_hist *h)
{
	unsigned int i, j;
	double lo, hi;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < SLUICE_LAT_BUCKETS; i++) {
		if (!lat[i])
			continue;
		sluice_lat_bucket_range(i, &lo, &hi);
		h->count += lat[i];
		h->sum_s += lat[i] * (lo + hi) / 2 / 1e6;
		for (j = 0; j < METRICS_LE_N; j++)
			if (hi <= (double)(1ull << (METRICS_LE_MIN_EXP + j)))
				h->le[j] += lat[i];
	}
}

/* ---- text format ------------------------------------------------------- */

/*
 * The text is built in one growing buffer with plain copies (a scrape of
 * 1,000 services is ~85,000 lines: stdio calls per character and a
 * printf per line cost most of the time), with each service's
 * `{service="..."` label escaped once per render.
 */
struct mb {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool mb_room(struct mb *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n <= b->cap)
		return true;
	if (b->oom)
		return false;
	cap = b->cap ? b->cap : 1 << 16;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void mb_put(struct mb *b, const char *s, size_t n)
{
	if (!mb_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void mb_puts(struct mb *b, const char *s)
{
	mb_put(b, s, strlen(s));
}

static void mb_putc(struct mb *b, char c)
{
	if (mb_room(b, 1))
		b->p[b->len++] = c;
}

static void mb_u64(struct mb *b, uint64_t v)
{
	char t[24];
	int i = sizeof(t);

	do {
		t[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	mb_put(b, t + i, sizeof(t) - i);
}

static void mb_printf(struct mb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void mb_printf(struct mb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !mb_room(b, n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/* A label value, escaped (\\, \", \n) into out. */
static void label_value(struct mb *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"') {
			mb_putc(b, '\\');
			mb_putc(b, *v);
		} else if (*v == '\n') {
			mb_put(b, "\\n", 2);
		} else {
			mb_putc(b, *v);
		}
	}
}

static void num(struct mb *b, double d)
{
	if (isnan(d))
		mb_puts(b, "NaN");
	else if (isinf(d))
		mb_puts(b, d > 0 ? "+Inf" : "-Inf");
	else if (d == (double)(int64_t)d && fabs(d) < 1e15) {
		if (d < 0)
			mb_putc(b, '-');
		mb_u64(b, (uint64_t)(d < 0 ? -(int64_t)d : (int64_t)d));
	} else
		mb_printf(b, "%.17g", d);
}

static void family(struct mb *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Each service's `{service="..."` (escaped), built once per render. */
struct labels {
	char *text;
	size_t *off, *len;
};

static int labels_build(const struct metrics_snapshot *m, struct labels *l)
{
	struct mb b = { 0 };
	unsigned int i;

	l->off = calloc(m->nsvc + 1, sizeof(*l->off));
	l->len = calloc(m->nsvc + 1, sizeof(*l->len));
	for (i = 0; i < m->nsvc && l->off && l->len; i++) {
		l->off[i] = b.len;
		mb_puts(&b, "{service=\"");
		label_value(&b, m->svc[i].name);
		mb_putc(&b, '"');
		l->len[i] = b.len - l->off[i];
	}
	l->text = b.p;
	if (!l->off || !l->len || b.oom) {
		free(l->off);
		free(l->len);
		free(b.p);
		return -ENOMEM;
	}
	return 0;
}

static void labels_free(struct labels *l)
{
	free(l->off);
	free(l->len);
	free(l->text);
}

struct out {
	struct mb b;
	struct labels l;
	const struct metrics_snapshot *m;
};

/* name{service="..."[,extra]} and the space before the value */
static void series(struct out *o, const char *name, unsigned int svc, const char *extra)
{
	struct mb *b = &o->b;

	mb_puts(b, name);
	mb_put(b, o->l.text ? o->l.text + o->l.off[svc] : "{", o->l.text ? o->l.len[svc] : 1);
	if (extra && *extra) {
		mb_putc(b, ',');
		mb_puts(b, extra);
	}
	mb_put(b, "} ", 2);
}

static const struct {
	const char *name, *help;
	size_t off;
} flow_counters[] = {
	{ "sluice_packets_total", "Packets forwarded to a backend.",
	  offsetof(struct sluice_flow_stats, packets) },
	{ "sluice_bytes_total", "Bytes forwarded to a backend (as received).",
	  offsetof(struct sluice_flow_stats, bytes) },
	{ "sluice_new_flows_total", "New flows decided by the weights.",
	  offsetof(struct sluice_flow_stats, new_flows) },
	{ "sluice_syn_retransmits_total", "SYNs seen again on a flow with an entry.",
	  offsetof(struct sluice_flow_stats, syn_retrans) },
	{ "sluice_client_resets_total", "TCP resets sent by clients.",
	  offsetof(struct sluice_flow_stats, client_rst) },
	{ "sluice_backend_resets_total", "TCP resets sent by backends (nat mode).",
	  offsetof(struct sluice_flow_stats, backend_rst) },
	{ "sluice_handshake_timeouts_total",
	  "Handshakes not complete 750 ms after the first SYN (nat mode).",
	  offsetof(struct sluice_flow_stats, hs_timeout) },
	{ "sluice_flows_redecided_total", "Live flows re-decided by revert --reset.",
	  offsetof(struct sluice_flow_stats, reset_moves) },
};

static void render_flows(struct out *o)
{
	const struct metrics_snapshot *m = o->m;
	char extra[SLUICE_VARIANTS][SLUICE_MAX_RINGS][160];
	unsigned int k, i, v, r;

	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			snprintf(extra[v][r], sizeof(extra[v][r]), "variant=\"%s\",ring=\"%s\"",
				 variant_names[v], m->ring[r]);
	for (k = 0; k < sizeof(flow_counters) / sizeof(flow_counters[0]); k++) {
		family(&o->b, flow_counters[k].name, "counter", flow_counters[k].help);
		for (i = 0; i < m->nsvc; i++)
			for (v = 0; v < SLUICE_VARIANTS; v++)
				for (r = 0; r < SLUICE_MAX_RINGS; r++) {
					const char *c = (const char *)&m->svc[i].fs[v][r];

					if (!m->ring[r][0])
						continue;
					series(o, flow_counters[k].name, i, extra[v][r]);
					mb_u64(&o->b, *(const uint64_t *)(c + flow_counters[k].off));
					mb_putc(&o->b, '\n');
				}
	}
}

static void render_hist(struct out *o)
{
	const struct metrics_snapshot *m = o->m;
	char le[SLUICE_VARIANTS][METRICS_LE_N + 1][64], var[SLUICE_VARIANTS][32];
	unsigned int i, v, j;

	for (v = 0; v < SLUICE_VARIANTS; v++) {
		for (j = 0; j < METRICS_LE_N; j++)
			snprintf(le[v][j], sizeof(le[v][j]), "variant=\"%s\",le=\"%.6g\"",
				 variant_names[v],
				 (double)(1ull << (METRICS_LE_MIN_EXP + j)) / 1e6);
		snprintf(le[v][METRICS_LE_N], sizeof(le[v][0]), "variant=\"%s\",le=\"+Inf\"",
			 variant_names[v]);
		snprintf(var[v], sizeof(var[v]), "variant=\"%s\"", variant_names[v]);
	}
	family(&o->b, "sluice_handshake_duration_seconds", "histogram",
	       "SYN to SYN-ACK latency through the node (nat mode).");
	for (i = 0; i < m->nsvc; i++) {
		if (!m->svc[i].has_hist)
			continue;
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			const struct metrics_hist *h = &m->svc[i].hist[v];

			for (j = 0; j <= METRICS_LE_N; j++) {
				series(o, "sluice_handshake_duration_seconds_bucket", i, le[v][j]);
				mb_u64(&o->b, j < METRICS_LE_N ? h->le[j] : h->count);
				mb_putc(&o->b, '\n');
			}
			series(o, "sluice_handshake_duration_seconds_sum", i, var[v]);
			num(&o->b, h->sum_s);
			mb_putc(&o->b, '\n');
			series(o, "sluice_handshake_duration_seconds_count", i, var[v]);
			mb_u64(&o->b, h->count);
			mb_putc(&o->b, '\n');
		}
	}
}

static void render_events(struct out *o)
{
	int ev;

	family(&o->b, "sluice_datapath_events_total", "counter",
	       "Datapath decisions and anomalies by event (see sluice stats).");
	for (ev = 0; ev < SLUICE_EV_MAX; ev++)
		mb_printf(&o->b, "sluice_datapath_events_total{event=\"%s\"} %llu\n",
			  sluice_event_name(ev), (unsigned long long)o->m->events[ev]);
}

static void gate_label(char *buf, size_t len, const char *gate, const char *more)
{
	size_t o = 0;
	const char *p;

	o += snprintf(buf, len, "gate=\"");
	for (p = gate; *p && o + 3 < len; p++) {
		if (*p == '\\' || *p == '"')
			buf[o++] = '\\';
		buf[o++] = *p == '\n' ? ' ' : *p;
	}
	snprintf(buf + o, len - o, "\"%s%s", more ? "," : "", more ? more : "");
}

static void line_end(struct out *o, double v)
{
	num(&o->b, v);
	mb_putc(&o->b, '\n');
}

static void render_rollouts(struct out *o)
{
	const struct metrics_snapshot *m = o->m;
	struct mb *b = &o->b;
	char extra[256], more[64];
	unsigned int i, g, r, k, v;

	family(b, "sluiced_metrics_snapshots_total", "counter",
	       "Snapshots of the maps sluiced built for /metrics and the status page (one per scrape at most a second apart, one a second while the page is open).");
	mb_printf(b, "sluiced_metrics_snapshots_total %llu\n", (unsigned long long)m->builds);
	family(b, "sluice_frozen", "gauge", "1 while the global incident freeze holds.");
	mb_printf(b, "sluice_frozen %d\n", m->frozen ? 1 : 0);
	family(b, "sluice_service_frozen", "gauge",
	       "1 while the service is frozen (its error budget is exhausted).");
	for (i = 0; i < m->nsvc; i++) {
		series(o, "sluice_service_frozen", i, NULL);
		line_end(o, m->svc[i].frozen ? 1 : 0);
	}
	family(b, "sluice_error_budget_remaining_ratio", "gauge",
	       "Error budget left over the SLO window (1 untouched, <= 0 exhausted).");
	for (i = 0; i < m->nsvc; i++)
		if (m->svc[i].has_budget) {
			series(o, "sluice_error_budget_remaining_ratio", i, NULL);
			line_end(o, m->svc[i].budget_remaining);
		}
	family(b, "sluice_rollout_state", "gauge", "1 for the rollout's current state.");
	for (i = 0; i < m->nsvc; i++) {
		const struct metrics_rollout *ro = &m->svc[i].ro;

		if (!ro->present)
			continue;
		for (k = 0; metrics_rollout_states[k]; k++) {
			snprintf(extra, sizeof(extra), "state=\"%s\"", metrics_rollout_states[k]);
			series(o, "sluice_rollout_state", i, extra);
			line_end(o, ro->state && !strcmp(ro->state, metrics_rollout_states[k]));
		}
	}
	family(b, "sluice_rollout_step", "gauge", "Current step of the plan (0-based).");
	for (i = 0; i < m->nsvc; i++)
		if (m->svc[i].ro.present) {
			series(o, "sluice_rollout_step", i, NULL);
			line_end(o, m->svc[i].ro.step);
		}
	family(b, "sluice_rollout_canary_weight_ratio", "gauge",
	       "Share of new flows sent to the canary, per ring (0..1).");
	for (i = 0; i < m->nsvc; i++)
		for (r = 0; m->svc[i].ro.present && r < SLUICE_MAX_RINGS; r++) {
			if (!m->ring[r][0])
				continue;
			snprintf(extra, sizeof(extra), "ring=\"%s\"", m->ring[r]);
			series(o, "sluice_rollout_canary_weight_ratio", i, extra);
			line_end(o, m->svc[i].ro.weight[r] / 10000.0);
		}
	family(b, "sluice_gate_verdict", "gauge", "1 for each gate's last verdict.");
	for (i = 0; i < m->nsvc; i++)
		for (g = 0; m->svc[i].ro.present && g < m->svc[i].ro.ngates; g++)
			for (k = 0; k < MV_N; k++) {
				const struct metrics_gate *gt = &m->svc[i].ro.gate[g];

				snprintf(more, sizeof(more), "verdict=\"%s\"", verdict_names[k]);
				gate_label(extra, sizeof(extra), gt->name, more);
				series(o, "sluice_gate_verdict", i, extra);
				line_end(o, gt->verdict == k);
			}
	family(b, "sluice_gate_value", "gauge", "Each gate's last measured value per variant.");
	for (i = 0; i < m->nsvc; i++)
		for (g = 0; m->svc[i].ro.present && g < m->svc[i].ro.ngates; g++)
			for (v = 0; v < SLUICE_VARIANTS; v++) {
				const struct metrics_gate *gt = &m->svc[i].ro.gate[g];

				if (!gt->has_value[v])
					continue;
				snprintf(more, sizeof(more), "variant=\"%s\"", variant_names[v]);
				gate_label(extra, sizeof(extra), gt->name, more);
				series(o, "sluice_gate_value", i, extra);
				line_end(o, gt->value[v]);
			}
	family(b, "sluice_error_budget_burn_rate", "gauge",
	       "The canary's error-budget burn rate per window (1 = on budget).");
	for (i = 0; i < m->nsvc; i++)
		for (k = 0; m->svc[i].ro.present && k < m->svc[i].ro.nburn; k++) {
			snprintf(extra, sizeof(extra), "window=\"%s\"",
				 m->svc[i].ro.burn[k].window);
			series(o, "sluice_error_budget_burn_rate", i, extra);
			line_end(o, m->svc[i].ro.burn[k].burn);
		}
}

/* Health checks: one series per checked backend and family. */
enum { BE_UP, BE_FLAPPING, BE_TRANSITIONS, BE_CHECKS, BE_FAILURES, BE_LAST };

/* name{service="...",extra} for a series keyed by a service name */
static void series_named(struct mb *b, const char *name, const char *svc, const char *extra)
{
	mb_puts(b, name);
	mb_puts(b, "{service=\"");
	label_value(b, svc);
	mb_putc(b, '"');
	if (extra && *extra) {
		mb_putc(b, ',');
		mb_puts(b, extra);
	}
	mb_put(b, "} ", 2);
}

static void render_health(struct out *o)
{
	const struct metrics_snapshot *m = o->m;
	struct mb *f = &o->b;

	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "sluice_backend_up", "gauge",
		  "1 while the backend's health check says up, 0 down (out of its pool's table)." },
		{ "sluice_backend_flapping", "gauge",
		  "1 while the backend's health is flapping (many transitions in a short window)." },
		{ "sluice_backend_health_transitions_total", "counter",
		  "Health transitions (down or up, after fall/rise) since the check began." },
		{ "sluice_backend_health_checks_total", "counter", "Health probes completed." },
		{ "sluice_backend_health_check_failures_total", "counter", "Health probes that failed." },
		{ "sluice_backend_health_check_duration_seconds", "gauge",
		  "Duration of the latest health probe." },
	};
	char extra[192];
	unsigned int k, i;

	for (k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		family(f, fam[k].name, fam[k].type, fam[k].help);
		for (i = 0; i < m->nbe; i++) {
			const struct metrics_backend *b = &m->be[i];

			if (k == BE_LAST && !b->has_last)
				continue;
			snprintf(extra, sizeof(extra),
				 "variant=\"%s\",address=\"%s\",port=\"%u\",check=\"%s\"",
				 variant_names[b->variant & 1], b->address, b->port,
				 b->check ? b->check : "");
			series_named(f, fam[k].name, b->service, extra);
			switch (k) {
			case BE_UP:
				mb_printf(f, "%d\n", !b->down);
				break;
			case BE_FLAPPING:
				mb_printf(f, "%d\n", b->flapping);
				break;
			case BE_TRANSITIONS:
				mb_u64(f, b->transitions);
				mb_putc(f, '\n');
				break;
			case BE_CHECKS:
				mb_u64(f, b->checks);
				mb_putc(f, '\n');
				break;
			case BE_FAILURES:
				mb_u64(f, b->failures);
				mb_putc(f, '\n');
				break;
			default:
				num(f, b->last_s);
				mb_putc(f, '\n');
			}
		}
	}
}

static void render_vips(struct out *o)
{
	const struct metrics_snapshot *m = o->m;
	struct mb *f = &o->b;
	char extra[192];
	unsigned int i;

	if (!m->nvip)
		return;
	family(f, "sluice_vip_announced", "gauge",
	       "1 while the VIP's route is in sluice's routing table (the routing daemon announces it), 0 withdrawn; reason says why.");
	for (i = 0; i < m->nvip; i++) {
		const struct metrics_vip *v = &m->vip[i];

		snprintf(extra, sizeof(extra), "vip=\"%s\",reason=\"%s\"", v->vip,
			 v->why ? v->why : "");
		series_named(f, "sluice_vip_announced", v->service, extra);
		mb_printf(f, "%d\n", v->announced);
	}
}

int metrics_render_text(const struct metrics_snapshot *m, char **text, size_t *len)
{
	/* the last text's size: one allocation instead of a chain of
	 * reallocs (a hint only, racing renders just guess worse) */
	static size_t hint;
	struct out o = { .m = m };

	*text = NULL;
	*len = 0;
	if (labels_build(m, &o.l))
		return -ENOMEM;
	mb_room(&o.b, hint + hint / 8);
	render_flows(&o);
	render_hist(&o);
	render_events(&o);
	render_rollouts(&o);
	render_health(&o);
	render_vips(&o);
	labels_free(&o.l);
	if (o.b.oom) {
		free(o.b.p);
		return -ENOMEM;
	}
	hint = o.b.len;
	*text = o.b.p;
	*len = o.b.len;
	return 0;
}

int metrics_render(const struct metrics_snapshot *m, FILE *f)
{
	char *text;
	size_t len;
	int err = metrics_render_text(m, &text, &len);

	if (err)
		return err;
	if (len && fwrite(text, 1, len, f) != len)
		err = -EIO;
	free(text);
	return err ? err : ferror(f) ? -EIO : 0;
}
