// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet leader's gate judge (user/daemon/fleet/fleet_judge.c) with a
 * simulated clock and three simulated nodes' reports, no etcd: an equal
 * canary is not rolled back however often it is looked at (a plain ratio
 * comparison at every evaluation is, often), a 3x worse one is, too few
 * samples are inconclusive, a leader taking over mid-step never passes on
 * less evidence, a node leaving mid-step takes no bad event along, and
 * the new-flow ratio gate catches a fleet that does not split as set.
 * Fixed seeds: the same numbers every run.
 * sluice-test: host-only
 */
#include "test.h"
#include "plan.h"
#include "fleet_judge.h"
#include "sim.h"

#define NODES 3

struct fleet_sim {
	struct sim rng;
	struct sluice_flow_stats fs[NODES][SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	bool gone[NODES];
	double flows_per_node_s, rate[SLUICE_VARIANTS];
	double split_mul;	/* a datapath that splits off this times the
				 * weight (0: as configured) */
};

static const char *node_name(int i)
{
	static const char *const n[NODES] = { "n1", "n2", "n3" };

	return n[i];
}

/* Three nodes of 300 new flows/s each, bad events per flow per variant. */
static void fsim_init(struct fleet_sim *s, __u64 seed, double rate_c, double rate_b)
{
	memset(s, 0, sizeof(*s));
	s->rng.rng = seed;
	s->flows_per_node_s = 300;
	s->rate[SLUICE_CANARY] = rate_c;
	s->rate[SLUICE_BASELINE] = rate_b;
}

/* One simulated second on every node at canary share w (bp). */
static void sim_second(struct fleet_sim *s, unsigned int w)
{
	int i, v;

	for (i = 0; i < NODES; i++)
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			double wc = w / 10000.0 * (s->split_mul ? s->split_mul : 1);
			double share = v == SLUICE_CANARY ? wc : 1 - wc;
			__u64 f = sim_poisson(&s->rng, s->flows_per_node_s * share);
			__u64 x = sim_poisson(&s->rng, f * s->rate[v]);

			s->fs[i][v][0].new_flows += f;
			s->fs[i][v][0].client_rst += x < f ? x : f;
		}
}

/* The nodes' reports as the leader holds them (F->nodes). */
static json_t *reports(const struct fleet_sim *s)
{
	json_t *nodes = json_object();
	int i;

	for (i = 0; i < NODES; i++)
		if (!s->gone[i])
			json_object_set_new(nodes, node_name(i), json_pack(
				"{s:{s:{s:i, s:o}}}", "services", "web", "mode",
				SLUICE_MODE_DSR, "fs", fleet_fs_json(s->fs[i])));
	return nodes;
}

/* The step's base as the leader writes it. */
static json_t *base_of(const struct fleet_sim *s)
{
	json_t *b = json_object();
	int i;

	for (i = 0; i < NODES; i++)
		if (!s->gone[i])
			json_object_set_new(b, node_name(i),
					    json_pack("{s:o}", "fs", fleet_fs_json(s->fs[i])));
	return b;
}

/* The gates' evidence through the JSON text etcd stores. */
static json_t *through_etcd(json_t *saved)
{
	char *text = json_dumps(saved, JSON_COMPACT);
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	json_decref(saved);
	return j;
}

static void obs_now(const struct fleet_sim *s, json_t *base, unsigned int w,
		    struct eng_obs *obs)
{
	__u16 wr[SLUICE_MAX_RINGS];
	json_t *nodes = reports(s);
	int r;

	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		wr[r] = w;
	fleet_obs_sum(nodes, base, "web", wr, obs);
	json_decref(nodes);
}

static struct sluice_plan *plan_of(const char *yaml)
{
	char err[256] = "";
	struct sluice_plan *p = sluice_plan_parse_string(yaml, "web", err, sizeof(err));

	if (!ASSERT_TRUE(p != NULL, "the test's plan parses"))
		fprintf(stderr, "  %s\n", err);
	return p;
}

struct run {
	enum fleet_verdict v;	/* the end: PASS of the last step, FAIL, PAUSE, or WAIT */
	int step;
	unsigned int evals;	/* evaluations looked at */
	bool naive_fail;	/* a plain ratio check at some evaluation failed */
	char why[512];
};

/*
 * A rollout of steps (canary share, hold in s) driven like the leader:
 * one tick a second, a new base and the evidence through JSON at every
 * step, at most max_s seconds.
 */
static void rollout(const struct sluice_plan *p, struct fleet_sim *s, const unsigned int *w,
		    int nsteps, unsigned int hold_s, unsigned int max_s, struct run *out)
{
	static struct fleet_gates fg;
	struct eng_obs obs;
	json_t *base = base_of(s), *saved = NULL;
	__u64 now = 1000000, start = now;
	unsigned int t;
	int step = 0;

	memset(out, 0, sizeof(*out));
	obs_now(s, base, w[0], &obs);
	fleet_gates_begin(p, &fg, 1, NULL, &obs, now);
	for (t = 0; t < max_s; t++) {
		enum fleet_verdict v;

		sim_second(s, w[step]);
		now += 1000;
		obs_now(s, base, w[step], &obs);
		v = fleet_judge(p, &fg, step, &obs, now, now - start >= hold_s * 1000ull,
				out->why, sizeof(out->why));
		out->evals++;
		/* the judge this replaces: the step's sums compared plainly */
		if (obs.fs[SLUICE_CANARY][0].new_flows >= p->gates[0].min_samples &&
		    obs.fs[SLUICE_CANARY][0].client_rst * (double)obs.fs[SLUICE_BASELINE][0].new_flows >
		    (1 + p->gates[0].max_increase) * obs.fs[SLUICE_BASELINE][0].client_rst *
		    (double)obs.fs[SLUICE_CANARY][0].new_flows)
			out->naive_fail = true;
		if (v == FJ_FAIL || v == FJ_PAUSE || (v == FJ_PASS && step + 1 == nsteps)) {
			out->v = v;
			break;
		}
		if (v == FJ_PASS) {	/* the next step, as a leader would read it back */
			saved = through_etcd(fleet_gates_save(p, &fg));
			json_decref(base);
			base = base_of(s);
			step++;
			start = now;
			obs_now(s, base, w[step], &obs);
			fleet_gates_begin(p, &fg, step + 1, saved, &obs, now);
			json_decref(saved);
		}
	}
	out->step = step;
	json_decref(base);
}

static const char *const CMP_PLAN =
	"steps:\n"
	"  - weight: 10%\n    hold: 300s\n"
	"  - weight: 50%\n    hold: 300s\n"
	"gates:\n"
	"  - metric: error_ratio\n    max_increase: 20%\n    confidence: 95%\n"
	"    min_samples: 100\n    interval: 1s\n";

static void test_equal_canary(void)
{
	static const unsigned int w[] = { 1000, 5000 };
	struct sluice_plan *p = plan_of(CMP_PLAN);
	unsigned int seed, rolled = 0, naive = 0, promoted = 0;
	struct fleet_sim s;
	struct run r;

	subtest("an equal canary looked at every second is not rolled back");
	if (!p)
		return;
	for (seed = 1; seed <= 20; seed++) {
		fsim_init(&s, 0x9e3779b97f4a7c15ull * seed, 0.01, 0.01);
		rollout(p, &s, w, 2, 300, 700, &r);
		ASSERT_TRUE(r.evals >= 600, "hundreds of evaluations per rollout");
		rolled += r.v == FJ_FAIL;
		promoted += r.v == FJ_PASS;
		naive += r.naive_fail;
	}
	fprintf(stderr, "  20 equal canaries: %u rolled back, %u promoted; the plain ratio check at every evaluation would have failed %u\n",
		rolled, promoted, naive);
	ASSERT_TRUE(rolled <= 2, "at most about alpha (5 %) of equal canaries rolled back");
	ASSERT_TRUE(promoted >= 18, "the others are promoted");
	ASSERT_TRUE(naive >= 10, "peeking at the plain ratio would have rolled back many (the old judge)");
	sluice_plan_free(p);
}

static void test_worse_canary(void)
{
	static const unsigned int w[] = { 1000, 5000 };
	struct sluice_plan *p = plan_of(CMP_PLAN);
	unsigned int seed, failed = 0;
	struct fleet_sim s;
	struct run r;

	subtest("a canary 3x worse than its baseline is rolled back");
	if (!p)
		return;
	for (seed = 1; seed <= 5; seed++) {
		fsim_init(&s, 0x51ed27ull * seed + 7, 0.03, 0.01);
		rollout(p, &s, w, 2, 300, 700, &r);
		failed += r.v == FJ_FAIL && r.step == 0;
		if (seed == 1)
			fprintf(stderr, "  %s (after %u s)\n", r.why, r.evals);
		ASSERT_TRUE(strstr(r.why, "fleet's sums") != NULL, "the reason names the fleet's sums");
	}
	ASSERT_EQ(failed, 5, "every 3x worse canary fails in its first step");
	sluice_plan_free(p);
}

static void test_too_few(void)
{
	static const char *const mode[] = { "extend", "pause", "fail" };
	static const enum fleet_verdict want[] = { FJ_WAIT, FJ_PAUSE, FJ_FAIL };
	static const unsigned int w[] = { 1000 };
	char yaml[512];
	struct fleet_sim s;
	struct run r;
	int i;

	subtest("too few samples: inconclusive, then on_inconclusive");
	for (i = 0; i < 3; i++) {
		struct sluice_plan *p;

		snprintf(yaml, sizeof(yaml),
			 "steps:\n  - weight: 10%%\n    hold: 10s\n"
			 "gates:\n  - metric: error_ratio\n    max_increase: 20%%\n"
			 "    min_samples: 100000\n    on_inconclusive: %s\n", mode[i]);
		p = plan_of(yaml);
		if (!p)
			return;
		fsim_init(&s, 42, 0.01, 0.01);
		rollout(p, &s, w, 1, 10, 30, &r);
		ASSERT_EQ(r.v, want[i], mode[i]);
		if (want[i] != FJ_WAIT)
			ASSERT_TRUE(strstr(r.why, "inconclusive") != NULL, "the reason says inconclusive");
		sluice_plan_free(p);
	}
}

/* A leader takes over mid-step: the tests carry on from the step's start,
 * the step's samples count again from the takeover. */
static void test_takeover(void)
{
	struct sluice_plan *p = plan_of(
		"steps:\n  - weight: 10%\n    hold: 10s\n  - weight: 50%\n    hold: 10s\n"
		"gates:\n  - metric: error_ratio\n    max_increase: 20%\n"
		"    min_samples: 2500\n");
	static struct fleet_gates a, b;
	struct fleet_sim s;
	struct eng_obs obs;
	json_t *base, *saved;
	__u64 now = 5000000, start = now, passed_at = 0;
	char why[512];
	int t, k;

	subtest("a new leader mid-step restarts the step's counting, keeps the evidence");
	if (!p)
		return;
	fsim_init(&s, 7, 0.01, 0.01);
	/* step 1 judged by leader a, then its evidence into step 2's state */
	base = base_of(&s);
	obs_now(&s, base, 1000, &obs);
	fleet_gates_begin(p, &a, 1, NULL, &obs, now);
	for (t = 0; t < 10; t++) {
		sim_second(&s, 1000);
		now += 1000;
		obs_now(&s, base, 1000, &obs);
		fleet_judge(p, &a, 0, &obs, now, false, why, sizeof(why));
	}
	ASSERT_TRUE(a.gs[0].seq.increments > 0, "step 1 fed the test");
	saved = through_etcd(fleet_gates_save(p, &a));
	json_decref(base);
	base = base_of(&s);
	start = now;
	obs_now(&s, base, 5000, &obs);
	fleet_gates_begin(p, &a, 2, saved, &obs, now);
	fleet_gates_begin(p, &b, 2, saved, &obs, now);
	ASSERT_TRUE(b.gs[0].seq.log_m == a.gs[0].seq.log_m &&
		    b.gs[0].seq.increments == a.gs[0].seq.increments &&
		    !memcmp(b.gs[0].seq.l, a.gs[0].seq.l, sizeof(a.gs[0].seq.l)),
		    "the evidence survives etcd's JSON exactly");
	/* step 2 (450 canary flows/s): leader a for 8 s, then leader b */
	for (t = 0; t < 8; t++) {
		sim_second(&s, 5000);
		now += 1000;
		obs_now(&s, base, 5000, &obs);
		fleet_judge(p, &a, 1, &obs, now, false, why, sizeof(why));
	}
	ASSERT_TRUE(a.gs[0].step_n[SLUICE_CANARY] >= 2500, "leader a had the step's samples");
	fleet_gates_begin(p, &b, 2, saved, &obs, now);	/* b reads the step's state */
	for (t = 0; t < 30 && !passed_at; t++) {
		sim_second(&s, 5000);
		now += 1000;
		obs_now(&s, base, 5000, &obs);
		k = fleet_judge(p, &b, 1, &obs, now, now - start >= 10000, why, sizeof(why));
		if (k == FJ_PASS)
			passed_at = now;
		ASSERT_TRUE(k != FJ_PASS || b.gs[0].step_n[SLUICE_CANARY] >= 2500,
			    "a pass only on min_samples counted by the new leader");
		ASSERT_TRUE(k != FJ_FAIL, "an equal canary is not failed");
	}
	ASSERT_TRUE(passed_at != 0, "the new leader passes the step once it has the samples");
	/* from 8 s, one interval only rebases, then 2500 samples take 5.6 s */
	ASSERT_TRUE(passed_at - start >= 14000,
		    "not at the hold's end (10 s) on the old leader's samples: counted again");
	json_decref(saved);
	json_decref(base);
	sluice_plan_free(p);
}

/* A node that leaves mid-step: what it counted was judged already; the
 * fleet's sum going down rebases, never subtracts. */
static void test_node_leaves(void)
{
	struct sluice_plan *p = plan_of(
		"steps:\n  - weight: 50%\n    hold: 30s\n"
		"gates:\n  - metric: error_ratio\n    max: 5%\n    min_samples: 50\n");
	static struct fleet_gates fg;
	struct fleet_sim s;
	struct eng_obs obs;
	json_t *base;
	__u64 now = 1000000, bad_before;
	char why[512];
	int t, v;

	subtest("a node leaving mid-step takes no bad event along");
	if (!p)
		return;
	fsim_init(&s, 99, 0.001, 0.001);
	base = base_of(&s);
	obs_now(&s, base, 5000, &obs);
	fleet_gates_begin(p, &fg, 1, NULL, &obs, now);
	for (t = 0; t < 5; t++) {
		sim_second(&s, 5000);
		/* n3's canary is bad */
		s.fs[2][SLUICE_CANARY][0].client_rst += 30;
		now += 1000;
		obs_now(&s, base, 5000, &obs);
		v = fleet_judge(p, &fg, 0, &obs, now, false, why, sizeof(why));
	}
	bad_before = fg.gs[0].step_x[SLUICE_CANARY];
	ASSERT_TRUE(bad_before >= 4 * 30, "n3's bad events are counted");
	s.gone[2] = true;	/* n3's report expires */
	for (t = 0; t < 3; t++) {
		sim_second(&s, 5000);
		now += 1000;
		obs_now(&s, base, 5000, &obs);
		v = fleet_judge(p, &fg, 0, &obs, now, false, why, sizeof(why));
		ASSERT_TRUE(fg.gs[0].step_x[SLUICE_CANARY] >= bad_before,
			    "the step's bad events do not go down");
	}
	(void)v;
	/* 30 bad of ~150 canary flows a second on n3: above 5 % on the sums */
	ASSERT_TRUE(fg.gs[0].last.outcome == GATE_FAIL || fg.gs[0].fails > 0,
		    "the bad events of the node that left fail the gate");
	json_decref(base);
	sluice_plan_free(p);
}

static void test_new_flow_ratio(void)
{
	static const unsigned int w[] = { 1000, 5000 };
	struct sluice_plan *p = plan_of(
		"steps:\n  - weight: 10%\n    hold: 60s\n  - weight: 50%\n    hold: 60s\n"
		"gates:\n  - metric: new_flow_ratio\n    min_samples: 100\n");
	struct fleet_sim s;
	struct run r;

	subtest("new_flow_ratio on the fleet's sums");
	if (!p)
		return;
	fsim_init(&s, 1234, 0, 0);
	rollout(p, &s, w, 2, 60, 200, &r);
	ASSERT_EQ(r.v, FJ_PASS, "a fleet splitting as configured is promoted");
	fsim_init(&s, 1234, 0, 0);
	s.split_mul = 1.5;
	rollout(p, &s, w, 2, 60, 200, &r);
	ASSERT_EQ(r.v, FJ_FAIL, "a fleet splitting off 15 % at a weight of 10 % fails");
	ASSERT_EQ(r.step, 0, "in the first step");
	sluice_plan_free(p);
}

int main(void)
{
	test_equal_canary();
	test_worse_canary();
	test_too_few();
	test_takeover();
	test_node_leaves();
	test_new_flow_ratio();
	return t_done();
}
