/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Asynchronous HTTP requests (libcurl's multi interface) for sluiced:
 * Prometheus queries and notification POSTs. Nothing here blocks: curl's
 * sockets and timer are registered on a scheduler (scheduler.h). In the
 * daemon that is the one loop (httpc_new_on(d->sched)): completion
 * callbacks run from its dispatch, on the loop's thread. httpc_new makes
 * a private scheduler instead, exposed as one file descriptor: an outer
 * loop polls it and calls httpc_dispatch() when it is readable.
 * Requests go straight to the URL's host: the environment's http_proxy,
 * HTTPS_PROXY and ALL_PROXY are ignored.
 */
#ifndef SLUICED_HTTPC_H
#define SLUICED_HTTPC_H

#include <stddef.h>
#include <stdint.h>

struct httpc;

struct httpc_reply {
	int err;		/* 0, or -errno: transport failure (see reason) */
	long status;		/* HTTP status; 0 when there was no answer */
	const char *body;	/* NUL-terminated, len bytes (valid in the cb) */
	size_t len;
	double elapsed_ms;	/* from the start call to completion */
	const char *reason;	/* transport failure as a sentence, or "" */
};

typedef void (*httpc_cb)(const struct httpc_reply *r, void *arg);

/* Answers above this size are cut off and reported as an error. */
#define HTTPC_MAX_BODY	(1u << 20)

struct sched;
struct httpc *httpc_new_on(struct sched *s);
struct httpc *httpc_new(void);	/* on a private scheduler */
void httpc_free(struct httpc *c);	/* cancels pending requests */
int httpc_fd(const struct httpc *c);
/* Drive transfers; run callbacks of finished ones. Returns how many
 * finished, or -errno. Safe to call when nothing is ready. Only for a
 * client on its private scheduler (httpc_new): on a shared one it would
 * dispatch everything registered there. */
int httpc_dispatch(struct httpc *c);
/* Requests in flight. */
unsigned int httpc_pending(const struct httpc *c);

/*
 * Start a GET (body NULL) or a POST of body with content_type. The
 * callback runs exactly once: from httpc_dispatch (never from inside this
 * call), or with err -ECANCELED from httpc_cancel/httpc_free (then it may
 * only release arg). Returns a request id > 0, or -errno.
 */
int64_t httpc_start(struct httpc *c, const char *url, const char *body,
		    const char *content_type, unsigned int timeout_ms,
		    httpc_cb cb, void *arg);
/*
 * A streaming POST (etcd's watch): each complete '\n'-terminated line of
 * the answer goes to line_cb as it arrives (NUL-terminated, without the
 * newline); cb runs once when the stream ends, fails or is cancelled (its
 * body is the unfinished rest). No overall timeout, only the connect one.
 */
typedef void (*httpc_line_cb)(const char *line, size_t len, void *arg);
int64_t httpc_stream(struct httpc *c, const char *url, const char *body,
		     unsigned int connect_timeout_ms, httpc_line_cb line_cb,
		     httpc_cb cb, void *arg);
/* TLS for every later request of this client: ca (PEM file of the CAs
 * to trust instead of the system's), cert and key (PEM files of a client
 * certificate); NULL for none. Returns 0 or -ENOMEM. */
int httpc_tls(struct httpc *c, const char *ca, const char *cert, const char *key);
/* Cancel a request (its callback sees -ECANCELED). Unknown id: no-op. */
void httpc_cancel(struct httpc *c, int64_t id);

#endif
