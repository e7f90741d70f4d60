// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* How much kernel memory each map of an instance holds (sluice status). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"

/* The kernel's own figure: memlock in the fd's fdinfo. */
static __u64 fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void fill_row(struct sluice_map_mem *m, const char *name, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	m->present = true;
	m->type = info.type;
	m->max_entries = info.max_entries;
	m->key_size = info.key_size;
	m->value_size = info.value_size;
	m->flags = info.map_flags;
	m->bytes = fd_memlock(fd);
}

/*
 * Add the inner maps of svc_cfg to a row: only the slots of services in
 * use (on kernels before 6.2 each lookup in an array-of-maps waits an RCU
 * grace period, so walking all 4096 slots took seconds, minutes under
 * qemu).
 */
static void add_inner(struct sluice *s, struct sluice_map_mem *m, int outer_fd)
{
	static __u32 ids[SLUICE_MAX_SERVICES];
	__u32 k, id;
	int fd, i, n;

	n = sluice_service_ids(s, ids, SLUICE_MAX_SERVICES);
	for (i = 0; i < n; i++) {
		k = ids[i];
		if (bpf_map_lookup_elem(outer_fd, &k, &id))
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		m->bytes += fd_memlock(fd);
		m->inner++;
		close(fd);
	}
}

int sluice_map_memory(struct sluice *s, struct sluice_map_mem *out, int max)
{
	char path[PATH_MAX + 16];
	const char *name;
	int i, n = 0, fd;

	for (i = 0; n < max; i++) {
		fd = sluice_map_at(s, i, &name);
		if (fd == -ENOENT)
			break;
		fill_row(&out[n], name, fd);
		if (!strcmp(name, "svc_cfg")) {
			add_inner(s, &out[n], fd);
		} else if (!strcmp(name, "nat_rev")) {
			int tbl = sluice_nat_table(s, false);
			struct sluice_map_mem t;

			if (tbl < 0) {
				out[n].present = false;
			} else {
				fill_row(&t, name, tbl);
				out[n].bytes += t.bytes;
				out[n].type = t.type;
				out[n].max_entries = t.max_entries;
				out[n].key_size = t.key_size;
				out[n].value_size = t.value_size;
				out[n].inner = 1;
			}
		}
		n++;
	}
	if (n < max) {
		snprintf(path, sizeof(path), "%s/layout", s->pin_dir);
		fd = bpf_obj_get(path);
		fill_row(&out[n++], "layout", fd);
		if (fd >= 0)
			close(fd);
	}
	return n;
}
