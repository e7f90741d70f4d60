// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The handshake sweep (sluice_health_sweep) through the real datapath
 * (BPF_PROG_TEST_RUN, nat mode): a SYN never answered is counted once as a
 * handshake timeout when it is older than the timeout. The sweep skips its
 * walk of the whole table when the last walk left no handshake that could
 * still time out and the datapath has not touched the table since (issue
 * 20: the walk each second was a tenth of an idle sluiced's CPU). So:
 * a handshake young at one sweep is counted by a later one with no packet
 * in between; a SYN after an idle sweep is counted; nothing is counted
 * twice; a sweep that expires slots always walks.
 */
#include <linux/bpf.h>
#include <time.h>
#include "fixture.h"

#define TIMEOUT_NS	(200ull * 1000 * 1000)

static struct flow syn(int i)
{
	char src[32];

	snprintf(src, sizeof(src), "198.18.0.%d", i + 1);
	return flow4(src, "192.0.2.50", 40000 + i, 443, IPPROTO_TCP, F_SYN);
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static __u64 swept(struct sluice *s, __u32 id)
{
	struct sluice_health h[SLUICE_VARIANTS];

	if (sluice_health_get(s, id, h))
		return ~0ull;
	return h[SLUICE_BASELINE].hs_timeout_sweep + h[SLUICE_CANARY].hs_timeout_sweep;
}

int main(void)
{
	struct sluice *s = t_instance("hsweep", 0);
	struct sluice_service_spec *sp = t_spec("hs", "192.0.2.50", 443, IPPROTO_TCP, 2, 2);
	__u32 id = SLUICE_MAX_SERVICES;
	struct flow f;
	int prog;

	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (!ASSERT_TRUE(prog >= 0, "XDP program loads"))
		return t_done();
	sp->mode = SLUICE_MODE_NAT;
	ASSERT_OK(sluice_service_put(s, sp), "nat service");
	ASSERT_OK(sluice_service_lookup(s, "hs", &id), "its id");

	subtest("a handshake young at one sweep is counted by the next, no packet between");
	f = syn(0);
	t_send(prog, &f, NULL);
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 0, "at once: not timed out yet");
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 0, "again: still young");
	nap_ms(300);
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 1, "300 ms later: counted");
	ASSERT_EQ(swept(s, id), 1, "one handshake timeout in the counters");
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 0, "again: counted once only");
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 0, "and again (nothing moved)");

	subtest("a SYN after an idle sweep is counted");
	f = syn(1);
	t_send(prog, &f, NULL);
	nap_ms(300);
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 1, "the new handshake timed out");
	ASSERT_EQ(swept(s, id), 2, "two in the counters");
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 0), 0, "idle again");

	subtest("a sweep that expires slots walks whatever the mark");
	ASSERT_EQ(sluice_health_sweep(s, TIMEOUT_NS, 1), 0, "expire after 1 ns");
	{
		__u64 est = 0, unconfirmed = 9;

		ASSERT_OK(sluice_conn_count(s, &est, &unconfirmed), "count the tables");
		ASSERT_EQ(unconfirmed, 0, "every unconfirmed slot expired");
	}
	sluice_spec_free(sp);
	return t_done();
}
