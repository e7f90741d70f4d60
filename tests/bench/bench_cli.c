// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Control-plane latency (a benchmark, not a test):
 *  1. sluice_set_weight() alone, and from its call to the first new flow
 *     that observes the new weight: a flow whose bucket (sluice_hash.h, the
 *     datapath's hash) lies between the old and the new weight is sent
 *     through the XDP program with BPF_PROG_TEST_RUN right after the call.
 *  2. the same with `sluice weight` as a process (fork/exec to exit).
 *  3. revert --all with 1,000 services: the library call (one map write)
 *     and the `sluice revert --all` process.
 * Prints min/median/max in microseconds. Usage: bench_cli [REPEATS]
 */
#include <time.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include "fixture.h"
#include "sluice_hash.h"

#define NSVC 1000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("%-52s n=%-4d min %9.1f  median %9.1f  max %9.1f us\n", what, n,
	       v[0], v[n / 2], v[n - 1]);
}

static const char *sluice_bin = "build/sluice";

/* fork/exec the CLI with stdout to /dev/null; returns wall time or -1. */
static double run_cli(char *const argv[])
{
	double t0 = now_us();
	int st;
	pid_t p;

	fflush(stdout);
	p = fork();

	if (p == 0) {
		freopen("/dev/null", "w", stdout);
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return now_us() - t0;
}

/* The variant the XDP program sends one packet of flow f to, or -1. */
static int t_variant_of_flow(int prog, const struct flow *f)
{
	int b = t_send(prog, f, NULL);

	return b < 0 ? -1 : b / 256;
}

static __u16 next_sport = 1024;

/* A fresh flow (new source port) whose bucket is in [lo, hi). */
static void flow_in(struct flow *f, const struct sluice_service_spec *sp,
		    unsigned int lo, unsigned int hi)
{
	for (;;) {
		struct sluice_flow_words w;
		__u32 hb, hs, b;

		f->sport = next_sport++;
		if (next_sport < 1024)
			next_sport = 1024;
		sluice_flow_words(&w, &f->src, &f->dst, htons(f->sport),
				  htons(f->dport), f->proto, f->family, 0);
		sluice_hash_flow(&w, sp->seed, &hb, &hs);
		b = hb % SLUICE_BUCKETS;
		if (b >= lo && b < hi)
			return;
	}
}

int main(int argc, char **argv)
{
	struct sluice *s = t_instance("benchcli", 1 << 16);
	int reps = argc > 1 ? atoi(argv[1]) : 200, i, prog, n, v, err;
	double *lib, *obs, *cli, *cliobs, t0, t1;
	struct sluice_service_spec *sp;
	char wbuf[16], *av[8];
	struct flow f = {};

	if (getenv("SLUICE_BIN"))
		sluice_bin = getenv("SLUICE_BIN");
	if (access(sluice_bin, X_OK))
		t_skip("build/sluice is missing: run make (or set SLUICE_BIN)");
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (prog < 0)
		t_skip("cannot load the XDP program");
	lib = calloc(reps, sizeof(double));
	obs = calloc(reps, sizeof(double));
	cli = calloc(reps, sizeof(double));
	cliobs = calloc(reps, sizeof(double));

	sp = t_spec("bench", "192.0.2.80", 80, IPPROTO_UDP, 4, 4);
	if (sluice_service_put(s, sp)) {
		fprintf(stderr, "service: %s\n", sluice_errmsg(s));
		return 1;
	}
	f.family = AF_INET;
	f.proto = IPPROTO_UDP;
	sluice_parse_addr("198.51.100.7", &f.src, &f.family);
	f.dst = sp->vip;
	f.dport = 80;

	/* 1. library: 0 -> 5% moves buckets [0, 500) to the canary */
	for (i = 0; i < reps; i++) {
		sluice_set_weight(s, "bench", -1, 0);
		flow_in(&f, sp, 0, 500);
		if (t_variant_of_flow(prog, &f) != SLUICE_BASELINE) {
			fprintf(stderr, "flow not on baseline at 0%%\n");
			return 1;
		}
		flow_in(&f, sp, 0, 500);
		t0 = now_us();
		err = sluice_set_weight(s, "bench", -1, 500);
		t1 = now_us();
		if (err) {
			fprintf(stderr, "set_weight: %s\n", sluice_errmsg(s));
			return 1;
		}
		n = 0;
		do {
			v = t_variant_of_flow(prog, &f);
			n++;
		} while (v != SLUICE_CANARY && n < 1000);
		lib[i] = t1 - t0;
		obs[i] = now_us() - t0;
		if (n != 1)
			fprintf(stderr, "flow needed %d tries\n", n);
	}
	report("sluice_set_weight()", lib, reps);
	report("set_weight call -> first flow on the new weight", obs, reps);

	/* 2. the CLI process */
	snprintf(wbuf, sizeof(wbuf), "5%%");
	av[0] = (char *)sluice_bin; av[1] = "-d"; av[2] = t_pin_dir;
	av[3] = "weight"; av[4] = "bench"; av[5] = wbuf; av[6] = NULL;
	for (i = 0; i < reps / 4 + 1 && i < reps; i++) {
		sluice_set_weight(s, "bench", -1, 0);
		flow_in(&f, sp, 0, 500);
		t0 = now_us();
		cli[i] = run_cli(av);
		if (cli[i] < 0) {
			fprintf(stderr, "sluice weight failed\n");
			return 1;
		}
		v = t_variant_of_flow(prog, &f);
		cliobs[i] = now_us() - t0;
		if (v != SLUICE_CANARY)
			fprintf(stderr, "flow did not observe the CLI's weight\n");
	}
	report("`sluice weight` process (start to exit)", cli, i);
	report("`sluice weight` start -> first flow on the new weight", cliobs, i);

	/* 3. revert --all over 1,000 services */
	for (i = 1; i < NSVC; i++) {
		struct sluice_service_spec *x;
		char name[32], vip[32];

		snprintf(name, sizeof(name), "svc%d", i);
		snprintf(vip, sizeof(vip), "198.18.%d.%d", i / 250, i % 250 + 1);
		x = t_spec(name, vip, 80, IPPROTO_TCP, 1, 1);
		x->table_size = 251;
		if (sluice_service_put(s, x)) {
			fprintf(stderr, "service %d: %s\n", i, sluice_errmsg(s));
			return 1;
		}
		sluice_spec_free(x);
	}
	n = sluice_service_ids(s, (__u32 [SLUICE_MAX_SERVICES]){}, SLUICE_MAX_SERVICES);
	printf("services configured: %d\n", n);
	for (i = 0; i < reps; i++) {
		flow_in(&f, sp, 0, 500);	/* a new flow: canary at 5% */
		t0 = now_us();
		if (sluice_revert(s, NULL, false) != 1)
			fprintf(stderr, "revert --all did not change\n");
		lib[i] = now_us() - t0;
		t0 = now_us();
		v = t_variant_of_flow(prog, &f);	/* reverted: baseline */
		obs[i] = now_us() - t0;
		if (v != SLUICE_BASELINE)
			fprintf(stderr, "flow not reverted\n");
		sluice_resume(s, NULL);
	}
	report("sluice_revert(NULL) with 1000 services", lib, reps);
	report("revert --all call -> first new flow reverted", obs, reps);
	av[3] = "revert"; av[4] = "--all"; av[5] = NULL;
	for (i = 0; i < reps / 4 + 1 && i < reps; i++) {
		cli[i] = run_cli(av);
		if (cli[i] < 0) {
			fprintf(stderr, "sluice revert --all failed\n");
			return 1;
		}
		sluice_resume(s, NULL);
	}
	report("`sluice revert --all` process, 1000 services", cli, i);
	sluice_spec_free(sp);
	return 0;
}
