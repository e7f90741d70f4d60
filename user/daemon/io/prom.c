// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prometheus instant queries: templates, the API's answer, async queries. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include "prom.h"
#include "input_limits.h"

static int fail(struct prom_result *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct prom_result *r, int err, const char *fmt, ...)
{
	va_list ap;

	r->err = err;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return err;
}

int prom_query_url(const char *base, const char *query, unsigned int timeout_ms,
		   char *out, size_t outlen)
{
	char *q = curl_easy_escape(NULL, query, 0);
	size_t blen = strlen(base);
	int n;

	if (!q)
		return -ENOMEM;
	while (blen && base[blen - 1] == '/')
		blen--;
	n = snprintf(out, outlen, "%.*s/api/v1/query?query=%s&timeout=%ums",
		     (int)blen, base, q, timeout_ms);
	curl_free(q);
	return n < 0 || (size_t)n >= outlen ? -E2BIG : 0;
}

/* [<time>, "<number>"]: the number, or an error. */
static int sample_value(json_t *pair, struct prom_result *r)
{
	const char *s;
	char *end;
	double d;

	if (!json_is_array(pair) || json_array_size(pair) != 2 ||
	    !json_is_string(json_array_get(pair, 1)))
		return fail(r, -EBADMSG, "sample is not [time, \"value\"]");
	s = json_string_value(json_array_get(pair, 1));
	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end)
		return fail(r, -EBADMSG, "sample value \"%.40s\" is not a number", s);
	if (isnan(d))
		return fail(r, -EDOM, "value is NaN (a ratio of zero by zero? "
			    "no traffic in the window)");
	if (isinf(d))
		return fail(r, -EDOM, "value is %cInf (a division by zero?)",
			    d < 0 ? '-' : '+');
	r->value = d;
	r->err = 0;
	return 0;
}

void prom_parse(long status, const char *body, size_t len,
		struct prom_result *r)
{
	json_t *root, *data, *res;
	json_error_t je;
	const char *st, *type;

	r->err = 0;
	r->value = 0;
	r->nseries = 0;
	r->reason[0] = 0;
	/* bounded before jansson sees it (input_limits.h) */
	if (sluice_json_limits(body, len, SLUICE_JSON_MAX_BYTES, "answer", r->reason,
			       sizeof(r->reason))) {
		r->err = -EBADMSG;
		return;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		if (status != 200)
			fail(r, -EPROTO, "HTTP %ld from Prometheus", status);
		else if (!root)
			fail(r, -EBADMSG, "answer is not JSON: %s at %d:%d",
			     je.text, je.line, je.column);
		else
			fail(r, -EBADMSG, "answer is not a JSON object");
		goto out;
	}
	st = json_string_value(json_object_get(root, "status"));
	if (status != 200 || !st || strcmp(st, "success")) {
		const char *et = json_string_value(json_object_get(root, "errorType"));
		const char *em = json_string_value(json_object_get(root, "error"));

		if (status != 200)
			fail(r, -EPROTO, "HTTP %ld from Prometheus: %s: %.120s",
			     status, et ? et : "error", em ? em : "(no message)");
		else
			fail(r, -EPROTO, "status \"%s\": %s: %.120s",
			     st ? st : "(missing)", et ? et : "error",
			     em ? em : "(no message)");
		goto out;
	}
	data = json_object_get(root, "data");
	type = json_string_value(json_object_get(data, "resultType"));
	res = json_object_get(data, "result");
	if (!json_is_object(data) || !type || !res) {
		fail(r, -EBADMSG, "answer has no data.resultType/data.result");
		goto out;
	}
	if (!strcmp(type, "scalar")) {
		r->nseries = 1;
		sample_value(res, r);
		goto out;
	}
	if (strcmp(type, "vector")) {
		fail(r, -EBADMSG, "result type \"%.20s\" (want an instant vector "
		     "or a scalar)", type);
		goto out;
	}
	if (!json_is_array(res)) {
		fail(r, -EBADMSG, "data.result is not a list");
		goto out;
	}
	r->nseries = json_array_size(res);
	if (r->nseries == 0) {
		fail(r, -ENODATA, "empty result: no series matched (no traffic, "
		     "or a wrong label?)");
		goto out;
	}
	if (r->nseries > 1) {
		fail(r, -ERANGE, "%u series where one was expected (aggregate "
		     "with sum() or narrow the labels)", r->nseries);
		goto out;
	}
	if (!json_is_object(json_array_get(res, 0))) {
		fail(r, -EBADMSG, "series is not an object");
		goto out;
	}
	sample_value(json_object_get(json_array_get(res, 0), "value"), r);
out:
	json_decref(root);
}

struct prom_call {
	prom_cb cb;
	void *arg;
};

static void on_reply(const struct httpc_reply *h, void *arg)
{
	struct prom_call *pc = arg;
	struct prom_result r = { 0 };

	if (h->err == -ECANCELED) {
		fail(&r, -ECANCELED, "cancelled");
	} else if (h->err) {
		fail(&r, h->err, "Prometheus %s: %s",
		     h->err == -ETIMEDOUT ? "timed out" : "unreachable", h->reason);
	} else {
		prom_parse(h->status, h->body, h->len, &r);
	}
	r.elapsed_ms = h->elapsed_ms;
	pc->cb(&r, pc->arg);
	free(pc);
}

int64_t prom_query_start(struct httpc *c, const char *base, const char *query,
			 unsigned int timeout_ms, prom_cb cb, void *arg)
{
	struct prom_call *pc = malloc(sizeof(*pc));
	char url[16384];
	int64_t id;
	int err;

	if (!pc)
		return -ENOMEM;
	err = prom_query_url(base, query, timeout_ms, url, sizeof(url));
	if (err) {
		free(pc);
		return err;
	}
	pc->cb = cb;
	pc->arg = arg;
	id = httpc_start(c, url, NULL, NULL, timeout_ms, on_reply, pc);
	if (id < 0)
		free(pc);
	return id;
}
