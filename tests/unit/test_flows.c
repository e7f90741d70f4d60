// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The connection tables where edge fleets live (issue 24): many flows on
 * one CPU, mid-connection packets of flows this node never saw (after an
 * ECMP change), and floods that must not evict established flows. Every
 * packet is sent from one CPU, as one RX queue would deliver them.
 */
#include <sched.h>
#include <linux/bpf.h>
#include "fixture.h"

#define VIP "192.0.2.80"

static struct flow fl(int i, __u8 flags)
{
	char src[32];

	snprintf(src, sizeof(src), "198.18.%d.%d", i / 250, i % 250 + 1);
	return flow4(src, VIP, 20000 + i % 40000, 80, IPPROTO_TCP, flags);
}

static __u64 ev(struct sluice *s, int e)
{
	__u64 v[SLUICE_EV_MAX] = {};

	sluice_events_get(s, v);
	return v[e];
}

int main(void)
{
	struct sluice_open_opts o = { .create = true, .conn_entries = 4096,
				      .conn_new_entries = 1024 };
	struct sluice_service_spec *sp;
	struct sluice *s;
	__u64 est, unconf, m0;
	cpu_set_t set;
	int prog, i, n;

	if (geteuid())
		t_skip("needs root");
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		t_skip("cannot pin to CPU 0");
	snprintf(t_pin_dir, sizeof(t_pin_dir), "/sys/fs/bpf/sluice-test-flows-%d", getpid());
	o.pin_dir = t_pin_dir;
	atexit(t_cleanup);
	s = t_sl = sluice_open(&o);
	if (!ASSERT_TRUE(s != NULL, "instance: conn_est 4096, conn_new 1024"))
		return t_done();
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	sp = t_spec("flows", VIP, 80, IPPROTO_TCP, 4, 4);
	ASSERT_OK(sluice_service_put(s, sp), "service");
	sluice_spec_free(sp);

	subtest("one CPU can fill the established table (not just its share)");
	n = 3000;	/* more than 4096 / CPUs on any machine with 2+ CPUs */
	for (i = 0; i < n; i++) {
		struct flow f = fl(i, F_SYN);

		t_send(prog, &f, NULL);
		f.tcp_flags = F_ACK;
		t_send(prog, &f, NULL);
	}
	sluice_conn_count(s, &est, &unconf);
	ASSERT_EQ(est, (__u64)n, "every confirmed flow is in conn_est");
	m0 = ev(s, SLUICE_EV_CONN_MISS);
	for (i = 0; i < n; i++) {
		struct flow f = fl(i, F_ACK);

		t_send(prog, &f, NULL);
	}
	ASSERT_EQ(ev(s, SLUICE_EV_CONN_MISS) - m0, 0, "their data packets all hit");

	return t_done();
}
