// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Asynchronous commands with a timeout: child_spawn, pidfds and stdout
 * pipes on the scheduler (scheduler.h), one timer for the deadlines.
 * A cancelled run reports -ECANCELED at once and goes on the dying list:
 * its group has SIGTERM, then SIGKILL CHILD_GRACE_MS later (the timer),
 * and its leader is reaped after that (its pidfd), never blocking the
 * loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "child.h"
#include "cmdrun.h"
#include "scheduler.h"

extern char **environ;

struct run {
	struct run *next;
	struct cmdrun *c;
	int64_t id;
	pid_t pid;
	int pidfd, outfd;
	bool killed;		/* SIGKILL sent (timeout, or dying's grace over) */
	bool dying;		/* cancelled: on c->dying, SIGTERM sent */
	bool exited;		/* dying: the leader ended (pidfd closed) */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC; dying: when SIGKILL is due */
	struct timespec t0;
	char out[CMD_MAX_OUT + 1];
	size_t len;
	bool truncated;
	cmd_cb cb;
	void *arg;
};

struct cmdrun {
	struct sched *s;
	struct sched *own;	/* cmdrun_new's private scheduler */
	struct sched_timer timer;	/* the earliest deadline */
	unsigned int finished;	/* callbacks run (cmdrun_dispatch's count) */
	int64_t next_id;
	unsigned int pending;
	struct run *runs;
	struct run *dying;	/* cancelled, their groups being stopped */
};

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void on_timer(void *arg);
static void on_out(void *arg, int fd, uint32_t events);
static void on_pid(void *arg, int fd, uint32_t events);

struct cmdrun *cmdrun_new_on(struct sched *s)
{
	struct cmdrun *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->next_id = 1;
	c->s = s;
	sched_timer_init(&c->timer, on_timer, c);
	if (!s && !(c->s = c->own = sched_new())) {
		int err = errno;

		free(c);
		errno = err;
		return NULL;
	}
	return c;
}

struct cmdrun *cmdrun_new(void)
{
	return cmdrun_new_on(NULL);
}

int cmdrun_fd(const struct cmdrun *c)
{
	return sched_fd(c->s);
}

unsigned int cmdrun_pending(const struct cmdrun *c)
{
	return c->pending;
}

/* Arm the timer for the earliest deadline of a run not yet killed. */
static void arm_timer(struct cmdrun *c)
{
	uint64_t min = 0;
	struct run *r;

	for (r = c->runs; r; r = r->next)
		if (!r->killed && (!min || r->deadline_ns < min))
			min = r->deadline_ns;
	for (r = c->dying; r; r = r->next)
		if (!r->killed && (!min || r->deadline_ns < min))
			min = r->deadline_ns;
	if (min)	/* rounded up: the timer never runs before it */
		sched_timer_arm(c->s, &c->timer, (min + 999999) / 1000000);
	else
		sched_timer_stop(c->s, &c->timer);
}

/* Read what the command wrote so far (keep the first CMD_MAX_OUT bytes). */
static void drain(struct run *r)
{
	char buf[4096];
	ssize_t n;

	if (r->outfd < 0)
		return;
	while ((n = read(r->outfd, buf, sizeof(buf))) > 0) {
		size_t room = CMD_MAX_OUT - r->len, k = (size_t)n < room ? (size_t)n : room;

		memcpy(r->out + r->len, buf, k);
		r->len += k;
		if ((size_t)n > k)
			r->truncated = true;
	}
	r->out[r->len] = 0;
}

static void close_fd(struct cmdrun *c, int *fd)
{
	if (*fd >= 0) {
		sched_fd_del(c->s, *fd);
		close(*fd);
		*fd = -1;
	}
}

static void list_del(struct run **pp, struct run *r)
{
	for (; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
}

static void unlink_run(struct cmdrun *c, struct run *r)
{
	list_del(r->dying ? &c->dying : &c->runs, r);
	if (!r->dying)
		c->pending--;
	close_fd(c, &r->pidfd);
	close_fd(c, &r->outfd);
}

/* The process ended: collect its status and report. */
static void finish(struct cmdrun *c, struct run *r)
{
	struct cmd_result res = { .reason = "" };
	char why[96];
	int st;

	drain(r);
	if (waitpid(r->pid, &st, 0) < 0) {
		res.err = -errno;
		snprintf(why, sizeof(why), "cannot collect its exit status: %s",
			 strerror(errno));
		res.reason = why;
	} else if (r->killed) {
		res.err = -ETIMEDOUT;
		res.reason = "timed out (killed)";
	} else if (WIFEXITED(st)) {
		res.exited = true;
		res.status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		res.signal = WTERMSIG(st);
	}
	res.out = r->out;
	res.len = r->len;
	res.truncated = r->truncated;
	res.elapsed_ms = ms_since(&r->t0);
	unlink_run(c, r);
	arm_timer(c);
	if (r->cb)
		r->cb(&res, r->arg);
	free(r);
}

static void kill_run(struct run *r)
{
	kill(-r->pid, SIGKILL);	/* the whole group: shells and their children */
	kill(r->pid, SIGKILL);
	r->killed = true;
}

/* A dying run is over: its group had SIGKILL and its leader ended. */
static void bury(struct cmdrun *c, struct run *r)
{
	waitpid(r->pid, NULL, 0);
	unlink_run(c, r);
	free(r);
}

/* Report -ECANCELED now; stop the group in the background (the timer). */
static void cancel(struct cmdrun *c, struct run *r)
{
	struct cmd_result res = { .err = -ECANCELED, .out = "",
				  .reason = "cancelled" };
	cmd_cb cb = r->cb;

	list_del(&c->runs, r);
	c->pending--;
	close_fd(c, &r->outfd);	/* the pidfd stays: it says when the leader ends */
	kill(-r->pid, SIGTERM);
	r->dying = true;
	r->killed = false;
	r->cb = NULL;
	r->deadline_ns = mono_ns() + CHILD_GRACE_MS * 1000000ull;
	r->next = c->dying;
	c->dying = r;
	arm_timer(c);
	if (cb)
		cb(&res, r->arg);
}

/* A dying run's SIGKILL is due. */
static void finish_dying(struct cmdrun *c, struct run *r)
{
	kill(-r->pid, SIGKILL);	/* the leader is not reaped: the id is ours */
	r->killed = true;
	if (r->exited)
		bury(c, r);
}

void cmdrun_free(struct cmdrun *c)
{
	unsigned int n = 0;
	struct run *r;
	pid_t *pids;
	bool stopped;

	if (!c)
		return;
	while (c->runs)
		cancel(c, c->runs);
	for (r = c->dying; r; r = r->next)
		n++;
	pids = calloc(n ? n : 1, sizeof(*pids));
	stopped = pids;
	n = 0;
	for (r = c->dying; r && pids; r = r->next)
		pids[n++] = r->pid;
	if (stopped)
		child_stop_all(pids, n);	/* a bounded wait: shutdown */
	free(pids);
	while (c->dying) {
		r = c->dying;
		if (!stopped)	/* out of memory: no grace */
			kill(-r->pid, SIGKILL);
		waitpid(r->pid, NULL, stopped ? WNOHANG : 0);
		unlink_run(c, r);
		free(r);
	}
	sched_timer_stop(c->s, &c->timer);
	sched_free(c->own);
	free(c);
}

void cmdrun_cancel(struct cmdrun *c, int64_t id)
{
	struct run *r;

	for (r = c->runs; r; r = r->next)
		if (r->id == id) {
			cancel(c, r);
			return;
		}
}

/* environ with the overrides in env replacing variables of the same name. */
static char **build_env(char *const env[])
{
	size_t n = 0, k = 0, i, j;
	char **out;

	for (i = 0; environ[i]; i++)
		n++;
	for (i = 0; env && env[i]; i++)
		n++;
	out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; environ[i]; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool over = false;

		for (j = 0; env && env[j]; j++)
			if (!strncmp(env[j], environ[i], nl) && env[j][nl] == '=')
				over = true;
		if (!over)
			out[k++] = environ[i];
	}
	for (j = 0; env && env[j]; j++)
		out[k++] = env[j];
	return out;
}

static int spawn(struct run *r, char *const argv[], char *const env[],
		 const char *stdin_text, char *why, size_t whylen)
{
	int out[2] = { -1, -1 }, in[2] = { -1, -1 }, err, fd[3];
	char **envp = NULL;

	if (pipe2(out, O_CLOEXEC) < 0 || (stdin_text && pipe2(in, O_CLOEXEC) < 0)) {
		err = -errno;
		goto out;
	}
	if (stdin_text) {
		size_t len = strlen(stdin_text);

		fcntl(in[1], F_SETFL, O_NONBLOCK);
		if (len && write(in[1], stdin_text, len) != (ssize_t)len) {
			err = -E2BIG;
			snprintf(why, whylen, "stdin text larger than the pipe");
			goto out;
		}
		close(in[1]);
		in[1] = -1;
	}
	envp = build_env(env);
	if (!envp) {
		err = -ENOMEM;
		goto out;
	}
	fd[0] = stdin_text ? in[0] : CHILD_DEVNULL;
	fd[1] = out[1];
	fd[2] = CHILD_INHERIT;	/* stderr: the daemon's log */
	err = child_spawn(&r->pid, argv, envp, fd, why, whylen);
	if (err)
		goto out;
	r->outfd = out[0];
	out[0] = -1;
	fcntl(r->outfd, F_SETFL, O_NONBLOCK);
	r->pidfd = syscall(SYS_pidfd_open, r->pid, 0);
	if (r->pidfd < 0) {
		err = -errno;
		kill(-r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		snprintf(why, whylen, "pidfd_open: %s", strerror(-err));
	}
out:
	free(envp);
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	return err;
}

int64_t cmdrun_start(struct cmdrun *c, char *const argv[], char *const env[],
		     const char *stdin_text, unsigned int timeout_ms,
		     cmd_cb cb, void *arg)
{
	struct run *r;
	char why[160] = "";
	int err;

	if (!argv || !argv[0] || !argv[0][0])
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pidfd = r->outfd = -1;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	err = spawn(r, argv, env, stdin_text, why, sizeof(why));
	if (err) {
		if (r->outfd >= 0)
			close(r->outfd);
		free(r);
		return err;
	}
	r->id = c->next_id++;
	r->c = c;
	r->cb = cb;
	r->arg = arg;
	r->deadline_ns = mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	r->next = c->runs;
	c->runs = r;
	c->pending++;
	sched_fd_set(c->s, r->pidfd, EPOLLIN, on_pid, r);
	sched_fd_set(c->s, r->outfd, EPOLLIN, on_out, r);
	arm_timer(c);
	return r->id;
}

/* The scheduler: deadlines (timeouts; the SIGKILL of a dying group). */
static void on_timer(void *arg)
{
	struct cmdrun *c = arg;
	uint64_t now = mono_ns();
	struct run *r, *next;

	for (r = c->runs; r; r = r->next)
		if (!r->killed && r->deadline_ns <= now)
			kill_run(r);
	for (r = c->dying; r; r = next) {
		next = r->next;
		if (!r->killed && r->deadline_ns <= now)
			finish_dying(c, r);
	}
	arm_timer(c);
}

/* The scheduler: the command wrote (or closed its stdout). */
static void on_out(void *arg, int fd, uint32_t events)
{
	struct run *r = arg;

	drain(r);	/* none when dying: its pipe is closed */
	if (events & (EPOLLHUP | EPOLLERR))
		close_fd(r->c, &r->outfd);
}

/* The scheduler: the leader ended. */
static void on_pid(void *arg, int fd, uint32_t events)
{
	struct run *r = arg;
	struct cmdrun *c = r->c;

	if (r->dying) {
		if (r->killed)
			bury(c, r);
		else	/* kept unreaped until the group's SIGKILL */
			r->exited = true, close_fd(c, &r->pidfd);
		return;
	}
	finish(c, r);
	c->finished++;
}

int cmdrun_dispatch(struct cmdrun *c)
{
	unsigned int before = c->finished, i = 0;
	int err;

	/* what is ready now, also beyond one batch */
	while ((err = sched_dispatch(c->s, 0)) > 0 && ++i < 16)
		;
	if (err < 0)
		return err;
	return c->finished - before;
}
