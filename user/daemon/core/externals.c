// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's external gates, notifications and /metrics: the runners
 * (httpc, cmdrun) on the loop's scheduler, measurements handed to the engine
 * through obs->ext[], notifications of the engine's transitions, and a
 * /metrics snapshot (with the status page's document) built from the maps
 * and the rollouts when scraped, and once a second while the page is open.
 */
#include <math.h>
#include <string.h>
#include "sluiced.h"
#include "httpc.h"
#include "cmdrun.h"
#include "external_gates.h"
#include "notify.h"
#include "metrics.h"

static void snapshot_for_scrape(void *arg);

static void notify_log(void *ctx, int level, const char *msg)
{
	dlog(ctx, level, "%s", msg);
}

int gs_start(struct daemon *d, char *err, size_t errlen)
{
	struct notify_cfg nc = { .command = d->o.notify_command, .url = d->o.notify_url,
				 .log = notify_log, .log_ctx = d };
	unsigned int i;

	d->hc = httpc_new_on(d->sched);
	d->cr = cmdrun_new_on(d->sched);
	if (!d->hc || !d->cr) {
		snprintf(err, errlen, "cannot set up the HTTP client and command runner");
		return -ENOMEM;
	}
	d->xg = extgate_new(d->hc, d->cr, d->o.prom_url);
	d->nt = notify_new(&nc, d->cr, d->hc);
	d->ps = prestep_new(d->cr);
	if (!d->xg || !d->nt || !d->ps) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!d->o.metrics_addr) {
		/* the default address may be taken (another sluiced): warn */
		d->ms = metrics_srv_start_on(d->sched, METRICS_DEFAULT_ADDR, err, errlen);
		if (!d->ms)
			dlog(d, LOG_WARN_, "%s; running without /metrics (--metrics ADDR)", err);
		err[0] = 0;
	} else if (strcmp(d->o.metrics_addr, "off")) {
		d->ms = metrics_srv_start_on(d->sched, d->o.metrics_addr, err, errlen);
		if (!d->ms)
			return -EADDRINUSE;
	}
	if (d->ms)
		metrics_srv_on_demand(d->ms, snapshot_for_scrape, d);
	for (i = 0; d->ms && i < d->o.nmetrics_hosts; i++)
		if (metrics_srv_allow_host(d->ms, d->o.metrics_hosts[i], err, errlen))
			return -EINVAL;
	return 0;
}

void gs_stop(struct daemon *d)
{
	metrics_srv_stop(d->ms);
	status_doc_free(d);
	prestep_free(d->ps);
	extgate_free(d->xg);
	notify_free(d->nt);
	cmdrun_free(d->cr);
	httpc_free(d->hc);
}

void gs_cancel(struct daemon *d, const char *service)
{
	extgate_forget(d->xg, service);
	prestep_forget(d->ps, service);
}

void gs_measure(struct daemon *d, struct rollout *r, struct eng_obs *obs, __u64 now)
{
	char rings[SLUICE_MAX_RINGS * (SLUICE_RING_NAME_LEN + 1)] = "";
	struct extgate_ctx ctx = {
		.service = r->service, .rollout_id = r->st.rollout_id,
		.attempt = r->st.attempt, .rings = rings,
		/* a step waiting for its pre-step hook has not begun */
		.step = r->st.phase == ENG_PROGRESSING && !r->st.hook_pending ? r->st.step : -1,
	};
	size_t n = 0;
	int i;

	/* most plans gate on the datapath alone: nothing to schedule, and
	 * no per-service slots (185 KiB each) to keep */
	if (!extgate_plan_uses(r->plan)) {
		extgate_forget(d->xg, r->service);
		return;
	}
	if (eng_terminal(r->st.phase) || r->st.phase == ENG_NONE) {
		extgate_forget(d->xg, r->service);
		return;
	}
	for (i = 0; i < SLUICE_MAX_RINGS && d->s; i++) {
		char name[SLUICE_RING_NAME_LEN];

		if (!obs->ring_in_use[i] || !obs->weight[i] ||
		    sluice_ring_name(d->s, i, name, sizeof(name)) < 0)
			continue;
		n += snprintf(rings + n, sizeof(rings) - n, "%s%s", n ? "|" : "", name);
	}
	if (!n)
		snprintf(rings, sizeof(rings), "default");
	extgate_tick(d->xg, r->plan, &ctx, obs, now, obs->ext);
}

void gs_notify_freeze(struct daemon *d, bool on, const struct eng_freeze *f)
{
	struct notify_event ne = {
		.kind = on ? NOTIFY_FREEZE : NOTIFY_UNFREEZE, .step = -1,
		.at_ms = steady_ms(), .who = f->who, .text = f->reason,
	};

	notify_send(d->nt, &ne);
}

void gs_notify_service_freeze(struct daemon *d, const char *service, bool on,
			      const struct eng_freeze *f)
{
	struct notify_event ne = {
		.kind = on ? NOTIFY_FREEZE : NOTIFY_UNFREEZE, .service = service,
		.step = -1, .at_ms = steady_ms(), .who = f->who, .text = f->reason,
	};

	notify_send(d->nt, &ne);
}

static const char *phase_metric(enum eng_phase p)
{
	switch (p) {
	case ENG_PENDING: return "pending";
	case ENG_PROGRESSING: return "progressing";
	case ENG_PAUSED: return "paused";
	case ENG_PROMOTED: return "promoted";
	case ENG_ROLLED_BACK: return "rolled_back";
	case ENG_ABORTED: return "aborted";
	default: return NULL;
	}
}

static void rollout_metrics(struct daemon *d, struct metrics_service *ms,
			    struct rollout *r)
{
	struct burn_cfg bc;
	struct burn_eval be;
	unsigned int i;

	if (!r || r->st.phase == ENG_NONE)
		return;
	ms->ro.present = true;
	ms->ro.state = phase_metric(r->st.phase);
	ms->ro.step = r->st.step;
	memcpy(ms->ro.weight, r->st.want_weight, sizeof(ms->ro.weight));
	for (i = 0; i < r->plan->ngates && i < METRICS_MAX_GATES; i++) {
		const struct gate_eval *ev = &r->st.gates[i].last;
		struct metrics_gate *g = &ms->ro.gate[i];

		snprintf(g->name, sizeof(g->name), "%s", r->plan->gates[i].name);
		g->verdict = ev->outcome == GATE_PASS ? MV_PASS : ev->outcome == GATE_FAIL ? MV_FAIL :
			     ev->outcome == GATE_INCONCLUSIVE ? MV_INCONCLUSIVE :
			     ev->outcome == GATE_ERROR ? MV_ERROR : MV_NONE;
		if (ev->outcome != GATE_NONE && ev->outcome != GATE_ERROR) {
			g->has_value[SLUICE_CANARY] = isfinite(ev->canary);
			g->value[SLUICE_CANARY] = ev->canary;
			g->has_value[SLUICE_BASELINE] = isfinite(ev->baseline);
			g->value[SLUICE_BASELINE] = ev->baseline;
		}
	}
	ms->ro.ngates = i;
	if (extgate_burn(d->xg, ms->name, &bc, &be)) {
		for (i = 0; i < bc.nrules; i++) {
			char name[64], *sl;

			burn_rule_name(&bc.rule[i], name, sizeof(name));
			sl = strrchr(name, ' ');	/* "14.4x over 5m/25s" -> "5m/25s" */
			if (sl)
				memmove(name, sl + 1, strlen(sl));
			sl = strchr(name, '/');
			if (sl)
				*sl = 0;
			snprintf(ms->ro.burn[ms->ro.nburn].window, 16, "%.15s", name);
			ms->ro.burn[ms->ro.nburn++].burn = be.rule[i].long_burn;
		}
	}
}

/* A snapshot of every service. full: what /metrics and the status page
 * show (counters, histograms, rollouts, health: a few lookups a service),
 * published. Otherwise only names and weights (no syscall but one batch of
 * kill words) for the status page's weight history, so the page opened
 * later still draws the steps taken before; not published. */
static void snapshot(struct daemon *d, __u64 now, bool full)
{
	static __u32 ids[SLUICE_MAX_SERVICES];
	/* the rollouts by service id, from the ids their ticks saw: a
	 * snapshot of 1,000 services looked each up by name (ro_find), half a
	 * million name compares a second */
	static struct rollout *by_id[SLUICE_MAX_SERVICES];
	static __u32 kill[SLUICE_MAX_SERVICES];	/* one batch, not 2 reads each */
	struct metrics_snapshot *m;
	unsigned int rings = 1, unknown = 0;
	__u32 nkill = 0, kill_all = 0;
	int n, i, r;

	d->last_metrics_ms = now;
	n = sluice_service_ids(d->s, ids, SLUICE_MAX_SERVICES);
	m = metrics_snapshot_new(n > 0 ? n : 1);
	if (!m)
		return;
	m->frozen = d->env.global.frozen;
	if (full) {
		m->builds = ++d->metrics_builds;
		sluice_rings_in_use(d->s, &rings);
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			if (rings & (1u << r))
				sluice_ring_name(d->s, r, m->ring[r], sizeof(m->ring[r]));
		sluice_events_get(d->s, (__u64 *)m->events);
	}
	for (i = 0; i < n; i++)
		if (ids[i] >= nkill)
			nkill = ids[i] + 1;
	if (sluice_kill_words(d->s, nkill, kill, &kill_all))
		nkill = 0;	/* each view reads its own */
	memset(by_id, 0, sizeof(by_id));
	for (i = 0; full && i < (int)d->nro; i++) {
		__u64 stamp;

		if (sluice_service_stamp(d->s, d->ro[i]->svc_id, d->ro[i]->service, &stamp))
			unknown++;	/* the hint is not (yet) its service's id */
		else
			by_id[d->ro[i]->svc_id] = d->ro[i];
	}
	for (i = 0; i < n; i++) {
		struct sluice_service_view v = { .id = ids[i] };
		struct metrics_service *ms;
		char name[SLUICE_NAME_LEN];

		if (sluice_service_name(d->s, ids[i], name, sizeof(name)) ||
		    sluice_service_view_kill(d->s, name, &v, kill, nkill, kill_all))
			continue;
		ms = metrics_snapshot_add(m, name);
		ms->mode = v.mode;
		memcpy(ms->weight, v.weight, sizeof(ms->weight));
		if (!full)
			continue;
		ms->has_hist = v.mode == SLUICE_MODE_NAT;
		ms->has_budget = budget_remaining(d, name, &ms->budget_remaining, &ms->frozen);
		/* d->obs is the tick's scratch; the tick is over */
		if (sluice_counters_get(d->s, v.id, ms->has_hist, rings, ms->fs, d->obs.health))
			continue;
		if (ms->has_hist)
			for (int k = 0; k < SLUICE_VARIANTS; k++)
				metrics_hist_from_lat((const uint64_t *)d->obs.health[k].lat, &ms->hist[k]);
		if (by_id[v.id])
			rollout_metrics(d, ms, by_id[v.id]);
		else if (unknown)
			rollout_metrics(d, ms, ro_find(d, name));
	}
	status_track(d, m, now, full);
	if (!full) {
		metrics_snapshot_free(m);
		return;
	}
	health_metrics(d, m);
	announce_metrics(d, m);
	if (metrics_srv_status_wanted(d->ms, now))
		m->status = status_doc_due(d, m, now);
	else
		status_doc_idle(d);
	metrics_srv_publish(d->ms, m);
}

/* A scrape of /metrics finding the snapshot served over a second old (the
 * listener calls this on the loop, before it answers). */
static void snapshot_for_scrape(void *arg)
{
	struct daemon *d = arg;

	if (d->s)
		snapshot(d, steady_ms(), true);
}

void gs_metrics(struct daemon *d, __u64 now)
{
	if (!d->ms || !d->s || now - d->last_metrics_ms < 1000)
		return;
	snapshot(d, now, metrics_srv_status_wanted(d->ms, now));
}
