// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The health checker against real TCP listeners on loopback: accepting,
 * refusing, accepting then resetting, HTTP 200 and 500, a server that
 * never answers (timeouts), a listener whose queue is full (connect
 * timeout), commands (exit status, environment, a command killed at its
 * timeout, commands in flight stopped by hc_free: SIGTERM to the group
 * first, SIGKILL when ignored, reaped); rise/fall damping, flapping, the start state, the in-flight
 * bound, and targets kept across hc_set_targets. Bounds on time are
 * generous (seconds for checks of 100 ms): nothing depends on speed.
 * sluice-test: host-only
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "test.h"
#include "prober.h"
#include "cmdrun.h"
#include "httpc.h"
#include "scheduler.h"

static char g_pidfile[96];

static bool pidfile_there(struct hc *hc)
{
	(void)hc;
	return access(g_pidfile, F_OK) == 0;
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

/* ---- a small server on loopback ------------------------------------------- */

enum srv_kind { SRV_HTTP, SRV_RESET, SRV_SILENT };

struct srv {
	int lfd;
	__u16 port;
	enum srv_kind kind;
	volatile int stop;
	pthread_t th;
};

static int listen_on(__u16 *port, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (backlog >= 0 && listen(fd, backlog) < 0))
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

/* HTTP: GET /ok -> 200, /host with the right Host -> 204, else 500. */
static void serve_http(int c)
{
	char req[2048];
	size_t n = 0;
	ssize_t k;
	const char *rsp;

	while (n < sizeof(req) - 1 && (k = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
		n += k;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
	if (!strncmp(req, "GET /ok", 7))
		rsp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	else if (!strncmp(req, "GET /host", 9) && strstr(req, "\r\nHost: svc.example\r\n"))
		rsp = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	else
		rsp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
		      "Connection: close\r\n\r\nfail";
	if (write(c, rsp, strlen(rsp)) < 0)
		return;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	while (!s->stop) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		struct linger lg = { 1, 0 };
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->lfd, NULL, NULL);
		if (c < 0)
			continue;
		if (s->kind == SRV_RESET)
			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		else if (s->kind == SRV_HTTP)
			serve_http(c);
		else
			sleep(3);
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s, enum srv_kind kind)
{
	s->kind = kind;
	s->lfd = listen_on(&s->port, 64);
	pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* ---- driving the checker ---------------------------------------------------- */

struct seen {
	int down, up, flapping, stable;
	struct hc_status at_down, at_up;
};
static struct seen seen[16];

static void on_change(void *arg, const struct hc_target *t,
		      const struct hc_status *st, enum hc_event ev)
{
	struct seen *s = &seen[t->be_port % 16];

	switch (ev) {
	case HC_EV_DOWN: s->down++; s->at_down = *st; break;
	case HC_EV_UP: s->up++; s->at_up = *st; break;
	case HC_EV_FLAPPING: s->flapping++; break;
	case HC_EV_STABLE: s->stable++; break;
	}
}

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop as sluiced would until cond() holds or limit_ms pass. */
static bool run_until(struct hc *hc, bool (*cond)(struct hc *), __u64 limit_ms)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	__u64 end = mono_ms() + limit_ms;
	bool ok = false;

	epoll_ctl(ep, EPOLL_CTL_ADD, hc_fd(hc), &ev);
	while (!(ok = cond(hc)) && mono_ms() < end) {
		int to = hc_timeout_ms(hc);

		epoll_wait(ep, &ev, 1, to < 0 || to > 100 ? 100 : to);
		hc_dispatch(hc);
	}
	close(ep);
	return ok;
}

static struct hc_target tgt(__u16 port, __u8 type, int tag)
{
	struct hc_target t = {};

	snprintf(t.service, sizeof(t.service), "svc");
	t.be_family = t.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", t.be_addr.bytes);
	t.addr = t.be_addr;
	t.be_port = tag;	/* identifies the target in seen[] */
	t.port = port;
	t.check.type = type;
	t.check.interval_ms = 100;
	t.check.timeout_ms = 300;
	t.check.rise = 2;
	t.check.fall = 3;
	t.check.nexpect = 1;
	t.check.expect[0] = 200;
	return t;
}

static struct hc *g_hc;
static unsigned int g_idx;
static __u64 g_checks;

static struct hc_status st_of(struct hc *hc, unsigned int i)
{
	struct hc_status st = {};

	hc_status_at(hc, i, &st);
	return st;
}

static bool all_checked_twice(struct hc *hc)
{
	unsigned int i;

	for (i = 0; i < hc_count(hc); i++)
		if (st_of(hc, i).checks < g_checks)
			return false;
	return true;
}

static bool idx_down(struct hc *hc) { return st_of(hc, g_idx).down; }
static bool idx_up(struct hc *hc) { return !st_of(hc, g_idx).down; }
static bool idx_flapping(struct hc *hc) { return seen[g_idx].flapping > 0; }

int main(void)
{
	struct hc_opts o = { .cb = on_change, .flap_count = 4, .flap_window_ms = 60000 };
	struct srv http, rst, silent;
	struct hc_target t[16];
	struct hc_status st;
	char err[256], tmp[64], cmd[256];
	__u16 refused_port, full_port;
	int refused_fd, full_fd, fill[4], i, n = 0;
	struct hc *hc;

	signal(SIGPIPE, SIG_IGN);
	srv_start(&http, SRV_HTTP);
	srv_start(&rst, SRV_RESET);
	srv_start(&silent, SRV_SILENT);
	refused_fd = listen_on(&refused_port, -1);	/* bound, not listening */
	/* a listener whose accept queue is full: further SYNs are dropped */
	full_fd = listen_on(&full_port, 0);
	for (i = 0; i < 4; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(full_port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(200000);
	snprintf(tmp, sizeof(tmp), "/tmp/test_hcheck.%d", getpid());

	hc = hc_new(&o, err, sizeof(err));
	if (!ASSERT_TRUE(hc != NULL, "checker created"))
		return t_done();
	g_hc = hc;

	subtest("one probe of each kind: the documented verdicts");
	t[n++] = tgt(http.port, SLUICE_CHECK_TCP, 0);		/* 0 accepting */
	t[n++] = tgt(refused_port, SLUICE_CHECK_TCP, 1);	/* 1 refused */
	t[n++] = tgt(rst.port, SLUICE_CHECK_TCP, 2);		/* 2 accept+reset */
	t[n] = tgt(http.port, SLUICE_CHECK_HTTP, 3);		/* 3 HTTP 200 */
	snprintf(t[n++].check.path, sizeof(t[0].check.path), "/ok");
	t[n] = tgt(http.port, SLUICE_CHECK_HTTP, 4);		/* 4 HTTP 500 */
	snprintf(t[n++].check.path, sizeof(t[0].check.path), "/fail");
	t[n] = tgt(silent.port, SLUICE_CHECK_HTTP, 5);		/* 5 never answers */
	snprintf(t[n++].check.path, sizeof(t[0].check.path), "/ok");
	t[n] = tgt(rst.port, SLUICE_CHECK_HTTP, 6);		/* 6 http, reset */
	snprintf(t[n++].check.path, sizeof(t[0].check.path), "/ok");
	t[n++] = tgt(full_port, SLUICE_CHECK_TCP, 7);		/* 7 SYN dropped */
	t[n] = tgt(0, SLUICE_CHECK_COMMAND, 8);			/* 8 exit 0 + env */
	snprintf(t[n].check.command, sizeof(t[0].check.command),
		 "test \"$SLUICE_SERVICE/$SLUICE_POOL/$SLUICE_BACKEND_ADDRESS/$SLUICE_BACKEND_PORT\" = svc/baseline/127.0.0.1/8");
	n++;
	t[n] = tgt(0, SLUICE_CHECK_COMMAND, 9);			/* 9 exit 3 */
	snprintf(t[n++].check.command, sizeof(t[0].check.command), "exit 3");
	t[n] = tgt(0, SLUICE_CHECK_COMMAND, 10);		/* 10 hangs */
	snprintf(t[n++].check.command, sizeof(t[0].check.command), "sleep 30");
	t[n] = tgt(http.port, SLUICE_CHECK_HTTP, 11);		/* 11 Host header */
	snprintf(t[n].check.path, sizeof(t[0].check.path), "/host");
	snprintf(t[n].check.host, sizeof(t[0].check.host), "svc.example");
	t[n].check.expect[t[n].check.nexpect++] = 204;
	n++;
	ASSERT_OK(hc_set_targets(hc, t, n), "12 targets");
	g_checks = 4;
	ASSERT_TRUE(run_until(hc, all_checked_twice, 20000), "every target checked 4 times");
	{
		static const struct { int ok; const char *reason; const char *what; } want[] = {
			{ 1, "ok", "tcp to a listener: up" },
			{ 0, "connection refused", "tcp to a closed port: refused" },
			{ 1, "ok", "tcp to a server that accepts then resets: up (documented)" },
			{ 1, "ok", "http 200: up" },
			{ 0, "HTTP 500", "http 500: down" },
			{ 0, "timeout after 300 ms", "http, no answer: timeout" },
			{ 0, "", "http to a server that resets: down" },
			{ 0, "timeout after 300 ms", "tcp, SYN dropped: timeout" },
			{ 1, "ok", "command exit 0 with the environment: up" },
			{ 0, "exit status 3", "command exit 3: down" },
			{ 0, "timeout after 300 ms (killed)", "command past its timeout: killed" },
			{ 1, "ok", "http with a Host header, 204 expected: up" },
		};
		char what[160];

		for (i = 0; i < n; i++) {
			st = st_of(hc, i);
			snprintf(what, sizeof(what), "%s (last: %s)", want[i].what, st.last_reason);
			ASSERT_EQ(st.last_ok, want[i].ok, what);
			if (want[i].reason[0])
				ASSERT_TRUE(strstr(st.last_reason, want[i].reason) != NULL, what);
			ASSERT_EQ(st.down, !want[i].ok, "damped state follows after fall failures");
			fprintf(stderr, "  target %d: %s, %s, %llu checks, %llu failures, last %u ms\n",
				i, st.down ? "down" : "up", st.last_reason,
				(unsigned long long)st.checks, (unsigned long long)st.failures,
				st.last_ms);
		}
		ASSERT_EQ(seen[1].down, 1, "refused: one down transition");
		ASSERT_EQ(seen[1].at_down.fail_run, 3, "down on the 3rd consecutive failure (fall 3)");
		ASSERT_EQ(seen[1].at_down.checks, 3, "after exactly 3 checks");
		ASSERT_EQ(seen[0].down + seen[0].up, 0, "healthy: no transition");
	}

	subtest("a down backend recovers after rise successes");
	{
		struct srv late;

		n = 0;
		close(refused_fd);
		t[n++] = tgt(refused_port, SLUICE_CHECK_TCP, 1);	/* kept: still down */
		ASSERT_OK(hc_set_targets(hc, t, n), "one target left, same identity");
		ASSERT_EQ(st_of(hc, 0).down, 1, "state kept across hc_set_targets");
		ASSERT_TRUE(st_of(hc, 0).checks >= 4, "counters kept");
		late.lfd = -1;
		late.stop = 0;
		late.kind = SRV_HTTP;
		{	/* listen on the port that refused */
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(refused_port),
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			int one = 1;

			late.lfd = socket(AF_INET, SOCK_STREAM, 0);
			setsockopt(late.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			ASSERT_OK(bind(late.lfd, (struct sockaddr *)&a, sizeof(a)), "bind the port again");
			ASSERT_OK(listen(late.lfd, 64), "and listen");
			pthread_create(&late.th, NULL, srv_main, &late);
		}
		g_idx = 0;
		ASSERT_TRUE(run_until(hc, idx_up, 10000), "comes back up");
		ASSERT_EQ(seen[1].up, 1, "one up transition");
		ASSERT_EQ(seen[1].at_up.ok_run, 2, "up on the 2nd consecutive success (rise 2)");
		srv_stop(&late);
		ASSERT_TRUE(run_until(hc, idx_down, 10000), "down again once the server is gone");
	}

	subtest("the start state comes from the live record (a restart changes nothing)");
	{
		memset(seen, 0, sizeof(seen));
		t[0] = tgt(http.port, SLUICE_CHECK_TCP, 5);
		t[0].down = true;
		ASSERT_OK(hc_set_targets(hc, t, 1), "a target that starts down");
		ASSERT_EQ(st_of(hc, 0).down, 1, "starts down, no event");
		ASSERT_EQ(seen[5].down, 0, "no down event for the start state");
		g_idx = 0;
		ASSERT_TRUE(run_until(hc, idx_up, 10000), "goes up after rise successes");
		ASSERT_EQ(seen[5].at_up.checks, 2, "after exactly 2 checks");
	}

	subtest("flapping is reported");
	{
		memset(seen, 0, sizeof(seen));
		t[0] = tgt(0, SLUICE_CHECK_COMMAND, 6);
		t[0].check.rise = t[0].check.fall = 1;
		/* alternates: the file toggles at every run */
		snprintf(cmd, sizeof(cmd), "if [ -e %s ]; then rm %s; exit 1; else touch %s; fi",
			 tmp, tmp, tmp);
		snprintf(t[0].check.command, sizeof(t[0].check.command), "%s", cmd);
		ASSERT_OK(hc_set_targets(hc, t, 1), "a flapping target");
		g_idx = 6;
		ASSERT_TRUE(run_until(hc, idx_flapping, 10000), "flapping event");
		ASSERT_TRUE(seen[6].down + seen[6].up >= 4, "after 4 transitions");
		ASSERT_TRUE(st_of(hc, 0).flapping, "status says flapping");
		unlink(tmp);
	}

	subtest("at most max_inflight probes at once; the rest are late");
	{
		struct hc_opts o2 = { .max_inflight = 2 };
		struct hc *h2 = hc_new(&o2, err, sizeof(err));
		__u64 late = 0;

		for (i = 0; i < 8; i++) {
			t[i] = tgt(silent.port, SLUICE_CHECK_TCP, i);
			t[i].port = full_port;	/* every connect waits its timeout */
			t[i].check.timeout_ms = 100;
		}
		ASSERT_OK(hc_set_targets(h2, t, 8), "8 targets that time out, bound 2");
		g_checks = 2;
		ASSERT_TRUE(run_until(h2, all_checked_twice, 20000), "every target still checked");
		for (i = 0; i < 8; i++) {
			late += st_of(h2, i).late;
			fprintf(stderr, "  target %d: %llu checks, %s\n", i,
				(unsigned long long)st_of(h2, i).checks, st_of(h2, i).last_reason);
		}
		ASSERT_TRUE(late > 0, "some probes waited for a slot (late)");
		fprintf(stderr, "  %llu probes started late\n", (unsigned long long)late);
		hc_free(h2);
	}

	subtest("removed targets are cancelled; an empty set is fine");
	{
		t[0] = tgt(0, SLUICE_CHECK_COMMAND, 9);
		t[0].check.timeout_ms = 100;	/* interval 100 */
		snprintf(t[0].check.command, sizeof(t[0].check.command), "sleep 30");
		ASSERT_OK(hc_set_targets(hc, t, 1), "a hanging command");
		usleep(150000);
		hc_dispatch(hc);
		ASSERT_OK(hc_set_targets(hc, NULL, 0), "no targets");
		ASSERT_EQ(hc_count(hc), 0, "none left");
		ASSERT_EQ(hc_timeout_ms(hc), -1, "nothing to wait for");
	}
	subtest("hc_free stops commands in flight: SIGTERM first, the group, reaped");
	{
		struct hc_opts o3 = { 0 };
		struct hc *h3 = hc_new(&o3, err, sizeof(err));
		const char *how[2] = {
			/* records SIGTERM and ends */
			"trap 'echo term > %s.term; exit 0' TERM; sleep 30 & echo $$ $! > %s.tmp; mv %s.tmp %s; wait",
			/* ignores SIGTERM, and so does its child */
			"trap '' TERM; sleep 30 & echo $$ $! > %s.tmp; mv %s.tmp %s; wait",
		};
		int k;

		for (k = 0; k < 2; k++) {
			char term[128], got[16] = "";
			int a = 0, b = 0;
			FILE *f;

			snprintf(g_pidfile, sizeof(g_pidfile), "%s.pids%d", tmp, k);
			snprintf(term, sizeof(term), "%s.term", g_pidfile);
			t[0] = tgt(0, SLUICE_CHECK_COMMAND, 10 + k);
			t[0].check.timeout_ms = 30000;
			t[0].check.interval_ms = 100;	/* due at once; one probe at a time */
			if (k == 0)
				snprintf(t[0].check.command, sizeof(t[0].check.command), how[0],
					 g_pidfile, g_pidfile, g_pidfile, g_pidfile);
			else
				snprintf(t[0].check.command, sizeof(t[0].check.command), how[1],
					 g_pidfile, g_pidfile, g_pidfile);
			if (k)
				h3 = hc_new(&o3, err, sizeof(err));
			ASSERT_OK(hc_set_targets(h3, t, 1), "a command that runs 30 s");
			ASSERT_TRUE(run_until(h3, pidfile_there, 10000), "it runs");
			f = fopen(g_pidfile, "r");
			ASSERT_TRUE(f && fscanf(f, "%d %d", &a, &b) == 2, "its pid and its child's");
			if (f)
				fclose(f);
			hc_free(h3);
			ASSERT_TRUE(a > 0 && waitpid(a, NULL, WNOHANG) < 0 && errno == ECHILD,
				    "the shell was reaped");
			for (i = 0; i < 50 && b > 0 && !pid_dead(b); i++)
				usleep(100000);
			ASSERT_TRUE(b > 0 && pid_dead(b), "its child was stopped too");
			if (k == 0) {
				f = fopen(term, "r");
				if (f) {
					if (!fgets(got, sizeof(got), f))
						got[0] = 0;
					fclose(f);
				}
				ASSERT_TRUE(!strcmp(got, "term\n"), "it saw SIGTERM first");
			}
			unlink(g_pidfile);
			unlink(term);
		}
	}

	subtest("on the daemon's loop: steady probes keep their interval (no transitions)");
	{
		/* as sluiced runs it: one scheduler, the daemon's HTTP client
		 * and command runner; targets that never change state must
		 * still be probed every interval */
		struct sched *s = sched_new();
		struct httpc *hh = s ? httpc_new_on(s) : NULL;
		struct cmdrun *cr = s ? cmdrun_new_on(s) : NULL;
		struct hc_opts o4 = { .sched = s, .http = hh, .cmd = cr };
		struct hc *h4 = NULL;
		__u64 end;

		if (!ASSERT_TRUE(s && hh && cr, "a scheduler with an HTTP client and a runner"))
			goto loop_out;
		h4 = hc_new(&o4, err, sizeof(err));
		if (!ASSERT_TRUE(h4 != NULL, "checker on the shared scheduler"))
			goto loop_out;
		t[0] = tgt(http.port, SLUICE_CHECK_HTTP, 12);
		snprintf(t[0].check.path, sizeof(t[0].check.path), "/ok");
		t[1] = tgt(0, SLUICE_CHECK_COMMAND, 13);
		snprintf(t[1].check.command, sizeof(t[1].check.command), "exit 0");
		for (i = 0; i < 2; i++) {	/* each alone: nothing else wakes the step */
			char what[192];

			ASSERT_OK(hc_set_targets(h4, &t[i], 1), "one target, interval 100 ms");
			end = mono_ms() + 1000;
			while (mono_ms() < end)
				sched_dispatch(s, 50);
			st = st_of(h4, 0);
			snprintf(what, sizeof(what), "%s target alone: probed every interval for 1 s (%llu checks, last: %s)",
				 i ? "command" : "http", (unsigned long long)st.checks, st.last_reason);
			ASSERT_TRUE(st.checks >= 5, what);
			ASSERT_TRUE(st.last_ok, what);
		}
loop_out:
		hc_free(h4);
		cmdrun_free(cr);
		httpc_free(hh);
		sched_free(s);
	}

	hc_free(hc);
	srv_stop(&http);
	srv_stop(&rst);
	srv_stop(&silent);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(full_fd);
	return t_done();
}
