/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus instant queries for gates: template expansion, the HTTP API's
 * answer parsed into one number, and the asynchronous query itself (over
 * httpc). Every way a measurement can fail is an error with a reason:
 * unreachable, timeout, non-200, status other than "success", an empty
 * result, several series where one was expected, NaN or an infinity, an
 * answer that is not the API's JSON. None of them is ever a value.
 */
#ifndef SLUICED_PROM_H
#define SLUICED_PROM_H

#include <stddef.h>
#include <stdint.h>
#include "httpc.h"
#include "plan.h"

struct prom_result {
	int err;		/* 0: value is a finite number; else -errno */
	double value;
	unsigned int nseries;	/* series in the answer */
	double elapsed_ms;
	char reason[200];	/* what went wrong, when err */
};

/* Templates: sluice_query_expand (plan.h). */

/* The URL of an instant query: base (http://host:port[/prefix]) +
 * /api/v1/query?query=<url-encoded>&timeout=<s>. Returns -ENOMEM/-E2BIG. */
int prom_query_url(const char *base, const char *query, unsigned int timeout_ms,
		   char *out, size_t outlen);

/* Parse an HTTP answer of /api/v1/query (status is the HTTP status). A
 * scalar or a vector of exactly one sample is a value. */
void prom_parse(long status, const char *body, size_t len,
		struct prom_result *r);

typedef void (*prom_cb)(const struct prom_result *r, void *arg);

/*
 * Start an instant query of an expanded PromQL expression. cb runs once,
 * from httpc_dispatch, or with err -ECANCELED from httpc_cancel/httpc_free
 * (then it may only release arg). Returns the httpc request id or -errno.
 */
int64_t prom_query_start(struct httpc *c, const char *base, const char *query,
			 unsigned int timeout_ms, prom_cb cb, void *arg);

#endif
