// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The status page's document (/api/status): built on the loop's thread
 * with the /metrics snapshot of the tick, serialised once, and published
 * with it. The HTTP thread only hands the string out, so neither a slow
 * browser nor a burst of polls can hold up the engine. Every snapshot
 * updates the rates and the weight's recent changes (a few numbers a
 * service); the JSON itself is built only while someone polls.
 *
 * Every string here (service, plan, gate names, reasons, audit texts) is
 * data: jansson escapes it for JSON, and the page puts it in the DOM as
 * text, never as markup.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sluiced.h"
#include "metrics.h"

/* The last transitions per rollout, out of the last STATUS_SCAN events:
 * gate evaluations (one a second per gate while traffic flows) would hide
 * them, and the gates' table shows the latest one anyway. */
#define STATUS_EVENTS	8
#define STATUS_SCAN	64
/* The document is rebuilt no more often than this many times its own
 * cost (it is 25 us a service): 4096 services cost ~100 ms, so their
 * page refreshes every 2 s, and the loop keeps its 100 ms tick. */
#define STATUS_COST_SHARE	20

static const char *mode_name(unsigned int m)
{
	return m == SLUICE_MODE_IPIP ? "ipip" : m == SLUICE_MODE_NAT ? "nat" : "dsr";
}

/* The datapath's counters of one variant, summed over configured rings.
 * "errors" are the mode's default bad events (as the gates count them,
 * less the handshake sweep's). */
static void variant_totals(const struct metrics_snapshot *m, const struct metrics_service *ms,
			   int v, struct sluice_flow_stats *t, __u64 *errors)
{
	unsigned int r;

	memset(t, 0, sizeof(*t));
	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		const struct sluice_flow_stats *f = &ms->fs[v][r];

		if (!m->ring[r][0])
			continue;
		t->packets += f->packets;
		t->bytes += f->bytes;
		t->new_flows += f->new_flows;
		t->client_rst += f->client_rst;
		t->backend_rst += f->backend_rst;
		t->hs_timeout += f->hs_timeout;
		t->syn_retrans += f->syn_retrans;
	}
	*errors = t->client_rst + (ms->mode == SLUICE_MODE_NAT ? t->backend_rst + t->hs_timeout
							       : t->syn_retrans);
}

/* A service's base sample and the rates measured against it: the base
 * moves on once STATUS_RATE_MS old, so the rates cover the last 2-3 s. */
#define STATUS_RATE_MS	2000
#define STATUS_RATE_STALE_MS	(3 * STATUS_RATE_MS)
/* The changes of the default ring's weight in the maps: the page's
 * sparkline (the last STATUS_WEIGHT_PTS within STATUS_WEIGHT_MS, and the
 * one before, the level the line starts at). */
#define STATUS_WEIGHT_PTS	16
#define STATUS_WEIGHT_MS	(30 * 60 * 1000)
struct status_rates {
	char name[METRICS_NAME];
	__u64 at_ms, flows[SLUICE_VARIANTS], errors[SLUICE_VARIANTS];
	bool has_rate;
	double flows_s[SLUICE_VARIANTS], ratio[SLUICE_VARIANTS];	/* NaN: none */
	unsigned int nw;
	struct {
		__u64 at_ms;
		__u16 bp;
	} w[STATUS_WEIGHT_PTS];
};

static void weight_point(struct status_rates *sr, __u16 bp, __u64 now)
{
	bool same = sr->nw && sr->w[sr->nw - 1].bp == bp;

	/* the oldest two both before the window, or full for a new point:
	 * drop the oldest */
	while ((sr->nw >= 2 && sr->w[1].at_ms + STATUS_WEIGHT_MS < now) ||
	       (!same && sr->nw == STATUS_WEIGHT_PTS)) {
		memmove(&sr->w[0], &sr->w[1], (sr->nw - 1) * sizeof(sr->w[0]));
		sr->nw--;
	}
	if (same)
		return;
	sr->w[sr->nw].at_ms = now;
	sr->w[sr->nw++].bp = bp;
}

static json_t *weight_history_json(const struct status_rates *sr)
{
	json_t *a = json_array();
	unsigned int i;

	for (i = 0; a && i < sr->nw; i++)
		json_array_append_new(a, json_pack("[I, i]", (json_int_t)sr->w[i].at_ms,
						   (int)sr->w[i].bp));
	return a;
}

static const struct status_rates *find_rates(const struct daemon *d, unsigned int i,
					     const char *name)
{
	unsigned int k;

	/* the services come in the same order tick after tick */
	if (i < d->nsrates && !strcmp(d->srates[i].name, name))
		return &d->srates[i];
	for (k = 0; k < d->nsrates; k++)
		if (!strcmp(d->srates[k].name, name))
			return &d->srates[k];
	return NULL;
}

static void update_rates(struct status_rates *sr, const struct status_rates *old,
			 const __u64 *flows, const __u64 *errors, __u64 now)
{
	bool reset = false;
	int v;

	if (old)
		memcpy(sr, old, sizeof(*sr));
	for (v = 0; v < SLUICE_VARIANTS && old; v++)
		reset |= flows[v] < old->flows[v] || errors[v] < old->errors[v];
	/* no counters read yet, or long ago (nobody watched: weights only
	 * were tracked): an average over the gap is no rate, start again */
	if (old && (!old->at_ms || now - old->at_ms > STATUS_RATE_STALE_MS))
		reset = true;
	if (old && !reset && now - old->at_ms < STATUS_RATE_MS)
		return;
	if (old && !reset && now > old->at_ms) {
		double dt = (now - old->at_ms) / 1000.0;

		for (v = 0; v < SLUICE_VARIANTS; v++) {
			__u64 df = flows[v] - old->flows[v];

			sr->flows_s[v] = df / dt;
			sr->ratio[v] = df ? (double)(errors[v] - old->errors[v]) / df : NAN;
		}
		sr->has_rate = true;
	} else if (reset) {
		sr->has_rate = false;	/* counters started again (service re-added) */
	}
	sr->at_ms = now;
	memcpy(sr->flows, flows, sizeof(sr->flows));
	memcpy(sr->errors, errors, sizeof(sr->errors));
}

static json_t *real_or_null(bool has, double v)
{
	return has && isfinite(v) ? json_real(v) : json_null();
}

static json_t *traffic_json(const struct metrics_snapshot *m, const struct metrics_service *ms,
			    const struct status_rates *sr)
{
	static const char *const names[] = { "baseline", "canary" };
	struct sluice_flow_stats t;
	json_t *o = json_object();
	__u64 errors;
	int v;

	for (v = 0; o && v < SLUICE_VARIANTS; v++) {
		variant_totals(m, ms, v, &t, &errors);
		json_object_set_new(o, names[v], json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			"packets", (json_int_t)t.packets, "bytes", (json_int_t)t.bytes,
			"new_flows", (json_int_t)t.new_flows,
			"client_resets", (json_int_t)t.client_rst,
			"backend_resets", (json_int_t)t.backend_rst,
			"handshake_timeouts", (json_int_t)t.hs_timeout,
			"syn_retransmits", (json_int_t)t.syn_retrans,
			"errors", (json_int_t)errors,
			"new_flows_per_s", real_or_null(sr && sr->has_rate, sr ? sr->flows_s[v] : 0),
			"error_ratio", real_or_null(sr && sr->has_rate, sr ? sr->ratio[v] : 0)));
	}
	return o;
}

/* Weights per configured ring: [{"ring": name, "weight": bp}]. */
static json_t *weights_json(const struct metrics_snapshot *m, const uint16_t *w)
{
	json_t *a = json_array();
	unsigned int r;

	for (r = 0; a && r < SLUICE_MAX_RINGS; r++)
		if (m->ring[r][0])
			json_array_append_new(a, json_pack("{s:s, s:i}", "ring", m->ring[r],
							   "weight", (int)w[r]));
	return a;
}

static json_t *transitions_json(struct daemon *d, const char *service)
{
	json_t *all = ro_history_json(d, service, STATUS_SCAN), *out = json_array(), *e;
	size_t i;

	if (!all || !out) {
		json_decref(all);
		return out;
	}
	json_array_foreach(all, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));

		if (!type || strcmp(type, "gate"))
			json_array_append(out, e);
	}
	while (json_array_size(out) > STATUS_EVENTS)
		json_array_remove(out, 0);
	json_decref(all);
	return out;
}

static json_t *service_json(struct daemon *d, const struct metrics_snapshot *m,
			    const struct metrics_service *ms, const struct status_rates *sr,
			    json_t *health)
{
	struct rollout *r = ro_find(d, ms->name);
	json_t *o, *ro = NULL, *ev = NULL, *h;

	o = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}",
		      "name", ms->name, "mode", mode_name(ms->mode), "frozen", ms->frozen,
		      "budget_remaining", real_or_null(ms->has_budget, ms->budget_remaining),
		      "weights", weights_json(m, ms->weight),
		      "traffic", traffic_json(m, ms, sr),
		      "weight_history", sr ? weight_history_json(sr) : json_array());
	if (!o)
		return NULL;
	if (r && r->st.phase != ENG_NONE) {
		ro = ro_status_json(d, r);
		if (ro) {
			/* weights by ring name, and the health once, for the service */
			json_object_set_new(ro, "weight", weights_json(m, r->st.want_weight));
			json_object_del(ro, "health");
		}
		ev = transitions_json(d, ms->name);
	}
	json_object_set_new(o, "rollout", ro ? ro : json_null());
	json_object_set_new(o, "events", ev ? ev : json_array());
	h = json_object_get(health, ms->name);
	json_object_set_new(o, "health", h ? json_incref(h) : json_array());
	return o;
}

/* Every checked backend once, grouped by service: {service: [...]} (one
 * pass, whatever the number of services). */
static json_t *health_by_service(struct daemon *d)
{
	json_t *all = health_json(d, NULL), *by = json_object(), *e;
	size_t i;

	json_array_foreach(all, i, e) {
		const char *svc = json_string_value(json_object_get(e, "service"));
		json_t *a;

		if (!svc || !by)
			continue;
		a = json_object_get(by, svc);
		if (!a) {
			a = json_array();
			json_object_set_new(by, svc, a);
		}
		json_array_append(a, e);
	}
	json_decref(all);
	return by;
}

/* counters false: m has names and weights only; the rates stay */
void status_track(struct daemon *d, const struct metrics_snapshot *m, __u64 now,
		  bool counters)
{
	struct status_rates *sr = calloc(m->nsvc ? m->nsvc : 1, sizeof(*sr));
	struct sluice_flow_stats t;
	unsigned int i;
	int v;

	if (!sr)
		return;
	for (i = 0; i < m->nsvc; i++) {
		const struct metrics_service *ms = &m->svc[i];
		const struct status_rates *old = find_rates(d, i, ms->name);
		__u64 flows[SLUICE_VARIANTS], errors[SLUICE_VARIANTS];

		if (!counters) {
			if (old)
				memcpy(&sr[i], old, sizeof(sr[i]));
		} else {
			for (v = 0; v < SLUICE_VARIANTS; v++) {
				variant_totals(m, ms, v, &t, &errors[v]);
				flows[v] = t.new_flows;
			}
			update_rates(&sr[i], old, flows, errors, now);
		}
		snprintf(sr[i].name, sizeof(sr[i].name), "%s", ms->name);
		weight_point(&sr[i], ms->weight[0], now);
	}
	free(d->srates);
	d->srates = sr;
	d->nsrates = m->nsvc;
}

char *status_doc(struct daemon *d, const struct metrics_snapshot *m, __u64 now)
{
	json_t *doc, *svcs, *rings, *health;
	unsigned int i;
	char *s;

	svcs = json_array();
	rings = json_array();
	health = health_by_service(d);
	for (i = 0; rings && i < SLUICE_MAX_RINGS; i++)
		if (m->ring[i][0])
			json_array_append_new(rings, json_string(m->ring[i]));
	for (i = 0; svcs && i < m->nsvc; i++) {
		json_t *o = service_json(d, m, &m->svc[i], find_rates(d, i, m->svc[i].name),
					 health);

		if (o)
			json_array_append_new(svcs, o);
	}
	json_decref(health);
	doc = json_pack("{s:i, s:I, s:i, s:o, s:o, s:o}", "version", 1, "now_ms", (json_int_t)now,
			"rate_window_ms", STATUS_RATE_MS, "freeze", ro_freeze_json(d),
			"rings", rings, "services", svcs);
	if (!doc)
		return NULL;
	s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(doc);
	return s;
}

static __u64 mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *status_doc_due(struct daemon *d, const struct metrics_snapshot *m, __u64 now)
{
	if (!d->status_last || now >= d->status_next_ms) {
		__u64 t0 = mono_us(), cost_ms;
		char *s = status_doc(d, m, now);

		cost_ms = (mono_us() - t0) / 1000;
		if (s) {
			free(d->status_last);
			d->status_last = s;
		}
		/* a document costs the loop at most ~5 % of its time */
		d->status_next_ms = now + STATUS_COST_SHARE * cost_ms;
	}
	return d->status_last ? strdup(d->status_last) : NULL;
}

void status_doc_idle(struct daemon *d)
{
	free(d->status_last);
	d->status_last = NULL;
}

void status_doc_free(struct daemon *d)
{
	status_doc_idle(d);
	free(d->srates);
	d->srates = NULL;
	d->nsrates = 0;
}
