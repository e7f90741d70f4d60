// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath through BPF_PROG_TEST_RUN with crafted packets: verdicts, the
 * rewritten bytes, the bytes that must stay untouched, and the counters.
 */
#include <linux/bpf.h>
#include "fixture.h"

static struct sluice_flow_stats st[SLUICE_VARIANTS][SLUICE_MAX_RINGS];

static __u64 total_pkts(__u32 id)
{
	__u64 n = 0;
	int v, r;

	sluice_stats_get(t_sl, id, st);
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			n += st[v][r].packets;
	return n;
}

/* Forwarded: XDP_TX, MACs rewritten, every byte after them identical. */
static void check_forwarded(int prog, const __u8 *in, int len, int vlan_off,
			    const char *what)
{
	FRAME_BUF(out, 2048);
	__u32 olen = 0;
	int v = t_run(prog, in, len, out, &olen);
	char m[160];

	snprintf(m, sizeof(m), "%s: verdict XDP_TX", what);
	ASSERT_EQ(v, XDP_TX, m);
	snprintf(m, sizeof(m), "%s: length unchanged", what);
	ASSERT_EQ(olen, len, m);
	snprintf(m, sizeof(m), "%s: destination MAC is a backend's", what);
	ASSERT_TRUE(t_backend_of(out) >= 0, m);
	snprintf(m, sizeof(m), "%s: source MAC is the LB's (was the frame's destination)", what);
	ASSERT_TRUE(!memcmp(out + 6, t_lb_mac, 6), m);
	snprintf(m, sizeof(m), "%s: bytes after the MACs untouched", what);
	ASSERT_TRUE(!memcmp(out + 12, in + 12, len - 12), m);
	(void)vlan_off;
}

static void check_passed(int prog, const __u8 *in, int len, const char *what)
{
	FRAME_BUF(out, 2048);
	__u32 olen = 0;
	int v = t_run(prog, in, len, out, &olen);
	char m[160];

	snprintf(m, sizeof(m), "%s: verdict XDP_PASS", what);
	ASSERT_EQ(v, XDP_PASS, m);
	snprintf(m, sizeof(m), "%s: byte-identical", what);
	ASSERT_TRUE(olen == (__u32)len && !memcmp(out, in, len), m);
}

int main(void)
{
	struct sluice *s = t_instance("dp", 0);
	struct sluice_service_spec *t4, *u6, *t6;
	struct pkt_opts o = {};
	FRAME_BUF(pkt, 512);
	__u64 ev[SLUICE_EV_MAX], ev2[SLUICE_EV_MAX];
	int prog, len;
	__u32 id4;

	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (!ASSERT_TRUE(prog >= 0, "XDP program loads"))
		return t_done();

	t4 = t_spec("web4", "192.0.2.10", 80, IPPROTO_TCP, 2, 2);
	u6 = t_spec("dns6", "2001:db8::53", 53, IPPROTO_UDP, 2, 2);
	t6 = t_spec("web6", "2001:db8::80", 443, IPPROTO_TCP, 2, 2);
	ASSERT_OK(sluice_service_put(s, t4), "add web4");
	ASSERT_OK(sluice_service_put(s, u6), "add dns6");
	ASSERT_OK(sluice_service_put(s, t6), "add web6");
	sluice_service_lookup(s, "web4", &id4);

	subtest("IPv4 TCP forwarded");
	struct flow f = flow4("198.51.100.7", "192.0.2.10", 40000, 80, IPPROTO_TCP, F_SYN);
	len = build_pkt(pkt, &f, NULL);
	check_forwarded(prog, pkt, len, 0, "v4 tcp syn");
	f.tcp_flags = F_ACK;
	len = build_pkt(pkt, &f, NULL);
	check_forwarded(prog, pkt, len, 0, "v4 tcp ack");
	ASSERT_EQ(total_pkts(id4), 2, "web4 counted 2 packets");
	{
		__u64 nf = 0, bytes = 0;
		int v, r;

		for (v = 0; v < 2; v++)
			for (r = 0; r < SLUICE_MAX_RINGS; r++) {
				nf += st[v][r].new_flows;
				bytes += st[v][r].bytes;
			}
		ASSERT_EQ(nf, 1, "web4 counted 1 new flow");
		ASSERT_EQ(bytes, 2 * len, "web4 counted the bytes of both frames");
	}

	subtest("IPv4 with options, VLAN, QinQ");
	o.ip_opt_words = 3;
	f.sport = 40001;
	len = build_pkt(pkt, &f, &o);
	check_forwarded(prog, pkt, len, 0, "v4 options");
	o = (struct pkt_opts){ .vlans = 1 };
	f.sport = 40002;
	len = build_pkt(pkt, &f, &o);
	check_forwarded(prog, pkt, len, 4, "v4 one VLAN tag");
	o.vlans = 2;
	f.sport = 40003;
	len = build_pkt(pkt, &f, &o);
	check_forwarded(prog, pkt, len, 8, "v4 QinQ");
	o = (struct pkt_opts){};

	subtest("IPv6 UDP and TCP, extension headers");
	struct flow g = flow6("2001:db8:1::7", "2001:db8::53", 5353, 53, IPPROTO_UDP, 0);
	len = build_pkt(pkt, &g, NULL);
	check_forwarded(prog, pkt, len, 0, "v6 udp");
	o.ext_hdrs = 2;
	g.sport = 5354;
	len = build_pkt(pkt, &g, &o);
	check_forwarded(prog, pkt, len, 0, "v6 udp with 2 destination-option headers");
	o = (struct pkt_opts){ .vlans = 1 };
	struct flow h = flow6("2001:db8:1::8", "2001:db8::80", 33000, 443, IPPROTO_TCP, F_SYN);
	len = build_pkt(pkt, &h, &o);
	check_forwarded(prog, pkt, len, 4, "v6 tcp in VLAN");
	o = (struct pkt_opts){};

	subtest("ICMP errors follow their flow");
	{
		union sluice_addr rtr = A("203.0.113.1"), rtr6 = A("2001:db8:ff::1");
		struct flow e = flow4("198.51.100.9", "192.0.2.10", 41000, 80, IPPROTO_TCP, F_SYN);
		int be_flow, be_err, types4[] = { 3, 11 }, types6[] = { 1, 2, 3 }, i;
		FRAME_BUF(out, 2048);
		__u32 olen;

		be_flow = t_send(prog, &e, NULL);
		for (i = 0; i < 2; i++) {
			len = build_icmp_err(pkt, &e, &rtr, types4[i]);
			check_forwarded(prog, pkt, len, 0, "icmpv4 error");
			t_run(prog, pkt, len, out, &olen);
			be_err = t_backend_of(out);
			ASSERT_EQ(be_err, be_flow, "icmpv4 error goes to the flow's backend");
		}
		struct flow e6 = flow6("2001:db8:1::9", "2001:db8::80", 41000, 443, IPPROTO_TCP, F_SYN);
		be_flow = t_send(prog, &e6, NULL);
		for (i = 0; i < 3; i++) {
			len = build_icmp_err(pkt, &e6, &rtr6, types6[i]);
			check_forwarded(prog, pkt, len, 0, "icmpv6 error");
			t_run(prog, pkt, len, out, &olen);
			ASSERT_EQ(t_backend_of(out), be_flow, "icmpv6 error goes to the flow's backend");
		}
		/* an error quoting a packet the VIP did not send is not ours */
		struct flow x = e;
		x.dport = 81;
		len = build_icmp_err(pkt, &x, &rtr, 3);
		check_passed(prog, pkt, len, "icmp error for a non-service flow");
		/* echo request to the VIP: not a steerable error */
		len = build_icmp_err(pkt, &e, &rtr, 8);
		check_passed(prog, pkt, len, "icmp echo to the VIP");
	}

	subtest("non-service traffic passes byte-identical");
	sluice_events_get(s, ev);
	{
		struct flow n1 = flow4("198.51.100.7", "192.0.2.10", 40000, 8080, IPPROTO_TCP, F_SYN);
		struct flow n2 = flow4("198.51.100.7", "192.0.2.99", 40000, 80, IPPROTO_TCP, F_SYN);
		struct flow n3 = flow4("198.51.100.7", "192.0.2.10", 40000, 80, IPPROTO_UDP, 0);
		struct flow n4 = flow6("2001:db8:1::7", "2001:db8::53", 53, 53, IPPROTO_TCP, F_SYN);
		__u64 before = total_pkts(id4);

		len = build_pkt(pkt, &n1, NULL);
		check_passed(prog, pkt, len, "other port");
		len = build_pkt(pkt, &n2, NULL);
		check_passed(prog, pkt, len, "other address");
		len = build_pkt(pkt, &n3, NULL);
		check_passed(prog, pkt, len, "other protocol");
		len = build_pkt(pkt, &n4, NULL);
		check_passed(prog, pkt, len, "v6 other protocol");
		memset(pkt, 0xab, 64);
		pkt[12] = 0x08; pkt[13] = 0x06;	/* ARP */
		check_passed(prog, pkt, 64, "ARP");
		ASSERT_EQ(total_pkts(id4), before, "service counters unchanged");
	}
	sluice_events_get(s, ev2);
	ASSERT_EQ(ev2[SLUICE_EV_PASS_NO_SERVICE] - ev[SLUICE_EV_PASS_NO_SERVICE], 4,
		  "4 packets counted as pass_no_service");
	ASSERT_EQ(ev2[SLUICE_EV_PASS_NOT_IP] - ev[SLUICE_EV_PASS_NOT_IP], 1,
		  "ARP counted as pass_not_ip");

	subtest("fragments pass");
	{
		struct flow fr = flow4("198.51.100.7", "192.0.2.10", 40000, 80, IPPROTO_TCP, F_ACK);
		struct iphdr *ip;

		len = build_pkt(pkt, &fr, NULL);
		ip = (void *)(pkt + 14);
		ip->frag_off = htons(0x2000);	/* MF */
		check_passed(prog, pkt, len, "first fragment (MF)");
		ip->frag_off = htons(100);
		check_passed(prog, pkt, len, "later fragment");
	}

	subtest("empty baseline pool drops, never exposes the canary");
	{
		struct sluice_service_spec *e = t_spec("empty", "192.0.2.20", 80, IPPROTO_TCP, 0, 2);
		struct flow ef = flow4("198.51.100.7", "192.0.2.20", 40000, 80, IPPROTO_TCP, F_SYN);
		int verdict;

		ASSERT_OK(sluice_service_put(s, e), "add a service with an empty baseline");
		t_send(prog, &ef, &verdict);
		ASSERT_EQ(verdict, XDP_DROP, "weight 0, empty baseline: dropped");
		sluice_spec_free(e);
	}

	sluice_spec_free(t4);
	sluice_spec_free(u6);
	sluice_spec_free(t6);
	return t_done();
}
