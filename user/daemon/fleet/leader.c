// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet leader's rollouts, run by the same engine as a node's
 * (engine.h): observe -> eng_tick -> persist -> act, where observing sums
 * the nodes' reports, persisting is the rollout key in etcd, and acting is
 * the weights and kill-switch keys, written with the state in one
 * transaction fenced on the leader key and the rollout key's revision.
 *
 * The rollout key (schema 2):
 *   {"schema": 2, "phase", "step", "step_started_ms", "reason", "by",
 *    "engine": the engine's state document (state_json.c),
 *    "acc": {"total": fs, "nodes": {NODE: fs}}: the fleet's cumulative
 *           counters and each node's counters when last added,
 *    "events": the transitions of this write, for every node's audit trail,
 *    "frozen_at_ms", "gates", "config_rev" (promoted)}
 * and, written by any node, requests the leader consumes: "cmd":
 * {"kind": "pause"|"resume"|"abort", "who", "reason"}, "promote":
 * "step"|"full"; {"phase": "start"} begins, {"phase": "abort"} (an older
 * node's abort) aborts.
 *
 * It is written on transitions only (the engine's significant outputs:
 * actions, or events other than gate evaluations): between them the
 * engine's state lives in the leader's memory. A new leader loads the
 * document of the last transition: the hold accrues from its last tick
 * (the failover's time counts, as the hold of a node that restarted), and
 * the fleet's counters go on from "acc" plus each node's increase since:
 * the evidence of the step so far is kept, not dropped.
 *
 * A rollout key without "schema" but with a phase other than start or
 * abort was written by an older leader (schema 1, its own judge): this
 * leader does not take it over; it writes phase "error" with the reason
 * (the weights stay), and the operator aborts and starts it again.
 */
#include <stdlib.h>
#include <string.h>
#include "fleet_int.h"
#include "fleet.h"
#include "fleet_value.h"
#include "engine.h"
#include "error_budget.h"
#include "prom.h"

#define FLEET_SCHEMA	2
#define BUDGET_QUERY_MS	10000

struct fleet_lead {
	struct rollout ro;		/* service, plan, engine state: the
					 * node's own struct, for sample_fill
					 * and the audit */
	int64_t plan_rev;		/* ro.plan parsed from this revision */
	int64_t doc_rev;		/* the rollout key revision ro.st is
					 * from (loaded, or written by it) */
	struct sluice_flow_stats total[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	json_t *last;			/* node -> fs when last added */
	/* the handshake-latency histograms summed the same way (plans with
	 * a latency gate: the nodes report them then) */
	__u64 lat_total[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
	json_t *lat_last;		/* node -> lat when last added */
	json_t *written;		/* the document it wrote last */
	struct eng_obs obs;
	/* the plan's budget (budget_check): the fleet's freeze, its last
	 * verdict, when to check next, a query in flight */
	struct eng_freeze bf;
	struct budget_left bl;
	__u64 budget_next_ms;
	bool budget_busy;
	int64_t budget_seq;		/* the query in flight; a start
					 * bumps it: an older answer is dropped */
};

void fleet_lead_free(struct fsvc *s)
{
	if (!s->lead)
		return;
	sluice_plan_free(s->lead->ro.plan);
	json_decref(s->lead->last);
	json_decref(s->lead->lat_last);
	json_decref(s->lead->written);
	free(s->lead);
	s->lead = NULL;
}

/* The fleet's counters now: each reporting node's increase since it was
 * last added (fleet_acc_add). */
static void acc_update(struct fleet *F, struct fleet_lead *l, const char *svc)
{
	struct sluice_flow_stats now[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_flow_stats last[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	static __u64 lnow[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
	static __u64 llast[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
	const char *node;
	json_t *rep;

	json_object_foreach(F->nodes, node, rep) {
		if (!fleet_node_fs(rep, svc, now))
			continue;
		if (!fleet_fs_parse(json_object_get(l->last, node), last))
			memcpy(last, now, sizeof(last));	/* new: from now on */
		fleet_acc_add(l->total, last, now);
		json_object_set_new(l->last, node, fleet_fs_json(last));
		/* its histograms, when it reports them */
		if (!fleet_lat_parse(json_object_get(json_object_get(json_object_get(rep,
					"services"), svc), "lat"), lnow))
			continue;
		if (!fleet_lat_parse(json_object_get(l->lat_last, node), llast))
			memcpy(llast, lnow, sizeof(llast));
		fleet_lat_add(l->lat_total, llast, lnow);
		json_object_set_new(l->lat_last, node, fleet_lat_json(llast));
	}
}

/* The engine's state and the counters from a schema 2 document. */
static int load_doc(struct fleet_lead *l, json_t *doc, char *err, size_t errlen)
{
	json_t *acc = json_object_get(doc, "acc");
	char *text = json_dumps(json_object_get(doc, "engine"), JSON_COMPACT);
	int r;

	r = text ? eng_state_from_json(text, &l->ro.st, err, errlen) : -EINVAL;
	if (!text)
		snprintf(err, errlen, "no engine state");
	free(text);
	if (r)
		return r;
	fleet_fs_parse(json_object_get(acc, "total"), l->total);
	json_decref(l->last);
	l->last = json_object_get(acc, "nodes") ? json_deep_copy(json_object_get(acc, "nodes"))
						: json_object();
	fleet_lat_parse(json_object_get(acc, "lat_total"), l->lat_total);
	json_decref(l->lat_last);
	l->lat_last = json_object_get(acc, "lat_nodes") ?
		json_deep_copy(json_object_get(acc, "lat_nodes")) : json_object();
	return 0;
}

static struct fleet_lead *lead_get(struct fsvc *s)
{
	if (!s->lead) {
		s->lead = calloc(1, sizeof(*s->lead));
		if (!s->lead)
			return NULL;
		snprintf(s->lead->ro.service, sizeof(s->lead->ro.service), "%s", s->name);
		s->lead->ro.interval_ms = 1000;
		s->lead->last = json_object();
		s->lead->lat_last = json_object();
		s->lead->doc_rev = -1;
	}
	return s->lead;
}

/* The plan from etcd, parsed once per revision and resolved against this
 * node's maps. NULL with err. */
static struct sluice_plan *plan_get(struct daemon *d, struct fsvc *s, struct fleet_lead *l,
				    char *err, size_t errlen)
{
	struct fleet *F = fleet_of(d);
	char pk[512];
	json_t *bad;

	if (l->ro.plan && l->plan_rev == s->plan_rev)
		return l->ro.plan;
	sluice_plan_free(l->ro.plan);
	l->ro.plan = NULL;
	fleet_key(F, pk, sizeof(pk), s->name, "plan");
	if (!s->plan_text) {
		snprintf(err, errlen, "no plan in etcd");
		return NULL;
	}
	bad = json_object_get(F->bad, pk);
	if (bad) {
		snprintf(err, errlen, "%s", json_string_value(json_object_get(bad, "error")) ?: "");
		return NULL;
	}
	l->ro.plan = sluice_plan_parse_string(s->plan_text, pk, err, errlen);
	if (!l->ro.plan) {
		fleet_bad_key(d, pk, s->plan_rev, err);
		return NULL;
	}
	if (d->s && ro_resolve_service(d, l->ro.plan, s->name, err, errlen)) {
		sluice_plan_free(l->ro.plan);
		l->ro.plan = NULL;
		return NULL;
	}
	l->plan_rev = s->plan_rev;
	return l->ro.plan;
}

static void budget_check(struct daemon *d, struct fsvc *s, struct fleet_lead *l, __u64 now);

/*
 * The engine's observation of the fleet: what the service is (mode,
 * pools, backends' health) from this node's maps, the weights and kill
 * switch as etcd holds them (what every node applies), and the counters
 * summed over the nodes.
 */
static void observe(struct daemon *d, struct fsvc *s, struct fleet_lead *l, __u64 now)
{
	struct fleet *F = fleet_of(d);
	struct eng_obs *o = &l->obs;
	unsigned int v, b;

	if (sample_fill(d, &l->ro, o))
		o->exists = false;
	acc_update(F, l, s->name);
	memcpy(o->fs, l->total, sizeof(o->fs));
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		memcpy(o->health[v].lat, l->lat_total[v], sizeof(o->health[v].lat));
		for (b = 0, o->health[v].hs_samples = 0; b < SLUICE_LAT_BUCKETS; b++)
			o->health[v].hs_samples += l->lat_total[v][b];
	}
	if (s->has_weights)
		memcpy(o->weight, s->weight, sizeof(o->weight));
	o->kill = (s->kill == 1 ? SLUICE_KILL_REVERT : 0) | o->kill_global;
	o->tick_ms = 1000;
	/* Prometheus and command gates, the pre-step hook: run here, by the
	 * node's runners, as a node runs its own rollout's */
	if (l->ro.plan) {
		gs_measure(d, &l->ro, o, now);
		prestep_tick(d->ps, &l->ro, o);
		budget_check(d, s, l, now);
	}
}

static void env_fill(struct fleet *F, struct fsvc *s, struct eng_env *env)
{
	memset(env, 0, sizeof(*env));
	env->global.frozen = F->global_freeze;
	snprintf(env->global.reason, sizeof(env->global.reason), "fleet freeze");
	env->service.frozen = s->frozen;
	snprintf(env->service.reason, sizeof(env->service.reason), "fleet service freeze");
	if (!s->frozen && s->lead && s->lead->bf.frozen)
		env->service = s->lead->bf;	/* the fleet's error budget */
	env->operator_weight_ends = true;
}

/* ---- the plan's budget, on the fleet ---------------------------------- */

/* A verdict into the fleet's budget freeze (error_budget.h, as a node's
 * budget_freeze.c): a change is logged and goes into the audit trail. */
static void budget_apply(struct daemon *d, struct fsvc *s, struct fleet_lead *l,
			 const struct budget_left *bl, __u64 now)
{
	char text[320];

	l->bl = *bl;
	if (!budget_freeze_update(&l->bf, bl, now))
		return;
	snprintf(text, sizeof(text), "%s (fleet): %s", l->bf.frozen ? "frozen" : "unfrozen",
		 l->bf.frozen ? l->bf.reason : bl->text);
	dlog(d, l->bf.frozen ? LOG_WARN_ : LOG_INFO_, "fleet: %s: %s", s->name, text);
	audit_note(d, s->name, l->ro.st.rollout_id, l->bf.frozen ? "freeze" : "unfreeze",
		   BUDGET_WHO, text);
}

static void on_budget(const struct prom_result *res, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);
	struct budget_left bl;
	struct fsvc *s;

	if (fleet_stale(a))
		return;
	if (res->err == -ECANCELED) {
		free(a);
		return;
	}
	s = fleet_svc_get(F, a->svc, false);
	if (s && s->lead && s->lead->budget_seq == a->step) {
		s->lead->budget_busy = false;
		if (res->err)
			dlog(a->d, LOG_WARN_, "fleet: %s: error budget query: %s", a->svc, res->reason);
		else if (s->lead->ro.plan) {
			budget_from_ratio(&s->lead->ro.plan->budget, res->value, &bl);
			budget_apply(a->d, s, s->lead, &bl, steady_ms());
		}
	}
	free(a);
}

/*
 * The budget left, every check_interval: from the plan's Prometheus
 * query, run by the leader, or from the fleet's counters (the nodes'
 * sums since the rollout started; the leader keeps no per-minute history
 * of the fleet), with a node's arithmetic (budget_from_counts). Exhausted
 * freezes the fleet's rollout (it holds, gates still judge); back lifts it.
 */
static void budget_check(struct daemon *d, struct fsvc *s, struct fleet_lead *l, __u64 now)
{
	struct fleet *F = fleet_of(d);
	const struct sluice_plan_budget *b = l->ro.plan ? &l->ro.plan->budget : NULL;
	char win[24], q[4096], err[160];
	struct sluice_query_vars v = { .service = s->name, .window = win };
	__u64 nf[2], bad[2], w;
	struct budget_left bl;
	struct cbarg *a;

	if (!b || !b->present || !b->freeze || now < l->budget_next_ms || l->budget_busy)
		return;
	l->budget_next_ms = now + (b->check_interval_ms ? b->check_interval_ms : 60000);
	if (!b->error_ratio_query[0]) {
		sample_totals(&l->obs, nf, bad);
		budget_from_counts(b, bad[0] + bad[1], nf[0] + nf[1],
				   now > l->ro.st.started_ms ? now - l->ro.st.started_ms : 0, &bl);
		budget_apply(d, s, l, &bl, now);
		return;
	}
	w = budget_window_ms(b);
	if (w % 86400000 == 0)
		snprintf(win, sizeof(win), "%llud", (unsigned long long)(w / 86400000));
	else
		snprintf(win, sizeof(win), "%llus", (unsigned long long)(w / 1000));
	if (sluice_query_expand(b->error_ratio_query, &v, q, sizeof(q), err, sizeof(err)) < 0) {
		dlog(d, LOG_WARN_, "fleet: %s: error budget query: %s", s->name, err);
		return;
	}
	a = fleet_cbarg(d);
	if (!a)
		return;
	snprintf(a->svc, sizeof(a->svc), "%s", s->name);
	a->step = ++l->budget_seq;
	l->budget_busy = prom_query_start(F->hc, b->url[0] ? b->url :
					  d->o.prom_url ? d->o.prom_url : "http://127.0.0.1:9090",
					  q, BUDGET_QUERY_MS, on_budget, a) > 0;
	if (!l->budget_busy)
		free(a);
}

/* What one leader pass decided: the merged outputs of a command and a tick. */
struct decision {
	bool write;
	int weight_set;			/* -1: no weight write */
	__u16 weight[SLUICE_MAX_RINGS];
	int kill;			/* -1: no write, 0 off, 1 on */
	int live;			/* with the kill switch: SLUICE_LIVE_* */
	__u64 live_ms;			/* the drain's grace */
	json_t *events;
};

static void take(struct decision *dc, struct fsvc *s, const struct eng_out *out)
{
	const struct sluice_plan *plan = s->lead ? s->lead->ro.plan : NULL;
	unsigned int i;
	int r;

	for (i = 0; i < out->nactions; i++) {
		const struct eng_action *a = &out->actions[i];

		dc->write = true;
		switch (a->kind) {
		case ENG_ACT_SET_WEIGHTS:
			if (dc->weight_set < 0)
				for (r = 0; r < SLUICE_MAX_RINGS; r++)
					dc->weight[r] = s->has_weights ? s->weight[r] : 0;
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				if (a->ring_mask & (1u << r))
					dc->weight[r] = a->weight[r];
			dc->weight_set = 1;
			break;
		case ENG_ACT_CUTOVER:
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				dc->weight[r] = a->variant == SLUICE_CANARY ? 10000 : 0;
			dc->weight_set = 1;
			break;
		case ENG_ACT_REVERT:	/* the plan says what its live flows do */
			dc->kill = 1;
			dc->live = plan ? (int)plan->live_flows : SLUICE_LIVE_DRAIN;
			dc->live_ms = plan ? plan->live_drain_ms : SLUICE_LIVE_DRAIN_DEFAULT_MS;
			break;
		case ENG_ACT_RESUME_KILL:
			dc->kill = 0;
			dc->live = SLUICE_LIVE_KEEP;
			break;
		case ENG_ACT_PROMOTE:
			/* every node promotes on the phase (apply_promotion) */
			memset(dc->weight, 0, sizeof(dc->weight));
			dc->weight_set = 1;
			break;
		case ENG_ACT_UNDO:
			break;	/* a local command: the leader never sends it */
		}
	}
	for (i = 0; i < out->nevents; i++) {
		char *js;

		if (out->events[i].type == ENG_EV_GATE)
			continue;
		dc->write = true;
		js = eng_event_to_json(&out->events[i], s->name);
		if (js)
			json_array_append_new(dc->events, json_loads(js, 0, NULL) ?: json_string(js));
		free(js);
	}
}

/* The tick right after a command sees the keys as the command's own
 * transaction leaves them (written with the state, all or nothing), as a
 * node's tick sees the maps after its outbox: a kill switch still on
 * would read as the operator's. */
static void obs_after(struct eng_obs *o, const struct decision *dc)
{
	if (dc->weight_set >= 0)
		memcpy(o->weight, dc->weight, sizeof(o->weight));
	if (dc->kill >= 0)
		o->kill = (dc->kill ? SLUICE_KILL_REVERT : 0) | o->kill_global;
}

static void on_step(json_t *reply, const char *err, void *arg)
{
	struct cbarg *a = arg;
	struct fleet *F = fleet_of(a->d);
	struct fsvc *s;
	unsigned int i;

	if (fleet_stale(a))
		return;
	F->leader_busy = false;
	for (i = 0, s = NULL; i < F->nsvc && !s; i++)
		if (!strcmp(F->svc[i].name, a->svc))
			s = &F->svc[i];
	if (!reply) {
		fleet_cut_off(a->d, err);
	} else if (json_is_true(json_object_get(reply, "succeeded"))) {
		/* the watch brings this revision: the state is ours */
		if (s && s->lead)
			s->lead->doc_rev = etcd_int(json_object_get(reply, "header"), "revision");
		dlog(a->d, LOG_INFO_, "fleet: %s: rollout state written (step %lld)", a->svc,
		     (long long)a->step);
	} else {
		/* the rollout or the leadership moved: load etcd's again */
		if (s && s->lead)
			s->lead->doc_rev = -1;
		dlog(a->d, LOG_INFO_, "fleet: %s: step %lld not written (the rollout or the leadership moved)",
		     a->svc, (long long)a->step);
	}
	free(a);
}

static void weights_text(char *buf, size_t len, const __u16 w[SLUICE_MAX_RINGS])
{
	size_t n;
	int r;

	for (r = 1; r < SLUICE_MAX_RINGS && w[r] == w[0]; r++)
		;
	if (r == SLUICE_MAX_RINGS) {
		snprintf(buf, len, "%u", w[0]);
		return;
	}
	n = snprintf(buf, len, "[");
	for (r = 0; r < SLUICE_MAX_RINGS && n < len; r++)
		n += snprintf(buf + n, len - n, "%s%u", r ? ", " : "", w[r]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

/* Write doc, and the weights and kill switch it implies, iff this node
 * still leads under the same leader key and the rollout key is the one
 * the state came from. */
static void write_doc(struct daemon *d, struct fsvc *s, json_t *doc, const struct decision *dc)
{
	struct fleet *F = fleet_of(d);
	char kl[512], kr[512], kw[512], kk[512], kv[512], num[128], *text;
	json_t *txn, *ops;
	struct cbarg *a = fleet_cbarg(d);

	fleet_key(F, kl, sizeof(kl), NULL, "leader");
	fleet_key(F, kr, sizeof(kr), s->name, "rollout");
	fleet_key(F, kw, sizeof(kw), s->name, "weights");
	fleet_key(F, kk, sizeof(kk), s->name, "killswitch");
	text = json_dumps(doc, JSON_COMPACT);
	ops = json_array();
	json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(kr, text ?: "{}", 0)));
	if (dc && dc->weight_set >= 0) {
		weights_text(num, sizeof(num), dc->weight);
		json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(kw, num, 0)));
	}
	if (dc && dc->kill >= 0) {	/* live_flows first: nodes read it with the switch */
		fleet_key(F, kv, sizeof(kv), s->name, "live_flows");
		fleet_live_text(dc->live, dc->live_ms, num, sizeof(num));
		json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(kv, num, 0)));
		json_array_append_new(ops, json_pack("{s:o}", "request_put",
						     etcd_req_put(kk, dc->kill ? "on" : "off", 0)));
	}
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
	a->step = json_integer_value(json_object_get(doc, "step"));
	F->leader_busy = etcd_call(&F->e, "/v3/kv/txn", txn, FLEET_TIMEOUT_MS, on_step, a) > 0;
	if (!F->leader_busy)
		free(a);
}

/* A document without an engine: the phase and the reason only. */
static void write_plain(struct daemon *d, struct fsvc *s, const char *phase, const char *why,
			int kill)
{
	struct fleet *F = fleet_of(d);
	struct decision dc = { .weight_set = -1, .kill = kill, .live = SLUICE_LIVE_KEEP };
	json_t *doc = json_pack("{s:i, s:s, s:i, s:I, s:s, s:s}", "schema", FLEET_SCHEMA,
				"phase", phase, "step", -1, "step_started_ms",
				(json_int_t)steady_ms(), "reason", why, "by", F->node);

	write_doc(d, s, doc, &dc);
	json_decref(doc);
}

/* The gates' latest evaluations: the status's "gates_judged". */
static json_t *gates_json(const struct eng_state *st)
{
	json_t *a = json_array();
	unsigned int g;

	for (g = 0; g < st->ngates; g++) {
		const struct gate_eval *e = &st->gates[g].last;

		json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:I}",
			"outcome", gate_outcome_name(e->outcome), "reason", e->reason,
			"log_m", st->gates[g].seq.log_m,
			"samples_c", (json_int_t)e->samples_c, "bad_c", (json_int_t)e->bad_c,
			"samples_b", (json_int_t)e->samples_b, "bad_b", (json_int_t)e->bad_b));
	}
	return a;
}

json_t *fleet_lead_status(struct fleet *F, const struct fsvc *s)
{
	if (!fleet_am_leader(F) || !s->lead || s->lead->doc_rev < 0 ||
	    s->lead->ro.st.phase == ENG_NONE)
		return NULL;
	return gates_json(&s->lead->ro.st);
}

/* The state document of l's engine (schema 2). */
static json_t *doc_of(struct fleet *F, struct fsvc *s, struct fleet_lead *l, json_t *events, __u64 now)
{
	const struct eng_state *st = &l->ro.st;
	char *text = eng_state_to_json(st);
	json_t *eng = text ? json_loads(text, 0, NULL) : NULL;
	char why[ENG_STATUS_LEN + 192];
	json_t *doc;

	free(text);
	if (st->phase == ENG_PAUSED)
		snprintf(why, sizeof(why), "paused (%s%s%s): %s", eng_pause_reason_name(st->pause_reason),
			 st->pause_who[0] ? " by " : "", st->pause_who, st->end_reason);
	else if (eng_terminal(st->phase))
		snprintf(why, sizeof(why), "%s%s", st->end_reason,
			 st->phase == ENG_ROLLED_BACK && !st->by_operator ?
			" (judged by the fleet leader; datapath gates on the fleet's sums)" :
			 st->by_operator ? " (by the operator)" : "");
	else
		snprintf(why, sizeof(why), "%s", st->status);
	doc = json_pack("{s:i, s:s, s:i, s:I, s:s, s:s, s:I, s:o?, s:o, s:{s:o, s:O}}",
			"schema", FLEET_SCHEMA, "phase", eng_phase_name(st->phase),
			"step", st->step, "step_started_ms",
			(json_int_t)(now > st->held_ms ? now - st->held_ms : now),
			"reason", why, "by", F->node, "rollout_id", (json_int_t)st->rollout_id,
			"engine", eng, "events", events ?: json_array(),
			"acc", "total", fleet_fs_json(l->total), "nodes", l->last);
	if (!doc)
		return NULL;
	if (l->ro.plan && plan_needs_latency(l->ro.plan)) {
		json_t *acc = json_object_get(doc, "acc");

		json_object_set_new(acc, "lat_total", fleet_lat_json(l->lat_total));
		json_object_set(acc, "lat_nodes", l->lat_last);
	}
	if (st->frozen)
		json_object_set_new(doc, "frozen_at_ms", json_integer(st->frozen_since_ms));
	if (st->step > 0)	/* the gates' evidence carried into the step */
		json_object_set_new(doc, "gates", gates_json(st));
	if (st->phase == ENG_PROMOTED && s->config_text)
		json_object_set_new(doc, "config_rev", json_integer(s->config_rev));
	return doc;
}

/* The operator's request in the document, as an engine command. */
static bool doc_cmd(json_t *ro, struct eng_cmd *cmd)
{
	json_t *c = json_object_get(ro, "cmd");
	const char *how = json_string_value(json_object_get(ro, "promote"));
	const char *kind = json_string_value(json_object_get(c, "kind"));

	memset(cmd, 0, sizeof(*cmd));
	snprintf(cmd->who, sizeof(cmd->who), "%s",
		 json_string_value(json_object_get(c, "who")) ?: "fleet operator");
	snprintf(cmd->reason, sizeof(cmd->reason), "%s",
		 json_string_value(json_object_get(c, "reason")) ?: "");
	if (how) {
		cmd->kind = ENG_CMD_PROMOTE;
		cmd->full = !strcmp(how, "full");
		return true;
	}
	if (!kind)
		return false;
	if (!strcmp(kind, "pause"))
		cmd->kind = ENG_CMD_PAUSE;
	else if (!strcmp(kind, "resume"))
		cmd->kind = ENG_CMD_RESUME;
	else if (!strcmp(kind, "abort"))
		cmd->kind = ENG_CMD_ABORT;
	else
		return false;
	return true;
}

/* The gate evaluations go into the leader's own trail (the transitions
 * reach every node's through the rollout key: fleet_audit_rollout). */
static void audit_gates(struct daemon *d, struct fleet_lead *l, const struct eng_out *out)
{
	static struct eng_out g;
	unsigned int i;

	g.nevents = 0;
	for (i = 0; i < out->nevents; i++)
		if (out->events[i].type == ENG_EV_GATE)
			g.events[g.nevents++] = out->events[i];
	if (g.nevents)
		audit_events(d, &l->ro, &g);
}

/* Is doc the one this leader wrote last, with a node's request added? */
static bool ours_with_request(const struct fleet_lead *l, json_t *doc)
{
	json_t *c;
	bool same;

	if (!l->written || l->doc_rev < 0)
		return false;
	c = json_copy(doc);
	json_object_del(c, "cmd");
	json_object_del(c, "promote");
	same = json_equal(c, l->written);
	json_decref(c);
	return same;
}

static void lead_one(struct daemon *d, struct fsvc *s, __u64 now)
{
	struct fleet *F = fleet_of(d);
	const char *phase = fleet_phase_of(s->rollout);
	struct decision dc = { .weight_set = -1, .kill = -1, .live = SLUICE_LIVE_KEEP };
	struct fleet_lead *l;
	struct sluice_plan *p;
	struct eng_env env;
	struct eng_cmd cmd;
	char err[512];
	bool has_cmd;
	json_t *doc;

	if (!strcmp(phase, "error") || !strcmp(phase, "none"))
		return;
	l = lead_get(s);
	if (!l)
		return;
	if (l->doc_rev > s->rollout_rev)
		return;		/* its own write, not seen yet */
	if (!json_object_get(s->rollout, "schema") && strcmp(phase, "start") &&
	    strcmp(phase, "abort")) {
		if (!strcmp(phase, "promoted") || !strcmp(phase, "rolled_back") ||
		    !strcmp(phase, "aborted"))
			return;
		snprintf(err, sizeof(err), "the rollout was started by an older leader (no schema; this leader writes schema %d) and is not taken over: the weights stay; abort it (sluice rollout abort --fleet) and start it again",
			 FLEET_SCHEMA);
		write_plain(d, s, "error", err, -1);
		return;
	}
	if (!strcmp(phase, "abort")) {
		if (l->doc_rev >= 0 && !eng_terminal(l->ro.st.phase) && l->ro.st.phase != ENG_NONE) {
			memset(&cmd, 0, sizeof(cmd));
			cmd.kind = ENG_CMD_ABORT;
			snprintf(cmd.who, sizeof(cmd.who), "fleet operator");
			goto command;
		}
		write_plain(d, s, "aborted", "aborted by the operator", 1);
		return;
	}
	p = plan_get(d, s, l, err, sizeof(err));
	if (!p) {
		write_plain(d, s, "error", err, -1);
		return;
	}
	if (!strcmp(phase, "start")) {
		eng_state_init(&l->ro.st, s->name);
		memset(l->total, 0, sizeof(l->total));
		json_object_clear(l->last);
		memset(l->lat_total, 0, sizeof(l->lat_total));
		json_object_clear(l->lat_last);
		memset(&l->bf, 0, sizeof(l->bf));
		memset(&l->bl, 0, sizeof(l->bl));
		l->budget_next_ms = 0;
		l->budget_busy = false;
		l->budget_seq++;
		memset(&cmd, 0, sizeof(cmd));
		cmd.kind = ENG_CMD_START;
		cmd.rollout_id = (__u64)s->rollout_rev;
		snprintf(cmd.who, sizeof(cmd.who), "fleet operator");
		goto command;
	}
	if (l->doc_rev != s->rollout_rev && ours_with_request(l, s->rollout)) {
		/* a node added a request to what this leader wrote: its
		 * memory (hold, evidence since) is newer than the document */
		l->doc_rev = s->rollout_rev;
	} else if (l->doc_rev != s->rollout_rev) {
		/* another leader's state, or a request from a node */
		if (load_doc(l, s->rollout, err, sizeof(err))) {
			snprintf(err + strlen(err), sizeof(err) - strlen(err), " (rollout key revision %lld)",
				 (long long)s->rollout_rev);
			write_plain(d, s, "error", err, -1);
			return;
		}
		l->doc_rev = s->rollout_rev;
		memset(l->ro.last_eval, 0, sizeof(l->ro.last_eval));
	}
	if (eng_terminal(l->ro.st.phase))
		return;
	has_cmd = doc_cmd(s->rollout, &cmd);
	if (!has_cmd)
		goto tick;
command:
	dc.events = json_array();
	observe(d, s, l, now);
	env_fill(F, s, &env);
	memset(&d->out, 0, sizeof(d->out));
	if (cmd.kind != ENG_CMD_START && l->ro.plan &&
	    !eng_tick(l->ro.plan, &l->ro.st, &l->obs, &env, now, &d->out))
		take(&dc, s, &d->out);
	memset(&d->out, 0, sizeof(d->out));
	if (eng_command(l->ro.plan ? l->ro.plan : plan_get(d, s, l, err, sizeof(err)),
			&l->ro.st, &cmd, &l->obs, &env, now, &d->out)) {
		dlog(d, LOG_WARN_, "fleet: %s: %s refused: %s", s->name,
		     cmd.kind == ENG_CMD_START ? "start" : "command", d->out.error);
		if (cmd.kind == ENG_CMD_START) {
			write_plain(d, s, "error", d->out.error, -1);
			json_decref(dc.events);
			return;
		}
	}
	dc.write = true;	/* the request is consumed with what it caused */
	take(&dc, s, &d->out);
	if (eng_terminal(l->ro.st.phase) || !l->ro.plan)
		goto write;
	obs_after(&l->obs, &dc);
	goto run;
tick:
	dc.events = json_array();
	observe(d, s, l, now);
	env_fill(F, s, &env);
run:
	memset(&d->out, 0, sizeof(d->out));
	if (eng_tick(l->ro.plan, &l->ro.st, &l->obs, &env, now, &d->out)) {
		dlog(d, LOG_ERR_, "fleet: %s: engine: %s", s->name, d->out.error);
		json_decref(dc.events);
		return;
	}
	take(&dc, s, &d->out);
	audit_gates(d, l, &d->out);
	if (eng_terminal(l->ro.st.phase))
		gs_cancel(d, s->name);	/* its commands end with it */
write:
	if (!dc.write) {
		json_decref(dc.events);
		return;
	}
	doc = doc_of(F, s, l, dc.events, now);
	if (doc)
		write_doc(d, s, doc, &dc);
	json_decref(l->written);
	l->written = json_incref(doc);
	json_decref(doc);
}

/* Every key of a plan the node honours, the fleet honours (issue 20):
 * the datapath and latency gates on the fleet's sums, Prometheus,
 * command and burn-rate gates, the budget and the pre-step hook on the
 * leader. Kept as the place a future key the fleet cannot honour is
 * refused, naming the plan file. */
int fleet_plan_check(const struct sluice_plan *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return 0;
}

void fleet_lead(struct daemon *d, __u64 now)
{
	struct fleet *F = fleet_of(d);
	unsigned int i;

	for (i = 0; i < F->nsvc && !F->leader_busy; i++)
		if (F->svc[i].rollout)
			lead_one(d, &F->svc[i], now);
}

/* Every node: the rollout key's transitions into its audit trail. */
void fleet_audit_rollout(struct daemon *d, struct fsvc *s)
{
	json_t *ev;
	size_t i;

	if (!s->rollout || s->rollout_rev <= s->audited_rev)
		return;
	s->audited_rev = s->rollout_rev;
	json_array_foreach(json_object_get(s->rollout, "events"), i, ev) {
		char *js = json_dumps(ev, JSON_COMPACT);

		if (js)
			audit_raw(d, s->name, json_integer_value(json_object_get(ev, "rollout_id")),
				  json_integer_value(json_object_get(ev, "at_ms")),
				  json_string_value(json_object_get(ev, "type")) ?: "event", js);
		free(js);
	}
}
