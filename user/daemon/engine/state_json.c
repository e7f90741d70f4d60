// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * struct eng_state <-> JSON (jansson), so the daemon's store keeps one
 * opaque, versioned document per rollout, and audit events as JSON lines.
 * Reading is strict: every field must be there with its type, or the
 * document is rejected (truncated, corrupt, another version): a state that
 * cannot be trusted is never half loaded.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "engine.h"

/* ---- writing ------------------------------------------------------------ */

static void put_u(json_t *o, const char *k, __u64 v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void put_i(json_t *o, const char *k, long long v)
{
	json_object_set_new(o, k, json_integer(v));
}

static void put_b(json_t *o, const char *k, bool v)
{
	json_object_set_new(o, k, json_boolean(v));
}

static void put_s(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v));
}

static void put_d(json_t *o, const char *k, double v)
{
	/* JSON has no infinities or NaN; the state never needs them */
	json_object_set_new(o, k, json_real(isfinite(v) ? v : 0));
}

static void put_ua(json_t *o, const char *k, const __u64 *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	json_object_set_new(o, k, a);
}

static void put_wa(json_t *o, const char *k, const __u16 *v)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		json_array_append_new(a, json_integer(v[i]));
	json_object_set_new(o, k, a);
}

static void put_da(json_t *o, const char *k, const double *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_real(isfinite(v[i]) ? v[i] : 0));
	json_object_set_new(o, k, a);
}

static json_t *eval_json(const struct gate_eval *e)
{
	json_t *o = json_object();

	put_s(o, "outcome", gate_outcome_name(e->outcome));
	put_d(o, "canary", e->canary);
	put_d(o, "baseline", e->baseline);
	put_d(o, "threshold", e->threshold);
	put_d(o, "stat", e->stat);
	put_d(o, "stat_limit", e->stat_limit);
	put_u(o, "samples_c", e->samples_c);
	put_u(o, "samples_b", e->samples_b);
	put_u(o, "bad_c", e->bad_c);
	put_u(o, "bad_b", e->bad_b);
	put_u(o, "min_samples", e->min_samples);
	put_u(o, "fails", e->fails);
	put_u(o, "errors", e->errors);
	put_s(o, "reason", e->reason);
	return o;
}

static json_t *gate_json(const struct gate_state *g)
{
	json_t *o = json_object(), *q = json_object();
	int v;

	put_d(q, "margin", g->seq.margin);
	put_d(q, "alpha", g->seq.alpha);
	put_b(q, "two_sided", g->seq.two_sided);
	put_da(q, "l", g->seq.l, 2 * SEQ_GRID);
	put_d(q, "log_m", g->seq.log_m);
	put_u(q, "x_c", g->seq.x_c);
	put_u(q, "x_b", g->seq.x_b);
	put_u(q, "increments", g->seq.increments);
	put_b(q, "rejected", g->seq.rejected);
	json_object_set_new(o, "seq", q);
	put_b(o, "seq_on", g->seq_on);
	put_b(o, "snap_valid", g->snap_valid);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		char k[16];

		snprintf(k, sizeof(k), "snap_n%d", v);
		put_ua(o, k, g->snap_n[v], SLUICE_MAX_RINGS);
		snprintf(k, sizeof(k), "snap_x%d", v);
		put_ua(o, k, g->snap_x[v], SLUICE_MAX_RINGS);
	}
	put_u(o, "last_eval_ms", g->last_eval_ms);
	put_u(o, "ext_seq", g->ext_seq);
	put_ua(o, "step_n", g->step_n, SLUICE_VARIANTS);
	put_ua(o, "step_x", g->step_x, SLUICE_VARIANTS);
	put_u(o, "fails", g->fails);
	put_u(o, "errors", g->errors);
	put_d(o, "lat_threshold_us", g->lat_threshold_us);
	put_b(o, "skip_next", g->first_incr);	/* the key of older states */
	json_object_set_new(o, "last", eval_json(&g->last));
	return o;
}

char *eng_state_to_json(const struct eng_state *st)
{
	json_t *o = json_object(), *gates = json_array();
	unsigned int i;
	char *s;

	if (!o || !gates) {
		json_decref(o);
		json_decref(gates);
		return NULL;
	}
	put_u(o, "version", st->version);
	put_s(o, "service", st->service);
	put_u(o, "rollout_id", st->rollout_id);
	put_u(o, "attempt", st->attempt);
	put_s(o, "phase", eng_phase_name(st->phase));
	put_i(o, "step", st->step);
	put_u(o, "created_ms", st->created_ms);
	put_u(o, "started_ms", st->started_ms);
	put_u(o, "step_started_ms", st->step_started_ms);
	put_u(o, "held_ms", st->held_ms);
	put_u(o, "last_tick_ms", st->last_tick_ms);
	put_u(o, "phase_since_ms", st->phase_since_ms);
	put_u(o, "pause_reason", st->pause_reason);
	put_s(o, "pause_who", st->pause_who);
	put_b(o, "frozen", st->frozen);
	put_u(o, "frozen_since_ms", st->frozen_since_ms);
	put_b(o, "promote_pending", st->promote_pending);
	put_b(o, "promote_full", st->promote_full);
	put_b(o, "by_operator", st->by_operator);
	put_b(o, "wrote", st->wrote);
	put_wa(o, "want_weight", st->want_weight);
	put_wa(o, "prev_weight", st->prev_weight);
	put_b(o, "want_revert", st->want_revert);
	put_b(o, "want_cutover", st->want_cutover);
	put_u(o, "promote_gen", st->promote_gen);
	put_u(o, "lkg_at_start", st->lkg_at_start);
	put_b(o, "resume_kill_pending", st->resume_kill_pending);
	put_b(o, "pending_retry", st->pending_retry);
	put_b(o, "extend_step", st->extend_step);
	put_u(o, "waiting_since_ms", st->waiting_since_ms);
	put_u(o, "canary_down", st->canary_down);
	put_u(o, "canary_active", st->canary_active);
	put_b(o, "lat_valid", st->lat_valid);
	put_b(o, "base_before_valid", st->base_before_valid);
	put_ua(o, "lat_step0", st->lat_step[0], SLUICE_LAT_BUCKETS);
	put_ua(o, "lat_step1", st->lat_step[1], SLUICE_LAT_BUCKETS);
	put_ua(o, "base_lat_before", st->base_lat_before, SLUICE_LAT_BUCKETS);
	for (i = 0; i < st->ngates && i < SLUICE_PLAN_MAX_GATES; i++)
		json_array_append_new(gates, gate_json(&st->gates[i]));
	json_object_set_new(o, "gates", gates);
	put_s(o, "status", st->status);
	put_s(o, "end_reason", st->end_reason);
	put_b(o, "hook_pending", st->hook_pending);
	put_u(o, "hook_seq", st->hook_seq);
	put_u(o, "hook_since_ms", st->hook_since_ms);
	{
		char id[20];	/* a hash: all 64 bits, as hex */

		snprintf(id, sizeof(id), "%016llx", (unsigned long long)st->canary_id);
		put_s(o, "canary_id", id);
	}
	put_b(o, "undone", st->undone);
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(o);
	return s;
}

char *eng_event_to_json(const struct eng_event *ev, const char *service)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return NULL;
	put_s(o, "service", service ? service : "");
	put_s(o, "type", eng_event_type_name(ev->type));
	put_u(o, "rollout_id", ev->rollout_id);
	put_u(o, "attempt", ev->attempt);
	put_i(o, "step", ev->step >= 0 ? ev->step + 1 : 0);	/* 1-based, 0 none */
	put_u(o, "at_ms", ev->at_ms);
	put_s(o, "who", ev->who);
	put_s(o, "text", ev->text);
	if (ev->type == ENG_EV_GATE) {
		put_i(o, "gate", ev->gate);
		json_object_set_new(o, "eval", eval_json(&ev->eval));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(o);
	return s;
}

/* ---- reading ------------------------------------------------------------ */

struct rd {
	char *err;
	size_t errlen;
	int bad;
};

static json_t *field(struct rd *r, json_t *o, const char *k, json_type t,
		     const char *where)
{
	json_t *v = json_object_get(o, k);

	if (r->bad)
		return NULL;
	if (!v || (json_typeof(v) != t && !(t == JSON_REAL && json_is_integer(v)) &&
		   !(t == JSON_TRUE && json_is_boolean(v)))) {
		snprintf(r->err, r->errlen, "state: %s'%s' is %s", where, k,
			 v ? "of the wrong type" : "missing");
		r->bad = 1;
		return NULL;
	}
	return v;
}

static __u64 get_u(struct rd *r, json_t *o, const char *k, const char *w, __u64 max)
{
	json_t *v = field(r, o, k, JSON_INTEGER, w);
	json_int_t x;

	if (!v)
		return 0;
	x = json_integer_value(v);
	if (x < 0 || (__u64)x > max) {
		snprintf(r->err, r->errlen, "state: %s'%s' = %lld is out of range", w, k,
			 (long long)x);
		r->bad = 1;
		return 0;
	}
	return x;
}

static bool get_b(struct rd *r, json_t *o, const char *k, const char *w)
{
	json_t *v = field(r, o, k, JSON_TRUE, w);

	return v && json_is_true(v);
}

static double get_d(struct rd *r, json_t *o, const char *k, const char *w)
{
	json_t *v = field(r, o, k, JSON_REAL, w);

	return v ? json_number_value(v) : 0;
}

static void get_s(struct rd *r, json_t *o, const char *k, const char *w, char *buf,
		  size_t len)
{
	json_t *v = field(r, o, k, JSON_STRING, w);

	if (!v)
		return;
	if (strlen(json_string_value(v)) >= len) {
		snprintf(r->err, r->errlen, "state: %s'%s' is too long", w, k);
		r->bad = 1;
		return;
	}
	snprintf(buf, len, "%s", json_string_value(v));
}

static json_t *get_arr(struct rd *r, json_t *o, const char *k, const char *w, size_t n)
{
	json_t *a = field(r, o, k, JSON_ARRAY, w);

	if (a && json_array_size(a) != n) {
		snprintf(r->err, r->errlen, "state: %s'%s' has %zu entries, expected %zu", w, k,
			 json_array_size(a), n);
		r->bad = 1;
		return NULL;
	}
	return a;
}

static void get_ua(struct rd *r, json_t *o, const char *k, const char *w, __u64 *out,
		   size_t n)
{
	json_t *a = get_arr(r, o, k, w, n);
	size_t i;

	for (i = 0; a && i < n; i++) {
		json_t *v = json_array_get(a, i);

		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			snprintf(r->err, r->errlen, "state: %s'%s'[%zu] is not a count", w, k, i);
			r->bad = 1;
			return;
		}
		out[i] = json_integer_value(v);
	}
}

static void get_wa(struct rd *r, json_t *o, const char *k, const char *w, __u16 *out)
{
	__u64 v[SLUICE_MAX_RINGS] = {};
	int i;

	get_ua(r, o, k, w, v, SLUICE_MAX_RINGS);
	for (i = 0; i < SLUICE_MAX_RINGS && !r->bad; i++) {
		if (v[i] > SLUICE_BUCKETS) {
			snprintf(r->err, r->errlen, "state: %s'%s'[%d] is not a weight", w, k, i);
			r->bad = 1;
			return;
		}
		out[i] = v[i];
	}
}

static void get_da(struct rd *r, json_t *o, const char *k, const char *w, double *out,
		   size_t n)
{
	json_t *a = get_arr(r, o, k, w, n);
	size_t i;

	for (i = 0; a && i < n; i++) {
		json_t *v = json_array_get(a, i);

		if (!json_is_number(v)) {
			snprintf(r->err, r->errlen, "state: %s'%s'[%zu] is not a number", w, k, i);
			r->bad = 1;
			return;
		}
		out[i] = json_number_value(v);
	}
}

static int name_index(const char *s, const char *(*name)(int), int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, name(i)))
			return i;
	return -1;
}

static const char *outcome_n(int i) { return gate_outcome_name(i); }
static const char *phase_n(int i) { return eng_phase_name(i); }

static void get_eval(struct rd *r, json_t *o, const char *w, struct gate_eval *e)
{
	char oc[24] = "";
	int x;

	if (!o || r->bad)
		return;
	get_s(r, o, "outcome", w, oc, sizeof(oc));
	x = name_index(oc, outcome_n, 5);
	if (!r->bad && x < 0) {
		snprintf(r->err, r->errlen, "state: %s'outcome' '%s' is unknown", w, oc);
		r->bad = 1;
	}
	e->outcome = x < 0 ? GATE_NONE : x;
	e->canary = get_d(r, o, "canary", w);
	e->baseline = get_d(r, o, "baseline", w);
	e->threshold = get_d(r, o, "threshold", w);
	e->stat = get_d(r, o, "stat", w);
	e->stat_limit = get_d(r, o, "stat_limit", w);
	e->samples_c = get_u(r, o, "samples_c", w, UINT64_MAX >> 1);
	e->samples_b = get_u(r, o, "samples_b", w, UINT64_MAX >> 1);
	e->bad_c = get_u(r, o, "bad_c", w, UINT64_MAX >> 1);
	e->bad_b = get_u(r, o, "bad_b", w, UINT64_MAX >> 1);
	e->min_samples = get_u(r, o, "min_samples", w, UINT64_MAX >> 1);
	e->fails = get_u(r, o, "fails", w, UINT32_MAX);
	e->errors = get_u(r, o, "errors", w, UINT32_MAX);
	get_s(r, o, "reason", w, e->reason, sizeof(e->reason));
}

static void get_gate(struct rd *r, json_t *o, unsigned int i, struct gate_state *g)
{
	char w[32];
	json_t *q;
	int v;

	snprintf(w, sizeof(w), "gates[%u].", i);
	if (!json_is_object(o)) {
		snprintf(r->err, r->errlen, "state: gates[%u] is not an object", i);
		r->bad = 1;
		return;
	}
	q = field(r, o, "seq", JSON_OBJECT, w);
	if (q) {
		g->seq.margin = get_d(r, q, "margin", w);
		g->seq.alpha = get_d(r, q, "alpha", w);
		g->seq.two_sided = get_b(r, q, "two_sided", w);
		get_da(r, q, "l", w, g->seq.l, 2 * SEQ_GRID);
		g->seq.log_m = get_d(r, q, "log_m", w);
		g->seq.x_c = get_u(r, q, "x_c", w, UINT64_MAX >> 1);
		g->seq.x_b = get_u(r, q, "x_b", w, UINT64_MAX >> 1);
		g->seq.increments = get_u(r, q, "increments", w, UINT64_MAX >> 1);
		g->seq.rejected = get_b(r, q, "rejected", w);
		if (!r->bad && !(g->seq.alpha > 0 && g->seq.alpha < 1)) {
			snprintf(r->err, r->errlen, "state: %s'alpha' is not in (0, 1)", w);
			r->bad = 1;
		}
	}
	g->seq_on = get_b(r, o, "seq_on", w);
	g->snap_valid = get_b(r, o, "snap_valid", w);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		char k[16];

		snprintf(k, sizeof(k), "snap_n%d", v);
		get_ua(r, o, k, w, g->snap_n[v], SLUICE_MAX_RINGS);
		snprintf(k, sizeof(k), "snap_x%d", v);
		get_ua(r, o, k, w, g->snap_x[v], SLUICE_MAX_RINGS);
	}
	g->last_eval_ms = get_u(r, o, "last_eval_ms", w, UINT64_MAX >> 1);
	g->ext_seq = get_u(r, o, "ext_seq", w, UINT64_MAX >> 1);
	get_ua(r, o, "step_n", w, g->step_n, SLUICE_VARIANTS);
	get_ua(r, o, "step_x", w, g->step_x, SLUICE_VARIANTS);
	g->fails = get_u(r, o, "fails", w, UINT32_MAX);
	g->errors = get_u(r, o, "errors", w, UINT32_MAX);
	g->lat_threshold_us = get_d(r, o, "lat_threshold_us", w);
	g->first_incr = get_b(r, o, "skip_next", w);
	get_eval(r, field(r, o, "last", JSON_OBJECT, w), w, &g->last);
}

int eng_state_from_json(const char *text, struct eng_state *out, char *err,
			size_t errlen)
{
	struct rd r = { .err = err, .errlen = errlen };
	struct eng_state *st;
	json_error_t je;
	json_t *o, *gates;
	char phase[24] = "";
	unsigned int i;
	int x;

	o = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(err, errlen, "state: not JSON (line %d col %d: %s): truncated or corrupt",
			 je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "state: not a JSON object");
		json_decref(o);
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		json_decref(o);
		snprintf(err, errlen, "state: out of memory");
		return -ENOMEM;
	}
	st->version = get_u(&r, o, "version", "", UINT32_MAX);
	if (!r.bad && st->version != ENG_STATE_VERSION) {
		snprintf(err, errlen, "state: version %u is not the supported %u", st->version,
			 ENG_STATE_VERSION);
		r.bad = 1;
	}
	get_s(&r, o, "service", "", st->service, sizeof(st->service));
	st->rollout_id = get_u(&r, o, "rollout_id", "", UINT64_MAX >> 1);
	st->attempt = get_u(&r, o, "attempt", "", UINT32_MAX);
	get_s(&r, o, "phase", "", phase, sizeof(phase));
	x = name_index(phase, phase_n, 7);
	if (!r.bad && x < 0) {
		snprintf(err, errlen, "state: phase '%s' is unknown", phase);
		r.bad = 1;
	}
	st->phase = x < 0 ? ENG_NONE : x;
	{
		json_t *sv = field(&r, o, "step", JSON_INTEGER, "");

		st->step = sv ? (int)json_integer_value(sv) : -1;
		if (sv && (json_integer_value(sv) < -1 ||
			   json_integer_value(sv) >= SLUICE_PLAN_MAX_STEPS)) {
			snprintf(err, errlen, "state: 'step' is out of range");
			r.bad = 1;
		}
	}
	st->created_ms = get_u(&r, o, "created_ms", "", UINT64_MAX >> 1);
	st->started_ms = get_u(&r, o, "started_ms", "", UINT64_MAX >> 1);
	st->step_started_ms = get_u(&r, o, "step_started_ms", "", UINT64_MAX >> 1);
	st->held_ms = get_u(&r, o, "held_ms", "", UINT64_MAX >> 1);
	st->last_tick_ms = get_u(&r, o, "last_tick_ms", "", UINT64_MAX >> 1);
	st->phase_since_ms = get_u(&r, o, "phase_since_ms", "", UINT64_MAX >> 1);
	st->pause_reason = get_u(&r, o, "pause_reason", "", ENG_PAUSE_SPLIT);
	get_s(&r, o, "pause_who", "", st->pause_who, sizeof(st->pause_who));
	st->frozen = get_b(&r, o, "frozen", "");
	st->frozen_since_ms = get_u(&r, o, "frozen_since_ms", "", UINT64_MAX >> 1);
	st->promote_pending = get_b(&r, o, "promote_pending", "");
	st->promote_full = get_b(&r, o, "promote_full", "");
	st->by_operator = get_b(&r, o, "by_operator", "");
	st->wrote = get_b(&r, o, "wrote", "");
	get_wa(&r, o, "want_weight", "", st->want_weight);
	get_wa(&r, o, "prev_weight", "", st->prev_weight);
	st->want_revert = get_b(&r, o, "want_revert", "");
	st->want_cutover = get_b(&r, o, "want_cutover", "");
	st->promote_gen = get_u(&r, o, "promote_gen", "", UINT32_MAX);
	st->lkg_at_start = get_u(&r, o, "lkg_at_start", "", SLUICE_VARIANTS - 1);
	st->resume_kill_pending = get_b(&r, o, "resume_kill_pending", "");
	st->pending_retry = get_b(&r, o, "pending_retry", "");
	st->extend_step = get_b(&r, o, "extend_step", "");
	st->waiting_since_ms = get_u(&r, o, "waiting_since_ms", "", UINT64_MAX >> 1);
	/* added after version 1's first release: absent is 0 (judged again
	 * on the next tick) */
	if (json_object_get(o, "canary_down")) {
		st->canary_down = get_u(&r, o, "canary_down", "", UINT16_MAX);
		st->canary_active = get_u(&r, o, "canary_active", "", UINT16_MAX);
	}
	st->lat_valid = get_b(&r, o, "lat_valid", "");
	st->base_before_valid = get_b(&r, o, "base_before_valid", "");
	get_ua(&r, o, "lat_step0", "", st->lat_step[0], SLUICE_LAT_BUCKETS);
	get_ua(&r, o, "lat_step1", "", st->lat_step[1], SLUICE_LAT_BUCKETS);
	get_ua(&r, o, "base_lat_before", "", st->base_lat_before, SLUICE_LAT_BUCKETS);
	gates = field(&r, o, "gates", JSON_ARRAY, "");
	if (gates && json_array_size(gates) > SLUICE_PLAN_MAX_GATES) {
		snprintf(err, errlen, "state: more than %d gates", SLUICE_PLAN_MAX_GATES);
		r.bad = 1;
	}
	if (gates && !r.bad) {
		st->ngates = json_array_size(gates);
		for (i = 0; i < st->ngates && !r.bad; i++)
			get_gate(&r, json_array_get(gates, i), i, &st->gates[i]);
	}
	get_s(&r, o, "status", "", st->status, sizeof(st->status));
	get_s(&r, o, "end_reason", "", st->end_reason, sizeof(st->end_reason));
	/* the pre-step hook's fields came later: a state written before
	 * them has no hook running */
	if (json_object_get(o, "hook_pending")) {
		st->hook_pending = get_b(&r, o, "hook_pending", "");
		st->hook_seq = get_u(&r, o, "hook_seq", "", UINT64_MAX >> 1);
		st->hook_since_ms = get_u(&r, o, "hook_since_ms", "", UINT64_MAX >> 1);
	}
	if (json_object_get(o, "undone"))
		st->undone = get_b(&r, o, "undone", "");
	/* came with issue 21: absent is 0 (the next tick takes the pool) */
	if (json_object_get(o, "canary_id")) {
		char id[20] = "", *end;

		get_s(&r, o, "canary_id", "", id, sizeof(id));
		st->canary_id = strtoull(id, &end, 16);
		if (!r.bad && (*end || !id[0])) {
			snprintf(err, errlen, "state: canary_id '%s' is not hex", id);
			r.bad = 1;
		}
	}
	json_decref(o);
	if (!r.bad)
		memcpy(out, st, sizeof(*st));
	free(st);
	return r.bad ? -EINVAL : 0;
}
