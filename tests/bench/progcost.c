// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * progcost: per-packet cost of an XDP program from the kernel's BPF run-time
 * statistics, reported raw and as a difference from an empty XDP program
 * measured the same way (the statistics add a fixed cost per run, see
 * /work/shared/notes/bench.md).
 *
 *   progcost (--id ID | --pin PATH | --empty) --window SECS
 *       live traffic: statistics on for SECS while traffic flows through
 *       the attached program; the empty-program baseline comes from
 *       BPF_PROG_TEST_RUN with statistics on (the same counters).
 *   progcost (--id ID | --pin PATH | --empty) --test-run [--pkt v4tcp|v6udp|FILE]
 *            [--repeat N] [--trials N]
 *       BPF_PROG_TEST_RUN with repeat N on one packet, target and empty
 *       program alike, each reported two ways: the kernel's average with
 *       statistics off, and run_time_ns / run_cnt with statistics on.
 *       Caveat: repeat reuses the buffer, so a program that changes the
 *       packet sees its own output on the next run.
 *
 * Statistics are switched on with BPF_ENABLE_STATS (the static key behind
 * kernel.bpf_stats_enabled) and off again when its fd closes, which also
 * happens if this tool dies. -j prints one JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

struct runstat {
	__u64 run_time_ns, run_cnt;
};

static int read_stats(int fd, struct runstat *rs)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	rs->run_time_ns = info.run_time_ns;
	rs->run_cnt = info.run_cnt;
	return 0;
}

static int load_empty(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_empty", "GPL", insns,
			       2, NULL);

	return fd < 0 ? -errno : fd;
}

static unsigned int csum_add(const unsigned char *p, size_t len,
			     unsigned int sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static void put_csum(unsigned char *p, unsigned int sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	p[0] = sum >> 8;
	p[1] = sum;
}

/* 64-byte frames to the benchmark's VIP, checksums valid */
static size_t build_pkt(const char *kind, unsigned char *f)
{
	static const unsigned char dmac[6] = { 2, 0, 0, 0, 0, 2 };
	static const unsigned char smac[6] = { 2, 0, 0, 0, 0, 1 };
	unsigned char *ip = f + 14, *th, pseudo[40] = {};
	size_t size = 64, l4len;

	memset(f, 0, size);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	if (!strcmp(kind, "v4tcp")) {
		f[12] = 0x08;
		ip[0] = 0x45;
		ip[2] = 0; ip[3] = size - 14;
		ip[6] = 0x40;
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		inet_pton(AF_INET, "10.201.0.1", ip + 12);
		inet_pton(AF_INET, "10.100.0.1", ip + 16);
		put_csum(ip + 10, csum_add(ip, 20, 0));
		th = ip + 20;
		l4len = size - 34;
		th[0] = 0x04; th[1] = 0x00;	/* sport 1024 */
		th[3] = 80;
		th[7] = 1; th[11] = 1;
		th[12] = 5 << 4;
		th[13] = 0x10;
		th[14] = th[15] = 0xff;
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = IPPROTO_TCP;
		pseudo[11] = l4len;
		put_csum(th + 16, csum_add(th, l4len, csum_add(pseudo, 12, 0)));
	} else if (!strcmp(kind, "v6udp")) {
		f[12] = 0x86; f[13] = 0xdd;
		ip[0] = 0x60;
		l4len = size - 54;
		ip[5] = l4len;
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		inet_pton(AF_INET6, "fd00:201::1", ip + 8);
		inet_pton(AF_INET6, "fd00:100::1", ip + 24);
		th = ip + 40;
		th[0] = 0x04;
		th[3] = 80;
		th[5] = l4len;
		memcpy(pseudo, ip + 8, 32);
		pseudo[35] = l4len;
		pseudo[39] = IPPROTO_UDP;
		put_csum(th + 6, csum_add(th, l4len, csum_add(pseudo, 40, 0)));
	} else {
		return 0;
	}
	return size;
}

struct trun {
	double avg_ns;		/* kernel average, statistics off */
	double stats_ns;	/* run_time_ns / run_cnt, statistics on */
	double stats_avg_ns;	/* kernel average, statistics on */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median over trials of the three figures; statistics toggled per trial. */
static int test_run(int fd, const void *pkt, size_t len, int repeat,
		    int trials, struct trun *out)
{
	double a[32], s[32], sa[32];
	struct runstat r0, r1;
	int i, err, sfd;

	for (i = 0; i < trials; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
			    .data_size_in = len, .repeat = repeat);

		err = bpf_prog_test_run_opts(fd, &o);
		if (err)
			return err;
		a[i] = o.duration;

		sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (sfd < 0)
			return -errno;
		o.duration = 0;
		err = read_stats(fd, &r0);
		err = err ?: bpf_prog_test_run_opts(fd, &o);
		err = err ?: read_stats(fd, &r1);
		close(sfd);
		if (err)
			return err;
		sa[i] = o.duration;
		s[i] = r1.run_cnt > r0.run_cnt ?
			(double)(r1.run_time_ns - r0.run_time_ns) /
			(r1.run_cnt - r0.run_cnt) : 0;
	}
	out->avg_ns = median(a, trials);
	out->stats_ns = median(s, trials);
	out->stats_avg_ns = median(sa, trials);
	return 0;
}

static int window(int fd, double secs, double *ns, __u64 *pkts)
{
	struct runstat r0, r1;
	struct timespec ts = { (time_t)secs,
			       (long)((secs - (time_t)secs) * 1e9) };
	int sfd, err;

	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (sfd < 0)
		return -errno;
	err = read_stats(fd, &r0);
	nanosleep(&ts, NULL);
	err = err ?: read_stats(fd, &r1);
	close(sfd);
	if (err)
		return err;
	*pkts = r1.run_cnt - r0.run_cnt;
	*ns = *pkts ? (double)(r1.run_time_ns - r0.run_time_ns) / *pkts : 0;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: progcost [-j] [-v] (--id ID | --pin PATH | --empty)\n"
"                (--window SECS | --test-run [--pkt v4tcp|v6udp|FILE]\n"
"                 [--repeat N] [--trials N])\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "pin", required_argument, NULL, 'p' },
		{ "empty", no_argument, NULL, 'e' },
		{ "window", required_argument, NULL, 'w' },
		{ "test-run", no_argument, NULL, 't' },
		{ "pkt", required_argument, NULL, 'k' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "trials", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *pin = NULL, *pktname = "v4tcp";
	int c, id = 0, empty = 0, trun = 0, json = 0, repeat = 1000000;
	int trials = 5, fd = -1, efd = -1, err = 0;
	double win = 0, ns = 0;
	unsigned char pkt[4096];
	struct trun t = {}, e = {};
	size_t len;
	__u64 pkts = 0;

	while ((c = getopt_long(argc, argv, "jvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'i': id = atoi(optarg); break;
		case 'p': pin = optarg; break;
		case 'e': empty = 1; break;
		case 'w': win = strtod(optarg, NULL); break;
		case 't': trun = 1; break;
		case 'k': pktname = optarg; break;
		case 'r': repeat = atoi(optarg); break;
		case 'n': trials = atoi(optarg); break;
		case 'j': json = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!!id + !!pin + empty != 1 || !!trun + (win > 0) != 1 ||
	    trials < 1 || trials > 32 || repeat < 1) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_print);

	len = build_pkt(pktname, pkt);
	if (!len) {
		FILE *f = fopen(pktname, "rb");

		if (!f) {
			fprintf(stderr, "Error: --pkt: not v4tcp, v6udp or a readable file: %s\n",
				pktname);
			return 2;
		}
		len = fread(pkt, 1, sizeof(pkt), f);
		fclose(f);
	}

	efd = load_empty();
	if (efd < 0) {
		err = efd;
		fprintf(stderr, "Error: loading the empty XDP program: %s\n",
			strerror(-err));
		goto cleanup;
	}
	if (empty)
		fd = efd;
	else if (id)
		fd = bpf_prog_get_fd_by_id(id);
	else
		fd = bpf_obj_get(pin);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "Error: opening program %s: %s\n",
			pin ? pin : "by id", strerror(-err));
		goto cleanup;
	}

	err = test_run(efd, pkt, len, repeat, trials, &e);
	if (err) {
		fprintf(stderr, "Error: BPF_PROG_TEST_RUN on the empty program: %s\n",
			strerror(-err));
		goto cleanup;
	}
	if (trun) {
		err = test_run(fd, pkt, len, repeat, trials, &t);
		if (err) {
			fprintf(stderr, "Error: BPF_PROG_TEST_RUN: %s\n",
				strerror(-err));
			goto cleanup;
		}
		if (json)
			printf("{\"mode\":\"test-run\",\"pkt\":\"%s\",\"repeat\":%d,\"trials\":%d,"
			       "\"raw_ns\":%.2f,\"empty_ns\":%.2f,\"net_ns\":%.2f,"
			       "\"stats_raw_ns\":%.2f,\"stats_empty_ns\":%.2f,\"stats_net_ns\":%.2f,"
			       "\"stats_on_avg_ns\":%.2f}\n",
			       pktname, repeat, trials, t.avg_ns, e.avg_ns,
			       t.avg_ns - e.avg_ns, t.stats_ns, e.stats_ns,
			       t.stats_ns - e.stats_ns, t.stats_avg_ns);
		else
			printf("test run (%s, repeat %d, median of %d):\n"
			       "  kernel average, stats off: %.1f ns, empty %.1f ns, difference %.1f ns\n"
			       "  run_time_ns/run_cnt, stats on: %.1f ns, empty %.1f ns, difference %.1f ns\n",
			       pktname, repeat, trials, t.avg_ns, e.avg_ns,
			       t.avg_ns - e.avg_ns, t.stats_ns, e.stats_ns,
			       t.stats_ns - e.stats_ns);
	} else {
		err = window(fd, win, &ns, &pkts);
		if (err) {
			fprintf(stderr, "Error: reading run-time statistics: %s\n",
				strerror(-err));
			goto cleanup;
		}
		if (json)
			printf("{\"mode\":\"window\",\"seconds\":%.3f,\"packets\":%llu,"
			       "\"stats_raw_ns\":%.2f,\"stats_empty_ns\":%.2f,\"stats_net_ns\":%.2f,"
			       "\"empty_ns\":%.2f}\n",
			       win, (unsigned long long)pkts, ns, e.stats_ns,
			       ns - e.stats_ns, e.avg_ns);
		else
			printf("window %.1f s: %llu runs, %.1f ns/packet raw; empty program (test run, stats on) %.1f ns; difference %.1f ns\n",
			       win, (unsigned long long)pkts, ns, e.stats_ns,
			       ns - e.stats_ns);
		if (!pkts)
			fprintf(stderr, "Warning: the program did not run during the window\n");
	}
cleanup:
	if (fd >= 0 && fd != efd)
		close(fd);
	if (efd >= 0)
		close(efd);
	return err ? 1 : 0;
}
