// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's HTTP listener: /metrics and the status page (/, its script
 * and styles, /api/status), libmicrohttpd. In sluiced it runs on the one
 * loop (metrics_srv_start_on: MHD's epoll fd is a file handler on the
 * scheduler, MHD_run from there, its timeouts and the request deadline
 * are scheduler timers); metrics_srv_start gives it its own polling thread
 * (tests, benches). The loop publishes snapshots; a request takes a reference to the current one
 * under a mutex held for a pointer copy. /metrics renders the snapshot's
 * text on the HTTP thread the first time and keeps it with the snapshot,
 * so further scrapes of it (several Prometheus servers, a retry) only send
 * it; the response holds the reference until libmicrohttpd has sent it.
 * /api/status copies the document the loop built.
 *
 * No client holds it: a request whose Host is not this listener's (a
 * DNS-rebinding page in a browser on the node sends its own name) gets
 * 421; one address holds at most METRICS_PER_IP connections and all of
 * them METRICS_CONNECTIONS; a connection idle METRICS_IDLE_S is closed by
 * libmicrohttpd, and one whose request is not answered within
 * METRICS_DEADLINE_MS of its start (or of the previous request's end) is
 * shut down by a watchdog (a thread, or the loop's timer) here:
 * libmicrohttpd 0.9.75 times out
 * inactivity only, so a header byte a second would hold a slot for ever.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include "clock.h"
#include "metrics.h"
#include "scheduler.h"

#define METRICS_CONNECTIONS	64u
#define METRICS_PER_IP		16u
#define METRICS_IDLE_S		10u
#define METRICS_DEADLINE_MS	10000u
#define METRICS_MAX_HOSTS	8

/* A connection, for the deadline: a duplicate of its socket (so that a
 * shutdown never hits a descriptor number reused meanwhile). */
struct conn {
	struct conn *next, **pprev;
	int fd;
	uint64_t deadline_ms;	/* monotonic */
	bool cut;
};

struct metrics_srv {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	struct metrics_snapshot *cur;
	unsigned short port;
	uint64_t status_asked_ms;	/* last /api/status (steady_ms), under lock */
	uint64_t published_ms;		/* steady_ms of the last publish, under lock */
	void (*build)(void *arg);	/* metrics_srv_on_demand, on the loop */
	void *build_arg;
	/* Host: the listener's address, localhost on loopback, names */
	int fam;
	unsigned char addr[16];
	bool wildcard, loopback;
	char hosts[METRICS_MAX_HOSTS][METRICS_HOST_LEN + 1];
	unsigned int nhosts;
	/* the deadline's watchdog; conns under lock */
	struct conn *conns;
	pthread_t wd;
	pthread_cond_t wake;
	bool wd_on, stopping;
	/* on the loop (metrics_srv_start_on): no threads */
	struct sched *sched;
	int mhd_fd;
	struct sched_timer timer;	/* MHD's timeouts, the deadlines */
};

bool metrics_srv_status_wanted(struct metrics_srv *s, uint64_t now_ms)
{
	uint64_t at;

	pthread_mutex_lock(&s->lock);
	at = s->status_asked_ms;
	pthread_mutex_unlock(&s->lock);
	return at && now_ms < at + METRICS_STATUS_IDLE_MS;
}

static void unref(struct metrics_srv *s, struct metrics_snapshot *m)
{
	bool last;

	if (!m)
		return;
	pthread_mutex_lock(&s->lock);
	last = --m->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last)
		metrics_snapshot_free(m);
}

/* The page runs only its own script and styles and talks only to this
 * listener: even a string that escaped the page's text-only drawing could
 * not load or run anything. */
#define STATUS_CSP	"default-src 'none'; script-src 'self'; style-src 'self'; " \
			"connect-src 'self'; img-src 'self'; base-uri 'none'; " \
			"form-action 'none'; frame-ancestors 'none'"

enum reply_mem { R_STATIC, R_OWNED, R_COPY };

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code,
			     const char *type, const char *body, size_t len,
			     enum reply_mem mem, bool page)
{
	static const enum MHD_ResponseMemoryMode modes[] = {
		[R_STATIC] = MHD_RESPMEM_PERSISTENT, [R_OWNED] = MHD_RESPMEM_MUST_FREE,
		[R_COPY] = MHD_RESPMEM_MUST_COPY,
	};
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, modes[mem]);
	if (!r) {
		if (mem == R_OWNED)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (page) {
		MHD_add_response_header(r, "Content-Security-Policy", STATUS_CSP);
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	if (mem != R_STATIC)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static struct metrics_snapshot *current(struct metrics_srv *s)
{
	struct metrics_snapshot *m;

	pthread_mutex_lock(&s->lock);
	m = s->cur;
	if (m)
		m->refs++;
	pthread_mutex_unlock(&s->lock);
	return m;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned int code, const char *t)
{
	return reply(c, code, "text/plain; charset=utf-8", t, strlen(t), R_STATIC, false);
}

/* /api/status: the document the loop built with the snapshot */
static enum MHD_Result status_json(struct metrics_srv *s, struct MHD_Connection *c)
{
	static const char starting[] =
		"{\"error\":\"no status yet: sluiced builds it within a second of being "
		"asked (or has no sluice instance yet)\"}\n";
	struct metrics_snapshot *m;
	enum MHD_Result ret;

	pthread_mutex_lock(&s->lock);
	s->status_asked_ms = steady_ms();
	pthread_mutex_unlock(&s->lock);
	m = current(s);
	if (!m || !m->status)
		ret = reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", starting,
			    strlen(starting), R_STATIC, false);
	else
		ret = reply(c, MHD_HTTP_OK, "application/json", m->status,
			    strlen(m->status), R_COPY, false);
	unref(s, m);
	return ret;
}

struct held {
	struct metrics_srv *s;
	struct metrics_snapshot *m;
};

static void release(void *cls)
{
	struct held *h = cls;

	unref(h->s, h->m);
	free(h);
}

/* The snapshot's text, rendered once (outside the lock: the loop's
 * publish never waits for a render). */
static int snapshot_text(struct metrics_srv *s, struct metrics_snapshot *m)
{
	char *text;
	size_t len;
	bool have;
	int err;

	pthread_mutex_lock(&s->lock);
	have = m->text != NULL;
	pthread_mutex_unlock(&s->lock);
	if (have)
		return 0;
	err = metrics_render_text(m, &text, &len);
	if (err)
		return err;
	pthread_mutex_lock(&s->lock);
	if (!m->text) {
		m->text = text;
		m->text_len = len;
		text = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(text);
	return 0;
}

static enum MHD_Result metrics_text(struct metrics_srv *s, struct MHD_Connection *c)
{
	static const char type[] = "text/plain; version=0.0.4; charset=utf-8";
	static const char starting[] = "# sluiced is starting: no snapshot yet\n";
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct held *h;

	h = calloc(1, sizeof(*h));
	if (!h)
		return MHD_NO;
	h->s = s;
	if (s->build && s->sched) {
		bool stale;

		pthread_mutex_lock(&s->lock);
		stale = !s->cur || steady_ms() - s->published_ms >= METRICS_FRESH_MS;
		pthread_mutex_unlock(&s->lock);
		if (stale)
			s->build(s->build_arg);	/* publishes: we are on the loop */
	}
	h->m = current(s);
	if (!h->m) {
		free(h);
		return reply(c, MHD_HTTP_OK, type, starting, strlen(starting), R_STATIC, false);
	}
	if (snapshot_text(s, h->m)) {
		release(h);
		return MHD_NO;
	}
	r = MHD_create_response_from_buffer_with_free_callback_cls(h->m->text_len, h->m->text,
								   release, h);
	if (!r) {
		release(h);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

bool metrics_host_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > METRICS_HOST_LEN || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '.')
			return false;
	return true;
}

int metrics_srv_allow_host(struct metrics_srv *s, const char *name, char *err, size_t errlen)
{
	if (!metrics_host_name_ok(name)) {
		snprintf(err, errlen, "--metrics-host: '%.80s' is not a host name (letters, digits, '-' and '.', at most %d)",
			 name, METRICS_HOST_LEN);
		return -EINVAL;
	}
	if (s->nhosts == METRICS_MAX_HOSTS) {
		snprintf(err, errlen, "--metrics-host: more than %d names", METRICS_MAX_HOSTS);
		return -E2BIG;
	}
	snprintf(s->hosts[s->nhosts++], sizeof(s->hosts[0]), "%s", name);
	return 0;
}

/* Is Host (name or address, optional :port) this listener's? An address
 * is when it is the one listened on (any address on a wildcard listener:
 * a rebinding page cannot send one); a name when it is localhost on a
 * loopback or wildcard listener, or given with --metrics-host. No Host
 * (HTTP/1.0): no browser sends that. */
static bool host_ok(const struct metrics_srv *s, const char *h)
{
	unsigned char a[16];
	char name[METRICS_HOST_LEN + 1];
	const char *end, *colon;
	size_t n;
	unsigned int i;

	if (!h)
		return true;
	if (h[0] == '[') {
		end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		h++;
	} else {
		colon = strchr(h, ':');
		if (colon && strchr(colon + 1, ':'))
			return false;
		end = colon ? colon : h + strlen(h);
	}
	n = end - h;
	if (!n || n >= sizeof(name))
		return false;
	memcpy(name, h, n);
	name[n] = 0;
	if (inet_pton(AF_INET, name, a) == 1)
		return s->wildcard || (s->fam == AF_INET && !memcmp(a, s->addr, 4));
	if (inet_pton(AF_INET6, name, a) == 1)
		return s->wildcard || (s->fam == AF_INET6 && !memcmp(a, s->addr, 16));
	if (!strcasecmp(name, "localhost"))
		return s->loopback || s->wildcard;
	for (i = 0; i < s->nhosts; i++)
		if (!strcasecmp(name, s->hosts[i]))
			return true;
	return false;
}

static enum MHD_Result misdirected(const struct metrics_srv *s, struct MHD_Connection *c,
				   const char *host)
{
	char *body, shown[72], a[INET6_ADDRSTRLEN];
	size_t i;

	/* the name as sent, printable characters only */
	for (i = 0; host[i] && i < sizeof(shown) - 1; i++)
		shown[i] = isgraph((unsigned char)host[i]) ? host[i] : '?';
	shown[i] = 0;
	inet_ntop(s->fam, s->addr, a, sizeof(a));
	if (asprintf(&body, "Host '%s' is not this listener's: ask for %s%s%s, or start sluiced with --metrics-host NAME\n",
		     shown, s->wildcard ? "one of the node's addresses" : a,
		     s->loopback || s->wildcard ? " or localhost" : "",
		     s->nhosts ? " or a --metrics-host name" : "") < 0)
		return MHD_NO;
	return reply(c, MHD_HTTP_MISDIRECTED_REQUEST, "text/plain; charset=utf-8", body,
		     strlen(body), R_OWNED, false);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version,
			      const char *upload, size_t *upload_len, void **state)
{
	struct metrics_srv *s = cls;
	const struct status_file *sf;
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

	if (!host_ok(s, host))
		return misdirected(s, c, host);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/metrics"))
		return metrics_text(s, c);
	if (!strcmp(url, "/api/status"))
		return status_json(s, c);
	sf = status_file_find(url);
	if (sf)
		return reply(c, MHD_HTTP_OK, sf->type, sf->data, sf->end - sf->data,
			     R_STATIC, true);
	return text(c, MHD_HTTP_NOT_FOUND,
		    "not found: try / (status page), /api/status or /metrics\n");
}

/* "host:port" or "[v6]:port" */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[64];
	const char *colon;
	char *end;
	unsigned long port;

	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - addr - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr + 1, rb - addr - 1);
		host[rb - addr - 1] = 0;
		colon = rb + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr, colon - addr);
		host[colon - addr] = 0;
	}
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*sl = sizeof(struct sockaddr_in);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*sl = sizeof(struct sockaddr_in6);
		return AF_INET6;
	}
	return -EINVAL;
}

/* A connection starts (its deadline with it) or ends. */
static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics_srv *s = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *k = *ctx;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
		k->deadline_ms = mono_ms() + METRICS_DEADLINE_MS;
		pthread_mutex_lock(&s->lock);
		k->next = s->conns;
		if (k->next)
			k->next->pprev = &k->next;
		k->pprev = &s->conns;
		s->conns = k;
		pthread_mutex_unlock(&s->lock);
		*ctx = k;
		return;
	}
	if (!k)
		return;
	pthread_mutex_lock(&s->lock);
	*k->pprev = k->next;
	if (k->next)
		k->next->pprev = k->pprev;
	pthread_mutex_unlock(&s->lock);
	if (k->fd >= 0)
		close(k->fd);
	free(k);
	*ctx = NULL;
}

/* A request was answered: the next one on the connection (keep-alive)
 * has its own deadline. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode toe)
{
	struct metrics_srv *s = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *k;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	k = ci ? ci->socket_context : NULL;
	if (!k)
		return;
	pthread_mutex_lock(&s->lock);
	k->deadline_ms = mono_ms() + METRICS_DEADLINE_MS;
	pthread_mutex_unlock(&s->lock);
}

/* Shut down the connections past their deadline (libmicrohttpd then
 * sees the end and closes them); the earliest deadline still ahead (0:
 * none). Under s->lock. */
static uint64_t cut_late(struct metrics_srv *s, uint64_t now)
{
	uint64_t next = 0;
	struct conn *k;

	for (k = s->conns; k; k = k->next) {
		if (k->cut || k->fd < 0)
			continue;
		if (now > k->deadline_ms) {
			shutdown(k->fd, SHUT_RDWR);
			k->cut = true;
		} else if (!next || k->deadline_ms + 1 < next) {
			next = k->deadline_ms + 1;
		}
	}
	return next;
}

/* Every half second (the threaded listener's watchdog). */
static void *watchdog(void *arg)
{
	struct metrics_srv *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		cut_late(s, mono_ms());
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 500000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int wd_start(struct metrics_srv *s)
{
	pthread_condattr_t ca;
	int e;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	e = pthread_create(&s->wd, NULL, watchdog, s);
	if (e) {
		pthread_cond_destroy(&s->wake);
		errno = e;
		return -e;
	}
	s->wd_on = true;
	return 0;
}

static void wd_stop(struct metrics_srv *s)
{
	if (!s->wd_on)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->wd, NULL);
	pthread_cond_destroy(&s->wake);
	s->wd_on = false;
}

/* On the loop: run libmicrohttpd, then arm the timer for its next
 * timeout or the earliest request deadline. */
static void mhd_run(struct metrics_srv *s)
{
	MHD_UNSIGNED_LONG_LONG to;
	uint64_t now, at;

	MHD_run(s->d);
	now = mono_ms();
	pthread_mutex_lock(&s->lock);
	at = cut_late(s, now);
	pthread_mutex_unlock(&s->lock);
	if (MHD_get_timeout(s->d, &to) == MHD_YES && (!at || now + to < at))
		at = now + to;
	if (at)
		sched_timer_arm(s->sched, &s->timer, at);
	else
		sched_timer_stop(s->sched, &s->timer);
}

static void on_mhd_fd(void *arg, int fd, uint32_t events)
{
	mhd_run(arg);
}

static void on_mhd_timer(void *arg)
{
	mhd_run(arg);
}

static struct metrics_srv *start(struct sched *sched, const char *addr, char *err,
				 size_t errlen)
{
	struct metrics_srv *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fam;
	unsigned int flags = (sched ? 0 : MHD_USE_INTERNAL_POLLING_THREAD) | MHD_USE_EPOLL;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fam = parse_addr(addr, &ss, &sl);
	if (fam < 0) {
		snprintf(err, errlen, "metrics address '%s': want HOST:PORT or [V6]:PORT "
			 "with a numeric address", addr);
		free(s);
		return NULL;
	}
	s->fam = fam;
	if (fam == AF_INET6) {
		flags |= MHD_USE_IPv6;
		memcpy(s->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		s->wildcard = IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)s->addr);
		s->loopback = IN6_IS_ADDR_LOOPBACK((struct in6_addr *)s->addr);
	} else {
		memcpy(s->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		s->wildcard = s->addr[0] == 0 && s->addr[1] == 0 && s->addr[2] == 0 && s->addr[3] == 0;
		s->loopback = s->addr[0] == 127;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->sched = sched;
	s->mhd_fd = -1;
	if (!sched && wd_start(s)) {
		snprintf(err, errlen, "cannot start the /metrics watchdog: %s", strerror(errno));
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, METRICS_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, METRICS_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, METRICS_IDLE_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s for /metrics (in use?)", addr);
		wd_stop(s);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	if (sched) {
		int e;

		info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
		e = info ? sched_fd_set(sched, info->epoll_fd, EPOLLIN, on_mhd_fd, s) : -EINVAL;
		if (e) {
			snprintf(err, errlen, "cannot poll the /metrics listener: %s", strerror(-e));
			MHD_stop_daemon(s->d);
			pthread_mutex_destroy(&s->lock);
			free(s);
			return NULL;
		}
		s->mhd_fd = info->epoll_fd;
		sched_timer_init(&s->timer, on_mhd_timer, s);
	}
	return s;
}

struct metrics_srv *metrics_srv_start(const char *addr, char *err, size_t errlen)
{
	return start(NULL, addr, err, errlen);
}

struct metrics_srv *metrics_srv_start_on(struct sched *sched, const char *addr, char *err,
					 size_t errlen)
{
	return start(sched, addr, err, errlen);
}

unsigned short metrics_srv_port(const struct metrics_srv *s)
{
	return s->port;
}

void metrics_srv_publish(struct metrics_srv *s, struct metrics_snapshot *m)
{
	struct metrics_snapshot *old;

	if (m)
		m->refs = 1;
	pthread_mutex_lock(&s->lock);
	old = s->cur;
	s->cur = m;
	s->published_ms = steady_ms();
	pthread_mutex_unlock(&s->lock);
	unref(s, old);
}

void metrics_srv_on_demand(struct metrics_srv *s, void (*build)(void *arg), void *arg)
{
	s->build = build;
	s->build_arg = arg;
}

void metrics_srv_stop(struct metrics_srv *s)
{
	if (!s)
		return;
	wd_stop(s);
	if (s->sched) {
		sched_timer_stop(s->sched, &s->timer);
		sched_fd_del(s->sched, s->mhd_fd);
	}
	MHD_stop_daemon(s->d);
	metrics_srv_publish(s, NULL);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
