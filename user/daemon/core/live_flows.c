// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What a rollback does to the canary's live flows: the plan's
 * on_rollback: live_flows: keep | reset | drain DURATION (issue 21). New
 * flows go to the baseline at once in every case (the kill switch);
 *   reset  the kill word carries SLUICE_KILL_RESET from the start: each
 *          live canary flow is re-decided on its next packet (TCP gets a
 *          reset from the baseline, which does not know the connection,
 *          and the client reconnects there; a UDP flow moves);
 *   drain  the same reset, at the end of the grace: an outbox intent due
 *          then (outbox.c), so a crash during the grace still resets them;
 *   keep   nothing more: they stay until their clients end them.
 * The operator's `sluice revert` is not a plan's decision and keeps its
 * own default.
 *
 * The audit trail says how many live canary flows there were when the
 * kill switch was set, what the drain reset, and when the last canary
 * packet was seen: a watch per service reads the canary's packet counter
 * each quarter second until it has been still for WATCH_QUIET_MS and no
 * flow counts as live (sluice_live_flows), or for at most WATCH_MAX_MS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"

#define WATCH_POLL_MS	250
#define WATCH_QUIET_MS	3000
#define WATCH_MAX_MS	(600 * 1000)
#define WATCHES		32

struct live_watch {
	bool on;
	char service[SLUICE_NAME_LEN];
	__u64 rollout_id;
	int variant;		/* the side the kill switch leaves */
	__u64 decided_ms;	/* the rollback decision (steady) */
	__u64 next_ms, last_pkt_ms, pkts;
};

/* the module's state (d->mod[MOD_LIVE]): live_start allocates it */
struct live {
	struct live_watch w[WATCHES];
};

int live_start(struct daemon *d, char *err, size_t errlen)
{
	d->mod[MOD_LIVE] = calloc(1, sizeof(struct live));
	if (!d->mod[MOD_LIVE]) {
		snprintf(err, errlen, "live flows: out of memory");
		return -ENOMEM;
	}
	return 0;
}

void live_stop(struct daemon *d)
{
	free(d->mod[MOD_LIVE]);
	d->mod[MOD_LIVE] = NULL;
}

static const char *mode_name(int m)
{
	return m == SLUICE_LIVE_KEEP ? "keep" : m == SLUICE_LIVE_RESET ? "reset" : "drain";
}

static int mode_of(const char *s)
{
	return !strcmp(s, "keep") ? SLUICE_LIVE_KEEP : !strcmp(s, "reset") ? SLUICE_LIVE_RESET
									  : SLUICE_LIVE_DRAIN;
}

/*
 * The revert intent's text with the plan's live-flow mode added
 * (revert_text, consumed), or the drain's due reset (due_reset). NULL
 * when out of memory.
 */
char *live_intent(const struct rollout *r, char *revert_text, __u64 now, bool due_reset)
{
	int mode = r->plan ? (int)r->plan->live_flows : SLUICE_LIVE_DRAIN;
	__u64 grace = r->plan && r->plan->live_drain_ms ? r->plan->live_drain_ms
						       : SLUICE_LIVE_DRAIN_DEFAULT_MS;
	json_t *o = due_reset ? json_object() : json_loads(revert_text, 0, NULL);
	char *s = NULL;

	free(revert_text);
	if (!o)
		return NULL;
	json_object_set_new(o, "live", json_string(mode_name(mode)));
	json_object_set_new(o, "drain_ms", json_integer(mode == SLUICE_LIVE_DRAIN ? grace : 0));
	json_object_set_new(o, "decided_ms", json_integer(now));
	if (due_reset)
		json_object_set_new(o, "due_ms", json_integer(now + grace));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static __u64 canary_packets(struct daemon *d, const char *service, int variant)
{
	struct sluice_flow_stats st[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	__u32 id;
	__u64 n = 0;
	int r;

	if (!d->s || sluice_service_lookup(d->s, service, &id) ||
	    sluice_stats_get(d->s, id, st))
		return 0;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		n += st[variant][r].packets;
	return n;
}

static struct live_watch *watch_find(struct daemon *d, const char *service, __u64 rid)
{
	struct live *L = d->mod[MOD_LIVE];
	struct live_watch *watches = L ? L->w : NULL;
	unsigned int i;

	if (!watches)
		return NULL;

	for (i = 0; i < WATCHES; i++)
		if (watches[i].on && watches[i].rollout_id == rid &&
		    !strcmp(watches[i].service, service))
			return &watches[i];
	return NULL;
}

/* Start watching service's canary (replacing an older watch of it). */
static struct live_watch *watch_start(struct daemon *d, const char *service, __u64 rid,
				      int variant, __u64 decided_ms)
{
	struct live *L = d->mod[MOD_LIVE];
	struct live_watch *w = NULL, *watches = L ? L->w : NULL;
	unsigned int i;

	if (!watches)
		return NULL;
	for (i = 0; i < WATCHES && !w; i++)
		if (!watches[i].on || !strcmp(watches[i].service, service))
			w = &watches[i];
	if (!w)
		w = &watches[0];	/* more rollbacks at once than slots */
	memset(w, 0, sizeof(*w));
	w->on = true;
	snprintf(w->service, sizeof(w->service), "%s", service);
	w->rollout_id = rid;
	w->variant = variant;
	w->decided_ms = decided_ms;
	w->last_pkt_ms = decided_ms;
	w->pkts = canary_packets(d, service, variant);
	w->next_ms = steady_ms() + WATCH_POLL_MS;
	return w;
}

/* The side the kill switch takes flows from: not last-known-good. */
static int leaving_variant(struct daemon *d, const char *service)
{
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };

	if (!d->s || sluice_service_view(d->s, service, &v))
		return SLUICE_CANARY;
	return v.lkg == SLUICE_CANARY ? SLUICE_BASELINE : SLUICE_CANARY;
}

static void live_count(struct daemon *d, const char *service, int variant,
		       struct sluice_live *n)
{
	if (!d->s || sluice_live_flows(d->s, service, variant, n))
		memset(n, 0, sizeof(*n));
}

void live_revert(struct daemon *d, struct rollout *r, __u64 rollout_id, json_t *o)
{
	int mode = mode_of(json_string_value(json_object_get(o, "live")) ?: "");
	__u64 grace = json_integer_value(json_object_get(o, "drain_ms"));
	__u64 decided = json_integer_value(json_object_get(o, "decided_ms"));
	int variant = leaving_variant(d, r->service);
	struct sluice_live n;
	char text[512], g[32] = "";
	int err;

	live_count(d, r->service, variant, &n);	/* before the kill moves any */
	err = sluice_revert(d->s, r->service, mode == SLUICE_LIVE_RESET);
	if (err < 0) {
		snprintf(text, sizeof(text), "cannot set the kill switch: %s", sluice_errmsg(d->s));
		dlog(d, LOG_ERR_, "%s: %s", r->service, text);
		audit_note(d, r->service, rollout_id, "error", "sluiced", text);
		return;
	}
	if (mode == SLUICE_LIVE_DRAIN)
		snprintf(g, sizeof(g), " %llu.%llus", (unsigned long long)(grace / 1000),
			 (unsigned long long)(grace % 1000 / 100));
	snprintf(text, sizeof(text),
		 "kill switch set%s: %u live canary flows (%u TCP, %u UDP); live_flows: %s%s: %s",
		 err == 0 ? " (already so)" : "", n.tcp + n.udp, n.tcp, n.udp, mode_name(mode), g,
		 mode == SLUICE_LIVE_KEEP ? "they stay on the canary until their clients end them" :
		 mode == SLUICE_LIVE_RESET ? "they are re-decided on their next packet (TCP: a reset from the baseline)" :
		 "new flows go to the baseline now, the live canary flows are reset when the grace ends");
	dlog(d, LOG_INFO_, "%s: %s", r->service, text);
	audit_note(d, r->service, rollout_id, "live_flows", "sluiced", text);
	watch_start(d, r->service, rollout_id, variant, decided ? decided : steady_ms());
}

/* ms until o (a drain's reset) is due; <= 0: due. Keeps a watch going
 * (after a restart in the grace, the watch starts again here). */
__s64 live_due(struct daemon *d, const char *service, __u64 rollout_id, json_t *o)
{
	__s64 due = json_integer_value(json_object_get(o, "due_ms"));

	if (d->s && !watch_find(d, service, rollout_id))
		watch_start(d, service, rollout_id, leaving_variant(d, service),
			    json_integer_value(json_object_get(o, "decided_ms")));
	return due - (__s64)steady_ms();
}

int live_reset(struct daemon *d, const char *service, __u64 rollout_id, json_t *o)
{
	struct rollout *r = ro_find(d, service);
	__u64 grace = json_integer_value(json_object_get(o, "drain_ms"));
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };
	struct sluice_live n;
	char text[512];
	int err;

	if (!d->s)
		return -ENODEV;	/* kept for when the instance is there */
	if (!r || r->st.rollout_id != rollout_id || sluice_service_view(d->s, service, &v) ||
	    !(v.kill & SLUICE_KILL_REVERT)) {
		snprintf(text, sizeof(text),
			 "the drain's reset of rollout %llu not carried out: %s: superseded by the operator",
			 (unsigned long long)rollout_id,
			 !r || r->st.rollout_id != rollout_id ? "another rollout runs" :
			 "the kill switch is off (resumed)");
		dlog(d, LOG_WARN_, "%s: %s", service, text);
		audit_note(d, service, rollout_id, "superseded", "sluiced", text);
		return 0;
	}
	live_count(d, service, leaving_variant(d, service), &n);
	err = sluice_revert(d->s, service, true);
	if (err < 0) {
		snprintf(text, sizeof(text), "cannot reset the live canary flows: %s",
			 sluice_errmsg(d->s));
		dlog(d, LOG_ERR_, "%s: %s", service, text);
		audit_note(d, service, rollout_id, "error", "sluiced", text);
		return 0;
	}
	snprintf(text, sizeof(text),
		 "drain over after %llu.%llus: %u live canary flows (%u TCP, %u UDP) reset to the baseline%s",
		 (unsigned long long)(grace / 1000), (unsigned long long)(grace % 1000 / 100),
		 n.tcp + n.udp, n.tcp, n.udp, err == 0 ? " (already so)" : "");
	dlog(d, LOG_INFO_, "%s: %s", service, text);
	audit_note(d, service, rollout_id, "live_flows", "sluiced", text);
	return 0;
}

static void watch_poll(struct daemon *d, struct live_watch *w, __u64 now)
{
	__u64 p = canary_packets(d, w->service, w->variant);
	struct sluice_live n;
	char text[256];

	if (p != w->pkts) {
		w->pkts = p;
		w->last_pkt_ms = now;
		if (now - w->decided_ms < WATCH_MAX_MS)
			return;
	}
	if (now - w->last_pkt_ms < WATCH_QUIET_MS && now - w->decided_ms < WATCH_MAX_MS)
		return;
	live_count(d, w->service, w->variant, &n);
	if (n.tcp + n.udp && now - w->decided_ms < WATCH_MAX_MS)
		return;	/* quiet, not gone: an idle flow's seen tick still counts */
	if (n.tcp + n.udp)
		snprintf(text, sizeof(text),
			 "still %u live canary flows %llu s after the rollback: no longer watched",
			 n.tcp + n.udp, (unsigned long long)((now - w->decided_ms) / 1000));
	else if (w->last_pkt_ms > w->decided_ms)
		snprintf(text, sizeof(text),
			 "no live canary flow left: the last canary packet %llu.%llu s after the rollback decision",
			 (unsigned long long)((w->last_pkt_ms - w->decided_ms) / 1000),
			 (unsigned long long)((w->last_pkt_ms - w->decided_ms) % 1000 / 100));
	else
		snprintf(text, sizeof(text),
			 "no live canary flow left: no canary packet since the rollback decision");
	dlog(d, LOG_INFO_, "%s: %s", w->service, text);
	audit_note(d, w->service, w->rollout_id, "live_flows", "sluiced", text);
	w->on = false;
}

void live_tick(struct daemon *d, __u64 now)
{
	struct live *L = d->mod[MOD_LIVE];
	struct live_watch *watches = L ? L->w : NULL;
	unsigned int i;

	outbox_due(d);
	for (i = 0; watches && i < WATCHES; i++)
		if (watches[i].on && now >= watches[i].next_ms) {
			watches[i].next_ms = now + WATCH_POLL_MS;
			watch_poll(d, &watches[i], now);
		}
}
