// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The state database's file: created 0600 whatever the umask (its WAL and
 * SHM too), an empty file refused and left alone, one opener at a time
 * (PATH.lock: the second is refused with the holder's pid), a schema 1 file
 * given the outbox (schema 2), and the outbox's add / load / done.
 * sluice-test: host-only
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "test.h"
#include "store.h"

static char db[64], path[96];

static const char *with(const char *suffix)
{
	snprintf(path, sizeof(path), "%s%s", db, suffix);
	return path;
}

static void rm_all(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", ".lock" };
	unsigned int i;

	for (i = 0; i < 4; i++)
		unlink(with(sfx[i]));
}

static int mode_of(const char *p)
{
	struct stat sb;

	return stat(p, &sb) ? -1 : (int)(sb.st_mode & 0777);
}

static int count(void *ctx, __s64 seq, const char *service, __u64 rid, const char *in)
{
	(void)seq;
	(void)rid;
	if (!strcmp(service, "web") && !strcmp(in, "{\"x\":1}"))
		++*(int *)ctx;
	return 0;
}

int main(void)
{
	struct store *st = NULL, *st2 = NULL;
	char err[512], want[64];
	sqlite3 *raw;
	__s64 seq;
	int fd, n;

	snprintf(db, sizeof(db), "/tmp/test_store_file.%d.db", getpid());
	rm_all();

	subtest("a new database and its WAL and SHM are 0600 under umask 022");
	umask(022);
	if (ASSERT_OK(store_open(db, &st, err, sizeof(err)), err)) {
		ASSERT_EQ(mode_of(db), 0600, "database mode");
		ASSERT_EQ(mode_of(with("-wal")), 0600, "WAL mode");
		ASSERT_EQ(mode_of(with("-shm")), 0600, "SHM mode");
	}

	subtest("a second opener is refused with the holder's pid");
	n = store_open(db, &st2, err, sizeof(err));
	ASSERT_EQ(n, -EBUSY, "second open: -EBUSY");
	snprintf(want, sizeof(want), "pid %d", getpid());
	ASSERT_TRUE(strstr(err, want) != NULL, err);
	store_close(st2);

	subtest("the outbox: add, load, done");
	ASSERT_OK(store_outbox_add(st, "web", 7, 1000, "{\"x\":1}", &seq), "add");
	n = 0;
	ASSERT_OK(store_outbox_load(st, count, &n), "load");
	ASSERT_EQ(n, 1, "one intent");
	ASSERT_OK(store_outbox_done(st, seq), "done");
	n = 0;
	ASSERT_OK(store_outbox_load(st, count, &n), "load again");
	ASSERT_EQ(n, 0, "none left");
	store_close(st);
	st = NULL;

	subtest("after the first closed, the file opens again");
	if (ASSERT_OK(store_open(db, &st, err, sizeof(err)), err))
		store_close(st);
	st = NULL;

	subtest("a schema 1 file gets the outbox");
	if (ASSERT_EQ(sqlite3_open(db, &raw), SQLITE_OK, "raw open")) {
		sqlite3_exec(raw, "DROP TABLE outbox; UPDATE meta SET value='1' WHERE key='schema'",
			     NULL, NULL, NULL);
		sqlite3_close(raw);
	}
	if (ASSERT_OK(store_open(db, &st, err, sizeof(err)), err)) {
		ASSERT_OK(store_outbox_add(st, "web", 7, 1000, "{\"x\":1}", &seq), "add after migration");
		store_close(st);
		st = NULL;
	}
	if (ASSERT_EQ(sqlite3_open(db, &raw), SQLITE_OK, "raw open")) {
		sqlite3_stmt *q;

		sqlite3_prepare_v2(raw, "SELECT value FROM meta WHERE key='schema'", -1, &q, NULL);
		ASSERT_TRUE(sqlite3_step(q) == SQLITE_ROW &&
			    !strcmp((const char *)sqlite3_column_text(q, 0), "2"), "schema is 2");
		sqlite3_finalize(q);
		sqlite3_close(raw);
	}

	subtest("an empty file is refused and left empty");
	rm_all();
	fd = open(db, O_CREAT | O_WRONLY, 0644);
	close(fd);
	n = store_open(db, &st, err, sizeof(err));
	ASSERT_TRUE(n < 0, "refused");
	ASSERT_TRUE(strstr(err, "empty") != NULL, err);
	{
		struct stat sb;

		ASSERT_TRUE(!stat(db, &sb) && sb.st_size == 0, "still 0 bytes");
	}
	ASSERT_TRUE(access(with("-wal"), F_OK) < 0, "no WAL made");
	rm_all();
	return t_done();
}
