// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The health checker (prober.h): every in-flight TCP connect, every
 * command's pidfd and libcurl's sockets (its multi interface with socket
 * and timer callbacks) are file handlers on the scheduler (scheduler.h),
 * and one timer runs the checker's step, so nothing here ever blocks. Each item is a target plus its status, its schedule and at most
 * one probe in flight.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ctype.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include "clock.h"
#include "child.h"
#include "prober.h"
#include "scheduler.h"

extern char **environ;

enum probe_kind { PR_NONE = 0, PR_TCP, PR_HTTP, PR_CMD };

struct item {
	struct hc *hc;
	struct hc_target t;		/* check.pos zeroed: identity */
	struct hc_status st;
	__u64 next_ms;			/* next probe due (monotonic) */
	bool waiting;			/* due, held back by max_inflight */
	/* the probe in flight */
	enum probe_kind kind;
	int fd;				/* tcp socket or pidfd; -1 */
	pid_t pid;
	CURL *easy;
	struct curl_slist *hdr;		/* http: the Host header */
	bool http_stopped;		/* we stopped the body on purpose */
	__u64 start_ms, deadline_ms;
	__u64 start_us;			/* the probe's duration, finer */
	__u64 flaps[16];		/* times of recent transitions (ring) */
	unsigned int nflaps;
};

struct hc {
	struct sched *s;
	struct sched *own;		/* hc_new without o->sched: private */
	struct sched_timer timer;	/* the step (step()) */
	CURLM *multi;
	__u64 curl_due_ms;		/* 0: no curl timer */
	struct item **it;
	struct item **due;		/* scratch for hc_dispatch */
	unsigned int n, inflight;
	struct hc_opts o;
	__u64 armed_ms;			/* the timer's expiry (0: disarmed) */
	bool stepped;			/* step() ran in this hc_dispatch */
};

static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *hc_type_name(__u8 type)
{
	static const char *const n[] = { "none", "tcp", "http", "command" };

	return type < 4 ? n[type] : "?";
}

const char *hc_event_name(enum hc_event ev)
{
	static const char *const n[] = { "down", "up", "flapping", "stable" };

	return ev <= HC_EV_STABLE ? n[ev] : "?";
}

bool hc_target_from_cfg(struct hc_target *t, const struct sluice_cfg_service *cs,
			int v, unsigned int i)
{
	const struct sluice_cfg_check *c = sluice_cfg_backend_check(cs, v, i);
	const struct sluice_backend_spec *b = &cs->pool[v].be[i];

	if (!c)
		return false;
	memset(t, 0, sizeof(*t));
	snprintf(t->service, sizeof(t->service), "%s", cs->name);
	t->variant = v;
	t->be_addr = b->addr;
	t->be_family = b->family;
	t->be_port = b->port ? b->port : cs->port;
	t->addr = c->family ? c->addr : b->addr;
	t->family = c->family ? c->family : b->family;
	t->port = c->port ? c->port : t->be_port;
	t->check = *c;
	return true;
}

/* ---- the scheduler ----------------------------------------------------------- */

static void on_item(void *arg, int fd, uint32_t events);
static void on_step(void *arg);

static int watch(struct hc *hc, int fd, __u32 events, struct item *it)
{
	int err = sched_fd_set(hc->s, fd, events, on_item, it);

	if (err)
		errno = -err;
	return err;
}

static void arm(struct hc *hc, __u64 at_ms)
{
	if (at_ms == hc->armed_ms && hc->timer.armed == !!at_ms)
		return;
	hc->armed_ms = at_ms;
	if (at_ms)	/* a past time runs at the end of this dispatch */
		sched_timer_arm(hc->s, &hc->timer, at_ms);
	else
		sched_timer_stop(hc->s, &hc->timer);
}

/* A probe made progress: the step runs after this batch of events. */
static void kick(struct hc *hc)
{
	__u64 now;

	if (hc->own)	/* hc_dispatch steps after the events itself */
		return;
	now = mono_ms();
	if (!hc->timer.armed || hc->armed_ms > now)
		arm(hc, now);
}

/* ---- results ------------------------------------------------------------- */

static unsigned int recent_flaps(const struct hc *hc, const struct item *it,
				 __u64 now)
{
	unsigned int i, k = 0, n = it->nflaps < 16 ? it->nflaps : 16;

	for (i = 0; i < n; i++)
		k += now - it->flaps[i] <= hc->o.flap_window_ms;
	return k;
}

static void emit(struct hc *hc, struct item *it, enum hc_event ev)
{
	if (hc->o.cb)
		hc->o.cb(hc->o.cb_arg, &it->t, &it->st, ev);
}

static void finish(struct hc *hc, struct item *it, bool ok, const char *reason)
{
	struct hc_status *st = &it->st;
	const struct sluice_cfg_check *c = &it->t.check;
	__u64 now = mono_ms();
	bool flip = false;

	if (it->kind != PR_NONE && hc->inflight)
		hc->inflight--;
	it->kind = PR_NONE;
	it->fd = -1;
	it->pid = 0;
	it->easy = NULL;
	st->checks++;
	st->failures += !ok;
	st->last_ok = ok;
	st->last_ms = now - it->start_ms;
	st->last_us = now_us() - it->start_us;
	st->last_check_ms = now;
	snprintf(st->last_reason, sizeof(st->last_reason), "%s", ok ? "ok" : reason);
	if (ok) {
		st->ok_run++;
		st->fail_run = 0;
		flip = st->down && st->ok_run >= c->rise;
	} else {
		st->fail_run++;
		st->ok_run = 0;
		flip = !st->down && st->fail_run >= c->fall;
	}
	if (flip) {
		st->down = !st->down;
		st->transitions++;
		st->since_ms = now;
		it->flaps[it->nflaps++ % 16] = now;
		emit(hc, it, st->down ? HC_EV_DOWN : HC_EV_UP);
		if (!st->flapping && recent_flaps(hc, it, now) >= hc->o.flap_count) {
			st->flapping = true;
			emit(hc, it, HC_EV_FLAPPING);
		}
	} else if (st->flapping && !recent_flaps(hc, it, now)) {
		st->flapping = false;
		emit(hc, it, HC_EV_STABLE);
	}
}

static void errno_reason(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(err));
	buf[0] = tolower((unsigned char)buf[0]);
}

/* ---- probes -------------------------------------------------------------- */

static socklen_t target_sa(const struct hc_target *t, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (t->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(t->port);
		memcpy(&a->sin_addr, t->addr.bytes, 4);
		return sizeof(*a);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(t->port);
	memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, t->addr.bytes, 16);
	return sizeof(struct sockaddr_in6);
}

/* Close with a RST: a checker must not fill the node with TIME_WAIT. */
static void set_abortive(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void tcp_start(struct hc *hc, struct item *it)
{
	struct sockaddr_storage ss;
	socklen_t sl = target_sa(&it->t, &ss);
	char why[HC_REASON_LEN];
	int fd, err;

	fd = socket(it->t.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errno_reason(errno, why, sizeof(why));
		finish(hc, it, false, why);
		return;
	}
	set_abortive(fd);
	it->fd = fd;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
		close(fd);
		finish(hc, it, true, NULL);
		return;
	}
	if (errno != EINPROGRESS ||
	    (err = watch(hc, fd, EPOLLOUT, it))) {
		errno_reason(errno, why, sizeof(why));
		close(fd);
		finish(hc, it, false, why);
	}
}

static void tcp_event(struct hc *hc, struct item *it)
{
	char why[HC_REASON_LEN];
	socklen_t l = sizeof(int);
	int err = 0, fd = it->fd;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		err = errno;
	sched_fd_del(hc->s, fd);
	close(fd);
	/* a reset in SYN_SENT is ECONNREFUSED; ECONNRESET means the
	 * handshake completed first: that passes, however fast the reset
	 * came (otherwise the verdict would be a race) */
	if (err == ECONNRESET)
		err = 0;
	if (err)
		errno_reason(err, why, sizeof(why));
	finish(hc, it, !err, why);
}

static size_t http_body(char *p, size_t sz, size_t n, void *arg)
{
	struct item *it = arg;

	it->http_stopped = true;	/* the status is known: stop here */
	return 0;
}

static int curl_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	set_abortive(fd);
	return CURL_SOCKOPT_OK;
}

static void http_start(struct hc *hc, struct item *it)
{
	const struct sluice_cfg_check *c = &it->t.check;
	char url[512], a[INET6_ADDRSTRLEN], host[300];
	CURL *e = curl_easy_init();

	if (!e) {
		finish(hc, it, false, "cannot create an HTTP request");
		return;
	}
	inet_ntop(it->t.family, it->t.addr.bytes, a, sizeof(a));
	snprintf(url, sizeof(url), it->t.family == AF_INET6 ? "http://[%s]:%u%s" :
		 "http://%s:%u%s", a, it->t.port, c->path[0] ? c->path : "/");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, it);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");		/* never a proxy */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sluiced-health-check");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, it);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, curl_sockopt);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	it->hdr = NULL;
	if (c->host[0]) {
		snprintf(host, sizeof(host), "Host: %s", c->host);
		it->hdr = curl_slist_append(NULL, host);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, it->hdr);
	}
	it->easy = e;
	it->http_stopped = false;
	if (curl_multi_add_handle(hc->multi, e) != CURLM_OK) {
		curl_slist_free_all(it->hdr);
		it->hdr = NULL;
		curl_easy_cleanup(e);
		finish(hc, it, false, "cannot start an HTTP request");
	}
}

static void http_release(struct hc *hc, struct item *it)
{
	curl_multi_remove_handle(hc->multi, it->easy);
	curl_easy_cleanup(it->easy);
	curl_slist_free_all(it->hdr);
	it->easy = NULL;
	it->hdr = NULL;
}

static void http_done(struct hc *hc, struct item *it, CURLcode rc)
{
	const struct sluice_cfg_check *c = &it->t.check;
	char why[HC_REASON_LEN];
	long code = 0;
	unsigned int i;
	bool ok = false;

	curl_easy_getinfo(it->easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(why, sizeof(why), "timeout after %u ms%s", c->timeout_ms,
			 code ? " (status line seen)" : "");
	} else if (code && (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && it->http_stopped))) {
		for (i = 0; i < c->nexpect; i++)
			ok |= c->expect[i] == code;
		snprintf(why, sizeof(why), "HTTP %ld", code);
	} else if (code) {
		snprintf(why, sizeof(why), "HTTP %ld, then %s", code, curl_easy_strerror(rc));
	} else {
		snprintf(why, sizeof(why), "%s", rc == CURLE_OK ? "no status line" :
			 curl_easy_strerror(rc));
		why[0] = tolower((unsigned char)why[0]);
	}
	http_release(hc, it);
	finish(hc, it, ok, why);
}

static void curl_drain(struct hc *hc)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(hc->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			struct item *it = NULL;

			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&it);
			if (it && it->easy == m->easy_handle)
				http_done(hc, it, m->data.result);
		}
}

/* The scheduler: one of curl's sockets is ready. */
static void on_curl(void *arg, int fd, uint32_t events)
{
	struct hc *hc = arg;
	int running, m = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			 (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			 (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

	curl_multi_socket_action(hc->multi, fd, m, &running);
	curl_drain(hc);
	kick(hc);
}

static int curl_socket_cb(CURL *e, curl_socket_t fd, int what, void *arg, void *sp)
{
	struct hc *hc = arg;
	__u32 ev = (what & CURL_POLL_IN ? EPOLLIN : 0) |
		   (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	if (what == CURL_POLL_REMOVE) {
		sched_fd_del(hc->s, fd);
		curl_multi_assign(hc->multi, fd, NULL);
		return 0;
	}
	sched_fd_set(hc->s, fd, ev, on_curl, hc);
	if (!sp)
		curl_multi_assign(hc->multi, fd, (void *)1);
	return 0;
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *arg)
{
	struct hc *hc = arg;

	hc->curl_due_ms = timeout_ms < 0 ? 0 : mono_ms() + timeout_ms;
	if (hc->curl_due_ms && (!hc->armed_ms || hc->curl_due_ms < hc->armed_ms))
		arm(hc, hc->curl_due_ms);
	return 0;
}

static void cmd_env(char **env, char *buf, size_t len, const struct hc_target *t)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int n = 0, k;

	inet_ntop(t->be_family, t->be_addr.bytes, a, sizeof(a));
	inet_ntop(t->family, t->addr.bytes, b, sizeof(b));
	k = snprintf(buf, len, "SLUICE_SERVICE=%s%cSLUICE_POOL=%s%cSLUICE_BACKEND_ADDRESS=%s%c"
		     "SLUICE_BACKEND_PORT=%u%cSLUICE_CHECK_ADDRESS=%s%cSLUICE_CHECK_PORT=%u",
		     t->service, 0, t->variant ? "canary" : "baseline", 0, a, 0,
		     t->be_port, 0, b, 0, t->port);
	for (char *p = buf; p < buf + k && n < 6; p += strlen(p) + 1)
		env[n++] = p;
	env[n] = NULL;
}

static void cmd_start(struct hc *hc, struct item *it)
{
	static const int envmax = 256;
	char *argv[] = { "/bin/sh", "-c", it->t.check.command, NULL };
	char *env[envmax + 8], vars[1024], why[HC_REASON_LEN];
	static const int null3[3] = { CHILD_DEVNULL, CHILD_DEVNULL, CHILD_DEVNULL };
	int i, n = 0, err, fd;
	pid_t pid;

	for (i = 0; environ[i] && n < envmax; i++)
		if (strncmp(environ[i], "SLUICE_", 7))
			env[n++] = environ[i];
	cmd_env(env + n, vars, sizeof(vars), &it->t);
	/* its own group (killable whole), a death signal: child.h */
	err = child_spawn(&pid, argv, env, null3, why, sizeof(why));
	if (err) {
		errno_reason(-err, why, sizeof(why));
		finish(hc, it, false, why);
		return;
	}
	it->pid = pid;
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 || watch(hc, fd, EPOLLIN, it)) {
		errno_reason(errno, why, sizeof(why));
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (fd >= 0)
			close(fd);
		finish(hc, it, false, why);
		return;
	}
	it->fd = fd;
}

/* The command exited (or is killed): reap it and say how it ended. */
static void cmd_end(struct hc *hc, struct item *it, bool timed_out)
{
	char why[HC_REASON_LEN];
	int status = 0;

	if (timed_out)
		kill(-it->pid, SIGKILL);
	sched_fd_del(hc->s, it->fd);
	close(it->fd);
	if (waitpid(it->pid, &status, timed_out ? 0 : WNOHANG) <= 0 && !timed_out) {
		/* not reapable yet (cannot happen with a readable pidfd) */
		kill(-it->pid, SIGKILL);
		waitpid(it->pid, &status, 0);
	}
	if (timed_out)
		snprintf(why, sizeof(why), "timeout after %u ms (killed)", it->t.check.timeout_ms);
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	finish(hc, it, !timed_out && WIFEXITED(status) && !WEXITSTATUS(status), why);
}

/* Stop a probe without a result (its target went away). */
static void cancel(struct hc *hc, struct item *it)
{
	switch (it->kind) {
	case PR_TCP:
		sched_fd_del(hc->s, it->fd);
		close(it->fd);
		break;
	case PR_HTTP:
		http_release(hc, it);
		break;
	case PR_CMD:
		kill(-it->pid, SIGKILL);
		sched_fd_del(hc->s, it->fd);
		close(it->fd);
		waitpid(it->pid, NULL, 0);
		break;
	default:
		return;
	}
	it->kind = PR_NONE;
	if (hc->inflight)
		hc->inflight--;
}

static void start(struct hc *hc, struct item *it, __u64 now)
{
	const struct sluice_cfg_check *c = &it->t.check;

	it->start_ms = now;
	it->start_us = now_us();
	it->deadline_ms = now + c->timeout_ms;
	it->fd = -1;
	hc->inflight++;
	switch (c->type) {
	case SLUICE_CHECK_TCP:
		it->kind = PR_TCP;
		tcp_start(hc, it);
		break;
	case SLUICE_CHECK_HTTP:
		it->kind = PR_HTTP;
		http_start(hc, it);
		break;
	default:
		it->kind = PR_CMD;
		cmd_start(hc, it);
		break;
	}
}

/* ---- the API --------------------------------------------------------------- */

struct hc *hc_new(const struct hc_opts *o, char *err, size_t errlen)
{
	static bool curl_ready;
	struct hc *hc = calloc(1, sizeof(*hc));

	if (!hc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	hc->o = *o;
	if (!hc->o.max_inflight)
		hc->o.max_inflight = 512;
	if (!hc->o.flap_count)
		hc->o.flap_count = 4;
	if (!hc->o.flap_window_ms)
		hc->o.flap_window_ms = 60000;
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		curl_ready = true;
	sched_timer_init(&hc->timer, on_step, hc);
	hc->s = o->sched;
	if (!hc->s)
		hc->s = hc->own = sched_new();
	hc->multi = curl_ready ? curl_multi_init() : NULL;
	if (!hc->s || !hc->multi) {
		snprintf(err, errlen, "cannot set up the health checker: %s",
			 hc->multi ? strerror(errno) : "libcurl failed to start");
		hc_free(hc);
		return NULL;
	}
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
	return hc;
}

/* Shutdown: the commands in flight get SIGTERM and a grace (child.h). */
static void stop_commands(struct hc *hc)
{
	pid_t *pids = calloc(hc->n ? hc->n : 1, sizeof(*pids));
	unsigned int i, n = 0;

	if (!pids)
		return;		/* cancel() kills them */
	for (i = 0; i < hc->n; i++)
		if (hc->it[i]->kind == PR_CMD)
			pids[n++] = hc->it[i]->pid;
	child_stop_all(pids, n);
	for (i = 0; i < hc->n; i++) {
		struct item *it = hc->it[i];

		if (it->kind != PR_CMD)
			continue;
		sched_fd_del(hc->s, it->fd);
		close(it->fd);
		it->kind = PR_NONE;
		if (hc->inflight)
			hc->inflight--;
	}
	free(pids);
}

void hc_free(struct hc *hc)
{
	unsigned int i;

	if (!hc)
		return;
	stop_commands(hc);
	for (i = 0; i < hc->n; i++) {
		cancel(hc, hc->it[i]);
		free(hc->it[i]);
	}
	free(hc->it);
	free(hc->due);
	if (hc->multi)
		curl_multi_cleanup(hc->multi);
	if (hc->s)
		sched_timer_stop(hc->s, &hc->timer);
	sched_free(hc->own);
	free(hc);
}

static bool same_target(const struct hc_target *a, const struct hc_target *b)
{
	struct hc_target x = *a, y = *b;

	x.down = y.down = false;
	return !memcmp(&x, &y, sizeof(x));
}

/* Spread first probes over the interval, the same way for the same target. */
static __u32 jitter(const struct hc_target *t)
{
	const __u8 *p = (const __u8 *)t;
	__u32 h = 2166136261u;
	size_t i;

	for (i = 0; i < offsetof(struct hc_target, check); i++)
		h = (h ^ p[i]) * 16777619u;
	return t->check.interval_ms ? h % t->check.interval_ms : 0;
}

int hc_set_targets(struct hc *hc, const struct hc_target *t, unsigned int n)
{
	struct item **nit = calloc(n ? n : 1, sizeof(*nit));
	bool *kept = calloc(hc->n ? hc->n : 1, sizeof(*kept));
	bool *fresh = calloc(n ? n : 1, sizeof(*fresh));
	struct item **due = calloc(n ? n : 1, sizeof(*due));
	__u64 now = mono_ms();
	unsigned int i, j;

	if (!nit || !kept || !fresh || !due)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct hc_target x = t[i];

		memset(&x.check.pos, 0, sizeof(x.check.pos));
		for (j = 0; j < hc->n; j++)
			if (!kept[j] && same_target(&hc->it[j]->t, &x))
				break;
		if (j < hc->n) {
			kept[j] = true;
			nit[i] = hc->it[j];
			continue;
		}
		nit[i] = calloc(1, sizeof(**nit));
		if (!nit[i])
			goto nomem;
		fresh[i] = true;
		nit[i]->hc = hc;
		nit[i]->t = x;
		nit[i]->fd = -1;
		nit[i]->st.down = x.down;
		snprintf(nit[i]->st.last_reason, sizeof(nit[i]->st.last_reason),
			 "not checked yet");
		nit[i]->next_ms = now + jitter(&x);
	}
	for (j = 0; j < hc->n; j++)
		if (!kept[j]) {
			cancel(hc, hc->it[j]);
			free(hc->it[j]);
		}
	free(hc->it);
	free(hc->due);
	free(kept);
	free(fresh);
	hc->it = nit;
	hc->due = due;
	hc->n = n;
	if (hc->own)
		hc_dispatch(hc);
	else	/* on a shared loop: at the end of its batch */
		kick(hc);
	return 0;
nomem:	/* nothing changed: free only what was made here */
	for (i = 0; nit && fresh && i < n; i++)
		if (fresh[i])
			free(nit[i]);
	free(nit);
	free(kept);
	free(fresh);
	free(due);
	return -ENOMEM;
}

int hc_fd(const struct hc *hc)
{
	return sched_fd(hc->s);
}

/* The earliest time something needs doing (0: nothing). */
static __u64 next_due(const struct hc *hc)
{
	__u64 at = hc->curl_due_ms, x;
	unsigned int i;

	for (i = 0; i < hc->n; i++) {
		const struct item *it = hc->it[i];

		if (it->kind == PR_TCP || it->kind == PR_CMD)
			x = it->deadline_ms;
		else if (it->kind == PR_NONE && hc->inflight < hc->o.max_inflight)
			x = it->next_ms;
		else
			continue;	/* http: curl's timer; waiting: a slot */
		if (!at || x < at)
			at = x;
	}
	return at;
}

int hc_timeout_ms(const struct hc *hc)
{
	__u64 at = next_due(hc), now = mono_ms();

	if (!at)
		return -1;
	return at <= now ? 0 : (int)(at - now > 60000 ? 60000 : at - now);
}

static int by_next(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;

	return x->next_ms < y->next_ms ? -1 : x->next_ms > y->next_ms;
}

/* The scheduler: a TCP connect or a command's pidfd is ready. */
static void on_item(void *arg, int fd, uint32_t events)
{
	struct item *it = arg;
	struct hc *hc = it->hc;

	if (it->kind == PR_TCP)
		tcp_event(hc, it);
	else if (it->kind == PR_CMD)
		cmd_end(hc, it, false);
	kick(hc);
}

/* Deadlines, curl's timer, due probes; the timer for the next. */
static void step(struct hc *hc)
{
	unsigned int j, ndue;
	int running;
	__u64 now;

	now = mono_ms();
	if (hc->curl_due_ms && hc->curl_due_ms <= now) {
		hc->curl_due_ms = 0;
		curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		curl_drain(hc);
	}
	/* 2. deadlines of probes curl does not time itself */
	for (j = 0; j < hc->n; j++) {
		struct item *it = hc->it[j];
		char why[HC_REASON_LEN];

		if (it->kind == PR_NONE || it->kind == PR_HTTP || it->deadline_ms > now)
			continue;
		if (it->kind == PR_CMD) {
			cmd_end(hc, it, true);
			continue;
		}
		sched_fd_del(hc->s, it->fd);
		close(it->fd);
		snprintf(why, sizeof(why), "timeout after %u ms", it->t.check.timeout_ms);
		finish(hc, it, false, why);
	}
	/* 3. start what is due, longest waiting first, within the bound */
	ndue = 0;
	for (j = 0; j < hc->n; j++)
		if (hc->it[j]->kind == PR_NONE && hc->it[j]->next_ms <= now)
			hc->due[ndue++] = hc->it[j];
	if (ndue > hc->o.max_inflight - hc->inflight)
		qsort(hc->due, ndue, sizeof(*hc->due), by_next);
	for (j = 0; j < ndue; j++) {
		struct item *it = hc->due[j];
		__u32 iv = it->t.check.interval_ms;

		if (hc->inflight >= hc->o.max_inflight) {
			if (!it->waiting)
				it->st.late++;
			it->waiting = true;
			continue;
		}
		it->waiting = false;
		/* keep the phase; after a long stall, restart from now */
		it->next_ms = it->next_ms + iv > now ? it->next_ms + iv : now + iv;
		start(hc, it, now);
	}
	curl_drain(hc);
	hc->armed_ms = 0;	/* the timer ran, or runs again below */
	arm(hc, next_due(hc));
	hc->stepped = true;
}

/* The scheduler: the step is due (a deadline, a probe, progress). */
static void on_step(void *arg)
{
	struct hc *hc = arg;

	hc->armed_ms = 0;
	step(hc);
	if (hc->o.done)
		hc->o.done(hc->o.cb_arg);
}

int hc_dispatch(struct hc *hc)
{
	unsigned int i = 0;
	int err;

	/* 1. progress: whatever is ready (a private scheduler only: on the
	 * daemon's loop the scheduler runs all of this itself) */
	hc->stepped = false;
	if (hc->own)
		while ((err = sched_dispatch(hc->s, 0)) > 0 && ++i < 64)
			;
	else
		err = 0;
	if (err < 0)
		return err;
	if (!hc->stepped)	/* once per call, as ever */
		step(hc);
	return 0;
}

unsigned int hc_count(const struct hc *hc)
{
	return hc->n;
}

const struct hc_target *hc_target_at(const struct hc *hc, unsigned int i)
{
	return i < hc->n ? &hc->it[i]->t : NULL;
}

int hc_status_at(const struct hc *hc, unsigned int i, struct hc_status *st)
{
	if (i >= hc->n)
		return -ENOENT;
	*st = hc->it[i]->st;
	return 0;
}

int hc_find(const struct hc *hc, const char *service, int variant,
	    const union sluice_addr *be_addr, __u8 family, __u16 be_port)
{
	unsigned int i;

	for (i = 0; i < hc->n; i++) {
		const struct hc_target *t = &hc->it[i]->t;

		if (t->variant == variant && t->be_family == family &&
		    t->be_port == be_port && !strcmp(t->service, service) &&
		    !memcmp(&t->be_addr, be_addr, sizeof(*be_addr)))
			return i;
	}
	return -1;
}
