// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * gen: XDP live-frames traffic generator for the sluice benchmark.
 *
 * Builds one frame template (IPv4/TCP by default, IPv6/UDP with -6), loads
 * bpf/bench_gen.bpf.c with the template in its rodata, and runs it with
 * BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES on the given interface in
 * one long call: the program rewrites each frame's headers for flow
 * (n % flows) and returns XDP_TX, which the kernel turns into a real
 * transmission out of that interface. The call ends after --count frames or
 * when a SIGALRM set for --duration interrupts it (the kernel checks for
 * signals between batches), so the run is always bounded.
 *
 *   gen -i gen0 --dst-mac 02:.. --src-ip 10.201.0.1 --dst-ip 10.100.0.1 \
 *       [--dport 80] [--proto tcp|udp] [-6] [--flows 4096] [--duration 5 |
 *       --count N] [--size 64] [--batch 64] [--cpu N] [-j] [-v]
 *
 * Prints the frames the program produced (each one was handed to the
 * interface's ndo_xdp_xmit; transmit errors show in the peer's ethtool -S
 * xdp_xmit_errors), the elapsed time and the rate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_gen.skel.h"

#define TMPL_MAX	80	/* GEN_TMPL_WORDS * 8 in bench_gen.bpf.c */
#define FRAME_MAX	3500	/* a page minus headroom and skb_shared_info */

struct opts {
	const char *dev;
	unsigned char smac[6], dmac[6];
	int have_smac, have_dmac;
	const char *src_ip, *dst_ip;
	unsigned int sport, dport, proto, flows, size, batch;
	int ipv6, json, verbose, cpu, syn, random, pattern, dump;
	double duration;
	unsigned long long count;
};

static int verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: gen -i DEV --dst-mac MAC [OPTIONS]\n"
"  -i, --dev DEV        interface to send from (in the current netns)\n"
"      --src-mac MAC    default: DEV's address\n"
"      --dst-mac MAC    the next hop's address (required)\n"
"      --src-ip ADDR    first source address (default 10.201.0.1 / fd00:201::1)\n"
"      --dst-ip ADDR    destination (default 10.100.0.1 / fd00:100::1)\n"
"      --sport N        first source port (default 1024)\n"
"      --dport N        destination port (default 80)\n"
"      --proto tcp|udp  default tcp for IPv4, udp for IPv6\n"
"      --syn            TCP SYN instead of ACK\n"
"  -6, --ipv6           IPv6 (template IPv6/UDP)\n"
"  -f, --flows N        flows to cycle through (default 4096); up to 16384\n"
"                       source ports per source address, then the address\n"
"                       grows\n"
"  -r, --random         each frame a random one of the flows (a spoofed\n"
"                       flood: with many flows, tuples seldom repeat)\n"
"      --dump N         print the first N frames in hex instead of sending\n"
"                       (BPF_PROG_TEST_RUN without live frames)\n"
"      --pattern P      TCP only. est: open each flow first (SYN, then\n"
"                       ACK; 2 x flows frames), then ACKs; synflood: every\n"
"                       other frame a SYN from a random source in the /16\n"
"                       at the source's first octet .250 (a spoofed flood),\n"
"                       the rest ACKs of the flows\n"
"  -d, --duration SECS  stop after SECS (default 5)\n"
"  -n, --count N        stop after N frames (whichever comes first)\n"
"  -s, --size BYTES     frame size without FCS (default 64)\n"
"  -b, --batch N        frames per batch, 1..256 (default 64)\n"
"  -c, --cpu N          pin to CPU N\n"
"  -j, --json           print the result as one JSON object\n"
"  -v, --verbose        libbpf debug output\n");
}

static int parse_mac(const char *s, unsigned char *mac)
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -EINVAL;
		mac[i] = b[i];
	}
	return 0;
}

static int dev_mac(const char *dev, unsigned char *mac)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

/* One's complement sum of 16-bit words as they lie in memory (native order);
 * the generator program adds to it words it loads from the frame. */
static unsigned int sum16(const void *buf, size_t len, unsigned int sum)
{
	const unsigned char *p = buf;
	unsigned short w;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		memcpy(&w, p + i, 2);
		sum += w;
	}
	if (len & 1) {
		unsigned char last[2] = { p[len - 1], 0 };

		memcpy(&w, last, 2);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void put16(unsigned char *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(unsigned char *p, unsigned int v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/*
 * Build the frame and the generator's rodata. Variable fields (varied source
 * address word, source port, checksums) are left zero in the sums.
 */
static int build_template(const struct opts *o, unsigned char *frame,
			  struct bench_gen__rodata *ro)
{
	unsigned char saddr[16], daddr[16], pseudo[40];
	unsigned int l3 = 14, l4, l4len, hdrs, l4hlen, sum, min;
	unsigned char *ip = frame + l3, *th;
	int af = o->ipv6 ? AF_INET6 : AF_INET;
	unsigned int alen = o->ipv6 ? 16 : 4, saddr_var;

	if (inet_pton(af, o->src_ip, saddr) != 1 ||
	    inet_pton(af, o->dst_ip, daddr) != 1) {
		fprintf(stderr, "Error: bad %s address '%s' or '%s'\n",
			o->ipv6 ? "IPv6" : "IPv4", o->src_ip, o->dst_ip);
		return -EINVAL;
	}
	l4hlen = o->proto == IPPROTO_TCP ? 20 : 8;
	l4 = l3 + (o->ipv6 ? 40 : 20);
	hdrs = l4 + l4hlen;
	/* the generator copies whole 8-byte words of headers */
	min = (hdrs + 7) & ~7u;
	if (min < 60)
		min = 60;
	if (o->size < min || o->size > FRAME_MAX) {
		fprintf(stderr, "Error: frame size %u out of range %u..%u\n",
			o->size, min, FRAME_MAX);
		return -EINVAL;
	}
	l4len = o->size - l4;
	th = frame + l4;

	memset(frame, 0, o->size);
	memcpy(frame, o->dmac, 6);
	memcpy(frame + 6, o->smac, 6);
	put16(frame + 12, o->ipv6 ? ETH_P_IPV6 : ETH_P_IP);
	if (o->ipv6) {
		put32(ip, 6u << 28);
		put16(ip + 4, l4len);
		ip[6] = o->proto;
		ip[7] = 64;
		memcpy(ip + 8, saddr, 16);
		memcpy(ip + 24, daddr, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, o->size - l3);
		put16(ip + 6, 0x4000);	/* DF */
		ip[8] = 64;
		ip[9] = o->proto;
		memcpy(ip + 12, saddr, 4);
		memcpy(ip + 16, daddr, 4);
	}
	put16(th + 2, o->dport);
	if (o->proto == IPPROTO_TCP) {
		put32(th + 4, 1);		/* seq */
		put32(th + 8, o->syn ? 0 : 1);	/* ack */
		th[12] = 5 << 4;
		th[13] = o->syn ? 0x02 : 0x10;
		put16(th + 14, 65535);
	} else {
		put16(th + 4, l4len);
	}

	/* The varied 32 bits: the IPv4 address, the IPv6 address' last word */
	memcpy(&saddr_var, saddr + alen - 4, 4);
	ro->saddr_base = ntohl(saddr_var);
	ro->saddr_off = l3 + (o->ipv6 ? 8 + 12 : 12);
	ro->sport_off = l4;
	ro->l4csum_off = l4 + (o->proto == IPPROTO_TCP ? 16 : 6);
	ro->ipcsum_off = o->ipv6 ? 0 : l3 + 10;
	ro->l4_udp = o->proto == IPPROTO_UDP;
	ro->sport_base = o->sport;
	ro->flows = o->flows;
	ro->random_flows = o->random;
	ro->pattern = o->pattern;
	if (o->pattern) {	/* SYN frames: the flags word's change */
		unsigned char a[2] = { 5 << 4, 0x10 }, b[2] = { 5 << 4, 0x02 };
		unsigned short wa, wb;

		memcpy(&wa, a, 2);
		memcpy(&wb, b, 2);
		ro->flags_off = l4 + 13;
		ro->syn_adj = wb + (0xffff - wa);
		ro->flood_base = (ntohl(saddr_var) & 0xff000000u) | 0x00fa0000u;
	}
	ro->nports = o->flows < 16384 ? o->flows : 16384;
	if (o->sport + ro->nports > 65536) {
		fprintf(stderr, "Error: --sport %u + %u ports exceeds 65535\n",
			o->sport, ro->nports);
		return -EINVAL;
	}

	/* pseudo header with the varied source word zeroed */
	memset(pseudo, 0, sizeof(pseudo));
	memcpy(pseudo, saddr, alen - 4);
	memcpy(pseudo + alen, daddr, alen);
	if (o->ipv6) {
		put32(pseudo + 32, l4len);
		pseudo[39] = o->proto;
	} else {
		pseudo[9] = o->proto;
		put16(pseudo + 10, l4len);
	}
	sum = sum16(pseudo, o->ipv6 ? 40 : 12, 0);
	/* the L4 header and payload, source port and checksum still zero */
	ro->l4_sum = sum16(th, l4len, sum);
	if (!o->ipv6) {
		memset(ip + 12, 0, 4);
		ro->ip_sum = sum16(ip, 20, 0);
	}
	/* the frame keeps the first flow's fields so that the page pool's
	 * initial copy is already a valid packet */
	memcpy(ip + (o->ipv6 ? 8 : 12), saddr, alen);

	ro->tmpl_words = (hdrs + 7) / 8;
	memcpy((void *)ro->tmpl, frame, ro->tmpl_words * 8);
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;	/* only interrupts the test run */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dev", required_argument, NULL, 'i' },
		{ "src-mac", required_argument, NULL, 'S' },
		{ "dst-mac", required_argument, NULL, 'D' },
		{ "src-ip", required_argument, NULL, 'A' },
		{ "dst-ip", required_argument, NULL, 'B' },
		{ "sport", required_argument, NULL, 'P' },
		{ "dport", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'T' },
		{ "syn", no_argument, NULL, 'Y' },
		{ "pattern", required_argument, NULL, 'Q' },
		{ "dump", required_argument, NULL, 'U' },
		{ "random", no_argument, NULL, 'r' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "flows", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = {
		.sport = 1024, .dport = 80, .flows = 4096, .size = 64,
		.batch = 64, .duration = 5, .cpu = -1,
	};
	unsigned char frame[FRAME_MAX];
	struct bench_gen *skel = NULL;
	struct xdp_md ctx = {};
	struct sigaction sa = {};
	struct itimerval it = {};
	const char *proto = NULL;
	unsigned long long sent;
	double t0, secs;
	int c, err, ifindex;

	while ((c = getopt_long(argc, argv, "i:6f:d:n:s:b:c:rjvh", lopts,
				NULL)) != -1) {
		switch (c) {
		case 'i': o.dev = optarg; break;
		case 'S':
		case 'D':
			if (parse_mac(optarg, c == 'S' ? o.smac : o.dmac)) {
				fprintf(stderr, "Error: bad MAC '%s'\n", optarg);
				return 2;
			}
			*(c == 'S' ? &o.have_smac : &o.have_dmac) = 1;
			break;
		case 'A': o.src_ip = optarg; break;
		case 'B': o.dst_ip = optarg; break;
		case 'P': o.sport = strtoul(optarg, NULL, 0); break;
		case 'p': o.dport = strtoul(optarg, NULL, 0); break;
		case 'T': proto = optarg; break;
		case 'Y': o.syn = 1; break;
		case 'U': o.dump = atoi(optarg); break;
		case 'Q':
			o.pattern = !strcmp(optarg, "est") ? 1 :
				    !strcmp(optarg, "synflood") ? 2 : -1;
			if (o.pattern < 0) {
				fprintf(stderr, "Error: --pattern must be est or synflood, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'r': o.random = 1; break;
		case '6': o.ipv6 = 1; break;
		case 'f': o.flows = strtoul(optarg, NULL, 0); break;
		case 'd': o.duration = strtod(optarg, NULL); break;
		case 'n': o.count = strtoull(optarg, NULL, 0); break;
		case 's': o.size = strtoul(optarg, NULL, 0); break;
		case 'b': o.batch = strtoul(optarg, NULL, 0); break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'j': o.json = 1; break;
		case 'v': o.verbose = verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.dev || !o.have_dmac) {
		fprintf(stderr, "Error: -i DEV and --dst-mac are required; try 'gen --help'\n");
		return 2;
	}
	if (!proto)
		o.proto = o.ipv6 ? IPPROTO_UDP : IPPROTO_TCP;
	else if (!strcmp(proto, "tcp"))
		o.proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		o.proto = IPPROTO_UDP;
	else {
		fprintf(stderr, "Error: --proto must be tcp or udp\n");
		return 2;
	}
	if (o.pattern && (o.proto != IPPROTO_TCP || o.ipv6 || o.syn || o.random)) {
		fprintf(stderr, "Error: --pattern is for IPv4/TCP, without --syn or --random\n");
		return 2;
	}
	if (!o.src_ip)
		o.src_ip = o.ipv6 ? "fd00:201::1" : "10.201.0.1";
	if (!o.dst_ip)
		o.dst_ip = o.ipv6 ? "fd00:100::1" : "10.100.0.1";
	if (!o.flows || o.batch < 1 || o.batch > 256 || o.duration <= 0 ||
	    o.dport > 65535 || o.count > INT_MAX) {
		fprintf(stderr, "Error: need --flows >= 1, --batch 1..256, --duration > 0, --dport <= 65535, --count <= %d\n",
			INT_MAX);
		return 2;
	}
	ifindex = if_nametoindex(o.dev);
	if (!ifindex) {
		fprintf(stderr, "Error: no interface '%s' in this network namespace\n",
			o.dev);
		return 1;
	}
	if (!o.have_smac && dev_mac(o.dev, o.smac)) {
		fprintf(stderr, "Error: cannot read the address of %s\n", o.dev);
		return 1;
	}
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "Error: cannot pin to CPU %d: %s\n",
				o.cpu, strerror(errno));
			return 1;
		}
	}
	libbpf_set_print(libbpf_print);

	skel = bench_gen__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "Error: opening the generator program: %s\n",
			strerror(-err));
		goto cleanup;
	}
	err = build_template(&o, frame, skel->rodata);
	if (err)
		goto cleanup;
	err = bench_gen__load(skel);
	if (err) {
		fprintf(stderr, "Error: loading the generator program: %s\n",
			strerror(-err));
		goto cleanup;
	}

	while (o.dump > 0) {	/* one frame per run, as the live run makes them */
		unsigned char out[FRAME_MAX];
		LIBBPF_OPTS(bpf_test_run_opts, d, .data_in = frame,
			    .data_size_in = o.size, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);
		unsigned int i;

		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bench_gen), &d);
		if (err)
			goto cleanup;
		for (i = 0; i < d.data_size_out; i++)
			printf("%02x", out[i]);
		printf("\n");
		if (!--o.dump)
			goto cleanup;
	}
	sa.sa_handler = on_alarm;	/* no SA_RESTART: interrupt the call */
	sigaction(SIGALRM, &sa, NULL);
	it.it_value.tv_sec = (time_t)o.duration;
	it.it_value.tv_usec = (o.duration - (time_t)o.duration) * 1e6;

	ctx.data_end = o.size;
	ctx.ingress_ifindex = ifindex;
	LIBBPF_OPTS(bpf_test_run_opts, topts,
		.data_in = frame,
		.data_size_in = o.size,
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.repeat = o.count ? (int)o.count : INT_MAX,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		.batch_size = o.batch,
	);
	t0 = now();
	setitimer(ITIMER_REAL, &it, NULL);
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bench_gen),
				     &topts);
	secs = now() - t0;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (err == -EINTR)
		err = 0;
	if (err) {
		fprintf(stderr, "Error: BPF_PROG_TEST_RUN (live frames) on %s: %s\n",
			o.dev, strerror(-err));
		goto cleanup;
	}
	sent = skel->bss->frames;
	if (o.json)
		printf("{\"dev\":\"%s\",\"family\":%d,\"proto\":\"%s\",\"flows\":%u,\"size\":%u,\"batch\":%u,\"sent\":%llu,\"seconds\":%.6f,\"mpps\":%.4f}\n",
		       o.dev, o.ipv6 ? 6 : 4,
		       o.proto == IPPROTO_TCP ? "tcp" : "udp", o.flows, o.size,
		       o.batch, sent, secs, sent / secs / 1e6);
	else
		printf("gen: sent %llu frames in %.3f s (%.3f Mpps) on %s, %s/%s, %u flows, %u bytes\n",
		       sent, secs, sent / secs / 1e6, o.dev,
		       o.ipv6 ? "IPv6" : "IPv4",
		       o.proto == IPPROTO_TCP ? "TCP" : "UDP", o.flows,
		       o.size);
cleanup:
	bench_gen__destroy(skel);
	return err ? 1 : 0;
}
