// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The health checker (prober.h): its TCP connects are file handlers on
 * the scheduler (scheduler.h); its HTTP probes go through the daemon's
 * HTTP client (httpc.h: httpc_probe) and its commands through the
 * daemon's command runner (cmdrun.h), both on the same scheduler; one
 * timer runs the checker's step (due probes, TCP deadlines), so nothing
 * here ever blocks. Each item is a target plus its status, its schedule
 * and at most one probe in flight. A result arriving between steps is
 * booked at once; the step runs again only when it has something to do
 * (a probe waits for a slot, or a transition is to be handed on).
 */
#include <errno.h>
#include <stddef.h>
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
#include "clock.h"
#include "cmdrun.h"
#include "httpc.h"
#include "prober.h"
#include "scheduler.h"

enum probe_kind { PR_NONE = 0, PR_TCP, PR_HTTP, PR_CMD };

struct item {
	struct hc *hc;
	struct hc_target t;		/* check.pos zeroed: identity */
	struct hc_status st;
	__u64 next_ms;			/* next probe due (monotonic) */
	bool waiting;			/* due, held back by max_inflight */
	/* the probe in flight */
	enum probe_kind kind;
	int fd;				/* tcp socket; -1 */
	int64_t req;			/* http: httpc's id; command: cmdrun's */
	__u64 start_ms, deadline_ms;
	__u64 start_us;			/* the probe's duration, finer */
	__u64 flaps[16];		/* times of recent transitions (ring) */
	unsigned int nflaps;
};

struct hc {
	struct sched *s;
	struct sched *own;		/* hc_new without o->sched: private */
	struct sched_timer timer;	/* the step (step()) */
	struct httpc *http, *own_http;	/* hc_opts.http, or the checker's */
	struct cmdrun *cmd, *own_cmd;	/* hc_opts.cmd, or the checker's */
	struct item **it;
	struct item **due;		/* scratch for hc_dispatch */
	unsigned int n, inflight;
	struct hc_opts o;
	__u64 armed_ms;			/* the timer's expiry (0: disarmed) */
	bool stepped;			/* step() ran in this hc_dispatch */
	bool kicked;			/* private: hc_dispatch is to step */
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

/* A slot came free, or an event is to be handed on: the step runs after
 * this batch of events. */
static void kick(struct hc *hc)
{
	__u64 now;

	if (hc->own) {	/* hc_dispatch steps after the events itself */
		hc->kicked = true;
		return;
	}
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
	bool flip = false, full = hc->inflight >= hc->o.max_inflight;

	if (it->kind != PR_NONE && hc->inflight)
		hc->inflight--;
	it->kind = PR_NONE;
	it->fd = -1;
	it->req = 0;
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
		flip = true;
		emit(hc, it, HC_EV_STABLE);
	}
	/* the step again only for what needs it: a probe waiting for this
	 * slot, or an event to hand on (done); and no later than this
	 * target's next probe (the step's timer skips probes in flight) */
	if (full || flip)
		kick(hc);
	else if (!hc->timer.armed || it->next_ms < hc->armed_ms)
		arm(hc, it->next_ms);
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

/* httpc: the probe's answer (or its failure). */
static void http_done(const struct httpc_reply *r, void *arg)
{
	struct item *it = arg;
	const struct sluice_cfg_check *c = &it->t.check;
	char why[HC_REASON_LEN];
	unsigned int i;
	bool ok = false;

	if (r->err == -ECANCELED || it->kind != PR_HTTP)
		return;		/* cancel(): the item is going away */
	if (r->err == -ETIMEDOUT) {
		snprintf(why, sizeof(why), "timeout after %u ms%s", c->timeout_ms,
			 r->status ? " (status line seen)" : "");
	} else if (r->status && !r->err) {
		for (i = 0; i < c->nexpect; i++)
			ok |= c->expect[i] == r->status;
		snprintf(why, sizeof(why), "HTTP %ld", r->status);
	} else if (r->status) {
		snprintf(why, sizeof(why), "HTTP %ld, then %s", r->status, r->reason);
	} else {
		snprintf(why, sizeof(why), "%s", r->err ? r->reason : "no status line");
		why[0] = tolower((unsigned char)why[0]);
	}
	finish(it->hc, it, ok, why);
}

static void http_start(struct hc *hc, struct item *it)
{
	const struct sluice_cfg_check *c = &it->t.check;
	char url[512], a[INET6_ADDRSTRLEN];
	int64_t id;

	inet_ntop(it->t.family, it->t.addr.bytes, a, sizeof(a));
	snprintf(url, sizeof(url), it->t.family == AF_INET6 ? "http://[%s]:%u%s" :
		 "http://%s:%u%s", a, it->t.port, c->path[0] ? c->path : "/");
	id = httpc_probe(hc->http, url, c->host[0] ? c->host : NULL, c->timeout_ms,
			 http_done, it);
	if (id < 0)
		finish(hc, it, false, "cannot start an HTTP request");
	else
		it->req = id;
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

/* cmdrun: the command ended, or was killed at its timeout. */
static void cmd_done(const struct cmd_result *r, void *arg)
{
	struct item *it = arg;
	char why[HC_REASON_LEN];

	if (r->err == -ECANCELED || it->kind != PR_CMD)
		return;		/* cancel(): the item is going away */
	if (r->err == -ETIMEDOUT)
		snprintf(why, sizeof(why), "timeout after %u ms (killed)", it->t.check.timeout_ms);
	else if (r->err)
		snprintf(why, sizeof(why), "%s", r->reason);
	else if (r->exited)
		snprintf(why, sizeof(why), "exit status %d", r->status);
	else
		snprintf(why, sizeof(why), "killed by signal %d", r->signal);
	finish(it->hc, it, !r->err && r->exited && !r->status, why);
}

/* /bin/sh -c COMMAND in its own group with the target in its environment
 * (cmdrun.h: the daemon's runner, its timeout the check's). */
static void cmd_start(struct hc *hc, struct item *it)
{
	char *argv[] = { "/bin/sh", "-c", it->t.check.command, NULL };
	char *env[8], vars[1024], why[HC_REASON_LEN];
	int64_t id;

	cmd_env(env, vars, sizeof(vars), &it->t);
	id = cmdrun_start_quiet(hc->cmd, argv, env, it->t.check.timeout_ms, cmd_done, it);
	if (id < 0) {
		errno_reason((int)-id, why, sizeof(why));
		finish(hc, it, false, why);
		return;
	}
	it->req = id;
}

/* Stop a probe without a result (its target went away). */
static void cancel(struct hc *hc, struct item *it)
{
	enum probe_kind k = it->kind;

	if (k == PR_NONE)
		return;
	it->kind = PR_NONE;	/* before: the runners' callbacks hear -ECANCELED */
	if (hc->inflight)
		hc->inflight--;
	if (k == PR_TCP) {
		sched_fd_del(hc->s, it->fd);
		close(it->fd);
	} else if (k == PR_HTTP) {
		httpc_cancel(hc->http, it->req);
	} else {	/* SIGTERM to its group, SIGKILL a grace later (cmdrun) */
		cmdrun_cancel(hc->cmd, it->req);
	}
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
	sched_timer_init(&hc->timer, on_step, hc);
	hc->s = o->sched;
	if (!hc->s)
		hc->s = hc->own = sched_new();
	hc->http = o->http;
	if (hc->s && !hc->http)
		hc->http = hc->own_http = httpc_new_on(hc->s);
	hc->cmd = o->cmd;
	if (hc->s && !hc->cmd)
		hc->cmd = hc->own_cmd = cmdrun_new_on(hc->s);
	if (!hc->s || !hc->http || !hc->cmd) {
		snprintf(err, errlen, "cannot set up the health checker: %s",
			 hc->s && !hc->http ? "libcurl failed to start" : strerror(errno));
		hc_free(hc);
		return NULL;
	}
	return hc;
}

void hc_free(struct hc *hc)
{
	unsigned int i;

	if (!hc)
		return;
	for (i = 0; i < hc->n; i++) {
		cancel(hc, hc->it[i]);
		free(hc->it[i]);
	}
	free(hc->it);
	free(hc->due);
	/* the commands in flight are stopped by their runner: SIGTERM, a
	 * grace, SIGKILL (cmdrun_free; the daemon's when it is shared) */
	cmdrun_free(hc->own_cmd);
	httpc_free(hc->own_http);
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
	kick(hc);	/* on a shared loop: at the end of its batch */
	if (hc->own)
		hc_dispatch(hc);
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
	__u64 at = 0, x;
	unsigned int i;

	for (i = 0; i < hc->n; i++) {
		const struct item *it = hc->it[i];

		if (it->kind == PR_TCP)
			x = it->deadline_ms;
		else if (it->kind == PR_NONE && hc->inflight < hc->o.max_inflight)
			x = it->next_ms;
		else
			continue;	/* http, command: their runner's timers;
					 * waiting: a slot */
		if (!at || x < at)
			at = x;
	}
	return at;
}

int hc_timeout_ms(const struct hc *hc)
{
	/* the runners' timers make hc_fd readable themselves */
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

/* The scheduler: a TCP connect is ready. */
static void on_item(void *arg, int fd, uint32_t events)
{
	struct item *it = arg;

	if (it->kind == PR_TCP)
		tcp_event(it->hc, it);	/* finish() kicks the step if needed */
}

/* TCP deadlines, due probes; the timer for the next. */
static void step(struct hc *hc)
{
	unsigned int j, ndue;
	__u64 now;

	now = mono_ms();
	/* 2. deadlines of TCP connects (httpc and cmdrun time their own) */
	for (j = 0; j < hc->n; j++) {
		struct item *it = hc->it[j];
		char why[HC_REASON_LEN];

		if (it->kind != PR_TCP || it->deadline_ms > now)
			continue;
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
	/* at most once per call; on a private scheduler only when kicked
	 * (due probes and deadlines are the step's timer, run above) */
	if (!hc->stepped && (!hc->own || hc->kicked))
		step(hc);
	hc->kicked = false;
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
