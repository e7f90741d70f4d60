// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The engine's shell: the table of rollouts (one per service), the tick
 * (observe -> eng_tick -> persist state and events -> act), operator
 * commands, and loading everything back at start-up.
 *
 * Order matters for crash safety: the actions and notifications a
 * decision causes are recorded as intents (outbox.c) in the transaction
 * holding the state that decided them, and carried out only after it has
 * committed, so a crash either loses the decision (it is taken again from
 * the same cumulative counters) or finds it durable with its intents.
 * Start-up reads the store and the maps and writes to the maps only what
 * the outbox holds: decided, committed, not yet carried out.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sluiced.h"

#include "version.h"	/* SLUICE_VERSION, from VERSION (Makefile) */

struct rollout *ro_find(struct daemon *d, const char *service)
{
	unsigned int i;

	for (i = 0; i < d->nro; i++)
		if (!strcmp(d->ro[i]->service, service))
			return d->ro[i];
	return NULL;
}

static void ro_free(struct daemon *d, struct rollout *r)
{
	if (!r)
		return;
	plan_put(d, r->plan);
	free(r->plan_text);
	free(r);
}

void ro_free_all(struct daemon *d)
{
	unsigned int i;

	for (i = 0; i < d->nro; i++)
		ro_free(d, d->ro[i]);
	free(d->ro);
	d->ro = NULL;
	d->nro = d->cap = 0;
	sample_free(d);
	plan_pool_free(d);
}

static int ro_add(struct daemon *d, struct rollout *r)
{
	if (d->nro == d->cap) {
		unsigned int cap = d->cap ? d->cap * 2 : 64;
		struct rollout **n = realloc(d->ro, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->ro = n;
		d->cap = cap;
	}
	d->ro[d->nro++] = r;
	return 0;
}

/* put n at old's place in the table */
static void ro_swap(struct daemon *d, struct rollout *old, struct rollout *n)
{
	for (unsigned int i = 0; i < d->nro; i++)
		if (d->ro[i] == old)
			d->ro[i] = n;
}

static bool active(const struct rollout *r)
{
	return r->st.phase != ENG_NONE && !eng_terminal(r->st.phase);
}

/* Tick at the smallest gate interval (at most 1 s: holds end on time);
 * every loop round with a gate that may evaluate early on a burst. */
static __u64 plan_interval(const struct sluice_plan *p)
{
	__u64 iv = SLUICED_INTERVAL_MS;
	unsigned int i;

	for (i = 0; i < p->ngates; i++)
		if (gate_bursty(&p->gates[i]))
			iv = SLUICED_TICK_MS;
		else if (p->gates[i].interval_ms && p->gates[i].interval_ms < iv)
			iv = p->gates[i].interval_ms;
	return iv < SLUICED_TICK_MS ? SLUICED_TICK_MS : iv;
}

/* Spread rollouts over their interval so 1,000 of them do not all wake
 * in the same loop round. */
static __u64 first_tick(const struct rollout *r, __u64 now)
{
	unsigned int h = 2166136261u;
	const char *c;

	for (c = r->service; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return now + h % r->interval_ms;
}

static int ring_lookup(void *ctx, const char *name)
{
	return sluice_ring_id(ctx, name);
}

static int resolve(struct daemon *d, struct sluice_plan *plan, __u8 mode,
		   char *err, size_t errlen)
{
	return sluice_plan_resolve(plan, mode, ring_lookup, d->s, err, errlen);
}

int ro_resolve_service(struct daemon *d, struct sluice_plan *plan,
		       const char *service, char *err, size_t errlen)
{
	struct sluice_service_view v = { 0 };

	if (!d->s || sluice_service_view(d->s, service, &v)) {
		snprintf(err, errlen, "no service '%s' on this node", service);
		return -ENOENT;
	}
	return resolve(d, plan, v.mode, err, errlen);
}

/* ---- persistence ------------------------------------------------------- */

static int persist(struct daemon *d, struct rollout *r, __u64 now)
{
	struct store_rollout row = {
		.service = r->service, .rollout_id = r->st.rollout_id,
		.plan_name = r->plan_name, .plan = r->plan_text,
	};
	char *json = eng_state_to_json(&r->st);
	int err;

	if (!json)
		return -ENOMEM;
	row.state = json;
	err = store_rollout_put(d->db, &row, now);
	free(json);
	if (!err) {
		r->dirty = false;
		r->persisted_ms = now;
	}
	return err;
}

static int freeze_persist(struct daemon *d)
{
	const struct eng_freeze *f = &d->env.global;
	json_t *o = json_pack("{s:b, s:s, s:s, s:I}", "frozen", f->frozen,
			      "reason", f->reason, "who", f->who,
			      "since_ms", (json_int_t)f->since_ms);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int err;

	json_decref(o);
	if (!s)
		return -ENOMEM;
	err = store_meta_set(d->db, "freeze", s);
	free(s);
	return err;
}

static int freeze_load(struct daemon *d, char *err, size_t errlen)
{
	struct eng_freeze *f = &d->env.global;
	json_error_t je;
	const char *reason = "", *who = "";
	json_int_t since = 0;
	int frozen = 0, e;
	char *v;
	json_t *o;

	e = store_meta_get(d->db, "freeze", &v);
	if (e) {
		snprintf(err, errlen, "%s", store_errmsg(d->db));
		return e;
	}
	if (!v)
		return 0;
	o = json_loads(v, 0, &je);
	free(v);
	if (!o || json_unpack_ex(o, &je, JSON_STRICT, "{s:b, s:s, s:s, s:I}",
				 "frozen", &frozen, "reason", &reason, "who", &who,
				 "since_ms", &since)) {
		snprintf(err, errlen, "%s: the stored freeze is corrupt: %s",
			 d->o.db_path, je.text);
		json_decref(o);
		return -EUCLEAN;
	}
	f->frozen = frozen;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	snprintf(f->who, sizeof(f->who), "%s", who);
	f->since_ms = since;
	json_decref(o);
	return 0;
}

static __u64 next_rollout_id(struct daemon *d)
{
	__u64 id = 1;
	char *v = NULL, buf[32];
	unsigned int i;

	if (store_meta_get(d->db, "next_rollout_id", &v) == 0 && v)
		id = strtoull(v, NULL, 10);
	free(v);
	for (i = 0; i < d->nro; i++)	/* never below one in use */
		if (d->ro[i]->st.rollout_id >= id)
			id = d->ro[i]->st.rollout_id + 1;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)id + 1);
	store_meta_set(d->db, "next_rollout_id", buf);
	return id;
}

/* ---- start-up ---------------------------------------------------------- */

struct load_ctx {
	struct daemon *d;
	char *err;
	size_t errlen;
};

static int load_one(void *ctx, const struct store_rollout *row)
{
	struct load_ctx *lc = ctx;
	struct daemon *d = lc->d;
	struct rollout *r = calloc(1, sizeof(*r));
	char perr[512];
	int e;

	if (!r)
		return -ENOMEM;
	snprintf(r->service, sizeof(r->service), "%s", row->service);
	e = eng_state_from_json(row->state, &r->st, perr, sizeof(perr));
	if (e) {
		snprintf(lc->err, lc->errlen,
			 "%s: the state of service '%s''s rollout cannot be used: %s",
			 d->o.db_path, row->service, perr);
		goto bad;
	}
	if (strcmp(r->st.service, row->service) || r->st.rollout_id != row->rollout_id) {
		snprintf(lc->err, lc->errlen,
			 "%s: the row of service '%s' holds the state of '%s' rollout %llu",
			 d->o.db_path, row->service, r->st.service,
			 (unsigned long long)r->st.rollout_id);
		e = -EUCLEAN;
		goto bad;
	}
	r->plan = sluice_plan_parse_string(row->plan, row->plan_name, perr, sizeof(perr));
	if (!r->plan) {
		snprintf(lc->err, lc->errlen,
			 "%s: the stored plan of service '%s' does not parse: %s",
			 d->o.db_path, row->service, perr);
		e = -EUCLEAN;
		goto bad;
	}
	r->plan_text = strdup(row->plan);
	snprintf(r->plan_name, sizeof(r->plan_name), "%s", row->plan_name);
	r->interval_ms = plan_interval(r->plan);
	r->next_ms = first_tick(r, steady_ms());
	r->svc_id = SLUICE_MAX_SERVICES;
	r->persisted_ms = steady_ms();
	r->sample_minute = steady_ms() / 60000;
	e = ro_add(d, r);
	if (e)
		goto bad;
	return 0;
bad:
	ro_free(d, r);
	return e ? e : -EUCLEAN;
}

int ro_load(struct daemon *d, char *err, size_t errlen)
{
	struct load_ctx lc = { d, err, errlen };
	unsigned int i, n = 0;
	int e;

	e = freeze_load(d, err, errlen);
	if (e)
		return e;
	err[0] = '\0';
	e = store_rollouts_load(d->db, load_one, &lc);
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "%s", store_errmsg(d->db));
		ro_free_all(d);
		return e;
	}
	for (i = 0; i < d->nro; i++)
		n += active(d->ro[i]);
	dlog(d, LOG_INFO_, "%u rollouts in %s, %u active; global freeze %s",
	     d->nro, d->o.db_path, n, d->env.global.frozen ? "on" : "off");
	for (i = 0; i < d->nro; i++)
		if (active(d->ro[i]))
			dlog(d, LOG_INFO_, "%s: resuming rollout %llu: %s",
			     d->ro[i]->service,
			     (unsigned long long)d->ro[i]->st.rollout_id,
			     d->ro[i]->st.status);
	return 0;
}

/* The instance may appear after the daemon: try once a second. */
int ro_open_instance(struct daemon *d)
{
	static bool said;
	struct sluice_open_opts o = { .pin_dir = d->o.pin_dir };
	char path[PATH_MAX + 16], why[512];
	__u64 now = steady_ms();
	int e;

	if (d->s)
		return 0;
	if (now - d->last_open_try_ms < 1000)
		return -ENODEV;
	d->last_open_try_ms = now;
	snprintf(path, sizeof(path), "%s/svc_index", d->o.pin_dir);
	if (access(path, F_OK) < 0) {
		if (!said)
			dlog(d, LOG_WARN_, "no sluice instance at %s yet (attach a device or add a service); rollouts wait for it",
			     d->o.pin_dir);
		said = true;
		return -ENODEV;
	}
	d->s = sluice_open(&o, why, sizeof(why));
	if (!d->s) {
		e = -errno;
		dlog(d, LOG_ERR_, "cannot open the sluice instance at %s: %s",
		     d->o.pin_dir, why);
		return e;
	}
	dlog(d, LOG_INFO_, "sluice instance at %s", d->o.pin_dir);
	outbox_replay(d);	/* before any tick or command acts */
	return 0;
}

/* ---- test hook --------------------------------------------------------- */

/*
 * TEST HOOK, not for production: SLUICED_FAILPOINT=WHERE[:WHAT] kills the
 * daemon (SIGKILL, as kill -9 would) at WHERE, "before-commit" or
 * "after-commit" (committed, nothing carried out yet), of the first
 * transaction whose decisions carry WHAT: an action (weights, revert,
 * resume-kill, cutover, promote) or a notification (notify); without
 * WHAT, of the first that carries any of them. Used by
 * tests/integration/test_rollout_outbox.sh to crash in the window between
 * a decision and its actions.
 */
#define FP_NOTIFY	(1u << 8)
static unsigned int fp_kinds;	/* of the open transaction */

static unsigned int out_kinds(const struct eng_out *out)
{
	unsigned int i, k = 0;

	for (i = 0; i < out->nactions; i++)
		k |= 1u << out->actions[i].kind;
	for (i = 0; i < out->nevents; i++)
		switch (out->events[i].type) {
		case ENG_EV_PAUSE: case ENG_EV_ROLLBACK: case ENG_EV_ABORT:
		case ENG_EV_PROMOTE:
			k |= FP_NOTIFY;
			break;
		default:
			break;
		}
	return k;
}

/* The store's transactions, with the audit log's lines of each held
 * until it commits (audit_hold) */
static int txn_begin(struct daemon *d)
{
	int e = store_begin(d->db);

	if (!e)
		audit_hold();
	return e;
}

static int txn_commit(struct daemon *d)
{
	int e = store_commit(d->db);

	if (!e)
		audit_release(d, true);
	return e;
}

static void txn_rollback(struct daemon *d)
{
	store_rollback(d->db);
	audit_release(d, false);
}

/* Is SLUICED_FAILPOINT WHERE, or WHERE:WHAT with WHAT among this
 * decision's kinds (fp_kinds)? */
static bool fp_hit(const char *where)
{
	static const char *const what[] = {
		[ENG_ACT_SET_WEIGHTS] = "weights", [ENG_ACT_REVERT] = "revert",
		[ENG_ACT_RESUME_KILL] = "resume-kill", [ENG_ACT_CUTOVER] = "cutover",
		[ENG_ACT_PROMOTE] = "promote", [8] = "notify",
	};
	const char *fp = getenv("SLUICED_FAILPOINT"), *colon;
	size_t n = strlen(where);
	unsigned int i, want = ~0u;

	if (!fp || strncmp(fp, where, n) || (fp[n] && fp[n] != ':') || !fp_kinds)
		return false;
	colon = fp[n] ? fp + n + 1 : NULL;
	if (colon) {
		want = 0;
		for (i = 0; i < sizeof(what) / sizeof(what[0]); i++)
			if (what[i] && !strcmp(colon, what[i]))
				want = 1u << i;
	}
	return fp_kinds & want;
}

/* Test hook: kill the daemon at WHERE (SLUICED_FAILPOINT=WHERE[:WHAT]). */
static void failpoint(const char *where)
{
	if (fp_hit(where)) {
		fprintf(stderr, "sluiced: failpoint %s: killed\n", getenv("SLUICED_FAILPOINT"));
		raise(SIGKILL);
	}
}

/* ---- the tick ---------------------------------------------------------- */

static bool significant(const struct eng_out *out)
{
	unsigned int i;

	if (out->nactions)
		return true;
	for (i = 0; i < out->nevents; i++)
		if (out->events[i].type != ENG_EV_GATE)
			return true;
	return false;
}

void ro_take_sample(struct daemon *d, struct rollout *r, __u64 now)
{
	struct store_sample smp = { .rollout_id = r->st.rollout_id };
	__u64 minute = now / 60000;

	if (minute == r->sample_minute || !d->obs.exists)
		return;
	r->sample_minute = minute;
	smp.minute_ms = minute * 60000;
	smp.weight = d->obs.weight[0];
	{
		__u64 nf[2], bad[2];

		sample_totals(&d->obs, nf, bad);
		smp.new_b = nf[0];
		smp.new_c = nf[1];
		smp.bad_b = bad[0];
		smp.bad_c = bad[1];
	}
	store_sample_put(d->db, r->service, &smp);
}

static void tick_one(struct daemon *d, struct rollout *r, __u64 now)
{
	__u64 canary_before = r->look.canary;
	unsigned int quiet;
	char err[512];
	int e;

	r->next_ms += r->interval_ms;
	if (r->next_ms <= now)
		r->next_ms = now + r->interval_ms;
	if (sample_quiet(d, r, now)) {
		sample_back_off(d, r);	/* the next look may wait */
		return;		/* nothing moved, nothing due */
	}
	quiet = r->look.quiet;	/* kept below when nothing moved */
	r->look.quiet = 0;
	r->look.full_ms = now;
	e = sample_fill(d, r, &d->obs);
	if (!r->resolved && d->obs.exists) {
		if (resolve(d, r->plan, d->obs.mode, err, sizeof(err))) {
			if (strcmp(r->error, err))
				dlog(d, LOG_ERR_, "%s: the plan no longer fits the service: %s; the rollout waits (abort it, or fix the rings)",
				     r->service, err);
			snprintf(r->error, sizeof(r->error), "plan does not fit the service: %s", err);
			return;
		}
		r->resolved = true;
		r->plan = plan_share(d, r->plan);
		r->error[0] = '\0';
	}
	if (!r->resolved) {
		/* the service is gone or unreadable: the engine judges that
		 * (errors, never a pass) once it has a resolved plan; until
		 * then nothing can be decided */
		snprintf(r->error, sizeof(r->error), "service '%s' cannot be read: %s",
			 r->service, e && d->s ? sluice_errmsg(d->s) : "no instance");
		return;
	}
	gs_measure(d, r, &d->obs, now);
	prestep_tick(d->ps, r, &d->obs);
	budget_env(d, r->service, &d->env.service);
	memset(&d->out, 0, sizeof(d->out));
	e = eng_tick(r->plan, &r->st, &d->obs, &d->env, now, &d->out);
	if (e) {
		if (strcmp(r->error, d->out.error))
			dlog(d, LOG_ERR_, "%s: engine: %s", r->service, d->out.error);
		snprintf(r->error, sizeof(r->error), "engine: %s", d->out.error);
		return;
	}
	r->error[0] = '\0';
	if (significant(&d->out))
		r->look.valid = false;	/* the next tick sees what it did */
	fp_kinds |= out_kinds(&d->out);
	if (eng_terminal(r->st.phase))
		gs_cancel(d, r->service);	/* its commands end with it */
	audit_events(d, r, &d->out);
	if (d->out.changed)
		r->dirty = true;
	if (r->dirty && (significant(&d->out) || now - r->persisted_ms >= SLUICED_PERSIST_MS))
		persist(d, r, now);
	outbox_record(d, r, &d->out);
	ro_take_sample(d, r, now);
	/* a full tick because one was due (a second since the last), with
	 * the canary's counters where they were: the looks stay spaced */
	if (quiet && r->look.valid && r->look.canary == canary_before) {
		r->look.quiet = quiet;
		sample_back_off(d, r);
	}
}

int ro_tick(struct daemon *d, __u64 now)
{
	static __u64 last_sweep;
	unsigned int i, due = 0;

	if (ro_open_instance(d))
		return 0;
	for (i = 0; i < d->nro; i++)
		due += active(d->ro[i]) && d->ro[i]->next_ms <= now;
	if (!due)
		goto prune;
	if (now - last_sweep >= 1000) {
		last_sweep = now;
		sample_sweep(d);
	}
	if (txn_begin(d)) {
		dlog(d, LOG_ERR_, "%s", store_errmsg(d->db));
		return 0;
	}
	fp_kinds = 0;
	d->round_rings = 1;
	sluice_rings_in_use(d->s, &d->round_rings);	/* once per round */
	d->in_round = true;
	for (i = 0; i < d->nro; i++)
		if (active(d->ro[i]) && d->ro[i]->next_ms <= now)
			tick_one(d, d->ro[i], now);
	d->in_round = false;
	sample_round_end(d);
	failpoint("before-commit");
	if (txn_commit(d)) {
		/* nothing decided in this round is durable: act on none of
		 * it (its intents are dropped); the loop stops, and the
		 * restart resumes from the last committed state */
		dlog(d, LOG_ERR_, "cannot persist the rollouts' state (%s); stopping without acting on this round, the datapath keeps forwarding",
		     store_errmsg(d->db));
		txn_rollback(d);
		outbox_discard();
		return -EIO;
	}
	failpoint("after-commit");
	outbox_flush(d);
prune:
	if (now - d->last_prune_ms >= 3600 * 1000) {
		d->last_prune_ms = now;
		store_prune(d->db, now - (__u64)d->o.keep_days * 86400000ull);
	}
	return 0;
}

/* ---- status ------------------------------------------------------------ */

json_t *ro_freeze_json(struct daemon *d)
{
	const struct eng_freeze *f = &d->env.global;

	return json_pack("{s:b, s:s, s:s, s:I}", "frozen", f->frozen,
			 "reason", f->reason, "who", f->who,
			 "since_ms", (json_int_t)f->since_ms);
}

static json_t *real_or_null(double v)
{
	return v == v ? json_real(v) : json_null();	/* NaN: null */
}

json_t *ro_status_json(struct daemon *d, struct rollout *r)
{
	const struct eng_state *st = &r->st;
	struct sluice_service_view v = { .id = r->svc_id };
	json_t *o, *gates, *w;
	unsigned int i;

	o = json_pack("{s:s, s:I, s:i, s:s, s:i, s:i, s:s, s:I, s:I, s:s, s:b, s:b, s:s, s:s, s:s}",
		      "service", r->service,
		      "rollout_id", (json_int_t)st->rollout_id,
		      "attempt", (int)st->attempt,
		      "phase", eng_phase_name(st->phase),
		      "step", st->step,
		      "steps", (int)r->plan->nsteps,
		      "status", st->status,
		      "since_ms", (json_int_t)st->phase_since_ms,
		      "hold_left_ms", (json_int_t)eng_hold_left(r->plan, st),
		      "pause_reason", eng_pause_reason_name(st->pause_reason),
		      "frozen", st->frozen,
		      "by_operator", st->by_operator,
		      "end_reason", st->end_reason,
		      "plan_name", r->plan_name,
		      "error", r->error);
	if (!o)
		return NULL;
	w = json_array();
	if (d->s && sluice_service_view(d->s, r->service, &v) == 0) {
		json_t *e = json_array();	/* what new flows get: the kill switch */

		for (i = 0; i < SLUICE_MAX_RINGS; i++) {
			json_array_append_new(w, json_integer(v.weight[i]));
			json_array_append_new(e, json_integer(sluice_effective_weight(
				v.weight[i], v.kill | v.kill_all, v.lkg)));
		}
		json_object_set_new(o, "kill", json_integer(v.kill | v.kill_all));
		json_object_set_new(o, "effective_weight", e);
	}
	json_object_set_new(o, "weight", w);
	{	/* a ring judged against other rings' baseline (issue 21) */
		char ring[SLUICE_RING_NAME_LEN + 1], text[200] = "";

		if (!eng_terminal(st->phase) && st->step >= 0 &&
		    sluice_plan_cross_ring(r->plan, st->step, ring, sizeof(ring)))
			snprintf(text, sizeof(text),
				 "ring '%s' at 100%% canary is judged against the other rings' baseline (a different population)",
				 ring);
		json_object_set_new(o, "comparison", json_string(text));
	}
	/* the current step's whole hold: a client draws the progress of it */
	json_object_set_new(o, "hold_ms", json_integer(st->step >= 0 &&
		(unsigned int)st->step < r->plan->nsteps ? (json_int_t)r->plan->steps[st->step].hold_ms : 0));
	gates = json_array();
	for (i = 0; i < st->ngates && i < r->plan->ngates; i++) {
		const struct gate_eval *e = &st->gates[i].last;

		json_array_append_new(gates, json_pack(
			"{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:i, s:s}",
			"name", r->plan->gates[i].name,
			"metric", sluice_gate_metric_name(r->plan->gates[i].metric),
			"outcome", gate_outcome_name(e->outcome),
			"canary", real_or_null(e->canary),
			"baseline", real_or_null(e->baseline),
			"threshold", real_or_null(e->threshold),
			"stat", real_or_null(e->stat),
			"stat_limit", real_or_null(e->stat_limit),
			"samples_c", (json_int_t)e->samples_c,
			"samples_b", (json_int_t)e->samples_b,
			"bad_c", (json_int_t)e->bad_c,
			"bad_b", (json_int_t)e->bad_b,
			"min_samples", (json_int_t)e->min_samples,
			"fails", (int)e->fails,
			"reason", e->reason));
	}
	json_object_set_new(o, "gates", gates);
	json_object_set_new(o, "health", health_json(d, r->service));
	json_object_set_new(o, "budget", budget_json(d, r->service));
	return o;
}

/* ---- commands ---------------------------------------------------------- */

static void result(struct ctl_result *res, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void result(struct ctl_result *res, int code, const char *fmt, ...)
{
	va_list ap;

	res->code = code;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

static int errno_code(int e, int kind)
{
	switch (e) {
	case -EBUSY: return kind == ENG_CMD_START ? SLUICE_CTL_E_ACTIVE
						  : SLUICE_CTL_E_FROZEN;
	case -EALREADY: return SLUICE_CTL_E_ALREADY;
	case -EAGAIN: return SLUICE_CTL_E_FROZEN;	/* the service's budget */
	case -ENOENT: return SLUICE_CTL_E_NO_ROLLOUT;
	case -EINVAL: return SLUICE_CTL_E_STATE;
	}
	return SLUICE_CTL_E_INTERNAL;
}

/* The plan of a start request: its text, or the service's rollout:
 * section of --config. */
static struct sluice_plan *start_plan(struct daemon *d, const struct ctl_args *a,
				      char **text, char *name, size_t namelen,
				      struct ctl_result *res)
{
	struct sluice_config *c;
	struct sluice_plan *p = NULL;
	char err[512];
	unsigned int i;

	if (a->plan) {
		snprintf(name, namelen, "%s", a->plan_name ? a->plan_name : "plan");
		p = sluice_plan_parse_string(a->plan, name, err, sizeof(err));
		if (!p) {
			result(res, SLUICE_CTL_E_PLAN, "%s", err);
			return NULL;
		}
		*text = strdup(a->plan);
		return p;
	}
	if (!d->o.config_path) {
		result(res, SLUICE_CTL_E_PLAN,
		       "no plan given for '%s' and sluiced has no --config file to take its rollout: section from; pass one with -f PLAN",
		       a->service);
		return NULL;
	}
	c = sluice_config_parse(d->o.config_path, err, sizeof(err));
	if (!c) {
		result(res, SLUICE_CTL_E_PLAN, "%s", err);
		return NULL;
	}
	for (i = 0; i < c->nservices; i++)
		if (!strcmp(c->services[i].name, a->service))
			break;
	if (i == c->nservices || !c->services[i].rollout) {
		result(res, SLUICE_CTL_E_PLAN, "%s: service '%s' has %s; pass a plan with -f PLAN",
		       d->o.config_path, a->service,
		       i == c->nservices ? "no entry" : "no rollout: section");
		sluice_config_free(c);
		return NULL;
	}
	*text = sluice_plan_to_yaml(c->services[i].rollout, 0);
	snprintf(name, namelen, "%s", d->o.config_path);
	p = *text ? sluice_plan_parse_string(*text, name, err, sizeof(err)) : NULL;
	sluice_config_free(c);
	if (!p)
		result(res, SLUICE_CTL_E_INTERNAL, "cannot carry the rollout: section of %s over: %s",
		       d->o.config_path, *text ? err : "out of memory");
	return p;
}

static void fill_cmd(struct eng_cmd *cmd, int kind, const struct ctl_args *a)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->kind = kind;
	cmd->full = a->full;
	snprintf(cmd->who, sizeof(cmd->who), "%s", a->who ? a->who : "?");
	snprintf(cmd->reason, sizeof(cmd->reason), "%s", a->reason ? a->reason : "");
}

/* Persist with the intents, commit, then carry them out: the same order
 * as a tick. */
static int commit_and_act(struct daemon *d, struct rollout *r, bool changed,
			  struct ctl_result *res)
{
	__u64 now = steady_ms();

	fp_kinds = out_kinds(&d->out);
	r->look.valid = false;		/* the next tick is a full one */
	if (eng_terminal(r->st.phase))
		gs_cancel(d, r->service);	/* its commands end with it */
	audit_events(d, r, &d->out);
	if ((changed && persist(d, r, now)) || outbox_record(d, r, &d->out))
		goto bad;
	failpoint("before-commit");
	/* commit-fails: the test hook for a commit that fails (a full disk) */
	if (fp_hit("commit-fails") || txn_commit(d))
		goto bad;
	failpoint("after-commit");
	outbox_flush(d);
	return 0;
bad:
	txn_rollback(d);
	outbox_discard();
	{
		char text[512];

		/* its audit lines were dropped with the transaction; the
		 * human log has what was tried */
		snprintf(text, sizeof(text),
			 "the command's decision was not stored (%s): nothing changed in rollout %llu",
			 store_errmsg(d->db)[0] ? store_errmsg(d->db) : "commit failed",
			 (unsigned long long)r->st.rollout_id);
		dlog(d, LOG_ERR_, "%s: %s", r->service, text);
		audit_note(d, r->service, r->st.rollout_id, "error", "sluiced", text);
		result(res, SLUICE_CTL_E_INTERNAL, "%s", text);
	}
	return -EIO;
}

static void cmd_start(struct daemon *d, const struct ctl_args *a,
		      struct ctl_result *res)
{
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };
	struct rollout *r = ro_find(d, a->service), *n = NULL;
	struct sluice_plan *plan;
	char *text = NULL, name[256], err[512];
	struct eng_cmd cmd;
	bool fresh = !r;
	int e;

	if (sluice_service_view(d->s, a->service, &v)) {
		result(res, SLUICE_CTL_E_NO_SERVICE, "no service '%s' in the instance at %s",
		       a->service, d->o.pin_dir);
		return;
	}
	plan = start_plan(d, a, &text, name, sizeof(name), res);
	if (!plan)
		goto out;
	if (resolve(d, plan, v.mode, err, sizeof(err))) {
		result(res, SLUICE_CTL_E_PLAN, "%s", err);
		goto out;
	}
	if (r && active(r)) {
		if (r->plan_text && !strcmp(r->plan_text, text)) {
			res->data = json_pack("{s:b, s:o}", "changed", 0, "rollout",
					      ro_status_json(d, r));
			goto out;	/* the same start again: nothing to do */
		}
		result(res, SLUICE_CTL_E_ACTIVE,
		       "service '%s' already runs rollout %llu (%s) with another plan; abort it first",
		       a->service, (unsigned long long)r->st.rollout_id,
		       eng_phase_name(r->st.phase));
		goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		result(res, SLUICE_CTL_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(n->service, sizeof(n->service), "%s", a->service);
	n->plan = plan_share(d, plan);
	n->resolved = true;
	n->plan_text = text;
	snprintf(n->plan_name, sizeof(n->plan_name), "%s", name);
	plan = NULL;
	text = NULL;
	n->interval_ms = plan_interval(n->plan);
	n->svc_id = v.id;
	n->sample_minute = steady_ms() / 60000;
	eng_state_init(&n->st, a->service);
	/* outside the transaction: a refused start keeps the freeze's note */
	budget_start_check(d, a->service, n->plan, steady_ms(), &d->env.service);
	sample_fill(d, n, &d->obs);
	if (txn_begin(d)) {
		result(res, SLUICE_CTL_E_INTERNAL, "%s", store_errmsg(d->db));
		goto out;
	}
	fill_cmd(&cmd, ENG_CMD_START, a);
	cmd.rollout_id = next_rollout_id(d);
	memset(&d->out, 0, sizeof(d->out));
	e = eng_command(n->plan, &n->st, &cmd, &d->obs, &d->env, steady_ms(), &d->out);
	if (e) {
		txn_rollback(d);
		result(res, errno_code(e, ENG_CMD_START), "%s", d->out.error);
		goto out;
	}
	n->next_ms = steady_ms() + n->interval_ms;
	/* in the table before the commit: the intents carried out after it
	 * find their rollout by the service's name. The new rollout
	 * replaces a finished one of the service. */
	if (r) {
		ro_swap(d, r, n);
	} else if (ro_add(d, n)) {
		txn_rollback(d);
		result(res, SLUICE_CTL_E_INTERNAL, "out of memory");
		goto out;
	}
	if (commit_and_act(d, n, true, res)) {
		if (r)
			ro_swap(d, n, r);
		else
			d->nro--;	/* ro_add put it last */
		goto out;
	}
	if (r)
		ro_free(d, r);
	res->data = json_pack("{s:b, s:o}", "changed", 1, "rollout", ro_status_json(d, n));
	n = NULL;
	(void)fresh;
out:
	if (n)
		ro_free(d, n);
	sluice_plan_free(plan);
	free(text);
}

static void cmd_engine(struct daemon *d, int kind, const struct ctl_args *a,
		       struct ctl_result *res)
{
	static struct eng_state was;	/* large; the loop is single-threaded */
	struct rollout *r = ro_find(d, a->service);
	struct eng_cmd cmd;
	__u64 persisted;
	int e;

	if (!r || r->st.phase == ENG_NONE) {
		result(res, SLUICE_CTL_E_NO_ROLLOUT,
		       "service '%s' has no rollout; start one with 'sluice rollout start %s'",
		       a->service, a->service);
		return;
	}
	if (!r->resolved) {
		char err[512];

		sample_fill(d, r, &d->obs);
		if (!d->obs.exists || resolve(d, r->plan, d->obs.mode, err, sizeof(err))) {
			/* abort must work even when the plan no longer fits:
			 * the engine needs resolved steps, so refuse only the
			 * others */
			if (kind != ENG_CMD_ABORT) {
				result(res, SLUICE_CTL_E_STATE, "rollout of '%s' cannot proceed: %s",
				       a->service, r->error[0] ? r->error : "its service is gone");
				return;
			}
		} else {
			r->resolved = true;
			r->plan = plan_share(d, r->plan);
		}
	}
	sample_fill(d, r, &d->obs);
	if (txn_begin(d)) {
		result(res, SLUICE_CTL_E_INTERNAL, "%s", store_errmsg(d->db));
		return;
	}
	fill_cmd(&cmd, kind, a);
	budget_env(d, r->service, &d->env.service);
	memset(&d->out, 0, sizeof(d->out));
	was = r->st;
	persisted = r->persisted_ms;
	e = eng_command(r->plan, &r->st, &cmd, &d->obs, &d->env, steady_ms(), &d->out);
	if (e) {
		txn_rollback(d);
		result(res, errno_code(e, kind), "%s", d->out.error);
		return;
	}
	if (commit_and_act(d, r, d->out.changed, res)) {
		/* the store keeps the state before the command: so does the
		 * loop (its next ticks must not act on a refused command) */
		r->st = was;
		r->persisted_ms = persisted;
		r->dirty = true;
		return;
	}
	res->data = json_pack("{s:b, s:o}", "changed", d->out.changed, "rollout",
			      ro_status_json(d, r));
}

static void cmd_freeze(struct daemon *d, bool on, const struct ctl_args *a,
		       struct ctl_result *res)
{
	struct eng_freeze *f = &d->env.global, old = *f;
	char text[512];

	if (f->frozen == on) {
		res->data = json_pack("{s:b, s:o}", "changed", 0, "freeze", ro_freeze_json(d));
		return;
	}
	memset(f, 0, sizeof(*f));
	if (on) {
		f->frozen = true;
		snprintf(f->reason, sizeof(f->reason), "%s", a->reason);
		snprintf(f->who, sizeof(f->who), "%s", a->who ? a->who : "?");
		f->since_ms = steady_ms();
		snprintf(text, sizeof(text), "global freeze by %s: %s", f->who, f->reason);
	} else {
		snprintf(text, sizeof(text), "global freeze lifted by %s (was: %s, by %s)",
			 a->who ? a->who : "?", old.reason, old.who);
	}
	if (txn_begin(d) || freeze_persist(d) ||
	    audit_note(d, "*", 0, on ? "freeze" : "unfreeze", a->who ? a->who : "?", text) ||
	    txn_commit(d)) {
		txn_rollback(d);
		*f = old;
		result(res, SLUICE_CTL_E_INTERNAL, "%s", store_errmsg(d->db));
		return;
	}
	dlog(d, LOG_INFO_, "%s", text);
	gs_notify_freeze(d, on, on ? f : &old);
	res->data = json_pack("{s:b, s:o}", "changed", 1, "freeze", ro_freeze_json(d));
}

static int hist_one(void *ctx, const char *js)
{
	json_t *e = json_loads(js, 0, NULL);

	json_array_append_new(ctx, e ? e : json_string(js));
	return 0;
}

json_t *ro_history_json(struct daemon *d, const char *service, unsigned int limit)
{
	json_t *arr = json_array();

	if (!arr || !d->db)
		return arr;
	if (store_history(d->db, service, limit, hist_one, arr)) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

void ro_command(struct daemon *d, int cmd, const struct ctl_args *a,
		struct ctl_result *res)
{
	static const int kinds[SLUICE_CTL_NCMDS] = {
		[SLUICE_CTL_PAUSE] = ENG_CMD_PAUSE,
		[SLUICE_CTL_RESUME] = ENG_CMD_RESUME,
		[SLUICE_CTL_PROMOTE] = ENG_CMD_PROMOTE,
		[SLUICE_CTL_ABORT] = ENG_CMD_ABORT,
		[SLUICE_CTL_RETRY] = ENG_CMD_RETRY,
		[SLUICE_CTL_UNDO] = ENG_CMD_UNDO,
	};
	struct rollout *r;
	unsigned int i;

	res->code = SLUICE_CTL_OK;
	res->error[0] = '\0';
	res->data = NULL;
	switch (cmd) {
	case SLUICE_CTL_PING:
		res->data = json_pack("{s:s, s:i, s:i, s:b, s:i}", "daemon",
				      "sluiced " SLUICE_VERSION, "version", SLUICE_CTL_VERSION,
				      "pid", (int)getpid(), "instance", d->s != NULL,
				      "rollouts", (int)d->nro);
		return;
	case SLUICE_CTL_STATUS: {
		json_t *arr = json_array(), *f;

		if (a->service) {
			r = ro_find(d, a->service);
			if (!r || r->st.phase == ENG_NONE) {
				json_decref(arr);
				result(res, SLUICE_CTL_E_NO_ROLLOUT,
				       "service '%s' has no rollout; start one with 'sluice rollout start %s'",
				       a->service, a->service);
				return;
			}
			json_array_append_new(arr, ro_status_json(d, r));
		} else {
			for (i = 0; i < d->nro; i++)
				json_array_append_new(arr, ro_status_json(d, d->ro[i]));
		}
		res->data = json_pack("{s:o, s:o}", "rollouts", arr, "freeze",
				      ro_freeze_json(d));
		if ((f = modules_status(d, MOD_FLEET, NULL)))
			json_object_set_new(res->data, "fleet", f);
		return;
	}
	case SLUICE_CTL_FLEET:	/* the fleet module's (modules.c) */
		modules_command(d, cmd, a, res);
		return;
	case SLUICE_CTL_HISTORY: {
		json_t *h = ro_history_json(d, a->service,
					    a->limit ? a->limit : SLUICE_CTL_HISTORY_DEFAULT);

		if (!h) {
			result(res, SLUICE_CTL_E_INTERNAL, "%s", store_errmsg(d->db));
			return;
		}
		if (!json_array_size(h) && !ro_find(d, a->service)) {
			json_decref(h);
			result(res, SLUICE_CTL_E_NO_ROLLOUT, "service '%s' has no rollout history",
			       a->service);
			return;
		}
		res->data = json_pack("{s:o}", "events", h);
		return;
	}
	case SLUICE_CTL_FREEZE:
	case SLUICE_CTL_UNFREEZE:
		cmd_freeze(d, cmd == SLUICE_CTL_FREEZE, a, res);
		return;
	case SLUICE_CTL_HEALTH:
		res->data = json_pack("{s:o}", "backends", health_json(d, a->service));
		return;
	}
	if (!d->s && ro_open_instance(d)) {
		result(res, SLUICE_CTL_E_NO_INSTANCE,
		       "no sluice instance at %s yet (attach a device or add a service first)",
		       d->o.pin_dir);
		return;
	}
	/* one writer per service: the fleet's leader owns a service etcd
	 * holds; a local rollout would fight the weights every node watches */
	if ((cmd == SLUICE_CTL_START || cmd == SLUICE_CTL_RETRY) && a->service &&
	    modules_owner(d, a->service)) {
		result(res, SLUICE_CTL_E_STATE,
		       "service '%s' is driven by the fleet (etcd); use 'sluice rollout start %s --fleet -f PLAN'",
		       a->service, a->service);
		return;
	}
	if (cmd == SLUICE_CTL_START) {
		cmd_start(d, a, res);
		return;
	}
	cmd_engine(d, kinds[cmd], a, res);
}
