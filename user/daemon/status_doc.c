// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The status page's document (/api/status): built on the loop's thread
 * with the /metrics snapshot of the tick, serialised once, and published
 * with it. The HTTP thread only hands the string out, so neither a slow
 * browser nor a burst of polls can hold up the engine.
 *
 * Every string here (service, plan, gate names, reasons, audit texts) is
 * data: jansson escapes it for JSON, and the page puts it in the DOM as
 * text, never as markup.
 */
#include <math.h>
#include <string.h>
#include "sluiced.h"
#include "metrics.h"

#define STATUS_EVENTS	8	/* last audit events per rollout */

static const char *mode_name(unsigned int m)
{
	return m == SLUICE_MODE_IPIP ? "ipip" : m == SLUICE_MODE_NAT ? "nat" : "dsr";
}

/* The datapath's counters of one variant, summed over rings: the page
 * turns two polls into rates. "errors" are the mode's default bad events
 * (as the gates count them, less the handshake sweep's). */
static json_t *traffic_json(const struct metrics_snapshot *m,
			    const struct metrics_service *ms, int v)
{
	struct sluice_flow_stats t = { 0 };
	__u64 errors;
	unsigned int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		const struct sluice_flow_stats *f = &ms->fs[v][r];

		if (!m->ring[r][0])
			continue;
		t.packets += f->packets;
		t.bytes += f->bytes;
		t.new_flows += f->new_flows;
		t.client_rst += f->client_rst;
		t.backend_rst += f->backend_rst;
		t.hs_timeout += f->hs_timeout;
		t.syn_retrans += f->syn_retrans;
	}
	errors = t.client_rst + (ms->mode == SLUICE_MODE_NAT ? t.backend_rst + t.hs_timeout
							     : t.syn_retrans);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "packets", (json_int_t)t.packets, "bytes", (json_int_t)t.bytes,
			 "new_flows", (json_int_t)t.new_flows,
			 "client_resets", (json_int_t)t.client_rst,
			 "backend_resets", (json_int_t)t.backend_rst,
			 "handshake_timeouts", (json_int_t)t.hs_timeout,
			 "syn_retransmits", (json_int_t)t.syn_retrans,
			 "errors", (json_int_t)errors);
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

static json_t *service_json(struct daemon *d, const struct metrics_snapshot *m,
			    const struct metrics_service *ms)
{
	struct rollout *r = ro_find(d, ms->name);
	json_t *o, *ro = NULL, *ev = NULL;

	o = json_pack("{s:s, s:s, s:b, s:o, s:o, s:{s:o, s:o}}",
		      "name", ms->name, "mode", mode_name(ms->mode), "frozen", ms->frozen,
		      "budget_remaining", ms->has_budget && isfinite(ms->budget_remaining) ?
					  json_real(ms->budget_remaining) : json_null(),
		      "weights", weights_json(m, ms->weight),
		      "traffic", "baseline", traffic_json(m, ms, SLUICE_BASELINE),
		      "canary", traffic_json(m, ms, SLUICE_CANARY));
	if (!o)
		return NULL;
	if (r && r->st.phase != ENG_NONE) {
		ro = ro_status_json(d, r);
		if (ro) {
			/* weights by ring name, and the health once, for the service */
			json_object_set_new(ro, "weight", weights_json(m, r->st.want_weight));
			json_object_del(ro, "health");
		}
		ev = ro_history_json(d, ms->name, STATUS_EVENTS);
	}
	json_object_set_new(o, "rollout", ro ? ro : json_null());
	json_object_set_new(o, "events", ev ? ev : json_array());
	json_object_set_new(o, "health", health_json(d, ms->name));
	return o;
}

char *status_doc(struct daemon *d, const struct metrics_snapshot *m, __u64 now)
{
	json_t *doc, *svcs, *rings;
	unsigned int i;
	char *s;

	svcs = json_array();
	rings = json_array();
	for (i = 0; rings && i < SLUICE_MAX_RINGS; i++)
		if (m->ring[i][0])
			json_array_append_new(rings, json_string(m->ring[i]));
	for (i = 0; svcs && i < m->nsvc; i++) {
		json_t *o = service_json(d, m, &m->svc[i]);

		if (o)
			json_array_append_new(svcs, o);
	}
	doc = json_pack("{s:i, s:I, s:o, s:o, s:o}", "version", 1, "now_ms", (json_int_t)now,
			"freeze", ro_freeze_json(d), "rings", rings, "services", svcs);
	if (!doc)
		return NULL;
	s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(doc);
	return s;
}
