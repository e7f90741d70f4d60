// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Asynchronous HTTP client: libcurl's multi interface driven by its socket
 * and timer callbacks through the scheduler (scheduler.h): the daemon's
 * one loop, or a private one whose fd an outer loop polls (httpc_new).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <curl/curl.h>
#include "clock.h"
#include "httpc.h"
#include "scheduler.h"

struct req {
	struct req *next;
	int64_t id;
	CURL *e;
	struct httpc *c;
	char *buf;
	size_t len, cap;
	bool too_big;
	struct curl_slist *hdr;
	struct timespec t0;
	httpc_cb cb;
	httpc_line_cb line_cb;	/* a stream: complete lines go here */
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

struct httpc {
	CURLM *m;
	struct sched *s;
	struct sched *own;	/* httpc_new's private scheduler */
	struct sched_timer timer;	/* curl's */
	unsigned int finished;	/* callbacks run (httpc_dispatch's count) */
	int64_t next_id;
	unsigned int pending;
	struct req *reqs;
	char *tls[3];		/* CA, client certificate, its key (httpc_tls) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int finish_done(struct httpc *c);

/* The scheduler: one of curl's sockets is ready. */
static void on_ready(void *arg, int fd, uint32_t events)
{
	struct httpc *c = arg;
	int running, flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->m, fd, flags, &running);
	finish_done(c);
}

/* The scheduler: curl's timer expired. */
static void on_expiry(void *arg)
{
	struct httpc *c = arg;
	int running;

	curl_multi_socket_action(c->m, CURL_SOCKET_TIMEOUT, 0, &running);
	finish_done(c);
}

/* curl: watch socket s for `what` (or stop watching it). */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp,
		     void *socketp)
{
	struct httpc *c = userp;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		sched_fd_del(c->s, s);
		curl_multi_assign(c->m, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	sched_fd_set(c->s, s, ev, on_ready, c);
	if (!socketp)
		curl_multi_assign(c->m, s, c);
	return 0;
}

/* curl: call socket_action(TIMEOUT) in timeout_ms (-1: never). */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct httpc *c = userp;

	if (timeout_ms < 0)
		sched_timer_stop(c->s, &c->timer);
	else
		sched_timer_arm(c->s, &c->timer, mono_ms() + timeout_ms);
	return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;
	char *nb;

	if (r->len + len > HTTPC_MAX_BODY) {
		r->too_big = true;
		return 0;	/* aborts the transfer */
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;

		while (cap < r->len + len + 1)
			cap *= 2;
		nb = realloc(r->buf, cap);
		if (!nb)
			return 0;
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, len);
	r->len += len;
	r->buf[r->len] = 0;
	if (r->line_cb) {
		/* a stream: hand over each complete line, keep the rest */
		char *start = r->buf, *nl;

		while ((nl = memchr(start, '\n', r->len - (start - r->buf)))) {
			*nl = 0;
			if (nl > start)
				r->line_cb(start, nl - start, r->arg);
			start = nl + 1;
		}
		r->len -= start - r->buf;
		memmove(r->buf, start, r->len + 1);
	}
	return len;
}

struct httpc *httpc_new_on(struct sched *s)
{
	struct httpc *c = calloc(1, sizeof(*c));

	pthread_once(&curl_once, curl_init);
	if (!c || curl_init_rc != CURLE_OK)
		goto fail;
	c->next_id = 1;
	c->s = s;
	if (!s && !(c->s = c->own = sched_new()))
		goto fail;
	sched_timer_init(&c->timer, on_expiry, c);
	c->m = curl_multi_init();
	if (!c->m)
		goto fail;
	curl_multi_setopt(c->m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->m, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(c->m, CURLMOPT_TIMERDATA, c);
	return c;
fail:
	httpc_free(c);
	errno = ENOMEM;
	return NULL;
}

struct httpc *httpc_new(void)
{
	return httpc_new_on(NULL);
}

/* Take r out of the client (no more callbacks from curl about it). */
static void req_unlink(struct httpc *c, struct req *r)
{
	struct req **pp;

	for (pp = &c->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	curl_multi_remove_handle(c->m, r->e);
	c->pending--;
}

static void req_destroy(struct req *r)
{
	curl_easy_cleanup(r->e);
	curl_slist_free_all(r->hdr);
	free(r->buf);
	free(r);
}

static void req_cancel(struct httpc *c, struct req *r)
{
	struct httpc_reply rep = { .err = -ECANCELED, .body = "",
				   .reason = "cancelled" };

	req_unlink(c, r);
	if (r->cb)
		r->cb(&rep, r->arg);
	req_destroy(r);
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	while (c->reqs)
		req_cancel(c, c->reqs);
	if (c->m)
		curl_multi_cleanup(c->m);	/* its sockets leave the scheduler */
	if (c->s)
		sched_timer_stop(c->s, &c->timer);
	sched_free(c->own);
	for (unsigned int i = 0; i < 3; i++)
		free(c->tls[i]);
	free(c);
}

int httpc_tls(struct httpc *c, const char *ca, const char *cert, const char *key)
{
	const char *in[3] = { ca, cert, key };

	for (unsigned int i = 0; i < 3; i++) {
		free(c->tls[i]);
		c->tls[i] = in[i] ? strdup(in[i]) : NULL;
		if (in[i] && !c->tls[i])
			return -ENOMEM;
	}
	return 0;
}

int httpc_fd(const struct httpc *c)
{
	return sched_fd(c->s);
}

unsigned int httpc_pending(const struct httpc *c)
{
	return c->pending;
}

static int64_t start(struct httpc *c, const char *url, const char *body,
		     const char *content_type, unsigned int timeout_ms,
		     httpc_cb cb, httpc_line_cb line_cb, void *arg)
{
	struct req *r = calloc(1, sizeof(*r));
	char ct[128];

	if (!r)
		return -ENOMEM;
	r->c = c;
	r->cb = cb;
	r->line_cb = line_cb;
	r->arg = arg;
	r->e = curl_easy_init();
	if (!r->e) {
		free(r);
		return -ENOMEM;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	curl_easy_setopt(r->e, CURLOPT_URL, url);
	curl_easy_setopt(r->e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->e, CURLOPT_WRITEDATA, r);
	/* a stream runs until cancelled: only its connection is timed */
	curl_easy_setopt(r->e, CURLOPT_TIMEOUT_MS, line_cb ? 0L : (long)timeout_ms);
	curl_easy_setopt(r->e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(r->e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->e, CURLOPT_USERAGENT, "sluiced");
	/* never the environment's http_proxy: a proxy there could forge
	 * Prometheus answers and etcd weights over http:// (no endpoint
	 * has a proxy setting; prober.c does the same) */
	curl_easy_setopt(r->e, CURLOPT_PROXY, "");
	if (c->tls[0])
		curl_easy_setopt(r->e, CURLOPT_CAINFO, c->tls[0]);
	if (c->tls[1]) {
		curl_easy_setopt(r->e, CURLOPT_SSLCERT, c->tls[1]);
		curl_easy_setopt(r->e, CURLOPT_SSLKEY, c->tls[2]);
	}
	if (body) {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 content_type ? content_type : "application/json");
		r->hdr = curl_slist_append(NULL, ct);
		curl_easy_setopt(r->e, CURLOPT_HTTPHEADER, r->hdr);
		curl_easy_setopt(r->e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(r->e, CURLOPT_COPYPOSTFIELDS, body);
	}
	r->id = c->next_id++;
	r->next = c->reqs;
	c->reqs = r;
	c->pending++;
	if (curl_multi_add_handle(c->m, r->e) != CURLM_OK) {
		req_unlink(c, r);
		req_destroy(r);
		return -ENOMEM;
	}
	return r->id;
}

int64_t httpc_start(struct httpc *c, const char *url, const char *body,
		    const char *content_type, unsigned int timeout_ms,
		    httpc_cb cb, void *arg)
{
	return start(c, url, body, content_type, timeout_ms, cb, NULL, arg);
}

int64_t httpc_stream(struct httpc *c, const char *url, const char *body,
		     unsigned int connect_timeout_ms, httpc_line_cb line_cb,
		     httpc_cb cb, void *arg)
{
	return start(c, url, body, NULL, connect_timeout_ms, cb, line_cb, arg);
}

void httpc_cancel(struct httpc *c, int64_t id)
{
	struct req *r;

	for (r = c->reqs; r; r = r->next)
		if (r->id == id) {
			req_cancel(c, r);
			return;
		}
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_WRITE_ERROR:
		return -EFBIG;
	default:
		return -EIO;
	}
}

/* Hand finished transfers to their callbacks. */
static int finish_done(struct httpc *c)
{
	struct httpc_reply rep;
	struct req *r;
	CURLMsg *msg;
	int left, n = 0;
	char why[CURL_ERROR_SIZE + 64];

	while ((msg = curl_multi_info_read(c->m, &left))) {
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		memset(&rep, 0, sizeof(rep));
		curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &rep.status);
		rep.body = r->buf ? r->buf : "";
		rep.len = r->len;
		rep.elapsed_ms = ms_since(&r->t0);
		rep.reason = "";
		if (rc != CURLE_OK) {
			rep.err = curl_errno(rc);
			if (r->too_big)
				snprintf(why, sizeof(why),
					 "answer larger than %u bytes",
					 HTTPC_MAX_BODY);
			else
				snprintf(why, sizeof(why), "%s",
					 r->errbuf[0] ? r->errbuf
						      : curl_easy_strerror(rc));
			rep.reason = why;
		}
		/* unlink first: the callback may start or cancel requests */
		req_unlink(c, r);
		if (r->cb)
			r->cb(&rep, r->arg);
		req_destroy(r);
		n++;
	}
	c->finished += n;
	return n;
}

int httpc_dispatch(struct httpc *c)
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
