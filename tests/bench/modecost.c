// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * modecost: per-packet cost of sluice's XDP program per forwarding mode
 * (dsr, ipip, nat), hit path and new-flow path (TCP over IPv4 and IPv6,
 * UDP over IPv4), against an empty XDP
 * program, through BPF_PROG_TEST_RUN. ipip and nat change the packet, so
 * progcost's `repeat` (which feeds a program its own output) cannot be
 * used: every run here is one syscall with repeat 1 on a fresh copy of
 * the packet, and the figure is the kernel's own duration for that run
 * (ktime around the program, ~tens of ns of fixed cost that the empty
 * program pays too). The FIB is a private network namespace's, with
 * permanent neighbours, so bpf_fib_lookup succeeds as in production.
 *   modecost [-n RUNS] [--ref OBJ [--rounds R]]
 * prints a table and one JSON line. --ref loads another build of
 * sluice.bpf.o (say, main's) onto the same pinned maps and measures the
 * hit path of both, interleaved, R rounds (default 7) of RUNS runs each:
 * min / median / max over the rounds of each round's median, this build
 * against OBJ, in the same run (issue 10's before/after).
 */
#include <sched.h>
#include <net/if.h>
#include <linux/bpf.h>
#include "fixture.h"

static int run1(int prog, const __u8 *in, __u32 len, int ifin, __u32 *ns)
{
	__u8 out[4096];
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifin };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(prog, &o);

	*ns = o.duration;
	return err ? err : (int)o.retval;
}

static int cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* median of n runs of flow f (sport + i when vary) */
static double measure(int prog, struct flow f, int vary, int n, int ifin,
		      int *verdict)
{
	__u32 *t = calloc(n, sizeof(*t));
	__u8 in[256];
	double med;
	int i, len;

	for (i = 0; i < n; i++) {
		if (vary)
			f.sport = 1024 + (i % 60000), f.src.bytes[f.family == AF_INET ? 3 : 15] = i / 60000;
		len = build_pkt(in, &f, &(struct pkt_opts){ .payload = 64 });
		*verdict = run1(prog, in, len, ifin, &t[i]);
	}
	qsort(t, n, sizeof(*t), cmp);
	med = t[n / 2];
	free(t);
	return med;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Load OBJ's sluice_xdp on the instance's pinned maps. */
static int load_ref(struct sluice *s, const char *path, struct bpf_object **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = sluice_pin_dir(s));
	struct bpf_object *obj = bpf_object__open_file(path, &oo);
	struct bpf_program *p;
	char pin[512];
	int fd;

	if (!obj)
		return -errno;
	snprintf(pin, sizeof(pin), "%s/tx_ports", sluice_pin_dir(s));
	fd = bpf_obj_get(pin);
	if (fd >= 0) {
		bpf_map__reuse_fd(bpf_object__find_map_by_name(obj, "tx_ports"), fd);
		close(fd);
	}
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "sluice_xdp"));
	if (bpf_object__load(obj)) {
		bpf_object__close(obj);
		return -EINVAL;
	}
	*out = obj;
	return bpf_program__fd(bpf_object__find_program_by_name(obj, "sluice_xdp"));
}

/* This build vs a reference build, hit path, interleaved rounds. */
static void compare_ref(struct sluice *s, int prog, const char *ref, int rounds,
			int n, int ifin)
{
	static const char *const names[] = { "dsr", "ipip", "nat" };
	struct bpf_object *obj = NULL;
	double a[3][2][64], b[3][2][64], d[3][2][64];
	int rprog = load_ref(s, ref, &obj), m, fam, r, v;

	if (rprog < 0) {
		fprintf(stderr, "cannot load %s: %s\n", ref, strerror(-rprog));
		exit(1);
	}
	for (r = 0; r < rounds; r++)
		for (m = 0; m < 3; m++)
			for (fam = 0; fam < 2; fam++) {
				char vip[64];
				struct flow f;

				snprintf(vip, sizeof(vip), fam ? "2001:db8::%d" : "192.0.2.%d", 10 + m);
				f = fam ? flow6("2001:db8:1::7", vip, 40000, 80, IPPROTO_TCP, F_ACK)
					: flow4("198.51.100.7", vip, 40000, 80, IPPROTO_TCP, F_ACK);
				/* alternate which goes first */
				if (r & 1) {
					b[m][fam][r] = measure(rprog, f, 0, n, ifin, &v);
					a[m][fam][r] = measure(prog, f, 0, n, ifin, &v);
				} else {
					a[m][fam][r] = measure(prog, f, 0, n, ifin, &v);
					b[m][fam][r] = measure(rprog, f, 0, n, ifin, &v);
				}
			}
	/* the paired difference of each round (both measured back to back)
	 * is steadier than either side when neighbours load the machine */
	for (m = 0; m < 3; m++)
		for (fam = 0; fam < 2; fam++) {
			for (r = 0; r < rounds; r++)
				d[m][fam][r] = a[m][fam][r] - b[m][fam][r];
			qsort(a[m][fam], rounds, sizeof(double), cmp_d);
			qsort(b[m][fam], rounds, sizeof(double), cmp_d);
			qsort(d[m][fam], rounds, sizeof(double), cmp_d);
		}
	printf("hit path, this build vs %s: %d interleaved rounds of %d runs, "
	       "ns per packet, min/median/max of the round medians\n", ref, rounds, n);
	printf("%-6s %-4s %20s %20s %22s\n", "mode", "fam", "this build", "reference",
	       "paired diff per round");
	for (m = 0; m < 3; m++)
		for (fam = 0; fam < 2; fam++) {
			double *x = a[m][fam], *y = b[m][fam], *z = d[m][fam];

			printf("%-6s %-4s %6.0f/%6.0f/%6.0f %6.0f/%6.0f/%6.0f %+6.0f/%+6.0f/%+6.0f\n",
			       names[m], fam ? "v6" : "v4", x[0], x[rounds / 2], x[rounds - 1],
			       y[0], y[rounds / 2], y[rounds - 1], z[0], z[rounds / 2],
			       z[rounds - 1]);
		}
	printf("{\"ref\": \"%s\", \"rounds\": %d, \"runs\": %d", ref, rounds, n);
	for (m = 0; m < 3; m++)
		for (fam = 0; fam < 2; fam++) {
			double *x = a[m][fam], *y = b[m][fam], *z = d[m][fam];

			printf(", \"%s%d\": {\"this\": [%.0f, %.0f, %.0f], \"ref\": [%.0f, %.0f, %.0f], "
			       "\"diff\": [%.0f, %.0f, %.0f]}",
			       names[m], fam ? 6 : 4, x[0], x[rounds / 2], x[rounds - 1],
			       y[0], y[rounds / 2], y[rounds - 1], z[0], z[rounds / 2], z[rounds - 1]);
		}
	printf("}\n");
	bpf_object__close(obj);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "dsr", "ipip", "nat" };
	struct bpf_insn empty_insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	double e4, res[3][3][2];	/* mode, TCP v4 / TCP v6 / UDP v4, hit/new */
	int n = 20000, rounds = 7, prog, empty, ifin, m, fam, v, i;
	const char *ref = NULL;
	struct sluice *s;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-n"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--ref"))
			ref = argv[i + 1];
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
	}
	if (rounds < 1 || rounds > 64)
		rounds = 7;

	if (geteuid())
		t_skip("needs root");
	if (unshare(CLONE_NEWNET) ||
	    system("ip link add slt0 type veth peer name slt1 && ip link set slt0 up && "
		   "ip link set slt1 up && ip addr add 10.10.0.254/15 dev slt0 && "
		   "ip -6 addr add fd00::fe/16 dev slt0 nodad && "
		   "sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1 && "
		   "for b in 10.10.0.1 10.10.0.2 10.11.0.1 10.11.0.2 fd00:10::1 fd00:10::2 fd00:11::1 fd00:11::2; do "
		   "ip neigh add $b lladdr 02:4e:49:47:48:01 dev slt0 nud permanent; done"))
		t_skip("cannot set up a network namespace");
	ifin = if_nametoindex("slt1");
	s = t_instance("modecost", 0);
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	empty = bpf_prog_load(BPF_PROG_TYPE_XDP, "empty", "GPL", empty_insns, 2, NULL);
	if (prog < 0 || empty < 0)
		t_skip("cannot load programs");
	for (m = 0; m < 3; m++)
		for (fam = 0; fam < 3; fam++) {
			char name[32], vip[64];
			struct sluice_service_spec *sp;
			unsigned int vv, i;

			int udp = fam == 2, v6 = fam == 1;
			__u8 proto = udp ? IPPROTO_UDP : IPPROTO_TCP;

			snprintf(name, sizeof(name), "%s%s%d", names[m], udp ? "u" : "", v6 ? 6 : 4);
			snprintf(vip, sizeof(vip), v6 ? "2001:db8::%d" : "192.0.2.%d", 10 + m);
			sp = t_spec(name, vip, udp ? 53 : 80, proto, 2, 2);
			sp->mode = m;
			if (m != SLUICE_MODE_DSR)
				for (vv = 0; vv < 2; vv++)
					for (i = 0; i < sp->pool[vv].n; i++)
						sp->pool[vv].be[i].has_mac = false;
			if (m == SLUICE_MODE_IPIP)
				sluice_parse_prefix(v6 ? "fd00:99::/64" : "10.99.0.0/24",
						    &sp->tunnel_src);
			if (sluice_service_put(s, sp)) {
				fprintf(stderr, "%s: %s\n", name, sluice_errmsg(s));
				return 1;
			}
			sluice_set_weight(s, name, -1, 5000);
			{
				struct flow f = v6 ? flow6("2001:db8:1::7", vip, 40000, 80, proto, F_SYN)
						   : flow4("198.51.100.7", vip, 40000, udp ? 53 : 80, proto,
							   udp ? 0 : F_SYN);
				__u8 in[256];
				__u32 ns;
				int len = build_pkt(in, &f, NULL);

				run1(prog, in, len, ifin, &ns);	/* SYN: conn_new */
				if (!udp)
					f.tcp_flags = F_ACK;
				len = build_pkt(in, &f, NULL);
				run1(prog, in, len, ifin, &ns);	/* promoted */
				res[m][fam][0] = measure(prog, f, 0, n, ifin, &v);
				if (v != XDP_REDIRECT && v != XDP_TX)
					fprintf(stderr, "%s hit: verdict %d\n", name, v);
				if (!udp)
					f.tcp_flags = F_SYN;
				f.sport = 0;
				res[m][fam][1] = measure(prog, f, 1, n, ifin, &v);
			}
			sluice_spec_free(sp);
		}
	{
		struct flow f = flow4("198.51.100.7", "192.0.2.10", 40000, 80, IPPROTO_TCP, F_ACK);

		e4 = measure(empty, f, 0, n, ifin, &v);
	}
	printf("BPF_PROG_TEST_RUN, repeat 1, median of %d runs, ns per packet (empty XDP program: %.0f)\n", n, e4);
	printf("%-6s %10s %10s %10s %10s %10s %10s   (minus empty: hit v4, new v4)\n", "mode",
	       "hit v4", "new v4", "hit v6", "new v6", "udp hit4", "udp new4");
	for (m = 0; m < 3; m++)
		printf("%-6s %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f   %6.0f %6.0f\n", names[m],
		       res[m][0][0], res[m][0][1], res[m][1][0], res[m][1][1],
		       res[m][2][0], res[m][2][1], res[m][0][0] - e4, res[m][0][1] - e4);
	printf("{\"empty\": %.0f", e4);
	for (m = 0; m < 3; m++)
		printf(", \"%s\": {\"hit4\": %.0f, \"new4\": %.0f, \"hit6\": %.0f, \"new6\": %.0f, "
		       "\"udp_hit4\": %.0f, \"udp_new4\": %.0f}",
		       names[m], res[m][0][0], res[m][0][1], res[m][1][0], res[m][1][1],
		       res[m][2][0], res[m][2][1]);
	printf("}\n");
	if (ref)
		compare_ref(s, prog, ref, rounds, n, ifin);
	return 0;
}
