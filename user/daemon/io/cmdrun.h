/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Run commands without blocking sluiced: command gates, the pre-step hook,
 * notification commands. Each command is spawned in its own process group
 * (child.h: with a death signal) with a timeout (the group is killed with
 * SIGKILL at it), stdin from a given text (or /dev/null), stdout captured
 * up to CMD_MAX_OUT bytes, stderr inherited (the daemon's log). A
 * cancelled one is stopped in the background: SIGTERM to its group,
 * SIGKILL CHILD_GRACE_MS later, then reaped. Like httpc, the runner
 * registers its pidfds, stdout pipes and one timer on a scheduler
 * (scheduler.h): the daemon's loop (cmdrun_new_on), or a private one
 * exposed as one fd (cmdrun_new; cmdrun_dispatch drives it).
 */
#ifndef SLUICED_CMDRUN_H
#define SLUICED_CMDRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_MAX_OUT	4096

struct cmdrun;

struct cmd_result {
	int err;		/* 0: it ran and ended; -ETIMEDOUT: killed at
				 * the timeout; -ECANCELED; other -errno: it
				 * could not be started (see reason) */
	bool exited;		/* exit status in status */
	int status;		/* exit status (exited) */
	int signal;		/* killing signal (!exited, err 0) */
	const char *out;	/* stdout, NUL-terminated */
	size_t len;
	bool truncated;		/* more than CMD_MAX_OUT bytes were written */
	double elapsed_ms;
	const char *reason;	/* a sentence for err, or "" */
};

typedef void (*cmd_cb)(const struct cmd_result *r, void *arg);

struct sched;
struct cmdrun *cmdrun_new_on(struct sched *s);
struct cmdrun *cmdrun_new(void);	/* on a private scheduler */
/* Stops what still runs (its callbacks see -ECANCELED; SIGTERM, at most
 * CHILD_GRACE_MS, SIGKILL: a bounded wait, for shutdown), then frees. */
void cmdrun_free(struct cmdrun *c);
int cmdrun_fd(const struct cmdrun *c);
int cmdrun_dispatch(struct cmdrun *c);
unsigned int cmdrun_pending(const struct cmdrun *c);

/*
 * Start argv (argv[0] a path, or a name looked up in PATH) with the
 * daemon's environment plus env ("NAME=value" strings, NULL-terminated;
 * they override), stdin_text on stdin (NULL: /dev/null; at most 64 KiB).
 * cb runs exactly once from cmdrun_dispatch (or with -ECANCELED from
 * cmdrun_cancel/cmdrun_free). Returns an id > 0 or -errno (with the cb not
 * called: the caller reports the failure).
 */
int64_t cmdrun_start(struct cmdrun *c, char *const argv[], char *const env[],
		     const char *stdin_text, unsigned int timeout_ms,
		     cmd_cb cb, void *arg);
void cmdrun_cancel(struct cmdrun *c, int64_t id);

#endif
