// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* /metrics: snapshots and their Prometheus text exposition. */
#include <errno.h>
#include <math.h>
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
	free(m->svc);
	free(m->status);
	free(m->be);
	free(m);
}

struct metrics_backend *metrics_snapshot_add_backend(struct metrics_snapshot *m)
{
	struct metrics_backend *b;

	if (m->nbe == m->be_cap) {
		unsigned int cap = m->be_cap ? m->be_cap * 2 : 64;

		b = realloc(m->be, cap * sizeof(*b));
		if (!b)
			return NULL;
		m->be = b;
		m->be_cap = cap;
	}
	b = &m->be[m->nbe++];
	memset(b, 0, sizeof(*b));
	return b;
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

static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f), fputc(*v, f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void num(FILE *f, double d)
{
	if (isnan(d))
		fputs("NaN", f);
	else if (isinf(d))
		fputs(d > 0 ? "+Inf" : "-Inf", f);
	else if (d == (double)(int64_t)d && fabs(d) < 1e15)
		fprintf(f, "%lld", (long long)d);
	else
		fprintf(f, "%.17g", d);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{service="..."[,extra]} */
static void series(FILE *f, const char *name, const char *svc, const char *extra)
{
	fputs(name, f);
	fputs("{service=\"", f);
	label_value(f, svc);
	fputc('"', f);
	if (extra && *extra) {
		fputc(',', f);
		fputs(extra, f);
	}
	fputs("} ", f);
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

static void render_flows(const struct metrics_snapshot *m, FILE *f)
{
	char extra[160];
	unsigned int k, i, v, r;

	for (k = 0; k < sizeof(flow_counters) / sizeof(flow_counters[0]); k++) {
		family(f, flow_counters[k].name, "counter", flow_counters[k].help);
		for (i = 0; i < m->nsvc; i++)
			for (v = 0; v < SLUICE_VARIANTS; v++)
				for (r = 0; r < SLUICE_MAX_RINGS; r++) {
					const char *c = (const char *)&m->svc[i].fs[v][r];

					if (!m->ring[r][0])
						continue;
					snprintf(extra, sizeof(extra),
						 "variant=\"%s\",ring=\"%s\"",
						 variant_names[v], m->ring[r]);
					series(f, flow_counters[k].name, m->svc[i].name, extra);
					fprintf(f, "%llu\n", (unsigned long long)
						*(const uint64_t *)(c + flow_counters[k].off));
				}
	}
}

static void render_hist(const struct metrics_snapshot *m, FILE *f)
{
	const char *n = "sluice_handshake_duration_seconds";
	char extra[96];
	unsigned int i, v, j;

	family(f, n, "histogram", "SYN to SYN-ACK latency through the node (nat mode).");
	for (i = 0; i < m->nsvc; i++) {
		if (!m->svc[i].has_hist)
			continue;
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			const struct metrics_hist *h = &m->svc[i].hist[v];

			for (j = 0; j < METRICS_LE_N; j++) {
				snprintf(extra, sizeof(extra), "variant=\"%s\",le=\"%.6g\"",
					 variant_names[v],
					 (double)(1ull << (METRICS_LE_MIN_EXP + j)) / 1e6);
				series(f, "sluice_handshake_duration_seconds_bucket",
				       m->svc[i].name, extra);
				fprintf(f, "%llu\n", (unsigned long long)h->le[j]);
			}
			snprintf(extra, sizeof(extra), "variant=\"%s\",le=\"+Inf\"",
				 variant_names[v]);
			series(f, "sluice_handshake_duration_seconds_bucket",
			       m->svc[i].name, extra);
			fprintf(f, "%llu\n", (unsigned long long)h->count);
			snprintf(extra, sizeof(extra), "variant=\"%s\"", variant_names[v]);
			series(f, "sluice_handshake_duration_seconds_sum", m->svc[i].name, extra);
			num(f, h->sum_s);
			fputc('\n', f);
			series(f, "sluice_handshake_duration_seconds_count", m->svc[i].name,
			       extra);
			fprintf(f, "%llu\n", (unsigned long long)h->count);
		}
	}
}

static void render_events(const struct metrics_snapshot *m, FILE *f)
{
	int ev;

	family(f, "sluice_datapath_events_total", "counter",
	       "Datapath decisions and anomalies by event (see sluice stats).");
	for (ev = 0; ev < SLUICE_EV_MAX; ev++)
		fprintf(f, "sluice_datapath_events_total{event=\"%s\"} %llu\n",
			sluice_event_name(ev), (unsigned long long)m->events[ev]);
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

static void render_rollouts(const struct metrics_snapshot *m, FILE *f)
{
	char extra[256], more[64];
	unsigned int i, g, r, k, v;

	family(f, "sluice_frozen", "gauge", "1 while the global incident freeze holds.");
	fprintf(f, "sluice_frozen %d\n", m->frozen ? 1 : 0);
	family(f, "sluice_service_frozen", "gauge",
	       "1 while the service is frozen (its error budget is exhausted).");
	for (i = 0; i < m->nsvc; i++) {
		series(f, "sluice_service_frozen", m->svc[i].name, NULL);
		fprintf(f, "%d\n", m->svc[i].frozen ? 1 : 0);
	}
	family(f, "sluice_error_budget_remaining_ratio", "gauge",
	       "Error budget left over the SLO window (1 untouched, <= 0 exhausted).");
	for (i = 0; i < m->nsvc; i++)
		if (m->svc[i].has_budget) {
			series(f, "sluice_error_budget_remaining_ratio", m->svc[i].name, NULL);
			num(f, m->svc[i].budget_remaining);
			fputc('\n', f);
		}
	family(f, "sluice_rollout_state", "gauge", "1 for the rollout's current state.");
	for (i = 0; i < m->nsvc; i++) {
		const struct metrics_rollout *ro = &m->svc[i].ro;

		if (!ro->present)
			continue;
		for (k = 0; metrics_rollout_states[k]; k++) {
			snprintf(extra, sizeof(extra), "state=\"%s\"", metrics_rollout_states[k]);
			series(f, "sluice_rollout_state", m->svc[i].name, extra);
			fprintf(f, "%d\n", ro->state && !strcmp(ro->state,
						       metrics_rollout_states[k]));
		}
	}
	family(f, "sluice_rollout_step", "gauge", "Current step of the plan (0-based).");
	for (i = 0; i < m->nsvc; i++)
		if (m->svc[i].ro.present) {
			series(f, "sluice_rollout_step", m->svc[i].name, NULL);
			fprintf(f, "%d\n", m->svc[i].ro.step);
		}
	family(f, "sluice_rollout_canary_weight_ratio", "gauge",
	       "Share of new flows sent to the canary, per ring (0..1).");
	for (i = 0; i < m->nsvc; i++)
		for (r = 0; m->svc[i].ro.present && r < SLUICE_MAX_RINGS; r++) {
			if (!m->ring[r][0])
				continue;
			snprintf(extra, sizeof(extra), "ring=\"%s\"", m->ring[r]);
			series(f, "sluice_rollout_canary_weight_ratio", m->svc[i].name, extra);
			num(f, m->svc[i].ro.weight[r] / 10000.0);
			fputc('\n', f);
		}
	family(f, "sluice_gate_verdict", "gauge", "1 for each gate's last verdict.");
	for (i = 0; i < m->nsvc; i++)
		for (g = 0; m->svc[i].ro.present && g < m->svc[i].ro.ngates; g++)
			for (k = 0; k < MV_N; k++) {
				const struct metrics_gate *gt = &m->svc[i].ro.gate[g];

				snprintf(more, sizeof(more), "verdict=\"%s\"", verdict_names[k]);
				gate_label(extra, sizeof(extra), gt->name, more);
				series(f, "sluice_gate_verdict", m->svc[i].name, extra);
				fprintf(f, "%d\n", gt->verdict == k);
			}
	family(f, "sluice_gate_value", "gauge", "Each gate's last measured value per variant.");
	for (i = 0; i < m->nsvc; i++)
		for (g = 0; m->svc[i].ro.present && g < m->svc[i].ro.ngates; g++)
			for (v = 0; v < SLUICE_VARIANTS; v++) {
				const struct metrics_gate *gt = &m->svc[i].ro.gate[g];

				if (!gt->has_value[v])
					continue;
				snprintf(more, sizeof(more), "variant=\"%s\"", variant_names[v]);
				gate_label(extra, sizeof(extra), gt->name, more);
				series(f, "sluice_gate_value", m->svc[i].name, extra);
				num(f, gt->value[v]);
				fputc('\n', f);
			}
	family(f, "sluice_error_budget_burn_rate", "gauge",
	       "The canary's error-budget burn rate per window (1 = on budget).");
	for (i = 0; i < m->nsvc; i++)
		for (k = 0; m->svc[i].ro.present && k < m->svc[i].ro.nburn; k++) {
			snprintf(extra, sizeof(extra), "window=\"%s\"",
				 m->svc[i].ro.burn[k].window);
			series(f, "sluice_error_budget_burn_rate", m->svc[i].name, extra);
			num(f, m->svc[i].ro.burn[k].burn);
			fputc('\n', f);
		}
}

/* Health checks: one series per checked backend and family. */
enum { BE_UP, BE_FLAPPING, BE_TRANSITIONS, BE_CHECKS, BE_FAILURES, BE_LAST };

static void render_health(const struct metrics_snapshot *m, FILE *f)
{
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
			series(f, fam[k].name, b->service, extra);
			switch (k) {
			case BE_UP:
				fprintf(f, "%d\n", !b->down);
				break;
			case BE_FLAPPING:
				fprintf(f, "%d\n", b->flapping);
				break;
			case BE_TRANSITIONS:
				fprintf(f, "%llu\n", (unsigned long long)b->transitions);
				break;
			case BE_CHECKS:
				fprintf(f, "%llu\n", (unsigned long long)b->checks);
				break;
			case BE_FAILURES:
				fprintf(f, "%llu\n", (unsigned long long)b->failures);
				break;
			default:
				num(f, b->last_s);
				fputc('\n', f);
			}
		}
	}
}

int metrics_render(const struct metrics_snapshot *m, FILE *f)
{
	render_flows(m, f);
	render_hist(m, f);
	render_events(m, f);
	render_rollouts(m, f);
	render_health(m, f);
	return ferror(f) ? -EIO : 0;
}
