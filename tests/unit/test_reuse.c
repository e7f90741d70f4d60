// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tuple reuse through BPF_PROG_TEST_RUN: a SYN replayed with the same
 * sequence number stays on its backend and counts as a retransmission; a
 * SYN with a new sequence number on the same tuple is a new connection,
 * decided with the current weight (and kill switch, cutover, affinity
 * client), counted as a new flow and not as a retransmission; in nat mode
 * it replaces the reverse entry (no stale "answered" mark, a fresh SYN
 * time). UDP: a flow idle past its service's udp-idle is decided afresh,
 * one inside it is not. Live flows (no SYN) never move.
 */
#include <sched.h>
#include <time.h>
#include <net/if.h>
#include <linux/bpf.h>
#include "fixture.h"

#define DEV_OUT "slr0"
#define DEV_IN "slr1"

static int prog, rprog, ifin;

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "  setup command failed: %s\n", cmd);
	return rc;
}

static int run_ctx(int fd, const __u8 *in, __u32 len, __u8 *out, __u32 *olen)
{
	return t_run_ctx(fd, in, len, out, olen, ifin);
}

/*
 * Send f; the variant it reached (0 baseline, 1 canary, -1 not forwarded).
 * DSR services are told apart by the backend's MAC, nat ones by the
 * rewritten destination (10.10.0.x baseline, 10.11.0.x canary); *be gets
 * that destination's last byte (nat) or the MAC's backend index (dsr).
 */
static int send_f(const struct flow *f, int nat, int *be)
{
	__u8 in[256], out[4096];
	__u32 olen = 0;
	int len = build_pkt(in, f, &(struct pkt_opts){ .payload = 16 }), v;

	v = run_ctx(prog, in, len, out, &olen);
	if ((v != XDP_TX && v != XDP_REDIRECT) || olen < 34)
		return -1;
	if (nat) {
		if (out[14 + 16] != 10 || (out[14 + 17] != 10 && out[14 + 17] != 11))
			return -1;
		if (be)
			*be = out[14 + 19];
		return out[14 + 17] - 10;
	}
	if (be)
		*be = t_backend_of(out) & 0xff;
	return t_variant_of(out);
}

static void stats_of(struct sluice *s, const char *svc,
		     struct sluice_health h[SLUICE_VARIANTS])
{
	__u32 id = 0;

	sluice_service_lookup(s, svc, &id);
	sluice_health_get(s, id, h);
}

static __u64 ev_redecide(struct sluice *s)
{
	__u64 ev[SLUICE_EV_MAX];

	if (sluice_events_get(s, ev))
		return ~0ull;
	return ev[SLUICE_EV_CONN_REDECIDE];
}

static struct sluice_service_spec *spec(const char *name, const char *vip,
					__u8 proto, int mode, int aff)
{
	struct sluice_service_spec *sp = t_spec(name, vip, 80, proto, 2, 2);
	unsigned int v, i;

	sp->mode = mode;
	sp->affinity = aff;
	if (mode == SLUICE_MODE_NAT)
		for (v = 0; v < 2; v++)
			for (i = 0; i < sp->pool[v].n; i++)
				sp->pool[v].be[i].has_mac = false;
	return sp;
}

/* SYN seq 1000 at 0 %, replayed; SYN seq 5000 at 100 %; live ACK. */
static void test_tcp(struct sluice *s, const char *svc, const char *vip,
		     int nat, int aff)
{
	struct flow f = flow4("198.51.100.20", vip, 41000, 80, IPPROTO_TCP, F_SYN);
	struct sluice_health h[2];
	__u64 ev0 = ev_redecide(s);
	char m[160];
	int v;

	sluice_set_weight(s, svc, -1, 0);
	f.seq = 1000;
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: SYN (seq 1000) at 0%% -> baseline", svc);
	ASSERT_EQ(v, 0, m);
	sluice_set_weight(s, svc, -1, 10000);
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: the same SYN replayed at 100%% stays on baseline", svc);
	ASSERT_EQ(v, 0, m);
	stats_of(s, svc, h);
	snprintf(m, sizeof(m), "%s: the replay counts as one baseline SYN retransmission", svc);
	ASSERT_TRUE(h[0].syn_retrans == 1 && h[0].new_flows == 1, m);

	f.seq = 5000;
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: a SYN with a new sequence number at 100%% -> canary", svc);
	ASSERT_EQ(v, 1, m);
	stats_of(s, svc, h);
	snprintf(m, sizeof(m), "%s: ... is a new canary flow, not a retransmission", svc);
	ASSERT_TRUE(h[1].new_flows == 1 && h[1].syn_retrans == 0 &&
		    h[0].syn_retrans == 1, m);
	snprintf(m, sizeof(m), "%s: ... one conn_redecided event", svc);
	ASSERT_EQ(ev_redecide(s) - ev0, 1, m);
	v = send_f(&f, nat, NULL);
	stats_of(s, svc, h);
	snprintf(m, sizeof(m), "%s: the new SYN replayed: canary, one canary retransmission", svc);
	ASSERT_TRUE(v == 1 && h[1].syn_retrans == 1, m);
	/* a client retrying its SYN: one bad event per flow */
	send_f(&f, nat, NULL);
	v = send_f(&f, nat, NULL);
	stats_of(s, svc, h);
	snprintf(m, sizeof(m), "%s: the SYN retried twice more: still one retransmission for the flow (%llu)",
		 svc, (unsigned long long)h[1].syn_retrans);
	ASSERT_TRUE(v == 1 && h[1].syn_retrans == 1 && h[1].new_flows == 1, m);

	/* establish it, then a weight change must not move it */
	f.tcp_flags = F_ACK;
	f.seq = 5001;
	send_f(&f, nat, NULL);
	sluice_set_weight(s, svc, -1, 0);
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: live connection (ACK) stays on canary at 0%%", svc);
	ASSERT_EQ(v, 1, m);
	f.tcp_flags = F_SYN;
	f.seq = 9000;
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: new SYN on the established tuple at 0%% -> baseline", svc);
	ASSERT_EQ(v, 0, m);
	f.tcp_flags = F_ACK;
	f.seq = 9001;
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: and its ACK follows it (baseline)", svc);
	ASSERT_EQ(v, 0, m);

	/* kill switch from 100 %, and cutover */
	sluice_set_weight(s, svc, -1, 10000);
	f.tcp_flags = F_SYN;
	f.seq = 12000;
	ASSERT_EQ(send_f(&f, nat, NULL), 1, "new SYN at 100% -> canary");
	sluice_revert(s, svc, false);
	f.seq = 12000;
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: after revert, a retransmitted SYN stays on canary", svc);
	ASSERT_EQ(v, 1, m);
	f.seq = 13000;
	v = send_f(&f, nat, NULL);
	snprintf(m, sizeof(m), "%s: after revert, a new SYN on the tuple -> baseline", svc);
	ASSERT_EQ(v, 0, m);
	sluice_resume(s, svc);
	sluice_set_weight(s, svc, -1, 0);
	if (sluice_cutover(s, svc, SLUICE_CANARY) >= 0) {
		f.seq = 14000;
		v = send_f(&f, nat, NULL);
		snprintf(m, sizeof(m), "%s: after cutover to canary, a new SYN -> canary", svc);
		ASSERT_EQ(v, 1, m);
		sluice_cutover(s, svc, SLUICE_BASELINE);
	} else {
		ASSERT_TRUE(0, "cutover to canary");
	}
	(void)aff;
}

static int nat_rev_get(const char *be, __u16 cport, struct sluice_nat_rev *r)
{
	struct sluice_conn_key k = { .sport = htons(80), .dport = htons(cport),
				     .proto = IPPROTO_TCP, .family = AF_INET };
	char pin[256];
	__u32 zero = 0, inner_id;
	int outer, fd, rc;

	inet_pton(AF_INET, be, &k.src.v4);
	inet_pton(AF_INET, "198.51.100.21", &k.dst.v4);
	/* nat_rev holds the table as its one inner map (made with NAT) */
	snprintf(pin, sizeof(pin), "%s/nat_rev", t_pin_dir);
	outer = bpf_obj_get(pin);
	if (outer < 0)
		return -errno;
	rc = bpf_map_lookup_elem(outer, &zero, &inner_id) ? -errno : 0;
	close(outer);
	if (rc)
		return rc;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	rc = bpf_map_lookup_elem(fd, &k, r) ? -errno : 0;
	close(fd);
	return rc;
}

/* The backend's SYN-ACK (or RST) through the reply program. */
static void reply(const char *be, __u16 cport, __u8 flags)
{
	struct flow r = flow4(be, "198.51.100.21", 80, cport, IPPROTO_TCP, flags);
	__u8 in[256], out[4096];
	__u32 olen;
	int len = build_pkt(in, &r, NULL);

	run_ctx(rprog, in, len, out, &olen);
}

static void test_nat_rev(struct sluice *s)
{
	struct flow f = flow4("198.51.100.21", "192.0.2.51", 42000, 80, IPPROTO_TCP, F_SYN);
	struct sluice_nat_rev r0, r1;
	char b0[32], b1[32];
	int be0 = 0, be1 = 0;

	subtest("nat: a new connection on a reused tuple replaces the reverse entry");
	sluice_set_weight(s, "natrev", -1, 0);
	f.seq = 100;
	ASSERT_EQ(send_f(&f, 1, &be0), 0, "SYN at 0% -> a baseline backend");
	snprintf(b0, sizeof(b0), "10.10.0.%d", be0);
	reply(b0, 42000, F_SYN | F_ACK);
	reply(b0, 42000, F_RST);
	ASSERT_TRUE(nat_rev_get(b0, 42000, &r0) == 0 &&
		    (r0.flags & (SLUICE_REV_ANSWERED | SLUICE_REV_RST)) ==
		    (SLUICE_REV_ANSWERED | SLUICE_REV_RST),
		    "reverse entry marked answered and RST by the replies");

	/* the same backend again (weight unchanged): the entry is renewed */
	usleep(2000);
	f.seq = 200;
	ASSERT_EQ(send_f(&f, 1, &be1), 0, "new SYN at 0% -> baseline again");
	ASSERT_EQ(be1, be0, "... the same backend (same tuple, same pool)");
	ASSERT_TRUE(nat_rev_get(b0, 42000, &r1) == 0 && r1.flags == 0,
		    "reverse entry renewed: no stale answered/RST mark");
	ASSERT_TRUE(r1.syn_ns > r0.syn_ns, "reverse entry renewed: the new SYN's time");
	f.seq = 200;
	send_f(&f, 1, NULL);
	ASSERT_TRUE(nat_rev_get(b0, 42000, &r0) == 0 && r0.syn_ns == r1.syn_ns,
		    "a retransmitted SYN keeps the handshake's start time");

	/* another backend: the old backend's reverse entry goes */
	sluice_set_weight(s, "natrev", -1, 10000);
	f.seq = 300;
	ASSERT_EQ(send_f(&f, 1, &be1), 1, "new SYN at 100% -> a canary backend");
	snprintf(b1, sizeof(b1), "10.11.0.%d", be1);
	ASSERT_TRUE(nat_rev_get(b1, 42000, &r1) == 0 && r1.flags == 0 &&
		    r1.variant == SLUICE_CANARY,
		    "reverse entry for the canary backend, unmarked, tagged canary");
	ASSERT_EQ(nat_rev_get(b0, 42000, &r0), -ENOENT,
		  "the baseline backend's reverse entry is gone");
	{
		struct sluice_health h[2];
		__u64 before;

		stats_of(s, "natrev", h);
		before = h[1].hs_samples;
		reply(b1, 42000, F_SYN | F_ACK);
		stats_of(s, "natrev", h);
		ASSERT_EQ(h[1].hs_samples - before, 1,
			  "the new handshake's SYN-ACK latency is taken (canary)");
	}
}

static __u32 now_tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u32)((((__u64)ts.tv_sec * 1000000000ull) + ts.tv_nsec) >> SLUICE_SEEN_SHIFT);
}

/* Age the UDP entry of f in conn_est: seen moved back by ticks (0: only
 * read it into *seen). */
static int age_entry(const struct flow *f, __u32 ticks, __u32 *seen)
{
	struct sluice_conn_key k = { .sport = htons(f->sport), .dport = htons(f->dport),
				     .proto = f->proto, .family = f->family };
	struct sluice_conn e;
	char pin[256];
	int fd, rc = -1;

	k.src = f->src;
	k.dst = f->dst;
	snprintf(pin, sizeof(pin), "%s/conn_est", t_pin_dir);
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &k, &e) == 0) {
		if (seen)
			*seen = e.seen;
		e.seen -= ticks;
		rc = ticks ? bpf_map_update_elem(fd, &k, &e, BPF_EXIST) : 0;
	}
	close(fd);
	return rc;
}

static void test_udp(struct sluice *s)
{
	struct flow f = flow4("198.51.100.22", "192.0.2.52", 43000, 80, IPPROTO_UDP, 0);
	struct sluice_service_spec got;
	struct sluice_health h[2];
	__u32 t0;

	subtest("udp: idle past udp-idle is decided afresh, inside it is not");
	ASSERT_TRUE(sluice_service_get(s, "udp", &got) == 0 && got.udp_idle_s == 2,
		    "udp-idle 2 s reads back");
	sluice_set_weight(s, "udp", -1, 0);
	ASSERT_EQ(send_f(&f, 0, NULL), 0, "first datagram at 0% -> baseline");
	ASSERT_EQ(send_f(&f, 0, NULL), 0, "second datagram (promoted) -> baseline");
	sluice_set_weight(s, "udp", -1, 10000);
	ASSERT_EQ(send_f(&f, 0, NULL), 0, "at 100%, a live flow stays on baseline");
	{
		__u32 seen = 0, t = now_tick();

		ASSERT_OK(age_entry(&f, 0, &seen), "entry in conn_est");
		ASSERT_TRUE(seen + 1 >= t && seen <= t,
			    "seen tick is the monotonic clock >> SLUICE_SEEN_SHIFT (jiffies or ktime)");
	}
	/* 2 s = 2 ticks: one tick of silence is inside, three are past */
	t0 = now_tick();
	ASSERT_OK(age_entry(&f, 1, NULL), "entry aged by one tick");
	if (now_tick() == t0)
		ASSERT_EQ(send_f(&f, 0, NULL), 0, "silent ~1 s (< 2 s): stays on baseline");
	ASSERT_OK(age_entry(&f, 3, NULL), "entry aged by three more ticks");
	ASSERT_EQ(send_f(&f, 0, NULL), 1, "silent > 2 s: decided afresh -> canary");
	stats_of(s, "udp", h);
	ASSERT_TRUE(h[1].new_flows == 1, "... counted as a new canary flow");
	ASSERT_EQ(send_f(&f, 0, NULL), 1, "its next datagram stays on canary");
	ASSERT_EQ(send_f(&f, 0, NULL), 1, "and the next (promoted again)");

	/* revert: reaches the flow only once it is idle, in real time */
	sluice_revert(s, "udp", false);
	ASSERT_EQ(send_f(&f, 0, NULL), 1, "after revert, the live flow stays on canary");
	sleep(1);
	ASSERT_EQ(send_f(&f, 0, NULL), 1, "1 s later (inside 2 s): still canary");
	sleep(5);
	ASSERT_EQ(send_f(&f, 0, NULL), 0, "5 s of silence later: follows the revert -> baseline");
	sluice_resume(s, "udp");
}

int main(void)
{
	static const char *const vips[] = { "192.0.2.50", "192.0.2.51", "192.0.2.52",
					    "192.0.2.53", "192.0.2.54" };
	struct sluice_service_spec *sp[5];
	struct sluice *s;
	char cmd[512];
	int i;

	if (geteuid() != 0)
		t_skip("needs root (BPF, a network namespace)");
	if (unshare(CLONE_NEWNET) < 0)
		t_skip("cannot make a network namespace");
	if (sh("ip link add " DEV_OUT " type veth peer name " DEV_IN) ||
	    sh("ip link set " DEV_OUT " up && ip link set " DEV_IN " up && ip link set lo up") ||
	    sh("ip addr add 10.10.0.254/15 dev " DEV_OUT) ||
	    sh("ip addr add 198.51.100.1/24 dev " DEV_IN) ||
	    sh("sysctl -qw net.ipv4.conf.all.forwarding=1"))
		t_skip("cannot set up the test namespace (ip, sysctl)");
	for (i = 0; i < 4; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip neigh add 10.%d.0.%d lladdr 02:4e:49:47:48:01 dev " DEV_OUT " nud permanent",
			 10 + i / 2, i % 2 + 1);
		if (sh(cmd))
			t_skip("cannot add neighbours");
	}
	ifin = if_nametoindex(DEV_IN);
	s = t_instance("reuse", 0);
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	rprog = sluice_prog_fd(s, SLUICE_PROG_REPLY_XDP);
	if (!ASSERT_TRUE(prog >= 0 && rprog >= 0, "XDP and reply programs load"))
		return t_done();
	sp[0] = spec("dsr", vips[0], IPPROTO_TCP, SLUICE_MODE_DSR, SLUICE_AFF_CONNECTION);
	sp[1] = spec("natrev", vips[1], IPPROTO_TCP, SLUICE_MODE_NAT, SLUICE_AFF_CONNECTION);
	sp[2] = spec("udp", vips[2], IPPROTO_UDP, SLUICE_MODE_DSR, SLUICE_AFF_CONNECTION);
	sp[3] = spec("dsrcl", vips[3], IPPROTO_TCP, SLUICE_MODE_DSR, SLUICE_AFF_CLIENT);
	sp[4] = spec("nat", vips[4], IPPROTO_TCP, SLUICE_MODE_NAT, SLUICE_AFF_CONNECTION);
	sp[2]->udp_idle_s = 2;
	for (i = 0; i < 5; i++)
		if (!ASSERT_OK(sluice_service_put(s, sp[i]), sp[i]->name))
			fprintf(stderr, "  %s\n", sluice_errmsg(s));

	subtest("tcp: retransmitted SYN vs a new connection on the same tuple");
	test_tcp(s, "dsr", vips[0], 0, 0);
	test_tcp(s, "dsrcl", vips[3], 0, 1);
	test_tcp(s, "nat", vips[4], 1, 0);
	test_nat_rev(s);
	test_udp(s);

	subtest("validation");
	sp[2]->udp_idle_s = SLUICE_UDP_IDLE_MAX + 1;
	ASSERT_EQ(sluice_service_check(s, sp[2]), -ERANGE, "udp-idle above 86400 s is refused");
	for (i = 0; i < 5; i++)
		sluice_spec_free(sp[i]);
	return t_done();
}
