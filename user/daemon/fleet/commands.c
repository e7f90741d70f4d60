// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fleet mode's status (what this node sees of etcd and of every node's
 * report) and the operator's commands: each one a transaction written to
 * etcd through this node; the leader and the watch do the rest.
 */
#include <stdlib.h>
#include <string.h>
#include "fleet_int.h"
#include "fleet.h"
#include "fleet_value.h"

/* ---- status and commands ---------------------------------------------- */

/*
 * Each node's split of new flows over its last report interval: per
 * service the flows it saw (both variants) and the canary's share of
 * them, from the delta of its two latest reports. A node with one report
 * or counters that went back (its service recreated) has none.
 */
static json_t *shares_json(struct fleet *F)
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
	struct fleet *F = fleet_of(d);
	json_t *j, *svcs;
	unsigned int i;

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
		{	/* the live canary flows of the kill switch */
			char lv[32] = "none";
			__u64 now = steady_ms();

			if (s->live >= 0)
				fleet_live_text(s->live, s->live_drain_ms, lv, sizeof(lv));
			json_object_set_new(json_object_get(svcs, s->name), "live_flows",
					    json_pack("{s:s, s:b, s:I}", "policy", lv,
						      "carried_out", s->kill == 1 && s->live_done_rev == s->kill_rev,
						      "reset_in_ms", (json_int_t)(s->reset_due_ms > now ?
										 s->reset_due_ms - now : 0)));
		}
		/* the leader: its engine's latest judgement of the gates */
		json_object_set_new(json_object_get(svcs, s->name), "gates_judged",
				    fleet_lead_status(F, s));
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:O, s:o}",
		      "node", F->node, "prefix", F->prefix,
		      "etcd", F->ok ? "ok" : "unreachable", "why", F->why,
		      "leader_here", fleet_am_leader(F), "revision", (json_int_t)F->applied_rev,
		      "down_since_ms", (json_int_t)(F->ok ? 0 : F->down_since_ms),
		      "requests", (json_int_t)F->e.requests, "nodes", F->nodes,
		      "services", svcs);
	json_object_set_new(j, "leader", json_string(F->leader));
	json_object_set_new(j, "frozen", json_boolean(F->global_freeze));
	json_object_set_new(j, "endpoint", json_string(etcd_endpoint(&F->e)));
	json_object_set_new(j, "endpoint_index", json_integer(F->e.cur + 1));
	json_object_set_new(j, "endpoints", json_integer(F->e.n));
	json_object_set_new(j, "endpoint_switches", json_integer((json_int_t)F->e.switches));
	json_object_set_new(j, "shares", shares_json(F));
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
static json_t *rollout_cas_txn(struct fleet *F, const struct fsvc *s, json_t *st)
{
	char k[512], *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	json_t *txn;

	json_decref(st);
	fleet_key(F, k, sizeof(k), s->name, "rollout");
	txn = text ? json_pack("{s:[o], s:[{s:o}]}", "compare", etcd_cmp(k, "MOD", s->rollout_rev),
			       "success", "request_put", etcd_req_put(k, text, 0)) : NULL;
	free(text);
	return txn;
}

/* pause, resume, abort: a request in the rollout key, written only if etcd
 * still holds the state this node sees; the leader's engine consumes it
 * (leader.c) with the transition it causes. */
static json_t *request_txn(struct fleet *F, struct fsvc *s, const char *action, const char *reason,
			   char *err, size_t errlen)
{
	const char *want = !strcmp(action, "resume") ? "paused" :
			   !strcmp(action, "pause") ? "progressing" : NULL;
	const char *ph = s && s->rollout ? fleet_phase_of(s->rollout) : "absent";
	json_t *st;

	if (want ? strcmp(ph, want) : strcmp(ph, "progressing") && strcmp(ph, "paused")) {
		snprintf(err, errlen, "fleet %s: the fleet rollout of '%s' is %s, not %s", action,
			 s ? s->name : "?", ph, want ? want : "progressing or paused");
		return NULL;
	}
	st = json_deep_copy(s->rollout);
	json_object_set_new(st, "cmd", json_pack("{s:s, s:s, s:s}", "kind", action, "who",
						 F->node, "reason", reason ? reason : ""));
	return rollout_cas_txn(F, s, st);
}

/* promote [--full]: a request in the rollout key, written only if etcd
 * still holds the state this node sees; the leader acts on it once
 * (promote_req). Refused, nothing written, without a running rollout or
 * under a freeze (as the local engine's promote). */
static json_t *promote_txn(struct fleet *F, struct fsvc *s, const char *service, bool full, char *err,
			   size_t errlen)
{
	const char *ph = s && s->rollout ? fleet_phase_of(s->rollout) : "absent";
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
	return rollout_cas_txn(F, s, st);
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
	struct fleet *F = fleet_of(d);
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
		fleet_key(F, k, sizeof(k), c->services[i].name, "config");
		json_array_append_new(ops, json_pack("{s:o}", "request_put", etcd_req_put(k, text, 0)));
	}
	sluice_config_free(c);
	return json_pack("{s:o}", "success", ops);
}

int fleet_command(struct daemon *d, const char *action, const char *service,
		  const char *plan, const char *plan_name, const char *reason, bool full,
		  char *err, size_t errlen)
{
	struct fleet *F = fleet_of(d);
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
		fleet_key(F, k, sizeof(k), service, "freeze");
		if (!service)
			fleet_key(F, k, sizeof(k), NULL, "freeze");
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
		txn = request_txn(F, fleet_svc_get(F, service, false), action, reason, err, errlen);
		if (!txn)
			return -EINVAL;
	} else if (!strcmp(action, "promote")) {
		txn = promote_txn(F, fleet_svc_get(F, service, false), service, full, err, errlen);
		if (!txn)
			return -EINVAL;
	} else if (full) {
		snprintf(err, errlen, "fleet %s: --full is for promote only", action);
		return -EINVAL;
	} else if (!strcmp(action, "revert") || !strcmp(action, "revert-reset") ||
		   !strcmp(action, "clear")) {
		char kv[512];

		/* the operator's revert keeps live flows unless --reset, as
		 * sluice revert does on a node (a rollback's live_flows do not
		 * carry over) */
		fleet_key(F, kv, sizeof(kv), service, "live_flows");
		fleet_key(F, k, sizeof(k), service, "killswitch");
		txn = json_pack("{s:[{s:o}, {s:o}]}", "success", "request_put",
				etcd_req_put(kv, !strcmp(action, "revert-reset") ? "reset" : "keep", 0),
				"request_put",
				etcd_req_put(k, strcmp(action, "clear") ? "on" : "off", 0));
	} else if (!strcmp(action, "abort")) {
		struct fsvc *s = fleet_svc_get(F, service, false);

		fleet_key(F, k, sizeof(k), service, "rollout");
		/* a running rollout of this schema: the engine aborts it; else
		 * (about to start, an older leader's) the plain request */
		txn = s && s->rollout && json_object_get(s->rollout, "schema")
			? request_txn(F, s, action, reason, err, errlen)
			: json_pack("{s:[{s:o}]}", "success", "request_put",
				    etcd_req_put(k, "{\"phase\":\"abort\"}", 0));
		if (!txn)
			return -EINVAL;
	} else if (!strcmp(action, "start")) {
		const char *name = plan_name && *plan_name ? plan_name : service;
		struct sluice_plan *p = plan ? sluice_plan_parse_string(plan, name, err, errlen) : NULL;

		if (!p) {
			if (!plan)
				snprintf(err, errlen, "fleet start: a plan is needed (-f FILE)");
			return -EINVAL;
		}
		/* a plan that does not fit the service as this node has it
		 * (a latency gate on a DSR service) is refused as a node's
		 * own start refuses it; a node without the service leaves
		 * that to the leader */
		struct sluice_service_view v = { 0 };
		int r = fleet_plan_check(p, err, errlen);

		if (!r && d->s && !sluice_service_view(d->s, service, &v))
			r = ro_resolve_service(d, p, service, err, errlen);
		if (r) {
			sluice_plan_free(p);
			return -EINVAL;
		}
		sluice_plan_free(p);
		fleet_key(F, k, sizeof(k), service, "plan");
		fleet_key(F, k2, sizeof(k2), service, "rollout");
		txn = json_pack("{s:[{s:o},{s:o}]}", "success", "request_put",
				etcd_req_put(k, plan, 0), "request_put",
				etcd_req_put(k2, "{\"phase\":\"start\"}", 0));
	} else {
		snprintf(err, errlen, "fleet: unknown action '%s'", action);
		return -EINVAL;
	}
	a = fleet_cbarg(d);
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

