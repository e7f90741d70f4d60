/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's durable state: one SQLite database in WAL mode (synchronous
 * FULL: a committed transition survives a power cut as well as a crash).
 *   meta      schema version, the global freeze, the next rollout id
 *   rollouts  per service: its plan (YAML text) and the engine's state
 *             (eng_state JSON); written on every transition
 *   events    the audit trail: every transition and gate evaluation
 *   samples   per-minute counters of each rollout's service
 *   outbox    intents (actions on the maps, notifications) recorded in the
 *             transaction of the decision that causes them, deleted once
 *             carried out (outbox.c); schema 2, added to a schema 1 file
 * One daemon per file: PATH.lock is held (flock) with the daemon's pid.
 * Opening checks the schema version and the file's integrity and refuses
 * (with the reason) anything it does not understand.
 */
#ifndef SLUICED_STORE_H
#define SLUICED_STORE_H

#include <stddef.h>
#include <linux/types.h>

#define STORE_SCHEMA	2

struct store;

struct store_rollout {
	const char *service;
	__u64 rollout_id;
	const char *plan_name;
	const char *plan;	/* YAML text */
	const char *state;	/* eng_state JSON */
};

struct store_sample {
	__u64 rollout_id;
	__u64 minute_ms;
	unsigned int weight;		/* ring 0, bp */
	__u64 new_c, new_b, bad_c, bad_b;	/* cumulative */
};

/* Open or create (0600; only where no file exists: an empty one is
 * refused). -errno with a sentence in err (corrupt, unknown schema, cannot
 * open; -EBUSY: another daemon holds it). */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_errmsg(const struct store *st);

int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

int store_meta_get(struct store *st, const char *key, char **value);
int store_meta_set(struct store *st, const char *key, const char *value);
int store_meta_del(struct store *st, const char *key);

int store_rollout_put(struct store *st, const struct store_rollout *r,
		      __u64 now_ms);
/* cb for each stored rollout; a nonzero return stops and is returned. */
int store_rollouts_load(struct store *st,
			int (*cb)(void *ctx, const struct store_rollout *r),
			void *ctx);

int store_event_add(struct store *st, const char *service, __u64 rollout_id,
		    __u64 at_ms, const char *type, const char *json);
/* The newest `limit` events of service, oldest first, to cb(json). */
int store_history(struct store *st, const char *service, unsigned int limit,
		  int (*cb)(void *ctx, const char *json), void *ctx);

int store_sample_put(struct store *st, const char *service,
		     const struct store_sample *smp);
/* Bad events and new flows of service (both variants) from since_ms on,
 * from the increases between its per-minute samples, and the time they
 * span (0 with fewer than two samples). */
int store_sample_window(struct store *st, const char *service, __u64 since_ms,
			__u64 *bad, __u64 *total, __u64 *span_ms);
/* The outbox: add an intent (JSON), delete one carried out, and each
 * left, oldest first (a nonzero return of cb stops and is returned). */
int store_outbox_add(struct store *st, const char *service, __u64 rollout_id,
		     __u64 at_ms, const char *intent, __s64 *seq);
int store_outbox_done(struct store *st, __s64 seq);
int store_outbox_load(struct store *st,
		      int (*cb)(void *ctx, __s64 seq, const char *service,
				__u64 rollout_id, const char *intent),
		      void *ctx);
/* Drop events and samples older than before_ms. */
int store_prune(struct store *st, __u64 before_ms);

#endif /* SLUICED_STORE_H */
