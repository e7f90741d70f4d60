// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rings: named sets of source prefixes (internal -> early -> broad), each
 * with its own weight per service. A source matches the ring of its longest
 * prefix; no match is ring 0, the default. Prefixes of different rings may
 * not overlap, so a ring never silently captures part of another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "internal.h"

#define RING_PFX_MAX SLUICE_MAX_PREFIXES

static int lpm_fd(struct sluice *s, __u8 family)
{
	return family == AF_INET ? s->ring_v4_fd : s->ring_v6_fd;
}

static void to_key(const struct sluice_prefix *p, void *key)
{
	if (p->family == AF_INET) {
		struct sluice_lpm_v4 *k = key;

		k->prefixlen = p->len;
		k->addr = p->addr.v4;
	} else {
		struct sluice_lpm_v6 *k = key;

		k->prefixlen = p->len;
		memcpy(k->addr, p->addr.bytes, 16);
	}
}

/* Every (prefix, ring) pair in both tries. */
static int all_prefixes(struct sluice *s, struct sluice_prefix *out,
			__u32 *ring, int max)
{
	struct sluice_lpm_v6 k6, n6;
	struct sluice_lpm_v4 k4, n4;
	int n = 0;
	void *prev = NULL;

	while (n < max && bpf_map_get_next_key(s->ring_v4_fd, prev, &n4) == 0) {
		k4 = n4;
		prev = &k4;
		if (bpf_map_lookup_elem(s->ring_v4_fd, &k4, &ring[n]) < 0)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = AF_INET;
		out[n].len = k4.prefixlen;
		out[n].addr.v4 = k4.addr;
		n++;
	}
	prev = NULL;
	while (n < max && bpf_map_get_next_key(s->ring_v6_fd, prev, &n6) == 0) {
		k6 = n6;
		prev = &k6;
		if (bpf_map_lookup_elem(s->ring_v6_fd, &k6, &ring[n]) < 0)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = AF_INET6;
		out[n].len = k6.prefixlen;
		memcpy(out[n].addr.bytes, k6.addr, 16);
		n++;
	}
	return n;
}

/* One prefix contains the other (or they are equal). */
bool sluice_prefix_overlap(const struct sluice_prefix *a,
			   const struct sluice_prefix *b)
{
	int len = a->len < b->len ? a->len : b->len, i;

	if (a->family != b->family)
		return false;
	for (i = 0; i < len; i++) {
		int m = 0x80 >> (i % 8);

		if ((a->addr.bytes[i / 8] & m) != (b->addr.bytes[i / 8] & m))
			return false;
	}
	return true;
}

int sluice_ring_id(struct sluice *s, const char *name)
{
	struct sluice_ring_meta m;
	__u32 i;

	if (!strcmp(name, "default") || !strcmp(name, "broad"))
		return 0;
	for (i = 1; i < SLUICE_MAX_RINGS; i++)
		if (bpf_map_lookup_elem(s->ring_meta_fd, &i, &m) == 0 &&
		    m.in_use && !strncmp(m.name, name, SLUICE_RING_NAME_LEN))
			return i;
	return sluice_seterr(s, ENOENT, "no ring '%s'", name);
}

int sluice_ring_name(struct sluice *s, int id, char *out, size_t len)
{
	struct sluice_ring_meta m;
	__u32 i = id;

	if (id == 0) {
		snprintf(out, len, "default");
		return 0;
	}
	if (id < 0 || id >= SLUICE_MAX_RINGS ||
	    bpf_map_lookup_elem(s->ring_meta_fd, &i, &m) < 0 || !m.in_use)
		return -ENOENT;
	snprintf(out, len, "%.*s", SLUICE_RING_NAME_LEN, m.name);
	return 0;
}

int sluice_ring_prefixes(struct sluice *s, int id, struct sluice_prefix *out,
			 int max)
{
	struct sluice_prefix *all = calloc(RING_PFX_MAX * 2, sizeof(*all));
	__u32 *ring = calloc(RING_PFX_MAX * 2, sizeof(*ring));
	int n, i, k = 0;

	if (!all || !ring) {
		free(all);
		free(ring);
		return -ENOMEM;
	}
	n = all_prefixes(s, all, ring, RING_PFX_MAX * 2);
	for (i = 0; i < n && k < max; i++)
		if ((int)ring[i] == id)
			out[k++] = all[i];
	free(all);
	free(ring);
	return k;
}

static int ring_set_locked(struct sluice *s, const char *name,
			   const struct sluice_prefix *pfx, unsigned int n)
{
	struct sluice_prefix *all = NULL;
	struct sluice_ring_meta m = {};
	__u32 *ring = NULL, id = 0, i, j;
	int nall, err = 0;
	__u8 key[sizeof(struct sluice_lpm_v6)];

	if (!*name || strlen(name) >= SLUICE_RING_NAME_LEN ||
	    !strcmp(name, "default") || !strcmp(name, "broad"))
		return sluice_seterr(s, EINVAL,
			"ring name '%s' must be 1-%d characters and not 'default' or 'broad'",
			name, SLUICE_RING_NAME_LEN - 1);
	for (i = 0; i < n; i++) {
		if (pfx[i].family != AF_INET && pfx[i].family != AF_INET6)
			return sluice_seterr(s, EINVAL, "ring '%s': prefix %u has no address family",
					     name, i + 1);
		for (j = 0; j < i; j++)
			if (sluice_prefix_overlap(&pfx[i], &pfx[j]))
				return sluice_seterr(s, EEXIST,
					"ring '%s': prefixes %u and %u overlap", name, j + 1, i + 1);
	}
	err = sluice_ring_id(s, name);
	if (err > 0) {
		id = err;
	} else {
		for (id = 1; id < SLUICE_MAX_RINGS; id++)
			if (bpf_map_lookup_elem(s->ring_meta_fd, &id, &m) == 0 &&
			    !m.in_use)
				break;
		if (id == SLUICE_MAX_RINGS)
			return sluice_seterr(s, ENOSPC, "all %d rings are in use",
					     SLUICE_MAX_RINGS - 1);
	}
	s->err[0] = '\0';
	all = calloc(RING_PFX_MAX * 2, sizeof(*all));
	ring = calloc(RING_PFX_MAX * 2, sizeof(*ring));
	if (!all || !ring) {
		err = -ENOMEM;
		goto out;
	}
	nall = all_prefixes(s, all, ring, RING_PFX_MAX * 2);
	{	/* capacity: the other rings' prefixes plus these, per family */
		unsigned int n4 = 0, n6 = 0;

		for (j = 0; j < (__u32)nall; j++)
			if (ring[j] != id)
				*(all[j].family == AF_INET ? &n4 : &n6) += 1;
		for (i = 0; i < n; i++)
			*(pfx[i].family == AF_INET ? &n4 : &n6) += 1;
		if (n4 > RING_PFX_MAX || n6 > RING_PFX_MAX) {
			err = sluice_seterr(s, ENOSPC,
				"ring '%s': %u IPv%c prefixes in all rings would exceed the limit of %d",
				name, n4 > RING_PFX_MAX ? n4 : n6,
				n4 > RING_PFX_MAX ? '4' : '6', RING_PFX_MAX);
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < (__u32)nall; j++)
			if (ring[j] != id && sluice_prefix_overlap(&pfx[i], &all[j])) {
				char a[64], b[64], rn[SLUICE_RING_NAME_LEN + 1];

				sluice_format_addr(&pfx[i].addr, pfx[i].family, a, sizeof(a));
				sluice_format_addr(&all[j].addr, all[j].family, b, sizeof(b));
				sluice_ring_name(s, ring[j], rn, sizeof(rn));
				err = sluice_seterr(s, EEXIST,
					"ring '%s': prefix %s/%u overlaps %s/%u of ring '%s'",
					name, a, pfx[i].len, b, all[j].len, rn);
				goto out;
			}
	/* add the new prefixes, then drop the ring's old ones */
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.in_use = 1;
	bpf_map_update_elem(s->ring_meta_fd, &id, &m, BPF_ANY);
	for (i = 0; i < n; i++) {
		to_key(&pfx[i], key);
		if (bpf_map_update_elem(lpm_fd(s, pfx[i].family), key, &id, BPF_ANY) < 0) {
			err = sluice_seterr(s, errno, "cannot add a prefix: %s",
					    strerror(errno));
			goto out;
		}
	}
	for (j = 0; j < (__u32)nall; j++) {
		bool wanted = false;

		if (ring[j] != id)
			continue;
		for (i = 0; i < n; i++)
			wanted |= pfx[i].family == all[j].family &&
				  pfx[i].len == all[j].len &&
				  !memcmp(&pfx[i].addr, &all[j].addr, 16);
		if (!wanted) {
			to_key(&all[j], key);
			bpf_map_delete_elem(lpm_fd(s, all[j].family), key);
		}
	}
	err = 0;
out:
	free(all);
	free(ring);
	return err;
}

int sluice_ring_set(struct sluice *s, const char *name,
		    const struct sluice_prefix *pfx, unsigned int n)
{
	int err = sluice_lock(s);

	if (err)
		return err;
	err = ring_set_locked(s, name, pfx, n);
	sluice_unlock(s);
	return err;
}

int sluice_ring_del(struct sluice *s, const char *name)
{
	struct sluice_prefix *p;
	struct sluice_ring_meta m = {};
	__u8 key[sizeof(struct sluice_lpm_v6)];
	int id, n, i, err;

	err = sluice_lock(s);
	if (err)
		return err;
	id = sluice_ring_id(s, name);
	if (id <= 0) {
		err = id < 0 ? id : sluice_seterr(s, EINVAL, "the default ring cannot be deleted");
		goto out;
	}
	p = calloc(RING_PFX_MAX * 2, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	n = sluice_ring_prefixes(s, id, p, RING_PFX_MAX * 2);
	for (i = 0; i < n; i++) {
		to_key(&p[i], key);
		bpf_map_delete_elem(lpm_fd(s, p[i].family), key);
	}
	free(p);
	__u32 uid = id;
	bpf_map_update_elem(s->ring_meta_fd, &uid, &m, BPF_ANY);
	err = 0;
out:
	sluice_unlock(s);
	return err;
}
