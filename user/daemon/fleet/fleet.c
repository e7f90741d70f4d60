// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fleet mode: etcd's desired state -> this node's maps, this node's report
 * -> etcd, and, on the elected leader, the fleet rollouts (fleet.h).
 *
 * Connection life: grant a lease, read the whole prefix (range), apply it,
 * watch from the next revision. A keepalive every TTL/3 proves etcd is
 * there; when a request fails the node marks itself cut off, drops
 * leadership at once (the lease may outlive it: the leader's writes are
 * fenced on the leader key's create revision), cancels the watch and
 * starts over from the lease once a second. Nothing is changed on the
 * maps while cut off.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fleet_int.h"
#include "fleet.h"
#include "fleet_value.h"



bool fleet_on(const struct daemon *d)
{
	return fleet_of(d) != NULL;
}


bool fleet_has_service(const struct daemon *d, const char *service)
{
	struct fleet *F = fleet_of(d);
	struct fsvc *s;

	s = F ? fleet_svc_get(F, service, false) : NULL;
	return s && (s->has_weights || s->kill >= 0 || s->plan_text || s->rollout ||
		     s->config_text);
}

bool fleet_am_leader(struct fleet *F)
{
	return F->ok && F->leader_lease == F->lease && !strcmp(F->leader, F->node);
}

void fleet_key(struct fleet *F, char *buf, size_t len, const char *svc, const char *leaf)
{
	if (svc)
		snprintf(buf, len, "%s/services/%s/%s", F->prefix, svc, leaf);
	else
		snprintf(buf, len, "%s/%s", F->prefix, leaf);
}

struct fsvc *fleet_svc_get(struct fleet *F, const char *name, bool create)
{
	unsigned int i;

	for (i = 0; i < F->nsvc; i++)
		if (!strcmp(F->svc[i].name, name))
			return &F->svc[i];
	if (!create || F->nsvc == FLEET_MAX_SVC || !*name || strlen(name) >= SLUICE_NAME_LEN)
		return NULL;
	memset(&F->svc[F->nsvc], 0, sizeof(F->svc[0]));
	snprintf(F->svc[F->nsvc].name, SLUICE_NAME_LEN, "%s", name);
	F->svc[F->nsvc].kill = -1;
	F->svc[F->nsvc].live = -1;
	return &F->svc[F->nsvc++];
}

/* An entry none of whose keys is left, nothing to undo: its slot is free. */
static bool svc_unused(const struct fsvc *s)
{
	return !s->has_weights && s->kill < 0 && !s->plan_text && !s->config_text &&
	       !s->rollout && !s->frozen && !s->applied_c_rev && !s->dirty_c;
}

static void svc_gc(struct fleet *F)
{
	unsigned int i = 0;

	while (i < F->nsvc) {
		struct fsvc *s = &F->svc[i];

		if (!svc_unused(s)) {
			i++;
			continue;
		}
		free(s->plan_text);
		free(s->config_text);
		sluice_plan_free(s->rplan);
		fleet_lead_free(s);
		json_decref(s->rollout);
		*s = F->svc[--F->nsvc];
	}
}

/* A key whose value did not parse: in status, logged once per revision. */
void fleet_bad_key(struct daemon *d, const char *k, int64_t rev, const char *err)
{
	struct fleet *F = fleet_of(d);
	if (fleet_bad_set(F->bad, F->bad_prev, k, rev, err))
		dlog(d, LOG_ERR_, "fleet: %s; skipped until the key changes", err);
}

/* ---- etcd's state -> memory ------------------------------------------- */

static void on_kv(const char *k, const char *v, json_t *kv, void *arg)
{
	struct daemon *d = arg;
	struct fleet *F = fleet_of(d);
	size_t pl = strlen(F->prefix);
	const char *rest, *slash;
	char name[SLUICE_NAME_LEN + 1], err[640], kb[FLEET_KEY_SHOWN + 4];
	int64_t rev = etcd_int(kv, "mod_revision");
	struct fsvc *s;
	int ks;

	if (rev > F->applied_rev)
		F->applied_rev = rev;
	if (strncmp(k, F->prefix, pl) || k[pl] != '/')
		return;
	/* refused at this revision already: skipped, not parsed again */
	if (v && fleet_bad_known(F->bad, F->bad_prev, k, rev))
		return;
	json_object_del(F->bad, k);
	rest = k + pl + 1;
	if (!strcmp(rest, "leader")) {
		snprintf(F->leader, sizeof(F->leader), "%s", v ? v : "");
		F->leader_lease = v ? etcd_int(kv, "lease") : 0;
		F->leader_create_rev = v ? etcd_int(kv, "create_revision") : 0;
		if (fleet_am_leader(F) && !F->leader_since_ms) {
			F->leader_since_ms = steady_ms();
			dlog(d, LOG_INFO_, "fleet: this node (%s) leads the fleet", F->node);
		} else if (!fleet_am_leader(F)) {
			F->leader_since_ms = 0;
		}
		return;
	}
	if (!strcmp(rest, "freeze")) {
		F->global_freeze = v != NULL;
		return;
	}
	if (!strncmp(rest, "nodes/", 6)) {
		json_t *j = v ? fleet_parse_object(v, k, err, sizeof(err)) : NULL;
		json_t *old = json_object_get(F->nodes, rest + 6);

		/* the one before, for the shares over the last interval
		 * (a resync reads the same report again: not an interval) */
		if (v && !j) {
			fleet_bad_key(d, k, rev, err);
			return;
		}
		if (j && old && etcd_int(j, "at_ms") != etcd_int(old, "at_ms"))
			json_object_set(F->prev, rest + 6, old);
		if (!j)
			json_object_del(F->prev, rest + 6);
		if (j)
			json_object_set_new(F->nodes, rest + 6, j);
		else
			json_object_del(F->nodes, rest + 6);
		return;
	}
	if (strncmp(rest, "services/", 9))
		return;
	rest += 9;
	slash = strchr(rest, '/');
	if (!slash)
		return;
	snprintf(name, sizeof(name), "%.*s", (int)(slash - rest), rest);
	s = fleet_svc_get(F, name, v != NULL);
	if (!s && v) {
		/* revision 0: looked at again when it comes back */
		if (F->nsvc == FLEET_MAX_SVC)
			snprintf(err, sizeof(err), "%s: more than %d services under %.150s/services: "
				 "service '%s' ignored on this node", fleet_key_shown(k, kb),
				 FLEET_MAX_SVC, F->prefix, name);
		else
			snprintf(err, sizeof(err), "%s: '%s' is not a service name (1-%d characters)",
				 fleet_key_shown(k, kb), name, SLUICE_NAME_LEN - 1);
		fleet_bad_key(d, k, 0, err);
	}
	if (!s)
		return;
	slash++;
	if (!strcmp(slash, "weights")) {
		if (!v) {
			s->has_weights = false;
		} else if (fleet_parse_weights(v, s->weight, k, err, sizeof(err))) {
			fleet_bad_key(d, k, rev, err);	/* the maps keep their weights */
		} else {
			s->has_weights = s->dirty_w = true;
			s->weights_rev = rev;
			s->error[0] = 0;
		}
	} else if (!strcmp(slash, "killswitch")) {
		/* only on and off: anything else keeps the maps as they are */
		ks = v ? fleet_parse_killswitch(v, k, err, sizeof(err)) : -1;
		if (v && ks < 0) {
			fleet_bad_key(d, k, rev, err);
			return;
		}
		s->kill = ks;
		s->dirty_k = s->kill >= 0;
		s->kill_rev = rev;
	} else if (!strcmp(slash, "live_flows")) {
		/* a value that does not parse counts as none: keep */
		__u64 ms = 0;
		int m = v ? fleet_parse_live(v, k, &ms, err, sizeof(err)) : -1;

		if (v && m < 0)
			fleet_bad_key(d, k, rev, err);
		s->live = m;
		s->live_drain_ms = m < 0 ? 0 : ms;
	} else if (!strcmp(slash, "config")) {
		free(s->config_text);
		s->config_text = v ? strdup(v) : NULL;
		s->config_rev = rev;
		s->dirty_c = true;
	} else if (!strcmp(slash, "plan")) {
		free(s->plan_text);
		s->plan_text = v ? strdup(v) : NULL;
		s->plan_rev = rev;
	} else if (!strcmp(slash, "rollout")) {
		json_decref(s->rollout);
		s->rollout = v ? fleet_parse_object(v, k, err, sizeof(err)) : NULL;
		s->rollout_rev = v ? rev : 0;
		if (v && !s->rollout)
			fleet_bad_key(d, k, rev, err);
		fleet_audit_rollout(d, s);
	} else if (!strcmp(slash, "freeze")) {
		s->frozen = v != NULL;
	}
}

/* ---- memory -> this node's maps --------------------------------------- */

const char *fleet_phase_of(const json_t *ro)
{
	const char *p = json_string_value(json_object_get(ro, "phase"));

	return p ? p : "";
}

/* Did the fleet promote the config key's revision? The promoted state
 * names it (an older leader's state: any config older than it). */
static bool config_promoted(const struct fsvc *s)
{
	const json_t *cr = json_object_get(s->rollout, "config_rev");

	if (strcmp(fleet_phase_of(s->rollout), "promoted"))
		return false;
	return cr ? json_integer_value(cr) == s->config_rev : s->rollout_rev > s->config_rev;
}

/*
 * The service's config key through the library's apply path: the file is
 * validated whole, then the service (and the file's rings) put in one
 * swap; other services of this node are kept. A bad file changes no map
 * and is named in status. A deleted key deletes the service, if this
 * daemon applied its config.
 */
static void apply_config(struct daemon *d, struct fsvc *s)
{
	struct fleet *F = fleet_of(d);
	struct sluice_apply_opts o = { .keep = true };
	struct sluice_apply_result res = {};
	struct sluice_service_spec *spec;
	struct sluice_config *c, sub;
	char k[512], err[512];
	bool promoted, had;
	unsigned int i;
	int r;

	s->dirty_c = false;
	fleet_key(F, k, sizeof(k), s->name, "config");
	if (!s->config_text) {
		if (!s->applied_c_rev)
			return;
		r = sluice_service_del(d->s, s->name);
		if (r < 0 && r != -ENOENT) {
			snprintf(s->error, sizeof(s->error), "%.400s deleted, cannot delete the service: %.300s",
				 k, sluice_errmsg(d->s));
		} else {
			s->error[0] = 0;
			dlog(d, LOG_INFO_, "fleet: %s: config deleted from etcd: service deleted", s->name);
		}
		s->applied_c_rev = 0;
		return;
	}
	/* a sluiced (re)started after a fleet promotion finds a config older
	 * than it: the promoted maps are newer, keep them; a node without
	 * the service applies the config and then the promotion */
	promoted = config_promoted(s);
	spec = malloc(sizeof(*spec));
	had = spec && !sluice_service_get(d->s, s->name, spec);
	free(spec);
	if (!s->applied_c_rev && promoted && had) {
		s->applied_c_rev = s->config_rev;
		dlog(d, LOG_INFO_, "fleet: %s: config (revision %lld) is older than the promotion: maps kept",
		     s->name, (long long)s->config_rev);
		return;
	}
	c = sluice_config_parse_string(s->config_text, k, err, sizeof(err));
	for (i = 0; c && i < c->nservices && strcmp(c->services[i].name, s->name); i++)
		;
	if (c && i == c->nservices)
		snprintf(err, sizeof(err), "%.400s: the file has no service '%s'", k, s->name);
	if (!c || i == c->nservices) {
		/* refused until the key changes (not at every resync) */
		snprintf(s->error, sizeof(s->error), "%s", err);
		fleet_bad_key(d, k, s->config_rev, err);
		sluice_config_free(c);
		return;
	}
	sub = *c;
	sub.nservices = 1;
	sub.services = &c->services[i];
	r = sluice_config_apply(d->s, &sub, &o, &res);
	if (r < 0)
		snprintf(s->error, sizeof(s->error), "%s", sluice_errmsg(d->s));
	sluice_apply_result_free(&res);
	sluice_config_free(c);
	if (r < 0)
		goto bad;
	s->error[0] = 0;
	s->applied_c_rev = s->config_rev;
	dlog(d, LOG_INFO_, "fleet: %s: config revision %lld applied (%d change%s)", s->name,
	     (long long)s->config_rev, r, r == 1 ? "" : "s");
	if (promoted && !had) {
		s->promoted_rev = s->rollout_rev;
		r = sluice_promote(d->s, s->name, 0);
		if (r < 0)
			snprintf(s->error, sizeof(s->error), "config revision %lld applied, cannot promote it: %.500s",
				 (long long)s->config_rev, sluice_errmsg(d->s));
		else
			dlog(d, LOG_INFO_, "fleet: %s: a fresh node: config revision %lld promoted as the fleet did (rollout revision %lld)",
			     s->name, (long long)s->config_rev, (long long)s->rollout_rev);
	}
	/* the fleet's weights and kill switch stay over the file's */
	s->dirty_w = s->has_weights;
	s->dirty_k = s->kill >= 0;
	return;
bad:
	dlog(d, LOG_ERR_, "fleet: %s: config revision %lld not applied, the maps are unchanged: %s",
	     s->name, (long long)s->config_rev, s->error);
}

/* The rollout promoted: the same as the local engine's end (the canary
 * pool becomes the baseline, weights 0), once per promotion, and only
 * where the canary still carries traffic (a node that promoted already,
 * or a restart after it, has weight 0 there). */
static void apply_promotion(struct daemon *d, struct fsvc *s)
{
	struct sluice_service_spec *spec;
	bool live = false;
	int r, i;

	if (strcmp(fleet_phase_of(s->rollout), "promoted") || s->promoted_rev == s->rollout_rev)
		return;
	s->promoted_rev = s->rollout_rev;
	spec = malloc(sizeof(*spec));
	if (spec && !sluice_service_get(d->s, s->name, spec))
		for (i = 0; i < SLUICE_MAX_RINGS; i++)
			live |= spec->weight[i] > 0;
	free(spec);
	if (!live)
		return;
	r = sluice_promote(d->s, s->name, 0);
	if (r < 0)
		snprintf(s->error, sizeof(s->error), "cannot promote: %s", sluice_errmsg(d->s));
	else
		dlog(d, LOG_INFO_, "fleet: %s: promoted (revision %lld): the canary pool is the baseline",
		     s->name, (long long)s->rollout_rev);
}

/*
 * A rollback's live canary flows (the plan's on_rollback: live_flows:, in
 * the live_flows key the leader writes with the kill switch): new flows go
 * to the baseline at once; reset re-decides the live canary flows with the
 * kill switch, drain at the end of its grace, counted from when this node
 * applied the kill switch (kept across a restart: drain_due_load); keep,
 * or no key (the operator's revert --fleet), leaves them until their
 * clients end them.
 */
static void live_note(struct daemon *d, struct fsvc *s, bool reset)
{
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };
	struct sluice_live n = { 0 };
	char text[384];

	if (s->live_done_rev == s->kill_rev || s->applied_k_rev == s->kill_rev ||
	    sluice_service_view(d->s, s->name, &v))
		return;		/* told already, or no service */
	if (sluice_live_flows(d->s, s->name, v.lkg == SLUICE_CANARY ? SLUICE_BASELINE
								 : SLUICE_CANARY, &n))
		memset(&n, 0, sizeof(n));
	snprintf(text, sizeof(text),
		 "kill switch from the fleet (revision %lld): %u live canary flows (%u TCP, %u UDP); live_flows: %s",
		 (long long)s->kill_rev, n.tcp + n.udp, n.tcp, n.udp,
		 reset ? "reset: they are re-decided on their next packet" :
		 s->live == SLUICE_LIVE_DRAIN ? "drain: they are reset when the grace ends" :
		 "keep: they stay on the canary until their clients end them");
	dlog(d, LOG_INFO_, "fleet: %s: %s", s->name, text);
	audit_note(d, s->name, (__u64)s->rollout_rev, "live_flows", "fleet", text);
}

static bool maps_reset(struct daemon *d, const struct fsvc *s)
{
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };

	return !sluice_service_view(d->s, s->name, &v) &&
	       (v.kill & (SLUICE_KILL_REVERT | SLUICE_KILL_RESET)) ==
	       (SLUICE_KILL_REVERT | SLUICE_KILL_RESET);
}

/*
 * A drain's due time is kept in the node's store (meta fleet_drain/SVC:
 * "KILL_REV DUE_MS", steady clock), so a node killed during the grace
 * resets when the grace ends, not a whole grace after its restart.
 */
static void drain_key(const struct fsvc *s, char *k, size_t len)
{
	snprintf(k, len, "fleet_drain/%s", s->name);
}

static __u64 drain_due_load(struct daemon *d, const struct fsvc *s)
{
	unsigned long long due = 0;
	long long rev = -1;
	char k[96], *v = NULL;

	drain_key(s, k, sizeof(k));
	if (!d->db || store_meta_get(d->db, k, &v) || !v)
		return 0;
	if (sscanf(v, "%lld %llu", &rev, &due) != 2 || rev != s->kill_rev)
		due = 0;	/* another kill switch's */
	free(v);
	return due;
}

static void drain_due_keep(struct daemon *d, const struct fsvc *s, __u64 due)
{
	char k[96], v[64];

	drain_key(s, k, sizeof(k));
	snprintf(v, sizeof(v), "%lld %llu", (long long)s->kill_rev, (unsigned long long)due);
	if (d->db && (due ? store_meta_set(d->db, k, v) : store_meta_del(d->db, k)))
		dlog(d, LOG_WARN_, "fleet: %s: %s (the drain's end is not kept across a restart)",
		     s->name, store_errmsg(d->db));
}

/* No drain pending any more: in memory and in the store. */
static void drain_forget(struct daemon *d, struct fsvc *s)
{
	if (s->reset_due_ms)
		drain_due_keep(d, s, 0);
	s->reset_due_ms = 0;
}

static void live_after(struct daemon *d, struct fsvc *s, bool reset)
{
	__u64 now = steady_ms(), due;

	if (!s->kill) {
		drain_forget(d, s);
	} else if (reset || s->live != SLUICE_LIVE_DRAIN) {
		drain_forget(d, s);
		s->live_done_rev = s->kill_rev;
	} else if (s->live_done_rev != s->kill_rev && !s->reset_due_ms) {
		/* kept by a run killed during the grace: at most a grace
		 * from now (a wall clock step between the runs) */
		due = drain_due_load(d, s);
		if (!due || due > now + s->live_drain_ms) {
			due = now + s->live_drain_ms;
			drain_due_keep(d, s, due);
		}
		s->reset_due_ms = due;
	}
}

static void live_drain_due(struct daemon *d, struct fsvc *s)
{
	char text[256];

	if (!s->reset_due_ms || steady_ms() < s->reset_due_ms)
		return;
	if (s->kill != 1) {		/* lifted */
		drain_forget(d, s);
		return;
	}
	if (s->dirty_k) {		/* not applied yet: the store keeps the due
					 * time for the apply (live_after) */
		s->reset_due_ms = 0;
		return;
	}
	if (sluice_revert(d->s, s->name, true) < 0) {
		snprintf(s->error, sizeof(s->error), "cannot reset the live canary flows: %s",
			 sluice_errmsg(d->s));
		return;		/* tried again at the next apply */
	}
	drain_forget(d, s);
	s->live_done_rev = s->kill_rev;
	snprintf(text, sizeof(text),
		 "the drain's grace of %llu ms ended: the live canary flows are reset (kill switch revision %lld)",
		 (unsigned long long)s->live_drain_ms, (long long)s->kill_rev);
	dlog(d, LOG_INFO_, "fleet: %s: %s", s->name, text);
	audit_note(d, s->name, (__u64)s->rollout_rev, "live_flows", "fleet", text);
}

static void apply(struct daemon *d)
{
	struct fleet *F = fleet_of(d);
	unsigned int i;
	int err;

	svc_gc(F);
	if (!F->ok || ro_open_instance(d))
		return;
	for (i = 0; i < F->nsvc; i++) {
		struct fsvc *s = &F->svc[i];

		if (s->dirty_c)
			apply_config(d, s);
		apply_promotion(d, s);
		if (s->dirty_w) {
			err = sluice_set_weights(d->s, s->name, s->weight,
						 (1u << SLUICE_MAX_RINGS) - 1);
			if (err < 0) {
				snprintf(s->error, sizeof(s->error), "cannot set the weights: %s",
					 sluice_errmsg(d->s));
			} else {
				s->dirty_w = false;
				s->applied_w_rev = s->weights_rev;
				s->applied_w_ms = steady_ms();
				dlog(d, LOG_INFO_, "fleet: %s: weight %u bp (revision %lld)",
				     s->name, s->weight[0], (long long)s->weights_rev);
			}
		}
		if (s->dirty_k) {
			/* a reset on the maps stays while the switch stays on
			 * (a restart after the drain ended does not undo it) */
			bool reset = s->kill && ((s->live == SLUICE_LIVE_RESET &&
						  s->live_done_rev != s->kill_rev) ||
						 maps_reset(d, s));

			if (s->kill)
				live_note(d, s, reset);
			err = s->kill ? sluice_revert(d->s, s->name, reset)
				      : sluice_resume(d->s, s->name);
			if (err < 0) {
				snprintf(s->error, sizeof(s->error), "cannot %s the kill switch: %s",
					 s->kill ? "set" : "clear", sluice_errmsg(d->s));
			} else {
				s->dirty_k = false;
				s->applied_k_rev = s->kill_rev;
				s->applied_k_ms = steady_ms();
				if (err > 0)
					dlog(d, LOG_INFO_, "fleet: %s: kill switch %s (revision %lld)",
					     s->name, s->kill ? "on" : "off", (long long)s->kill_rev);
				live_after(d, s, reset);
			}
		}
		live_drain_due(d, s);
	}
}

/* ---- connection ------------------------------------------------------- */

static void start_watch(struct daemon *d);

void fleet_cut_off(struct daemon *d, const char *why)
{
	struct fleet *F = fleet_of(d);
	if (F->ok) {
		F->down_since_ms = steady_ms();
		dlog(d, LOG_WARN_, "fleet: etcd unreachable (%s): keeping revision %lld, not advancing",
		     why, (long long)F->applied_rev);
	}
	snprintf(F->why, sizeof(F->why), "%s", why);
	F->ok = false;
	F->leader_since_ms = 0;
	F->stage = F_LEASE;
	/* what is in flight belongs to the old generation: its answers are
	 * ignored, so nothing may wait for them */
	F->gen++;
	F->busy = F->keepalive_busy = F->report_busy = false;
	F->electing = F->leader_busy = false;
	if (F->watch_id > 0)
		httpc_cancel(F->hc, F->watch_id);
	F->watch_id = 0;
	F->next_try_ms = steady_ms() + 1000;
}

struct cbarg *fleet_cbarg(struct daemon *d)
{
	struct fleet *F = fleet_of(d);
	struct cbarg *a = calloc(1, sizeof(*a));

	if (a) {
		a->d = d;
		a->gen = F->gen;
	}
	return a;
}

/* Did the callback's generation end (a reconnect since)? Frees it then. */
bool fleet_stale(struct cbarg *a)
{
	struct fleet *F = fleet_of(a->d);
	if (F && a->gen == F->gen)
		return false;
	free(a);
	return true;
}

/* The watch's event callbacks share its argument with its end: they only
 * look at the generation. */
static void on_watch_batch(int64_t rev, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);

	if (!F || a->gen != F->gen)
		return;
	if (rev < 0) {
		F->resync = true;	/* fleet_tick starts over */
		return;
	}
	if (rev > F->applied_rev)
		F->applied_rev = rev;
	apply(a->d);
}

static void on_kv_watch(const char *k, const char *v, json_t *kv, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);

	if (F && a->gen == F->gen)
		on_kv(k, v, kv, a->d);
}

static void on_watch_done(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;

	(void)reply;
	if (fleet_stale(a))
		return;
	fleet_cut_off(a->d, err);
	free(a);
}

static void start_watch(struct daemon *d)
{
	struct fleet *F = fleet_of(d);
	struct cbarg *a = fleet_cbarg(d);

	F->watch_id = a ? etcd_watch(&F->e, F->prefix, F->applied_rev + 1, on_kv_watch,
				     on_watch_batch, on_watch_done, a) : -ENOMEM;
	if (F->watch_id < 0) {
		free(a);
		fleet_cut_off(d, "cannot start the watch");
	}
}

static void on_range(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);
	struct daemon *d = a->d;
	unsigned int i;

	if (fleet_stale(a))
		return;
	F->busy = false;
	if (!reply) {
		fleet_cut_off(d, err);
		free(a);
		return;
	}
	/* a resync: keys absent from the answer are gone */
	for (i = 0; i < F->nsvc; i++) {
		struct fsvc *s = &F->svc[i];

		json_decref(s->rollout);
		s->rollout = NULL;
		s->rollout_rev = 0;
		s->frozen = false;
		s->live = -1;
		s->live_drain_ms = 0;
	}
	F->leader[0] = 0;
	F->leader_lease = F->leader_create_rev = 0;
	F->global_freeze = false;
	json_object_clear(F->nodes);
	/* keys refused before and absent now drop out of the record */
	F->bad_prev = F->bad;
	F->bad = json_object();
	etcd_range_each(reply, on_kv, d);
	json_decref(F->bad_prev);
	F->bad_prev = NULL;
	F->applied_rev = etcd_int(json_object_get(reply, "header"), "revision");
	if (!F->ok)
		dlog(d, LOG_INFO_, "fleet: etcd reachable: at revision %lld", (long long)F->applied_rev);
	F->ok = true;
	F->why[0] = 0;
	F->stage = F_WATCH;
	/* level-triggered after a gap: everything etcd holds, once */
	for (i = 0; i < F->nsvc; i++) {
		F->svc[i].dirty_w = F->svc[i].has_weights;
		F->svc[i].dirty_k = F->svc[i].kill >= 0;
	}
	apply(d);
	start_watch(d);
	free(a);
}

static void on_lease(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);
	struct daemon *d = a->d;

	if (fleet_stale(a))
		return;
	F->busy = false;
	if (!reply || !etcd_int(reply, "ID")) {
		fleet_cut_off(d, reply ? "etcd granted no lease" : err);
		free(a);
		return;
	}
	F->lease = etcd_int(reply, "ID");
	F->stage = F_SYNC;
	F->next_keepalive_ms = steady_ms() + F->ttl_s * 1000 / 3;
	a->gen = F->gen;
	F->busy = etcd_call(&F->e, "/v3/kv/range", etcd_req_range_prefix(F->prefix),
			    FLEET_TIMEOUT_MS, on_range, a) > 0;
	if (!F->busy) {
		free(a);
		fleet_cut_off(d, "cannot read the prefix");
	}
}

static void on_keepalive(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);

	if (fleet_stale(a))
		return;
	F->keepalive_busy = false;
	if (!reply) {
		fleet_cut_off(a->d, err);
	} else if (etcd_int(json_object_get(reply, "result"), "TTL") <= 0) {
		/* the lease expired (a long cut): a new one, a new report */
		dlog(a->d, LOG_WARN_, "fleet: lease %lld expired; taking a new one",
		     (long long)F->lease);
		fleet_cut_off(a->d, "lease expired");
		F->next_try_ms = 0;
	}
	free(a);
}

static void on_done(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);

	if (fleet_stale(a))
		return;
	F->report_busy = false;
	if (!reply)
		fleet_cut_off(a->d, err);
	free(a);
}

/* The service's fleet plan, parsed once per revision (NULL: none, or
 * it does not parse: the leader says why). */
static struct sluice_plan *report_plan(struct fsvc *s)
{
	char err[256];

	if (s->rplan_rev != s->plan_rev) {
		sluice_plan_free(s->rplan);
		s->rplan = s->plan_text ? sluice_plan_parse_string(s->plan_text, s->name, err,
								    sizeof(err)) : NULL;
		s->rplan_rev = s->plan_rev;
	}
	return s->rplan;
}

/* This node's report: what it applied and its counters per service, and
 * its handshake-latency histograms when the fleet's plan has a latency
 * gate (the leader sums them). */
static void report(struct daemon *d)
{
	struct fleet *F = fleet_of(d);
	static struct rollout tmp;
	json_t *j = json_object(), *svcs = json_object();
	char k[512], *text;
	struct cbarg *a;
	unsigned int i;

	for (i = 0; i < F->nsvc; i++) {
		struct fsvc *s = &F->svc[i];
		__u64 nf[2] = { 0 }, bad[2] = { 0 };

		snprintf(tmp.service, sizeof(tmp.service), "%s", s->name);
		tmp.svc_id = 0;
		tmp.plan = report_plan(s);
		if (!sample_fill(d, &tmp, &d->obs))
			sample_totals(&d->obs, nf, bad);
		tmp.plan = NULL;
		/* fs: the counters per variant and ring the fleet's gates
		 * judge (the leader sums them); new_flows, bad: totals for status */
		json_object_set_new(svcs, s->name, json_pack(
			"{s:i, s:b, s:I, s:I, s:[I,I], s:[I,I], s:i, s:o}",
			"weight", d->obs.exists ? d->obs.weight[0] : -1,
			"kill", d->obs.exists && d->obs.kill,
			"weights_rev", (json_int_t)s->applied_w_rev,
			"kill_rev", (json_int_t)s->applied_k_rev,
			"new_flows", (json_int_t)nf[0], (json_int_t)nf[1],
			"bad", (json_int_t)bad[0], (json_int_t)bad[1],
			"mode", d->obs.exists ? d->obs.mode : 0,
			"fs", fleet_fs_json(d->obs.fs)));
		if (d->obs.exists && s->rplan && plan_needs_latency(s->rplan)) {
			static __u64 lat[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
			int v;

			for (v = 0; v < SLUICE_VARIANTS; v++)
				memcpy(lat[v], d->obs.health[v].lat, sizeof(lat[v]));
			json_object_set_new(json_object_get(svcs, s->name), "lat",
					    fleet_lat_json(lat));
		}
	}
	json_object_set_new(j, "revision", json_integer(F->applied_rev));
	json_object_set_new(j, "at_ms", json_integer(steady_ms()));
	json_object_set_new(j, "requests", json_integer(F->e.requests));
	json_object_set_new(j, "services", svcs);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	snprintf(k, sizeof(k), "%s/nodes/%s", F->prefix, F->node);
	a = fleet_cbarg(d);
	if (text && a) {
		F->report_busy = etcd_call(&F->e, "/v3/kv/put", etcd_req_put(k, text, F->lease),
					   FLEET_TIMEOUT_MS, on_done, a) > 0;
		if (!F->report_busy)
			free(a);
	} else {
		free(a);
	}
	free(text);
}

/* ---- leadership ------------------------------------------------------- */

static void on_elect(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);

	if (fleet_stale(a))
		return;
	F->electing = false;
	if (!reply)
		fleet_cut_off(a->d, err);
	/* won or lost, the watch tells who leads */
	free(a);
}

static void elect(struct daemon *d)
{
	struct fleet *F = fleet_of(d);
	char k[512];
	json_t *txn;
	struct cbarg *a;

	fleet_key(F, k, sizeof(k), NULL, "leader");
	txn = json_pack("{s:[o], s:[{s:o}]}", "compare", etcd_cmp(k, "CREATE", 0),
			"success", "request_put", etcd_req_put(k, F->node, F->lease));
	a = fleet_cbarg(d);
	if (!a || !txn) {
		json_decref(txn);
		free(a);
		return;
	}
	F->electing = etcd_call(&F->e, "/v3/kv/txn", txn, FLEET_TIMEOUT_MS, on_elect, a) > 0;
	if (!F->electing)
		free(a);
}

/* ---- the tick --------------------------------------------------------- */

void fleet_tick(struct daemon *d, __u64 now)
{
	struct fleet *F = fleet_of(d);
	struct cbarg *a;

	if (!F)
		return;
	if (F->stage == F_LEASE && !F->busy && now >= F->next_try_ms) {
		a = fleet_cbarg(d);
		F->busy = a && etcd_call(&F->e, "/v3/lease/grant",
					 json_pack("{s:i}", "TTL", F->ttl_s),
					 FLEET_TIMEOUT_MS, on_lease, a) > 0;
		if (!F->busy) {
			free(a);
			F->next_try_ms = now + 1000;
		}
		return;
	}
	if (F->stage != F_WATCH)
		return;
	if (F->resync) {
		F->resync = false;
		fleet_cut_off(d, "etcd cancelled the watch (compacted?)");
		F->next_try_ms = 0;
		return;
	}
	apply(d);	/* what failed before (no instance yet) */
	if (!F->keepalive_busy && now >= F->next_keepalive_ms) {
		a = fleet_cbarg(d);
		F->next_keepalive_ms = now + F->ttl_s * 1000 / 3;
		F->keepalive_busy = a && etcd_call(&F->e, "/v3/lease/keepalive",
						   json_pack("{s:I}", "ID", (json_int_t)F->lease),
						   FLEET_TIMEOUT_MS, on_keepalive, a) > 0;
		if (!F->keepalive_busy)
			free(a);
	}
	if (F->stage != F_WATCH)
		return;
	if (!F->report_busy && now >= F->next_report_ms) {
		F->next_report_ms = now + FLEET_REPORT_MS;
		report(d);
	}
	if (!F->leader[0] && !F->electing)
		elect(d);
	if (fleet_am_leader(F) && !F->leader_busy)
		fleet_lead(d, now);
}

int fleet_opts_check(const struct fleet_opts *o, char *err, size_t errlen)
{
	static const char *const opt[3] = { "--etcd-cacert", "--etcd-cert", "--etcd-key" };
	const char *f[3] = { o->cacert, o->cert, o->key };
	static struct etcd probe;
	int i;

	if (!o->etcd_url) {
		if (o->cacert || o->cert || o->key) {
			snprintf(err, errlen, "--etcd-cacert, --etcd-cert and --etcd-key need --etcd");
			return -EINVAL;
		}
		return 0;
	}
	if (etcd_init(&probe, NULL, o->etcd_url, err, errlen))
		return -EINVAL;
	if (!o->cert != !o->key) {
		snprintf(err, errlen, "--etcd-cert and --etcd-key go together (a client certificate and its key)");
		return -EINVAL;
	}
	for (i = 0; i < 3; i++)
		if (f[i] && access(f[i], R_OK)) {
			snprintf(err, errlen, "%s: cannot read '%s': %s", opt[i], f[i], strerror(errno));
			return -EINVAL;
		}
	return 0;
}

int fleet_start(struct daemon *d, const struct fleet_opts *o, char *err,
		size_t errlen)
{
	struct fleet *F;
	char host[64] = "";
	int r = fleet_opts_check(o, err, errlen);

	if (r || !o->etcd_url)
		return r;
	F = calloc(1, sizeof(*F));
	d->mod[MOD_FLEET] = F;	/* fleet_stop frees it */
	if (!F || !(F->hc = httpc_new_on(d->sched)) || !(F->nodes = json_object()) ||
	    !(F->prev = json_object()) || !(F->bad = json_object())) {
		fleet_stop(d);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (etcd_init(&F->e, F->hc, o->etcd_url, err, errlen)) {
		fleet_stop(d);
		return -EINVAL;
	}
	if (httpc_tls(F->hc, o->cacert, o->cert, o->key)) {
		fleet_stop(d);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(F->node, sizeof(F->node), "%s", o->node ? o->node : host);
	snprintf(F->prefix, sizeof(F->prefix), "/sluice/%s", o->cluster ? o->cluster : "default");
	F->ttl_s = o->ttl_s ? o->ttl_s : 3;
	F->stage = F_LEASE;
	F->gen = 1;
	snprintf(F->why, sizeof(F->why), "not connected yet");
	F->down_since_ms = steady_ms();
	return 0;
}

void fleet_stop(struct daemon *d)
{
	struct fleet *f = fleet_of(d);
	unsigned int i;

	if (!f)
		return;
	/* callbacks of the cancelled requests see stale */
	d->mod[MOD_FLEET] = NULL;
	if (f->hc)
		httpc_free(f->hc);
	for (i = 0; i < f->nsvc; i++) {
		free(f->svc[i].plan_text);
		sluice_plan_free(f->svc[i].rplan);
		free(f->svc[i].config_text);
		fleet_lead_free(&f->svc[i]);
		json_decref(f->svc[i].rollout);
	}
	json_decref(f->nodes);
	json_decref(f->prev);
	json_decref(f->bad);
	free(f);
}
