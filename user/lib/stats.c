// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reading counters: per-CPU values summed in userspace. */
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

static const char *const ev_names[SLUICE_EV_MAX] = {
	[SLUICE_EV_PASS_NOT_IP] = "pass_not_ip",
	[SLUICE_EV_PASS_NO_SERVICE] = "pass_no_service",
	[SLUICE_EV_PASS_TRUNCATED] = "pass_truncated",
	[SLUICE_EV_PASS_MALFORMED] = "pass_malformed",
	[SLUICE_EV_PASS_FRAGMENT] = "pass_fragment",
	[SLUICE_EV_PASS_ICMP_OTHER] = "pass_icmp_other",
	[SLUICE_EV_PASS_NO_CONFIG] = "pass_no_config",
	[SLUICE_EV_DROP_NO_BACKEND] = "drop_no_backend",
	[SLUICE_EV_PASS_BAD_BACKEND] = "pass_bad_backend",
	[SLUICE_EV_REDIRECT_FAIL] = "drop_redirect_fail",
	[SLUICE_EV_CONN_NEW_HIT] = "conn_unconfirmed_hit",
	[SLUICE_EV_CONN_MISS] = "conn_miss",
	[SLUICE_EV_CONN_INSERT] = "conn_insert",
	[SLUICE_EV_CONN_INSERT_FAIL] = "conn_insert_fail",
	[SLUICE_EV_CONN_PROMOTE] = "conn_promote",
	[SLUICE_EV_ICMP_STEERED] = "icmp_steered",
	[SLUICE_EV_FIB_NO_NEIGH] = "fib_no_neigh_via_stack",
	[SLUICE_EV_PASS_FIB_FAIL] = "pass_fib_no_route",
	[SLUICE_EV_PASS_FIB_OTHER] = "pass_fib_other",
	[SLUICE_EV_ICMP_TOO_BIG] = "icmp_too_big_sent",
	[SLUICE_EV_PASS_TOO_BIG] = "pass_too_big",
	[SLUICE_EV_PASS_ENCAP_FAIL] = "pass_encap_fail",
	[SLUICE_EV_PASS_NAT_ICMP] = "pass_nat_icmp",
	[SLUICE_EV_NAT_REPLY] = "nat_reply",
	[SLUICE_EV_NAT_REPLY_MISS] = "nat_reply_miss",
	[SLUICE_EV_NAT_REV_FAIL] = "nat_rev_insert_fail",
	[SLUICE_EV_CONN_REDECIDE] = "conn_redecided",
};

const char *sluice_event_name(int ev)
{
	return ev >= 0 && ev < SLUICE_EV_MAX && ev_names[ev] ? ev_names[ev] : "?";
}

int sluice_stats_get(struct sluice *s, __u32 svc_id,
		     struct sluice_flow_stats out[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	struct sluice_flow_stats *pc;
	int v, r, c, k;

	if (svc_id >= SLUICE_MAX_SERVICES)
		return -EINVAL;
	pc = calloc(s->ncpus, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	memset(out, 0, sizeof(struct sluice_flow_stats) * SLUICE_VARIANTS *
			       SLUICE_MAX_RINGS);
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			__u32 idx = SLUICE_STATS_INDEX(svc_id, v, r);
			__u64 *dst = (__u64 *)&out[v][r];

			if (bpf_map_lookup_elem(s->flow_stats_fd, &idx, pc) < 0) {
				free(pc);
				return -errno;
			}
			for (c = 0; c < s->ncpus; c++)
				for (k = 0; k < (int)(sizeof(*pc) / 8); k++)
					dst[k] += ((__u64 *)&pc[c])[k];
		}
	free(pc);
	return 0;
}

int sluice_events_get(struct sluice *s, __u64 out[SLUICE_EV_MAX])
{
	__u64 *pc = calloc(s->ncpus, sizeof(__u64));
	__u32 ev;
	int c;

	if (!pc)
		return -ENOMEM;
	for (ev = 0; ev < SLUICE_EV_MAX; ev++) {
		out[ev] = 0;
		if (bpf_map_lookup_elem(s->events_fd, &ev, pc) < 0) {
			free(pc);
			return -errno;
		}
		for (c = 0; c < s->ncpus; c++)
			out[ev] += pc[c];
	}
	free(pc);
	return 0;
}

static __u64 count_keys(int fd)
{
	struct sluice_conn_key k, n;
	void *prev = NULL;
	__u64 cnt = 0;

	while (bpf_map_get_next_key(fd, prev, &n) == 0) {
		k = n;
		prev = &k;
		cnt++;
	}
	return cnt;
}

static int count_slot(struct sluice_conn_slot *sl, __u32 i, void *arg)
{
	(void)sl;
	(void)i;
	++*(__u64 *)arg;
	return 0;
}

int sluice_conn_count(struct sluice *s, __u64 *est, __u64 *unconfirmed)
{
	*est = count_keys(s->conn_est_fd);
	*unconfirmed = 0;
	sluice_slots_each(s, count_slot, unconfirmed);
	return 0;
}
