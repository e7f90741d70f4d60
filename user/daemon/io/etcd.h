/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small etcd v3 client over the JSON gateway of etcd 3.4 (POST
 * /v3/kv/range, /v3/kv/txn, /v3/lease/grant, /v3/lease/keepalive,
 * /v3/watch), on sluiced's asynchronous HTTP client: nothing blocks, every
 * answer arrives in a callback on the loop's thread. Keys and values are
 * base64 on the wire; these helpers take and give plain strings.
 */
#ifndef SLUICED_ETCD_H
#define SLUICED_ETCD_H

#include <stdint.h>
#include <jansson.h>
#include "httpc.h"

#define ETCD_MAX_ENDPOINTS 8

/* The cluster's client URLs: every request goes to the current one; a
 * transport failure or a 5xx answer moves the next request on to the
 * next (leases, revisions and keys are the cluster's, not a member's). */
struct etcd {
	struct httpc *hc;
	char url[ETCD_MAX_ENDPOINTS][256];	/* http(s)://host:port, no trailing slash */
	unsigned int n, cur;
	uint64_t requests;	/* sent, for the status and the benchmark */
	uint64_t switches;	/* moves to another endpoint */
};

/* reply: the parsed answer (borrowed: valid in the callback), NULL on an
 * error; err: why, as a sentence ("" on success). */
typedef void (*etcd_cb)(json_t *reply, const char *err, void *arg);
/* One watch event or range entry: value NULL for a delete; kv the raw
 * entry (mod_revision, create_revision, lease: etcd_int). */
typedef void (*etcd_event_cb)(const char *key, const char *value, json_t *kv,
			      void *arg);
/* End of one watch answer (a batch of events at revision rev); rev -1:
 * etcd cancelled the watch (the caller resyncs; not from inside this
 * callback, which runs inside the transfer). */
typedef void (*etcd_batch_cb)(int64_t rev, void *arg);

/* urls: one client URL or several, comma-separated (http(s)://host:port).
 * Returns 0, or -EINVAL with the reason in err. */
int etcd_init(struct etcd *e, struct httpc *hc, const char *urls, char *err,
	      size_t errlen);
/* The endpoint the next request goes to. */
const char *etcd_endpoint(const struct etcd *e);
/* POST body (taken over) to path; cb exactly once. Returns id > 0 or -errno. */
int64_t etcd_call(struct etcd *e, const char *path, json_t *body,
		  unsigned int timeout_ms, etcd_cb cb, void *arg);
/* Watch every key under prefix from revision start_rev on. done runs
 * when the stream ends (etcd gone, cancelled): the caller resyncs. */
int64_t etcd_watch(struct etcd *e, const char *prefix, int64_t start_rev,
		   etcd_event_cb ev, etcd_batch_cb batch, etcd_cb done,
		   void *arg);

/* Request pieces (new references). */
json_t *etcd_b64(const char *s);
/* Decode base64 text into out (NUL-terminated); -1 when it does not fit
 * or is not base64. */
int etcd_unb64(const char *in, char *out, size_t outlen);
json_t *etcd_req_put(const char *key, const char *value, int64_t lease);
json_t *etcd_req_range_prefix(const char *prefix);
/* {"compare": [...], "success": [...], "failure": [...]} */
json_t *etcd_cmp(const char *key, const char *target, int64_t v);
/* Revision fields arrive as strings ("12"); absent: 0. */
int64_t etcd_int(json_t *o, const char *field);
/* One kv of an answer: key and value decoded into the buffers. */
int etcd_kv_get(json_t *kv, char *key, size_t klen, char *val, size_t vlen);
/* Every kv of a range answer to ev (deletes never appear there). */
int etcd_range_each(json_t *reply, etcd_event_cb ev, void *arg);
#define ETCD_MAX_VALUE	(256 * 1024)

#endif
