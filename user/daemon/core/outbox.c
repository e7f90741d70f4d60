// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The outbox: durable intents. What a decision causes, each action on the
 * maps and each notification, is recorded (store table outbox) in the
 * transaction that commits the decision, carried out after the commit and
 * then deleted, in one more transaction. A crash in between leaves the
 * intents in the store, and the next start carries them out (outbox_replay,
 * as soon as the instance is open, before any tick): a rollback decided
 * and committed gets its kill switch, a promotion its service_put.
 *
 * Every action is repeat-safe (actuate.c), and each intent also carries
 * what the maps showed before it (weights, the service's kill word,
 * last-known-good, and for a promotion the generation and the canary
 * pool). An intent is carried out only while the maps still show that;
 * maps that already show its result make it done; maps that show
 * anything else were changed by the operator after the decision, and the
 * operator wins: the intent is dropped with "superseded by the operator"
 * in the audit trail. The same check runs after every commit, so an
 * operator's write between a decision and its action wins there too.
 *
 * A rollback's live canary flows (the plan's on_rollback: live_flows:):
 * the revert intent says keep, reset or drain; a drain records one more
 * intent in the same transaction, the reset due at the end of the grace
 * (steady clock, so time spent down counts): it waits in the store, and
 * after a crash in the grace the next start still carries it out when
 * due (live_flows.c does the reset and watches the flows leave).
 *
 * Notifications go out only after the commit of their transition, and at
 * least once: an intent is deleted once handed over to the command runner
 * or the HTTP client (delivery failures are logged and counted, not
 * retried); a crash between the hand-over and the deletion sends it again
 * after the restart.
 */
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"
#include "notify.h"

struct ob_maps {	/* what an intent checks of its service's maps */
	__u16 weight[SLUICE_MAX_RINGS];
	bool kill;		/* the service's own kill word: revert */
	__u8 lkg;
	__u32 gen;
	__u16 ncanary;
};

struct intent {
	__s64 seq;
	char service[SLUICE_NAME_LEN];
	__u64 rollout_id;
	char *text;		/* JSON */
};

struct intents {
	struct intent *v;
	unsigned int n, cap;
};

static struct intents staged;	/* recorded in the open transaction */
static struct intents deferred;	/* in the store, not yet due (live resets) */

static int push(struct intents *l, __s64 seq, const char *service, __u64 rid,
		const char *text)
{
	struct intent *e;

	if (l->n == l->cap) {
		unsigned int cap = l->cap ? l->cap * 2 : 16;
		struct intent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	e->text = strdup(text);
	if (!e->text)
		return -ENOMEM;
	e->seq = seq;
	e->rollout_id = rid;
	snprintf(e->service, sizeof(e->service), "%s", service);
	l->n++;
	return 0;
}

static void clear(struct intents *l)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].text);
	l->n = 0;
}

static int maps_read(struct daemon *d, const char *service, struct ob_maps *m)
{
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };

	if (!d->s || sluice_service_view(d->s, service, &v))
		return -ENOENT;
	memcpy(m->weight, v.weight, sizeof(m->weight));
	m->kill = v.kill & SLUICE_KILL_REVERT;
	m->lkg = v.lkg;
	m->gen = v.gen;
	m->ncanary = v.nbackends[SLUICE_CANARY];
	return 0;
}

static bool weights_all(const struct ob_maps *m, __u16 w)
{
	unsigned int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		if (m->weight[r] != w)
			return false;
	return true;
}

/* The maps after a, as the next intent of the same decision expects them. */
static void maps_apply(struct ob_maps *m, const struct eng_action *a)
{
	unsigned int r;

	switch (a->kind) {
	case ENG_ACT_SET_WEIGHTS:
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			if (a->ring_mask & (1u << r))
				m->weight[r] = a->weight[r];
		break;
	case ENG_ACT_REVERT:
		m->kill = true;
		break;
	case ENG_ACT_RESUME_KILL:
		m->kill = false;
		break;
	case ENG_ACT_CUTOVER:
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			m->weight[r] = a->variant == SLUICE_CANARY ? SLUICE_BUCKETS : 0;
		m->lkg = a->variant == SLUICE_CANARY ? SLUICE_BASELINE : SLUICE_CANARY;
		break;
	case ENG_ACT_PROMOTE:
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			m->weight[r] = 0;
		m->lkg = SLUICE_BASELINE;
		m->ncanary = 0;
		break;
	case ENG_ACT_UNDO:	/* the promoted pool back as the canary */
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			m->weight[r] = 0;
		m->lkg = SLUICE_BASELINE;
		break;
	}
}

/* Do the maps show a's result already? */
static bool reached(const struct eng_action *a, const struct ob_maps *m)
{
	unsigned int r;

	switch (a->kind) {
	case ENG_ACT_SET_WEIGHTS:
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			if ((a->ring_mask & (1u << r)) && m->weight[r] != a->weight[r])
				return false;
		return true;
	case ENG_ACT_REVERT:
		return m->kill;
	case ENG_ACT_RESUME_KILL:
		return !m->kill;
	case ENG_ACT_CUTOVER:
		return weights_all(m, a->variant == SLUICE_CANARY ? SLUICE_BUCKETS : 0) &&
		       m->lkg == (a->variant == SLUICE_CANARY ? SLUICE_BASELINE : SLUICE_CANARY);
	case ENG_ACT_PROMOTE:
		return !m->ncanary && weights_all(m, 0) && m->lkg == SLUICE_BASELINE;
	case ENG_ACT_UNDO:
		return false;	/* the pools are actuate's to compare */
	}
	return false;
}

/* What differs between the maps before a and now ("" nothing). */
static void changed(const struct eng_action *a, const struct ob_maps *was,
		    const struct ob_maps *now, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (memcmp(was->weight, now->weight, sizeof(was->weight)))
		n += snprintf(buf + n, len - n, "weight %u.%02u%% (was %u.%02u%%)",
			      now->weight[0] / 100, now->weight[0] % 100,
			      was->weight[0] / 100, was->weight[0] % 100);
	if (was->kill != now->kill && n < len)
		n += snprintf(buf + n, len - n, "%skill switch %s", n ? ", " : "",
			      now->kill ? "on" : "off");
	if (was->lkg != now->lkg && n < len)
		n += snprintf(buf + n, len - n, "%slast-known-good changed", n ? ", " : "");
	if (a->kind == ENG_ACT_PROMOTE && n < len &&
	    (was->gen != now->gen || was->ncanary != now->ncanary))
		snprintf(buf + n, len - n, "%sconfiguration gen %u (was %u)", n ? ", " : "",
			 now->gen, was->gen);
}

/* ---- encoding ---------------------------------------------------------- */

static json_t *u16s(const __u16 *v)
{
	json_t *a = json_array();
	unsigned int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		json_array_append_new(a, json_integer(v[r]));
	return a;
}

static int get_u16s(json_t *a, __u16 *v)
{
	unsigned int r;

	if (json_array_size(a) != SLUICE_MAX_RINGS)
		return -EINVAL;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		v[r] = json_integer_value(json_array_get(a, r));
	return 0;
}

static char *action_text(const struct eng_action *a, const struct ob_maps *before)
{
	json_t *o = json_pack("{s:s, s:o, s:i, s:i, s:I}", "action",
			      eng_action_kind_name(a->kind), "weight", u16s(a->weight),
			      "ring_mask", a->ring_mask, "variant", a->variant,
			      "gen", (json_int_t)a->gen);
	char *s;

	if (o && before)
		json_object_set_new(o, "before", json_pack("{s:o, s:b, s:i, s:I, s:i}",
			"weight", u16s(before->weight), "kill", before->kill,
			"lkg", before->lkg, "gen", (json_int_t)before->gen,
			"ncanary", before->ncanary));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static int action_parse(json_t *o, struct eng_action *a, struct ob_maps *before,
			bool *has_before)
{
	const char *kind = "";
	json_t *w = NULL, *bw = NULL, *b;
	json_int_t gen = 0, bgen = 0;
	int mask = 0, variant = 0, kill = 0, lkg = 0, nc = 0, k;

	memset(a, 0, sizeof(*a));
	if (json_unpack(o, "{s:s, s:o, s:i, s:i, s:I}", "action", &kind, "weight", &w,
			"ring_mask", &mask, "variant", &variant, "gen", &gen) ||
	    get_u16s(w, a->weight))
		return -EINVAL;
	for (k = 0; k <= ENG_ACT_UNDO; k++)
		if (!strcmp(kind, eng_action_kind_name(k)))
			break;
	if (k > ENG_ACT_UNDO)
		return -EINVAL;
	a->kind = k;
	a->ring_mask = mask;
	a->variant = variant;
	a->gen = gen;
	b = json_object_get(o, "before");
	*has_before = b != NULL;
	if (b && (json_unpack(b, "{s:o, s:b, s:i, s:I, s:i}", "weight", &bw, "kill", &kill,
			      "lkg", &lkg, "gen", &bgen, "ncanary", &nc) ||
		  get_u16s(bw, before->weight)))
		return -EINVAL;
	before->kill = kill;
	before->lkg = lkg;
	before->gen = bgen;
	before->ncanary = nc;
	return 0;
}

/* The notification of an engine event, or -1 (not one humans are told). */
static int notify_kind_of(const struct rollout *r, const struct eng_event *e)
{
	switch (e->type) {
	case ENG_EV_PAUSE:
		return r->st.pause_reason == ENG_PAUSE_INCONCLUSIVE ?
		       NOTIFY_INCONCLUSIVE : NOTIFY_PAUSE;
	case ENG_EV_ROLLBACK:
		return NOTIFY_ROLLBACK;
	case ENG_EV_ABORT:
		return NOTIFY_ABORT;
	case ENG_EV_PROMOTE:
		return NOTIFY_PROMOTE;
	default:
		return -1;
	}
}

static char *notify_text(int kind, const struct eng_event *e)
{
	json_t *o = json_pack("{s:s, s:i, s:i, s:I, s:s, s:s}", "notify",
			      notify_kind_name(kind), "attempt", (int)e->attempt,
			      "step", e->step, "at_ms", (json_int_t)e->at_ms,
			      "who", e->who, "text", e->text);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/* ---- carrying out ------------------------------------------------------ */

static int carry_action(struct daemon *d, const struct intent *in, json_t *o)
{
	struct ob_maps before = { 0 }, now;
	struct rollout *r = ro_find(d, in->service);
	struct eng_action a;
	bool has_before;
	char what[256], text[512];

	if (action_parse(o, &a, &before, &has_before)) {
		dlog(d, LOG_ERR_, "%s: outbox intent %lld is corrupt, dropped: %s",
		     in->service, (long long)in->seq, in->text);
		return 0;
	}
	if (!r) {
		dlog(d, LOG_ERR_, "%s: outbox intent %lld names no rollout, dropped",
		     in->service, (long long)in->seq);
		return 0;
	}
	if (!d->s)
		return -ENODEV;	/* kept for when the instance is there */
	if (maps_read(d, in->service, &now) == 0) {
		if (reached(&a, &now))
			return 0;
		changed(&a, &before, &now, what, sizeof(what));
		if (has_before && what[0]) {
			snprintf(text, sizeof(text),
				 "%s decided for rollout %llu not carried out: the maps changed since the decision (%s): superseded by the operator",
				 eng_action_kind_name(a.kind),
				 (unsigned long long)in->rollout_id, what);
			dlog(d, LOG_WARN_, "%s: %s", in->service, text);
			audit_note(d, in->service, in->rollout_id, "superseded", "sluiced", text);
			return 0;
		}
	}
	if (a.kind == ENG_ACT_REVERT && json_object_get(o, "live")) {
		live_revert(d, r, in->rollout_id, o);
	} else if (a.kind == ENG_ACT_UNDO && json_object_get(o, "live")) {
		/* the previous baseline serves again; then the promoted
		 * pool's live flows go as after a rollback: the kill switch
		 * (last-known-good: the restored baseline), with the reset
		 * now or after the drain */
		if (actuate(d, r, &a) == 0)
			live_revert(d, r, in->rollout_id, o);
	} else {
		actuate(d, r, &a);	/* a service that is gone: its error is audited */
	}
	return 0;
}

static int carry_notify(struct daemon *d, const struct intent *in, json_t *o)
{
	struct notify_event ne = { .service = in->service, .rollout_id = in->rollout_id };
	const char *kind = "", *who = "", *text = "";
	json_int_t at = 0;
	int attempt = 0, step = -1, k;

	if (json_unpack(o, "{s:s, s:i, s:i, s:I, s:s, s:s}", "notify", &kind,
			"attempt", &attempt, "step", &step, "at_ms", &at, "who", &who,
			"text", &text)) {
		dlog(d, LOG_ERR_, "%s: outbox notification %lld is corrupt, dropped: %s",
		     in->service, (long long)in->seq, in->text);
		return 0;
	}
	for (k = 0; k < NOTIFY_KINDS; k++)
		if (!strcmp(kind, notify_kind_name(k)))
			break;
	ne.kind = k;
	ne.attempt = attempt;
	ne.step = step;
	ne.at_ms = at;
	ne.who = who;
	ne.text = text;
	if (d->nt && k < NOTIFY_KINDS)
		notify_send(d->nt, &ne);
	return 0;
}

/* Carry out l in order, each deleted from the store in one transaction
 * (a crash before its commit carries them out again: repeat-safe). */
static void carry(struct daemon *d, struct intents *l)
{
	bool txn;
	unsigned int i;

	if (!l->n)
		return;
	txn = !store_begin(d->db);
	if (!txn)
		dlog(d, LOG_ERR_, "%s; carrying out %u intents without marking them done",
		     store_errmsg(d->db), l->n);
	for (i = 0; i < l->n; i++) {
		const struct intent *in = &l->v[i];
		json_t *o = json_loads(in->text, 0, NULL);
		int err;

		if (json_object_get(o, "notify")) {
			err = carry_notify(d, in, o);
		} else if (json_object_get(o, "due_ms")) {
			if (live_due(d, in->service, in->rollout_id, o) > 0) {
				json_decref(o);	/* kept in the store until due */
				if (push(&deferred, in->seq, in->service, in->rollout_id, in->text))
					dlog(d, LOG_ERR_, "%s: out of memory", in->service);
				continue;
			}
			err = live_reset(d, in->service, in->rollout_id, o);
		} else {
			err = carry_action(d, in, o);
		}
		json_decref(o);
		if (!err && txn && store_outbox_done(d->db, in->seq))
			dlog(d, LOG_ERR_, "%s", store_errmsg(d->db));
	}
	if (txn && store_commit(d->db)) {
		dlog(d, LOG_ERR_, "%s; the intents carried out may be repeated at the next start",
		     store_errmsg(d->db));
		store_rollback(d->db);
	}
	clear(l);
}

/* ---- the interface ----------------------------------------------------- */

static int record(struct daemon *d, struct rollout *r, char *text)
{
	__s64 seq;
	int err;

	if (!text)
		return -ENOMEM;
	err = store_outbox_add(d->db, r->service, r->st.rollout_id, steady_ms(), text, &seq);
	if (!err)
		err = push(&staged, seq, r->service, r->st.rollout_id, text);
	free(text);
	return err;
}

int outbox_record(struct daemon *d, struct rollout *r, const struct eng_out *out)
{
	struct ob_maps m = { 0 };
	unsigned int i;
	int err = 0, k;
	bool known;

	if (!out->nactions && !out->nevents)
		return 0;	/* most ticks: nothing to record */
	known = out->nactions && maps_read(d, r->service, &m) == 0;

	for (i = 0; i < out->nactions && !err; i++) {
		char *text = action_text(&out->actions[i], known ? &m : NULL);

		/* a rollback and an undo take the plan's on_rollback for the
		 * live flows of the side they leave */
		bool live = out->actions[i].kind == ENG_ACT_REVERT ||
			    out->actions[i].kind == ENG_ACT_UNDO;

		if (text && live)
			text = live_intent(r, text, steady_ms(), false);
		err = record(d, r, text);
		if (!err && live && (!r->plan || r->plan->live_flows == SLUICE_LIVE_DRAIN))
			err = record(d, r, live_intent(r, NULL, steady_ms(), true));
		maps_apply(&m, &out->actions[i]);
	}
	for (i = 0; i < out->nevents && !err; i++) {
		k = notify_kind_of(r, &out->events[i]);
		if (k >= 0)
			err = record(d, r, notify_text(k, &out->events[i]));
	}
	if (err)
		dlog(d, LOG_ERR_, "%s: %s", r->service,
		     err == -ENOMEM ? "out of memory" : store_errmsg(d->db));
	return err;
}

void outbox_flush(struct daemon *d)
{
	carry(d, &staged);
}

void outbox_discard(void)
{
	clear(&staged);
}

/* Carry out the deferred intents that are due by now (each tick). */
void outbox_due(struct daemon *d)
{
	struct intents due = { 0 };
	unsigned int i, n = 0;

	for (i = 0; i < deferred.n; i++) {
		struct intent *in = &deferred.v[i];
		json_t *o = json_loads(in->text, 0, NULL);
		bool now = !o || live_due(d, in->service, in->rollout_id, o) <= 0;

		json_decref(o);
		if (now && !push(&due, in->seq, in->service, in->rollout_id, in->text)) {
			free(in->text);
			continue;
		}
		deferred.v[n++] = *in;
	}
	deferred.n = n;
	carry(d, &due);	/* one not due any more is deferred again */
	free(due.v);
}

static int load_one(void *ctx, __s64 seq, const char *service, __u64 rid,
		    const char *text)
{
	return push(ctx, seq, service, rid, text);
}

void outbox_replay(struct daemon *d)
{
	struct intents l = { 0 };

	if (store_outbox_load(d->db, load_one, &l)) {
		dlog(d, LOG_ERR_, "%s", store_errmsg(d->db));
		clear(&l);
	} else if (l.n) {
		dlog(d, LOG_INFO_, "%u intents decided before the last stop and not carried out: carrying them out",
		     l.n);
		carry(d, &l);
	}
	free(l.v);
}

void outbox_free(void)
{
	clear(&staged);
	free(staged.v);
	staged.v = NULL;
	staged.cap = 0;
	clear(&deferred);
	free(deferred.v);
	deferred.v = NULL;
	deferred.cap = 0;
}
