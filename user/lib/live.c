// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Live flows of a service's variant, for what a rollback does to the
 * canary's (sluiced, on_rollback: live_flows:). The connection tables keep
 * an entry after its flow ends (LRU, no teardown on FIN), so an entry is
 * live by its seen tick: a packet in the current tick or the last
 * SLUICE_LIVE_TICKS (~2.1-3.2 s). The datapath keeps the tick from
 * jiffies since boot, which CLOCK_MONOTONIC follows. A TCP flow counts
 * once confirmed (its handshake's ACK), a UDP flow from its first packet.
 * An idle connection does not count until it sends again.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "internal.h"

#define SLUICE_LIVE_TICKS	2

static __u32 now_tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u32)(((__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec) >> SLUICE_SEEN_SHIFT);
}

struct live_arg {
	__u32 svc_id, now;
	int variant;
	struct sluice_live *out;
};

static void count_one(const struct sluice_conn_key *k, const struct sluice_conn *e,
		      const struct live_arg *a)
{
	if (e->svc_id != a->svc_id || e->variant != a->variant || !e->seen ||
	    (__s32)(a->now - e->seen) > SLUICE_LIVE_TICKS)
		return;
	if (k->proto == IPPROTO_TCP)
		a->out->tcp++;
	else
		a->out->udp++;
}

/* conn_est: a hash table */
static void count_est(int fd, const struct live_arg *a)
{
	struct sluice_conn_key k, n;
	struct sluice_conn e;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &n) == 0) {
		k = n;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &e) == 0)
			count_one(&k, &e, a);
	}
}

/* conn_new: an array of slots (sluice_slots_each gives the whole ones) */
static int count_slot(struct sluice_conn_slot *sl, __u32 i, void *arg)
{
	(void)i;
	count_one(&sl->key, &sl->conn, arg);
	return 0;
}

int sluice_live_flows(struct sluice *s, const char *name, int variant,
		      struct sluice_live *out)
{
	struct live_arg a = { .now = now_tick(), .variant = variant, .out = out };
	int err = sluice_service_lookup(s, name, &a.svc_id);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	count_est(s->conn_est_fd, &a);
	return sluice_slots_each(s, count_slot, &a) < 0 ? -EIO : 0;
}
