// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The kill switch: one aligned 32-bit array write per action. It needs no
 * daemon and no lock: the word is the whole state, so a second revert finds
 * it already set and writes nothing.
 */
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

static int kill_index(struct sluice *s, const char *name, __u32 *idx)
{
	if (!name) {
		*idx = SLUICE_KILL_ALL_INDEX;
		return 0;
	}
	return sluice_service_lookup(s, name, idx);
}

int sluice_kill_get(struct sluice *s, const char *name, __u32 *word)
{
	__u32 idx;
	int err = kill_index(s, name, &idx);

	if (err)
		return err;
	if (bpf_map_lookup_elem(s->kill_fd, &idx, word) < 0)
		return sluice_seterr(s, errno, "cannot read the kill switch: %s",
				     strerror(errno));
	return 0;
}

static int kill_set(struct sluice *s, const char *name, __u32 want)
{
	__u32 idx, cur;
	int err = kill_index(s, name, &idx);

	if (err)
		return err;
	if (bpf_map_lookup_elem(s->kill_fd, &idx, &cur) < 0)
		return sluice_seterr(s, errno, "cannot read the kill switch: %s",
				     strerror(errno));
	if (cur == want)
		return 0;
	if (bpf_map_update_elem(s->kill_fd, &idx, &want, BPF_ANY) < 0)
		return sluice_seterr(s, errno, "cannot write the kill switch: %s",
				     strerror(errno));
	return 1;
}

int sluice_revert(struct sluice *s, const char *name, bool reset)
{
	return kill_set(s, name, SLUICE_KILL_REVERT |
				 (reset ? SLUICE_KILL_RESET : 0));
}

int sluice_resume(struct sluice *s, const char *name)
{
	return kill_set(s, name, 0);
}

unsigned int sluice_effective_weight(unsigned int weight, __u32 kill, unsigned int lkg)
{
	if (!(kill & SLUICE_KILL_REVERT))
		return weight;
	return lkg == SLUICE_CANARY ? SLUICE_BUCKETS : 0;
}
