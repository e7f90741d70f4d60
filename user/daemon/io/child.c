// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Starting and stopping sluiced's children (child.h). posix_spawn cannot
 * set a death signal, so the child is started the way glibc's posix_spawn
 * starts it, clone(CLONE_VM | CLONE_VFORK) on a stack of its own, with
 * prctl(PR_SET_PDEATHSIG) added: the child runs only system calls in the
 * parent's memory until it execs (the parent is suspended meanwhile), and
 * all signals stay blocked until their handlers are reset to the default.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "child.h"

#define STACK_SIZE	(64 * 1024)

struct args {
	const char *path;
	char *const *argv, *const *envp;
	int fd[3];
	pid_t parent;
	int err;		/* set by the child when it cannot exec */
};

/* In the child: system calls only (it shares the parent's memory);
 * uninstrumented, like glibc's own spawn child. */
__attribute__((no_sanitize_address))
static int child_main(void *p)
{
	struct args *a = p;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int i, src[3];
	sigset_t none;

	for (i = 1; i < _NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			sigaction(i, &dfl, NULL);	/* 32, 33: EINVAL, harmless */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent)
		goto fail;	/* sluiced died before the death signal was set */
	if (setpgid(0, 0) < 0)
		goto fail;
	/* sources above 2 first, so no dup2 overwrites another's source */
	for (i = 0; i < 3; i++) {
		src[i] = a->fd[i];
		if (src[i] == CHILD_DEVNULL)
			src[i] = open("/dev/null", i ? O_WRONLY : O_RDONLY);
		if (src[i] >= 0 && src[i] < 3)
			src[i] = fcntl(src[i], F_DUPFD, 3);
		if (src[i] == -1)
			goto fail;
	}
	for (i = 0; i < 3; i++)
		if (src[i] >= 0 && dup2(src[i], i) < 0)
			goto fail;
	if (syscall(SYS_close_range, 3, ~0u, 0) < 0)
		for (i = 3; i < 1024; i++)
			close(i);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(a->path, a->argv, a->envp);
fail:
	a->err = errno ? errno : EINVAL;
	_exit(127);
}

/* argv[0] through PATH, as execvp would find it. */
static int lookup(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;
	int err = ENOENT;

	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return 0;
	}
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; ; p = e + 1) {
		e = strchrnul(p, ':');
		if ((size_t)snprintf(buf, len, "%.*s%s%s", (int)(e - p), p,
				     e > p ? "/" : "", name) < len) {
			if (!access(buf, X_OK))
				return 0;
			if (errno == EACCES)
				err = EACCES;
		}
		if (!*e)
			return -err;
	}
}

int child_spawn(pid_t *pid, char *const argv[], char *const envp[],
		const int fd[3], char *why, size_t whylen)
{
	struct args a = { .argv = argv, .envp = envp, .parent = getpid() };
	char path[4096], *stack;
	sigset_t all, old;
	int err;

	memcpy(a.fd, fd, sizeof(a.fd));
	err = lookup(argv[0], path, sizeof(path));
	if (err) {
		snprintf(why, whylen, "cannot run %s: %s", argv[0], strerror(-err));
		return err;
	}
	a.path = path;
	stack = malloc(STACK_SIZE);
	if (!stack) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* no handler may run in the child while it shares our memory */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	*pid = clone(child_main, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	err = *pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(stack);
	if (!err && a.err) {	/* it could not exec: it has exited */
		waitpid(*pid, NULL, 0);
		err = -a.err;
	}
	if (err)
		snprintf(why, whylen, "cannot run %s: %s", argv[0], strerror(-err));
	return err;
}

static unsigned long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000ull + t.tv_nsec / 1000000;
}

/* The leader has exited (a zombie still: not reaped, its group id held). */
static bool ended(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid;
}

void child_stop_all(const pid_t *pid, unsigned int n)
{
	struct timespec tick = { 0, 10 * 1000000 };
	unsigned long long end = mono_ms() + CHILD_GRACE_MS;
	unsigned int i, left;

	for (i = 0; i < n; i++)
		kill(-pid[i], SIGTERM);
	do {
		for (i = 0, left = 0; i < n; i++)
			left += !ended(pid[i]);
		if (left)
			nanosleep(&tick, NULL);
	} while (left && mono_ms() < end);
	for (i = 0; i < n; i++)
		kill(-pid[i], SIGKILL);	/* stragglers: the leaders still hold the id */
	/* reap; a child stuck in the kernel (D state) is left to init */
	end = mono_ms() + CHILD_GRACE_MS;
	do {
		for (i = 0, left = 0; i < n; i++)
			if (pid[i] > 0 && waitpid(pid[i], NULL, WNOHANG) == 0)
				left++;
		if (left)
			nanosleep(&tick, NULL);
	} while (left && mono_ms() < end);
}
