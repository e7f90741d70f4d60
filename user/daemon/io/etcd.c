// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * etcd v3 through its JSON gateway: requests as JSON objects, answers
 * parsed here, gRPC errors ({"error", "code"}) turned into sentences.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "etcd.h"


static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

json_t *etcd_b64(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(4 * (n / 3 + 1) + 1);
	json_t *j;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned int v = (unsigned char)s[i] << 16 |
				 (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i == 1) {
		unsigned int v = (unsigned char)s[i] << 16;

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		unsigned int v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8;

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = 0;
	j = json_string(out);
	free(out);
	return j;
}

int etcd_unb64(const char *in, char *out, size_t outlen)
{
	unsigned int acc = 0, bits = 0;
	size_t o = 0;
	const char *p;

	for (p = in; *p && *p != '='; p++) {
		const char *c = strchr(b64, *p);

		if (!c || !*p)
			return -1;
		acc = acc << 6 | (unsigned int)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out[o] = 0;
	return (int)o;
}

int64_t etcd_int(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return json_integer_value(v);
	return 0;
}

int etcd_kv_get(json_t *kv, char *key, size_t klen, char *val, size_t vlen)
{
	const char *k = json_string_value(json_object_get(kv, "key"));
	const char *v = json_string_value(json_object_get(kv, "value"));

	if (!k || etcd_unb64(k, key, klen) < 0)
		return -EINVAL;
	if (!v)
		v = "";		/* an empty value is left out */
	return etcd_unb64(v, val, vlen) < 0 ? -EINVAL : 0;
}

int etcd_range_each(json_t *reply, etcd_event_cb ev, void *arg)
{
	char key[512], *val = malloc(ETCD_MAX_VALUE);
	json_t *kv;
	size_t i;
	int n = 0;

	if (!val)
		return -ENOMEM;
	json_array_foreach(json_object_get(reply, "kvs"), i, kv)
		if (!etcd_kv_get(kv, key, sizeof(key), val, ETCD_MAX_VALUE)) {
			ev(key, val, kv, arg);
			n++;
		}
	free(val);
	return n;
}

json_t *etcd_req_put(const char *key, const char *value, int64_t lease)
{
	json_t *o = json_pack("{s:o, s:o}", "key", etcd_b64(key), "value",
			      etcd_b64(value));

	if (o && lease)
		json_object_set_new(o, "lease", json_integer(lease));
	return o;
}

/* [prefix, prefix with its last byte + 1): every key under it */
static json_t *range_end(const char *prefix)
{
	char end[512];
	size_t n = strlen(prefix);

	if (!n || n >= sizeof(end))
		return NULL;
	memcpy(end, prefix, n + 1);
	end[n - 1]++;
	return etcd_b64(end);
}

json_t *etcd_req_range_prefix(const char *prefix)
{
	return json_pack("{s:o, s:o}", "key", etcd_b64(prefix), "range_end",
			 range_end(prefix));
}

json_t *etcd_cmp(const char *key, const char *target, int64_t v)
{
	const char *field = !strcmp(target, "CREATE") ? "create_revision" :
			    !strcmp(target, "MOD") ? "mod_revision" : "version";

	return json_pack("{s:o, s:s, s:s, s:I}", "key", etcd_b64(key), "target",
			 target, "result", "EQUAL", field, (json_int_t)v);
}

int etcd_init(struct etcd *e, struct httpc *hc, const char *urls, char *err,
	      size_t errlen)
{
	const char *p = urls, *end;
	size_t n, sch;

	memset(e, 0, sizeof(*e));
	e->hc = hc;
	for (;;) {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		while (n && p[n - 1] == '/')
			n--;
		if (e->n == ETCD_MAX_ENDPOINTS) {
			snprintf(err, errlen, "--etcd: more than %d endpoints", ETCD_MAX_ENDPOINTS);
			return -EINVAL;
		}
		sch = !strncmp(p, "http://", 7) ? 7 : !strncmp(p, "https://", 8) ? 8 : 0;
		if (!sch || n <= sch || n >= sizeof(e->url[0]) || memchr(p + sch, '/', n - sch)) {
			snprintf(err, errlen, "--etcd: endpoint %u ('%.*s') is not an http(s)://HOST:PORT URL",
				 e->n + 1, (int)(n > 200 ? 200 : n), p);
			return -EINVAL;
		}
		memcpy(e->url[e->n], p, n);
		e->url[e->n++][n] = 0;
		if (!end)
			return 0;
		p = end + 1;
	}
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->url[e->cur];
}

struct call {
	struct etcd *e;
	unsigned int ep;	/* the endpoint it went to */
	etcd_cb cb;
	etcd_event_cb ev;
	etcd_batch_cb batch;
	void *arg;
};

/* The endpoint failed this call: the next request tries the next one
 * (unless another failure moved on already). */
static void failed_over(struct call *c)
{
	struct etcd *e = c->e;

	if (e->n > 1 && e->cur == c->ep) {
		e->cur = (e->cur + 1) % e->n;
		e->switches++;
	}
}

static void on_reply(const struct httpc_reply *r, void *arg)
{
	struct call *c = arg;
	json_t *j = NULL, *e;
	char why[512];

	if (r->err) {
		snprintf(why, sizeof(why), "%s: %s", c->e->url[c->ep],
			 r->reason[0] ? r->reason : strerror(-r->err));
		if (r->err != -ECANCELED)	/* not the endpoint's doing */
			failed_over(c);
		goto fail;
	}
	j = json_loadb(r->body, r->len, 0, NULL);
	if (r->status != 200 || !json_is_object(j)) {
		e = json_object_get(j, "error");
		snprintf(why, sizeof(why), "%s answered HTTP %ld%s%s", c->e->url[c->ep], r->status,
			 json_is_string(e) ? ": " : "", json_is_string(e) ? json_string_value(e) : "");
		if (r->status >= 500)	/* a member without quorum, restarting */
			failed_over(c);
		goto fail;
	}
	c->cb(j, "", c->arg);
	json_decref(j);
	free(c);
	return;
fail:
	json_decref(j);
	c->cb(NULL, why, c->arg);
	free(c);
}

int64_t etcd_call(struct etcd *e, const char *path, json_t *body,
		  unsigned int timeout_ms, etcd_cb cb, void *arg)
{
	struct call *c = calloc(1, sizeof(*c));
	char url[320], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int64_t id;

	json_decref(body);
	if (!c || !text) {
		free(c);
		free(text);
		return -ENOMEM;
	}
	c->e = e;
	c->ep = e->cur;
	c->cb = cb;
	c->arg = arg;
	snprintf(url, sizeof(url), "%s%s", e->url[e->cur], path);
	id = httpc_start(e->hc, url, text, "application/json", timeout_ms, on_reply, c);
	free(text);
	if (id < 0)
		free(c);
	else
		e->requests++;
	return id;
}

/* One line of the watch stream: {"result": {"header", "events": [...]}} */
static void on_watch_line(const char *line, size_t len, void *arg)
{
	struct call *c = arg;
	json_t *j = json_loadb(line, len, 0, NULL), *res, *evs, *ev;
	char key[512], *val = malloc(ETCD_MAX_VALUE);
	size_t i;

	res = json_object_get(j, "result");
	evs = json_object_get(res, "events");
	if (!val || !res)
		goto out;
	if (json_is_true(json_object_get(res, "canceled"))) {
		/* compacted past our revision, or refused: start over */
		c->batch(-1, c->arg);
		goto out;
	}
	json_array_foreach(evs, i, ev) {
		json_t *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		int del = type && !strcmp(type, "DELETE");

		if (etcd_kv_get(kv, key, sizeof(key), val, ETCD_MAX_VALUE))
			continue;
		c->ev(key, del ? NULL : val, kv, c->arg);
	}
	if (json_array_size(evs))
		c->batch(etcd_int(json_object_get(res, "header"), "revision"), c->arg);
out:
	free(val);
	json_decref(j);
}

static void on_watch_end(const struct httpc_reply *r, void *arg)
{
	struct call *c = arg;
	char why[512];

	snprintf(why, sizeof(why), "watch on %s ended: %s", c->e->url[c->ep],
		 r->err ? (r->reason[0] ? r->reason : strerror(-r->err)) : "closed by etcd");
	if (r->err != -ECANCELED)
		failed_over(c);
	c->cb(NULL, why, c->arg);
	free(c);
}

int64_t etcd_watch(struct etcd *e, const char *prefix, int64_t start_rev,
		   etcd_event_cb ev, etcd_batch_cb batch, etcd_cb done,
		   void *arg)
{
	struct call *c = calloc(1, sizeof(*c));
	json_t *req = json_pack("{s:{s:o, s:o, s:I}}", "create_request", "key",
				etcd_b64(prefix), "range_end", range_end(prefix),
				"start_revision", (json_int_t)start_rev);
	char url[320], *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int64_t id;

	json_decref(req);
	if (!c || !text) {
		free(c);
		free(text);
		return -ENOMEM;
	}
	c->e = e;
	c->ep = e->cur;
	c->cb = done;
	c->ev = ev;
	c->batch = batch;
	c->arg = arg;
	snprintf(url, sizeof(url), "%s/v3/watch", e->url[e->cur]);
	id = httpc_stream(e->hc, url, text, 1000, on_watch_line, on_watch_end, c);
	free(text);
	if (id < 0)
		free(c);
	else
		e->requests++;
	return id;
}
