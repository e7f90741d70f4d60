// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's backend health checks: the checker (pool_sync.h) in the loop, its
 * transitions in the log and the audit trail, and their weight in a
 * rollout. The checks come from the health_check sections of --config
 * (re-read every SLUICED_HEALTH_RELOAD_MS, so new services and backends
 * are picked up; a file that stops parsing keeps the last good checks).
 *
 * Which side failed matters, and the engine judges it (engine.h): the
 * marks are in the maps, the rollout's observation counts the backends
 * down per pool, a canary backend down holds its step and the whole
 * canary pool down fails the rollout ("canary backends down (N of M)",
 * on_failure: rolled back through the kill switch by default); a
 * baseline backend going down is not held against the canary. Here a
 * canary transition only makes the rollout tick at once.
 */
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include "sluiced.h"
#include "pool_sync.h"
#include "metrics.h"

#define SLUICED_HEALTH_RELOAD_MS 5000

static bool rollout_running(const struct rollout *r)
{
	return r && r->st.phase != ENG_NONE && !eng_terminal(r->st.phase);
}

static void on_event(void *arg, const struct hs_event *e)
{
	struct daemon *d = arg;
	struct rollout *r = ro_find(d, e->service);
	bool running = rollout_running(r);
	char text[512];
	const char *judged = "";

	if (running && e->variant == SLUICE_CANARY && e->ev == HC_EV_DOWN)
		judged = "; evidence against the canary";
	else if (running && e->variant == SLUICE_BASELINE && e->ev == HC_EV_DOWN)
		judged = "; a baseline backend: not held against the canary";
	snprintf(text, sizeof(text), "%s%s", e->text, judged);
	if (e->ev == HC_EV_DOWN && (e->all_down || e->err))
		dlog(d, LOG_ERR_, "health: %s", text);
	else if (e->ev == HC_EV_DOWN || e->ev == HC_EV_FLAPPING)
		dlog(d, LOG_WARN_, "health: %s", text);
	else
		dlog(d, LOG_INFO_, "health: %s", text);
	audit_note(d, e->service, running ? r->st.rollout_id : 0,
		   e->ev == HC_EV_DOWN ? "health_down" :
		   e->ev == HC_EV_UP ? "health_up" :
		   e->ev == HC_EV_FLAPPING ? "health_flapping" : "health_stable",
		   "health-check", text);
	if (running && e->variant == SLUICE_CANARY && e->ev <= HC_EV_UP)
		r->next_ms = 0;	/* judged on the loop's next tick */
}

static void reload(struct daemon *d)
{
	struct sluice_config *cfg;
	char err[1024];
	int n;

	if (!d->o.config_path)
		return;
	cfg = sluice_config_parse(d->o.config_path, err, sizeof(err));
	if (!cfg) {
		if (!d->health_cfg_bad)
			dlog(d, LOG_ERR_, "health checks: %s; keeping the checks as they were", err);
		d->health_cfg_bad = true;
		return;
	}
	d->health_cfg_bad = false;
	n = hs_configure(d->hs, cfg);
	if (n < 0)
		dlog(d, LOG_ERR_, "health checks: cannot set the targets: %s", strerror(-n));
	else if ((unsigned int)n != d->health_targets)
		dlog(d, LOG_INFO_, "health checks: %d backends checked", n);
	if (n >= 0)
		d->health_targets = n;
	sluice_config_free(cfg);
}

void health_tick(struct daemon *d, __u64 now)
{
	struct hc_opts o = { .sched = d->sched };
	char err[256];

	if (!d->s || !d->o.config_path)
		return;
	if (!d->hs) {
		d->hs = hs_new(d->s, &o, on_event, d, err, sizeof(err));
		if (!d->hs) {
			dlog(d, LOG_ERR_, "health checks: %s", err);
			return;
		}
		d->health_reload_ms = 0;
	}
	if (now - d->health_reload_ms >= SLUICED_HEALTH_RELOAD_MS) {
		d->health_reload_ms = now;
		reload(d);
	}
}

void health_free(struct daemon *d)
{
	hs_free(d->hs);
	d->hs = NULL;
}

json_t *health_json(struct daemon *d, const char *service)
{
	static const char *const pool[] = { "baseline", "canary" };
	json_t *arr = json_array();
	const struct hc *hc;
	unsigned int i;

	if (!d->hs || !arr)
		return arr;
	hc = hs_checker(d->hs);
	for (i = 0; i < hc_count(hc); i++) {
		const struct hc_target *t = hc_target_at(hc, i);
		struct hc_status st;
		char a[INET6_ADDRSTRLEN];

		if (service && strcmp(t->service, service))
			continue;
		hc_status_at(hc, i, &st);
		sluice_format_addr(&t->be_addr, t->be_family, a, sizeof(a));
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:i, s:s, s:b, s:b, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
			"service", t->service, "pool", pool[t->variant & 1],
			"address", a, "port", (int)t->be_port,
			"check", hc_type_name(t->check.type),
			"down", st.down, "flapping", st.flapping,
			"last", st.last_reason, "ok_run", (int)st.ok_run,
			"fail_run", (int)st.fail_run,
			"checks", (json_int_t)st.checks, "failures", (json_int_t)st.failures,
			"transitions", (json_int_t)st.transitions, "late", (json_int_t)st.late,
			"last_ms", (json_int_t)st.last_ms, "last_us", (json_int_t)st.last_us));
	}
	return arr;
}

void health_metrics(struct daemon *d, struct metrics_snapshot *m)
{
	const struct hc *hc;
	unsigned int i;

	if (!d->hs)
		return;
	hc = hs_checker(d->hs);
	for (i = 0; i < hc_count(hc); i++) {
		const struct hc_target *t = hc_target_at(hc, i);
		struct metrics_backend *b = metrics_snapshot_add_backend(m);
		struct hc_status st;

		if (!b)
			return;
		hc_status_at(hc, i, &st);
		snprintf(b->service, sizeof(b->service), "%s", t->service);
		b->variant = t->variant;
		sluice_format_addr(&t->be_addr, t->be_family, b->address, sizeof(b->address));
		b->port = t->be_port;
		b->check = hc_type_name(t->check.type);
		b->down = st.down;
		b->flapping = st.flapping;
		b->checks = st.checks;
		b->failures = st.failures;
		b->transitions = st.transitions;
		b->has_last = st.checks > 0;
		b->last_s = st.last_us / 1e6;
	}
}
