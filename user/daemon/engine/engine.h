/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rollout engine: a pure state machine. No I/O, no clock, no globals:
 * the shell passes the plan, the persisted state, an observation, the
 * environment (freezes) and the wall clock, and gets back the new state,
 * the actions to perform and the events to record. The shell's sequence
 * each tick, per service with a rollout:
 *
 *     fill obs -> eng_tick -> persist state + out->events -> perform actions
 *
 * and for a command: eng_command the same way. Level-triggered: the state
 * says what the maps should show; every tick compares that with obs and
 * asks only for what differs, so running the same tick again (a restart
 * after a crash) is safe and a tick whose maps already match asks for
 * nothing (a restart changes no map by itself).
 *
 * Phases:
 *   PENDING      created, waiting to start (frozen, or trigger pending)
 *   PROGRESSING  at step `step`, holding; advances when the hold is done
 *                and every gate passed with min_samples in the step
 *   PAUSED       why (pause_reason) and since when; resume/promote leave
 *   PROMOTED     terminal: the canary became the baseline
 *   ROLLED_BACK  terminal: gates failed, or the operator reverted on the
 *                maps (by_operator); `retry` starts again
 *   ABORTED      terminal: `abort` command; `retry` starts again
 * A global or per-service freeze is not a phase: it stops advancing in
 * PROGRESSING and starting in PENDING, and is shown in the status.
 *
 * The canary's identity (obs->canary_id: its backends' records) is fixed
 * when an attempt's evidence begins (st->canary_id); a different one on a
 * later tick is the plan's on_canary_change: restart (a new attempt from
 * step 1 with fresh gates), pause (ENG_PAUSE_CANARY_CHANGED; resume begins
 * the step again on the new pool), fail (roll back). A promotion (tick or
 * command) is never decided for a pool other than the judged one.
 *
 * Backend health (obs->ndown, obs->nactive) weighs on the canary only: a
 * canary backend down holds the step (it does not advance until the
 * backend is back, an ENG_EV_HEALTH event records each change), every
 * canary backend down fails the rollout like a failed gate (on_failure,
 * "canary backends down (N of M)"); baseline backends down are not held
 * against the canary.
 */
#ifndef SLUICED_ENGINE_H
#define SLUICED_ENGINE_H

#include <stddef.h>
#include "obs.h"
#include "gate.h"

#define ENG_STATE_VERSION	1
#define ENG_STATUS_LEN		256
#define ENG_MAX_ACTIONS		4
#define ENG_MAX_EVENTS		(SLUICE_PLAN_MAX_GATES + 8)

enum eng_phase {
	ENG_NONE = 0,		/* no rollout (fresh state) */
	ENG_PENDING,
	ENG_PROGRESSING,
	ENG_PAUSED,
	ENG_PROMOTED,
	ENG_ROLLED_BACK,
	ENG_ABORTED,
};

enum eng_pause_reason {
	ENG_PAUSE_NONE = 0,
	ENG_PAUSE_COMMAND,	/* `sluice rollout pause` */
	ENG_PAUSE_STEP,		/* a pause step of the plan */
	ENG_PAUSE_INCONCLUSIVE,	/* gate below min_samples at hold end */
	ENG_PAUSE_GATE_ERRORS,	/* gate errored more than error_limit */
	ENG_PAUSE_GATE_FAILED,	/* gate failed, on_failure: pause */
	ENG_PAUSE_OPERATOR_WEIGHT,	/* weights changed on the maps */
	ENG_PAUSE_PRECONDITION,	/* cannot proceed (no canary backends,
				 * last-known-good is the canary, ...) */
	ENG_PAUSE_HOOK,		/* the pre-step hook failed or timed out;
				 * `resume` runs it again */
	ENG_PAUSE_CANARY_CHANGED,	/* the canary pool's records changed
					 * (on_canary_change: pause); `resume`
					 * begins the step again with fresh
					 * evidence on the new pool */
	ENG_PAUSE_SPLIT,	/* the split check: new flows do not split as
				 * configured (the measurement is broken) */
};

enum eng_cmd_kind {
	ENG_CMD_START = 0,	/* begin step 0 (from NONE or PENDING; an
				 * active rollout: no-op) */
	ENG_CMD_PAUSE,
	ENG_CMD_RESUME,
	ENG_CMD_PROMOTE,	/* end the current hold/pause now; `full`: go
				 * straight to promotion */
	ENG_CMD_ABORT,		/* roll back to lkg, as the operator's */
	ENG_CMD_RETRY,		/* after ROLLED_BACK/ABORTED: clean restart
				 * from step 0 */
	ENG_CMD_UNDO,		/* after PROMOTED, within the plan's
				 * rollback_window: the previous baseline
				 * serves again (ENG_ACT_UNDO); the rollout
				 * ends ROLLED_BACK (undone); a repeat is a
				 * no-op */
};

struct eng_cmd {
	enum eng_cmd_kind kind;
	bool full;			/* PROMOTE --full */
	__u64 rollout_id;		/* START: the shell's id for the rollout
					 * (unique per service); 0 keeps the
					 * state's */
	char who[ENG_WHO_LEN];		/* for the audit trail */
	char reason[ENG_REASON_LEN];
};

enum eng_action_kind {
	/* write weight[] for the rings in ring_mask (bit i: ring i) */
	ENG_ACT_SET_WEIGHTS = 0,
	/* kill switch: new flows to the last-known-good (one write) */
	ENG_ACT_REVERT,
	/* clear the service's kill word (retry after a rollback) */
	ENG_ACT_RESUME_KILL,
	/* blue-green: every ring to `variant`, lkg to the other */
	ENG_ACT_CUTOVER,
	/* canary pool becomes baseline, lkg baseline, canary emptied, weight
	 * 0, one atomic service_put; only while the live gen equals gen (a
	 * repeat after a crash is then a no-op) */
	ENG_ACT_PROMOTE,
	/* undo a promotion: the baseline pool kept by the shell at the
	 * promotion becomes the baseline again, the promoted pool the
	 * canary at weight 0, one atomic service_put. Live flows on the
	 * promoted pool: the rollback's live-flow option (issue 21, section
	 * 1) applies here too; it is the shell's (actuate.c) */
	ENG_ACT_UNDO,
};

/* Every action is safe to repeat. */
struct eng_action {
	enum eng_action_kind kind;
	__u16 weight[SLUICE_MAX_RINGS];	/* SET_WEIGHTS: bp per ring */
	__u8 ring_mask;			/* SET_WEIGHTS */
	__u8 variant;			/* CUTOVER */
	__u32 gen;			/* PROMOTE */
};

enum eng_event_type {
	ENG_EV_START = 0,
	ENG_EV_STEP,		/* a step began (weights written) */
	ENG_EV_GATE,		/* one gate evaluation: eval filled */
	ENG_EV_PAUSE,
	ENG_EV_RESUME,
	ENG_EV_FREEZE,		/* the rollout saw a freeze begin */
	ENG_EV_UNFREEZE,
	ENG_EV_PROMOTE,
	ENG_EV_ROLLBACK,	/* gate failure or operator revert */
	ENG_EV_ABORT,
	ENG_EV_RETRY,
	ENG_EV_OPERATOR,	/* an operator change on the maps seen */
	ENG_EV_ERROR,		/* the engine could not do something */
	ENG_EV_HEALTH,		/* the canary's backends down changed */
	ENG_EV_HOOK,		/* the pre-step hook is asked for, or ended */
	ENG_EV_CANARY_CHANGE,	/* the canary pool changed under the rollout
				 * (what on_canary_change did follows) */
};

struct eng_event {
	enum eng_event_type type;
	__u64 rollout_id;
	unsigned int attempt;
	int step;		/* -1: none */
	__u64 at_ms;
	int gate;		/* ENG_EV_GATE: index into plan->gates, else -1 */
	struct gate_eval eval;	/* ENG_EV_GATE */
	char who[ENG_WHO_LEN];	/* "engine" or the command's who */
	char text[256];		/* one line, human readable */
};

struct eng_out {
	bool changed;		/* the state changed: persist it */
	unsigned int nactions;
	struct eng_action actions[ENG_MAX_ACTIONS];
	unsigned int nevents;
	struct eng_event events[ENG_MAX_EVENTS];
	char error[256];	/* eng_command's message on -errno */
};

/* The persisted state of one service's rollout: plain data. */
struct eng_state {
	__u32 version;				/* ENG_STATE_VERSION */
	char service[SLUICE_NAME_LEN];
	__u64 rollout_id;
	unsigned int attempt;			/* 1 at start, +1 per retry */
	enum eng_phase phase;
	int step;				/* current step index, -1 none */
	__u64 created_ms, started_ms;
	__u64 step_started_ms;
	__u64 held_ms;				/* hold accrued in this step */
	__u64 last_tick_ms;			/* accrual clock */
	__u64 phase_since_ms;			/* the phase began */
	enum eng_pause_reason pause_reason;
	char pause_who[ENG_WHO_LEN];
	bool frozen;				/* last tick saw a freeze */
	__u64 frozen_since_ms;
	bool promote_pending;			/* `promote` ends this hold */
	bool promote_full;			/* `promote --full` */
	bool by_operator;			/* terminal by the operator */
	/* what the engine wrote last (operator detection, level-triggered
	 * reconcile): the weights the maps should show and those they
	 * showed before that write (a crash between deciding and writing
	 * leaves the maps at prev) */
	bool wrote;
	__u16 want_weight[SLUICE_MAX_RINGS];
	__u16 prev_weight[SLUICE_MAX_RINGS];
	bool want_revert;			/* the engine set the kill */
	bool want_cutover;			/* cutover step active */
	__u32 promote_gen;			/* gen the promotion was decided on */
	__u8 lkg_at_start;
	bool resume_kill_pending;		/* always false now (kept in the
						 * state document for older readers) */
	bool pending_retry;			/* PENDING: a retry waits (freeze) */
	bool extend_step;			/* resumed after an inconclusive
						 * pause: wait for min_samples
						 * for the rest of this step */
	__u64 waiting_since_ms;			/* hold done, gates not yet passed */
	__u16 canary_down, canary_active;	/* the canary pool's health at
						 * the last tick (ENG_EV_HEALTH) */
	/* latency histograms at this step's start, per variant, and the
	 * baseline's over the previous step (the latency gates' base) */
	bool lat_valid, base_before_valid;
	__u64 lat_step[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
	__u64 base_lat_before[SLUICE_LAT_BUCKETS];
	unsigned int ngates;
	struct gate_state gates[SLUICE_PLAN_MAX_GATES];
	/* what it waits for and since when, always set */
	char status[ENG_STATUS_LEN];
	char end_reason[ENG_STATUS_LEN];	/* terminal: why, with numbers */
	/*
	 * The plan's pre_step_hook: a weight or cutover step is entered with
	 * hook_pending set and its weights not yet written (no hold; the
	 * previous step's gates go on judging the previous weights); the
	 * shell runs the hook for hook_seq and hands the
	 * outcome in obs->hook; success applies the step, a failure pauses
	 * (ENG_PAUSE_HOOK). A new hook_seq per run: resume runs it again.
	 */
	bool hook_pending;
	__u64 hook_seq;
	__u64 hook_since_ms;
	/*
	 * The canary that the evidence is about (obs->canary_id when the
	 * attempt's evidence began; 0: not known yet, taken at the next
	 * tick). A different one is the plan's on_canary_change; nothing
	 * is promoted while they differ (issue 21).
	 */
	__u64 canary_id;
	bool undone;				/* ROLLED_BACK by ENG_CMD_UNDO */
};

/* A fresh state (phase NONE) for service name. */
void eng_state_init(struct eng_state *st, const char *service);

/*
 * One tick. obs is this tick's observation of the service; now_ms the
 * daemon's steady clock (clock.h: epoch ms that never step; a value below
 * the last tick's, after a restart, accrues nothing). Fills out (actions, events, changed).
 * Returns 0, or -EINVAL for an inconsistent input (a state that does not
 * fit the plan: out->error says why; nothing changed).
 */
int eng_tick(const struct sluice_plan *plan, struct eng_state *st,
	     const struct eng_obs *obs, const struct eng_env *env,
	     __u64 now_ms, struct eng_out *out);

/*
 * An operator command. Returns 0 (also for a repeat that changes nothing:
 * out->changed false, no event) or -errno with out->error set and the
 * state unchanged: -EBUSY another rollout is running (start with another
 * id) or frozen (promote), -EALREADY the rollout has ended (pause,
 * resume, promote of a finished one; start without a new id), -ENOENT no
 * rollout / no service, -EINVAL a command that does not apply to the
 * phase or a precondition that fails (no canary backend, last-known-good
 * is the canary, global kill switch on). START or RETRY while frozen is
 * accepted and waits in PENDING; the first unfrozen tick starts it.
 */
int eng_command(const struct sluice_plan *plan, struct eng_state *st,
		const struct eng_cmd *cmd, const struct eng_obs *obs,
		const struct eng_env *env, __u64 now_ms, struct eng_out *out);

/* Is the phase final (promoted, rolled back, aborted)? */
bool eng_terminal(enum eng_phase p);

/*
 * Would eng_tick at now_ms (the shell ticks every tick_ms) do nothing of
 * its own, given an observation equal to the previous tick's? True only
 * for a progressing rollout, without a freeze change, a pre-step hook, a
 * pending promotion or kill-switch resume, whose hold does not end by now
 * and whose gates are quiet (gate_quiet): such a tick would only accrue
 * hold time (the next tick accrues the same sum) and rewrite the status.
 * The shell may then skip it when the service's counters, configuration
 * generation, weights and kill words have not moved (sluiced's 100 ms
 * look between gate evaluations).
 */
bool eng_tick_quiet(const struct sluice_plan *plan, const struct eng_state *st,
		    const struct eng_env *env, __u64 tick_ms, __u64 now_ms);

/* Milliseconds of hold left in the current step (0 none or done). */
__u64 eng_hold_left(const struct sluice_plan *plan, const struct eng_state *st);

const char *eng_phase_name(enum eng_phase p);
const char *eng_pause_reason_name(enum eng_pause_reason r);
const char *eng_event_type_name(enum eng_event_type t);
const char *eng_action_kind_name(enum eng_action_kind k);

/*
 * State as JSON (jansson), versioned: {"version": 1, ...}. to_json
 * returns a malloc'd string or NULL. from_json fills st or returns
 * -EINVAL with the reason in err for a truncated, corrupt or
 * unknown-version document (st untouched then).
 */
char *eng_state_to_json(const struct eng_state *st);
int eng_state_from_json(const char *json, struct eng_state *st, char *err,
			size_t errlen);
/* One audit event as a JSON object on one line (no newline). */
char *eng_event_to_json(const struct eng_event *ev, const char *service);

#endif /* SLUICED_ENGINE_H */
