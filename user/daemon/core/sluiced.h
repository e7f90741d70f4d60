/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced, the shell around the rollout engine: shared declarations of its
 * files. main.c (options, start-up), loop.c (epoll + timerfd + signalfd),
 * ctl_server.c (the control socket), rollouts.c (the table of rollouts:
 * tick, commands, persistence), sample.c (maps -> struct eng_obs),
 * actuate.c (engine actions -> libsluice), outbox.c (actions and
 * notifications as durable intents), store.c (SQLite), audit.c (events to
 * the store, JSON lines and the log).
 */
#ifndef SLUICED_H
#define SLUICED_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "sluice.h"
#include "plan.h"
#include "engine.h"
#include "store.h"
#include "clock.h"
#include "scheduler.h"
#include "sluice_ctl.h"

#define SLUICED_DB_DEFAULT	"/var/lib/sluice/sluiced.db"
#define SLUICED_TICK_MS		100	/* loop resolution */
#define SLUICED_INTERVAL_MS	1000	/* tick of a rollout without gates */
/* Without a transition, a rollout's state is written at most this often:
 * what a crash loses is then re-derived (the counters are cumulative and
 * hold time accrues from the persisted clock), never double counted. */
#define SLUICED_PERSIST_MS	60000
#define SLUICED_KEEP_DAYS	30

struct rollout {
	char service[SLUICE_NAME_LEN];
	struct sluice_plan *plan;		/* parsed; resolved when
						 * resolved is true */
	bool resolved;
	char *plan_text;			/* YAML, as stored */
	char plan_name[256];
	struct eng_state st;
	__u32 svc_id;				/* hint for the view */
	/* pool health (obs->nactive, ndown) as of configuration gen
	 * health_gen: health marks publish a new gen, so the records are
	 * read again only when it moves */
	bool health_valid;
	__u32 health_gen;
	__u16 nactive[SLUICE_VARIANTS], ndown[SLUICE_VARIANTS];
	__u64 canary_id;			/* sluice_pool_identity */
	__u64 interval_ms, next_ms;
	__u64 persisted_ms;			/* last write of st */
	bool dirty;				/* st differs from the store */
	__u64 sample_minute;			/* last per-minute sample */
	char error[1024];			/* why it cannot tick now */
	/* what the last full tick observed, for the 100 ms look between
	 * them (sample.c: sample_quiet) */
	struct {
		bool valid;
		__u32 rings, kill, sweeps;
		__u32 quiet;			/* quiet looks in a row */
		__u64 stamp, canary, full_ms;
	} look;
	/* the last recorded evaluation per gate: one that repeats it
	 * exactly (same step, verdict and counts: no new traffic) is not
	 * recorded again (audit.c) */
	struct {
		bool valid;
		int step, outcome;
		__u64 samples_c, samples_b, bad_c, bad_b;
	} last_eval[SLUICE_PLAN_MAX_GATES];
};

/* the daemon's modules (modules.c), in the order they start and tick */
enum module_id {
	MOD_EXTERNALS, MOD_BUDGET, MOD_FLEET, MOD_ROLLOUTS, MOD_LIVE, MOD_TRIGGER, MOD_UNDO,
	MOD_WEB, MOD_HEALTH, MOD_ANNOUNCE, MOD_CONTROL, MOD_COUNT
};

struct fleet_opts;
struct daemon_opts {
	const char *socket_path;
	const char *socket_group;
	const char *db_path;
	const char *pin_dir;
	const char *audit_path;		/* "-": stderr */
	const char *config_path;	/* apply file: rollout: sections */
	const char *prom_url;		/* default Prometheus of gates */
	const char *metrics_addr;	/* /metrics listen address; "off" */
	const char *metrics_hosts[8];	/* --metrics-host: Host names */
	unsigned int nmetrics_hosts;
	const char *notify_command, *notify_url;
	unsigned int keep_days;
	int verbose;
	const struct fleet_opts *fleet;	/* the fleet module's (fleet.h) */
};

struct daemon {
	struct daemon_opts o;
	struct sched *sched;		/* the one event loop (scheduler.h) */
	struct sluice *s;		/* NULL until the instance exists */
	struct store *db;
	struct rollout **ro;
	unsigned int nro, cap;
	struct eng_env env;
	FILE *audit;
	bool stop;
	int fatal;		/* why the loop stopped itself (-errno): exit 1 */
	__u64 last_prune_ms;
	__u64 last_open_try_ms;
	/* the rings in use, read once per tick round (sample_fill) */
	bool in_round;
	unsigned int round_rings;
	struct look_round *look;	/* sample.c: the round's kill words */
	struct plan_pool *plans;	/* plan_share.c */
	/* external gates, notifications, /metrics (externals.c) */
	struct httpc *hc;
	struct cmdrun *cr;
	struct extgate *xg;
	struct notify *nt;
	struct metrics_srv *ms;
	__u64 last_metrics_ms;
	__u64 metrics_builds;		/* full snapshots built (externals.c) */
	struct status_rates *srates;	/* status_doc.c: rates per service */
	unsigned int nsrates;
	char *status_last;		/* the last document built */
	__u64 status_next_ms;		/* when it may be rebuilt */
	struct prestep *ps;		/* pre-step hooks (prestep_hook.c) */
	/* each module's own state, by its id (modules.c): trigger.c's,
	 * ctl_server.c's, budget_freeze.c's, health_shell.c's, ... */
	void *mod[MOD_COUNT];
	/* scratch, too big for the stack of a tick */
	struct eng_obs obs;
	struct eng_out out;
};

/* log.c-free logging: stderr, journald priority prefixes when under it. */
enum { LOG_ERR_ = 3, LOG_WARN_ = 4, LOG_INFO_ = 6, LOG_DEBUG_ = 7 };
void dlog(struct daemon *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* modules.c: the daemon's modules, in the order they start and tick
 * (BIRD's struct protocol: start, shutdown, reconfigure, get_status;
 * chrony's Initialise/Finalise); they stop in the reverse order. The
 * core reaches a module only through the table: its state is
 * d->mod[its id] (enum module_id), its hooks are the table's. */
struct ctl_args;
struct ctl_result;
struct module {
	const char *name;
	/* 0 or -errno with err set; a stop must be safe after a start
	 * that failed half-way */
	int (*start)(struct daemon *d, char *err, size_t errlen);
	void (*stop)(struct daemon *d);
	void (*tick)(struct daemon *d, __u64 now);	/* SLUICED_TICK_MS */
	void (*reload)(struct daemon *d);		/* SIGHUP */
	/* its state as JSON (for service; NULL: all), NULL: nothing to say */
	json_t *(*status)(struct daemon *d, const char *service);
	/* the service is driven by this module, not by a local rollout */
	bool (*owns)(const struct daemon *d, const char *service);
	int ctl_cmd;	/* a control command of its own (SLUICE_CTL_*; 0: none) */
	void (*command)(struct daemon *d, const struct ctl_args *a,
			struct ctl_result *res);
};
int modules_start(struct daemon *d, char *err, size_t errlen);
void modules_tick(struct daemon *d, __u64 now);
void modules_reload(struct daemon *d);
void modules_stop(struct daemon *d);
json_t *modules_status(struct daemon *d, enum module_id id, const char *service);
/* the module that drives service (its name), or NULL */
const char *modules_owner(const struct daemon *d, const char *service);
/* run the control command cmd of the module that has it; false: none */
bool modules_command(struct daemon *d, int cmd, const struct ctl_args *a,
		     struct ctl_result *res);

/* loop.c: loop_signals_block first in main, before any thread exists */
void loop_signals_block(void);
int loop_run(struct daemon *d, int listen_fd);
/* main.c: SIGHUP */
void daemon_reload(struct daemon *d);

/* ctl_server.c */
int ctl_listen(struct daemon *d, char *err, size_t errlen);
/* ctl_listen registers the socket and its clients on d->sched */
int ctl_accept(struct daemon *d);
/* slot: a client (1..SLUICE_CTL_MAX_CLIENTS) */
void ctl_readable(struct daemon *d, unsigned int slot);
void ctl_expire(struct daemon *d, __u64 now);
void ctl_cleanup(struct daemon *d);

/* plan_share.c: a resolved plan for a rollout (p, or an equal one
 * already shared: p is then freed); plan_put drops a rollout's plan
 * (shared or not) */
struct sluice_plan *plan_share(struct daemon *d, struct sluice_plan *p);
void plan_put(struct daemon *d, struct sluice_plan *p);
void plan_pool_free(struct daemon *d);

/* rollouts.c: the engine's shell */
int ro_load(struct daemon *d, char *err, size_t errlen);
int ro_open_instance(struct daemon *d);
/* 0, or -EIO: the round could not be committed; nothing of it was acted
 * on, and the loop must stop (exit status 1) */
int ro_tick(struct daemon *d, __u64 now);
struct rollout *ro_find(struct daemon *d, const char *service);
void ro_free_all(struct daemon *d);
/* resolve plan's rings against the live service */
int ro_resolve_service(struct daemon *d, struct sluice_plan *plan,
		       const char *service, char *err, size_t errlen);

/* A command's result: code (SLUICE_CTL_*), message on error, data. */
struct ctl_result {
	int code;
	char error[512];
	json_t *data;		/* object merged into the reply */
};
struct ctl_args {
	const char *service;
	const char *plan, *plan_name;
	const char *reason;
	const char *who;
	const char *action;	/* fleet */
	bool full;
	unsigned int limit;
};
void ro_command(struct daemon *d, int cmd, const struct ctl_args *a,
		struct ctl_result *res);
/* ctl_server.c: one request line validated (root: to decref, a points
 * into it); 0, or -1 with res filled. No daemon needed (fuzz_ctl). */
int ctl_parse_request(const char *line, size_t len, int *cmd, json_t **root,
		      struct ctl_args *a, struct ctl_result *res);
json_t *ro_status_json(struct daemon *d, struct rollout *r);
json_t *ro_freeze_json(struct daemon *d);
/* The newest `limit` audit events of service, oldest first (NULL: store
 * error; [] without a store). */
json_t *ro_history_json(struct daemon *d, const char *service, unsigned int limit);

/* sample.c */
int sample_fill(struct daemon *d, struct rollout *r, struct eng_obs *obs);
/* Does the plan have a handshake-latency gate (its histograms are read)? */
bool plan_needs_latency(const struct sluice_plan *p);
void sample_sweep(struct daemon *d);
/* May r's tick at now be skipped? Nothing it observes moved since its
 * last full tick (sample_fill), the engine has nothing due by time
 * (eng_tick_quiet), and a full tick ran within the last second. Reads
 * the canary's counters (one lookup) and, once per round, the kill words. */
bool sample_quiet(struct daemon *d, struct rollout *r, __u64 now);
void sample_back_off(struct daemon *d, struct rollout *r);
void sample_round_end(struct daemon *d);
void sample_free(struct daemon *d);
/* rollouts.c: the per-minute sample of r's service (d->obs filled) */
void ro_take_sample(struct daemon *d, struct rollout *r, __u64 now);
/* bad events and new flows per variant, the mode's default signals */
void sample_totals(const struct eng_obs *obs, __u64 new_flows[2], __u64 bad[2]);

/* actuate.c */
int actuate(struct daemon *d, struct rollout *r, const struct eng_action *a);

/* outbox.c: in the decision's transaction, record what out asks for
 * (actions, notifications); after its commit, carry them out (flush) or,
 * rolled back, forget them (discard); at start, with the instance open,
 * carry out what a crash left (replay). */
int outbox_record(struct daemon *d, struct rollout *r, const struct eng_out *out);
void outbox_flush(struct daemon *d);
void outbox_discard(void);
void outbox_replay(struct daemon *d);
void outbox_due(struct daemon *d);	/* each tick: deferred intents now due */
void outbox_free(void);

/* live_flows.c: what a rollback does to the canary's live flows (the
 * plan's on_rollback: live_flows:), carried out from the outbox, and the
 * audit of how many there were and when the last one left */
char *live_intent(const struct rollout *r, char *revert_text, __u64 now, bool due_reset);
void live_revert(struct daemon *d, struct rollout *r, __u64 rollout_id, json_t *o);
__s64 live_due(struct daemon *d, const char *service, __u64 rollout_id, json_t *o);
int live_reset(struct daemon *d, const char *service, __u64 rollout_id, json_t *o);
int live_start(struct daemon *d, char *err, size_t errlen);
void live_stop(struct daemon *d);
void live_tick(struct daemon *d, __u64 now);

/* externals.c: external gates, notifications and /metrics in sluiced */
int gs_start(struct daemon *d, char *err, size_t errlen);
void gs_stop(struct daemon *d);
/* before eng_tick: measurements due, results into obs->ext[] */
void gs_measure(struct daemon *d, struct rollout *r, struct eng_obs *obs, __u64 now);
/* the rollout of service ended or is replaced: stop its gates' commands
 * and its pre-step hook (their process groups: SIGTERM, then SIGKILL) */
void gs_cancel(struct daemon *d, const char *service);
void gs_notify_freeze(struct daemon *d, bool on, const struct eng_freeze *f);
void gs_notify_service_freeze(struct daemon *d, const char *service, bool on,
			      const struct eng_freeze *f);
/* once a second: the status page's snapshot and document while it is
 * open, else the weights for its history; /metrics builds its own */
void gs_metrics(struct daemon *d, __u64 now);
/* status_doc.c: the status page's JSON. status_track with every snapshot
 * (rates, weight changes); status_doc builds the document of the snapshot
 * last tracked (malloc'd; NULL); status_doc_due a copy of the last one,
 * rebuilt when its cost allows; status_doc_idle drops it (nobody polls). */
struct metrics_snapshot;
void status_track(struct daemon *d, const struct metrics_snapshot *m, __u64 now,
		  bool counters);
char *status_doc(struct daemon *d, const struct metrics_snapshot *m, __u64 now);
char *status_doc_due(struct daemon *d, const struct metrics_snapshot *m, __u64 now);
void status_doc_idle(struct daemon *d);
void status_doc_free(struct daemon *d);
/* health_shell.c: backend health checks from --config's health_check sections */
struct hs;
int health_start(struct daemon *d, char *err, size_t errlen);
void health_tick(struct daemon *d, __u64 now);
void health_reload(struct daemon *d);
void health_free(struct daemon *d);
json_t *health_json(struct daemon *d, const char *service);
struct metrics_snapshot;
void health_metrics(struct daemon *d, struct metrics_snapshot *m);
/* announce_shell.c: VIP routes for the routing daemon (doc/guide/bgp.md) */
int announce_start(struct daemon *d, char *err, size_t errlen);
void announce_stop(struct daemon *d);
void announce_now(struct daemon *d);
void announce_tick(struct daemon *d, __u64 now);
void announce_metrics(struct daemon *d, struct metrics_snapshot *m);

/* budget_freeze.c: the error-budget freeze of services whose plan has budget: */
void budget_tick(struct daemon *d, __u64 now);
/* before a start of plan: the service's freeze for it (samples: checked
 * now; a query: its last answer, none yet: not frozen) */
void budget_start_check(struct daemon *d, const char *service,
			const struct sluice_plan *plan, __u64 now, struct eng_freeze *out);
/* the service's freeze for eng_env.service (cleared when not frozen) */
void budget_env(struct daemon *d, const char *service, struct eng_freeze *out);
json_t *budget_json(struct daemon *d, const char *service);
bool budget_remaining(struct daemon *d, const char *service, double *remaining,
		      bool *frozen);
void budget_free(struct daemon *d);

/* prestep_hook.c: the plan's pre_step_hook, run for the engine */
struct prestep;
struct prestep *prestep_new(struct cmdrun *cr);
void prestep_free(struct prestep *p);
/* before eng_tick: start the hook the state asks for, its outcome into
 * obs->hook */
void prestep_tick(struct prestep *p, const struct rollout *r, struct eng_obs *obs);
/* the service's rollout ended: stop its hook, drop its state */
void prestep_forget(struct prestep *p, const char *service);

/* trigger.c: `trigger: canary-change` plans of --config */
void trigger_tick(struct daemon *d, __u64 now);
void trigger_free(struct daemon *d);

/* undo.c: the previous baseline pool kept after a promotion for
 * `rollout undo` (the plan's rollback_window) */
void kept_save(struct daemon *d, struct rollout *r, const struct sluice_pool_spec *pool);
int kept_load(struct daemon *d, const char *service, struct sluice_pool_spec *pool,
	      __u64 *rollout_id, __u64 *until_ms);
int kept_undo(struct daemon *d, struct rollout *r, char *why, size_t len);
void kept_tick(struct daemon *d, __u64 now);
void kept_free(struct daemon *d);

/* audit.c */
int audit_events(struct daemon *d, struct rollout *r, const struct eng_out *out);
int audit_note(struct daemon *d, const char *service, __u64 rollout_id,
	       const char *type, const char *who, const char *text);
int audit_raw(struct daemon *d, const char *service, __u64 rollout_id, __u64 at_ms,
	      const char *type, const char *json);
void audit_reopen(struct daemon *d);
void audit_hold(void);
void audit_release(struct daemon *d, bool commit);
void audit_free(void);

#endif /* SLUICED_H */
