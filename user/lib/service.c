// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Services: validate a desired state, then make it live in an order that a
 * concurrent packet can never observe half-done:
 *   1. write backend records under fresh (or unchanged) ids: not yet referenced
 *   2. publish the configuration (weights + both tables): one map update
 *   3. point the service key at it (new services only)
 *   4. retire backend records no longer used; their forwarding data stays, so
 *      established flows that still name them keep working
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "internal.h"

static const char *const variant_name[] = { "baseline", "canary" };

struct sluice_service_spec *sluice_spec_new(void)
{
	struct sluice_service_spec *spec = calloc(1, sizeof(*spec));

	if (spec)
		spec->table_size = SLUICE_TABLE_DEFAULT;
	return spec;
}

void sluice_spec_free(struct sluice_service_spec *spec)
{
	free(spec);
}

int sluice_service_lookup(struct sluice *s, const char *name, __u32 *id)
{
	__u32 i;

	for (i = 0; i < SLUICE_MAX_SERVICES; i++)
		if ((s->meta[i].flags & SLUICE_SVC_IN_USE) &&
		    !strncmp(s->meta[i].name, name, SLUICE_NAME_LEN)) {
			*id = i;
			return 0;
		}
	return sluice_seterr(s, ENOENT, "no service '%s'", name);
}

int sluice_service_ids(struct sluice *s, __u32 *ids, int max)
{
	int n = 0;
	__u32 i;

	for (i = 0; i < SLUICE_MAX_SERVICES && n < max; i++)
		if (s->meta[i].flags & SLUICE_SVC_IN_USE)
			ids[n++] = i;
	return n;
}

int sluice_service_name(struct sluice *s, __u32 id, char *buf, size_t len)
{
	if (id >= SLUICE_MAX_SERVICES || !(s->meta[id].flags & SLUICE_SVC_IN_USE))
		return -ENOENT;
	snprintf(buf, len, "%.*s", SLUICE_NAME_LEN - 1, s->meta[id].name);
	return 0;
}

static void spec_key(const struct sluice_service_spec *spec,
		     struct sluice_svc_key *k)
{
	memset(k, 0, sizeof(*k));
	k->vip = spec->vip;
	k->port = htons(spec->port);
	k->proto = spec->proto;
	k->family = spec->family;
}

static bool name_ok(const char *name)
{
	size_t i, n = strnlen(name, SLUICE_NAME_LEN);

	if (!n || n >= SLUICE_NAME_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

static bool addr_zero(const union sluice_addr *a)
{
	static const union sluice_addr zero;

	return !memcmp(a, &zero, sizeof(zero));
}

static int check_backend(struct sluice *s,
			 const struct sluice_service_spec *spec, int v,
			 unsigned int i)
{
	const struct sluice_backend_spec *b = &spec->pool[v].be[i];
	char a[INET6_ADDRSTRLEN];
	unsigned int w, j;

	sluice_format_addr(&b->addr, b->family, a, sizeof(a));
	if (b->family != spec->family)
		return sluice_seterr(s, EINVAL,
			"service '%s': %s backend %u (%s): address family differs from the VIP's",
			spec->name, variant_name[v], i + 1, a);
	if (addr_zero(&b->addr))
		return sluice_seterr(s, EINVAL,
			"service '%s': %s backend %u: address is missing",
			spec->name, variant_name[v], i + 1);
	if (!b->weight || b->weight > 65535)
		return sluice_seterr(s, ERANGE,
			"service '%s': %s backend %s: weight %u is outside 1..65535",
			spec->name, variant_name[v], a, b->weight);
	if (spec->mode == SLUICE_MODE_IPIP && b->port && b->port != spec->port)
		return sluice_seterr(s, EINVAL,
			"service '%s': %s backend %s: port %u differs from the service port %u, which ipip cannot rewrite",
			spec->name, variant_name[v], a, b->port, spec->port);
	if (spec->mode == SLUICE_MODE_DSR) {
		if (b->port && b->port != spec->port)
			return sluice_seterr(s, EINVAL,
				"service '%s': %s backend %s: port %u differs from the service port %u, which DSR cannot rewrite",
				spec->name, variant_name[v], a, b->port, spec->port);
		if (!b->has_mac)
			return sluice_seterr(s, EINVAL,
				"service '%s': %s backend %s: DSR needs the backend's MAC address",
				spec->name, variant_name[v], a);
	}
	if (b->dev[0] && !if_nametoindex(b->dev))
		return sluice_seterr(s, ENODEV,
			"service '%s': %s backend %s: no device '%s'",
			spec->name, variant_name[v], a, b->dev);
	/* duplicates: same address and port anywhere in the service */
	for (w = 0; w <= (unsigned int)v; w++)
		for (j = 0; j < (w == (unsigned int)v ? i : spec->pool[w].n); j++) {
			const struct sluice_backend_spec *o = &spec->pool[w].be[j];

			if (o->family == b->family &&
			    !memcmp(&o->addr, &b->addr, sizeof(b->addr)) &&
			    (o->port ? o->port : spec->port) ==
				    (b->port ? b->port : spec->port))
				return sluice_seterr(s, EEXIST,
					"service '%s': backend %s port %u is listed twice (%s and %s)",
					spec->name, a, b->port ? b->port : spec->port,
					variant_name[w], variant_name[v]);
		}
	return 0;
}

int sluice_service_check(struct sluice *s,
			 const struct sluice_service_spec *spec)
{
	struct sluice_svc_key key;
	unsigned int v, i, active;
	__u32 id;

	if (!name_ok(spec->name))
		return sluice_seterr(s, EINVAL,
			"service name '%.*s' must be 1-%d characters of letters, digits, '_', '.', '-'",
			SLUICE_NAME_LEN, spec->name, SLUICE_NAME_LEN - 1);
	if (spec->family != AF_INET && spec->family != AF_INET6)
		return sluice_seterr(s, EINVAL, "service '%s': VIP is missing",
				     spec->name);
	if (addr_zero(&spec->vip))
		return sluice_seterr(s, EINVAL, "service '%s': VIP is missing",
				     spec->name);
	if (!spec->port)
		return sluice_seterr(s, EINVAL, "service '%s': port must be 1..65535",
				     spec->name);
	if (spec->proto != IPPROTO_TCP && spec->proto != IPPROTO_UDP)
		return sluice_seterr(s, EINVAL, "service '%s': protocol must be tcp or udp",
				     spec->name);
	if (spec->mode >= SLUICE_MODES)
		return sluice_seterr(s, EINVAL,
			"service '%s': mode must be dsr, ipip or nat", spec->name);
	if (spec->mode == SLUICE_MODE_IPIP) {
		const struct sluice_prefix *t = &spec->tunnel_src;

		if (!t->family)
			return sluice_seterr(s, EINVAL,
				"service '%s': ipip needs tunnel-source PREFIX (outer source addresses, like 10.99.0.0/24)",
				spec->name);
		if (t->family != spec->family)
			return sluice_seterr(s, EINVAL,
				"service '%s': tunnel-source family differs from the VIP's",
				spec->name);
		if (t->len > (t->family == AF_INET ? 32 : 128))
			return sluice_seterr(s, EINVAL,
				"service '%s': tunnel-source length %u is too long",
				spec->name, t->len);
	} else if (spec->tunnel_src.family) {
		return sluice_seterr(s, EINVAL,
			"service '%s': tunnel-source is for the ipip mode only",
			spec->name);
	}
	if (spec->affinity > SLUICE_AFF_CLIENT)
		return sluice_seterr(s, EINVAL, "service '%s': affinity must be connection or client",
				     spec->name);
	if (spec->lkg >= SLUICE_VARIANTS)
		return sluice_seterr(s, EINVAL, "service '%s': last-known-good must be baseline or canary",
				     spec->name);
	if (spec->udp_idle_s > SLUICE_UDP_IDLE_MAX)
		return sluice_seterr(s, ERANGE, "service '%s': udp-idle must be 1..%u seconds",
				     spec->name, SLUICE_UDP_IDLE_MAX);
	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		if (spec->weight[i] > SLUICE_BUCKETS)
			return sluice_seterr(s, ERANGE,
				"service '%s': weight %u.%02u%% is over 100%%", spec->name,
				spec->weight[i] / 100, spec->weight[i] % 100);
	if (!sluice_is_prime(spec->table_size) || spec->table_size < 3 ||
	    spec->table_size > SLUICE_TABLE_MAX)
		return sluice_seterr(s, EINVAL,
			"service '%s': table size %u must be a prime from 3 to %u",
			spec->name, spec->table_size, SLUICE_TABLE_MAX);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		if (spec->pool[v].n > SLUICE_POOL_MAX)
			return sluice_seterr(s, E2BIG, "service '%s': %s pool has over %d backends",
					     spec->name, variant_name[v], SLUICE_POOL_MAX);
		for (i = 0, active = 0; i < spec->pool[v].n; i++) {
			int err = check_backend(s, spec, v, i);

			if (err)
				return err;
			active += !spec->pool[v].be[i].draining;
		}
		if (active > spec->table_size / 2)
			return sluice_seterr(s, EINVAL,
				"service '%s': table size %u is too small for %u backends (want 100x)",
				spec->name, spec->table_size, active);
	}
	/* the key must not belong to another service */
	spec_key(spec, &key);
	if (s && bpf_map_lookup_elem(s->svc_index_fd, &key, &id) == 0 &&
	    strncmp(s->meta[id].name, spec->name, SLUICE_NAME_LEN)) {
		char a[INET6_ADDRSTRLEN];

		sluice_format_addr(&spec->vip, spec->family, a, sizeof(a));
		return sluice_seterr(s, EEXIST, "service '%s': %s port %u is already service '%s'",
				     spec->name, a, spec->port, s->meta[id].name);
	}
	return 0;
}

static __u64 backend_identity(const struct sluice_backend_spec *b, __u16 port)
{
	__u64 h = 0xcbf29ce484222325ull;	/* FNV-1a over family, addr, port */
	__u8 buf[19];
	size_t i;

	buf[0] = b->family;
	memcpy(buf + 1, b->addr.bytes, 16);
	buf[17] = port >> 8;
	buf[18] = port & 0xff;
	for (i = 0; i < sizeof(buf); i++) {
		h ^= buf[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int record_for(struct sluice *s, const struct sluice_service_spec *spec,
		      __u32 svc_id, int v, const struct sluice_backend_spec *b,
		      struct sluice_backend *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->addr = b->addr;
	rec->family = b->family;
	rec->port = htons(b->port ? b->port : spec->port);
	rec->variant = v;
	rec->svc_id = svc_id;
	rec->weight = b->weight;
	rec->flags = SLUICE_BE_IN_USE | (b->draining ? SLUICE_BE_DRAINING : 0);
	rec->mode = spec->mode;
	if (spec->mode == SLUICE_MODE_IPIP) {
		rec->tun_src = spec->tunnel_src.addr;
		rec->tun_plen = spec->tunnel_src.len;
	}
	if (spec->mode != SLUICE_MODE_DSR)
		return 0;	/* next hop from the FIB; rest: control plane */
	memcpy(rec->mac, b->mac, 6);
	if (b->dev[0]) {
		int err;

		rec->ifindex = if_nametoindex(b->dev);
		if (!rec->ifindex)
			return sluice_seterr(s, ENODEV, "no device '%s'", b->dev);
		err = sluice_iface_mac(b->dev, rec->smac);
		if (err)
			return sluice_seterr(s, err, "cannot read the MAC of %s",
					     b->dev);
	}
	return 0;
}

/* Same destination: the datapath-visible part of the record. */
static bool same_forwarding(const struct sluice_backend *a,
			    const struct sluice_backend *b)
{
	return !memcmp(a, b, offsetof(struct sluice_backend, svc_id)) &&
	       a->svc_id == b->svc_id;
}

/* Free ids are taken upwards from the highest one in use, wrapping, so a
 * retired id is reused as late as possible. */
struct id_alloc {
	__u32 next;
	__u32 left;
};

static void id_alloc_init(struct sluice *s, struct id_alloc *a)
{
	__u32 i, hi = SLUICE_MAX_BACKENDS - 1;

	for (i = 0; i < SLUICE_MAX_BACKENDS; i++)
		if (s->be[i].flags & SLUICE_BE_IN_USE)
			hi = i;
	a->next = (hi + 1) % SLUICE_MAX_BACKENDS;
	a->left = SLUICE_MAX_BACKENDS;
}

static int alloc_backend_id(struct sluice *s, struct id_alloc *a, __u32 *id)
{
	while (a->left) {
		__u32 i = a->next;

		a->next = (a->next + 1) % SLUICE_MAX_BACKENDS;
		a->left--;
		if (!(s->be[i].flags & SLUICE_BE_IN_USE)) {
			*id = i;
			return 0;
		}
	}
	return sluice_seterr(s, ENOSPC, "all %d backend slots are in use",
			     SLUICE_MAX_BACKENDS);
}

static int alloc_service_id(struct sluice *s, __u32 *id)
{
	__u32 i;

	for (i = 0; i < SLUICE_MAX_SERVICES; i++)
		if (!(s->meta[i].flags & SLUICE_SVC_IN_USE)) {
			*id = i;
			return 0;
		}
	return sluice_seterr(s, ENOSPC, "all %d service slots are in use",
			     SLUICE_MAX_SERVICES);
}

/*
 * health_from_spec: take each backend's down flag from spec (health marks);
 * otherwise a backend keeps the live record's (a new record starts up).
 */
static int service_put_locked(struct sluice *s,
			      const struct sluice_service_spec *spec,
			      bool health_from_spec,
			      struct sluice_health_result *res)
{
	struct sluice_maglev_in *mg = NULL;
	__u8 *mg_down = NULL;
	__u32 *tables[SLUICE_VARIANTS] = {}, *mine = NULL, nundo = 0;
	struct sluice_backend *undo = NULL;	/* records as they were */
	__u32 *undo_id = NULL;
	bool published = false;
	struct id_alloc ida;
	__u8 *keep = NULL;
	struct sluice_svc_key key, old_key;
	struct sluice_svc_cfg cfg = {}, old = {};
	bool exists, key_changed = false;
	__u32 drained;
	__u32 svc_id, i, v, nmine = 0, nlive = 0, zero = 0;
	int err;

	err = sluice_service_check(s, spec);
	if (err)
		return err;
	exists = sluice_service_lookup(s, spec->name, &svc_id) == 0;
	s->err[0] = '\0';
	if (!exists) {
		err = alloc_service_id(s, &svc_id);
		if (err)
			return err;
	} else if (sluice_cfg_read(s, svc_id, &old, NULL) == 0) {
		cfg.gen = old.gen;
	}
	spec_key(spec, &key);
	if (exists) {
		old_key = s->meta[svc_id].key;
		key_changed = memcmp(&old_key, &key, sizeof(key)) != 0;
	}

	keep = calloc(SLUICE_MAX_BACKENDS, 1);
	mine = calloc(SLUICE_MAX_BACKENDS, sizeof(*mine));
	mg = calloc(spec->pool[0].n + spec->pool[1].n + 1, sizeof(*mg));
	mg_down = calloc(spec->pool[0].n + spec->pool[1].n + 1, 1);
	for (v = 0; v < SLUICE_VARIANTS; v++)
		tables[v] = calloc(spec->table_size, sizeof(__u32));
	undo = calloc(spec->pool[0].n + spec->pool[1].n + 1, sizeof(*undo));
	undo_id = calloc(spec->pool[0].n + spec->pool[1].n + 1, sizeof(*undo_id));
	if (!keep || !mine || !mg || !mg_down || !tables[0] || !tables[1] ||
	    !undo || !undo_id) {
		err = sluice_seterr(s, ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * Candidates for reuse: the service's records in use, then its retired
	 * ones (same forwarding bytes are safe to revive), so a configuration
	 * that flaps between two states does not churn through ids.
	 */
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++)
		if ((s->be[i].flags & SLUICE_BE_IN_USE) && s->be[i].svc_id == svc_id)
			mine[nmine++] = i;
	nlive = nmine;
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++)
		if (!(s->be[i].flags & SLUICE_BE_IN_USE) && s->be[i].family &&
		    s->be[i].svc_id == svc_id)
			mine[nmine++] = i;
	id_alloc_init(s, &ida);

	/* 1. backend records */
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		unsigned int nmg = 0, nup = 0, k;

		for (i = 0; i < spec->pool[v].n; i++) {
			const struct sluice_backend_spec *b = &spec->pool[v].be[i];
			struct sluice_backend rec;
			__u32 id = SLUICE_MAX_BACKENDS, j;
			bool down;

			err = record_for(s, spec, svc_id, v, b, &rec);
			if (err)
				goto out;
			for (j = 0; j < nmine; j++)
				if (!keep[mine[j]] &&
				    same_forwarding(&s->be[mine[j]], &rec)) {
					id = mine[j];
					break;
				}
			if (id == SLUICE_MAX_BACKENDS) {
				err = alloc_backend_id(s, &ida, &id);
				if (err)
					goto out;
			}
			/* a retired record has flags 0: it comes back up */
			down = health_from_spec ? b->down
						: (s->be[id].flags & SLUICE_BE_DOWN);
			if (down)
				rec.flags |= SLUICE_BE_DOWN;
			undo[nundo] = s->be[id];
			undo_id[nundo++] = id;
			if (!same_forwarding(&s->be[id], &rec)) {
				s->be[id] = rec;	/* not referenced yet */
				sluice_nexthop_reset(s, id);
			} else {
				/* forwarding bytes unchanged: rewrite only
				 * the control-plane fields */
				s->be[id].weight = rec.weight;
				s->be[id].flags = rec.flags;
			}
			keep[id] = 1;
			if (rec.ifindex) {
				__u32 ifx = rec.ifindex;

				bpf_map_update_elem(s->tx_ports_fd, &ifx, &ifx, BPF_ANY);
			}
			if (!b->draining) {
				mg[nmg].id = id;
				mg[nmg].weight = b->weight;
				mg[nmg].key = backend_identity(b, b->port ? b->port : spec->port);
				mg_down[nmg] = down;
				nup += !down;
				nmg++;
			}
		}
		/* down backends leave the table, unless all of them are down:
		 * then every one stays (health alone never empties a pool) */
		if (nup) {
			for (i = 0, k = 0; i < nmg; i++)
				if (!mg_down[i])
					mg[k++] = mg[i];
			nmg = k;
		}
		if (res) {
			res->all_down[v] = nmg && !nup;
			res->in_table[v] = nmg;
		}
		err = sluice_maglev_build(mg, nmg, spec->table_size, tables[v]);
		if (err) {
			err = sluice_seterr(s, err, "cannot build the %s table",
					    variant_name[v]);
			goto out;
		}
		cfg.nbackends[v] = nmg;
	}

	/* 2. the configuration; a NAT service needs the reverse table first */
	if (spec->mode == SLUICE_MODE_NAT) {
		err = sluice_nat_table(s, true);
		if (err < 0)
			goto out;
	}
	memcpy(cfg.weight, spec->weight, sizeof(cfg.weight));
	cfg.seed = spec->seed;
	cfg.table_size = spec->table_size;
	cfg.table_elems = (spec->table_size + SLUICE_SLOTS_PER_ELEM - 1) /
			  SLUICE_SLOTS_PER_ELEM;
	cfg.gen++;
	cfg.svc_id = svc_id;
	cfg.affinity = spec->affinity;
	cfg.mode = spec->mode;
	cfg.lkg = spec->lkg;
	cfg.udp_idle_s = spec->udp_idle_s ? spec->udp_idle_s : SLUICE_UDP_IDLE_DEFAULT;
	if (spec->mode == SLUICE_MODE_IPIP) {
		cfg.tun_src = spec->tunnel_src.addr;
		cfg.tun_plen = spec->tunnel_src.len;
	}
	err = sluice_cfg_publish(s, svc_id, &cfg, (const __u32 **)tables);
	if (err)
		goto out;
	published = true;

	/* 3. the service key */
	if (!exists || key_changed) {
		if (!exists)
			bpf_map_update_elem(s->kill_fd, &svc_id, &zero, BPF_ANY);
		if (bpf_map_update_elem(s->svc_index_fd, &key, &svc_id, BPF_ANY) < 0) {
			err = sluice_seterr(s, errno, "cannot add the service key: %s",
					    strerror(errno));
			goto out;
		}
		if (key_changed)
			bpf_map_delete_elem(s->svc_index_fd, &old_key);
	}
	/* a drain is the operator's, not the configuration's: a put keeps it */
	drained = exists ? s->meta[svc_id].flags & SLUICE_SVC_DRAINED : 0;
	memset(&s->meta[svc_id], 0, offsetof(struct sluice_svc_meta, gen));
	snprintf(s->meta[svc_id].name, SLUICE_NAME_LEN, "%s", spec->name);
	s->meta[svc_id].key = key;
	s->meta[svc_id].flags = SLUICE_SVC_IN_USE | drained |
				(spec->announce ? SLUICE_SVC_ANNOUNCE : 0);

	/* 4. retire what the service no longer uses */
	for (i = 0; i < nlive; i++)
		if (!keep[mine[i]])
			s->be[mine[i]].flags = 0;
	err = 0;
out:
	/* a failure before the swap leaves the records as they were */
	while (err && !published && nundo--)
		s->be[undo_id[nundo]] = undo[nundo];
	free(undo);
	free(undo_id);
	free(keep);
	free(mine);
	free(mg);
	free(mg_down);
	free(tables[0]);
	free(tables[1]);
	return err;
}

int sluice_service_put(struct sluice *s, const struct sluice_service_spec *spec)
{
	int err = sluice_lock(s);

	if (err)
		return err;
	err = service_put_locked(s, spec, false, NULL);
	sluice_unlock(s);
	return err;
}

static bool mark_matches(const struct sluice_service_spec *sp,
			 const struct sluice_backend_spec *b,
			 const struct sluice_health_mark *m)
{
	return b->family == m->family &&
	       !memcmp(&b->addr, &m->addr, sizeof(b->addr)) &&
	       (b->port ? b->port : sp->port) == (m->port ? m->port : sp->port);
}

int sluice_backend_health_set(struct sluice *s, const char *name,
			      const struct sluice_health_mark *m, unsigned int n,
			      struct sluice_health_result *res)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	struct sluice_health_result r = {};
	unsigned int k, v, i, changed = 0;
	int err;

	if (!sp)
		return sluice_seterr(s, ENOMEM, "out of memory");
	err = sluice_lock(s);
	if (err)
		goto out_free;
	err = sluice_service_get(s, name, sp);	/* under the lock: current */
	if (err)
		goto out;
	for (k = 0; k < n; k++) {
		bool found = false;

		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (i = 0; i < sp->pool[v].n; i++) {
				struct sluice_backend_spec *b = &sp->pool[v].be[i];

				if (!mark_matches(sp, b, &m[k]))
					continue;
				found = true;
				changed += b->down != m[k].down;
				b->down = m[k].down;
			}
		if (!found) {
			char a[INET6_ADDRSTRLEN];

			sluice_format_addr(&m[k].addr, m[k].family, a, sizeof(a));
			err = sluice_seterr(s, ENOENT, "service '%s' has no backend %s port %u",
					    name, a, m[k].port ? m[k].port : sp->port);
			goto out;
		}
	}
	if (changed) {
		err = service_put_locked(s, sp, true, &r);
	} else {
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			r.all_down[v] = sp->pool[v].all_down;
			for (i = 0; i < sp->pool[v].n; i++)
				r.in_table[v] += !sp->pool[v].be[i].draining &&
						 (sp->pool[v].all_down ||
						  !sp->pool[v].be[i].down);
		}
	}
	if (!err && res)
		*res = r;
	if (!err)
		err = changed;
out:
	sluice_unlock(s);
out_free:
	sluice_spec_free(sp);
	return err;
}

int sluice_service_get_id(struct sluice *s, __u32 id,
			  struct sluice_service_spec *out)
{
	const struct sluice_svc_meta *m;
	struct sluice_svc_cfg cfg;
	__u32 i;
	int err;

	if (id >= SLUICE_MAX_SERVICES || !(s->meta[id].flags & SLUICE_SVC_IN_USE))
		return sluice_seterr(s, ENOENT, "no service with id %u", id);
	m = &s->meta[id];
	err = sluice_cfg_read(s, id, &cfg, NULL);
	if (err)
		return sluice_cfg_read_err(s, err, m->name);
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", m->name);
	out->vip = m->key.vip;
	out->family = m->key.family;
	out->proto = m->key.proto;
	out->port = ntohs(m->key.port);
	out->mode = cfg.mode;
	out->affinity = cfg.affinity;
	out->lkg = cfg.lkg;
	out->seed = cfg.seed;
	if (cfg.mode == SLUICE_MODE_IPIP) {
		out->tunnel_src.addr = cfg.tun_src;
		out->tunnel_src.len = cfg.tun_plen;
		out->tunnel_src.family = out->family;
	}
	out->table_size = cfg.table_size;
	out->udp_idle_s = cfg.udp_idle_s ? cfg.udp_idle_s : SLUICE_UDP_IDLE_DEFAULT;
	memcpy(out->weight, cfg.weight, sizeof(out->weight));
	out->id = id;
	out->gen = cfg.gen;
	out->announce = m->flags & SLUICE_SVC_ANNOUNCE;
	out->drained = m->flags & SLUICE_SVC_DRAINED;
	bpf_map_lookup_elem(s->kill_fd, &id, &out->kill);
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++) {
		const struct sluice_backend *r = &s->be[i];
		struct sluice_backend_spec *b;
		struct sluice_pool_spec *p;

		if (!(r->flags & SLUICE_BE_IN_USE) || r->svc_id != id ||
		    r->variant >= SLUICE_VARIANTS)
			continue;
		p = &out->pool[r->variant];
		if (p->n >= SLUICE_POOL_MAX)
			continue;
		b = &p->be[p->n++];
		b->addr = r->addr;
		b->family = r->family;
		b->port = ntohs(r->port) == out->port ? 0 : ntohs(r->port);
		b->weight = r->weight;
		b->draining = r->flags & SLUICE_BE_DRAINING;
		b->down = r->flags & SLUICE_BE_DOWN;
		b->has_mac = r->mode == SLUICE_MODE_DSR;
		memcpy(b->mac, r->mac, 6);
		if (r->ifindex && !if_indextoname(r->ifindex, b->dev))
			snprintf(b->dev, sizeof(b->dev), "if%u", r->ifindex);
	}
	for (i = 0; i < SLUICE_VARIANTS; i++) {
		struct sluice_pool_spec *p = &out->pool[i];
		unsigned int j, active = 0, down = 0;

		for (j = 0; j < p->n; j++) {
			active += !p->be[j].draining;
			down += !p->be[j].draining && p->be[j].down;
		}
		p->all_down = active && down == active;
	}
	return 0;
}

int sluice_service_get(struct sluice *s, const char *name,
		       struct sluice_service_spec *out)
{
	__u32 id;
	int err = sluice_service_lookup(s, name, &id);

	return err ? err : sluice_service_get_id(s, id, out);
}

int sluice_service_del(struct sluice *s, const char *name)
{
	struct sluice_svc_key key;
	__u32 id, i, zero = 0;
	int err;

	err = sluice_lock(s);
	if (err)
		return err;
	err = sluice_service_lookup(s, name, &id);
	if (err)
		goto out;
	key = s->meta[id].key;
	/* unknown to the datapath first, then its configuration */
	bpf_map_delete_elem(s->svc_index_fd, &key);
	bpf_map_delete_elem(s->svc_cfg_fd, &id);
	bpf_map_update_elem(s->kill_fd, &id, &zero, BPF_ANY);
	{	/* counters and health history go with the service */
		struct sluice_flow_stats *zs = calloc(s->ncpus, sizeof(*zs));
		__u64 z64 = 0;
		__u32 v, r, idx;

		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				idx = SLUICE_STATS_INDEX(id, v, r);
				bpf_map_delete_elem(s->lat_hist_fd, &idx);
				bpf_map_update_elem(s->hs_sweep_fd, &idx, &z64, BPF_ANY);
				if (zs)
					bpf_map_update_elem(s->flow_stats_fd, &idx, zs, BPF_ANY);
			}
		free(zs);
	}
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++)
		if ((s->be[i].flags & SLUICE_BE_IN_USE) && s->be[i].svc_id == id)
			s->be[i].flags = 0;
	memset(&s->meta[id], 0, sizeof(s->meta[id]));
out:
	sluice_unlock(s);
	return err;
}

/* Change fields of the live configuration, keeping its tables. */
static int cfg_edit(struct sluice *s, const char *name, const __u16 *bp,
		    unsigned int mask, int lkg)
{
	struct sluice_svc_cfg cfg;
	__u32 *tables[SLUICE_VARIANTS] = {};
	__u32 id;
	int err, r;

	err = sluice_lock(s);
	if (err)
		return err;
	err = sluice_service_lookup(s, name, &id);
	if (err)
		goto out;
	err = sluice_cfg_read(s, id, &cfg, tables);
	if (err) {
		err = sluice_cfg_read_err(s, err, name);
		goto out;
	}
	if (lkg >= 0) {
		cfg.lkg = lkg;
	} else {
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			if (mask & (1u << r))
				cfg.weight[r] = bp[r];
	}
	cfg.gen++;
	err = sluice_cfg_publish(s, id, &cfg, (const __u32 **)tables);
out:
	free(tables[0]);
	free(tables[1]);
	sluice_unlock(s);
	return err;
}

/* Fast path: plain stores into the mmapped exposure of the live gen. */
static int exposure_edit(struct sluice *s, const char *name, const __u16 *bp,
			 unsigned int mask, int lkg)
{
	struct sluice_exposure *e;
	__u32 id;
	int err, r;

	err = sluice_lock(s);
	if (err)
		return err;
	err = sluice_service_lookup(s, name, &id);
	if (err)
		goto out;
	e = &s->exp[id];
	if (!s->meta[id].gen || e->gen != s->meta[id].gen) {
		sluice_unlock(s);
		return cfg_edit(s, name, bp, mask, lkg);	/* not mirrored */
	}
	if (lkg >= 0)
		__atomic_store_n(&e->lkg, lkg, __ATOMIC_RELEASE);
	else
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			if (mask & (1u << r))
				__atomic_store_n(&e->weight[r], bp[r], __ATOMIC_RELEASE);
out:
	sluice_unlock(s);
	return err;
}

int sluice_set_weights(struct sluice *s, const char *name,
		       const __u16 bp[SLUICE_MAX_RINGS], unsigned int ring_mask)
{
	int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		if ((ring_mask & (1u << r)) && bp[r] > SLUICE_BUCKETS)
			return sluice_seterr(s, ERANGE, "weight %u.%02u%% is over 100%%",
					     bp[r] / 100, bp[r] % 100);
	if (ring_mask >> SLUICE_MAX_RINGS)
		return sluice_seterr(s, EINVAL, "ring mask 0x%x names rings over %d",
				     ring_mask, SLUICE_MAX_RINGS - 1);
	return exposure_edit(s, name, bp, ring_mask, -1);
}

int sluice_set_weight(struct sluice *s, const char *name, int ring,
		      unsigned int bp)
{
	__u16 w[SLUICE_MAX_RINGS];
	int r;

	if (bp > SLUICE_BUCKETS)
		return sluice_seterr(s, ERANGE, "weight %u.%02u%% is over 100%%",
				     bp / 100, bp % 100);
	if (ring >= SLUICE_MAX_RINGS)
		return sluice_seterr(s, EINVAL, "no ring %d", ring);
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		w[r] = bp;
	return sluice_set_weights(s, name, w,
				  ring < 0 ? (1u << SLUICE_MAX_RINGS) - 1 : 1u << ring);
}

int sluice_set_lkg(struct sluice *s, const char *name, int variant)
{
	if (variant < 0 || variant >= SLUICE_VARIANTS)
		return sluice_seterr(s, EINVAL, "no variant %d", variant);
	return exposure_edit(s, name, NULL, 0, variant);
}

void sluice_promote_spec(struct sluice_service_spec *sp)
{
	int r;

	sp->pool[SLUICE_BASELINE] = sp->pool[SLUICE_CANARY];
	sp->pool[SLUICE_CANARY].n = 0;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		sp->weight[r] = 0;
	sp->lkg = SLUICE_BASELINE;
}

int sluice_promote(struct sluice *s, const char *name, __u32 gen)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	struct sluice_svc_cfg cfg;
	__u32 id;
	int err;

	if (!sp)
		return sluice_seterr(s, ENOMEM, "out of memory");
	err = sluice_lock(s);
	if (err)
		goto out_free;
	err = sluice_service_lookup(s, name, &id);
	if (err)
		goto out;
	err = sluice_cfg_read(s, id, &cfg, NULL);
	if (err) {
		err = sluice_seterr(s, err, "service '%s' has no configuration", name);
		goto out;
	}
	if (gen && cfg.gen != gen) {
		err = 0;	/* decided on another generation: done or stale */
		goto out;
	}
	if (!cfg.nbackends[SLUICE_CANARY]) {
		err = sluice_seterr(s, ENOENT,
			"service '%s': the canary pool has no active backends to promote",
			name);
		goto out;
	}
	err = sluice_service_get_id(s, id, sp);
	if (err)
		goto out;
	sluice_promote_spec(sp);
	err = service_put_locked(s, sp, true, NULL);	/* health moves along */
	if (!err)
		err = 1;
out:
	sluice_unlock(s);
out_free:
	sluice_spec_free(sp);
	return err;
}

/* A fresh backend id: forget what the datapath cached about its next hop. */
void sluice_nexthop_reset(struct sluice *s, __u32 id)
{
	struct sluice_nexthop *z = calloc(s->ncpus, sizeof(*z));

	if (!z)
		return;
	bpf_map_update_elem(s->nexthop_fd, &id, z, BPF_ANY);
	free(z);
}

