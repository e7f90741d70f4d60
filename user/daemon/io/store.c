// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluiced's state in SQLite (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "store.h"

enum {
	Q_META_GET, Q_META_SET, Q_RO_PUT, Q_RO_LOAD, Q_EV_ADD, Q_HIST,
	Q_SAMPLE, Q_PRUNE_EV, Q_PRUNE_SAMPLE, Q_WINDOW, Q_OB_ADD, Q_OB_DONE,
	Q_OB_LOAD, Q_META_DEL, NQ,
};

static const char *const queries[NQ] = {
	[Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[Q_META_DEL] = "DELETE FROM meta WHERE key = ?1",
	[Q_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
		       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[Q_RO_PUT] = "INSERT INTO rollouts(service, rollout_id, plan_name, plan, state, updated_ms) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(service) DO UPDATE SET "
		     "rollout_id = excluded.rollout_id, plan_name = excluded.plan_name, "
		     "plan = excluded.plan, state = excluded.state, updated_ms = excluded.updated_ms",
	[Q_RO_LOAD] = "SELECT service, rollout_id, plan_name, plan, state FROM rollouts ORDER BY service",
	[Q_EV_ADD] = "INSERT INTO events(service, rollout_id, at_ms, type, event) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_HIST] = "SELECT event FROM (SELECT seq, event FROM events WHERE service = ?1 "
		   "ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
	[Q_SAMPLE] = "INSERT OR REPLACE INTO samples(service, minute_ms, rollout_id, weight, "
		     "new_c, new_b, bad_c, bad_b) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_PRUNE_EV] = "DELETE FROM events WHERE at_ms < ?1",
	[Q_PRUNE_SAMPLE] = "DELETE FROM samples WHERE minute_ms < ?1",
	/* the counters are cumulative: sum the minute-to-minute increases;
	 * a sum that went down (maps recreated) counts from 0 again */
	[Q_WINDOW] = "SELECT COALESCE(SUM(CASE WHEN b >= pb AND t >= pt THEN b - pb ELSE b END), 0),"
		     " COALESCE(SUM(CASE WHEN t >= pt THEN t - pt ELSE t END), 0),"
		     " COALESCE(MAX(minute_ms) - MIN(pm), 0) FROM"
		     " (SELECT minute_ms, bad_c + bad_b AS b, new_c + new_b AS t,"
		     " LAG(bad_c + bad_b) OVER w AS pb, LAG(new_c + new_b) OVER w AS pt,"
		     " LAG(minute_ms) OVER w AS pm"
		     " FROM samples WHERE service = ?1 AND minute_ms >= ?2"
		     " WINDOW w AS (ORDER BY minute_ms)) WHERE pb IS NOT NULL",
	[Q_OB_ADD] = "INSERT INTO outbox(service, rollout_id, at_ms, intent) VALUES (?1, ?2, ?3, ?4)",
	[Q_OB_DONE] = "DELETE FROM outbox WHERE seq = ?1",
	[Q_OB_LOAD] = "SELECT seq, service, rollout_id, intent FROM outbox ORDER BY seq",
};

/* Schema 2: the outbox, intents decided and not yet carried out. */
#define OUTBOX_TABLE \
	"CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL," \
	" rollout_id INTEGER NOT NULL, at_ms INTEGER NOT NULL, intent TEXT NOT NULL);"

static const char schema[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE rollouts(service TEXT PRIMARY KEY, rollout_id INTEGER NOT NULL,"
	" plan_name TEXT NOT NULL, plan TEXT NOT NULL, state TEXT NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL,"
	" rollout_id INTEGER NOT NULL, at_ms INTEGER NOT NULL, type TEXT NOT NULL,"
	" event TEXT NOT NULL);"
	"CREATE INDEX events_service ON events(service, seq);"
	"CREATE INDEX events_at ON events(at_ms);"
	"CREATE TABLE samples(service TEXT NOT NULL, minute_ms INTEGER NOT NULL,"
	" rollout_id INTEGER NOT NULL, weight INTEGER NOT NULL, new_c INTEGER NOT NULL,"
	" new_b INTEGER NOT NULL, bad_c INTEGER NOT NULL, bad_b INTEGER NOT NULL,"
	" PRIMARY KEY(service, minute_ms));"
	OUTBOX_TABLE
	"INSERT INTO meta(key, value) VALUES ('schema', '2');";

/* From schema 1 (sluiced before the outbox): add it, nothing else moves. */
static const char migrate_1_2[] =
	OUTBOX_TABLE
	"UPDATE meta SET value = '2' WHERE key = 'schema';";

struct store {
	sqlite3 *db;
	int lock_fd;
	sqlite3_stmt *q[NQ];
	char path[256];
	char err[1024];
};

static int fail(struct store *st, const char *what)
{
	snprintf(st->err, sizeof(st->err), "%s: %s: %s", st->path, what,
		 sqlite3_errmsg(st->db));
	return -EIO;
}

const char *store_errmsg(const struct store *st)
{
	return st->err;
}

static int exec(struct store *st, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "%s: %s: %s", st->path, what,
			 msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* One text value of a single-row query, or NULL. */
static char *query_text(struct store *st, const char *sql, int *rc)
{
	sqlite3_stmt *q;
	char *v = NULL;

	*rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
	if (*rc != SQLITE_OK)
		return NULL;
	*rc = sqlite3_step(q);
	if (*rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);

		v = strdup(t ? (const char *)t : "");
		*rc = SQLITE_OK;
	} else if (*rc == SQLITE_DONE) {
		*rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return v;
}

static int exec_txn(struct store *st, const char *sql, const char *what)
{
	int err = exec(st, "BEGIN IMMEDIATE", what);

	if (!err)
		err = exec(st, sql, what);
	if (!err)
		err = exec(st, "COMMIT", what);
	if (err)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int check_and_create(struct store *st)
{
	char *v;
	int rc, err, i;

	/* a file that is not a database, or damaged pages, fails here */
	v = query_text(st, "PRAGMA quick_check", &rc);
	if (rc != SQLITE_OK)
		return fail(st, "cannot read the state database (corrupt or not SQLite)");
	if (!v || strcmp(v, "ok")) {
		snprintf(st->err, sizeof(st->err),
			 "%s: the state database is damaged (integrity check: %s)",
			 st->path, v ? v : "no answer");
		free(v);
		return -EUCLEAN;
	}
	free(v);
	v = query_text(st, "SELECT count(*) FROM sqlite_master", &rc);
	if (rc != SQLITE_OK)
		return fail(st, "cannot read the schema");
	if (v && !strcmp(v, "0")) {
		free(v);
		err = exec_txn(st, schema, "cannot create the schema");
		if (err)
			return err;
	} else {
		free(v);
		v = query_text(st, "SELECT value FROM meta WHERE key = 'schema'", &rc);
		if (rc != SQLITE_OK || !v) {
			free(v);
			snprintf(st->err, sizeof(st->err),
				 "%s: not a sluiced state database (no schema version)",
				 st->path);
			return -EPROTO;
		}
		if (!strcmp(v, "1")) {
			err = exec_txn(st, migrate_1_2, "cannot add the outbox (schema 1 to 2)");
			if (err) {
				free(v);
				return err;
			}
		} else if (strcmp(v, "2")) {
			snprintf(st->err, sizeof(st->err),
				 "%s: state schema version '%s' is unknown to this sluiced (it knows %d); refusing to touch it",
				 st->path, v, STORE_SCHEMA);
			free(v);
			return -EPROTO;
		}
		free(v);
	}
	for (i = 0; i < NQ; i++)
		if (sqlite3_prepare_v3(st->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->q[i], NULL) != SQLITE_OK)
			return fail(st, "cannot prepare a query (schema damaged?)");
	return 0;
}

/*
 * One daemon per database for its lifetime (as chronyd's pidfile and
 * Prometheus' TSDB lock): an flock on PATH.lock holding the pid. The lock
 * goes with the process, also on kill -9; the file stays.
 */
static int take_lock(struct store *st)
{
	char lp[sizeof(st->path) + 8], pid[32] = "";
	ssize_t n;

	snprintf(lp, sizeof(lp), "%s.lock", st->path);
	st->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		snprintf(st->err, sizeof(st->err), "%s: cannot open the lock file: %s",
			 lp, strerror(errno));
		return -errno;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(st->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			snprintf(st->err, sizeof(st->err),
				 "%s: in use by another sluiced (pid %s holds %s)",
				 st->path, pid[0] ? pid : "?", lp);
		else
			snprintf(st->err, sizeof(st->err), "%s: cannot lock: %s", lp,
				 strerror(e));
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(st->lock_fd, 0) < 0 || pwrite(st->lock_fd, pid, n, 0) != n) {
		snprintf(st->err, sizeof(st->err), "%s: cannot write the pid: %s", lp,
			 strerror(errno));
		return -EIO;
	}
	return 0;
}

/* A new database only where none exists, and then 0600 (SQLite gives its
 * WAL and SHM files the database's mode); an empty one is a damaged one. */
static int check_file(struct store *st)
{
	char wal[sizeof(st->path) + 8];
	struct stat sb, wb;
	int fd;

	if (stat(st->path, &sb) == 0) {
		snprintf(wal, sizeof(wal), "%s-wal", st->path);
		if (sb.st_size == 0 && (stat(wal, &wb) < 0 || wb.st_size == 0)) {
			snprintf(st->err, sizeof(st->err),
				 "%s: the state database is empty (0 bytes): truncated? a new one is made only where none exists",
				 st->path);
			return -EUCLEAN;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(st->err, sizeof(st->err), "%s: %s", st->path, strerror(errno));
		return -errno;
	}
	fd = open(st->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(st->err, sizeof(st->err), "%s: cannot create the state database: %s",
			 st->path, strerror(errno));
		return -errno;
	}
	close(fd);
	return 0;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	int e;

	*out = NULL;
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->lock_fd = -1;
	snprintf(st->path, sizeof(st->path), "%s", path);
	e = take_lock(st);
	if (!e)
		e = check_file(st);
	if (e)
		goto bad;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		e = fail(st, "cannot open the state database");
		goto bad;
	}
	sqlite3_busy_timeout(st->db, 5000);
	e = exec(st, "PRAGMA journal_mode=WAL", "cannot use WAL mode (corrupt or not SQLite)");
	if (!e)
		e = exec(st, "PRAGMA synchronous=FULL", "cannot set synchronous");
	if (!e)
		e = check_and_create(st);
	if (e)
		goto bad;
	*out = st;
	return 0;
bad:
	snprintf(err, errlen, "%s", st->err);
	store_close(st);
	return e;
}

void store_close(struct store *st)
{
	int i;

	if (!st)
		return;
	for (i = 0; i < NQ; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);	/* the lock goes with it */
	free(st);
}

int store_begin(struct store *st)
{
	return exec(st, "BEGIN IMMEDIATE", "cannot begin a transaction");
}

int store_commit(struct store *st)
{
	return exec(st, "COMMIT", "cannot commit");
}

void store_rollback(struct store *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Run a prepared statement without result rows. */
static int run(struct store *st, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : fail(st, what);
}

int store_meta_get(struct store *st, const char *key, char **value)
{
	sqlite3_stmt *q = st->q[Q_META_GET];
	int rc;

	*value = NULL;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*value = strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st, "cannot read meta");
	return 0;
}

int store_meta_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *q = st->q[Q_META_SET];

	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	return run(st, q, "cannot write meta");
}

int store_meta_del(struct store *st, const char *key)
{
	sqlite3_stmt *q = st->q[Q_META_DEL];

	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	return run(st, q, "cannot delete meta");
}

int store_rollout_put(struct store *st, const struct store_rollout *r,
		      __u64 now_ms)
{
	sqlite3_stmt *q = st->q[Q_RO_PUT];

	sqlite3_bind_text(q, 1, r->service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)r->rollout_id);
	sqlite3_bind_text(q, 3, r->plan_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, r->plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)now_ms);
	return run(st, q, "cannot write a rollout's state");
}

int store_rollouts_load(struct store *st,
			int (*cb)(void *ctx, const struct store_rollout *r),
			void *ctx)
{
	sqlite3_stmt *q = st->q[Q_RO_LOAD];
	int rc, ret = 0;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_rollout r = {
			.service = (const char *)sqlite3_column_text(q, 0),
			.rollout_id = (__u64)sqlite3_column_int64(q, 1),
			.plan_name = (const char *)sqlite3_column_text(q, 2),
			.plan = (const char *)sqlite3_column_text(q, 3),
			.state = (const char *)sqlite3_column_text(q, 4),
		};

		if (!r.service || !r.plan_name || !r.plan || !r.state) {
			snprintf(st->err, sizeof(st->err),
				 "%s: a rollout row has empty fields", st->path);
			ret = -EUCLEAN;
			break;
		}
		ret = cb(ctx, &r);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = fail(st, "cannot read the rollouts");
	sqlite3_reset(q);
	return ret;
}

int store_event_add(struct store *st, const char *service, __u64 rollout_id,
		    __u64 at_ms, const char *type, const char *json)
{
	sqlite3_stmt *q = st->q[Q_EV_ADD];

	sqlite3_bind_text(q, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)rollout_id);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)at_ms);
	sqlite3_bind_text(q, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, json, -1, SQLITE_STATIC);
	return run(st, q, "cannot record an event");
}

int store_history(struct store *st, const char *service, unsigned int limit,
		  int (*cb)(void *ctx, const char *json), void *ctx)
{
	sqlite3_stmt *q = st->q[Q_HIST];
	int rc, ret = 0;

	sqlite3_bind_text(q, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		ret = cb(ctx, (const char *)sqlite3_column_text(q, 0));
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = fail(st, "cannot read the history");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ret;
}

int store_sample_put(struct store *st, const char *service,
		     const struct store_sample *smp)
{
	sqlite3_stmt *q = st->q[Q_SAMPLE];

	sqlite3_bind_text(q, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)smp->minute_ms);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)smp->rollout_id);
	sqlite3_bind_int64(q, 4, smp->weight);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)smp->new_c);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)smp->new_b);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)smp->bad_c);
	sqlite3_bind_int64(q, 8, (sqlite3_int64)smp->bad_b);
	return run(st, q, "cannot record a sample");
}

int store_prune(struct store *st, __u64 before_ms)
{
	int err;

	sqlite3_bind_int64(st->q[Q_PRUNE_EV], 1, (sqlite3_int64)before_ms);
	err = run(st, st->q[Q_PRUNE_EV], "cannot prune events");
	if (err)
		return err;
	sqlite3_bind_int64(st->q[Q_PRUNE_SAMPLE], 1, (sqlite3_int64)before_ms);
	return run(st, st->q[Q_PRUNE_SAMPLE], "cannot prune samples");
}

int store_sample_window(struct store *st, const char *service, __u64 since_ms,
			__u64 *bad, __u64 *total, __u64 *span_ms)
{
	sqlite3_stmt *q = st->q[Q_WINDOW];
	int rc, ret = 0;

	*bad = *total = *span_ms = 0;
	sqlite3_bind_text(q, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)since_ms);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*bad = (__u64)sqlite3_column_int64(q, 0);
		*total = (__u64)sqlite3_column_int64(q, 1);
		*span_ms = (__u64)sqlite3_column_int64(q, 2);
	} else {
		ret = fail(st, "cannot read the samples");
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ret;
}

int store_outbox_add(struct store *st, const char *service, __u64 rollout_id,
		     __u64 at_ms, const char *intent, __s64 *seq)
{
	sqlite3_stmt *q = st->q[Q_OB_ADD];
	int err;

	sqlite3_bind_text(q, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)rollout_id);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)at_ms);
	sqlite3_bind_text(q, 4, intent, -1, SQLITE_STATIC);
	err = run(st, q, "cannot record an intent in the outbox");
	if (!err)
		*seq = sqlite3_last_insert_rowid(st->db);
	return err;
}

int store_outbox_done(struct store *st, __s64 seq)
{
	sqlite3_bind_int64(st->q[Q_OB_DONE], 1, seq);
	return run(st, st->q[Q_OB_DONE], "cannot mark an intent done");
}

int store_outbox_load(struct store *st,
		      int (*cb)(void *ctx, __s64 seq, const char *service,
				__u64 rollout_id, const char *intent),
		      void *ctx)
{
	sqlite3_stmt *q = st->q[Q_OB_LOAD];
	int rc, ret = 0;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *svc = (const char *)sqlite3_column_text(q, 1);
		const char *in = (const char *)sqlite3_column_text(q, 3);

		ret = cb(ctx, sqlite3_column_int64(q, 0), svc ? svc : "",
			 (__u64)sqlite3_column_int64(q, 2), in ? in : "");
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = fail(st, "cannot read the outbox");
	sqlite3_reset(q);
	return ret;
}
