// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flowcost: what sluice's connection tables cost per packet for traffic
 * patterns users have (issue 24), through BPF_PROG_TEST_RUN: the driver
 * bpf/bench_drive.bpf.c rewrites one IPv4/TCP frame per run for the run's
 * flow and tail-calls the program under test; the kernel's average over
 * `repeat` runs is the figure (statistics off, no syscall per packet).
 * Every figure is also given net of the driver tail-calling an empty
 * program (XDP_TX), measured the same way in the same round.
 *
 *   flowcost [--rounds R] [--cases "hit256 hit10k est1m ecmp1m new synflood ackflood"]
 *            [--conn N] [--conn-new N] [--cpu C] [-j]
 *
 * Cases (each in a fresh instance with the default table sizes unless
 * --conn/--conn-new; one DSR service, 2 + 2 backends, canary 10%):
 *   floor     bench_floor (MAC rewrite + devmap redirect), 256 flows
 *   hit256    256 flows opened (SYN, ACK), then data (ACKs), 2M runs
 *   hit10k    10,000 flows, likewise
 *   est1m     1,000,000 flows opened, then 3 passes of data; `miss` is the
 *             share of data packets that found no entry
 *   ecmp1m    1,000,000 flows never seen (a mid-connection burst after an
 *             ECMP change): pass 1 (all unknown), then passes 2-3
 *   new       a SYN of a new flow per packet (after 1M of them as warm-up)
 *   synflood  100,000 established flows; every other packet a random SYN
 *             from a /16 x 16384 ports; `lost`: established flows that
 *             found no entry afterwards
 *   ackflood  the same with spoofed ACKs (a mid-connection flood)
 * Runs on one CPU (--cpu, default 0): the generator's CPU in a live run.
 */
#include <sched.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include "fixture.h"
#include "bench_drive.skel.h"
#include "bench_floor.skel.h"

enum { P_DATA = 0, P_HANDSHAKE, P_NEW, P_SYNMIX, P_ACKMIX };

#define CLIENT_BASE	0xc6336400u	/* 198.51.100.0: clients */
#define FLOOD_BASE	0x0a640000u	/* 10.100.0.0/16: the flood */

static struct bench_drive *drv;
static __u8 frame[128];
static int frame_len;
static __u32 conn_sz, conn_new_sz;

static void set_target(int fd)
{
	__u32 k = 0;

	if (bpf_map_update_elem(bpf_map__fd(drv->maps.target), &k, &fd, BPF_ANY)) {
		fprintf(stderr, "flowcost: prog array: %s\n", strerror(errno));
		exit(1);
	}
}

/* repeat runs of pattern over flows; average ns per run */
static double drive(int pattern, __u32 flows, __u64 runs)
{
	struct xdp_md ctx = { .data_end = frame_len };
	double total = 0;
	__u64 left = runs;

	drv->bss->pattern = pattern;
	drv->bss->flows = flows;
	drv->bss->n = 0;
	while (left) {
		__u32 r = left > 1000000 ? 1000000 : (__u32)left;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = frame_len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = r);

		if (bpf_prog_test_run_opts(bpf_program__fd(drv->progs.bench_drive), &o)) {
			fprintf(stderr, "flowcost: test run: %s\n", strerror(errno));
			exit(1);
		}
		if (o.retval == XDP_ABORTED) {
			fprintf(stderr, "flowcost: the driver aborted (tail call?)\n");
			exit(1);
		}
		total += (double)o.duration * r;
		left -= r;
	}
	return total / runs;
}

static struct sluice *inst;
static char pin[128];

static int inst_new(void)
{
	struct sluice_open_opts oo = { .create = true, .conn_entries = conn_sz,
				       .conn_new_entries = conn_new_sz };
	struct sluice_service_spec *sp;
	static int seq;
	char why[512];

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sluice-flowcost-%d-%d", getpid(), seq++);
	oo.pin_dir = pin;
	inst = sluice_open(&oo, why, sizeof(why));
	if (!inst) {
		fprintf(stderr, "flowcost: instance: %s\n", why);
		sluice_destroy(pin);	/* whatever it pinned before failing */
		exit(1);
	}
	sp = t_spec("fc", "192.0.2.10", 80, IPPROTO_TCP, 2, 2);
	if (sluice_service_put(inst, sp) || sluice_set_weight(inst, "fc", -1, 1000)) {
		fprintf(stderr, "flowcost: service: %s\n", sluice_errmsg(inst));
		exit(1);
	}
	sluice_spec_free(sp);
	set_target(sluice_prog_fd(inst, SLUICE_PROG_XDP));
	return 0;
}

static void inst_free(void)
{
	if (!inst)
		return;
	sluice_close(inst);
	sluice_destroy(pin);
	inst = NULL;
}

static __u64 ev(int e)
{
	__u64 v[SLUICE_EV_MAX] = {};

	sluice_events_get(inst, v);
	return v[e];
}

static __u64 misses(void)
{
	return ev(SLUICE_EV_CONN_MISS) + ev(SLUICE_EV_CONN_REDECIDE);
}

struct res {
	double ns[4];	/* per case: up to 4 figures */
	double extra;	/* miss share / lost flows */
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bpf_insn empty_insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	const char *cases = "hit256 hit10k est1m ecmp1m new synflood ackflood";
	int rounds = 3, json = 0, cpu = 0, empty, r, i, ci, ncases = 0;
	char *names[16], *dup, *tok;
	static struct res res[16][32];
	double empty_ns[32], floor_ns[32];
	struct bench_floor *fl;
	cpu_set_t set;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cases") && i + 1 < argc)
			cases = argv[++i];
		else if (!strcmp(argv[i], "--conn") && i + 1 < argc)
			conn_sz = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--conn-new") && i + 1 < argc)
			conn_new_sz = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-j"))
			json = 1;
		else {
			fprintf(stderr, "usage: flowcost [--rounds R] [--cases LIST] [--conn N] "
				"[--conn-new N] [--cpu C] [-j]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > 32)
		rounds = 3;
	dup = strdup(cases);
	for (tok = strtok(dup, " ,"); tok && ncases < 16; tok = strtok(NULL, " ,"))
		names[ncases++] = tok;
	if (geteuid())
		t_skip("needs root");
	atexit(inst_free);	/* every exit path: no pins left behind */
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (unshare(CLONE_NEWNET) ||
	    system("ip link add fc0 type veth peer name fc1 && ip link set fc0 up && "
		   "ip link set fc1 up"))
		t_skip("cannot set up a network namespace");

	{
		struct flow f = flow4("198.51.100.0", "192.0.2.10", 1024, 80, IPPROTO_TCP, F_ACK);
		struct iphdr *ip;
		__u32 s = 0;
		__u16 *w;

		frame_len = build_pkt(frame, &f, NULL);
		ip = (struct iphdr *)(frame + 14);
		ip->check = 0;
		w = (__u16 *)ip;
		for (i = 0; i < 10; i++)
			if (i != 6 && i != 7)	/* saddr words */
				s += w[i];
		drv = bench_drive__open_and_load();
		if (!drv)
			t_skip("cannot load the driver");
		drv->bss->ip_sum = s;
		drv->bss->nports = 16384;
		drv->bss->saddr_base = CLIENT_BASE;
		drv->bss->flood_base = FLOOD_BASE;
	}
	{
		/* a tail call's target must match the caller's attach type */
		LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_XDP);

		empty = bpf_prog_load(BPF_PROG_TYPE_XDP, "empty", "GPL", empty_insns, 2, &lo);
	}
	fl = bench_floor__open();
	if (empty < 0 || !fl)
		t_skip("cannot load the reference programs");
	memcpy((void *)fl->rodata->dmac, t_cl_mac, 6);
	if (bench_floor__load(fl))
		t_skip("cannot load the floor");
	{
		__u32 k = 0, ifx = if_nametoindex("fc0");

		bpf_map_update_elem(bpf_map__fd(fl->maps.tx_port), &k, &ifx, BPF_ANY);
	}

	for (r = 0; r < rounds; r++) {
		set_target(empty);
		drive(P_DATA, 256, 200000);
		empty_ns[r] = drive(P_DATA, 256, 2000000);
		set_target(bpf_program__fd(fl->progs.bench_floor));
		floor_ns[r] = drive(P_DATA, 256, 2000000);
		for (ci = 0; ci < ncases; ci++) {
			const char *c = names[ci];
			struct res *o = &res[ci][r];
			__u64 m0;

			memset(o, 0, sizeof(*o));
			inst_new();
			if (!strcmp(c, "hit256") || !strcmp(c, "hit10k")) {
				__u32 n = c[3] == '2' ? 256 : 10000;

				drive(P_HANDSHAKE, n, 2 * n);
				drive(P_DATA, n, 200000);
				o->ns[0] = drive(P_DATA, n, 2000000);
			} else if (!strcmp(c, "est1m")) {
				drive(P_HANDSHAKE, 1000000, 2000000);
				m0 = misses();
				o->ns[0] = drive(P_DATA, 1000000, 3000000);
				o->extra = (double)(misses() - m0) / 3000000;
			} else if (!strcmp(c, "ecmp1m")) {
				o->ns[0] = drive(P_DATA, 1000000, 1000000);
				m0 = misses();
				o->ns[1] = drive(P_DATA, 1000000, 2000000);
				o->extra = (double)(misses() - m0) / 2000000;
			} else if (!strcmp(c, "new")) {
				drive(P_NEW, 1u << 31, 1000000);
				o->ns[0] = drive(P_NEW, 1u << 31, 2000000);
			} else if (!strcmp(c, "synflood") || !strcmp(c, "ackflood")) {
				drive(P_HANDSHAKE, 100000, 200000);
				o->ns[0] = drive(c[0] == 's' ? P_SYNMIX : P_ACKMIX, 100000, 2000000);
				m0 = misses();
				o->ns[1] = drive(P_DATA, 100000, 100000);
				o->extra = (double)(misses() - m0);
			} else {
				fprintf(stderr, "flowcost: no case %s\n", c);
				return 2;
			}
			inst_free();
		}
		if (!json) {
			printf("round %d: empty %.1f floor %.1f", r + 1, empty_ns[r], floor_ns[r]);
			for (ci = 0; ci < ncases; ci++)
				printf("  %s %.1f/%.1f (%.4g)", names[ci], res[ci][r].ns[0],
				       res[ci][r].ns[1], res[ci][r].extra);
			printf("\n");
			fflush(stdout);
		}
	}
	/* min/median/max over the rounds, net of the empty program */
	printf("{\"rounds\":%d", rounds);
	{
		double e[32], f[32];

		memcpy(e, empty_ns, sizeof(e));
		for (r = 0; r < rounds; r++)
			f[r] = floor_ns[r] - empty_ns[r];
		qsort(e, rounds, sizeof(double), cmp_d);
		qsort(f, rounds, sizeof(double), cmp_d);
		printf(",\"empty\":[%.1f,%.1f,%.1f],\"floor_net\":[%.1f,%.1f,%.1f]",
		       e[0], e[rounds / 2], e[rounds - 1], f[0], f[rounds / 2], f[rounds - 1]);
	}
	for (ci = 0; ci < ncases; ci++) {
		int k;

		printf(",\"%s\":{", names[ci]);
		for (k = 0; k < 2; k++) {
			double v[32];

			for (r = 0; r < rounds; r++)
				v[r] = res[ci][r].ns[k] - empty_ns[r];
			qsort(v, rounds, sizeof(double), cmp_d);
			printf("%s\"net%d\":[%.1f,%.1f,%.1f]", k ? "," : "", k, v[0],
			       v[rounds / 2], v[rounds - 1]);
		}
		{
			double v[32];

			for (r = 0; r < rounds; r++)
				v[r] = res[ci][r].extra;
			qsort(v, rounds, sizeof(double), cmp_d);
			printf(",\"extra\":[%.4g,%.4g,%.4g]}", v[0], v[rounds / 2], v[rounds - 1]);
		}
	}
	printf("}\n");
	bench_floor__destroy(fl);
	bench_drive__destroy(drv);
	return 0;
}
