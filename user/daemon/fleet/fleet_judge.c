// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet leader's gate judge (fleet_judge.h): node reports -> one
 * eng_obs of the fleet's step counts -> gate.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "fleet_judge.h"

#define FS_FIELDS 5	/* new_flows, syn_retrans, client_rst, backend_rst, hs_timeout */

bool fleet_gate_supported(const struct sluice_plan_gate *g)
{
	return g->metric == SLUICE_METRIC_ERROR_RATIO ||
	       g->metric == SLUICE_METRIC_NEW_FLOW_RATIO;
}

static __u64 *field(struct sluice_flow_stats *f, int i)
{
	__u64 *const p[FS_FIELDS] = { &f->new_flows, &f->syn_retrans, &f->client_rst,
				      &f->backend_rst, &f->hs_timeout };
	return p[i];
}

/* "fs": [variant][ring][field]; false when it is not there. */
static bool fs_parse(json_t *a, struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	int v, r, i;

	memset(fs, 0, sizeof(struct sluice_flow_stats) * SLUICE_VARIANTS * SLUICE_MAX_RINGS);
	if (!json_is_array(a))
		return false;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		json_t *rings = json_array_get(a, v);

		for (r = 0; r < SLUICE_MAX_RINGS && r < (int)json_array_size(rings); r++)
			for (i = 0; i < FS_FIELDS; i++) {
				json_int_t x = json_integer_value(
					json_array_get(json_array_get(rings, r), i));

				*field(&fs[v][r], i) = x > 0 ? (__u64)x : 0;
			}
	}
	return true;
}

bool fleet_node_fs(json_t *report, const char *svc,
		   struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	json_t *s = json_object_get(json_object_get(report, "services"), svc);
	int v;

	if (fs_parse(json_object_get(s, "fs"), fs))
		return true;
	if (!json_is_object(s))
		return false;
	/* an older report: totals per variant only */
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		fs[v][0].new_flows = json_integer_value(json_array_get(json_object_get(s, "new_flows"), v));
		fs[v][0].client_rst = json_integer_value(json_array_get(json_object_get(s, "bad"), v));
	}
	return true;
}

json_t *fleet_fs_json(const struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	json_t *a = json_array();
	int v, r, i, nr = 1;

	/* rings up to the last one with counts: reports stay small */
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 1; r < SLUICE_MAX_RINGS; r++)
			for (i = 0; i < FS_FIELDS; i++)
				if (*field((struct sluice_flow_stats *)&fs[v][r], i) && r + 1 > nr)
					nr = r + 1;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		json_t *rings = json_array();

		for (r = 0; r < nr; r++) {
			json_t *f = json_array();

			for (i = 0; i < FS_FIELDS; i++)
				json_array_append_new(f, json_integer(
					*field((struct sluice_flow_stats *)&fs[v][r], i)));
			json_array_append_new(rings, f);
		}
		json_array_append_new(a, rings);
	}
	return a;
}

void fleet_obs_sum(json_t *nodes, json_t *base, const char *svc,
		   const __u16 weight[SLUICE_MAX_RINGS], struct eng_obs *obs)
{
	struct sluice_flow_stats cur[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_flow_stats b[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	const char *node;
	json_t *rep;
	int v, r, i;

	memset(obs, 0, sizeof(*obs));
	memcpy(obs->weight, weight, sizeof(obs->weight));
	obs->ring_in_use[0] = true;
	json_object_foreach(nodes, node, rep) {
		json_t *be = json_object_get(base, node);
		json_t *s = json_object_get(json_object_get(rep, "services"), svc);

		if (!be || !fleet_node_fs(rep, svc, cur))
			continue;	/* joined during the step: the next one */
		if (!fs_parse(json_object_get(be, "fs"), b)) {
			/* a base of an older leader: totals in ring 0 */
			memset(b, 0, sizeof(b));
			for (v = 0; v < SLUICE_VARIANTS; v++) {
				b[v][0].new_flows = json_integer_value(json_array_get(json_object_get(be, "n"), v));
				b[v][0].client_rst = json_integer_value(json_array_get(json_object_get(be, "x"), v));
			}
		}
		obs->exists = true;
		obs->mode = json_integer_value(json_object_get(s, "mode"));
		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				if (cur[v][r].new_flows)
					obs->ring_in_use[r] = true;
				for (i = 0; i < FS_FIELDS; i++) {
					__u64 c = *field(&cur[v][r], i), o = *field(&b[v][r], i);

					*field(&obs->fs[v][r], i) += c > o ? c - o : 0;
				}
			}
	}
}

int fleet_gates_begin(const struct sluice_plan *p, struct fleet_gates *fg,
		      long long step_id, json_t *saved, const struct eng_obs *obs,
		      __u64 now_ms)
{
	struct gate_ctx ctx;
	unsigned int g;
	int err;

	memset(fg, 0, sizeof(*fg));
	fg->step_id = step_id;
	fg->ngates = p->ngates;
	for (g = 0; g < p->ngates; g++) {
		struct gate_state *gs = &fg->gs[g];
		json_t *e = json_array_get(saved, g), *l = json_object_get(e, "l");
		size_t k;

		err = gate_state_init(&p->gates[g], gs);
		if (err)
			return err;
		if (json_array_size(l) == 2 * SEQ_GRID) {
			for (k = 0; k < 2 * SEQ_GRID; k++)
				gs->seq.l[k] = json_number_value(json_array_get(l, k));
			gs->seq.log_m = json_number_value(json_object_get(e, "log_m"));
			gs->seq.x_c = json_integer_value(json_object_get(e, "x_c"));
			gs->seq.x_b = json_integer_value(json_object_get(e, "x_b"));
			gs->seq.increments = json_integer_value(json_object_get(e, "increments"));
			gs->seq.rejected = json_is_true(json_object_get(e, "rejected"));
		}
		memset(&ctx, 0, sizeof(ctx));
		ctx.index = g;
		ctx.mode = obs->mode;
		ctx.weight = obs->weight;
		gate_step_begin(&p->gates[g], gs, &ctx, obs);
		/* the first evaluation, an interval from now, only rebases:
		 * it may hold flows routed under the previous weights */
		gs->last_eval_ms = now_ms;
	}
	return 0;
}

json_t *fleet_gates_status(const struct fleet_gates *fg)
{
	json_t *a = json_array();
	unsigned int g;

	for (g = 0; g < fg->ngates; g++) {
		const struct gate_eval *e = &fg->gs[g].last;

		json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:I}",
			"outcome", gate_outcome_name(e->outcome), "reason", e->reason,
			"log_m", fg->gs[g].seq.log_m, "limit", seq_threshold(&fg->gs[g].seq),
			"samples_c", (json_int_t)e->samples_c, "bad_c", (json_int_t)e->bad_c,
			"samples_b", (json_int_t)e->samples_b, "bad_b", (json_int_t)e->bad_b));
	}
	return a;
}

json_t *fleet_gates_save(const struct sluice_plan *p, const struct fleet_gates *fg)
{
	json_t *a = json_array();
	unsigned int g;
	int k;

	for (g = 0; g < p->ngates; g++) {
		const struct seq_test *t = &fg->gs[g].seq;
		json_t *l = json_array();

		for (k = 0; k < 2 * SEQ_GRID; k++)
			json_array_append_new(l, json_real(t->l[k]));
		json_array_append_new(a, json_pack("{s:o, s:f, s:I, s:I, s:I, s:b}",
			"l", l, "log_m", t->log_m, "x_c", (json_int_t)t->x_c,
			"x_b", (json_int_t)t->x_b, "increments", (json_int_t)t->increments,
			"rejected", t->rejected));
	}
	return a;
}

enum fleet_verdict fleet_judge(const struct sluice_plan *p, struct fleet_gates *fg,
			       int step, const struct eng_obs *obs, __u64 now_ms,
			       bool hold_done, char *why, size_t len)
{
	struct gate_eval ev;
	struct gate_ctx ctx;
	unsigned int g;

	for (g = 0; g < p->ngates; g++) {
		const struct sluice_plan_gate *gt = &p->gates[g];
		struct gate_state *gs = &fg->gs[g];
		enum gate_outcome o;

		if (!fleet_gate_supported(gt)) {
			snprintf(why, len, "gate %s: its metric is not judged on the fleet's sums "
				 "(error_ratio and new_flow_ratio only)", gt->name);
			return FJ_PAUSE;
		}
		if (!gate_due(gt, gs, obs, now_ms))
			continue;
		memset(&ctx, 0, sizeof(ctx));
		ctx.index = g;
		ctx.mode = obs->mode;
		ctx.weight = obs->weight;
		o = gate_evaluate(gt, gs, &ctx, obs, now_ms, &ev);
		if (o == GATE_FAIL && gs->fails > gt->failure_limit) {
			snprintf(why, len, "gate %s failed on the fleet's sums in step %d: %s",
				 gt->name, step + 1, ev.reason);
			return FJ_FAIL;
		}
		if (o == GATE_ERROR && gs->errors > gt->error_limit) {
			snprintf(why, len, "gate %s errored %u times in a row on the fleet's sums: %s",
				 gt->name, gs->errors, ev.reason);
			return FJ_PAUSE;
		}
	}
	if (!hold_done)
		return FJ_WAIT;
	for (g = 0; g < p->ngates; g++) {
		const struct sluice_plan_gate *gt = &p->gates[g];
		const struct gate_state *gs = &fg->gs[g];

		if (gs->last.outcome == GATE_PASS)
			continue;
		if (gs->last.outcome != GATE_INCONCLUSIVE)
			return FJ_WAIT;	/* not evaluated yet, errored, failed within the limit */
		if (gt->on_inconclusive == SLUICE_INCONCLUSIVE_EXTEND)
			return FJ_WAIT;
		snprintf(why, len, "gate %s inconclusive on the fleet's sums at the end of step %d's hold: %s",
			 gt->name, step + 1, gs->last.reason);
		return gt->on_inconclusive == SLUICE_INCONCLUSIVE_FAIL ? FJ_FAIL : FJ_PAUSE;
	}
	return FJ_PASS;
}
