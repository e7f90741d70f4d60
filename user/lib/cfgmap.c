// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Publishing a service configuration. A new inner map is created, filled
 * through mmap, frozen (nothing can change a live configuration), and swapped
 * into svc_cfg with a single update. Readers that looked up the old inner map
 * keep a valid, unchanged view until they finish; the kernel frees it after.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "internal.h"

#define ELEM sizeof(struct sluice_slots)

static size_t map_bytes(__u32 elems)
{
	size_t pg = sysconf(_SC_PAGESIZE);

	return ((size_t)elems * ELEM + pg - 1) / pg * pg;
}

int sluice_cfg_publish(struct sluice *s, __u32 svc_id,
		       const struct sluice_svc_cfg *cfg,
		       const __u32 *tables[SLUICE_VARIANTS])
{
	LIBBPF_OPTS(bpf_map_create_opts, mo,
		    .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__u32 elems = 1 + SLUICE_VARIANTS * cfg->table_elems, v, i;
	size_t len = map_bytes(elems);
	struct sluice_slots *slots;
	__u8 *mem;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_svc", sizeof(__u32),
			    ELEM, elems, &mo);
	if (fd < 0)
		return sluice_seterr(s, errno, "cannot create a configuration map: %s",
				     strerror(errno));
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		err = sluice_seterr(s, errno, "cannot map the configuration: %s",
				    strerror(errno));
		goto out;
	}
	memcpy(mem, cfg, sizeof(*cfg));
	slots = (struct sluice_slots *)(mem + ELEM);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		__u32 *dst = slots[v * cfg->table_elems].backend;
		__u32 cap = cfg->table_elems * SLUICE_SLOTS_PER_ELEM;

		for (i = 0; i < cap; i++)
			dst[i] = (tables[v] && i < cfg->table_size)
					 ? tables[v][i] : SLUICE_NO_BACKEND;
	}
	munmap(mem, len);
	if (bpf_map_freeze(fd) < 0) {
		err = sluice_seterr(s, errno, "cannot freeze the configuration: %s",
				    strerror(errno));
		goto out;
	}
	/* The kernel waits for an RCU grace period in this update of a
	 * map-in-map: when it returns, no packet uses the old configuration. */
	if (bpf_map_update_elem(s->svc_cfg_fd, &svc_id, &fd, BPF_ANY) < 0) {
		err = sluice_seterr(s, errno, "cannot publish the configuration: %s",
				    strerror(errno));
		goto out;
	}
	s->meta[svc_id].gen = cfg->gen;
	sluice_exposure_sync(s, svc_id, cfg);
	err = 0;
out:
	close(fd);
	return err;
}

/* Mirror the configuration's weights into the exposure fast path: invalid
 * first, fields, then valid for this gen (see struct sluice_exposure). */
void sluice_exposure_sync(struct sluice *s, __u32 svc_id,
			  const struct sluice_svc_cfg *cfg)
{
	struct sluice_exposure *e = &s->exp[svc_id];
	int r;

	__atomic_store_n(&e->gen, 0, __ATOMIC_RELEASE);
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		__atomic_store_n(&e->weight[r], cfg->weight[r], __ATOMIC_RELAXED);
	__atomic_store_n(&e->lkg, cfg->lkg, __ATOMIC_RELAXED);
	__atomic_store_n(&e->gen, cfg->gen, __ATOMIC_RELEASE);
}

int sluice_cfg_read_err(struct sluice *s, int err, const char *name)
{
	if (err == -EPERM || err == -EACCES)
		return sluice_seterr(s, err, "cannot read the configuration of service '%s': %s",
				     name, sluice_privilege_hint());
	return sluice_seterr(s, err, "service '%s' has no configuration", name);
}

int sluice_cfg_read(struct sluice *s, __u32 svc_id, struct sluice_svc_cfg *cfg,
		    __u32 **tables)
{
	struct bpf_map_info info = {};
	__u32 id, ilen = sizeof(info), v;
	size_t len;
	__u8 *mem;
	int fd;

	if (bpf_map_lookup_elem(s->svc_cfg_fd, &svc_id, &id) < 0)
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) < 0) {
		close(fd);
		return -errno;
	}
	len = map_bytes(info.max_entries);
	mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return -errno;
	memcpy(cfg, mem, sizeof(*cfg));
	if (1 + SLUICE_VARIANTS * (size_t)cfg->table_elems > info.max_entries ||
	    cfg->table_size > cfg->table_elems * SLUICE_SLOTS_PER_ELEM) {
		munmap(mem, len);
		return -EUCLEAN;
	}
	if (svc_id < SLUICE_MAX_SERVICES && s->exp[svc_id].gen == cfg->gen) {
		const struct sluice_exposure *e = &s->exp[svc_id];

		memcpy(cfg->weight, e->weight, sizeof(cfg->weight));
		cfg->lkg = e->lkg;
	}
	if (tables) {
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			tables[v] = malloc(sizeof(__u32) * cfg->table_size);
			if (!tables[v]) {
				munmap(mem, len);
				return -ENOMEM;
			}
			memcpy(tables[v],
			       mem + ELEM + (size_t)v * cfg->table_elems * ELEM,
			       sizeof(__u32) * cfg->table_size);
		}
	}
	munmap(mem, len);
	return 0;
}
