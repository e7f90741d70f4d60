/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the shell observes of one service each tick and hands to the engine
 * (struct eng_obs), and what it knows about the world besides (struct
 * eng_env: freezes). The engine never reads a map or a clock itself.
 */
#ifndef SLUICED_OBS_H
#define SLUICED_OBS_H

#include <stdbool.h>
#include <linux/types.h>
#include "sluice.h"
#include "plan.h"

#define ENG_REASON_LEN	128
#define ENG_WHO_LEN	64

/* Status of one external measurement (a later issue's Prometheus, command
 * and burn-rate gates). */
enum eng_ext_status {
	ENG_EXT_NONE = 0,	/* nothing new since the last tick */
	ENG_EXT_OK,		/* a measurement: values below are valid */
	ENG_EXT_ERROR,		/* the measurement failed: reason says why;
				 * never a pass */
};

/*
 * One external gate's latest measurement, measured by the shell over the
 * gate's interval. seq grows with every new measurement: the engine
 * evaluates each seq once (a repeated tick re-reads the same seq: no
 * double count). An empty query result is ENG_EXT_ERROR with a reason, or
 * ENG_EXT_OK with samples 0 (inconclusive): never a crash, never a pass.
 */
/* Who judges an external measurement: the engine compares the values
 * like a datapath gate (VALUE: Prometheus, command `result: value`), or the
 * shell's verdict stands (command `result: exit`, burn-rate rules). */
enum eng_ext_verdict {
	ENG_EXT_VALUE = 0,
	ENG_EXT_PASS,
	ENG_EXT_FAIL,
	ENG_EXT_INCONCLUSIVE,
};

struct eng_ext {
	enum eng_ext_status status;
	enum eng_ext_verdict verdict;	/* ENG_EXT_OK only */
	__u64 seq;
	double canary, baseline;	/* the metric's value per variant, in the
					 * metric's unit; NaN is an error */
	__u64 samples_c, samples_b;	/* events behind each value */
	__u64 measured_ms;		/* wall clock of the measurement */
	char reason[ENG_REASON_LEN];	/* ENG_EXT_ERROR: what failed */
};

struct eng_obs {
	/* false: the service is gone; everything below is unset */
	bool exists;
	__u32 svc_id;
	__u32 gen;			/* live configuration generation */
	__u8 mode;			/* enum sluice_mode */
	__u8 affinity;			/* enum sluice_affinity */
	__u8 lkg;			/* last-known-good variant */
	bool blue_green;		/* configured as blue/green */
	__u32 tick_ms;			/* the shell observes every tick_ms
					 * (0: unknown): gate_due's slack */
	/* the service's kill word OR'ed with the global one (SLUICE_KILL_*),
	 * and the global one alone (a retry can clear only the service's) */
	__u32 kill;
	__u32 kill_global;
	__u16 weight[SLUICE_MAX_RINGS];	/* live canary share per ring, bp */
	bool ring_in_use[SLUICE_MAX_RINGS];	/* ring 0 always */
	__u16 nbackends[SLUICE_VARIANTS];	/* active backends per pool */
	/* health per pool, from the live records: active (not draining)
	 * backends and how many of them the health checks marked down. A
	 * dead canary backend is evidence against the canary; a dead
	 * baseline backend is not (eng_tick) */
	__u16 nactive[SLUICE_VARIANTS];
	__u16 ndown[SLUICE_VARIANTS];
	/* the canary pool's identity (sluice_pool_identity: its backends'
	 * records, not their health); 0: not known (not compared) */
	__u64 canary_id;
	/* cumulative counters as the maps hold them (never reset by the
	 * shell; the engine differences them and rebases a counter that went
	 * backwards, e.g. after the maps were recreated) */
	struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_health health[SLUICE_VARIANTS];	/* latency histograms */
	/* external gates' results, indexed like plan->gates */
	struct eng_ext ext[SLUICE_PLAN_MAX_GATES];
	/* the pre-step hook's outcome for run seq (eng_state.hook_seq):
	 * ENG_EXT_NONE while it runs, OK (exit 0) or ERROR with the reason */
	struct eng_hook {
		__u64 seq;
		enum eng_ext_status status;
		char reason[ENG_REASON_LEN];
	} hook;
};

/* A freeze: global (incident) or per service (error budget exhausted). */
struct eng_freeze {
	bool frozen;
	char reason[ENG_REASON_LEN];
	char who[ENG_WHO_LEN];
	__u64 since_ms;
};

/*
 * Frozen (either): no step advances, hold time does not accrue, no rollout
 * starts or retries; gates are still evaluated and a failure still rolls
 * back.
 */
struct eng_env {
	struct eng_freeze global;
	struct eng_freeze service;
	/* the fleet (issue 20): weights written by hand end the rollout as
	 * rolled back by the operator, like a revert, instead of pausing it
	 * (a node's operator resumes its own pause; a fleet's hand-written
	 * weights are the operator taking the service over) */
	bool operator_weight_ends;
};

#endif /* SLUICED_OBS_H */
