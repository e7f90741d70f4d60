// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Feature probe before loading: name what the kernel lacks instead of
 * leaving the user with a verifier log. The minimum is Linux 5.10, the first
 * with BPF_F_INNER_MAP (per-service tables of different sizes in one
 * array-of-maps); everything else sluice uses is older.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

struct map_need {
	enum bpf_map_type type;
	__u32 flags;
	const char *what;
};

static const struct map_need map_needs[] = {
	{ BPF_MAP_TYPE_ARRAY, BPF_F_MMAPABLE, "mmap-able arrays (BPF_F_MMAPABLE, 5.5)" },
	{ BPF_MAP_TYPE_ARRAY, BPF_F_INNER_MAP | BPF_F_MMAPABLE,
	  "inner maps of varying size (BPF_F_INNER_MAP, 5.10)" },
	{ BPF_MAP_TYPE_LRU_HASH, BPF_F_NO_COMMON_LRU, "LRU hash maps with per-CPU lists (4.10)" },
	{ BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, "LPM tries (4.11)" },
	{ BPF_MAP_TYPE_DEVMAP_HASH, 0, "hashed device maps (DEVMAP_HASH, 5.4)" },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, 0, "per-CPU arrays (4.6)" },
};

struct helper_need {
	enum bpf_prog_type prog;
	enum bpf_func_id id;
	const char *what;
};

static const struct helper_need helper_needs[] = {
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_redirect_map, "bpf_redirect_map in XDP (4.14)" },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_pull_data, "bpf_skb_pull_data in TC (4.9)" },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect, "bpf_redirect in TC (4.4)" },
};

static int probe_map(const struct map_need *m)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = m->flags);
	__u32 key = 4, val = 4;
	int fd;

	if (m->type == BPF_MAP_TYPE_LPM_TRIE)
		key = 8;
	if (m->type == BPF_MAP_TYPE_DEVMAP_HASH)
		val = 4;
	fd = bpf_map_create(m->type, NULL, key, val, 1, &o);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int sluice_probe(struct sluice *s)
{
	struct utsname u = {};
	unsigned int i;
	int err;

	uname(&u);
	/* a plain map first: without privilege it says EPERM, where the
	 * program probe below only says "unsupported" */
	err = probe_map(&map_needs[0]);
	if (err == -EPERM || err == -EACCES)
		return sluice_seterr(s, EPERM, "no permission to create BPF maps: %s",
				     sluice_privilege_hint());
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) != 1)
		return sluice_seterr(s, EOPNOTSUPP,
			"Linux %s cannot load XDP programs (BPF may be disabled)",
			u.release);
	for (i = 0; i < sizeof(map_needs) / sizeof(map_needs[0]); i++) {
		err = probe_map(&map_needs[i]);
		if (err == -EPERM)
			return sluice_seterr(s, EPERM, "no permission to create BPF maps: %s",
					     sluice_privilege_hint());
		if (err)
			return sluice_seterr(s, EOPNOTSUPP,
				"Linux %s lacks %s; sluice needs Linux 5.10 or newer",
				u.release, map_needs[i].what);
	}
	for (i = 0; i < sizeof(helper_needs) / sizeof(helper_needs[0]); i++)
		if (libbpf_probe_bpf_helper(helper_needs[i].prog, helper_needs[i].id, NULL) != 1)
			return sluice_seterr(s, EOPNOTSUPP,
				"Linux %s lacks %s; sluice needs Linux 5.10 or newer",
				u.release, helper_needs[i].what);
	return 0;
}
