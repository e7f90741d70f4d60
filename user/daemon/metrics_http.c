// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's HTTP listener: /metrics and the status page (/, its script
 * and styles, /api/status), libmicrohttpd with its own polling thread. The
 * loop publishes snapshots; a request takes a reference to the current one
 * under a mutex held for a pointer copy. /metrics renders the snapshot's
 * text on the HTTP thread the first time and keeps it with the snapshot,
 * so further scrapes of it (several Prometheus servers, a retry) only send
 * it; the response holds the reference until libmicrohttpd has sent it.
 * /api/status copies the document the loop built.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include "clock.h"
#include "metrics.h"

struct metrics_srv {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	struct metrics_snapshot *cur;
	unsigned short port;
	uint64_t status_asked_ms;	/* last /api/status (steady_ms), under lock */
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

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version,
			      const char *upload, size_t *upload_len, void **state)
{
	struct metrics_srv *s = cls;
	const struct status_file *sf;

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

struct metrics_srv *metrics_srv_start(const char *addr, char *err, size_t errlen)
{
	struct metrics_srv *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fam;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

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
	if (fam == AF_INET6)
		flags |= MHD_USE_IPv6;
	pthread_mutex_init(&s->lock, NULL);
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, 64u,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s for /metrics (in use?)", addr);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
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
	pthread_mutex_unlock(&s->lock);
	unref(s, old);
}

void metrics_srv_stop(struct metrics_srv *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	metrics_srv_publish(s, NULL);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
