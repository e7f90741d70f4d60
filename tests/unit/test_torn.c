// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * No torn configuration. A writer flips a service between two
 * configurations on one CPU while new flows are decided on the other:
 *   A: weight 0%,   baseline {a0, a1}, canary {ca}
 *   B: weight 100%, baseline {b0, b1}, canary {cb}
 * Under A every flow must reach a0/a1, under B every flow must reach cb.
 * ca, b0 and b1 are reachable only by a packet that mixes A's weight with
 * B's tables or the other way round: one sighting is a torn read.
 * The control: a writer that publishes in two steps (weight first, tables
 * second), as a design with weights and tables in separate maps would, must
 * be caught by the same check, or the check proves nothing.
 */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "fixture.h"
#include "internal.h"

static struct sluice_service_spec *cfg_a, *cfg_b;
static atomic_int stop;
static int writer_err, flips;

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *writer_atomic(void *arg)
{
	pin_cpu(0);
	while (!atomic_load(&stop)) {
		if (sluice_service_put(t_sl, (flips & 1) ? cfg_a : cfg_b) < 0)
			writer_err++;
		flips++;
	}
	return NULL;
}

/* The control writer: same end states, published non-atomically. */
static __u32 *tab_a[2], *tab_b[2];
static struct sluice_svc_cfg c_a, c_b;
static __u32 svc_id;
static bool in_vm;
/* the next flow to send: every race sends flows no earlier one sent */
static long next_flow;

static void *writer_two_step(void *arg)
{
	pin_cpu(0);
	while (!atomic_load(&stop)) {
		const struct sluice_svc_cfg *to = (flips & 1) ? &c_a : &c_b;
		__u32 **from_t = (flips & 1) ? tab_b : tab_a;
		__u32 **to_t = (flips & 1) ? tab_a : tab_b;
		struct sluice_svc_cfg mid = *to;

		/* step 1: new weight, old tables; step 2: the tables */
		sluice_cfg_publish(t_sl, svc_id, &mid, (const __u32 **)from_t);
		/* a real two-step writer has a gap (a second syscall, a
		 * scheduling point): 200 us; under qemu TCG (vmtest), whose
		 * vCPUs interleave coarsely, 5 ms */
		usleep(in_vm ? 5000 : 200);
		sluice_cfg_publish(t_sl, svc_id, to, (const __u32 **)to_t);
		flips++;
	}
	return NULL;
}

static __u64 misses(void)
{
	__u64 ev[SLUICE_EV_MAX];

	sluice_events_get(t_sl, ev);
	return ev[SLUICE_EV_CONN_MISS];
}

/* Decide flows until the writer has flipped `want` times; count mixes. */
static long race(int prog, void *(*writer)(void *), int want, long *packets,
		 long seen[2])
{
	pthread_t th;
	long torn = 0, n = 0, k;
	__u64 miss0 = misses();

	flips = 0;
	atomic_store(&stop, 0);
	pthread_create(&th, NULL, writer, NULL);
	pin_cpu(1);
	while (flips < want) {
		char src[32];
		struct flow f;
		int b;

		k = next_flow++;
		snprintf(src, sizeof(src), "100.%ld.%ld.%ld", 64 + (k >> 16) % 60,
			 (k >> 8) & 0xff, k & 0xff);
		f = flow4(src, "192.0.2.50", 1024 + k % 60000, 80, IPPROTO_TCP, F_SYN);
		b = t_send(prog, &f, NULL);
		/* a0=0, a1=1 (baseline: A), cb=256+1 (canary: B) are legal */
		if (b == 0 || b == 1)
			seen[0]++;
		else if (b == 257)
			seen[1]++;
		else
			torn++;
		n++;
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	*packets = n;
	/* a flow tracked from an earlier race follows its entry: only a
	 * new flow reads the configuration, so only new flows test it */
	ASSERT_EQ(misses() - miss0, (__u64)n, "every packet of the race is a new flow");
	return torn;
}

int main(void)
{
	struct sluice *s = t_instance("torn", 1 << 14);
	long torn, packets, seen[2] = { 0, 0 };
	int prog, i;

	in_vm = t_in_vm();
	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (!ASSERT_TRUE(prog >= 0, "XDP program loads"))
		return t_done();
	cfg_a = t_spec("torn", "192.0.2.50", 80, IPPROTO_TCP, 0, 0);
	t_pool(cfg_a, SLUICE_BASELINE, 2, 0);	/* a0 a1 */
	t_pool(cfg_a, SLUICE_CANARY, 1, 0);	/* ca */
	cfg_a->weight[0] = 0;
	cfg_b = t_spec("torn", "192.0.2.50", 80, IPPROTO_TCP, 0, 0);
	t_pool(cfg_b, SLUICE_BASELINE, 2, 2);	/* b0 b1 */
	t_pool(cfg_b, SLUICE_CANARY, 1, 1);	/* cb */
	cfg_b->weight[0] = 10000;
	ASSERT_OK(sluice_service_put(s, cfg_a), "config A");

	subtest("atomic swap: no packet sees a mix");
	torn = race(prog, writer_atomic, 300, &packets, seen);
	fprintf(stderr, "  %d flips, %ld packets (%ld A, %ld B), %ld torn\n", flips,
		packets, seen[0], seen[1], torn);
	ASSERT_EQ(writer_err, 0, "every publish succeeded");
	ASSERT_TRUE(seen[0] > 0 && seen[1] > 0, "packets raced the writer: both configurations seen");
	ASSERT_EQ(torn, 0, "no torn decision");

	subtest("control: a two-step writer is caught");
	sluice_service_lookup(s, "torn", &svc_id);
	ASSERT_OK(sluice_service_put(s, cfg_b), "config B");
	ASSERT_OK(sluice_cfg_read(s, svc_id, &c_b, tab_b), "read B");
	ASSERT_OK(sluice_service_put(s, cfg_a), "config A");
	ASSERT_OK(sluice_cfg_read(s, svc_id, &c_a, tab_a), "read A");
	/* rounds until caught (at most 10): under qemu TCG the reader and
	 * the writer interleave coarsely. (Ten rounds once saw no mix on
	 * 5.10: each race restarted at flow 0, so a round slower than the
	 * first race only resent tracked flows, which decide nothing.) */
	for (i = 0, torn = 0; i < 10 && !torn; i++) {
		torn = race(prog, writer_two_step, 300, &packets, seen);
		fprintf(stderr, "  round %d: %d flips, %ld packets, %ld torn\n", i + 1, flips,
			packets, torn);
	}
	ASSERT_TRUE(torn > 0, "the check sees mixes from a non-atomic writer");

	sluice_spec_free(cfg_a);
	sluice_spec_free(cfg_b);
	return t_done();
}
