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
				      .conn_new_entries = 16384 };
	struct sluice_service_spec *sp;
	struct sluice *s;
	__u64 est, unconf, m0;
	cpu_set_t set;
	int prog, i, n;
	char why[512];

	if (geteuid())
		t_skip("needs root");
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		t_skip("cannot pin to CPU 0");
	snprintf(t_pin_dir, sizeof(t_pin_dir), "/sys/fs/bpf/sluice-test-flows-%d", getpid());
	o.pin_dir = t_pin_dir;
	atexit(t_cleanup);
	s = t_sl = sluice_open(&o, why, sizeof(why));
	if (!ASSERT_TRUE(s != NULL, "instance: conn_est 4096, conn_new 16384")) {
		fprintf(stderr, "cannot open the instance: %s\n", why);
		return t_done();
	}
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

	subtest("a mid-connection flow never seen here keeps the fleet's backend, and is remembered");
	{
		struct flow f = fl(n + 1, F_SYN);
		struct sluice_conn_key k = {};
		char pin[192];
		int fd, b0, b1, b2, b3;
		__u64 e0, u0;

		b0 = t_send(prog, &f, NULL);	/* decided here, as on any node */
		f.tcp_flags = F_ACK;
		t_send(prog, &f, NULL);
		/* forget it: this node now meets it mid-connection */
		snprintf(pin, sizeof(pin), "%s/conn_est", t_pin_dir);
		fd = bpf_obj_get(pin);
		k.src = f.src;
		k.dst = f.dst;
		k.sport = htons(f.sport);
		k.dport = htons(f.dport);
		k.proto = f.proto;
		k.family = f.family;
		ASSERT_OK(bpf_map_delete_elem(fd, &k), "entry deleted");
		close(fd);
		sluice_conn_count(s, &e0, &u0);
		b1 = t_send(prog, &f, NULL);
		ASSERT_EQ(b1, b0, "first packet: the fleet's backend");
		sluice_conn_count(s, &est, &unconf);
		ASSERT_EQ(est, e0, "one packet is not remembered");
		ASSERT_EQ(unconf, u0, "nor does it take an unconfirmed entry");
		b2 = t_send(prog, &f, NULL);
		ASSERT_EQ(b2, b0, "second packet: the same backend");
		sluice_conn_count(s, &est, &unconf);
		ASSERT_EQ(est, e0 + 1, "remembered as established from its second packet");
		ASSERT_OK(sluice_set_weight(s, "flows", -1, 10000), "weight 100%");
		b3 = t_send(prog, &f, NULL);
		ASSERT_EQ(b3, b0, "a weight change does not move it any more");
		ASSERT_OK(sluice_set_weight(s, "flows", -1, 0), "weight back to 0%");
	}

	subtest("a spoofed ACK flood (a packet per tuple) evicts no flow");
	{
		__u64 e0, p0, m0;
		int moved = 0;

		/* 100 handshakes half done: their SYNs wait in conn_new */
		for (i = 0; i < 100; i++) {
			struct flow f = fl(10000 + i, F_SYN);

			t_send(prog, &f, NULL);
		}
		sluice_conn_count(s, &e0, &unconf);
		for (i = 0; i < 20000; i++) {
			char src[32];
			struct flow f;

			snprintf(src, sizeof(src), "203.%d.%d.%d", i >> 16, (i >> 8) & 0xff, i & 0xff);
			f = flow4(src, VIP, 1024 + i % 50000, 80, IPPROTO_TCP, F_ACK);
			t_send(prog, &f, NULL);
		}
		sluice_conn_count(s, &est, &unconf);
		ASSERT_EQ(est, e0, "conn_est: not one flood tuple, not one flow lost");
		ASSERT_OK(sluice_set_weight(s, "flows", -1, 10000), "weight 100%");
		m0 = ev(s, SLUICE_EV_CONN_MISS);
		for (i = 0; i < n; i++) {
			struct flow f = fl(i, F_ACK);

			moved += t_send(prog, &f, NULL) >= 256;
		}
		ASSERT_EQ(moved, 0, "no established flow moved");
		ASSERT_EQ(ev(s, SLUICE_EV_CONN_MISS) - m0, 0, "every established flow hit");
		p0 = ev(s, SLUICE_EV_CONN_PROMOTE);
		m0 = ev(s, SLUICE_EV_CONN_MISS);
		for (i = 0; i < 100; i++) {
			struct flow f = fl(10000 + i, F_ACK);

			t_send(prog, &f, NULL);
		}
		ASSERT_EQ(ev(s, SLUICE_EV_CONN_PROMOTE) - p0, 100,
			  "the waiting handshakes complete from their own entries");
		ASSERT_EQ(ev(s, SLUICE_EV_CONN_MISS) - m0, 0, "none was evicted by the flood");
		ASSERT_OK(sluice_set_weight(s, "flows", -1, 0), "weight back to 0%");
	}

	return t_done();
}
