// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Applying a whole configuration, and exporting the live one.
 *
 * apply validates everything before the first write: every service spec
 * (sluice_service_check, with ring names resolved to the ids the rings will
 * have), ring overlaps with rings kept live, the order in which changed rings
 * can be written without a transient overlap, capacity. Only then does it
 * change the maps: delete pruned services, delete pruned rings, write changed
 * rings, put changed services one by one (each one atomic swap). Services
 * equal to their live spec are not republished, so a second apply of the same
 * file changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "internal.h"
#include "plan.h"

#define PFX_MAX 8192

struct ring_state {
	char name[SLUICE_RING_NAME_LEN + 1];	/* "" : free */
	unsigned int n;
	struct sluice_prefix *pfx;
	int cfg;				/* index in the config, -1 */
};

struct plan {
	struct ring_state live[SLUICE_MAX_RINGS], want[SLUICE_MAX_RINGS];
	int ring_order[SLUICE_MAX_RINGS], nring_order;	/* ids to write */
	bool ring_del[SLUICE_MAX_RINGS];
	__u32 *live_ids;
	int nlive;
	bool *svc_keep;		/* per live service: in the config */
	enum sluice_change_op *svc_op;	/* per config service */
	/* per config service, opts.promotions: PROMO_KEPT (the file is the
	 * promoted one: applied as promoted) or PROMO_STALE (the file changed
	 * since: applied as written, the record dropped) */
	enum { PROMO_NONE = 0, PROMO_KEPT, PROMO_STALE } *promo;
	struct sluice_promotion *prec;
};

static int cerr(struct sluice *s, const struct sluice_config *c,
		struct sluice_cfg_pos pos, int err, const char *msg)
{
	if (pos.line)
		return sluice_seterr(s, err, "%s:%u:%u: %s", c->source, pos.line,
				     pos.col, msg);
	return sluice_seterr(s, err, "%s: %s", c->source, msg);
}

static bool pfx_equal(const struct sluice_prefix *a, const struct sluice_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static bool same_set(const struct ring_state *a, const struct sluice_prefix *p,
		     unsigned int n)
{
	unsigned int i, j;

	if (a->n != n)
		return false;
	for (i = 0; i < n; i++) {
		for (j = 0; j < a->n; j++)
			if (pfx_equal(&p[i], &a->pfx[j]))
				break;
		if (j == a->n)
			return false;
	}
	return true;
}

static void plan_free(struct plan *pl)
{
	int i;

	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		free(pl->live[i].pfx);
	free(pl->live_ids);
	free(pl->svc_keep);
	free(pl->svc_op);
	free(pl->promo);
	free(pl->prec);
}

/* The local promotion record of want's service (file spec) against it. */
static int promo_check(struct sluice *s, struct plan *pl, unsigned int i,
		       struct sluice_service_spec *want)
{
	int err = sluice_promotion_get(s, want->name, &pl->prec[i]);

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (sluice_promotion_key(want) == pl->prec[i].from) {
		pl->promo[i] = PROMO_KEPT;
		sluice_promote_spec(want);
	} else {
		pl->promo[i] = PROMO_STALE;
	}
	return 0;
}

/* Ring ids of names, by the plan: -1 when unknown. */
static int want_ring_id(const struct plan *pl, const char *name)
{
	int i;

	if (!strcmp(name, "default") || !strcmp(name, "broad"))
		return 0;
	for (i = 1; i < SLUICE_MAX_RINGS; i++)
		if (pl->want[i].name[0] && !strcmp(pl->want[i].name, name))
			return i;
	return -1;
}

static int plan_ring_id(void *ctx, const char *name)
{
	int id = want_ring_id(ctx, name);

	return id < 0 ? -ENOENT : id;
}

/* A service's rollout plan, checked against the rings it will have. */
static int check_rollout(struct sluice *s, const struct plan *pl,
			 const struct sluice_cfg_service *cs)
{
	struct sluice_plan *copy;
	char msg[320];
	int err;

	if (!cs->rollout)
		return 0;
	copy = malloc(sizeof(*copy));
	if (!copy)
		return sluice_seterr(s, ENOMEM, "out of memory");
	memcpy(copy, cs->rollout, sizeof(*copy));
	err = sluice_plan_resolve(copy, cs->mode, plan_ring_id, (void *)pl, msg,
				  sizeof(msg));
	free(copy);
	return err ? sluice_seterr(s, -err, "%s", msg) : 0;
}

static int build_spec(struct sluice *s, const struct sluice_config *c,
		      const struct plan *pl, const struct sluice_cfg_service *cs,
		      struct sluice_service_spec *sp)
{
	unsigned int v, i;
	__u16 def = 0;
	int r;

	memset(sp, 0, sizeof(*sp));
	snprintf(sp->name, sizeof(sp->name), "%s", cs->name);
	sp->vip = cs->vip;
	sp->family = cs->family;
	sp->proto = cs->proto;
	sp->port = cs->port;
	sp->mode = cs->mode;
	sp->tunnel_src = cs->tunnel_src;
	sp->affinity = cs->affinity;
	sp->lkg = cs->lkg;
	sp->seed = cs->seed;
	sp->table_size = cs->table_size ? cs->table_size : SLUICE_TABLE_DEFAULT;
	sp->udp_idle_s = cs->udp_idle_s ? cs->udp_idle_s : SLUICE_UDP_IDLE_DEFAULT;
	sp->announce = cs->bgp;
	if (!cs->weight_per_ring) {
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			sp->weight[r] = cs->weight_all;
	} else {
		for (i = 0; i < cs->nweights; i++)
			if (!strcmp(cs->weights[i].ring, "default"))
				def = cs->weights[i].bp;
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			sp->weight[r] = def;
		for (i = 0; i < cs->nweights; i++) {
			char msg[160];

			r = want_ring_id(pl, cs->weights[i].ring);
			if (r < 0) {
				snprintf(msg, sizeof(msg),
					 "service '%s': weight for unknown ring '%s'",
					 cs->name, cs->weights[i].ring);
				return cerr(s, c, cs->weights[i].pos, ENOENT, msg);
			}
			sp->weight[r] = cs->weights[i].bp;
		}
	}
	r = check_rollout(s, pl, cs);
	if (r)
		return r;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		sp->pool[v].n = cs->pool[v].n;
		if (cs->pool[v].n)
			memcpy(sp->pool[v].be, cs->pool[v].be,
			       cs->pool[v].n * sizeof(*cs->pool[v].be));
	}
	return 0;
}

int sluice_config_service_spec(struct sluice *s,
			       const struct sluice_cfg_service *cs,
			       struct sluice_service_spec *out)
{
	struct sluice_config none = { .source = "config" };
	struct plan pl = {};
	int i;

	for (i = 1; i < SLUICE_MAX_RINGS; i++)
		sluice_ring_name(s, i, pl.want[i].name, sizeof(pl.want[i].name));
	return build_spec(s, &none, &pl, cs, out);
}

static bool backend_equal(const struct sluice_service_spec *sa,
			  const struct sluice_backend_spec *a,
			  const struct sluice_service_spec *sb,
			  const struct sluice_backend_spec *b)
{
	static const __u8 zero[6];

	return a->family == b->family && !memcmp(&a->addr, &b->addr, sizeof(a->addr)) &&
	       (a->port ? a->port : sa->port) == (b->port ? b->port : sb->port) &&
	       a->weight == b->weight && a->draining == b->draining &&
	       !memcmp(a->has_mac ? a->mac : zero, b->has_mac ? b->mac : zero, 6) &&
	       !strncmp(a->dev, b->dev, IF_NAMESIZE);
}

/* Desired spec a against live spec b, pools as multisets. */
static bool spec_equal(const struct sluice_service_spec *a,
		       const struct sluice_service_spec *b)
{
	unsigned int v, i, j;
	bool *used;

	if (strcmp(a->name, b->name) || a->family != b->family ||
	    memcmp(&a->vip, &b->vip, sizeof(a->vip)) || a->port != b->port ||
	    a->proto != b->proto || a->mode != b->mode ||
	    memcmp(&a->tunnel_src, &b->tunnel_src, sizeof(a->tunnel_src)) ||
	    a->affinity != b->affinity || a->lkg != b->lkg || a->seed != b->seed ||
	    a->table_size != b->table_size || a->udp_idle_s != b->udp_idle_s ||
	    a->announce != b->announce ||
	    memcmp(a->weight, b->weight, sizeof(a->weight)))
		return false;
	for (v = 0; v < SLUICE_VARIANTS; v++)
		if (a->pool[v].n != b->pool[v].n)
			return false;
	used = calloc(SLUICE_POOL_MAX, sizeof(*used));
	if (!used)
		return false;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		memset(used, 0, SLUICE_POOL_MAX * sizeof(*used));
		for (i = 0; i < a->pool[v].n; i++) {
			for (j = 0; j < b->pool[v].n; j++)
				if (!used[j] && backend_equal(a, &a->pool[v].be[i], b,
							      &b->pool[v].be[j]))
					break;
			if (j == b->pool[v].n) {
				free(used);
				return false;
			}
			used[j] = true;
		}
	}
	free(used);
	return true;
}

static int add_change(struct sluice_apply_result *res, bool ring,
		      enum sluice_change_op op, const char *name)
{
	struct sluice_change *x;

	if (!res)
		return 0;
	x = realloc(res->ch, (res->n + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	res->ch = x;
	x = &res->ch[res->n++];
	memset(x, 0, sizeof(*x));
	x->ring = ring;
	x->op = op;
	snprintf(x->name, sizeof(x->name), "%s", name);
	if (op != SLUICE_CHANGE_NONE)
		res->changed++;
	return 0;
}

void sluice_apply_result_free(struct sluice_apply_result *res)
{
	if (!res)
		return;
	free(res->ch);
	res->ch = NULL;
	res->n = res->changed = 0;
}

/* Rings: live state, the wanted ids, deletions, and a write order in
 * which no write overlaps a prefix another ring still holds. */
static int plan_rings(struct sluice *s, const struct sluice_config *c,
		      const struct sluice_apply_opts *o, struct plan *pl)
{
	struct ring_state cur[SLUICE_MAX_RINGS];
	bool pending[SLUICE_MAX_RINGS] = {};
	unsigned int i, j, k;
	int id, npend = 0, progress;
	char msg[256];

	for (id = 1; id < SLUICE_MAX_RINGS; id++) {
		struct ring_state *l = &pl->live[id];

		l->cfg = -1;
		if (sluice_ring_name(s, id, l->name, sizeof(l->name)))
			continue;
		l->pfx = calloc(PFX_MAX, sizeof(*l->pfx));
		if (!l->pfx)
			return sluice_seterr(s, ENOMEM, "out of memory");
		l->n = sluice_ring_prefixes(s, id, l->pfx, PFX_MAX);
	}
	/* wanted: live rings named in the config keep their id; others go
	 * (unless keep); new ones take the lowest free id, as ring_set does */
	for (id = 1; id < SLUICE_MAX_RINGS; id++) {
		pl->want[id] = pl->live[id];
		pl->want[id].pfx = NULL;
		pl->want[id].cfg = -1;
		if (!pl->live[id].name[0])
			continue;
		for (i = 0; i < c->nrings; i++)
			if (!strcmp(c->rings[i].name, pl->live[id].name))
				break;
		if (i < c->nrings) {
			pl->want[id].cfg = i;
		} else if (!o->keep) {
			pl->ring_del[id] = true;
			pl->want[id].name[0] = '\0';
		}
	}
	for (i = 0; i < c->nrings; i++) {
		if (want_ring_id(pl, c->rings[i].name) > 0)
			continue;
		for (id = 1; id < SLUICE_MAX_RINGS; id++)
			if (!pl->want[id].name[0])
				break;
		if (id == SLUICE_MAX_RINGS)
			return cerr(s, c, c->rings[i].pos, ENOSPC,
				    "too many rings: at most 7 besides 'default' (rings kept live count too)");
		snprintf(pl->want[id].name, sizeof(pl->want[id].name), "%s", c->rings[i].name);
		pl->want[id].cfg = i;
	}
	/* simulate the writes */
	for (id = 1; id < SLUICE_MAX_RINGS; id++) {
		cur[id] = pl->live[id];
		if (pl->ring_del[id])
			cur[id].n = 0;
		if (pl->want[id].cfg >= 0) {
			const struct sluice_cfg_ring *cr = &c->rings[pl->want[id].cfg];

			if (!pl->live[id].name[0] || !same_set(&pl->live[id], cr->pfx, cr->n)) {
				pending[id] = true;
				npend++;
			}
		}
	}
	do {
		progress = 0;
		for (id = 1; id < SLUICE_MAX_RINGS; id++) {
			const struct sluice_cfg_ring *cr;
			bool blocked = false;
			int other;

			if (!pending[id])
				continue;
			cr = &c->rings[pl->want[id].cfg];
			for (other = 1; other < SLUICE_MAX_RINGS && !blocked; other++) {
				if (other == id)
					continue;
				for (i = 0; i < cr->n && !blocked; i++)
					for (j = 0; j < cur[other].n; j++)
						if (sluice_prefix_overlap(&cr->pfx[i], &cur[other].pfx[j])) {
							blocked = true;
							if (!pending[other] && pl->want[other].cfg < 0 &&
							    cur[other].name[0]) {
								char a[64];

								sluice_format_addr(&cur[other].pfx[j].addr,
										   cur[other].pfx[j].family,
										   a, sizeof(a));
								snprintf(msg, sizeof(msg),
									 "ring '%s': a prefix overlaps %s/%u of live ring '%s', which is kept",
									 cr->name, a, cur[other].pfx[j].len,
									 cur[other].name);
								return cerr(s, c, cr->pfx_pos[i], EEXIST, msg);
							}
							break;
						}
			}
			if (blocked)
				continue;
			cur[id].pfx = cr->pfx;
			cur[id].n = cr->n;
			pending[id] = false;
			pl->ring_order[pl->nring_order++] = id;
			npend--;
			progress = 1;
		}
	} while (npend && progress);
	if (npend) {
		for (id = 1; id < SLUICE_MAX_RINGS && !pending[id]; id++)
			;
		k = pl->want[id].cfg;
		snprintf(msg, sizeof(msg),
			 "ring '%s': its prefixes swap with another ring's; apply the change in two steps",
			 c->rings[k].name);
		return cerr(s, c, c->rings[k].pos, EEXIST, msg);
	}
	return 0;
}

static int plan_services(struct sluice *s, const struct sluice_config *c,
			 const struct sluice_apply_opts *o, struct plan *pl,
			 struct sluice_service_spec *want,
			 struct sluice_service_spec *live)
{
	unsigned int i, nbe = 0;
	int j, err, nsvc;
	char msg[512];

	pl->live_ids = calloc(SLUICE_MAX_SERVICES, sizeof(*pl->live_ids));
	pl->svc_keep = calloc(SLUICE_MAX_SERVICES, sizeof(*pl->svc_keep));
	pl->svc_op = calloc(c->nservices + 1, sizeof(*pl->svc_op));
	pl->promo = calloc(c->nservices + 1, sizeof(*pl->promo));
	pl->prec = calloc(c->nservices + 1, sizeof(*pl->prec));
	if (!pl->live_ids || !pl->svc_keep || !pl->svc_op || !pl->promo || !pl->prec)
		return sluice_seterr(s, ENOMEM, "out of memory");
	pl->nlive = sluice_service_ids(s, pl->live_ids, SLUICE_MAX_SERVICES);
	nsvc = pl->nlive;
	for (j = 0; j < pl->nlive; j++) {
		err = sluice_service_get_id(s, pl->live_ids[j], live);
		if (err)
			return err;
		for (i = 0; i < c->nservices; i++)
			if (!strcmp(c->services[i].name, live->name))
				break;
		pl->svc_keep[j] = i < c->nservices || o->keep;
		nsvc -= !pl->svc_keep[j];
	}
	for (i = 0; i < c->nservices; i++) {
		const struct sluice_cfg_service *cs = &c->services[i];
		__u32 id;
		bool exists;

		err = build_spec(s, c, pl, cs, want);
		if (!err && o->promotions)
			err = promo_check(s, pl, i, want);
		if (err)
			return err;
		nbe += want->pool[0].n + want->pool[1].n;
		if (nbe > SLUICE_MAX_BACKENDS)
			return cerr(s, c, cs->pos, ENOSPC,
				    "more backends in all services than the datapath holds (65536)");
		exists = sluice_service_lookup(s, cs->name, &id) == 0;
		s->err[0] = '\0';
		err = sluice_service_check(s, want);
		if (err == -EEXIST) {
			/* the VIP may belong to a live service this apply deletes */
			bool freed = false;

			for (j = 0; j < pl->nlive; j++) {
				if (pl->svc_keep[j] ||
				    sluice_service_get_id(s, pl->live_ids[j], live))
					continue;
				if (live->family == want->family && live->port == want->port &&
				    live->proto == want->proto &&
				    !memcmp(&live->vip, &want->vip, sizeof(live->vip)))
					freed = true;
			}
			if (freed)
				err = 0;
			else
				sluice_service_check(s, want);	/* restore the message */
		}
		if (err) {
			snprintf(msg, sizeof(msg), "%s", sluice_errmsg(s));
			return cerr(s, c, cs->pos, err, msg);
		}
		if (!exists) {
			pl->svc_op[i] = SLUICE_CHANGE_ADD;
			if (++nsvc > SLUICE_MAX_SERVICES)
				return cerr(s, c, cs->pos, ENOSPC,
					    "more services than the datapath holds (4096)");
			continue;
		}
		err = sluice_service_get_id(s, id, live);
		if (err)
			return err;
		pl->svc_op[i] = spec_equal(want, live) ? SLUICE_CHANGE_NONE
						       : SLUICE_CHANGE_UPDATE;
	}
	return 0;
}

int sluice_config_apply(struct sluice *s, const struct sluice_config *c,
			const struct sluice_apply_opts *opts,
			struct sluice_apply_result *res)
{
	struct sluice_apply_opts none = {};
	struct sluice_service_spec *want = NULL, *live = NULL;
	struct plan pl = {};
	unsigned int i;
	int err, id, j, changes = 0;

	if (!opts)
		opts = &none;
	if (res)
		memset(res, 0, sizeof(*res));
	s->err[0] = '\0';
	want = sluice_spec_new();
	live = sluice_spec_new();
	if (!want || !live) {
		err = sluice_seterr(s, ENOMEM, "out of memory");
		goto out;
	}
	/* 1. validate and plan: no writes */
	err = plan_rings(s, c, opts, &pl);
	if (err)
		goto out;
	err = plan_services(s, c, opts, &pl, want, live);
	if (err)
		goto out;

	/* the plan, as a result */
	for (j = 0; j < pl.nlive; j++)
		if (!pl.svc_keep[j] && !sluice_service_get_id(s, pl.live_ids[j], live))
			add_change(res, false, SLUICE_CHANGE_DELETE, live->name);
	for (id = 1; id < SLUICE_MAX_RINGS; id++)
		if (pl.ring_del[id])
			add_change(res, true, SLUICE_CHANGE_DELETE, pl.live[id].name);
	for (i = 0; i < c->nrings; i++) {
		bool written = false;

		id = want_ring_id(&pl, c->rings[i].name);
		for (j = 0; j < pl.nring_order; j++)
			written |= pl.ring_order[j] == id;
		add_change(res, true, !written ? SLUICE_CHANGE_NONE :
			   pl.live[id].name[0] ? SLUICE_CHANGE_UPDATE : SLUICE_CHANGE_ADD,
			   c->rings[i].name);
	}
	for (i = 0; i < c->nservices; i++)
		if (!add_change(res, false, pl.svc_op[i], c->services[i].name) && res &&
		    pl.promo[i] == PROMO_KEPT) {
			res->ch[res->n - 1].promoted = true;
			res->ch[res->n - 1].promotion = pl.prec[i];
		}
	if (opts->dry_run) {
		err = 0;
		goto out;
	}

	/* 2. write: deletions, rings, services */
	for (j = 0; j < pl.nlive; j++) {
		if (pl.svc_keep[j] || sluice_service_get_id(s, pl.live_ids[j], live))
			continue;
		err = sluice_service_del(s, live->name);
		if (err)
			goto partial;
		changes++;
	}
	for (id = 1; id < SLUICE_MAX_RINGS; id++) {
		if (!pl.ring_del[id])
			continue;
		err = sluice_ring_del(s, pl.live[id].name);
		if (err)
			goto partial;
		changes++;
	}
	for (j = 0; j < pl.nring_order; j++) {
		const struct sluice_cfg_ring *cr;

		id = pl.ring_order[j];
		cr = &c->rings[pl.want[id].cfg];
		err = sluice_ring_set(s, cr->name, cr->pfx, cr->n);
		if (err)
			goto partial;
		if (sluice_ring_id(s, cr->name) != id) {
			err = sluice_seterr(s, EAGAIN,
				"ring '%s' got another id than planned: a concurrent change?",
				cr->name);
			goto partial;
		}
		changes++;
	}
	for (i = 0; i < c->nservices; i++) {
		if (pl.svc_op[i] == SLUICE_CHANGE_NONE)
			continue;
		err = build_spec(s, c, &pl, &c->services[i], want);
		if (!err && pl.promo[i] == PROMO_KEPT)
			sluice_promote_spec(want);
		if (!err)
			err = sluice_service_put(s, want);
		if (err)
			goto partial;
		changes++;
	}
	/* the file changed since the promotion: it is the truth now */
	for (i = 0; i < c->nservices; i++)
		if (pl.promo[i] == PROMO_STALE)
			sluice_promotion_del(s, c->services[i].name);
	err = changes;
	goto out;
partial:
	{
		char msg[300];

		snprintf(msg, sizeof(msg), "%s", sluice_errmsg(s));
		err = sluice_seterr(s, err, "apply stopped after %d of %u changes: %s",
				    changes, res ? res->changed : 0, msg);
	}
out:
	sluice_spec_free(want);
	sluice_spec_free(live);
	plan_free(&pl);
	return err;
}

/* ---- export ------------------------------------------------------------- */

struct sluice_config *sluice_config_export(struct sluice *s)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	struct sluice_config *c = calloc(1, sizeof(*c));
	static __u32 ids[SLUICE_MAX_SERVICES];
	char names[SLUICE_MAX_RINGS][SLUICE_RING_NAME_LEN + 1];
	bool exists[SLUICE_MAX_RINGS] = {};
	int n, i, r, v;

	if (!sp || !c)
		goto fail;
	snprintf(c->source, sizeof(c->source), "%.200s", s->pin_dir);
	c->rings = calloc(SLUICE_MAX_RINGS, sizeof(*c->rings));
	if (!c->rings)
		goto fail;
	for (r = 1; r < SLUICE_MAX_RINGS; r++) {
		struct sluice_cfg_ring *cr = &c->rings[c->nrings];

		if (sluice_ring_name(s, r, names[r], sizeof(names[r])))
			continue;
		exists[r] = true;
		snprintf(cr->name, sizeof(cr->name), "%s", names[r]);
		cr->pfx = calloc(PFX_MAX, sizeof(*cr->pfx));
		if (!cr->pfx)
			goto fail;
		c->nrings++;
		cr->n = sluice_ring_prefixes(s, r, cr->pfx, PFX_MAX);
	}
	n = sluice_service_ids(s, ids, SLUICE_MAX_SERVICES);
	c->services = calloc(n + 1, sizeof(*c->services));
	if (!c->services)
		goto fail;
	for (i = 0; i < n; i++) {
		struct sluice_cfg_service *cs = &c->services[c->nservices];
		bool uniform = true;

		if (sluice_service_get_id(s, ids[i], sp))
			continue;
		c->nservices++;
		snprintf(cs->name, sizeof(cs->name), "%s", sp->name);
		cs->vip = sp->vip;
		cs->family = sp->family;
		cs->proto = sp->proto;
		cs->port = sp->port;
		cs->mode = sp->mode;
		cs->tunnel_src = sp->tunnel_src;
		cs->affinity = sp->affinity;
		cs->lkg = sp->lkg;
		cs->seed = sp->seed;
		cs->table_size = sp->table_size;
		cs->udp_idle_s = sp->udp_idle_s;
		cs->bgp = sp->announce;
		for (r = 1; r < SLUICE_MAX_RINGS; r++)
			uniform &= sp->weight[r] == sp->weight[0];
		cs->weight_all = sp->weight[0];
		cs->weight_per_ring = !uniform;
		if (!uniform) {
			snprintf(cs->weights[0].ring, sizeof(cs->weights[0].ring), "default");
			cs->weights[0].bp = sp->weight[0];
			cs->nweights = 1;
			for (r = 1; r < SLUICE_MAX_RINGS; r++)
				if (exists[r]) {
					struct sluice_cfg_weight *w = &cs->weights[cs->nweights++];

					snprintf(w->ring, sizeof(w->ring), "%s", names[r]);
					w->bp = sp->weight[r];
				}
		}
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			cs->pool[v].n = sp->pool[v].n;
			cs->pool[v].be = calloc(sp->pool[v].n + 1, sizeof(*cs->pool[v].be));
			if (!cs->pool[v].be)
				goto fail;
			memcpy(cs->pool[v].be, sp->pool[v].be,
			       sp->pool[v].n * sizeof(*sp->pool[v].be));
		}
	}
	sluice_spec_free(sp);
	return c;
fail:
	sluice_spec_free(sp);
	sluice_config_free(c);
	errno = ENOMEM;
	return NULL;
}
