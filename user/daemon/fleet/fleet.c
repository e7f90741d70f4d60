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
#include "sluiced.h"
#include "fleet.h"
#include "etcd.h"
#include "fleet_judge.h"
#include "fleet_value.h"
#include "httpc.h"

#define FLEET_MAX_SVC	64
#define FLEET_TIMEOUT_MS 1000
#define FLEET_REPORT_MS	1000

struct fsvc {
	char name[SLUICE_NAME_LEN];
	/* desired (etcd) */
	bool has_weights, dirty_w;
	__u16 weight[SLUICE_MAX_RINGS];
	int64_t weights_rev;
	int kill;			/* -1 no key, 0 off, 1 on */
	bool dirty_k;
	int64_t kill_rev;
	char *plan_text;
	int64_t plan_rev;
	char *config_text;		/* the config key (YAML), NULL none */
	int64_t config_rev;
	bool dirty_c;
	json_t *rollout;		/* the rollout key, parsed */
	int64_t rollout_rev;		/* its mod revision; 0 none */
	bool frozen;
	/* applied here */
	int64_t applied_w_rev, applied_k_rev;
	int64_t applied_c_rev;		/* config applied by this daemon */
	int64_t promoted_rev;		/* the promoted rollout acted on */
	__u64 applied_w_ms, applied_k_ms;
	char error[768];
	/* the leader's gate state of the current step (allocated on first
	 * use; rebuilt from etcd's state when the step changes) */
	struct fleet_gates *fg;
};

struct fleet {
	struct etcd e;
	struct httpc *hc;
	char prefix[256], node[64];
	unsigned int ttl_s;
	/* connection */
	enum { F_LEASE, F_SYNC, F_WATCH } stage;
	bool busy;			/* a lease/range request in flight */
	bool ok;
	__u64 down_since_ms, next_try_ms;
	char why[512];
	int64_t lease, gen;		/* gen: bumped per reconnect */
	int64_t watch_id;
	bool resync;			/* etcd cancelled the watch */
	int64_t applied_rev;
	__u64 next_keepalive_ms, next_report_ms;
	bool keepalive_busy, report_busy;
	/* leadership */
	char leader[64];
	int64_t leader_lease, leader_create_rev;
	bool electing, leader_busy;
	__u64 leader_since_ms;
	bool global_freeze;
	json_t *nodes;			/* node -> its last report */
	json_t *prev;			/* node -> the report before it */
	json_t *bad, *bad_prev;		/* keys that did not parse (fleet_value.h) */
	unsigned int nsvc;
	struct fsvc svc[FLEET_MAX_SVC];
};

static struct fleet *F;	/* one per daemon */

bool fleet_on(const struct daemon *d)
{
	(void)d;
	return F != NULL;
}

static struct fsvc *svc_get(const char *name, bool create);

bool fleet_has_service(const struct daemon *d, const char *service)
{
	struct fsvc *s;

	(void)d;
	s = F ? svc_get(service, false) : NULL;
	return s && (s->has_weights || s->kill >= 0 || s->plan_text || s->rollout ||
		     s->config_text);
}

static bool am_leader(void)
{
	return F->ok && F->leader_lease == F->lease && !strcmp(F->leader, F->node);
}

static void key(char *buf, size_t len, const char *svc, const char *leaf)
{
	if (svc)
		snprintf(buf, len, "%s/services/%s/%s", F->prefix, svc, leaf);
	else
		snprintf(buf, len, "%s/%s", F->prefix, leaf);
}

static struct fsvc *svc_get(const char *name, bool create)
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
	return &F->svc[F->nsvc++];
}

/* An entry none of whose keys is left, nothing to undo: its slot is free. */
static bool svc_unused(const struct fsvc *s)
{
	return !s->has_weights && s->kill < 0 && !s->plan_text && !s->config_text &&
	       !s->rollout && !s->frozen && !s->applied_c_rev && !s->dirty_c;
}

static void svc_gc(void)
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
		free(s->fg);
		json_decref(s->rollout);
		*s = F->svc[--F->nsvc];
	}
}

/* A key whose value did not parse: in status, logged once per revision. */
static void bad_key(struct daemon *d, const char *k, int64_t rev, const char *err)
{
	if (fleet_bad_set(F->bad, F->bad_prev, k, rev, err))
		dlog(d, LOG_ERR_, "fleet: %s; skipped until the key changes", err);
}

/* ---- etcd's state -> memory ------------------------------------------- */

static void on_kv(const char *k, const char *v, json_t *kv, void *arg)
{
	struct daemon *d = arg;
	size_t pl = strlen(F->prefix);
	const char *rest, *slash;
	char name[SLUICE_NAME_LEN + 1], err[512];
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
		if (am_leader() && !F->leader_since_ms) {
			F->leader_since_ms = steady_ms();
			dlog(d, LOG_INFO_, "fleet: this node (%s) leads the fleet", F->node);
		} else if (!am_leader()) {
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
			bad_key(d, k, rev, err);
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
	s = svc_get(name, v != NULL);
	if (!s && v) {
		/* revision 0: looked at again when it comes back */
		if (F->nsvc == FLEET_MAX_SVC)
			snprintf(err, sizeof(err), "%.250s: more than %d services under %.150s/services: "
				 "service '%s' ignored on this node", k, FLEET_MAX_SVC, F->prefix, name);
		else
			snprintf(err, sizeof(err), "%.250s: '%s' is not a service name (1-%d characters)",
				 k, name, SLUICE_NAME_LEN - 1);
		bad_key(d, k, 0, err);
	}
	if (!s)
		return;
	slash++;
	if (!strcmp(slash, "weights")) {
		if (!v) {
			s->has_weights = false;
		} else if (fleet_parse_weights(v, s->weight, k, err, sizeof(err))) {
			bad_key(d, k, rev, err);	/* the maps keep their weights */
		} else {
			s->has_weights = s->dirty_w = true;
			s->weights_rev = rev;
			s->error[0] = 0;
		}
	} else if (!strcmp(slash, "killswitch")) {
		/* only on and off: anything else keeps the maps as they are */
		ks = v ? fleet_parse_killswitch(v, k, err, sizeof(err)) : -1;
		if (v && ks < 0) {
			bad_key(d, k, rev, err);
			return;
		}
		s->kill = ks;
		s->dirty_k = s->kill >= 0;
		s->kill_rev = rev;
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
			bad_key(d, k, rev, err);
	} else if (!strcmp(slash, "freeze")) {
		s->frozen = v != NULL;
	}
}

/* ---- memory -> this node's maps --------------------------------------- */

static const char *phase_of(const json_t *ro)
{
	const char *p = json_string_value(json_object_get(ro, "phase"));

	return p ? p : "";
}

/* Did the fleet promote the config key's revision? The promoted state
 * names it (an older leader's state: any config older than it). */
static bool config_promoted(const struct fsvc *s)
{
	const json_t *cr = json_object_get(s->rollout, "config_rev");

	if (strcmp(phase_of(s->rollout), "promoted"))
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
	struct sluice_apply_opts o = { .keep = true };
	struct sluice_apply_result res = {};
	struct sluice_service_spec *spec;
	struct sluice_config *c, sub;
	char k[512], err[512];
	bool promoted, had;
	unsigned int i;
	int r;

	s->dirty_c = false;
	key(k, sizeof(k), s->name, "config");
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
		bad_key(d, k, s->config_rev, err);
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

	if (strcmp(phase_of(s->rollout), "promoted") || s->promoted_rev == s->rollout_rev)
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

static void apply(struct daemon *d)
{
	unsigned int i;
	int err;

	svc_gc();
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
			err = s->kill ? sluice_revert(d->s, s->name, false)
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
			}
		}
	}
}

/* ---- connection ------------------------------------------------------- */

static void start_watch(struct daemon *d);

static void cut_off(struct daemon *d, const char *why)
{
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

/* callbacks carry the generation they were started in */
struct cbarg {
	struct daemon *d;
	int64_t gen;
	char svc[SLUICE_NAME_LEN];
	int64_t step;
};

static struct cbarg *cbarg(struct daemon *d)
{
	struct cbarg *a = calloc(1, sizeof(*a));

	if (a) {
		a->d = d;
		a->gen = F->gen;
	}
	return a;
}

/* Did the callback's generation end (a reconnect since)? Frees it then. */
static bool stale(struct cbarg *a)
{
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

	if (F && a->gen == F->gen)
		on_kv(k, v, kv, a->d);
}

static void on_watch_done(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;

	(void)reply;
	if (stale(a))
		return;
	cut_off(a->d, err);
	free(a);
}

static void start_watch(struct daemon *d)
{
	struct cbarg *a = cbarg(d);

	F->watch_id = a ? etcd_watch(&F->e, F->prefix, F->applied_rev + 1, on_kv_watch,
				     on_watch_batch, on_watch_done, a) : -ENOMEM;
	if (F->watch_id < 0) {
		free(a);
		cut_off(d, "cannot start the watch");
	}
}

static void on_range(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct daemon *d = a->d;
	unsigned int i;

	if (stale(a))
		return;
	F->busy = false;
	if (!reply) {
		cut_off(d, err);
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
	struct daemon *d = a->d;

	if (stale(a))
		return;
	F->busy = false;
	if (!reply || !etcd_int(reply, "ID")) {
		cut_off(d, reply ? "etcd granted no lease" : err);
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
		cut_off(d, "cannot read the prefix");
	}
}

static void on_keepalive(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;

	if (stale(a))
		return;
	F->keepalive_busy = false;
	if (!reply) {
		cut_off(a->d, err);
	} else if (etcd_int(json_object_get(reply, "result"), "TTL") <= 0) {
		/* the lease expired (a long cut): a new one, a new report */
		dlog(a->d, LOG_WARN_, "fleet: lease %lld expired; taking a new one",
		     (long long)F->lease);
		cut_off(a->d, "lease expired");
		F->next_try_ms = 0;
	}
	free(a);
}

static void on_done(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;

	if (stale(a))
		return;
	F->report_busy = false;
	if (!reply)
		cut_off(a->d, err);
	free(a);
}

/* This node's report: what it applied and its counters per service. */
static void report(struct daemon *d)
{
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
		if (!sample_fill(d, &tmp, &d->obs))
			sample_totals(&d->obs, nf, bad);
		/* fs: the counters per variant and ring the fleet's gates
		 * judge (fleet_judge.h); new_flows, bad: totals for status */
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
	}
	json_object_set_new(j, "revision", json_integer(F->applied_rev));
	json_object_set_new(j, "at_ms", json_integer(steady_ms()));
	json_object_set_new(j, "requests", json_integer(F->e.requests));
	json_object_set_new(j, "services", svcs);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	snprintf(k, sizeof(k), "%s/nodes/%s", F->prefix, F->node);
	a = cbarg(d);
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

	if (stale(a))
		return;
	F->electing = false;
	if (!reply)
		cut_off(a->d, err);
	/* won or lost, the watch tells who leads */
	free(a);
}

static void elect(struct daemon *d)
{
	char k[512];
	json_t *txn;
	struct cbarg *a;

	key(k, sizeof(k), NULL, "leader");
	txn = json_pack("{s:[o], s:[{s:o}]}", "compare", etcd_cmp(k, "CREATE", 0),
			"success", "request_put", etcd_req_put(k, F->node, F->lease));
	a = cbarg(d);
	if (!a || !txn) {
		json_decref(txn);
		free(a);
		return;
	}
	F->electing = etcd_call(&F->e, "/v3/kv/txn", txn, FLEET_TIMEOUT_MS, on_elect, a) > 0;
	if (!F->electing)
		free(a);
}

static void on_step(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;

	if (stale(a))
		return;
	F->leader_busy = false;
	if (!reply)
		cut_off(a->d, err);
	else if (json_is_true(json_object_get(reply, "succeeded")))
		dlog(a->d, LOG_INFO_, "fleet: %s: step %lld written", a->svc, (long long)a->step);
	else
		dlog(a->d, LOG_INFO_, "fleet: %s: step %lld not written (the rollout or the leadership moved)",
		     a->svc, (long long)a->step);
	free(a);
}

/*
 * Write the rollout's next state (and the weights, weight >= 0, or the
 * kill switch, kill >= 0, it implies) if, and only if, this node still leads under the same leader
 * key and the rollout key is the one it judged.
 */
static void write_state(struct daemon *d, struct fsvc *s, json_t *state,
			int weight, int kill)
{
	char kl[512], kr[512], kw[512], kk[512], num[16], *text;
	json_t *txn, *ops;
	struct cbarg *a = cbarg(d);

	key(kl, sizeof(kl), NULL, "leader");
	key(kr, sizeof(kr), s->name, "rollout");
	key(kw, sizeof(kw), s->name, "weights");
	key(kk, sizeof(kk), s->name, "killswitch");
	text = json_dumps(state, JSON_COMPACT);
	ops = json_array();
	json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(kr, text, 0)));
	if (weight >= 0) {
		snprintf(num, sizeof(num), "%d", weight);
		json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(kw, num, 0)));
	}
	if (kill >= 0)	/* 1: revert every node; 0: lift it (a new start) */
		json_array_append_new(ops, json_pack("{s:o}", "request_put",
						     etcd_req_put(kk, kill ? "on" : "off", 0)));
	txn = json_pack("{s:[o,o], s:o}", "compare",
			etcd_cmp(kl, "CREATE", F->leader_create_rev),
			etcd_cmp(kr, "MOD", s->rollout_rev), "success", ops);
	free(text);
	if (!a || !txn) {
		json_decref(txn);
		free(a);
		return;
	}
	snprintf(a->svc, sizeof(a->svc), "%s", s->name);
	a->step = json_integer_value(json_object_get(state, "step"));
	F->leader_busy = etcd_call(&F->e, "/v3/kv/txn", txn, FLEET_TIMEOUT_MS, on_step, a) > 0;
	if (!F->leader_busy)
		free(a);
}

static json_t *state_new(const char *phase, int step, __u64 now, const char *why)
{
	return json_pack("{s:s, s:i, s:I, s:s, s:s}", "phase", phase, "step", step,
			 "step_started_ms", (json_int_t)now, "reason", why, "by", F->node);
}

/* Paused: the state as it is, its hold stopped at now (resume_state). */
static json_t *paused_state(const json_t *ro, __u64 now, const char *why)
{
	json_t *st = json_deep_copy(ro);

	json_object_set_new(st, "phase", json_string("paused"));
	json_object_set_new(st, "paused_at_ms", json_integer(now));
	json_object_set_new(st, "reason", json_string(why));
	return st;
}

/* The step's base: every reporting node's counters now (fleet_judge.h). */
static void with_base(json_t *st, const char *svc)
{
	struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	json_t *base = json_object(), *rep;
	const char *node;

	json_object_foreach(F->nodes, node, rep)
		if (fleet_node_fs(rep, svc, fs))
			json_object_set_new(base, node, json_pack("{s:o}", "fs", fleet_fs_json(fs)));
	json_object_set_new(st, "base", base);
}

/* A new step's state: its base, its id, and the gates' evidence so far
 * (written with the step in one fenced transaction: a new leader carries
 * the tests on from there). */
static json_t *step_state(struct fsvc *s, const struct sluice_plan *p, int step,
			  __u64 now, const char *why)
{
	json_t *st = state_new("progressing", step, now, why);

	with_base(st, s->name);
	json_object_set_new(st, "step_id", json_integer(now));
	if (s->fg && step > 0)
		json_object_set_new(st, "gates", fleet_gates_save(p, s->fg));
	return st;
}

/* Progressing again: the step's start moves by the paused time (the
 * hold goes on where it stopped); the gates count afresh from now, with
 * a new base (the evidence that paused it is not carried over). */
static json_t *resume_state(struct fsvc *s, __u64 now, const char *why)
{
	json_t *st = json_deep_copy(s->rollout);
	json_int_t at = json_integer_value(json_object_get(st, "paused_at_ms"));

	if (at && (__u64)at <= now)
		json_object_set_new(st, "step_started_ms", json_integer(
			json_integer_value(json_object_get(st, "step_started_ms")) + (now - at)));
	json_object_del(st, "paused_at_ms");
	json_object_del(st, "gates");
	json_object_set_new(st, "phase", json_string("progressing"));
	json_object_set_new(st, "reason", json_string(why));
	json_object_set_new(st, "step_id", json_integer(now));
	with_base(st, s->name);
	return st;
}

/* The gates' verdict on the fleet's sums of this step at now. */
static enum fleet_verdict judge(struct fsvc *s, const struct sluice_plan *p, int step,
				__u64 now, bool hold_done, char *why, size_t len)
{
	json_t *ro = s->rollout;
	long long id = json_integer_value(json_object_get(ro, "step_id"));
	struct eng_obs *obs = malloc(sizeof(*obs));
	__u16 w[SLUICE_MAX_RINGS];
	enum fleet_verdict v = FJ_WAIT;
	int r;

	if (!id)	/* a state of an older leader */
		id = json_integer_value(json_object_get(ro, "step_started_ms"));
	if (!s->fg)
		s->fg = calloc(1, sizeof(*s->fg));
	if (!obs || !s->fg)
		goto out;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		w[r] = s->has_weights ? s->weight[r] : 0;
	fleet_obs_sum(F->nodes, json_object_get(ro, "base"), s->name, w, obs);
	/* a new step, or a step this leader took over: the tests carry on
	 * from the step's start, the step's counting starts now */
	if (s->fg->step_id != id &&
	    fleet_gates_begin(p, s->fg, id, json_object_get(ro, "gates"), obs, now)) {
		snprintf(why, len, "bad gate in the plan");
		v = FJ_PAUSE;
		goto out;
	}
	v = fleet_judge(p, s->fg, step, obs, now, hold_done, why, len);
out:
	free(obs);
	return v;
}

static int step_weight(const struct sluice_plan *p, int i)
{
	return p->steps[i].kind == SLUICE_STEP_CUTOVER ? 10000 : p->steps[i].weight[0];
}

/* Promoted: the state names the config revision it promoted, so that a
 * node applying that revision afresh (no service in its maps) promotes
 * it too (apply_config): etcd alone says what the maps hold. */
static json_t *promoted_state(struct fsvc *s, int step, __u64 now, const char *why)
{
	json_t *st = state_new("promoted", step, now, why);

	if (s->config_text)
		json_object_set_new(st, "config_rev", json_integer(s->config_rev));
	return st;
}

/*
 * An operator's promote (fleet_command wrote "promote" into the rollout
 * key): the current step ends now, its gates not waited for, as the local
 * engine's promote; "full": straight to the promotion. The new state has
 * no "promote" and is written fenced on the leader key and the rollout
 * key's revision: the request is consumed in the same transaction as the
 * step it causes, so a later leader never acts on it again. Frozen, it
 * waits (the hold and the gates still run). Returns whether it acted.
 */
static bool promote_req(struct daemon *d, struct fsvc *s, const struct sluice_plan *p,
			const char *phase, __u64 now)
{
	const char *how = json_string_value(json_object_get(s->rollout, "promote"));
	long long id = json_integer_value(json_object_get(s->rollout, "step_id"));
	int i = json_integer_value(json_object_get(s->rollout, "step"));
	char why[128];
	json_t *st;

	if (!how || (strcmp(phase, "progressing") && strcmp(phase, "paused")) ||
	    F->global_freeze || s->frozen || i < 0 || i >= (int)p->nsteps)
		return false;
	if (!strcmp(how, "full") || i + 1 == (int)p->nsteps) {
		snprintf(why, sizeof(why), "promoted by the operator at step %d%s", i + 1,
			 !strcmp(how, "full") ? " (--full)" : "");
		st = promoted_state(s, i, now, why);
		write_state(d, s, st, 0, -1);
	} else {
		/* the gates' evidence goes on only if it is this step's */
		if (s->fg && s->fg->step_id != id) {
			free(s->fg);
			s->fg = NULL;
		}
		snprintf(why, sizeof(why), "promoted by the operator: step %d ended early, its gates not waited for",
			 i + 1);
		st = step_state(s, p, i + 1, now, why);
		write_state(d, s, st, step_weight(p, i + 1), -1);
	}
	json_decref(st);
	return true;
}

static void lead_one(struct daemon *d, struct fsvc *s, __u64 now)
{
	const char *phase = json_string_value(json_object_get(s->rollout, "phase"));
	struct sluice_plan *p;
	char err[512], why[512], pk[512];
	json_t *st = NULL, *bad;
	enum fleet_verdict verdict;
	json_int_t frozen_at;
	int i;

	if (!phase || !strcmp(phase, "promoted") || !strcmp(phase, "rolled_back") ||
	    !strcmp(phase, "aborted") || !strcmp(phase, "error"))
		return;
	if (!strcmp(phase, "abort")) {
		st = state_new("aborted", -1, now, "aborted by the operator");
		write_state(d, s, st, -1, 1);
		json_decref(st);
		return;
	}
	key(pk, sizeof(pk), s->name, "plan");
	bad = json_object_get(F->bad, pk);
	snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(bad, "error")) ?: "");
	p = s->plan_text && !bad ? sluice_plan_parse_string(s->plan_text, pk, err, sizeof(err)) : NULL;
	if (s->plan_text && !p && !bad)
		bad_key(d, pk, s->plan_rev, err);
	if (p && d->s && ro_resolve_service(d, p, s->name, err, sizeof(err))) {
		sluice_plan_free(p);
		p = NULL;
	}
	if (!p) {
		st = state_new("error", -1, now, s->plan_text ? err : "no plan in etcd");
		write_state(d, s, st, -1, -1);
		json_decref(st);
		return;
	}
	if (!strcmp(phase, "start")) {
		st = step_state(s, p, 0, now, "started");
		write_state(d, s, st, step_weight(p, 0), s->kill == 1 ? 0 : -1);
		goto out;
	}
	if (promote_req(d, s, p, phase, now))
		goto out;
	if (strcmp(phase, "progressing"))
		goto out;
	/* a freeze stops the hold: its start goes into etcd, and the end
	 * moves the step's start by the frozen time (a new leader sees
	 * both), so holds resume where they were */
	frozen_at = json_integer_value(json_object_get(s->rollout, "frozen_at_ms"));
	if ((F->global_freeze || s->frozen) != !!frozen_at) {
		st = json_deep_copy(s->rollout);
		if (frozen_at) {
			json_object_set_new(st, "step_started_ms", json_integer(
				json_integer_value(json_object_get(st, "step_started_ms")) +
				(now - frozen_at)));
			json_object_del(st, "frozen_at_ms");
		} else {
			json_object_set_new(st, "frozen_at_ms", json_integer(now));
		}
		write_state(d, s, st, -1, -1);
		goto out;
	}
	i = json_integer_value(json_object_get(s->rollout, "step"));
	if (i < 0 || i >= (int)p->nsteps)
		goto out;
	if (p->steps[i].kind == SLUICE_STEP_PAUSE && !p->steps[i].hold_ms)
		goto out;	/* waits for a promote */
	/* the gates are evaluated every interval, frozen or not (a failure
	 * still rolls back); the hold counts from the step's start as
	 * written in etcd: a new leader keeps what is left of it */
	verdict = judge(s, p, i, now, !frozen_at &&
			now >= (__u64)json_integer_value(json_object_get(s->rollout, "step_started_ms")) +
			       p->steps[i].hold_ms, why, sizeof(why));
	if (verdict == FJ_FAIL && p->on_failure == SLUICE_ON_FAILURE_ROLLBACK) {
		st = state_new("rolled_back", i, now, why);
		write_state(d, s, st, -1, 1);
	} else if (verdict == FJ_FAIL || verdict == FJ_PAUSE) {
		st = paused_state(s->rollout, now, why);
		write_state(d, s, st, -1, -1);
	} else if (verdict == FJ_PASS && i + 1 == (int)p->nsteps) {
		/* every node promotes (apply_promotion): weights 0 with it */
		st = promoted_state(s, i, now, "every step passed");
		write_state(d, s, st, 0, -1);
	} else if (verdict == FJ_PASS) {
		st = step_state(s, p, i + 1, now, "previous step passed");
		write_state(d, s, st, step_weight(p, i + 1), -1);
	}
out:
	json_decref(st);
	sluice_plan_free(p);
}

static void lead(struct daemon *d, __u64 now)
{
	unsigned int i;

	for (i = 0; i < F->nsvc && !F->leader_busy; i++)
		if (F->svc[i].rollout)
			lead_one(d, &F->svc[i], now);
}

/* ---- the tick --------------------------------------------------------- */

void fleet_tick(struct daemon *d, __u64 now)
{
	struct cbarg *a;

	if (!F)
		return;
	if (F->stage == F_LEASE && !F->busy && now >= F->next_try_ms) {
		a = cbarg(d);
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
		cut_off(d, "etcd cancelled the watch (compacted?)");
		F->next_try_ms = 0;
		return;
	}
	apply(d);	/* what failed before (no instance yet) */
	if (!F->keepalive_busy && now >= F->next_keepalive_ms) {
		a = cbarg(d);
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
	if (am_leader() && !F->leader_busy)
		lead(d, now);
}

/* ---- status and commands ---------------------------------------------- */

/*
 * Each node's split of new flows over its last report interval: per
 * service the flows it saw (both variants) and the canary's share of
 * them, from the delta of its two latest reports. A node with one report
 * or counters that went back (its service recreated) has none.
 */
static json_t *shares_json(void)
{
	json_t *out = json_object(), *rep, *svcs, *s, *ps;
	const char *node, *svc;

	json_object_foreach(F->nodes, node, rep) {
		json_t *prev = json_object_get(F->prev, node), *per = json_object();
		json_int_t dt = etcd_int(rep, "at_ms") - etcd_int(prev, "at_ms");

		svcs = json_object_get(rep, "services");
		json_object_foreach(svcs, svc, s) {
			const json_t *a = json_object_get(s, "new_flows");
			const json_t *b;
			json_int_t db, dc;

			ps = json_object_get(json_object_get(prev, "services"), svc);
			b = json_object_get(ps, "new_flows");
			if (!prev || dt <= 0 || json_array_size(a) != 2 || json_array_size(b) != 2)
				continue;
			db = json_integer_value(json_array_get(a, 0)) - json_integer_value(json_array_get(b, 0));
			dc = json_integer_value(json_array_get(a, 1)) - json_integer_value(json_array_get(b, 1));
			if (db < 0 || dc < 0)
				continue;
			json_object_set_new(per, svc, json_pack("{s:I, s:I, s:I, s:f}",
				"flows", db + dc, "canary_flows", dc, "interval_ms", dt,
				"canary_share", db + dc ? (double)dc / (double)(db + dc) : 0.0));
		}
		json_object_set_new(out, node, per);
	}
	return out;
}

json_t *fleet_status_json(struct daemon *d)
{
	json_t *j, *svcs;
	unsigned int i;

	(void)d;
	if (!F)
		return NULL;
	svcs = json_object();
	for (i = 0; i < F->nsvc; i++) {
		struct fsvc *s = &F->svc[i];

		json_object_set_new(svcs, s->name, json_pack(
			"{s:i, s:s, s:I, s:I, s:I, s:I, s:O?, s:s}",
			"weight", s->has_weights ? s->weight[0] : -1,
			"killswitch", s->kill < 0 ? "none" : s->kill ? "on" : "off",
			"weights_rev", (json_int_t)s->applied_w_rev,
			"applied_weights_ms", (json_int_t)s->applied_w_ms,
			"kill_rev", (json_int_t)s->applied_k_rev,
			"applied_kill_ms", (json_int_t)s->applied_k_ms,
			"rollout", s->rollout, "error", s->error));
		json_object_set_new(json_object_get(svcs, s->name), "config_rev",
				    json_integer(s->applied_c_rev));
		/* the leader: its latest judgement of the step's gates */
		if (am_leader() && s->fg && s->fg->step_id)
			json_object_set_new(json_object_get(svcs, s->name), "gates_judged",
					    fleet_gates_status(s->fg));
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:O, s:o}",
		      "node", F->node, "prefix", F->prefix,
		      "etcd", F->ok ? "ok" : "unreachable", "why", F->why,
		      "leader_here", am_leader(), "revision", (json_int_t)F->applied_rev,
		      "down_since_ms", (json_int_t)(F->ok ? 0 : F->down_since_ms),
		      "requests", (json_int_t)F->e.requests, "nodes", F->nodes,
		      "services", svcs);
	json_object_set_new(j, "leader", json_string(F->leader));
	json_object_set_new(j, "frozen", json_boolean(F->global_freeze));
	json_object_set_new(j, "endpoint", json_string(etcd_endpoint(&F->e)));
	json_object_set_new(j, "endpoint_index", json_integer(F->e.cur + 1));
	json_object_set_new(j, "endpoints", json_integer(F->e.n));
	json_object_set_new(j, "endpoint_switches", json_integer((json_int_t)F->e.switches));
	json_object_set_new(j, "shares", shares_json());
	json_object_set(j, "bad_keys", F->bad);
	json_object_set_new(j, "services_max", json_integer(FLEET_MAX_SVC));
	return j;
}

static void on_cmd(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;

	if (!reply)
		dlog(a->d, LOG_ERR_, "fleet: command for %s not written: %s", a->svc, err);
	else if (json_is_false(json_object_get(reply, "succeeded")))
		dlog(a->d, LOG_WARN_, "fleet: command for %s not written: the rollout moved meanwhile",
		     a->svc);
	free(a);
}

/* pause, resume: the rollout's state as this node sees it, changed and
 * written only if etcd still holds that state (any node may write it;
 * the leader's steps are fenced the same way). */
/* A txn putting st (taken over) as the rollout key, only if etcd still
 * holds the revision of it this node sees. */
static json_t *rollout_cas_txn(const struct fsvc *s, json_t *st)
{
	char k[512], *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	json_t *txn;

	json_decref(st);
	key(k, sizeof(k), s->name, "rollout");
	txn = text ? json_pack("{s:[o], s:[{s:o}]}", "compare", etcd_cmp(k, "MOD", s->rollout_rev),
			       "success", "request_put", etcd_req_put(k, text, 0)) : NULL;
	free(text);
	return txn;
}

static json_t *pause_resume_txn(struct fsvc *s, const char *action, const char *reason,
				char *err, size_t errlen)
{
	bool pause = !strcmp(action, "pause");
	const char *want = pause ? "progressing" : "paused";
	json_t *st;
	__u64 now = steady_ms();

	if (!s || strcmp(phase_of(s->rollout), want)) {
		snprintf(err, errlen, "fleet %s: the fleet rollout of '%s' is %s, not %s", action,
			 s ? s->name : "?", s && s->rollout ? phase_of(s->rollout) : "absent", want);
		return NULL;
	}
	st = pause ? paused_state(s->rollout, now, reason && *reason ? reason : "paused by the operator")
		   : resume_state(s, now, "resumed by the operator");
	return rollout_cas_txn(s, st);
}

/* promote [--full]: a request in the rollout key, written only if etcd
 * still holds the state this node sees; the leader acts on it once
 * (promote_req). Refused, nothing written, without a running rollout or
 * under a freeze (as the local engine's promote). */
static json_t *promote_txn(struct fsvc *s, const char *service, bool full, char *err,
			   size_t errlen)
{
	const char *ph = s && s->rollout ? phase_of(s->rollout) : "absent";
	json_t *st;

	if (strcmp(ph, "progressing") && strcmp(ph, "paused")) {
		snprintf(err, errlen, "fleet promote: no running fleet rollout of '%s' to promote (%s%s)",
			 service, ph, !strcmp(ph, "start") ? ": the leader has not started it yet" : "");
		return NULL;
	}
	if (F->global_freeze || s->frozen) {
		snprintf(err, errlen, "fleet promote: '%s' is frozen (%s): unfreeze --fleet before promoting",
			 service, F->global_freeze ? "global freeze" : "service freeze");
		return NULL;
	}
	st = json_deep_copy(s->rollout);
	json_object_set_new(st, "promote", json_string(full ? "full" : "step"));
	return rollout_cas_txn(s, st);
}

/*
 * config: text is a whole configuration file (YAML or JSON, the schema of
 * `sluice apply -f`), name its file name. It is validated whole (parsed,
 * and planned against this node's maps as a dry run); then each of its
 * services' config key gets the file, in one transaction. Each node
 * applies the service the key names from it.
 */
static json_t *config_txn(struct daemon *d, const char *text, const char *name,
			  char *err, size_t errlen)
{
	struct sluice_apply_opts o = { .keep = true, .dry_run = true };
	struct sluice_apply_result res = {};
	struct sluice_config *c;
	char k[512];
	json_t *ops;
	unsigned int i;
	int r = 0;

	c = sluice_config_parse_string(text, name && *name ? name : "config", err, errlen);
	if (!c)
		return NULL;
	if (!c->nservices) {
		snprintf(err, errlen, "%s: no services: nothing to write", c->source);
		sluice_config_free(c);
		return NULL;
	}
	if (!ro_open_instance(d))
		r = sluice_config_apply(d->s, c, &o, &res);
	sluice_apply_result_free(&res);
	if (r < 0) {
		snprintf(err, errlen, "%s", sluice_errmsg(d->s));
		sluice_config_free(c);
		return NULL;
	}
	ops = json_array();
	for (i = 0; i < c->nservices; i++) {
		key(k, sizeof(k), c->services[i].name, "config");
		json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(k, text, 0)));
	}
	sluice_config_free(c);
	return json_pack("{s:o}", "success", ops);
}

int fleet_command(struct daemon *d, const char *action, const char *service,
		  const char *plan, const char *reason, bool full, char *err, size_t errlen)
{
	char k[512], k2[512];
	json_t *txn = NULL;
	struct cbarg *a;

	if (!F) {
		snprintf(err, errlen, "fleet mode is off (sluiced without --etcd)");
		return -ENOENT;
	}
	if (!F->ok) {
		snprintf(err, errlen, "etcd unreachable (%s): nothing written", F->why);
		return -EHOSTUNREACH;
	}
	if (!strcmp(action, "freeze") || !strcmp(action, "unfreeze")) {
		key(k, sizeof(k), service, "freeze");
		if (!service)
			key(k, sizeof(k), NULL, "freeze");
		txn = !strcmp(action, "freeze")
			? json_pack("{s:[{s:o}]}", "success", "request_put",
				    etcd_req_put(k, reason && *reason ? reason : "frozen", 0))
			: json_pack("{s:[{s:{s:o}}]}", "success", "request_delete_range",
				    "key", etcd_b64(k));
	} else if (!strcmp(action, "config")) {
		/* plan: the file's text; reason: its name, for messages */
		txn = plan ? config_txn(d, plan, reason, err, errlen) : NULL;
		if (!txn) {
			if (!plan)
				snprintf(err, errlen, "fleet config: a file is needed (-f FILE)");
			return -EINVAL;
		}
	} else if (!service) {
		snprintf(err, errlen, "fleet %s: which service?", action);
		return -EINVAL;
	} else if (!strcmp(action, "pause") || !strcmp(action, "resume")) {
		txn = pause_resume_txn(svc_get(service, false), action, reason, err, errlen);
		if (!txn)
			return -EINVAL;
	} else if (!strcmp(action, "promote")) {
		txn = promote_txn(svc_get(service, false), service, full, err, errlen);
		if (!txn)
			return -EINVAL;
	} else if (full) {
		snprintf(err, errlen, "fleet %s: --full is for promote only", action);
		return -EINVAL;
	} else if (!strcmp(action, "revert") || !strcmp(action, "clear")) {
		key(k, sizeof(k), service, "killswitch");
		txn = json_pack("{s:[{s:o}]}", "success", "request_put",
				etcd_req_put(k, !strcmp(action, "revert") ? "on" : "off", 0));
	} else if (!strcmp(action, "abort")) {
		key(k, sizeof(k), service, "rollout");
		txn = json_pack("{s:[{s:o}]}", "success", "request_put",
				etcd_req_put(k, "{\"phase\":\"abort\"}", 0));
	} else if (!strcmp(action, "start")) {
		struct sluice_plan *p = plan ? sluice_plan_parse_string(plan, service, err, errlen) : NULL;

		if (!p) {
			if (!plan)
				snprintf(err, errlen, "fleet start: a plan is needed (-f FILE)");
			return -EINVAL;
		}
		for (unsigned int g = 0; g < p->ngates; g++)
			if (!fleet_gate_supported(&p->gates[g])) {
				snprintf(err, errlen, "%s:%u:%u: gate %s: fleet rollouts judge error_ratio and new_flow_ratio gates only (on the fleet's sums; nodes do not report latency histograms or external metrics)",
					 service, p->gates[g].pos.line, p->gates[g].pos.col,
					 p->gates[g].name);
				sluice_plan_free(p);
				return -EINVAL;
			}
		sluice_plan_free(p);
		key(k, sizeof(k), service, "plan");
		key(k2, sizeof(k2), service, "rollout");
		txn = json_pack("{s:[{s:o},{s:o}]}", "success", "request_put",
				etcd_req_put(k, plan, 0), "request_put",
				etcd_req_put(k2, "{\"phase\":\"start\"}", 0));
	} else {
		snprintf(err, errlen, "fleet: unknown action '%s'", action);
		return -EINVAL;
	}
	a = cbarg(d);
	if (!a || !txn) {
		json_decref(txn);
		free(a);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(a->svc, sizeof(a->svc), "%s", service ? service : "fleet");
	if (etcd_call(&F->e, "/v3/kv/txn", txn, FLEET_TIMEOUT_MS, on_cmd, a) < 0) {
		free(a);
		snprintf(err, errlen, "cannot reach etcd");
		return -EIO;
	}
	return 0;
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
	char host[64] = "";
	int r = fleet_opts_check(o, err, errlen);

	if (r || !o->etcd_url)
		return r;
	F = calloc(1, sizeof(*F));
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
	unsigned int i;
	struct fleet *f = F;

	(void)d;
	if (!f)
		return;
	F = NULL;	/* callbacks of the cancelled requests see stale */
	if (f->hc)
		httpc_free(f->hc);
	for (i = 0; i < f->nsvc; i++) {
		free(f->svc[i].plan_text);
		free(f->svc[i].config_text);
		free(f->svc[i].fg);
		json_decref(f->svc[i].rollout);
	}
	json_decref(f->nodes);
	json_decref(f->prev);
	json_decref(f->bad);
	free(f);
}
