// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Property-based packet fuzz of the datapath (issue 10). Valid service
 * packets of every kind (TCP with flags and options, UDP, 0/1/2 VLAN tags,
 * IPv4 options, IPv6 extension headers, ICMP/ICMPv6 errors quoting service
 * flows, oversize packets for ipip, NAT replies, ipip frames for the decap
 * program) are mutated (bit flips, boundary values in header fields, lying
 * lengths, truncation at field boundaries, inserted, deleted and appended
 * bytes) and run through BPF_PROG_TEST_RUN: sluice_xdp, sluice_tc,
 * sluice_reply_xdp, sluice_reply_tc and sluice_decap. Each result is
 * judged by the strict parser in fuzz_judge.h, written for this test from
 * the RFCs and the README's policy, not from bpf/lib:
 *   a packet is forwarded (sent, or rewritten on its way to the stack)
 *   only if it is well-formed and for a configured service (or a
 *   well-formed ICMP error quoting a service flow, or the reply of a known
 *   NAT flow); a well-formed one is forwarded; the output is what the mode
 *   documents (dsr: only the MACs; nat: only destination address, port and
 *   checksums, valid where they were; ipip: exactly one outer header, the
 *   inner packet unchanged; decap: exactly the outer header gone); output
 *   lengths agree with the frame; never XDP_ABORTED.
 * Deterministic per seed; every case has its own generator state, so one
 * can be replayed alone.
 *   test_fuzz [--count N] [--seed S] [--case N] [--hex HEX --prog P] [-v]
 *             [--self-test-only]
 * Default count 100000 (SLUICE_FUZZ_COUNT overrides; 3000 under vmtest).
 * The self-test runs the same judge against a program that forwards
 * everything and against a deliberately wrong mode table: both must be
 * caught, or the test fails.
 */
#include <sched.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <sys/ioctl.h>
#include "fixture.h"
#include "decap.skel.h"
#include "fuzz_judge.h"

#define DEV_OUT "slz0"
#define DEV_IN "slz1"

static struct fz_env env;
static int prog_fd[FZ_PROGS];
static int verbose;
static __u64 viol_print_left = 8;

static const char *const prog_names[FZ_PROGS] = {
	"xdp", "tc", "reply_xdp", "reply_tc", "decap",
};

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

/* Run one frame through program p: 0 and the verdict in *v, or -errno. */
static int run_prog(int fd, int p, const __u8 *in, __u32 len, __u8 *out,
		    __u32 *olen, int *v)
{
	struct xdp_md xctx = { .data_end = len, .ingress_ifindex = env.ifin };
	struct __sk_buff sctx = { .ifindex = env.ifin };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = FZ_BUF, .repeat = 1);
	int err;

	if (fz_is_xdp(p)) {
		if (t_xdp_takes_ctx()) {	/* before 5.15: arrives on lo */
			o.ctx_in = &xctx;
			o.ctx_size_in = sizeof(xctx);
		}
	} else if (p != FZ_DECAP) {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	}
	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		return -errno;
	*olen = o.data_size_out;
	*v = (int)o.retval;
	return 0;
}

static void print_hex(const char *what, const __u8 *b, __u32 n)
{
	__u32 i;

	fprintf(stderr, "    %s (%u bytes): ", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x", b[i]);
	fprintf(stderr, "\n");
}

/* One case through its program and the judge; returns violations. */
static int run_case(struct fz_case *c, const int *fds, struct fz_counts *cnt,
		    const struct fz_env *judge_env)
{
	__u8 out[FZ_BUF];
	__u32 olen = 0;
	int v = 0, bad, err;

	if (c->setup_len) {
		/* the NAT flow a reply belongs to: its forward packet first */
		err = run_prog(fds[FZ_XDP], FZ_XDP, c->setup, c->setup_len, out, &olen, &v);
		if (err == -EINVAL) {	/* no reply to judge either */
			cnt->refused++;
			cnt->refused_prog[c->prog]++;
			return 0;
		}
		if (!err)
			fz_note_reply(judge_env, c, out, olen);
	}
	if (c->len < 14) {
		cnt->short_++;
		return 0;
	}
	err = run_prog(fds[c->prog], c->prog, c->pkt, c->len, out, &olen, &v);
	if (err == -EINVAL) {	/* the kernel refuses the run: nothing ran */
		cnt->refused++;
		cnt->refused_prog[c->prog]++;
		return 0;
	}
	bad = fz_judge(judge_env, c, err ? FZ_RUN_FAILED : v, out, olen, cnt);
	if (bad && viol_print_left) {
		viol_print_left--;
		fprintf(stderr, "  VIOLATION case %llu seed %llu prog %s: %s "
			"(replay: test_fuzz --seed %llu --case %llu)\n",
			(unsigned long long)c->id, (unsigned long long)c->seed,
			prog_names[c->prog], cnt->last_why,
			(unsigned long long)c->seed, (unsigned long long)c->id);
		print_hex("input", c->pkt, c->len);
		fprintf(stderr, "    verdict %d\n", v);
		print_hex("output", out, olen);
	} else if (verbose) {
		fprintf(stderr, "  case %llu prog %s verdict %d len %u -> %u\n",
			(unsigned long long)c->id, prog_names[c->prog], v, c->len, olen);
	}
	return bad;
}

static int unhex(const char *h, __u8 *b, int max)
{
	int n = 0;
	unsigned int x;

	while (n < max && h[0] && h[1] && sscanf(h, "%2x", &x) == 1) {
		b[n++] = x;
		h += 2;
	}
	return n;
}

static int setup_ns(void)
{
	char cmd[512];
	int i;

	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	if (system("ip link add " DEV_OUT " type veth peer name " DEV_IN " && "
		   "ip link set " DEV_OUT " up && ip link set " DEV_IN " up && ip link set lo up && "
		   "ip addr add 10.10.0.254/15 dev " DEV_OUT " && "
		   "ip addr add 198.51.100.254/24 dev " DEV_IN " && "
		   "ip -6 addr add fd00::fe/16 dev " DEV_OUT " nodad && "
		   "ip -6 addr add 2001:db8:1::fe/64 dev " DEV_IN " nodad && "
		   "sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1"))
		return -1;
	for (i = 0; i < 4; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip neigh add 10.%d.0.%d lladdr 02:4e:49:47:48:01 dev " DEV_OUT " nud permanent && "
			 "ip -6 neigh add fd00:%d::%d lladdr 02:4e:49:47:48:01 dev " DEV_OUT " nud permanent",
			 10 + i / 2, i % 2 + 1, 10 + i / 2, i % 2 + 1);
		if (system(cmd))
			return -1;
	}
	env.ifin = if_nametoindex(DEV_IN);
	iface_mac(DEV_OUT, env.out_mac);
	return 0;
}

/* The services of fuzz_judge.h's table, configured for real. */
static int setup_services(struct sluice *s)
{
	int i;

	for (i = 0; i < env.nsvc; i++) {
		const struct fz_svc *z = &env.svc[i];
		struct sluice_service_spec *sp;
		char vip[64], name[32];
		unsigned int v, k;

		inet_ntop(z->family, z->vip.bytes, vip, sizeof(vip));
		snprintf(name, sizeof(name), "fz%d", i);
		sp = t_spec(name, vip, z->port, z->proto, 0, 0);
		sp->mode = z->mode;
		for (v = 0; v < 2; v++) {
			sp->pool[v].n = 0;
			t_pool(sp, v, 2, z->no_neigh ? 500 : 0);
			for (k = 0; k < sp->pool[v].n; k++) {
				sp->pool[v].be[k].has_mac = z->mode == SLUICE_MODE_DSR;
				if (z->mode == SLUICE_MODE_NAT)
					sp->pool[v].be[k].port = FZ_NAT_PORT;
			}
		}
		if (z->mode == SLUICE_MODE_IPIP)
			sluice_parse_prefix(z->family == AF_INET ? "10.99.0.0/24"
								 : "fd00:99::/64",
					    &sp->tunnel_src);
		sp->weight[0] = 5000;
		if (sluice_service_put(s, sp)) {
			fprintf(stderr, "service %s: %s\n", name, sluice_errmsg(s));
			sluice_spec_free(sp);
			return -1;
		}
		sluice_spec_free(sp);
	}
	return 0;
}

static void print_counts(const char *title, const struct fz_counts *c)
{
	int i;

	printf("%s: %llu packets tried (%llu under 14 bytes not run, %llu runs "
	       "refused by the kernel), %llu forwarded, %llu passed\n", title,
	       (unsigned long long)c->tried, (unsigned long long)c->short_,
	       (unsigned long long)c->refused,
	       (unsigned long long)c->forwarded, (unsigned long long)c->passed);
	for (i = 0; i < FZ_PROPS; i++)
		printf("  %-34s %10llu checked %8llu violations\n", fz_prop_names[i],
		       (unsigned long long)c->checked[i],
		       (unsigned long long)c->viol[i]);
	for (i = 0; i < FZ_PROGS; i++)
		printf("  program %-26s %10llu packets %8llu refused\n", prog_names[i],
		       (unsigned long long)c->per_prog[i],
		       (unsigned long long)c->refused_prog[i]);
}

static __u64 total_viol(const struct fz_counts *c)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < FZ_PROPS; i++)
		n += c->viol[i];
	return n;
}

/*
 * Self-test: the judge must catch a program that forwards everything
 * unchanged (XDP_TX) and a mode table that lies about the real program.
 */
static void self_test(__u64 seed, __u64 n)
{
	struct bpf_insn tx[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct fz_counts c1 = {}, c2 = {};
	struct fz_env wrong = env;
	int fds[FZ_PROGS], i, fwd_all;
	__u64 k;
	struct fz_case cs;

	subtest("self-test: a program that forwards everything is caught");
	fwd_all = bpf_prog_load(BPF_PROG_TYPE_XDP, "fz_fwd_all", "GPL", tx, 2, NULL);
	if (!ASSERT_TRUE(fwd_all >= 0, "forward-everything XDP program loads"))
		return;
	for (i = 0; i < FZ_PROGS; i++)
		fds[i] = fwd_all;
	viol_print_left = 0;
	for (k = 0; k < n; k++) {
		fz_gen(&env, seed ^ 0x5e1f7e57ull, k, &cs);
		if (cs.prog != FZ_XDP)
			continue;
		cs.setup_len = 0;
		run_case(&cs, fds, &c1, &env);
	}
	close(fwd_all);
	if (verbose)
		print_counts("self-test, forward everything", &c1);
	ASSERT_TRUE(c1.viol[FZ_P_ONLY_VALID] > 0,
		    "forwarding malformed / non-service packets is reported");
	ASSERT_TRUE(c1.viol[FZ_P_SHAPE_DSR] + c1.viol[FZ_P_SHAPE_NAT] +
		    c1.viol[FZ_P_SHAPE_IPIP] > 0,
		    "a forward without the mode's rewrite is reported");

	subtest("self-test: a wrong expectation (dsr judged as nat) is caught");
	for (i = 0; i < wrong.nsvc; i++)
		if (wrong.svc[i].mode == SLUICE_MODE_DSR)
			wrong.svc[i].mode = SLUICE_MODE_NAT;
	for (k = 0; k < n; k++) {
		fz_gen(&env, seed ^ 0x5e1f7e57ull, k, &cs);
		if (cs.prog != FZ_XDP && cs.prog != FZ_TC)
			continue;
		run_case(&cs, prog_fd, &c2, &wrong);
	}
	if (verbose)
		print_counts("self-test, wrong mode table", &c2);
	ASSERT_TRUE(c2.viol[FZ_P_SHAPE_NAT] + c2.viol[FZ_P_VALID_FWD] > 0,
		    "dsr output judged against nat's rules is reported");
	viol_print_left = 8;
}

int main(int argc, char **argv)
{
	__u64 seed = 1, count = 100000, one = ~0ull, k;
	const char *hex = NULL, *pname = "xdp", *e;
	struct fz_counts cnt = {};
	struct decap *dskel;
	struct sluice *s;
	int i, self_only = 0;

	if ((e = getenv("SLUICE_FUZZ_COUNT")))
		count = strtoull(e, NULL, 0);
	else if (t_in_vm())
		count = 3000;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--case") && i + 1 < argc)
			one = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--hex") && i + 1 < argc)
			hex = argv[++i];
		else if (!strcmp(argv[i], "--prog") && i + 1 < argc)
			pname = argv[++i];
		else if (!strcmp(argv[i], "--self-test-only"))
			self_only = 1;
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else {
			fprintf(stderr, "usage: test_fuzz [--count N] [--seed S] [--case N] "
				"[--hex HEX --prog xdp|tc|reply_xdp|reply_tc|decap] [-v] "
				"[--self-test-only]\n");
			return 2;
		}
	}
	if (geteuid() != 0)
		t_skip("needs root (BPF, a network namespace)");
	if (setup_ns())
		t_skip("cannot set up the test namespace (ip, sysctl)");
	fz_env_init(&env);
	s = t_instance("fuzz", 0);
	prog_fd[FZ_XDP] = sluice_prog_fd(s, SLUICE_PROG_XDP);
	prog_fd[FZ_TC] = sluice_prog_fd(s, SLUICE_PROG_TC);
	prog_fd[FZ_REPLY_XDP] = sluice_prog_fd(s, SLUICE_PROG_REPLY_XDP);
	prog_fd[FZ_REPLY_TC] = sluice_prog_fd(s, SLUICE_PROG_REPLY_TC);
	dskel = decap__open_and_load();
	if (!ASSERT_TRUE(dskel != NULL, "decap program loads"))
		return t_done();
	prog_fd[FZ_DECAP] = bpf_program__fd(dskel->progs.sluice_decap);
	for (i = 0; i < FZ_PROGS; i++)
		if (!ASSERT_TRUE(prog_fd[i] >= 0, "program loads"))
			return t_done();
	if (!ASSERT_OK(setup_services(s), "services configured"))
		return t_done();

	if (hex) {
		struct fz_case c = { .id = 0, .seed = 0 };

		for (i = 0; i < FZ_PROGS; i++)
			if (!strcmp(pname, prog_names[i]))
				c.prog = i;
		c.len = unhex(hex, c.pkt, sizeof(c.pkt));
		c.mutated = 1;
		subtest("replay of one frame");
		viol_print_left = 1;
		verbose = 1;
		run_case(&c, prog_fd, &cnt, &env);
		print_counts("replay", &cnt);
		ASSERT_EQ(total_viol(&cnt), 0, "no property violated");
		decap__destroy(dskel);
		return t_done();
	}

	self_test(seed, count < 20000 ? count : 20000);
	if (self_only) {
		decap__destroy(dskel);
		return t_done();
	}

	subtest(one != ~0ull ? "one case" : "fuzz run");
	/* count: packets run through a program (frames the kernel refuses
	 * as too short do not count) */
	for (k = one != ~0ull ? one : 0;
	     one != ~0ull ? k == one : cnt.tried < count; k++) {
		struct fz_case c;

		fz_gen(&env, seed, k, &c);
		if (one != ~0ull) {
			verbose = 1;
			viol_print_left = 1;
			print_hex("input", c.pkt, c.len);
		}
		run_case(&c, prog_fd, &cnt, &env);
	}
	print_counts("fuzz", &cnt);
	/* A run the kernel refuses judges nothing: a kernel (or a harness)
	 * that refuses most runs of a program must fail, not pass empty. */
	for (i = 0; one == ~0ull && i < FZ_PROGS; i++) {
		char m[96];

		snprintf(m, sizeof(m), "program %s: most of its packets were judged",
			 prog_names[i]);
		ASSERT_TRUE(cnt.per_prog[i] > 0 && cnt.refused_prog[i] < cnt.per_prog[i], m);
	}
	for (i = 0; i < FZ_PROPS; i++) {
		char m[96];

		snprintf(m, sizeof(m), "no violation of: %s", fz_prop_names[i]);
		ASSERT_EQ(cnt.viol[i], 0, m);
	}
	decap__destroy(dskel);
	return t_done();
}
