/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's children (command gates, the pre-step hook, notification and
 * health-check commands): how one is started and how it is stopped.
 *
 * Started: in a process group of its own (so the group, shells and what
 * they started, is stopped as one), all signals default and unblocked,
 * fds 0-2 as asked and nothing else open, and PR_SET_PDEATHSIG(SIGKILL):
 * if sluiced dies without stopping it (kill -9, a crash) the kernel kills
 * it. The limit: the death signal is not inherited across fork, so what a
 * child started itself (`sh -c 'a; b'` runs a and b as its children)
 * outlives a kill -9 of sluiced; the normal paths kill the whole group,
 * and a service manager's stop (systemd kills the unit's control group)
 * covers the crash. The signal follows the thread that spawned the child:
 * spawn from the loop's thread, which lives as long as sluiced.
 *
 * Stopped: SIGTERM to the group, CHILD_GRACE_MS for it to end, SIGKILL to
 * the group (whatever ignored SIGTERM, a straggler whose leader exited),
 * then the leader reaped. The leader is reaped only after that SIGKILL, so
 * its pid, which is the group's id, cannot be reused by an unrelated
 * process meanwhile.
 */
#ifndef SLUICED_CHILD_H
#define SLUICED_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#define CHILD_GRACE_MS	1000

#define CHILD_DEVNULL	(-1)	/* child_spawn's fd: /dev/null */
#define CHILD_INHERIT	(-2)	/* child_spawn's fd: sluiced's own */

/*
 * Start argv (argv[0] a path, or a name looked up in PATH) with envp as
 * its environment; fd[i] (or CHILD_DEVNULL, CHILD_INHERIT) becomes its
 * fd i. Returns 0 with *pid set, or -errno (exec failures included: the
 * child reports them before the call returns); why gets a sentence.
 */
int child_spawn(pid_t *pid, char *const argv[], char *const envp[],
		const int fd[3], char *why, size_t whylen);

/*
 * Stop n groups (their leaders not reaped yet) and reap the leaders:
 * SIGTERM, at most CHILD_GRACE_MS for the leaders to end, SIGKILL, at
 * most CHILD_GRACE_MS more to reap them (one stuck in the kernel is left
 * to init). Blocks: for the daemon's shutdown; the loop stops a child
 * with SIGTERM, a timer and its pidfd instead (cmdrun.c).
 */
void child_stop_all(const pid_t *pid, unsigned int n);

#endif
