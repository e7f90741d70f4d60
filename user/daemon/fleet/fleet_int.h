/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the fleet module: its state (one struct fleet per daemon, in the
 * module table's slot for "fleet": fleet_of) and
 * what its files share. fleet.c: the etcd session, the mirror of the
 * desired state, applying it to the maps, status and commands; leader.c:
 * the leader's rollouts, run by the engine (engine.h) on the fleet's sums.
 */
#ifndef SLUICED_FLEET_INT_H
#define SLUICED_FLEET_INT_H

#include "sluiced.h"
#include "etcd.h"
#include "httpc.h"

struct fleet_lead;

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
	int live;			/* the live_flows key: SLUICE_LIVE_*,
					 * -1 none (keep) */
	__u64 live_drain_ms;
	char *plan_text;
	int64_t plan_rev;
	struct sluice_plan *rplan;	/* plan_text parsed for the report
					 * (its latency gates), NULL none */
	int64_t rplan_rev;
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
	/* the live canary flows of the kill switch applied at kill_rev:
	 * their reset is due at reset_due_ms (steady; 0 none), and done for
	 * live_done_rev */
	__u64 reset_due_ms;
	int64_t live_done_rev;
	char error[768];
	/* the leader's engine of this service's rollout (leader.c):
	 * allocated on first use, reloaded from etcd's state document when
	 * the rollout key is not the one it wrote last */
	struct fleet_lead *lead;
	int64_t audited_rev;		/* the rollout key revision whose
					 * events went into the audit trail */
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

/* The fleet module's state (NULL: fleet mode off), kept in the module
 * table's slot for "fleet" (modules.c) */
static inline struct fleet *fleet_of(const struct daemon *d)
{
	return d->mod[MOD_FLEET];
}

bool fleet_am_leader(struct fleet *F);
/* The entry of service name; create: a new one if there is room. */
struct fsvc *fleet_svc_get(struct fleet *F, const char *name, bool create);
void fleet_key(struct fleet *F, char *buf, size_t len, const char *svc, const char *leaf);
void fleet_bad_key(struct daemon *d, const char *k, int64_t rev, const char *err);
void fleet_cut_off(struct daemon *d, const char *why);
const char *fleet_phase_of(const json_t *ro);

/* callbacks carry the generation they were started in */
struct cbarg {
	struct daemon *d;
	int64_t gen;
	char svc[SLUICE_NAME_LEN];
	int64_t step;
};
struct cbarg *fleet_cbarg(struct daemon *d);
bool fleet_stale(struct cbarg *a);

/* leader.c */
void fleet_lead(struct daemon *d, __u64 now);
void fleet_lead_free(struct fsvc *s);
json_t *fleet_lead_status(struct fleet *F, const struct fsvc *s);
/* Can the fleet honour every key of plan? 0, or -EINVAL with
 * "FILE:LINE:COL: key: why" in err. */
int fleet_plan_check(const struct sluice_plan *p, char *err, size_t errlen);
/* The rollout key changed (any node): its transitions into this node's
 * audit trail and history, once per revision. */
void fleet_audit_rollout(struct daemon *d, struct fsvc *s);

#endif
