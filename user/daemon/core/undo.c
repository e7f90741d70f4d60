// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rollback window (issue 21, section 4; Argo Rollouts keeps one): when
 * sluiced promotes, the baseline pool that the promotion replaces is kept
 * in its state database (meta "kept:SERVICE": the pool's backend records,
 * the rollout id, until when) for the plan's rollback_window. It carries
 * no traffic: the maps hold only the promoted pool (the datapath's retired
 * records keep the old baseline's established flows, as after any pool
 * change). `sluice rollout undo SERVICE` is an engine command
 * (ENG_CMD_UNDO) whose action (ENG_ACT_UNDO) goes through the outbox like
 * every other: the kept pool becomes the baseline again, the promoted pool
 * the canary at weight 0, one atomic put; the local promotion record is
 * dropped (re-applying the file then gives what it says). When the window
 * ends, or another rollout of the service starts, the kept pool is
 * removed and the audit trail says so.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "sluiced.h"

struct kept {
	char service[SLUICE_NAME_LEN];
	__u64 rollout_id, until_ms;
	unsigned int n;
};

/* the module's state (d->mod[MOD_UNDO]) */
struct kept_set {
	bool loaded;
	__u64 last_ms;
	unsigned int n;
	struct kept *k;
};

static void key_of(char *buf, size_t len, const char *service)
{
	snprintf(buf, len, "kept:%s", service);
}

static void hex(char *out, const __u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int unhex(const char *s, __u8 *p, size_t n)
{
	size_t i;
	unsigned int x;

	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &x) != 1)
			return -EINVAL;
		p[i] = x;
	}
	return 0;
}

static struct kept_set *set_of(struct daemon *d)
{
	if (!d->mod[MOD_UNDO])
		d->mod[MOD_UNDO] = calloc(1, sizeof(struct kept_set));
	return d->mod[MOD_UNDO];
}

static struct kept *find(struct kept_set *K, const char *service)
{
	unsigned int i;

	for (i = 0; K && i < K->n; i++)
		if (!strcmp(K->k[i].service, service))
			return &K->k[i];
	return NULL;
}

static struct kept *track(struct kept_set *K, const char *service)
{
	struct kept *k = find(K, service), *n;

	if (k || !K)
		return k;
	n = realloc(K->k, (K->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	K->k = n;
	k = &K->k[K->n++];
	memset(k, 0, sizeof(*k));
	snprintf(k->service, sizeof(k->service), "%s", service);
	return k;
}

void kept_save(struct daemon *d, struct rollout *r, const struct sluice_pool_spec *pool)
{
	json_t *o, *arr;
	struct kept *k;
	char key[SLUICE_NAME_LEN + 8], *js;
	unsigned int i;

	if (!d->db || !r->plan || !r->plan->rollback_window_ms || !pool->n)
		return;
	arr = json_array();
	for (i = 0; i < pool->n; i++) {
		const struct sluice_backend_spec *b = &pool->be[i];
		char a[33], m[13] = "";

		hex(a, b->addr.bytes, 16);
		if (b->has_mac)
			hex(m, b->mac, 6);
		json_array_append_new(arr, json_pack("{s:i, s:s, s:i, s:I, s:b, s:s, s:s}",
			"family", b->family, "addr", a, "port", b->port,
			"weight", (json_int_t)b->weight, "draining", b->draining,
			"mac", m, "dev", b->dev));
	}
	o = json_pack("{s:I, s:I, s:o}", "rollout_id", (json_int_t)r->st.rollout_id,
		      "until_ms", (json_int_t)(steady_ms() + r->plan->rollback_window_ms),
		      "backends", arr);
	js = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	key_of(key, sizeof(key), r->service);
	if (!js || store_meta_set(d->db, key, js)) {
		dlog(d, LOG_ERR_, "%s: cannot keep the previous baseline pool for undo: %s",
		     r->service, js ? store_errmsg(d->db) : "out of memory");
		free(js);
		return;
	}
	free(js);
	k = track(set_of(d), r->service);
	if (k) {
		k->rollout_id = r->st.rollout_id;
		k->until_ms = steady_ms() + r->plan->rollback_window_ms;
		k->n = pool->n;
	}
	dlog(d, LOG_INFO_, "%s: the previous baseline pool (%u backends) is kept for undo until the rollback window ends",
	     r->service, pool->n);
}

/* The kept pool of service (0), -ENOENT none, -EINVAL unreadable. */
int kept_load(struct daemon *d, const char *service, struct sluice_pool_spec *pool,
	      __u64 *rollout_id, __u64 *until_ms)
{
	char key[SLUICE_NAME_LEN + 8], *v = NULL;
	json_t *o, *arr, *b;
	json_int_t rid = 0, until = 0;
	size_t i;
	int err = 0;

	key_of(key, sizeof(key), service);
	if (!d->db || store_meta_get(d->db, key, &v) || !v) {
		free(v);
		return -ENOENT;
	}
	o = json_loads(v, 0, NULL);
	free(v);
	if (!o || json_unpack(o, "{s:I, s:I, s:o}", "rollout_id", &rid, "until_ms", &until,
			      "backends", &arr) || !json_is_array(arr) ||
	    json_array_size(arr) > SLUICE_POOL_MAX) {
		json_decref(o);
		return -EINVAL;
	}
	memset(pool, 0, sizeof(*pool));
	json_array_foreach(arr, i, b) {
		struct sluice_backend_spec *s = &pool->be[i];
		const char *a = "", *m = "", *dev = "";
		int fam = 0, port = 0, dr = 0;
		json_int_t w = 0;

		if (json_unpack(b, "{s:i, s:s, s:i, s:I, s:b, s:s, s:s}", "family", &fam,
				"addr", &a, "port", &port, "weight", &w, "draining", &dr,
				"mac", &m, "dev", &dev) ||
		    unhex(a, s->addr.bytes, 16) || (*m && unhex(m, s->mac, 6)) ||
		    strlen(dev) >= sizeof(s->dev)) {
			err = -EINVAL;
			break;
		}
		s->family = fam;
		s->port = port;
		s->weight = w;
		s->draining = dr;
		s->has_mac = *m;
		snprintf(s->dev, sizeof(s->dev), "%s", dev);
		pool->n++;
	}
	json_decref(o);
	if (rollout_id)
		*rollout_id = rid;
	if (until_ms)
		*until_ms = until;
	return err;
}

/* ENG_ACT_UNDO (actuate.c): 1 done, 0 already so, -errno with why. */
int kept_undo(struct daemon *d, struct rollout *r, char *why, size_t len)
{
	struct sluice_pool_spec *pool = malloc(sizeof(*pool));
	struct sluice_service_spec *sp = sluice_spec_new();
	__u64 rid = 0;
	int err, i;

	err = !pool || !sp ? -ENOMEM : kept_load(d, r->service, pool, &rid, NULL);
	if (!err && rid != r->st.rollout_id)
		err = -ENOENT;
	if (err) {
		snprintf(why, len, "%s", err == -ENOMEM ? "out of memory" :
			 err == -EINVAL ? "the kept baseline pool is unreadable" :
			 "no baseline pool is kept for this promotion (the window ended)");
		goto out;
	}
	err = sluice_service_get(d->s, r->service, sp);
	if (err) {
		snprintf(why, len, "%s", sluice_errmsg(d->s));
		goto out;
	}
	if (sluice_pool_identity(&sp->pool[SLUICE_BASELINE], NULL) ==
	    sluice_pool_identity(pool, NULL)) {
		err = 0;	/* undone already (a replay) */
		goto out;
	}
	sp->pool[SLUICE_CANARY] = sp->pool[SLUICE_BASELINE];
	sp->pool[SLUICE_BASELINE] = *pool;
	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		sp->weight[i] = 0;
	sp->lkg = SLUICE_BASELINE;
	/*
	 * Live flows on the promoted pool (now the canary at 0 %): new
	 * flows go to the baseline at once; established ones stay where
	 * they are. The rollback's live-flow option (issue 21, section 1:
	 * keep, reset, drain) applies here when it lands.
	 */
	err = sluice_service_put(d->s, sp);
	if (err) {
		snprintf(why, len, "%s", sluice_errmsg(d->s));
		goto out;
	}
	if (sluice_promotion_del(d->s, r->service))
		dlog(d, LOG_WARN_, "%s: %s", r->service, sluice_errmsg(d->s));
	err = 1;
out:
	free(pool);
	sluice_spec_free(sp);
	return err;
}

static void drop(struct daemon *d, struct kept_set *K, unsigned int i, const char *why)
{
	struct kept *k = &K->k[i];
	char key[SLUICE_NAME_LEN + 8], text[256];

	key_of(key, sizeof(key), k->service);
	if (store_meta_del(d->db, key)) {
		dlog(d, LOG_ERR_, "%s: cannot remove the kept baseline pool: %s", k->service,
		     store_errmsg(d->db));
		return;
	}
	snprintf(text, sizeof(text),
		 "the previous baseline pool (%u backends) kept for undo is removed: %s",
		 k->n, why);
	dlog(d, LOG_INFO_, "%s: %s", k->service, text);
	audit_note(d, k->service, k->rollout_id, "window_end", "sluiced", text);
	K->k[i] = K->k[--K->n];
}

/* Once a second: kept pools whose window ended, or whose service started
 * another rollout, are removed. */
void kept_tick(struct daemon *d, __u64 now)
{
	struct kept_set *K;
	struct sluice_pool_spec *pool;
	unsigned int i;

	if (!d->db || !(K = set_of(d)) || now - K->last_ms < 1000)
		return;
	K->last_ms = now;
	if (!K->loaded && (pool = malloc(sizeof(*pool)))) {
		K->loaded = true;	/* what an earlier run kept */
		for (i = 0; i < d->nro; i++) {
			struct kept *k;
			__u64 rid, until;

			if (kept_load(d, d->ro[i]->service, pool, &rid, &until) ||
			    !(k = track(K, d->ro[i]->service)))
				continue;
			k->rollout_id = rid;
			k->until_ms = until;
			k->n = pool->n;
		}
		free(pool);
	}
	for (i = 0; i < K->n;) {
		struct rollout *r = ro_find(d, K->k[i].service);

		if (now >= K->k[i].until_ms)
			drop(d, K, i, "the rollback window ended");
		else if (!r || r->st.rollout_id != K->k[i].rollout_id)
			drop(d, K, i, "another rollout of the service began");
		else
			i++;
	}
}

void kept_free(struct daemon *d)
{
	struct kept_set *ks = d->mod[MOD_UNDO];

	if (ks)
		free(ks->k);
	free(ks);
	d->mod[MOD_UNDO] = NULL;
}
