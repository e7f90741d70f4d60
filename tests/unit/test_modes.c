// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ipip and nat through BPF_PROG_TEST_RUN, in a private network namespace
 * whose FIB and neighbour table the programs' bpf_fib_lookup reads: the
 * outer header's fields and checksum, lengths, the inner packet byte for
 * byte, the ICMP "too big" answers, and NAT rewrites both ways with every
 * checksum recomputed from scratch. Reply-side health signals too.
 */
#include <sched.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/icmp.h>
#include <sys/ioctl.h>
#include "fixture.h"

static void iface_mac(const char *dev, __u8 mac[6])
{
	struct ifreq r = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", dev);
	if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &r) == 0)
		memcpy(mac, r.ifr_hwaddr.sa_data, 6);
	if (fd >= 0)
		close(fd);
}

#define DEV_OUT "slt0"
#define DEV_IN "slt1"
static const __u8 nb_mac[6] = { 0x02, 0x4e, 0x49, 0x47, 0x48, 0x01 };

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "  setup command failed: %s\n", cmd);
	return rc;
}

static __u32 sum16(const void *p, int len, __u32 sum)
{
	const __u8 *b = p;
	int i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	return sum;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* 1 if the L4 checksum (with pseudo-header) of the IP packet at ip is valid. */
static int l4_ok(const __u8 *ip, int family)
{
	__u32 s = 0;
	int hl, len, proto;

	if (family == AF_INET) {
		hl = (ip[0] & 0xf) * 4;
		len = ((ip[2] << 8) | ip[3]) - hl;
		proto = ip[9];
		s = sum16(ip + 12, 8, 0);
	} else {
		hl = 40;
		len = (ip[4] << 8) | ip[5];
		proto = ip[6];
		s = sum16(ip + 8, 32, 0);
	}
	s += proto + len;
	s = sum16(ip + hl, len, s);
	return fold(s) == 0xffff;
}

static int ip4_ok(const __u8 *ip)
{
	return fold(sum16(ip, (ip[0] & 0xf) * 4, 0)) == 0xffff;
}

/*
 * One XDP run with the packet arriving on ifindex. Kernels before 5.12 take
 * no xdp_md context in BPF_PROG_TEST_RUN (EINVAL): there the packet arrives
 * on the namespace's loopback, which the FIB lookups accept as well (the
 * namespace forwards on every device).
 */
static int run_ctx(int prog, const __u8 *in, __u32 len, __u8 *out,
		   __u32 *olen, int ifindex)
{
	return t_run_ctx(prog, in, len, out, olen, ifindex);
}

static void set_df(__u8 *pkt)
{
	struct iphdr *ip = (void *)(pkt + 14);

	ip->frag_off = htons(0x4000);
	ip->check = 0;
	ip->check = ip_csum(ip, 20);
}

/* A TCP/UDP packet with a valid L4 checksum. */
static int build_full(__u8 *b, const struct flow *f, int payload)
{
	struct pkt_opts o = { .payload = payload };
	int len = build_pkt(b, f, &o), hl = f->family == AF_INET ? 20 : 40;
	__u8 *ip = b + 14, *l4 = ip + hl;
	int coff = f->proto == IPPROTO_TCP ? 16 : 6;
	__u32 s;
	__u16 c;

	l4[coff] = l4[coff + 1] = 0;
	if (f->family == AF_INET)
		s = sum16(ip + 12, 8, 0);
	else
		s = sum16(ip + 8, 32, 0);
	s += f->proto + (len - 14 - hl);
	c = ~fold(sum16(l4, len - 14 - hl, s));
	if (f->proto == IPPROTO_UDP && !c)
		c = 0xffff;
	l4[coff] = c >> 8;
	l4[coff + 1] = c & 0xff;
	return len;
}

static struct sluice_service_spec *mode_spec(const char *name, const char *vip,
					     __u8 proto, int mode)
{
	struct sluice_service_spec *sp = t_spec(name, vip, 80, proto, 2, 2);
	unsigned int v, i;

	sp->mode = mode;
	for (v = 0; v < 2; v++)
		for (i = 0; i < sp->pool[v].n; i++)
			sp->pool[v].be[i].has_mac = false;
	if (mode == SLUICE_MODE_IPIP)
		sluice_parse_prefix(sp->family == AF_INET ? "10.99.0.0/24"
							  : "fd00:99::/64",
				    &sp->tunnel_src);
	return sp;
}

static int is_backend4(__be32 a)
{
	__u8 *b = (__u8 *)&a;

	return b[0] == 10 && (b[1] == 10 || b[1] == 11) && b[2] == 0 &&
	       b[3] >= 1 && b[3] <= 2;
}

static void test_ipip4(int prog, int ifin, const __u8 *out_mac)
{
	FRAME_BUF(in, 512);
	FRAME_BUF(out, 4096);
	__u8 srcs[256] = {};
	struct flow f = flow4("198.51.100.7", "192.0.2.20", 40000, 80, IPPROTO_TCP, F_SYN);
	int len, v, i, distinct = 0, same = 1;
	__u32 olen, first = 0;

	subtest("ipip IPv4: outer header, checksum, lengths, inner untouched");
	len = build_full(in, &f, 100);
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_REDIRECT, "v4 ipip: XDP_REDIRECT to the FIB's device");
	ASSERT_EQ(olen, len + 20, "v4 ipip: frame grew by 20 bytes");
	struct iphdr *o = (void *)(out + 14);
	ASSERT_EQ(ntohs(*(__u16 *)(out + 12)), ETH_P_IP, "v4 ipip: ethertype IPv4");
	ASSERT_TRUE(!memcmp(out, nb_mac, 6), "v4 ipip: destination MAC from the neighbour table");
	ASSERT_TRUE(!memcmp(out + 6, out_mac, 6), "v4 ipip: source MAC of the egress device");
	ASSERT_EQ(o->version, 4, "v4 ipip: outer version 4");
	ASSERT_EQ(o->ihl, 5, "v4 ipip: outer ihl 5");
	ASSERT_EQ(o->protocol, 4, "v4 ipip: outer protocol 4 (IPIP)");
	ASSERT_EQ(o->ttl, 64, "v4 ipip: outer TTL 64");
	ASSERT_EQ(ntohs(o->frag_off), 0x4000, "v4 ipip: outer DF set, no fragment");
	ASSERT_EQ(ntohs(o->tot_len), len - 14 + 20, "v4 ipip: outer total length");
	ASSERT_TRUE(ip4_ok(out + 14), "v4 ipip: outer header checksum valid");
	ASSERT_TRUE(is_backend4(o->daddr), "v4 ipip: outer destination is a backend");
	ASSERT_EQ(ntohl(o->saddr) >> 8, 0x0a6300, "v4 ipip: outer source in 10.99.0.0/24");
	ASSERT_TRUE(!memcmp(out + 34, in + 14, len - 14), "v4 ipip: inner packet byte for byte");
	ASSERT_TRUE(l4_ok(out + 34, AF_INET), "v4 ipip: inner TCP checksum still valid");

	for (i = 0; i < 64; i++) {
		f.sport = 41000 + i;
		len = build_full(in, &f, 0);
		run_ctx(prog, in, len, out, &olen, ifin);
		if (!srcs[out[14 + 15]]++)
			distinct++;
		f.tcp_flags = F_ACK;	/* same flow again: same source */
		len = build_full(in, &f, 0);
		if (i == 0) {
			run_ctx(prog, in, len, out, &olen, ifin);
			first = out[14 + 15];
			run_ctx(prog, in, len, out, &olen, ifin);
			same = first == out[14 + 15];
		}
		f.tcp_flags = F_SYN;
	}
	ASSERT_TRUE(distinct >= 32, "v4 ipip: 64 flows spread over >= 32 outer sources");
	ASSERT_TRUE(same, "v4 ipip: a flow keeps its outer source");
}

static void test_ipip6(int prog, int ifin)
{
	FRAME_BUF(in, 512);
	FRAME_BUF(out, 4096);
	struct flow f = flow6("2001:db8:1::7", "2001:db8::20", 40000, 80, IPPROTO_TCP, F_SYN);
	union sluice_addr pfx = A("fd00:99::");
	int len, v;
	__u32 olen;

	subtest("ipip IPv6: outer header, lengths, inner untouched");
	len = build_full(in, &f, 100);
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_REDIRECT, "v6 ipip: XDP_REDIRECT");
	ASSERT_EQ(olen, len + 40, "v6 ipip: frame grew by 40 bytes");
	struct ipv6hdr *o = (void *)(out + 14);
	ASSERT_EQ(o->version, 6, "v6 ipip: outer version 6");
	ASSERT_EQ(o->nexthdr, 41, "v6 ipip: next header 41 (IPv6)");
	ASSERT_EQ(o->hop_limit, 64, "v6 ipip: hop limit 64");
	ASSERT_EQ(ntohs(o->payload_len), len - 14, "v6 ipip: outer payload length = inner packet");
	ASSERT_TRUE(!memcmp(&o->saddr, &pfx, 8), "v6 ipip: outer source in fd00:99::/64");
	ASSERT_TRUE(o->flow_lbl[0] || o->flow_lbl[1] || o->flow_lbl[2], "v6 ipip: flow label set");
	ASSERT_TRUE(!memcmp(out + 54, in + 14, len - 14), "v6 ipip: inner packet byte for byte");
	ASSERT_TRUE(!memcmp(out, nb_mac, 6), "v6 ipip: destination MAC from the neighbour table");
}

static void test_too_big(struct sluice *s, int prog, int ifin)
{
	FRAME_BUF(in, 2048);
	FRAME_BUF(out, 4096);
	__u64 ev0[SLUICE_EV_MAX], ev1[SLUICE_EV_MAX];
	struct flow f = flow4("198.51.100.8", "192.0.2.21", 40000, 80, IPPROTO_TCP, F_ACK);
	struct flow g = flow6("2001:db8:1::8", "2001:db8::21", 40000, 80, IPPROTO_TCP, F_ACK);
	int len, v;
	__u32 olen;

	subtest("too big after encapsulation: ICMP back to the client, or the stack");
	sluice_events_get(s, ev0);
	len = build_full(in, &f, 1500 - 40);		/* a 1500-byte IP packet */
	set_df(in);
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_TX, "v4 too big with DF: XDP_TX back to the client");
	ASSERT_EQ(olen, 14 + 20 + 8 + 64, "v4 too big: eth + ip + icmp + 64 quoted bytes");
	ASSERT_TRUE(!memcmp(out, t_cl_mac, 6), "v4 too big: to the client's MAC");
	ASSERT_EQ(out[14 + 9], IPPROTO_ICMP, "v4 too big: ICMP");
	ASSERT_TRUE(ip4_ok(out + 14), "v4 too big: IP checksum valid");
	ASSERT_TRUE(!memcmp(out + 14 + 12, in + 14 + 16, 4), "v4 too big: from the VIP");
	ASSERT_TRUE(!memcmp(out + 14 + 16, in + 14 + 12, 4), "v4 too big: to the client");
	ASSERT_EQ(out[34], 3, "v4 too big: type 3 (unreachable)");
	ASSERT_EQ(out[35], 4, "v4 too big: code 4 (fragmentation needed)");
	ASSERT_EQ((out[40] << 8) | out[41], 1500 - 20, "v4 too big: next-hop MTU = 1500 - 20");
	ASSERT_EQ(fold(sum16(out + 34, 8 + 64, 0)), 0xffff, "v4 too big: ICMP checksum valid");
	ASSERT_TRUE(!memcmp(out + 42, in + 14, 64), "v4 too big: quotes the client's packet");

	len = build_full(in, &f, 1500 - 40);		/* no DF */
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_PASS, "v4 too big without DF: to the stack");

	len = build_full(in, &g, 1500 - 60);
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_TX, "v6 too big: XDP_TX back to the client");
	ASSERT_EQ(olen, 14 + 40 + 8 + 128, "v6 too big: eth + ip6 + icmp6 + 128 quoted bytes");
	ASSERT_EQ(out[14 + 6], 58, "v6 too big: ICMPv6");
	ASSERT_EQ(out[54], 2, "v6 too big: type 2 (packet too big)");
	ASSERT_EQ(ntohl(*(__u32 *)(out + 58)), 1500 - 40, "v6 too big: MTU = 1500 - 40");
	{
		__u32 s6 = sum16(out + 14 + 8, 32, 0) + 58 + 8 + 128;

		ASSERT_EQ(fold(sum16(out + 54, 8 + 128, s6)), 0xffff,
			  "v6 too big: ICMPv6 checksum valid (with pseudo-header)");
	}
	ASSERT_TRUE(!memcmp(out + 62, in + 14, 128), "v6 too big: quotes the client's packet");
	sluice_events_get(s, ev1);
	ASSERT_EQ(ev1[SLUICE_EV_ICMP_TOO_BIG] - ev0[SLUICE_EV_ICMP_TOO_BIG], 2,
		  "too big: 2 ICMP answers counted");
	ASSERT_EQ(ev1[SLUICE_EV_PASS_TOO_BIG] - ev0[SLUICE_EV_PASS_TOO_BIG], 1,
		  "too big: 1 pass to the stack counted");
}

static void test_nat(struct sluice *s, int prog, int rprog, int ifin, int family,
		     __u8 proto, const char *svc)
{
	FRAME_BUF(in, 512);
	FRAME_BUF(out, 4096);
	FRAME_BUF(rep, 512);
	struct flow f = family == AF_INET
		? flow4("198.51.100.9", "192.0.2.30", 40001, 80, proto, proto == IPPROTO_TCP ? F_SYN : 0)
		: flow6("2001:db8:1::9", "2001:db8::30", 40001, 80, proto, proto == IPPROTO_TCP ? F_SYN : 0);
	int hl = family == AF_INET ? 20 : 40, aoff = family == AF_INET ? 16 : 24;
	int alen = family == AF_INET ? 4 : 16, len, v;
	struct flow r;
	__u32 olen;
	char m[128];
	const char *t = family == AF_INET ? (proto == IPPROTO_TCP ? "nat v4 tcp" : "nat v4 udp")
					  : (proto == IPPROTO_TCP ? "nat v6 tcp" : "nat v6 udp");

	len = build_full(in, &f, 33);
	v = run_ctx(prog, in, len, out, &olen, ifin);
	snprintf(m, sizeof(m), "%s: XDP_REDIRECT, length unchanged", t);
	ASSERT_TRUE(v == XDP_REDIRECT && olen == (__u32)len, m);
	snprintf(m, sizeof(m), "%s: destination is a backend, port 8443", t);
	ASSERT_TRUE(out[14 + aoff] == (family == AF_INET ? 10 : 0xfd) &&
		    ntohs(*(__u16 *)(out + 14 + hl + 2)) == 8443, m);
	snprintf(m, sizeof(m), "%s: source address and port untouched", t);
	ASSERT_TRUE(!memcmp(out + 14 + aoff - alen, in + 14 + aoff - alen, alen) &&
		    !memcmp(out + 14 + hl, in + 14 + hl, 2), m);
	if (family == AF_INET) {
		snprintf(m, sizeof(m), "%s: IPv4 header checksum valid after rewrite", t);
		ASSERT_TRUE(ip4_ok(out + 14), m);
	}
	snprintf(m, sizeof(m), "%s: L4 checksum valid after rewrite (recomputed)", t);
	ASSERT_TRUE(l4_ok(out + 14, family), m);

	/* the reply: backend -> client, as the backend sends it */
	r = f;
	memcpy(&r.src, out + 14 + aoff, alen);
	r.dst = f.src;
	r.sport = 8443;
	r.dport = f.sport;
	r.tcp_flags = F_SYN | F_ACK;
	len = build_full(rep, &r, 20);
	v = run_ctx(rprog, rep, len, out, &olen, ifin);
	snprintf(m, sizeof(m), "%s reply: forwarded (redirect or pass)", t);
	ASSERT_TRUE(v == XDP_REDIRECT || v == XDP_TX || v == XDP_PASS, m);
	snprintf(m, sizeof(m), "%s reply: source is the VIP and port 80 again", t);
	ASSERT_TRUE(!memcmp(out + 14 + aoff - alen, in + 14 + aoff, alen) &&
		    ntohs(*(__u16 *)(out + 14 + hl)) == 80, m);
	if (family == AF_INET) {
		snprintf(m, sizeof(m), "%s reply: IPv4 header checksum valid", t);
		ASSERT_TRUE(ip4_ok(out + 14), m);
	}
	snprintf(m, sizeof(m), "%s reply: L4 checksum valid (recomputed)", t);
	ASSERT_TRUE(l4_ok(out + 14, family), m);
	if (proto == IPPROTO_TCP) {
		struct sluice_health h[2];
		__u32 id;

		r.tcp_flags = F_RST;
		len = build_full(rep, &r, 0);
		run_ctx(rprog, rep, len, out, &olen, ifin);
		sluice_service_lookup(s, svc, &id);
		sluice_health_get(s, id, h);
		snprintf(m, sizeof(m), "%s: one handshake timed (SYN -> SYN-ACK)", t);
		ASSERT_EQ(h[0].hs_samples + h[1].hs_samples, 1, m);
		snprintf(m, sizeof(m), "%s: one backend RST counted", t);
		ASSERT_EQ(h[0].backend_rst + h[1].backend_rst, 1, m);
		/* a refused flow can draw several RSTs (one per SYN, per
		 * segment in flight): one bad event per flow, so the error
		 * ratio of a refusing canary stays <= 1 */
		run_ctx(rprog, rep, len, out, &olen, ifin);
		run_ctx(rprog, rep, len, out, &olen, ifin);
		sluice_health_get(s, id, h);
		snprintf(m, sizeof(m), "%s: three backend RSTs of one flow count once (ratio %llu/%llu <= 1)",
			 t, (unsigned long long)(h[0].backend_rst + h[1].backend_rst),
			 (unsigned long long)(h[0].new_flows + h[1].new_flows));
		ASSERT_TRUE(h[0].backend_rst + h[1].backend_rst == 1 &&
			    h[0].new_flows + h[1].new_flows == 1, m);
	}
}

static void test_udp0(int prog, int ifin)
{
	FRAME_BUF(in, 512);
	FRAME_BUF(out, 4096);
	struct flow f = flow4("198.51.100.10", "192.0.2.31", 40002, 80, IPPROTO_UDP, 0);
	int len = build_pkt(in, &f, &(struct pkt_opts){ .payload = 8 });
	__u32 olen;

	subtest("nat: UDP/IPv4 without a checksum keeps none");
	run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(*(__u16 *)(out + 14 + 20 + 6), 0, "udp checksum 0 stays 0");
	ASSERT_TRUE(ip4_ok(out + 14), "IPv4 header checksum valid");
}

/* Issue 10: a UDP length that lies is never rewritten by nat. */
static void test_nat_udp_len(int prog, int ifin)
{
	__u8 in[512], out[4096];
	struct flow f = flow4("198.51.100.11", "192.0.2.30", 40003, 80, IPPROTO_UDP, 0);
	int len, v;
	__u32 olen;

	subtest("issue 10: nat leaves UDP with a lying length untouched");
	len = build_full(in, &f, 8);
	in[14 + 20 + 4] = 0;
	in[14 + 20 + 5] = 17;	/* one past the IP payload */
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_PASS, "v4 UDP length past the IP payload: XDP_PASS");
	ASSERT_TRUE(olen == (__u32)len && !memcmp(out, in, len),
		    "v4 UDP length past the IP payload: not rewritten");
	in[14 + 20 + 5] = 6;	/* under the UDP header */
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_TRUE(v == XDP_PASS && olen == (__u32)len && !memcmp(out, in, len),
		    "v4 UDP length 6: XDP_PASS, not rewritten");
}

/*
 * Issue 10: an ICMP error about a flow of an ipip service that is too big
 * for the tunnel is never answered with an ICMP error (RFC 1122 3.2.2,
 * RFC 4443 2.4(e)); it goes to the stack untouched.
 */
static void test_too_big_icmp(struct sluice *s, int prog, int ifin)
{
	__u8 in[2048], out[4096];
	__u64 ev0[SLUICE_EV_MAX], ev1[SLUICE_EV_MAX];
	struct flow f = flow4("198.51.100.12", "192.0.2.21", 40000, 80, IPPROTO_TCP, F_ACK);
	struct flow g = flow6("2001:db8:1::12", "2001:db8::21", 40000, 80, IPPROTO_TCP, F_ACK);
	union sluice_addr rtr = A("203.0.113.1"), rtr6 = A("2001:db8:ff::1");
	int len, v;
	__u32 olen;

	subtest("issue 10: ipip never answers an ICMP error with an ICMP error");
	sluice_events_get(s, ev0);
	len = build_icmp_err(in, &f, &rtr, 3);
	/* grow the quote to a 1500-byte IP packet with DF */
	memset(in + len, 0, 14 + 1500 - len);
	len = 14 + 1500;
	in[14 + 2] = 1500 >> 8;
	in[14 + 3] = 1500 & 0xff;
	set_df(in);
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_PASS, "v4 ICMP error too big for the tunnel: XDP_PASS");
	ASSERT_TRUE(olen == (__u32)len && !memcmp(out, in, len),
		    "v4 ICMP error too big: untouched (no ICMP answer)");

	len = build_icmp_err(in, &g, &rtr6, 1);
	memset(in + len, 0, 14 + 1500 - len);
	len = 14 + 1500;
	in[14 + 4] = (1500 - 40) >> 8;
	in[14 + 5] = (1500 - 40) & 0xff;
	v = run_ctx(prog, in, len, out, &olen, ifin);
	ASSERT_EQ(v, XDP_PASS, "v6 ICMP error too big for the tunnel: XDP_PASS");
	ASSERT_TRUE(olen == (__u32)len && !memcmp(out, in, len),
		    "v6 ICMP error too big: untouched (no ICMPv6 answer)");
	sluice_events_get(s, ev1);
	ASSERT_EQ(ev1[SLUICE_EV_ICMP_TOO_BIG] - ev0[SLUICE_EV_ICMP_TOO_BIG], 0,
		  "no ICMP too-big answer counted");
	ASSERT_EQ(ev1[SLUICE_EV_PASS_TOO_BIG] - ev0[SLUICE_EV_PASS_TOO_BIG], 2,
		  "both counted as passed too big");
}

/*
 * Issue 10: growing the head for ipip keeps the whole L2 header (MACs, two
 * VLAN tags, ethertype: 22 bytes, moved by 20) when the neighbour is not
 * resolved and the frame goes to the stack.
 */
static void test_ipip_vlan_no_neigh(int prog, int ifin)
{
	__u8 in[512], out[4096];
	struct flow f = flow4("198.51.100.13", "192.0.2.22", 40000, 80, IPPROTO_TCP, F_SYN);
	struct flow g = flow6("2001:db8:1::13", "2001:db8::22", 40000, 80, IPPROTO_TCP, F_SYN);
	struct pkt_opts o = { .vlans = 2, .payload = 10 };
	int len, v, vl;
	__u32 olen;
	char m[128];

	subtest("issue 10: ipip to an unresolved neighbour keeps the L2 header");
	for (vl = 0; vl <= 2; vl++) {
		int l2 = 14 + 4 * vl;

		o.vlans = vl;
		len = build_pkt(in, &f, &o);
		v = run_ctx(prog, in, len, out, &olen, ifin);
		snprintf(m, sizeof(m), "v4, %d VLAN tags: XDP_PASS, 20 bytes longer", vl);
		ASSERT_TRUE(v == XDP_PASS && olen == (__u32)len + 20, m);
		snprintf(m, sizeof(m), "v4, %d VLAN tags: MACs, tags and ethertype unchanged", vl);
		ASSERT_TRUE(!memcmp(out, in, l2), m);
		snprintf(m, sizeof(m), "v4, %d VLAN tags: outer protocol 4, inner packet byte for byte", vl);
		ASSERT_TRUE(out[l2 + 9] == 4 && !memcmp(out + l2 + 20, in + l2, len - l2), m);

		len = build_pkt(in, &g, &o);
		v = run_ctx(prog, in, len, out, &olen, ifin);
		snprintf(m, sizeof(m), "v6, %d VLAN tags: XDP_PASS, 40 bytes longer", vl);
		ASSERT_TRUE(v == XDP_PASS && olen == (__u32)len + 40, m);
		snprintf(m, sizeof(m), "v6, %d VLAN tags: MACs, tags and ethertype unchanged", vl);
		ASSERT_TRUE(!memcmp(out, in, l2), m);
		snprintf(m, sizeof(m), "v6, %d VLAN tags: next header 41, inner packet byte for byte", vl);
		ASSERT_TRUE(out[l2 + 6] == 41 && !memcmp(out + l2 + 40, in + l2, len - l2), m);
		f.sport++;
		g.sport++;
	}
}

static void test_lat_buckets(void)
{
	__u64 h[SLUICE_LAT_BUCKETS] = {};
	double lo, hi, worst = 0;
	unsigned int i;

	subtest("latency histogram: bucket layout and percentile error bound");
	for (i = SLUICE_LAT_SUB; i < SLUICE_LAT_BUCKETS; i++) {
		double mid;

		sluice_lat_bucket_range(i, &lo, &hi);
		mid = (lo + hi) / 2;
		if ((mid - lo) / lo > worst)
			worst = (mid - lo) / lo;
	}
	ASSERT_RANGE(worst, 0, 0.05, "midpoint within 5% of any value in its bucket");
	sluice_lat_bucket_range(SLUICE_LAT_BUCKETS - 1, &lo, &hi);
	ASSERT_RANGE(hi / 1e6, 60, 70, "buckets reach ~67 s");
	for (i = 0; i < 100; i++)
		h[i < 50 ? 40 : 120]++;
	ASSERT_TRUE(sluice_lat_percentile(h, 50) < sluice_lat_percentile(h, 51),
		    "p50 and p51 fall in different buckets of a two-bucket set");
}

int main(void)
{
	struct sluice *s;
	struct sluice_service_spec *ip4, *ip6, *mtu4, *mtu6, *n4, *n6, *u4, *u6, *u0;
	struct sluice_service_spec *nn4, *nn6;
	__u8 out_mac[6];
	char cmd[512];
	int prog, rprog, ifin, i;

	if (geteuid() != 0)
		t_skip("needs root (BPF, a network namespace)");
	if (unshare(CLONE_NEWNET) < 0)
		t_skip("cannot make a network namespace");
	if (sh("ip link add " DEV_OUT " type veth peer name " DEV_IN) ||
	    sh("ip link set " DEV_OUT " up && ip link set " DEV_IN " up && ip link set lo up") ||
	    sh("ip addr add 10.10.0.254/15 dev " DEV_OUT) ||
	    sh("ip addr add 198.51.100.1/24 dev " DEV_IN) ||
	    sh("ip -6 addr add fd00::fe/16 dev " DEV_OUT " nodad") ||
	    sh("ip -6 addr add 2001:db8:1::1/64 dev " DEV_IN " nodad") ||
	    sh("sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1"))
		t_skip("cannot set up the test namespace (ip, sysctl)");
	for (i = 0; i < 4; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip neigh add 10.%d.0.%d lladdr 02:4e:49:47:48:01 dev " DEV_OUT " nud permanent && "
			 "ip -6 neigh add fd00:%d::%d lladdr 02:4e:49:47:48:01 dev " DEV_OUT " nud permanent",
			 10 + i / 2, i % 2 + 1, 10 + i / 2, i % 2 + 1);
		if (sh(cmd))
			t_skip("cannot add neighbours");
	}
	ifin = if_nametoindex(DEV_IN);
	iface_mac(DEV_OUT, out_mac);

	s = t_instance("modes", 0);
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	rprog = sluice_prog_fd(s, SLUICE_PROG_REPLY_XDP);
	if (!ASSERT_TRUE(prog >= 0 && rprog >= 0, "XDP and reply programs load"))
		return t_done();

	ip4 = mode_spec("ipip4", "192.0.2.20", IPPROTO_TCP, SLUICE_MODE_IPIP);
	ip6 = mode_spec("ipip6", "2001:db8::20", IPPROTO_TCP, SLUICE_MODE_IPIP);
	mtu4 = mode_spec("mtu4", "192.0.2.21", IPPROTO_TCP, SLUICE_MODE_IPIP);
	mtu6 = mode_spec("mtu6", "2001:db8::21", IPPROTO_TCP, SLUICE_MODE_IPIP);
	n4 = mode_spec("nat4", "192.0.2.30", IPPROTO_TCP, SLUICE_MODE_NAT);
	n6 = mode_spec("nat6", "2001:db8::30", IPPROTO_TCP, SLUICE_MODE_NAT);
	u4 = mode_spec("natu4", "192.0.2.30", IPPROTO_UDP, SLUICE_MODE_NAT);
	u6 = mode_spec("natu6", "2001:db8::30", IPPROTO_UDP, SLUICE_MODE_NAT);
	u0 = mode_spec("natu0", "192.0.2.31", IPPROTO_UDP, SLUICE_MODE_NAT);
	/* backends on the link without a neighbour entry (10.1x.2.x, fd00:1x::1f5) */
	nn4 = mode_spec("noneigh4", "192.0.2.22", IPPROTO_TCP, SLUICE_MODE_IPIP);
	nn6 = mode_spec("noneigh6", "2001:db8::22", IPPROTO_TCP, SLUICE_MODE_IPIP);
	for (i = 0; i < 2; i++) {
		nn4->pool[i].n = nn6->pool[i].n = 0;
		t_pool(nn4, i, 2, 500);
		t_pool(nn6, i, 2, 500);
		nn4->pool[i].be[0].has_mac = nn4->pool[i].be[1].has_mac = false;
		nn6->pool[i].be[0].has_mac = nn6->pool[i].be[1].has_mac = false;
	}
	for (i = 0; i < 2; i++) {
		unsigned int j;
		struct sluice_service_spec *nn[] = { n4, n6, u4, u6, u0 };
		int k;

		for (k = 0; k < 5; k++)
			for (j = 0; j < nn[k]->pool[i].n; j++)
				nn[k]->pool[i].be[j].port = 8443;
	}
	{
		struct sluice_service_spec *all[] = { ip4, ip6, mtu4, mtu6, n4, n6, u4, u6, u0, nn4, nn6 };
		int k;

		for (k = 0; k < 11; k++)
			if (!ASSERT_OK(sluice_service_put(s, all[k]), all[k]->name))
				fprintf(stderr, "  %s\n", sluice_errmsg(s));
		for (k = 0; k < 11; k++)
			sluice_set_weight(s, all[k]->name, -1, 5000);
	}
	{
		struct sluice_service_spec *bad = mode_spec("bad", "192.0.2.99", IPPROTO_TCP, SLUICE_MODE_IPIP);

		subtest("validation");
		memset(&bad->tunnel_src, 0, sizeof(bad->tunnel_src));
		ASSERT_EQ(sluice_service_check(s, bad), -EINVAL, "ipip without tunnel-source is refused");
		sluice_parse_prefix("fd00:99::/64", &bad->tunnel_src);
		ASSERT_EQ(sluice_service_check(s, bad), -EINVAL, "ipip tunnel-source of the other family is refused");
		bad->mode = SLUICE_MODE_NAT;
		memset(&bad->tunnel_src, 0, sizeof(bad->tunnel_src));
		ASSERT_OK(sluice_service_check(s, bad), "nat backends need no MAC");
		sluice_spec_free(bad);
	}

	test_ipip4(prog, ifin, out_mac);
	test_ipip6(prog, ifin);
	test_too_big(s, prog, ifin);
	subtest("nat: rewrites and the reply path, IPv4/IPv6, TCP/UDP");
	test_nat(s, prog, rprog, ifin, AF_INET, IPPROTO_TCP, "nat4");
	test_nat(s, prog, rprog, ifin, AF_INET6, IPPROTO_TCP, "nat6");
	test_nat(s, prog, rprog, ifin, AF_INET, IPPROTO_UDP, "natu4");
	test_nat(s, prog, rprog, ifin, AF_INET6, IPPROTO_UDP, "natu6");
	test_udp0(prog, ifin);
	test_nat_udp_len(prog, ifin);
	test_too_big_icmp(s, prog, ifin);
	test_ipip_vlan_no_neigh(prog, ifin);
	test_lat_buckets();
	{
		struct sluice_service_spec *all[] = { ip4, ip6, mtu4, mtu6, n4, n6, u4, u6, u0 };
		int k;

		for (k = 0; k < 9; k++)
			sluice_spec_free(all[k]);	/* LeakSanitizer: make sanitize */
	}
	return t_done();
}
