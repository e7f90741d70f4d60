// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A flood of new flows (spoofed SYNs, never confirmed) must not evict
 * established flows: they live in conn_est, the flood churns conn_new only.
 * The proof: after the flood the weight flips to 100%, so an established
 * flow that had lost its entry would be re-decided onto the canary.
 */
#include <linux/bpf.h>
#include "fixture.h"

#define EST 1000
#define FLOOD 50000

int main(void)
{
	struct sluice_open_opts o = { .create = true, .conn_entries = 1 << 14,
				      .conn_new_entries = 2048 };
	struct sluice *s;
	struct sluice_service_spec *sp;
	static int be[EST];
	__u64 est, unconf, ev[SLUICE_EV_MAX];
	int prog, i, moved = 0;

	if (geteuid())
		t_skip("needs root");
	snprintf(t_pin_dir, sizeof(t_pin_dir), "/sys/fs/bpf/sluice-test-flood-%d", getpid());
	o.pin_dir = t_pin_dir;
	atexit(t_cleanup);
	s = t_sl = sluice_open(&o, NULL, 0);
	if (!ASSERT_TRUE(s != NULL, "instance with a small unconfirmed table"))
		return t_done();
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	sp = t_spec("flood", "192.0.2.70", 80, IPPROTO_TCP, 4, 4);
	ASSERT_OK(sluice_service_put(s, sp), "service at 0%");

	subtest("established flows survive a SYN flood");
	for (i = 0; i < EST; i++) {
		char src[32];
		struct flow f;

		snprintf(src, sizeof(src), "198.18.%d.%d", i / 250, i % 250 + 1);
		f = flow4(src, "192.0.2.70", 30000 + i, 80, IPPROTO_TCP, F_SYN);
		be[i] = t_send(prog, &f, NULL);
		f.tcp_flags = F_ACK;
		t_send(prog, &f, NULL);
	}
	sluice_conn_count(s, &est, &unconf);
	ASSERT_EQ(est, EST, "all confirmed flows in the established table");
	for (i = 0; i < FLOOD; i++) {
		char src[32];
		struct flow f;

		snprintf(src, sizeof(src), "203.%d.%d.%d", i >> 16, (i >> 8) & 0xff, i & 0xff);
		f = flow4(src, "192.0.2.70", 1024 + i % 50000, 80, IPPROTO_TCP, F_SYN);
		t_send(prog, &f, NULL);
	}
	sluice_conn_count(s, &est, &unconf);
	ASSERT_EQ(est, EST, "established table untouched by the flood");
	ASSERT_TRUE(unconf <= 2048, "the flood stayed in the unconfirmed table");
	ASSERT_OK(sluice_set_weight(s, "flood", -1, 10000), "weight 100%");
	for (i = 0; i < EST; i++) {
		char src[32];
		struct flow f;

		snprintf(src, sizeof(src), "198.18.%d.%d", i / 250, i % 250 + 1);
		f = flow4(src, "192.0.2.70", 30000 + i, 80, IPPROTO_TCP, F_ACK);
		moved += t_send(prog, &f, NULL) != be[i];
	}
	ASSERT_EQ(moved, 0, "no established flow moved after the flood");

	subtest("a flow that lost its entry is re-decided onto the same backend");
	{
		struct flow f = flow4("198.18.0.1", "192.0.2.70", 30000, 80, IPPROTO_TCP, F_ACK);
		struct sluice_conn_key k = {};
		char pin[192];
		int fd;

		ASSERT_OK(sluice_set_weight(s, "flood", -1, 0), "weight back to 0%");
		snprintf(pin, sizeof(pin), "%s/conn_est", t_pin_dir);
		fd = bpf_obj_get(pin);
		k.family = AF_INET;
		k.proto = IPPROTO_TCP;
		k.src = f.src;
		k.dst = f.dst;
		k.sport = htons(f.sport);
		k.dport = htons(f.dport);
		ASSERT_OK(bpf_map_delete_elem(fd, &k), "drop the flow's entry");
		close(fd);
		ASSERT_EQ(t_send(prog, &f, NULL), be[0], "same backend from the hash");
	}
	sluice_events_get(s, ev);
	ASSERT_TRUE(ev[SLUICE_EV_CONN_INSERT] >= EST + FLOOD, "insertions counted");
	ASSERT_TRUE(ev[SLUICE_EV_CONN_MISS] >= EST + FLOOD, "misses counted");
	sluice_spec_free(sp);
	return t_done();
}
