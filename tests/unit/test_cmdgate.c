// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Command gates: real commands run through the asynchronous runner: pass,
 * fail, a hang killed at its timeout (with its children), garbage on
 * stdout, a crash, a missing program; the environment a gate sees; a slow
 * command never holds up a fast one. Stopping (issue 19): a cancel reports
 * at once and does not wait; the group gets SIGTERM first (a command may
 * clean up), SIGKILL when it ignores it, its children included, and the
 * leader is reaped; cmdrun_free stops and reaps what runs; a command
 * whose runner's process dies without stopping it (kill -9) is killed by
 * the kernel (PR_SET_PDEATHSIG), its own children are not (the limit).
 * sluice-test: host-only
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "command_gate.h"

struct got {
	int done, order;
	struct cmd_result r;
	char out[CMD_MAX_OUT + 1];
};
static int order;

static void on_done(const struct cmd_result *r, void *arg)
{
	struct got *g = arg;

	g->r = *r;
	memcpy(g->out, r->out, r->len + 1);
	g->r.out = g->out;
	g->done = 1;
	g->order = ++order;
}

static void run_until(struct cmdrun *c, struct got *g, int n, int max_ms)
{
	int ep = epoll_create1(0), i, left;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct timespec t0, t;

	epoll_ctl(ep, EPOLL_CTL_ADD, cmdrun_fd(c), &ev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (left = 0, i = 0; i < n; i++)
			left += !g[i].done;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!left || (t.tv_sec - t0.tv_sec) * 1000 +
				     (t.tv_nsec - t0.tv_nsec) / 1000000 > max_ms)
			break;
		epoll_wait(ep, &out, 1, 100);
		cmdrun_dispatch(c);
	}
	close(ep);
}

/* Run one shell snippet to completion and interpret it. */
static void sh(struct cmdrun *c, const char *script, enum cmdgate_mode mode,
	       unsigned int timeout_ms, struct got *g, struct cmdgate_out *o)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	int64_t id;

	memset(g, 0, sizeof(*g));
	id = cmdrun_start(c, argv, NULL, NULL, timeout_ms, on_done, g);
	if (!ASSERT_TRUE(id > 0, script))
		return;
	run_until(c, g, 1, 10000);
	ASSERT_TRUE(g->done, "command finished");
	cmdgate_interpret(&g->r, mode, o);
}

struct vcase {
	const char *what, *script;
	enum cmdgate_mode mode;
	int err;
	int pass;
	double value;
	const char *reason;
};

static const struct vcase vcases[] = {
	{ "exit 0 passes", "exit 0", CMDGATE_EXIT, 0, 1, 0, "exit status 0" },
	{ "exit 1 fails", "exit 1", CMDGATE_EXIT, 0, 0, 0, "exit status 1" },
	{ "exit 2 is an error", "exit 2", CMDGATE_EXIT, -EPROTO, 0, 0, "exit status 2" },
	{ "not found (127) is an error", "/nonexistent/gate", CMDGATE_EXIT, -EPROTO, 0, 0,
	  "exit status 127" },
	{ "crash is an error", "kill -SEGV $$", CMDGATE_EXIT, -ECHILD, 0, 0, "signal 11" },
	{ "a number", "echo 0.25", CMDGATE_VALUE, 0, 0, 0.25, "value 0.25" },
	{ "a number with spaces", "printf '  7e-3 \\n\\n'", CMDGATE_VALUE, 0, 0, 0.007, "value" },
	{ "garbage", "echo hello", CMDGATE_VALUE, -EBADMSG, 0, 0, "not a number" },
	{ "two numbers", "echo 1 2", CMDGATE_VALUE, -EBADMSG, 0, 0, "more than one" },
	{ "number then junk", "echo 0.5%", CMDGATE_VALUE, -EBADMSG, 0, 0, "more than one" },
	{ "empty stdout", "true", CMDGATE_VALUE, -EBADMSG, 0, 0, "not a number" },
	{ "NaN", "echo nan", CMDGATE_VALUE, -EDOM, 0, 0, "NaN" },
	{ "infinity", "echo inf", CMDGATE_VALUE, -EDOM, 0, 0, "infinite" },
	{ "value but exit 1", "echo 0.1; exit 1", CMDGATE_VALUE, -EPROTO, 0, 0, "must exit 0" },
	{ "value crash", "echo 0.1; kill -KILL $$", CMDGATE_VALUE, -ECHILD, 0, 0, "signal 9" },
	{ "endless output", "yes 1", CMDGATE_VALUE, -EBADMSG, 0, 0, "longer than a number" },
};

static void test_verdicts(struct cmdrun *c)
{
	char what[300];
	struct cmdgate_out o;
	struct got g;
	unsigned int i;

	subtest("verdicts: exit status and a number on stdout; garbage and crashes are errors");
	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *v = &vcases[i];

		/* `yes` is killed by SIGPIPE once we stop reading? no: we keep
		 * reading and discarding, so bound it with a timeout instead */
		sh(c, strcmp(v->what, "endless output") ? v->script : "yes 1 | head -c 100000",
		   v->mode, 5000, &g, &o);
		snprintf(what, sizeof(what), "%s: err (%s)", v->what, o.reason);
		ASSERT_EQ(o.err, v->err, what);
		if (!v->err && v->mode == CMDGATE_EXIT) {
			snprintf(what, sizeof(what), "%s: verdict", v->what);
			ASSERT_EQ(o.pass, v->pass, what);
		}
		if (!v->err && v->mode == CMDGATE_VALUE) {
			snprintf(what, sizeof(what), "%s: value", v->what);
			ASSERT_RANGE(o.value, v->value, v->value, what);
		}
		snprintf(what, sizeof(what), "%s: reason \"%s\" has \"%s\"", v->what,
			 o.reason, v->reason);
		ASSERT_TRUE(strstr(o.reason, v->reason), what);
	}
}

/* Dead: no such process, or a zombie nobody reaped yet (a container's
 * init may not reap orphans). */
static bool gone(int pid)
{
	char path[64], st[512], *p;
	FILE *f;
	bool z = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fgets(st, sizeof(st), f) && (p = strrchr(st, ')')))
		z = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	fclose(f);
	return z;
}

static void test_hang(struct cmdrun *c)
{
	char pidfile[64], script[200];
	struct cmdgate_out o;
	struct got g;
	FILE *f;
	int child = 0;

	subtest("a hanging command is killed at its timeout, with its children");
	snprintf(pidfile, sizeof(pidfile), "/tmp/sluice-cmdgate-%d.pid", getpid());
	snprintf(script, sizeof(script), "sleep 60 & echo $! > %s; wait", pidfile);
	sh(c, script, CMDGATE_EXIT, 300, &g, &o);
	ASSERT_EQ(g.r.err, -ETIMEDOUT, "run reports the timeout");
	ASSERT_EQ(o.err, -ETIMEDOUT, "a timeout is an error, not a verdict");
	ASSERT_TRUE(strstr(o.reason, "timed out"), "reason says timed out");
	ASSERT_RANGE(g.r.elapsed_ms, 250, 3000, "killed at about 300 ms");
	f = fopen(pidfile, "r");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	unlink(pidfile);
	ASSERT_TRUE(child > 0, "the script's child started");
	usleep(100 * 1000);
	ASSERT_TRUE(child > 0 && gone(child),
		    "the script's child was killed too (process group)");
}

static void test_env_and_stdin(struct cmdrun *c)
{
	char buf[1024], *env[7];
	char *argv[] = { "/bin/sh", "-c",
			 "read x; echo \"$SLUICE_SERVICE $SLUICE_VARIANT $SLUICE_RING "
			 "$SLUICE_STEP $SLUICE_GATE $x $HOME\"", NULL };
	char want[256];
	struct got g = { 0 };

	subtest("environment and stdin");
	cmdgate_env(buf, env, "web", "canary", "early", 2, "errors");
	setenv("SLUICE_SERVICE", "from-daemon", 1);
	ASSERT_TRUE(cmdrun_start(c, argv, env, "hello\n", 5000, on_done, &g) > 0,
		    "started with env and stdin");
	run_until(c, &g, 1, 5000);
	snprintf(want, sizeof(want), "web canary early 2 errors hello %s\n",
		 getenv("HOME") ? getenv("HOME") : "");
	ASSERT_TRUE(g.done && g.r.exited && !strcmp(g.out, want),
		    "gate sees service, variant, ring, step, gate, stdin and the daemon's env");
	if (strcmp(g.out, want))
		fprintf(stderr, "    got \"%s\" want \"%s\"\n", g.out, want);
	unsetenv("SLUICE_SERVICE");
}

static void test_concurrent(struct cmdrun *c)
{
	char *slow[] = { "/bin/sh", "-c", "sleep 2; echo slow", NULL };
	char *fast[] = { "/bin/sh", "-c", "echo fast", NULL };
	char *missing[] = { "/nonexistent/sluice-gate", NULL };
	struct got g[2];

	subtest("a slow command does not hold up a fast one; cancel; spawn failure");
	memset(g, 0, sizeof(g));
	cmdrun_start(c, slow, NULL, NULL, 10000, on_done, &g[0]);
	cmdrun_start(c, fast, NULL, NULL, 10000, on_done, &g[1]);
	run_until(c, g + 1, 1, 5000);
	ASSERT_TRUE(g[1].done && !g[0].done, "fast finished while slow still runs");
	ASSERT_EQ(cmdrun_pending(c), 1, "one still pending");
	cmdrun_cancel(c, 1);	/* ids start at 1 in a fresh runner: not this one */
	cmdrun_free(c);		/* kills the slow one: -ECANCELED */
	ASSERT_TRUE(g[0].done && g[0].r.err == -ECANCELED, "free cancels what runs");
	c = cmdrun_new();
	ASSERT_EQ(cmdrun_start(c, missing, NULL, NULL, 1000, on_done, &g[0]), -ENOENT,
		  "a missing program fails to start with ENOENT");
	cmdrun_free(c);
}

/* gone: no such process, or a zombie (reaped by someone else's wait) */
static bool pid_dead(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return !p || p[2] == 'Z';
}

/* Read "PID [PID]" a command wrote to path (waiting up to 5 s, running c). */
static int read_pids(struct cmdrun *c, const char *path, pid_t pid[2])
{
	struct got none = { 0 };
	int n = 0;

	for (int i = 0; i < 50 && n < 2; i++) {
		FILE *f = fopen(path, "r");
		int a = 0, b = 0;

		if (f) {
			n = fscanf(f, "%d %d", &a, &b);
			fclose(f);
			pid[0] = a;
			pid[1] = b;
			if (n == 2)
				break;
		}
		if (c)
			run_until(c, &none, 1, 100);
		else
			usleep(100 * 1000);
	}
	return n;
}

/* Run c until pid is gone (at most 10 s): reaped (our child: the runner
 * waits for it) or dead (a grandchild: init reaps it). */
static bool run_until_dead(struct cmdrun *c, pid_t pid, bool reaped)
{
	struct got none = { 0 };
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	for (int i = 0; i < 100 && (reaped ? !access(path, F_OK) : !pid_dead(pid)); i++)
		run_until(c, &none, 1, 100);
	return reaped ? access(path, F_OK) < 0 : pid_dead(pid);
}

static void test_stop(void)
{
	char dir[] = "/tmp/sluice-cmdgate.XXXXXX", f1[64], f2[64], s1[512], s2[512];
	char *graceful[] = { "/bin/sh", "-c", s1, NULL };
	char *stubborn[] = { "/bin/sh", "-c", s2, NULL };
	struct cmdrun *c = cmdrun_new();
	struct got g[2];
	pid_t p1[2] = { 0 }, p2[2] = { 0 };
	int64_t id;

	subtest("cancel: at once, SIGTERM first, SIGKILL when ignored, group and all, reaped");
	if (!ASSERT_TRUE(c && mkdtemp(dir), "runner and a directory"))
		return;
	snprintf(f1, sizeof(f1), "%s/graceful", dir);
	snprintf(f2, sizeof(f2), "%s/stubborn", dir);
	/* records SIGTERM and ends; its child sleeps (a grandchild of ours) */
	snprintf(s1, sizeof(s1), "trap 'echo term >> %s.term; exit 0' TERM; sleep 30 & "
		 "echo $$ $! > %s.tmp; mv %s.tmp %s; wait", f1, f1, f1, f1);
	/* ignores SIGTERM, and so does its child */
	snprintf(s2, sizeof(s2), "trap '' TERM; sleep 30 & echo $$ $! > %s.tmp; mv %s.tmp %s; wait",
		 f2, f2, f2);
	memset(g, 0, sizeof(g));
	id = cmdrun_start(c, graceful, NULL, NULL, 60000, on_done, &g[0]);
	ASSERT_TRUE(id > 0, "graceful started");
	ASSERT_EQ(read_pids(c, f1, p1), 2, "graceful: its pid and its child's");
	cmdrun_cancel(c, id);
	ASSERT_TRUE(g[0].done && g[0].r.err == -ECANCELED, "cancel reports -ECANCELED at once");
	ASSERT_EQ(cmdrun_pending(c), 0, "nothing pending after the cancel");
	ASSERT_TRUE(run_until_dead(c, p1[0], true), "graceful: the shell ended and was reaped");
	ASSERT_TRUE(run_until_dead(c, p1[1], false), "graceful: its child ended too");
	{
		char t[80], got[16] = "";
		FILE *f;

		snprintf(t, sizeof(t), "%s.term", f1);
		f = fopen(t, "r");
		if (f) {
			if (!fgets(got, sizeof(got), f))
				got[0] = 0;
			fclose(f);
		}
		ASSERT_TRUE(!strcmp(got, "term\n"), "graceful: it saw SIGTERM (a chance to clean up)");
	}
	ASSERT_TRUE(waitpid(p1[0], NULL, WNOHANG) < 0 && errno == ECHILD,
		    "graceful: no zombie left to reap");

	id = cmdrun_start(c, stubborn, NULL, NULL, 60000, on_done, &g[1]);
	ASSERT_TRUE(id > 0, "stubborn started");
	ASSERT_EQ(read_pids(c, f2, p2), 2, "stubborn: its pid and its child's");
	cmdrun_cancel(c, id);
	ASSERT_TRUE(g[1].done && g[1].r.err == -ECANCELED, "cancel reports -ECANCELED at once");
	ASSERT_TRUE(!pid_dead(p2[0]) && !pid_dead(p2[1]),
		    "stubborn: the cancel did not wait for it (SIGKILL comes from the loop)");
	ASSERT_TRUE(run_until_dead(c, p2[0], true), "stubborn: killed after the grace and reaped");
	ASSERT_TRUE(run_until_dead(c, p2[1], false), "stubborn: its child killed too");
	ASSERT_TRUE(waitpid(p2[0], NULL, WNOHANG) < 0 && errno == ECHILD,
		    "stubborn: no zombie left to reap");

	subtest("free stops and reaps what runs, a stubborn one included");
	unlink(f2);
	memset(g, 0, sizeof(g));
	id = cmdrun_start(c, stubborn, NULL, NULL, 60000, on_done, &g[0]);
	ASSERT_EQ(read_pids(c, f2, p2), 2, "stubborn again");
	cmdrun_free(c);
	ASSERT_TRUE(g[0].done && g[0].r.err == -ECANCELED, "free reports -ECANCELED");
	ASSERT_TRUE(waitpid(p2[0], NULL, WNOHANG) < 0 && errno == ECHILD && pid_dead(p2[0]),
		    "free: the shell is dead and reaped");
	for (int i = 0; i < 50 && !pid_dead(p2[1]); i++)
		usleep(100 * 1000);
	ASSERT_TRUE(pid_dead(p2[1]), "free: its child is dead");

	subtest("kill -9 of the runner's process: the kernel kills its children");
	unlink(f2);
	{
		pid_t runner = fork();

		if (runner == 0) {
			struct cmdrun *r = cmdrun_new();

			if (!r || cmdrun_start(r, stubborn, NULL, NULL, 60000, on_done, &g[0]) <= 0)
				_exit(1);
			read_pids(NULL, f2, p2);
			pause();	/* until SIGKILL: nothing stops the command */
			_exit(0);
		}
		ASSERT_EQ(read_pids(NULL, f2, p2), 2, "the runner's command runs");
		kill(runner, SIGKILL);
		waitpid(runner, NULL, 0);
		for (int i = 0; i < 50 && !pid_dead(p2[0]); i++)
			usleep(100 * 1000);
		ASSERT_TRUE(pid_dead(p2[0]), "its direct child died with it (PR_SET_PDEATHSIG)");
		printf("    the limit: its grandchild %s\n",
		       pid_dead(p2[1]) ? "died too" : "outlives it (a service manager's job)");
		if (p2[0] > 0)
			kill(-p2[0], SIGKILL);	/* what is left of that group */
	}
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "    cannot remove %s\n", dir);
	}
}

int main(void)
{
	struct cmdrun *c = cmdrun_new();

	if (!c)
		return 1;
	signal(SIGPIPE, SIG_IGN);	/* like the daemon; children get the default */
	test_verdicts(c);
	test_hang(c);
	test_env_and_stdin(c);
	test_concurrent(c);	/* frees c */
	test_stop();
	return t_done();
}
