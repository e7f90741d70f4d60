/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A simulated fleet for the engine's tests: N nodes (each a struct sim of
 * sim.h with its own traffic), the etcd desired state they apply (weights,
 * kill switch), and the leader's observation as the fleet leader builds it
 * (user/daemon/fleet/leader.c): the nodes' reported counters summed into
 * cumulative fleet counters by fleet_acc_add, the weights and kill switch
 * as etcd holds them. A node can leave (no traffic, no reports) or be cut
 * off (traffic goes on, its reports do not reach the leader and it keeps
 * the weights it applied last).
 */
#ifndef SLUICE_SIM_FLEET_H
#define SLUICE_SIM_FLEET_H

#include "sim.h"
#include "fleet_value.h"

#define SIM_FLEET_MAX 8

struct sim_fleet {
	unsigned int n;
	struct sim node[SIM_FLEET_MAX];
	bool gone[SIM_FLEET_MAX], cut[SIM_FLEET_MAX], seen[SIM_FLEET_MAX];
	struct sluice_flow_stats last[SIM_FLEET_MAX][SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_flow_stats total[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	__u16 weight[SLUICE_MAX_RINGS];	/* etcd's */
	__u32 kill;			/* etcd's kill switch */
	struct eng_obs obs;		/* the leader's */
};

static inline void sim_fleet_init(struct sim_fleet *f, unsigned int n, __u64 seed,
				  double flows_per_node_s, double base_rate, double canary_rate)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	f->n = n;
	for (i = 0; i < n; i++)
		sim_init(&f->node[i], seed * 131 + i, flows_per_node_s, base_rate, canary_rate);
}

/* dt_ms of traffic on every node still there; a node in touch with etcd
 * applies its desired state first. */
static inline void sim_fleet_traffic(struct sim_fleet *f, __u64 dt_ms)
{
	unsigned int i;

	for (i = 0; i < f->n; i++) {
		if (f->gone[i])
			continue;
		if (!f->cut[i]) {
			memcpy(f->node[i].obs.weight, f->weight, sizeof(f->weight));
			f->node[i].obs.kill = f->kill;
		}
		sim_traffic(&f->node[i], dt_ms);
	}
}

/* The leader's observation: every report it receives added once. */
static inline const struct eng_obs *sim_fleet_observe(struct sim_fleet *f)
{
	unsigned int i;

	for (i = 0; i < f->n; i++) {
		if (f->gone[i] || f->cut[i])
			continue;
		if (!f->seen[i]) {
			memcpy(f->last[i], f->node[i].obs.fs, sizeof(f->last[i]));
			f->seen[i] = true;
		}
		fleet_acc_add(f->total, f->last[i], f->node[i].obs.fs);
	}
	f->obs = f->node[0].obs;
	memcpy(f->obs.fs, f->total, sizeof(f->obs.fs));
	memcpy(f->obs.weight, f->weight, sizeof(f->weight));
	f->obs.kill = f->kill;
	return &f->obs;
}

/* The leader's actions, written to etcd. */
static inline void sim_fleet_apply(struct sim_fleet *f, const struct eng_out *out)
{
	unsigned int i;
	int r;

	for (i = 0; i < out->nactions; i++) {
		const struct eng_action *a = &out->actions[i];

		switch (a->kind) {
		case ENG_ACT_SET_WEIGHTS:
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				if (a->ring_mask & (1u << r))
					f->weight[r] = a->weight[r];
			break;
		case ENG_ACT_REVERT:
			f->kill |= SLUICE_KILL_REVERT;
			break;
		case ENG_ACT_RESUME_KILL:
			f->kill &= ~SLUICE_KILL_REVERT;
			break;
		case ENG_ACT_CUTOVER:
			for (r = 0; r < SLUICE_MAX_RINGS; r++)
				f->weight[r] = 10000;
			break;
		case ENG_ACT_PROMOTE:
		case ENG_ACT_UNDO:
			memset(f->weight, 0, sizeof(f->weight));
			break;
		}
	}
}

#endif
