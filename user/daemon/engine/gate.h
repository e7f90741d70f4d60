/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Gate evaluation: one interface for every kind of gate. A gate is due
 * every plan interval; an evaluation reads the observation, differences
 * it against the gate's own snapshot (the counters at its previous
 * evaluation), feeds the increment to the gate's sequential test and
 * returns one of four outcomes with the numbers behind it.
 *
 *   PASS          at least min_samples canary samples in this step and
 *                 nothing failed (the test has not rejected, no absolute
 *                 threshold exceeded)
 *   FAIL          the canary is worse than the baseline beyond the
 *                 margins with the configured confidence, or above `max`
 *   INCONCLUSIVE  nothing failed, but fewer than min_samples in this step
 *   ERROR         the measurement failed (external error, NaN, service
 *                 gone, a metric the mode cannot measure): never a pass
 *
 * Comparison per increment: the canary cohort of an increment is every
 * ring's canary traffic, the baseline cohort the baseline traffic measured
 * in the same increment. Rings with traffic on both sides are one stratum
 * each; rings with canary traffic only (at 100 %) are pooled into one
 * stratum against the baseline traffic of the rings with baseline traffic
 * only (when there is none, every ring is pooled into one stratum). Each
 * count is used once, so the product over strata stays a test martingale.
 *
 * Early evaluation: the shell observes every tick (100 ms); between two
 * interval evaluations gate_burst asks whether the events since the last
 * one already make the test reject (a canary refusing every connection
 * does within a few refused connections), and the engine then evaluates
 * at once. An early look must clear the test's threshold by a factor of
 * 100 (GATE_BURST_MARGIN: two or three more bad events for a gross
 * failure): the looks once an interval keep their false-rollback rate and
 * the extra ones, trying a tentative increment (not the test's own
 * path), add about alpha/100 (with a factor 10 `make seqsim` measured
 * about alpha/20 more at 95 %, margin 20 %). An early evaluation only
 * ever fails (PASS and INCONCLUSIVE stay once per interval, min_samples
 * unchanged).
 *
 * Exposure share of an increment: the canary's share of its new flows,
 * except where the increment may hold bad events of flows routed under
 * other weights or is too short to measure the share well: the step's
 * first increment (weights changed within it: its late bad events belong
 * to flows of either weights) and an early, partial one. There each
 * ring's share is at least the configured weight(s) in force (before and
 * after the change). A larger share only makes the canary's bad events
 * less surprising (every alternative's likelihood ratio falls with it), so
 * the test stays valid.
 */
#ifndef SLUICED_GATE_H
#define SLUICED_GATE_H

#include "obs.h"
#include "seqtest.h"

#define GATE_BURST_MARGIN	4.605170185988092	/* log(100), gate_burst */

enum gate_outcome {
	GATE_NONE = 0,		/* not evaluated yet */
	GATE_PASS,
	GATE_FAIL,
	GATE_INCONCLUSIVE,
	GATE_ERROR,
};

/* One evaluation's verdict and numbers (also the audit event's payload). */
struct gate_eval {
	enum gate_outcome outcome;
	/* values over the step so far: error ratio / slow-handshake ratio /
	 * canary share of new flows (ratios), or the external metric */
	double canary, baseline;
	double threshold;		/* the canary value at which the margins
					 * are reached given this baseline */
	double stat, stat_limit;	/* log M and log(1/alpha) (0 when the
					 * gate has no sequential test) */
	__u64 samples_c, samples_b;	/* samples in this step */
	__u64 bad_c, bad_b;		/* bad events in this step */
	__u64 min_samples;
	unsigned int fails, errors;	/* failed evaluations in the step,
					 * consecutive errored ones */
	char reason[200];		/* one line: why this outcome */
};

/* Per-gate state, plain data (persisted inside struct eng_state). */
struct gate_state {
	struct seq_test seq;		/* the whole rollout attempt */
	bool seq_on;			/* the test is set up (latency: after
					 * the step's threshold is known) */
	/* cumulative counters at the previous evaluation, reduced to what
	 * this gate counts: [variant][ring] samples and bad events
	 * (latency and external: ring 0 only) */
	bool snap_valid;
	__u64 snap_n[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	__u64 snap_x[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	__u64 last_eval_ms;		/* 0: never */
	__u64 ext_seq;			/* external: last seq evaluated */
	/* this step */
	__u64 step_n[SLUICE_VARIANTS], step_x[SLUICE_VARIANTS];
	unsigned int fails;		/* failed evaluations */
	unsigned int errors;		/* consecutive errored evaluations */
	double lat_threshold_us;	/* latency: T of this step, 0 unset */
	bool first_incr;		/* the next increment is the step's
					 * first: it may hold flows and late
					 * bad events of the previous weights
					 * (counted with a conservative share;
					 * a sample-ratio gate, or one without
					 * the previous weights, rebases only) */
	struct gate_eval last;		/* the latest evaluation */
};

/* Context the engine hands to each evaluation. */
struct gate_ctx {
	unsigned int index;			/* the gate's index in
						 * plan->gates (obs->ext[]) */
	__u8 mode;				/* enum sluice_mode */
	const __u16 *weight;			/* the step's canary share per
						 * ring (new-flow ratio gate,
						 * partial increments) */
	const __u16 *prev_weight;		/* the share before the step
						 * (its first increment); NULL:
						 * unknown, that one rebases */
	/* latency histograms at the step's start per variant, and the
	 * baseline's over the window before the step (the threshold's
	 * base); NULL: not known (then the cumulative ones are used) */
	const __u64 *lat_step_start[SLUICE_VARIANTS];
	const __u64 *base_lat_before;
};

/* Fresh state for an attempt. Returns 0 or -EINVAL (bad gate). */
int gate_state_init(const struct sluice_plan_gate *g, struct gate_state *gs);

/* A new step begins: the events since the previous evaluation go to the
 * test under the weights in force until now (obs->weight), then step
 * counters and fails reset, snapshot rebased to obs, latency threshold
 * recomputed. The test's evidence carries over. */
void gate_step_begin(const struct sluice_plan_gate *g, struct gate_state *gs,
		     const struct gate_ctx *ctx, const struct eng_obs *obs);

/* Is an evaluation due at now_ms (interval elapsed since the last one; an
 * external gate: a new ext seq)? */
/* Early enough to count as on time for an interval (gate_due). */
static inline __u64 gate_due_slack(__u64 interval_ms)
{
	return interval_ms / 10 < 100 ? interval_ms / 10 : 100;
}
bool gate_due(const struct sluice_plan_gate *g, const struct gate_state *gs,
	      const struct eng_obs *obs, __u64 now_ms);

/* Would a tick at now_ms (ticks every tick_ms) leave the gate alone when
 * the counters it reads have not moved since the previous tick? Not due,
 * no burst waiting to be said; a datapath gate other than latency (those
 * read histograms and external results the shell does not compare). */
bool gate_quiet(const struct sluice_plan_gate *g, const struct gate_state *gs,
		__u64 tick_ms, __u64 now_ms);

/* A datapath gate judged against the baseline: it may evaluate early
 * (the shell should observe it every tick). */
bool gate_bursty(const struct sluice_plan_gate *g);

/* Not due, but the events since the previous evaluation already make its
 * test reject (or it rejected and has not said so): evaluate now. */
bool gate_burst(const struct sluice_plan_gate *g, const struct gate_state *gs,
		const struct gate_ctx *ctx, const struct eng_obs *obs, __u64 now_ms);

/*
 * Evaluate: update gs from the increment since the previous evaluation
 * and fill ev (before the interval is due: a partial increment, see
 * gate_burst). Safe on any observation (missing service, counters that
 * went backwards, empty external result): those give ERROR or
 * INCONCLUSIVE, never a crash and never PASS.
 */
enum gate_outcome gate_evaluate(const struct sluice_plan_gate *g,
				struct gate_state *gs,
				const struct gate_ctx *ctx,
				const struct eng_obs *obs, __u64 now_ms,
				struct gate_eval *ev);

/* Bad-event signals an error-ratio gate counts in a mode. */
__u32 gate_signals(const struct sluice_plan_gate *g, __u8 mode);

const char *gate_outcome_name(enum gate_outcome o);

#endif /* SLUICED_GATE_H */
