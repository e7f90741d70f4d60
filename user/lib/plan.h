/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A rollout plan: the steps a service's canary exposure walks through and
 * the gates that judge each step. Parsed from a service's `rollout:` section
 * of an apply file or from a standalone plan file, with the same libyaml
 * strictness and "file:line:col: message" errors as the configuration.
 *
 * A plan holds names, not ids: ring names resolve against the live rings
 * with sluice_plan_resolve() (the daemon calls it when a rollout starts and
 * again after a reload). Everything here is plain data, fixed size, no
 * pointers: a plan can be copied with memcpy and compared with memcmp.
 *
 * Units used throughout: weights in basis points (0..10000 = 0..100 %),
 * durations in milliseconds, ratios (margins, confidence) as doubles in
 * [0, 1] (the YAML writes them as percentages).
 */
#ifndef SLUICE_PLAN_H
#define SLUICE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "sluice_abi.h"

struct sluice;
struct sluice_service_spec;

#define SLUICE_PLAN_MAX_STEPS	32
#define SLUICE_PLAN_MAX_GATES	16
#define SLUICE_GATE_NAME_LEN	32

/* Where a plan item came from: 1-based line:column (0:0 when built in code). */
struct sluice_plan_pos {
	unsigned int line, col;
};

enum sluice_step_kind {
	SLUICE_STEP_WEIGHT = 0,	/* set the canary share, hold, judge */
	SLUICE_STEP_PAUSE,	/* wait: for `promote`, or for hold_ms */
	SLUICE_STEP_CUTOVER,	/* blue-green: all new flows to the canary
				 * ("green") side, judged for hold_ms; a
				 * failure cuts back through the kill switch */
};

/* One ring's weight in a per-ring step, as written in the plan. */
struct sluice_plan_ring_weight {
	char ring[SLUICE_RING_NAME_LEN];	/* "default" is ring 0 ("broad") */
	__u16 bp;				/* 0..10000 */
	struct sluice_plan_pos pos;
};

struct sluice_plan_step {
	enum sluice_step_kind kind;
	/*
	 * WEIGHT: either one weight for every ring (per_ring false,
	 * weight_all) or per ring (per_ring true, nweights entries); rings a
	 * per-ring step does not name take the "default" entry's value, or 0
	 * without one (the rule of the service's own `weight:`).
	 */
	bool per_ring;
	__u16 weight_all;			/* bp */
	unsigned int nweights;
	struct sluice_plan_ring_weight weights[SLUICE_MAX_RINGS];
	/*
	 * Filled by sluice_plan_resolve: the canary share per ring id, what
	 * the engine writes (WEIGHT) or 10000 everywhere (CUTOVER). Before
	 * resolve, a step with per_ring false already has it filled.
	 */
	__u16 weight[SLUICE_MAX_RINGS];
	bool resolved;
	/*
	 * WEIGHT and CUTOVER: how long the step must run (not frozen, not
	 * paused) before it may pass; required, > 0. PAUSE: 0 waits for
	 * `promote` (indefinite), > 0 resumes by itself after that long.
	 */
	__u64 hold_ms;
	struct sluice_plan_pos pos;
};

/* What a gate measures. Datapath kinds are computed by the engine from the
 * counters in struct eng_obs; external kinds arrive measured (eng_obs.ext). */
enum sluice_gate_metric {
	/*
	 * Bad events per new flow, canary vs baseline, through the sequential
	 * test (user/daemon/engine/seqtest.h). Bad events per forwarding mode (the
	 * datapath only sees what crosses the node):
	 *   nat:      backend_rst + hs_timeout + client_rst (replies cross the
	 *             node: refusals and unanswered handshakes are seen
	 *             directly; syn_retrans is left out because an unanswered
	 *             handshake already counts once as hs_timeout)
	 *   dsr/ipip: syn_retrans + client_rst (replies bypass the node: a
	 *             backend that does not answer shows as the client's SYN
	 *             retransmissions; one that refuses is invisible here
	 *             unless the client resets or retries on the same tuple)
	 * `signals:` in the plan overrides the set (SLUICE_SIG_* bits).
	 */
	SLUICE_METRIC_ERROR_RATIO = 0,
	/*
	 * Handshake latency (nat mode only), as the count test of notes/
	 * gates.md: at each step start the threshold T is the latency
	 * histogram's first bucket edge at or above (1 + max_increase) times
	 * the baseline's quantile (p95 or p99) measured before the step; a
	 * handshake above T is "slow"; slow handshakes per handshake are
	 * compared like error ratios, with no further margin.
	 */
	SLUICE_METRIC_LATENCY_P95,
	SLUICE_METRIC_LATENCY_P99,
	/*
	 * Sample ratio: canary new flows against the configured weights
	 * (two-sided sequential test, margin 0). Catches a datapath that
	 * does not split as configured. Meaningful with connection affinity.
	 */
	SLUICE_METRIC_NEW_FLOW_RATIO,
	/*
	 * External metrics (Prometheus query, command, error-budget burn
	 * rate): the shell measures them and hands the result in
	 * eng_obs.ext[gate index]; the engine compares it. Parsed only once
	 * their issue lands; the kinds are reserved so they are one more row.
	 */
	SLUICE_METRIC_EXT_PROMETHEUS,
	SLUICE_METRIC_EXT_COMMAND,
	SLUICE_METRIC_EXT_BURN_RATE,
	SLUICE_METRICS,
};

/* Datapath signals a gate may count as bad events (`signals:` list). */
#define SLUICE_SIG_SYN_RETRANS	(1u << 0)
#define SLUICE_SIG_CLIENT_RST	(1u << 1)
#define SLUICE_SIG_BACKEND_RST	(1u << 2)	/* nat only */
#define SLUICE_SIG_HS_TIMEOUT	(1u << 3)	/* nat only */
#define SLUICE_SIG_DEFAULT_NAT	(SLUICE_SIG_BACKEND_RST | SLUICE_SIG_HS_TIMEOUT | \
				 SLUICE_SIG_CLIENT_RST)
#define SLUICE_SIG_DEFAULT_L3	(SLUICE_SIG_SYN_RETRANS | SLUICE_SIG_CLIENT_RST)

/* What a step does with a gate that is still inconclusive (below
 * min_samples) when its hold is done. */
enum sluice_on_inconclusive {
	SLUICE_INCONCLUSIVE_PAUSE = 0,	/* default: pause for a human */
	SLUICE_INCONCLUSIVE_EXTEND,	/* keep holding until min_samples */
	SLUICE_INCONCLUSIVE_FAIL,	/* count as failed: on_failure */
};

enum sluice_on_failure {
	SLUICE_ON_FAILURE_ROLLBACK = 0,	/* default: kill switch to lkg */
	SLUICE_ON_FAILURE_PAUSE,	/* stop advancing, keep the weights */
};

/*
 * What a rollback (a failed gate, `rollout abort`) does to the canary's live
 * flows (on_rollback: live_flows:). New flows go to the baseline at once in
 * every case. The operator's own `sluice revert` is not a plan's: it keeps
 * its own default (no reset unless --reset).
 */
enum sluice_live_flows {
	SLUICE_LIVE_DRAIN = 0,	/* default: reset after the grace (drain_ms) */
	SLUICE_LIVE_KEEP,	/* left on the canary until the client ends them */
	SLUICE_LIVE_RESET,	/* re-decided at once (revert --reset) */
};
#define SLUICE_LIVE_DRAIN_DEFAULT_MS	10000
#define SLUICE_LIVE_DRAIN_MAX_MS	(3600 * 1000)

/* What a rollout does when its canary pool's records (sluice_pool_identity:
 * addresses, ports, weights, MACs; not health) change under it: the
 * evidence gathered was about another pool (issue 21). */
enum sluice_on_canary_change {
	SLUICE_CANARY_CHANGE_RESTART = 0,	/* default: a new attempt from the
						 * first step, fresh evidence */
	SLUICE_CANARY_CHANGE_PAUSE,		/* pause with the reason */
	SLUICE_CANARY_CHANGE_FAIL,		/* roll back to the baseline */
};

/* rollback_window's default: how long a promotion keeps the previous
 * baseline pool (no traffic) for `sluice rollout undo` */
#define SLUICE_ROLLBACK_WINDOW_DEFAULT_MS	(3600ull * 1000)

enum sluice_trigger {
	SLUICE_TRIGGER_MANUAL = 0,	/* default: `sluice rollout start` */
	SLUICE_TRIGGER_CANARY_CHANGE,	/* the daemon starts the plan itself
					 * when the canary pool changes */
};

/*
 * External gates (issue 12). The shell measures them asynchronously each
 * interval and hands the result in eng_obs.ext[gate index]:
 *   prometheus: `query` (a PromQL template: {{service}}, {{variant}},
 *     {{ring}}) is run per variant (canary; baseline too when the gate
 *     compares) against `url` (default: sluiced --prometheus); min samples
 *     from `samples_query` (same template: the events behind one
 *     measurement, e.g. increase(...[<interval>])) summed over the step,
 *     or without it one per measurement (min_samples counts measurements). Judged by max / max_increase like datapath gates.
 *   command: `command` (sh -c) with SLUICE_SERVICE, SLUICE_VARIANT,
 *     SLUICE_RING, SLUICE_STEP, SLUICE_GATE in its environment, killed at
 *     `timeout`. result exit: 0 pass, 1 fail, other error; result value:
 *     a number on stdout judged by max / max_increase (run per variant).
 *   burn_rate: the canary's own error ratio (the datapath signals of an
 *     error-ratio gate, `signals:`) against the plan's `budget:` (SLO, time
 *     base, min events) through the multiwindow multi-burn-rate rules.
 */
#define SLUICE_GATE_QUERY_LEN	512
#define SLUICE_GATE_URL_LEN	128

enum sluice_cmd_result { SLUICE_CMD_EXIT = 0, SLUICE_CMD_VALUE = 1 };

struct sluice_plan_ext {
	char query[SLUICE_GATE_QUERY_LEN];		/* prometheus */
	char samples_query[SLUICE_GATE_QUERY_LEN];	/* prometheus, optional */
	char url[SLUICE_GATE_URL_LEN];			/* prometheus, optional */
	char command[SLUICE_GATE_QUERY_LEN];		/* command */
	enum sluice_cmd_result result;			/* command */
	__u64 timeout_ms;		/* per measurement; default 5 s, < interval */
};

/*
 * The service's error budget (`budget:` in the plan): the SLO, how the
 * burn-rate windows scale, and where "good / total" come from for the
 * budget left over the SLO window. Exhausted (nothing left): the service
 * is frozen (no new rollout starts, running ones pause) until budget
 * returns. Datapath source: sluiced's persisted per-minute samples of the
 * error signals; prometheus: `error_ratio_query` ({{service}}, {{window}}:
 * the SLO window as a PromQL duration) returns the error ratio.
 */
struct sluice_plan_budget {
	bool present;
	double slo;			/* (0, 1): 0.999 */
	__u64 window_ms;		/* SLO period; default 30 d */
	__u64 time_base_ms;		/* the workbook's 1 h becomes this;
					 * default: the longest hold */
	__u64 min_events;		/* per burn window; default 100 */
	__u64 check_interval_ms;	/* budget left: default 60 s */
	bool freeze;			/* exhausted freezes; default true */
	char error_ratio_query[SLUICE_GATE_QUERY_LEN];	/* "" = datapath */
	char url[SLUICE_GATE_URL_LEN];
	struct sluice_plan_pos pos;
};

/* Values for a template's {{service}}, {{variant}}, {{ring}}, {{window}}
 * (NULL: the template may not use it). */
struct sluice_query_vars {
	const char *service, *variant, *ring, *window;
};

/*
 * Expand a query template; spaces inside the braces are allowed; values
 * are escaped for a PromQL string literal (\ and "). An unknown or
 * unterminated placeholder, or one without a value, is -EINVAL with err
 * naming it and its offset; -E2BIG when out is too small. Returns the
 * length.
 */
int sluice_query_expand(const char *tmpl, const struct sluice_query_vars *v,
			char *out, size_t outlen, char *err, size_t errlen);
/* Check a template for plan validation: a gate's ({{service}},
 * {{variant}}, {{ring}}) or a budget's (budget: {{service}}, {{window}}). */
int sluice_query_check(const char *tmpl, bool budget, char *err, size_t errlen);

struct sluice_plan_gate {
	char name[SLUICE_GATE_NAME_LEN];	/* default: the metric name;
						 * unique within the plan */
	enum sluice_gate_metric metric;
	__u64 interval_ms;	/* between evaluations; default 1000 */
	/*
	 * Comparison against the baseline measured at the same time:
	 * fail when the canary is worse than (1 + max_increase) x baseline
	 * (relative margin, the test's null hypothesis) and, when
	 * has_max_increase_abs, also more than max_increase_abs above the
	 * baseline in absolute terms (a ratio: 0.001 = 0.1 percentage points
	 * of error ratio). Absolute margin alone: relative margin 0.
	 * The absolute margin only ever makes failing harder, so the false-
	 * rollback bound of the relative test still holds.
	 */
	bool compare_baseline;		/* max_increase or _abs given */
	double max_increase;		/* relative, >= 0 (0.2 = 20 %) */
	bool has_max_increase_abs;
	double max_increase_abs;	/* absolute, >= 0 */
	/*
	 * Absolute threshold on the canary alone (`max:`): fail when the
	 * canary's value over the last interval exceeds it (error ratio:
	 * a ratio; latency: milliseconds of the quantile; new-flow ratio:
	 * unused). Simple guard; no peeking control.
	 */
	bool has_max;
	double max;
	double confidence;	/* 1 - false-rollback rate; default 0.99 */
	/* canary samples (error ratio, new-flow ratio: new flows; latency:
	 * handshakes timed; external: as reported) a step needs before the
	 * gate may pass; below it the verdict is inconclusive. Default 100. */
	__u64 min_samples;
	unsigned int failure_limit;	/* failed evaluations tolerated per step
					 * (default 0: the first one acts) */
	unsigned int error_limit;	/* consecutive errored evaluations
					 * tolerated before the rollout pauses
					 * (default 3) */
	enum sluice_on_inconclusive on_inconclusive;
	__u32 signals;			/* error ratio: SLUICE_SIG_*; 0: the
					 * mode's default set */
	struct sluice_plan_ext ext;	/* SLUICE_METRIC_EXT_* */
	/* the plan's split check (split_check: true, the default): a
	 * new_flow_ratio gate the file does not write, added last. It never
	 * holds a step; a mismatch pauses the rollout with the numbers (the
	 * measurement is broken, not the canary); not run for a service
	 * whose affinity is not per connection (flows split by client) */
	bool implicit;
	struct sluice_plan_pos pos;
};

struct sluice_plan {
	char source[256];		/* file name used in messages */
	unsigned int nsteps, ngates;
	struct sluice_plan_step steps[SLUICE_PLAN_MAX_STEPS];
	struct sluice_plan_gate gates[SLUICE_PLAN_MAX_GATES];
	enum sluice_on_failure on_failure;
	enum sluice_trigger trigger;
	enum sluice_on_canary_change on_canary_change;
	bool split_check_off;		/* split_check: false */
	/* after a promotion the previous baseline pool is kept this long
	 * (0: not kept); default SLUICE_ROLLBACK_WINDOW_DEFAULT_MS */
	__u64 rollback_window_ms;
	struct sluice_plan_budget budget;
	/* run before each step's weights are written; a failure or a timeout
	 * pauses the rollout (SLUICE_SERVICE, SLUICE_STEP in its env) */
	char pre_step_hook[SLUICE_GATE_QUERY_LEN];
	__u64 pre_step_timeout_ms;	/* default 30 s */
	/* on_rollback: live_flows: keep | reset | drain DURATION */
	enum sluice_live_flows live_flows;
	__u64 live_drain_ms;		/* DRAIN: the grace; 0: the default */
	struct sluice_plan_pos pos;	/* of the rollout: mapping */
};

/*
 * A standalone plan file: the same mapping as a service's `rollout:`
 * section at the top level. path "-" reads stdin. Returns a plan to free
 * with sluice_plan_free, or NULL with "file:line:col: message" in err;
 * nothing half-parsed is returned.
 */
struct sluice_plan *sluice_plan_parse(const char *path, char *err,
				      size_t errlen);
struct sluice_plan *sluice_plan_parse_string(const char *text, const char *name,
					     char *err, size_t errlen);
void sluice_plan_free(struct sluice_plan *plan);

/*
 * Check a plan against a live service and its rings: ring names exist,
 * latency gates need nat mode, a cutover step needs a canary pool, a
 * per-ring weight names no ring twice. Fills steps[].weight per ring id.
 * mode is the service's enum sluice_mode. Returns 0 or -errno with
 * "file:line:col: message" in err (plan unchanged on error).
 * ring_id(name) -> id or -ENOENT: given as a callback so that tests and the
 * apply-time check (rings of the file) can resolve without an instance;
 * sluice_plan_resolve_live uses the instance's rings.
 */
typedef int (*sluice_ring_lookup_fn)(void *ctx, const char *name);
int sluice_plan_resolve(struct sluice_plan *plan, __u8 mode,
			sluice_ring_lookup_fn ring_id, void *ctx,
			char *err, size_t errlen);
int sluice_plan_resolve_live(struct sluice_plan *plan, struct sluice *s,
			     const struct sluice_service_spec *svc,
			     char *err, size_t errlen);

/* YAML of a plan (sluice export, round-trip tests): the same schema the
 * parser reads; returns a malloc'd string or NULL. */
char *sluice_plan_to_yaml(const struct sluice_plan *plan, int indent);

/* "500ms", "30s", "5m", "2h", "1d", "1m30s", "1.5s" -> milliseconds;
 * -EINVAL (not a duration), -ERANGE (over 30 days). */
int sluice_parse_duration(const char *s, __u64 *ms);

/*
 * Does the plan run a command or fetch a URL of its own: a command gate, a
 * pre_step_hook, a gate's or the budget's url: (sluiced runs them as root;
 * a prometheus gate without url: asks sluiced's own --prometheus)? true
 * with what in what ("gate 'x' runs a command").
 */
bool sluice_plan_runs_commands(const struct sluice_plan *p, char *what, size_t len);

/*
 * Rings judged against other rings: in a per-ring step where a ring's
 * canary weight is 100 % and another ring's is below, that ring has no
 * baseline of its own; its canary is compared with the baseline of the
 * other rings, a different population (internal staff against the broad
 * public). sluice_plan_cross_ring: does step do that (the ring's name in
 * ring)? sluice_plan_warnings: one "file:line:col: warning: ..." line per
 * such step into buf (plan validation); returns how many.
 */
bool sluice_plan_cross_ring(const struct sluice_plan *plan, unsigned int step,
			    char *ring, size_t len);
unsigned int sluice_plan_warnings(const struct sluice_plan *plan, char *buf, size_t len);

const char *sluice_gate_metric_name(enum sluice_gate_metric m);
const char *sluice_step_kind_name(enum sluice_step_kind k);

#endif /* SLUICE_PLAN_H */
