/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet leader's gate judge, without etcd: the node reports' counters
 * summed over the fleet into one struct eng_obs, and the plan's gates
 * judged on it by gate.c's sequential tests, exactly as the local engine
 * judges one node's counters.
 *
 * A node report's service entry carries "fs": [variant][ring] of
 * [new_flows, syn_retrans, client_rst, backend_rst, hs_timeout] (older
 * reports only "new_flows" and "bad" per variant: ring 0, bad counted as
 * client resets). The step's base holds every node's entry at the step's
 * start; the sum takes each node's own increase since its own base, so a
 * node that leaves mid-step takes nothing along that was already judged,
 * and one that joined mid-step waits for the next step.
 *
 * Leader changes: the sequential test's evidence (not the step's own
 * counts) goes into the rollout's JSON with each step, in the same fenced
 * transaction. A leader that takes over mid-step restores the test as it
 * was at the step's start and restarts the step's counting from the
 * fleet's sums now: the evidence of the step so far is dropped, never
 * invented, so a gate cannot pass on less evidence than min_samples.
 */
#ifndef SLUICED_FLEET_JUDGE_H
#define SLUICED_FLEET_JUDGE_H

#include <jansson.h>
#include "gate.h"

/* The leader's gate state of one fleet rollout step. */
struct fleet_gates {
	long long step_id;		/* the step it judges; 0: none */
	unsigned int ngates;
	struct gate_state gs[SLUICE_PLAN_MAX_GATES];
};

enum fleet_verdict {
	FJ_WAIT = 0,	/* hold not over, or a gate not passed yet */
	FJ_PASS,	/* hold over, every gate passed */
	FJ_FAIL,	/* a gate failed (or inconclusive with on_inconclusive:
			 * fail): on_failure */
	FJ_PAUSE,	/* inconclusive (pause) or errored too often */
};

/* Can the fleet judge this gate from node reports? (error_ratio,
 * new_flow_ratio; latency histograms and external gates are not
 * reported.) */
bool fleet_gate_supported(const struct sluice_plan_gate *g);

/* One node's counters of svc from its report, [variant][ring]. Returns
 * false when the report does not carry svc. */
bool fleet_node_fs(json_t *report, const char *svc,
		   struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);

/* The "fs" array of a report or base entry, from counters. */
json_t *fleet_fs_json(const struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);

/*
 * obs <- the fleet's counts of svc in this step: over the nodes in base
 * that report now, each one's counters minus its base entry (a counter
 * below its base, maps recreated, counts 0). mode from the reports;
 * weight is the step's canary share. exists: some base node reports svc.
 */
void fleet_obs_sum(json_t *nodes, json_t *base, const char *svc,
		   const __u16 weight[SLUICE_MAX_RINGS], struct eng_obs *obs);

/* A step begins for the judge (or a new leader takes it over): fresh
 * gates, the test's evidence from saved (the rollout's "gates", may be
 * NULL), the step's counting from obs at now_ms. Returns 0 or -EINVAL. */
int fleet_gates_begin(const struct sluice_plan *p, struct fleet_gates *fg,
		      long long step_id, json_t *saved, const struct eng_obs *obs,
		      __u64 now_ms);

/* The latest evaluation of each gate, for status. */
json_t *fleet_gates_status(const struct fleet_gates *fg);

/* The tests' evidence to carry into the next step's JSON. */
json_t *fleet_gates_save(const struct sluice_plan *p, const struct fleet_gates *fg);

/*
 * Evaluate the due gates on obs at now_ms and decide. hold_done: the
 * step's hold is over (and not frozen): only then may it pass. A failure
 * (beyond failure_limit) acts at once. why: one line for the rollout's
 * reason (names "the fleet's sums").
 */
enum fleet_verdict fleet_judge(const struct sluice_plan *p, struct fleet_gates *fg,
			       int step, const struct eng_obs *obs, __u64 now_ms,
			       bool hold_done, char *why, size_t len);

#endif
