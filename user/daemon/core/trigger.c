// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `trigger: canary-change` (Flagger's way): with --config, a service whose
 * rollout: section says so gets its plan started by the daemon itself
 * whenever its canary pool changes to a non-empty set of active backends
 * other than the last one seen. Once a second the service view's
 * configuration generation is read (no table); only when it moved is the
 * pool read and fingerprinted (address, port, weight of every active
 * backend; health is not part of it). Rules:
 *   - the first look after start-up records the pool as seen and starts
 *     nothing (start-up changes no map)
 *   - an empty pool (a promotion empties it) is seen, never a trigger
 *   - a change while the service's rollout is active is logged and
 *     ignored (seen: it does not start anything when that rollout ends)
 *   - a start while frozen is the engine's: queued until the unfreeze; one
 *     while the service's error budget is exhausted is refused (logged)
 * The last seen fingerprint is kept in the store (meta "trigger:SERVICE").
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sluiced.h"

struct trig {
	char service[SLUICE_NAME_LEN];
	bool looked;			/* seen once since start-up */
	__u32 gen;
	__u64 fp;			/* 0: empty pool */
};

/* the module's state (d->trig) */
struct trigger {
	struct sluice_config *cfg;
	struct timespec cfg_mtime;
	struct trig *trigs;
	unsigned int ntrigs;
	struct sluice_service_spec *spec;
	__u64 last_ms;
};

static struct trig *trig_get(struct trigger *T, const char *service)
{
	struct trig *n;
	unsigned int i;

	for (i = 0; i < T->ntrigs; i++)
		if (!strcmp(T->trigs[i].service, service))
			return &T->trigs[i];
	n = realloc(T->trigs, (T->ntrigs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	T->trigs = n;
	memset(&T->trigs[T->ntrigs], 0, sizeof(*n));
	snprintf(T->trigs[T->ntrigs].service, SLUICE_NAME_LEN, "%s", service);
	return &T->trigs[T->ntrigs++];
}

/* Re-parse --config only when the file changed; a bad file keeps the last
 * good one (start_plan reports it when a start reads it). */
static void cfg_refresh(struct daemon *d)
{
	struct trigger *T = d->trig;
	struct sluice_config *c;
	char err[512];
	struct stat sb;

	if (stat(d->o.config_path, &sb) < 0)
		return;
	if (T->cfg && sb.st_mtim.tv_sec == T->cfg_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == T->cfg_mtime.tv_nsec)
		return;
	T->cfg_mtime = sb.st_mtim;
	c = sluice_config_parse(d->o.config_path, err, sizeof(err));
	if (!c) {
		dlog(d, LOG_WARN_, "trigger: %s", err);
		return;
	}
	sluice_config_free(T->cfg);
	T->cfg = c;
}

static __u64 fnv(__u64 h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 1099511628211ull;
	return h;
}

/* The canary pool's fingerprint; 0 when it has no active backend. */
static __u64 pool_fp(const struct sluice_pool_spec *pool, unsigned int *nactive)
{
	__u64 h = 14695981039346656037ull;
	unsigned int i;

	*nactive = 0;
	for (i = 0; i < pool->n; i++) {
		const struct sluice_backend_spec *b = &pool->be[i];

		if (b->draining)
			continue;
		(*nactive)++;
		h = fnv(h, &b->family, sizeof(b->family));
		h = fnv(h, &b->addr, sizeof(b->addr));
		h = fnv(h, &b->port, sizeof(b->port));
		h = fnv(h, &b->weight, sizeof(b->weight));
	}
	return *nactive ? (h ? h : 1) : 0;
}

static void fp_store(struct daemon *d, const char *service, __u64 fp)
{
	char key[SLUICE_NAME_LEN + 16], v[32];

	snprintf(key, sizeof(key), "trigger:%s", service);
	snprintf(v, sizeof(v), "%016llx", (unsigned long long)fp);
	store_meta_set(d->db, key, v);
}

static bool fp_stored(struct daemon *d, const char *service, __u64 *fp)
{
	char key[SLUICE_NAME_LEN + 16], *v = NULL;
	bool ok;

	snprintf(key, sizeof(key), "trigger:%s", service);
	ok = store_meta_get(d->db, key, &v) == 0 && v;
	if (ok)
		*fp = strtoull(v, NULL, 16);
	free(v);
	return ok;
}

static void trigger_start(struct daemon *d, const char *service, unsigned int n)
{
	char reason[128];
	struct ctl_args a = { .service = service, .who = "trigger: canary-change",
			      .reason = reason };
	struct ctl_result res = { 0 };

	snprintf(reason, sizeof(reason), "the canary pool changed (%u active backends)", n);
	ro_command(d, SLUICE_CTL_START, &a, &res);
	if (res.code != SLUICE_CTL_OK)
		dlog(d, LOG_ERR_, "%s: trigger: canary-change: cannot start the rollout: %s",
		     service, res.error);
	else
		dlog(d, LOG_INFO_, "%s: trigger: canary-change: %s: rollout started",
		     service, reason);
	json_decref(res.data);
}

static void look(struct daemon *d, const char *service)
{
	struct sluice_service_view v = { .id = SLUICE_MAX_SERVICES };
	struct trigger *T = d->trig;
	struct trig *t = trig_get(T, service);
	struct rollout *r;
	unsigned int n;
	__u64 fp, old;

	if (!t || sluice_service_view(d->s, service, &v))
		return;
	if (t->looked && v.gen == t->gen)
		return;
	if (sluice_service_get(d->s, service, T->spec))
		return;
	t->gen = v.gen;
	fp = pool_fp(&T->spec->pool[SLUICE_CANARY], &n);
	if (!t->looked) {
		/* start-up: what is there now is seen, nothing starts */
		t->looked = true;
		t->fp = fp;
		if (!fp_stored(d, service, &old) || old != fp) {
			if (fp_stored(d, service, &old))
				dlog(d, LOG_INFO_, "%s: trigger: the canary pool changed while sluiced was down; seen, not started (start it with 'sluice rollout start %s')",
				     service, service);
			fp_store(d, service, fp);
		}
		return;
	}
	if (fp == t->fp)
		return;
	t->fp = fp;
	fp_store(d, service, fp);
	if (!fp)
		return;		/* emptied (a promotion): not a trigger */
	r = ro_find(d, service);
	if (r && r->st.phase != ENG_NONE && !eng_terminal(r->st.phase)) {
		dlog(d, LOG_WARN_, "%s: trigger: the canary pool changed during rollout %llu (%s): ignored",
		     service, (unsigned long long)r->st.rollout_id,
		     eng_phase_name(r->st.phase));
		return;
	}
	trigger_start(d, service, n);
}

void trigger_tick(struct daemon *d, __u64 now)
{
	struct trigger *T = d->trig;
	unsigned int i;

	if (!d->o.config_path || !d->s)
		return;
	if (!T && !(T = d->trig = calloc(1, sizeof(*T))))
		return;
	if (now - T->last_ms < 1000)
		return;
	T->last_ms = now;
	cfg_refresh(d);
	if (!T->cfg)
		return;
	if (!T->spec && !(T->spec = sluice_spec_new()))
		return;
	for (i = 0; i < T->cfg->nservices; i++) {
		const struct sluice_cfg_service *cs = &T->cfg->services[i];

		if (cs->rollout && cs->rollout->trigger == SLUICE_TRIGGER_CANARY_CHANGE)
			look(d, cs->name);
	}
}

void trigger_free(struct daemon *d)
{
	struct trigger *T = d->trig;

	if (!T)
		return;
	sluice_config_free(T->cfg);
	sluice_spec_free(T->spec);
	free(T->trigs);
	free(T);
	d->trig = NULL;
}
