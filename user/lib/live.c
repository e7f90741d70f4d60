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

static void count(int fd, __u32 svc_id, int variant, __u32 now,
		  struct sluice_live *out)
{
	struct sluice_conn_key k, n;
	struct sluice_conn e;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &n) == 0) {
		k = n;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &e) < 0 || e.svc_id != svc_id ||
		    e.variant != variant || !e.seen ||
		    (__s32)(now - e.seen) > SLUICE_LIVE_TICKS)
			continue;
		if (k.proto == IPPROTO_TCP)
			out->tcp++;
		else
			out->udp++;
	}
}

int sluice_live_flows(struct sluice *s, const char *name, int variant,
		      struct sluice_live *out)
{
	__u32 id, now = now_tick();
	int err = sluice_service_lookup(s, name, &id);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	count(s->conn_est_fd, id, variant, now, out);
	count(s->conn_new_fd, id, variant, now, out);
	return 0;
}
