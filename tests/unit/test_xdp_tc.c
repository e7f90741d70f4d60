// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The same decision everywhere: the XDP program of one instance and the TC
 * program of a second instance with the same configuration (a second LB node)
 * pick the same backend for the same 10,000 packets.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "fixture.h"

static char pin2[128];

static void cleanup2(void)
{
	sluice_destroy(pin2);
}

int main(void)
{
	struct sluice *a = t_instance("xdptc", 0), *b;
	struct sluice_open_opts o = { .create = true };
	struct sluice_service_spec *sp = t_spec("same", "192.0.2.40", 80,
						IPPROTO_TCP, 5, 3);
	struct sluice_service_spec *sp6 = t_spec("same6", "2001:db8::40", 53,
						 IPPROTO_UDP, 5, 3);
	int xdp, tc, i, diff = 0, tc_redirect = 0, xdp_tx = 0;

	snprintf(pin2, sizeof(pin2), "/sys/fs/bpf/sluice-test-xdptc2-%d", getpid());
	atexit(cleanup2);
	o.pin_dir = pin2;
	b = sluice_open(&o, NULL, 0);
	if (!ASSERT_TRUE(b != NULL, "second instance"))
		return t_done();
	sp->weight[0] = sp6->weight[0] = 3000;
	sp->seed = sp6->seed = 42;
	ASSERT_OK(sluice_service_put(a, sp), "node A config");
	ASSERT_OK(sluice_service_put(b, sp6), "node B config, other order");
	ASSERT_OK(sluice_service_put(b, sp), "node B config");
	ASSERT_OK(sluice_service_put(a, sp6), "node A config");
	xdp = sluice_prog_fd(a, SLUICE_PROG_XDP);
	tc = sluice_prog_fd(b, SLUICE_PROG_TC);
	if (!ASSERT_TRUE(xdp >= 0 && tc >= 0, "both programs load"))
		return t_done();

	subtest("XDP and TC pick the same backend for 10,000 packets");
	for (i = 0; i < 10000; i++) {
		char src[64];
		struct flow f;
		int vx, vt, bx, bt;

		if (i & 1) {
			snprintf(src, sizeof(src), "2001:db8:7::%x", i);
			f = flow6(src, "2001:db8::40", 1024 + i, 53, IPPROTO_UDP, 0);
		} else {
			snprintf(src, sizeof(src), "172.16.%d.%d", i >> 8, i & 0xff);
			f = flow4(src, "192.0.2.40", 1024 + i, 80, IPPROTO_TCP, F_SYN);
		}
		bx = t_send(xdp, &f, &vx);
		bt = t_send(tc, &f, &vt);
		diff += bx != bt || bx < 0;
		xdp_tx += vx == XDP_TX;
		tc_redirect += vt == TC_ACT_REDIRECT;
	}
	ASSERT_EQ(diff, 0, "no packet decided differently");
	ASSERT_EQ(xdp_tx, 10000, "XDP verdict XDP_TX for all");
	ASSERT_EQ(tc_redirect, 10000, "TC verdict TC_ACT_REDIRECT for all");

	subtest("TC passes what is not a service's");
	{
		struct flow f = flow4("172.16.0.1", "192.0.2.41", 1, 80, IPPROTO_TCP, F_SYN);
		int v;

		t_send(tc, &f, &v);
		ASSERT_EQ(v, TC_ACT_UNSPEC, "TC_ACT_UNSPEC (continue) for other traffic");
	}
	sluice_close(b);
	sluice_spec_free(sp);
	sluice_spec_free(sp6);
	return t_done();
}
