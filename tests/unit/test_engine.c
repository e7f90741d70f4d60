// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rollout engine on a simulated clock and a simulated service
 * (tests/unit/sim.h): hours of holds in milliseconds, fixed seeds.
 * sluice-test: host-only
 */
#include "test.h"
#include "plan.h"
#include "engine.h"
#include "sim.h"
#include "sim_fleet.h"
#include "error_budget.h"

#define T0 1764600000000ull	/* 2025-12-01, any fixed wall clock */

static const char ramp_yaml[] =
	"steps:\n"
	"  - weight: 1%\n    hold: 5m\n"
	"  - weight: 5%\n    hold: 5m\n"
	"  - weight: 25%\n    hold: 5m\n"
	"  - weight: 50%\n    hold: 5m\n"
	"  - weight: 100%\n    hold: 5m\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n"
	"    min_samples: 200\n";

static struct sluice_plan *plan_of(const char *yaml)
{
	char err[512];
	struct sluice_plan *p = sluice_plan_parse_string(yaml, "plan", err, sizeof(err));

	if (!p) {
		fprintf(stderr, "plan: %s\n", err);
		exit(1);
	}
	if (sluice_plan_resolve(p, SLUICE_MODE_DSR, NULL, NULL, err, sizeof(err))) {
		/* per-ring plans resolve "internal" as ring 1 */
		fprintf(stderr, "resolve: %s\n", err);
		exit(1);
	}
	return p;
}

static int ring_internal(void *ctx, const char *name)
{
	return !strcmp(name, "internal") ? 1 : -ENOENT;
}

struct run {
	struct sim sim;
	struct eng_state st;
	struct eng_env env;
	struct eng_out out;
	__u64 now;
	unsigned int steps_seen, set_weights, gate_events;
	__u16 weights_seen[16];
	bool status_ok;
};

static void run_init(struct run *r, __u64 seed, double flows, double base, double canary)
{
	memset(r, 0, sizeof(*r));
	sim_init(&r->sim, seed, flows, base, canary);
	eng_state_init(&r->st, "web");
	r->now = T0;
	r->status_ok = true;
}

static void note(struct run *r)
{
	unsigned int i;

	for (i = 0; i < r->out.nactions; i++)
		if (r->out.actions[i].kind == ENG_ACT_SET_WEIGHTS) {
			if (r->set_weights < 16)
				r->weights_seen[r->set_weights] = r->out.actions[i].weight[0];
			r->set_weights++;
		}
	for (i = 0; i < r->out.nevents; i++) {
		r->steps_seen += r->out.events[i].type == ENG_EV_STEP;
		/* the plan's gates (the split check has its own tests) */
		r->gate_events += r->out.events[i].type == ENG_EV_GATE &&
				  strncmp(r->out.events[i].text, "gate 'split_check'", 18);
	}
	/* status always says what it waits for and since when */
	if (r->st.phase != ENG_NONE && !strstr(r->st.status, "since") &&
	    !strstr(r->st.status, "until") && !strstr(r->st.status, " at ")) {
		if (r->status_ok)
			fprintf(stderr, "  status without a time: '%s'\n", r->st.status);
		r->status_ok = false;
	}
}

static int cmd(struct run *r, const struct sluice_plan *p, enum eng_cmd_kind k, bool full)
{
	struct eng_cmd c = { .kind = k, .full = full, .rollout_id = 7 };
	int err;

	snprintf(c.who, sizeof(c.who), "alice");
	err = eng_command(p, &r->st, &c, &r->sim.obs, &r->env, r->now, &r->out);
	if (!err) {
		sim_apply(&r->sim, &r->out);
		note(r);
	}
	return err;
}

/* dt_ms of traffic, then a tick, then the actions. */
static void tick_ms(struct run *r, const struct sluice_plan *p, __u64 dt_ms)
{
	sim_traffic(&r->sim, dt_ms);
	r->now += dt_ms;
	if (eng_tick(p, &r->st, &r->sim.obs, &r->env, r->now, &r->out)) {
		fprintf(stderr, "  tick: %s\n", r->out.error);
		exit(1);
	}
	sim_apply(&r->sim, &r->out);
	note(r);
}

/* One second: traffic, then a tick, then the actions. */
static void tick(struct run *r, const struct sluice_plan *p)
{
	tick_ms(r, p, 1000);
}

static void run_until_end(struct run *r, const struct sluice_plan *p, unsigned int max_s)
{
	unsigned int i;

	for (i = 0; i < max_s && !eng_terminal(r->st.phase); i++)
		tick(r, p);
}

static void test_healthy_ramp(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;

	subtest("a healthy canary ramps through every step to promotion");
	run_init(&r, 1, 1000, 0.002, 0.002);
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start");
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "progressing after start");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "step 1 weight 1% written");
	run_until_end(&r, p, 4 * 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted");
	ASSERT_EQ(r.sim.promotions, 1, "one promotion performed");
	ASSERT_EQ(r.sim.obs.weight[0], 0, "weight 0 after promotion");
	ASSERT_EQ(r.set_weights, 5, "five weight writes");
	ASSERT_TRUE(r.weights_seen[0] == 100 && r.weights_seen[1] == 500 &&
		    r.weights_seen[2] == 2500 && r.weights_seen[3] == 5000 &&
		    r.weights_seen[4] == 10000, "the weights of the steps in order");
	ASSERT_EQ(r.steps_seen, 5, "five step events");
	ASSERT_RANGE((r.now - T0) / 1000.0, 25 * 60, 40 * 60, "took about 5 x 5 min");
	ASSERT_TRUE(r.status_ok, "status always names a time");
	ASSERT_TRUE(strstr(r.st.status, "promoted at") != NULL, "status: promoted at");
	sluice_plan_free(p);
}

/* A canary with 5x the baseline's error ratio, started and run to its end. */
static void run_bad_canary(struct run *r, const struct sluice_plan *p)
{
	run_init(r, 2, 1000, 0.01, 0.05);
	ASSERT_OK(cmd(r, p, ENG_CMD_START, false), "start");
	run_until_end(r, p, 4 * 3600);
}

static void test_bad_canary(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int i, events = 0;

	subtest("a canary with 5x the error ratio is rolled back with the numbers");
	run_bad_canary(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_EQ(r.sim.reverts, 1, "one revert action");
	ASSERT_TRUE(r.sim.obs.kill & SLUICE_KILL_REVERT, "kill switch set");
	ASSERT_TRUE(!r.st.by_operator, "by the engine");
	ASSERT_TRUE(strstr(r.st.end_reason, "gate 'errors' failed") &&
		    strstr(r.st.end_reason, "log M"), "end reason names gate and statistic");
	fprintf(stderr, "  after %llus: %s\n", (unsigned long long)(r.now - T0) / 1000,
		r.st.end_reason);
	/* nothing after the end: an abort-like end never loops */
	for (i = 0; i < 600; i++) {
		tick(&r, p);
		events += r.out.nevents + r.out.nactions;
	}
	ASSERT_EQ(events, 0, "no event or action in 10 min after the rollback");
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "still rolled back (no self-retry)");
	sluice_plan_free(p);
}

static void test_hold_and_restart(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run a, b;
	char err[256], *js;
	unsigned int i;

	subtest("hold accrues; a restart (state through JSON) resumes identically");
	run_init(&a, 3, 1000, 0.002, 0.002);
	run_init(&b, 3, 1000, 0.002, 0.002);
	cmd(&a, p, ENG_CMD_START, false);
	cmd(&b, p, ENG_CMD_START, false);
	for (i = 0; i < 90; i++)
		tick(&a, p);
	ASSERT_EQ(a.st.held_ms, 90000, "90 s held");
	ASSERT_EQ(eng_hold_left(p, &a.st), 210000, "210 s left");
	for (i = 0; i < 90; i++)
		tick(&b, p);
	/* b "crashes" and is restored from its JSON, down for 60 s */
	js = eng_state_to_json(&b.st);
	ASSERT_TRUE(js != NULL, "state to JSON");
	memset(&b.st, 0xa5, sizeof(b.st));
	ASSERT_OK(eng_state_from_json(js, &b.st, err, sizeof(err)), "state from JSON");
	free(js);
	for (i = 0; i < 60; i++) {	/* traffic while the daemon is down */
		sim_traffic(&b.sim, 1000);
		b.now += 1000;
	}
	tick(&b, p);
	ASSERT_EQ(b.out.nactions, 0, "the restart asks for no map change");
	ASSERT_EQ(b.st.held_ms, 151000, "hold accrued while the daemon was down");
	run_until_end(&b, p, 4 * 3600);
	ASSERT_EQ(b.st.phase, ENG_PROMOTED, "restarted rollout is promoted");
	sluice_plan_free(p);
}

static void test_crash_before_write(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	struct eng_state copy;
	unsigned int i;

	subtest("a decided but unwritten step is written after a restart, not read as the operator's");
	run_init(&r, 4, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 400 && r.st.step == 0; i++) {
		copy = r.st;
		sim_traffic(&r.sim, 1000);
		r.now += 1000;
		eng_tick(p, &r.st, &r.sim.obs, &r.env, r.now, &r.out);
		if (r.st.step == 1)
			break;		/* decided; "crash" before performing */
		sim_apply(&r.sim, &r.out);
	}
	ASSERT_EQ(r.st.step, 1, "step 2 decided");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "maps still at step 1");
	r.now += 5000;
	eng_tick(p, &r.st, &r.sim.obs, &r.env, r.now, &r.out);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "not paused as an operator change");
	ASSERT_TRUE(r.out.nactions == 1 && r.out.actions[0].kind == ENG_ACT_SET_WEIGHTS &&
		    r.out.actions[0].weight[0] == 500, "the step's weight asked again");
	sim_apply(&r.sim, &r.out);
	r.now += 1000;
	eng_tick(p, &r.st, &r.sim.obs, &r.env, r.now, &r.out);
	ASSERT_EQ(r.out.nactions, 0, "once written, nothing more");
	(void)copy;
	sluice_plan_free(p);
}

static void test_freeze(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int i;
	__u64 held;

	subtest("freeze stops holds and starts; unfreeze resumes; failures still roll back");
	run_init(&r, 5, 1000, 0.002, 0.002);
	r.env.global.frozen = true;
	snprintf(r.env.global.reason, sizeof(r.env.global.reason), "INC-42");
	snprintf(r.env.global.who, sizeof(r.env.global.who), "bob");
	r.env.global.since_ms = T0;
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start while frozen accepted");
	ASSERT_EQ(r.st.phase, ENG_PENDING, "pending");
	ASSERT_EQ(r.out.nactions, 0, "no map change while frozen");
	for (i = 0; i < 100; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PENDING, "still pending after 100 s frozen");
	ASSERT_TRUE(strstr(r.st.status, "frozen (INC-42) by bob") != NULL, "status names the freeze");
	r.env.global.frozen = false;
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "started on unfreeze");
	for (i = 0; i < 60; i++)
		tick(&r, p);
	held = r.st.held_ms;
	r.env.service.frozen = true;
	snprintf(r.env.service.reason, sizeof(r.env.service.reason), "budget");
	for (i = 0; i < 3600; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.held_ms, held, "no hold accrued in an hour frozen");
	ASSERT_EQ(r.st.step, 0, "no step advanced while frozen");
	ASSERT_TRUE(strncmp(r.st.status, "frozen: budget", 14) == 0, "status: frozen");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_PROMOTE, false), -EBUSY, "promote refused while frozen");
	/* a failure still rolls back while frozen */
	r.sim.rate[SLUICE_CANARY] = 0.5;
	for (i = 0; i < 600 && !eng_terminal(r.st.phase); i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back while frozen");
	sluice_plan_free(p);
}

static void test_commands(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int i;

	subtest("commands are idempotent; abort stays aborted; retry starts cleanly");
	run_init(&r, 6, 1000, 0.002, 0.002);
	ASSERT_EQ(cmd(&r, p, ENG_CMD_ABORT, false), -ENOENT, "abort without a rollout");
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start");
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start again");
	ASSERT_TRUE(!r.out.changed && !r.out.nevents, "second start changes nothing");
	for (i = 0; i < 30; i++)
		tick(&r, p);
	ASSERT_OK(cmd(&r, p, ENG_CMD_PAUSE, false), "pause");
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "paused");
	ASSERT_OK(cmd(&r, p, ENG_CMD_PAUSE, false), "pause again");
	ASSERT_TRUE(!r.out.changed, "second pause changes nothing");
	for (i = 0; i < 600; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.held_ms, 30000, "no hold while paused");
	ASSERT_TRUE(strstr(r.st.status, "paused: command by alice") != NULL, "status: paused by");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RESUME, false), "resume");
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "progressing again");
	ASSERT_OK(cmd(&r, p, ENG_CMD_ABORT, false), "abort");
	ASSERT_EQ(r.st.phase, ENG_ABORTED, "aborted");
	ASSERT_TRUE(r.out.nactions == 1 && r.out.actions[0].kind == ENG_ACT_REVERT, "one revert");
	ASSERT_OK(cmd(&r, p, ENG_CMD_ABORT, false), "abort again");
	ASSERT_TRUE(!r.out.changed && !r.out.nevents && !r.out.nactions,
		    "second abort: nothing new");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_RESUME, false), -EALREADY, "resume after abort refused");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_START, false), 0, "start with the same id: no-op");
	ASSERT_EQ(r.st.phase, ENG_ABORTED, "still aborted");
	for (i = 0; i < 3600; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ABORTED, "an hour later: still aborted (no self-retry)");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RETRY, false), "retry");
	ASSERT_TRUE(r.st.phase == ENG_PROGRESSING && r.st.step == 0 && r.st.attempt == 2,
		    "retry: step 1, attempt 2");
	ASSERT_EQ(r.st.held_ms, 0, "retry: hold from zero");
	ASSERT_TRUE(!(r.sim.obs.kill & SLUICE_KILL_REVERT), "retry cleared the kill switch");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_RETRY, false), -EINVAL, "retry while running refused");
	ASSERT_OK(cmd(&r, p, ENG_CMD_PROMOTE, false), "promote: end the hold");
	ASSERT_EQ(r.st.step, 1, "promote moved to step 2");
	ASSERT_OK(cmd(&r, p, ENG_CMD_PROMOTE, true), "promote --full");
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted");
	ASSERT_EQ(r.sim.promotions, 1, "promotion performed");
	ASSERT_OK(cmd(&r, p, ENG_CMD_PROMOTE, true), "promote again: no-op");
	ASSERT_TRUE(!r.out.nactions, "no second promotion");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_ABORT, false), -EALREADY, "abort after promotion refused");
	sluice_plan_free(p);
}

static void test_operator_wins(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int i, writes = 0;

	subtest("the operator wins: a weight change pauses, a revert ends the rollout");
	run_init(&r, 7, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 20; i++)
		tick(&r, p);
	r.sim.obs.weight[0] = 3000;	/* sluice weight web 30% */
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "paused");
	ASSERT_EQ(r.st.pause_reason, ENG_PAUSE_OPERATOR_WEIGHT, "by the operator's weight");
	for (i = 0; i < 1200; i++) {
		tick(&r, p);
		writes += r.out.nactions;
	}
	ASSERT_EQ(writes, 0, "the engine writes nothing over it");
	ASSERT_EQ(r.sim.obs.weight[0], 3000, "the operator's weight stays");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RESUME, false), "resume");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "resume writes the step's weight back");
	for (i = 0; i < 10; i++)
		tick(&r, p);
	r.sim.obs.kill |= SLUICE_KILL_REVERT;	/* sluice revert web */
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_TRUE(r.st.by_operator, "recorded as the operator's");
	ASSERT_EQ(r.out.nactions, 0, "no action of its own");
	r.sim.obs.kill = 0;		/* sluice resume web */
	for (i = 0; i < 600; i++) {
		tick(&r, p);
		writes += r.out.nactions;
	}
	ASSERT_EQ(writes, 0, "nothing written after the operator's revert");
	sluice_plan_free(p);
}

/*
 * A retry clears the kill switch left by the rollback. An operator's
 * revert that lands after that write and before the next tick is the
 * operator's: the engine must not clear it again (it once re-issued its
 * resume until a tick saw the switch off).
 */
static void test_revert_right_after_retry(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int i, resumes = 0;

	subtest("an operator revert right after a retry stands");
	run_bad_canary(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back by the engine");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RETRY, false), "retry");
	ASSERT_TRUE(!(r.sim.obs.kill & SLUICE_KILL_REVERT), "the retry cleared the kill switch");
	r.sim.obs.kill |= SLUICE_KILL_REVERT;	/* sluice revert web, at once */
	for (i = 0; i < 50; i++) {
		unsigned int k;

		tick_ms(&r, p, 100);
		for (k = 0; k < r.out.nactions; k++)
			resumes += r.out.actions[k].kind == ENG_ACT_RESUME_KILL;
	}
	ASSERT_EQ(resumes, 0, "no resume of the engine's own after the operator's revert");
	ASSERT_TRUE(r.sim.obs.kill & SLUICE_KILL_REVERT, "the operator's kill switch stays on");
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_TRUE(r.st.by_operator, "recorded as the operator's");
	sluice_plan_free(p);
}

static void test_low_traffic(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;

	subtest("low traffic: inconclusive gates pause instead of passing");
	run_init(&r, 8, 20, 0.002, 0.002);	/* 20 flows/s: 1 % is 0.2/s */
	cmd(&r, p, ENG_CMD_START, false);
	run_until_end(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "paused");
	ASSERT_EQ(r.st.pause_reason, ENG_PAUSE_INCONCLUSIVE, "for an inconclusive gate");
	ASSERT_EQ(r.st.step, 0, "never left step 1");
	ASSERT_TRUE(strstr(r.st.status, "gate 'errors'") && strstr(r.st.status, "of 200"),
		    "status says which gate and how many samples");
	fprintf(stderr, "  status: %s\n", r.st.status);
	sluice_plan_free(p);
}

static struct sluice_plan *ext_plan(void)
{
	struct sluice_plan *p = calloc(1, sizeof(*p));
	struct sluice_plan_gate *g = &p->gates[0];

	snprintf(p->source, sizeof(p->source), "code");
	p->nsteps = 1;
	p->steps[0].kind = SLUICE_STEP_WEIGHT;
	p->steps[0].weight[0] = 1000;
	p->steps[0].hold_ms = 60000;
	p->steps[0].resolved = true;
	p->ngates = 1;
	snprintf(g->name, sizeof(g->name), "cmd");
	g->metric = SLUICE_METRIC_EXT_COMMAND;
	g->interval_ms = 1000;
	g->has_max = true;
	g->max = 0.5;
	g->confidence = 0.99;
	g->min_samples = 10;
	g->error_limit = 3;
	return p;
}

static void test_errors_never_pass(void)
{
	struct sluice_plan *p = ext_plan();
	static struct run r;
	unsigned int i;

	subtest("Argo regressions: errored measurements never pass, empty results never crash");
	run_init(&r, 9, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 3600 && r.st.phase == ENG_PROGRESSING; i++) {
		r.sim.obs.ext[0].status = ENG_EXT_ERROR;
		r.sim.obs.ext[0].seq = i + 1;
		snprintf(r.sim.obs.ext[0].reason, sizeof(r.sim.obs.ext[0].reason),
			 "query returned no series");
		tick(&r, p);
	}
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "every measurement errored: paused, not promoted");
	ASSERT_EQ(r.st.pause_reason, ENG_PAUSE_GATE_ERRORS, "for gate errors");
	ASSERT_TRUE(strstr(r.st.status, "query returned no series") != NULL, "status has the reason");
	ASSERT_EQ(r.sim.promotions, 0, "no promotion");

	/* NaN, empty results (no samples) */
	run_init(&r, 10, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 600 && r.st.phase == ENG_PROGRESSING; i++) {
		r.sim.obs.ext[0].status = ENG_EXT_OK;
		r.sim.obs.ext[0].seq = i + 1;
		r.sim.obs.ext[0].canary = i % 2 ? NAN : 0.1;
		r.sim.obs.ext[0].samples_c = 0;
		tick(&r, p);
	}
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "empty results: paused");
	ASSERT_EQ(r.sim.promotions, 0, "no promotion from empty results");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RESUME, false), "resume");
	for (i = 0; i < 600 && r.st.phase == ENG_PROGRESSING; i++) {
		r.sim.obs.ext[0].status = ENG_EXT_OK;
		r.sim.obs.ext[0].seq = 1000 + i;
		r.sim.obs.ext[0].canary = 0.1;
		r.sim.obs.ext[0].samples_c = 5;
		tick(&r, p);
	}
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "good measurements: promoted");

	/* the service disappears */
	run_init(&r, 11, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	tick(&r, p);
	memset(&r.sim.obs, 0, sizeof(r.sim.obs));	/* exists = false */
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ABORTED, "service gone: aborted");
	ASSERT_TRUE(strstr(r.st.end_reason, "no longer exists") != NULL, "says why");
	free(p);
}

static void test_pause_steps_and_cutover(void)
{
	struct sluice_plan *p = plan_of(
		"steps:\n  - weight: 10%\n    hold: 1m\n  - pause: ~\n  - pause: 2m\n"
		"  - cutover: green\n    hold: 2m\n"
		"gates:\n  - metric: error_ratio\n    max_increase: 50%\n    min_samples: 50\n");
	static struct run r;
	unsigned int i, cut = 0;

	subtest("pause steps (indefinite, timed) and a blue-green cutover step");
	run_init(&r, 12, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 3600; i++)
		tick(&r, p);
	ASSERT_TRUE(r.st.phase == ENG_PAUSED && r.st.pause_reason == ENG_PAUSE_STEP &&
		    r.st.step == 1, "waits at the indefinite pause");
	ASSERT_TRUE(strstr(r.st.status, "waiting for `promote`") != NULL, "status says promote");
	ASSERT_OK(cmd(&r, p, ENG_CMD_PROMOTE, false), "promote");
	ASSERT_EQ(r.st.step, 2, "at the timed pause");
	for (i = 0; i < 119; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.step, 2, "still pausing after 119 s");
	for (i = 0; i < 5 && r.st.step == 2; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.step, 3, "the timed pause ended by itself");
	cut = r.out.nactions && r.out.actions[0].kind == ENG_ACT_CUTOVER;
	ASSERT_TRUE(cut, "cutover action");
	ASSERT_EQ(r.sim.obs.weight[0], 10000, "all flows to green");
	run_until_end(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted after the cutover's hold");
	sluice_plan_free(p);
}

static void test_ring_at_full(void)
{
	char err[256];
	struct sluice_plan *p = sluice_plan_parse_string(
		"steps:\n  - weight: {internal: 100%}\n    hold: 10m\n"
		"  - weight: {internal: 100%, default: 5%}\n    hold: 10m\n"
		"gates:\n  - metric: error_ratio\n    max_increase: 20%\n    min_samples: 100\n",
		"rings", err, sizeof(err));
	static struct run r;

	subtest("a ring at 100 % canary is judged against the other rings' baseline");
	ASSERT_TRUE(p != NULL, "plan parses");
	ASSERT_OK(sluice_plan_resolve(p, SLUICE_MODE_DSR, ring_internal, NULL, err, sizeof(err)),
		  "resolves");
	ASSERT_TRUE(p->steps[0].weight[1] == 10000 && p->steps[0].weight[0] == 0,
		    "internal 100%, default 0");
	run_init(&r, 13, 1000, 0.01, 0.03);
	r.sim.ring_share[0] = 0.9;
	r.sim.ring_share[1] = 0.1;
	r.sim.obs.ring_in_use[1] = true;
	cmd(&r, p, ENG_CMD_START, false);
	run_until_end(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "3x canary in the internal ring rolled back");
	ASSERT_EQ(r.st.step, 0, "in the first step");
	fprintf(stderr, "  after %llus: %s\n", (unsigned long long)(r.now - T0) / 1000,
		r.st.end_reason);
	run_init(&r, 14, 1000, 0.01, 0.01);
	r.sim.ring_share[0] = 0.9;
	r.sim.ring_share[1] = 0.1;
	cmd(&r, p, ENG_CMD_START, false);
	run_until_end(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "an equal canary is promoted");
	sluice_plan_free(p);
}

/* issue 21: the canary pool's records change at 50 % (a new build deployed
 * mid-rollout): never promoted on the old pool's evidence */
static void canary_to_50(struct run *r, const struct sluice_plan *p, __u64 seed)
{
	unsigned int i;

	run_init(r, seed, 1000, 0.002, 0.002);
	r->sim.obs.canary_id = 0xA;
	cmd(r, p, ENG_CMD_START, false);
	for (i = 0; i < 3 * 3600 && r->st.step < 3 && !eng_terminal(r->st.phase); i++)
		tick(r, p);
}

static void test_canary_change(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	static struct eng_state back;
	char *js, err[256];
	bool said;
	unsigned int i;

	subtest("a canary pool changed at 50%: restart (default) from step 1, fresh evidence");
	canary_to_50(&r, p, 41);
	ASSERT_TRUE(r.st.step == 3 && r.st.phase == ENG_PROGRESSING, "at 50%");
	ASSERT_EQ(r.st.canary_id, 0xA, "the judged pool is fixed at the start");
	r.sim.obs.canary_id = 0xB;
	r.sim.obs.gen++;
	tick(&r, p);
	said = false;
	for (i = 0; i < r.out.nevents; i++)
		said |= r.out.events[i].type == ENG_EV_CANARY_CHANGE &&
			strstr(r.out.events[i].text, "on_canary_change: restart");
	ASSERT_TRUE(said, "the audit trail says the pool changed and what was done");
	ASSERT_EQ(r.st.step, 0, "back at step 1");
	ASSERT_EQ(r.st.attempt, 2, "a new attempt");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "step 1's weight written again");
	ASSERT_EQ(r.st.canary_id, 0xB, "the evidence is now about the new pool");
	ASSERT_EQ(r.st.gates[0].last.samples_c, 0, "no evidence carried over");
	run_until_end(&r, p, 4 * 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "the new pool promoted after its own ramp");
	sluice_plan_free(p);

	subtest("on_canary_change: pause: paused with the reason; promote refused; resume judges the new pool");
	{
		char y[sizeof(ramp_yaml) + 64];

		snprintf(y, sizeof(y), "on_canary_change: pause\n%s", ramp_yaml);
		p = plan_of(y);
	}
	canary_to_50(&r, p, 42);
	r.sim.obs.canary_id = 0xB;
	tick(&r, p);
	ASSERT_TRUE(r.st.phase == ENG_PAUSED && r.st.pause_reason == ENG_PAUSE_CANARY_CHANGED,
		    "paused: canary changed");
	ASSERT_TRUE(strstr(r.st.end_reason, "canary pool changed") != NULL, "with the reason");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_PROMOTE, true), -EINVAL, "promote --full of the unjudged pool refused");
	for (i = 0; i < 600; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "still paused");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RESUME, false), "resume");
	ASSERT_TRUE(r.st.phase == ENG_PROGRESSING && r.st.step == 3 && r.st.held_ms == 0,
		    "step 4 begins again");
	ASSERT_EQ(r.st.canary_id, 0xB, "on the new pool");
	run_until_end(&r, p, 4 * 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted after its evidence");
	js = eng_state_to_json(&r.st);
	ASSERT_TRUE(js && eng_state_from_json(js, &back, err, sizeof(err)) == 0 &&
		    back.canary_id == 0xB, "canary_id survives the state document");
	free(js);
	sluice_plan_free(p);

	subtest("on_canary_change: fail rolls back");
	{
		char y[sizeof(ramp_yaml) + 64];

		snprintf(y, sizeof(y), "on_canary_change: fail\n%s", ramp_yaml);
		p = plan_of(y);
	}
	canary_to_50(&r, p, 43);
	r.sim.obs.canary_id = 0xC;
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_EQ(r.sim.reverts, 1, "kill switch set");
	ASSERT_EQ(r.sim.promotions, 0, "nothing promoted");
	sluice_plan_free(p);
}

/* issue 21, "split check on by default": a datapath that does not split
 * new flows as configured pauses the rollout with the numbers */
static void test_split_check(void)
{
	static struct run r;
	struct sluice_plan *p = plan_of(ramp_yaml), *off;
	char y[sizeof(ramp_yaml) + 64];
	unsigned int i;

	subtest("split check on by default: new flows at 2x the weight pause the rollout with the numbers");
	run_init(&r, 61, 1000, 0.002, 0.002);
	r.sim.split_skew = 2;
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 3600 && r.st.phase == ENG_PROGRESSING; i++)
		tick(&r, p);
	ASSERT_TRUE(r.st.phase == ENG_PAUSED && r.st.pause_reason == ENG_PAUSE_SPLIT,
		    "paused: split mismatch");
	ASSERT_TRUE(strstr(r.st.end_reason, "do not split as configured: canary share") != NULL,
		    "with the numbers");
	ASSERT_EQ(r.sim.reverts, 0, "not rolled back: the measurement is broken, not the canary");
	fprintf(stderr, "  %s\n", r.st.end_reason);

	subtest("split check: an honest datapath is promoted; the check never holds a step");
	run_init(&r, 62, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	run_until_end(&r, p, 4 * 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted");
	ASSERT_TRUE(!strcmp(p->gates[1].name, "split_check") && r.st.ngates == 2,
		    "the check ran beside the plan's gate");

	subtest("split_check: false switches it off; client affinity skips it");
	snprintf(y, sizeof(y), "split_check: false\n%s", ramp_yaml);
	off = plan_of(y);
	ASSERT_EQ(off->ngates, 1, "no split check gate");
	run_init(&r, 64, 1000, 0.002, 0.002);
	r.sim.split_skew = 2;
	cmd(&r, off, ENG_CMD_START, false);
	for (i = 0; i < 900; i++)
		tick(&r, off);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "off: not paused");
	run_init(&r, 65, 1000, 0.002, 0.002);
	r.sim.split_skew = 2;
	r.sim.obs.affinity = SLUICE_AFF_CLIENT;
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 900; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "client affinity: not judged");
	sluice_plan_free(off);
	sluice_plan_free(p);
}

/* issue 21, section 4: undo within the plan's rollback_window */
static void test_undo(void)
{
	static struct run r;
	struct sluice_plan *p = plan_of(ramp_yaml), *p0, *pw;

	subtest("undo a promotion within the rollback window (default 1h), idempotently");
	ASSERT_EQ(p->rollback_window_ms, 3600 * 1000ull, "rollback_window's default: 1h");
	run_init(&r, 51, 1000, 0.002, 0.002);
	ASSERT_EQ(cmd(&r, p, ENG_CMD_UNDO, false), -ENOENT, "nothing to undo before a rollout");
	cmd(&r, p, ENG_CMD_START, false);
	ASSERT_EQ(cmd(&r, p, ENG_CMD_UNDO, false), -EINVAL, "a running rollout is aborted, not undone");
	run_until_end(&r, p, 4 * 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_ABORT, false), -EALREADY, "abort is refused after a promotion");
	r.now += 30 * 60 * 1000;
	ASSERT_OK(cmd(&r, p, ENG_CMD_UNDO, false), "undo 30 min after the promotion");
	ASSERT_EQ(r.sim.undos, 1, "one undo action (through the outbox)");
	ASSERT_TRUE(r.st.phase == ENG_ROLLED_BACK && r.st.undone && r.st.by_operator,
		    "ended: rolled back, undone, by the operator");
	ASSERT_TRUE(strstr(r.st.end_reason, "undone by alice") != NULL, "the reason names who");
	ASSERT_OK(cmd(&r, p, ENG_CMD_UNDO, false), "undo again");
	ASSERT_TRUE(!r.out.changed && !r.out.nactions, "changes nothing");
	ASSERT_EQ(r.sim.undos, 1, "still one undo");
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "stays rolled back");

	subtest("after the window, or with rollback_window: 0, undo is refused");
	run_init(&r, 52, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	run_until_end(&r, p, 4 * 3600);
	r.now += 3601 * 1000;
	ASSERT_EQ(cmd(&r, p, ENG_CMD_UNDO, false), -EALREADY, "the window ended");
	ASSERT_TRUE(strstr(r.out.error, "ended") != NULL, "and says so");
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "still promoted");
	{
		char y[sizeof(ramp_yaml) + 64];

		snprintf(y, sizeof(y), "rollback_window: 0s\n%s", ramp_yaml);
		p0 = plan_of(y);
		snprintf(y, sizeof(y), "rollback_window: 10m\n%s", ramp_yaml);
		pw = plan_of(y);
	}
	ASSERT_EQ(pw->rollback_window_ms, 600 * 1000ull, "rollback_window: 10m");
	run_init(&r, 53, 1000, 0.002, 0.002);
	cmd(&r, p0, ENG_CMD_START, false);
	run_until_end(&r, p0, 4 * 3600);
	ASSERT_EQ(cmd(&r, p0, ENG_CMD_UNDO, false), -EALREADY, "no window kept");
	sluice_plan_free(p0);
	sluice_plan_free(pw);
	sluice_plan_free(p);
}

static void test_state_json(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	static struct eng_state back;
	char err[256], *a, *b, *cut, *ev;
	unsigned int i;

	subtest("state JSON round-trips and rejects truncated, corrupt, other-version documents");
	run_init(&r, 15, 1000, 0.002, 0.002);
	cmd(&r, p, ENG_CMD_START, false);
	for (i = 0; i < 400; i++)
		tick(&r, p);
	a = eng_state_to_json(&r.st);
	ASSERT_OK(eng_state_from_json(a, &back, err, sizeof(err)), "parses");
	b = eng_state_to_json(&back);
	ASSERT_TRUE(a && b && !strcmp(a, b), "to_json(from_json(x)) == x");
	back.version = 0;
	cut = strndup(a, strlen(a) / 2);
	ASSERT_EQ(eng_state_from_json(cut, &back, err, sizeof(err)), -EINVAL, "truncated rejected");
	ASSERT_TRUE(strstr(err, "truncated") != NULL, "says truncated");
	ASSERT_EQ(back.version, 0, "nothing half loaded");
	free(cut);
	cut = strdup(a);
	memcpy(strstr(cut, "\"version\":1"), "\"version\":9", 11);
	ASSERT_EQ(eng_state_from_json(cut, &back, err, sizeof(err)), -EINVAL, "version 9 rejected");
	ASSERT_TRUE(strstr(err, "version 9") != NULL, "says the version");
	free(cut);
	cut = strdup(a);
	memcpy(strstr(cut, "\"held_ms\":"), "\"held_xx\":", 10);
	ASSERT_EQ(eng_state_from_json(cut, &back, err, sizeof(err)), -EINVAL, "missing field rejected");
	ASSERT_TRUE(strstr(err, "'held_ms' is missing") != NULL, "names the field");
	free(cut);
	ASSERT_EQ(eng_state_from_json("[1,2]", &back, err, sizeof(err)), -EINVAL, "array rejected");
	ASSERT_EQ(eng_state_from_json("", &back, err, sizeof(err)), -EINVAL, "empty rejected");
	ev = eng_event_to_json(&r.out.events[0], "web");
	ASSERT_TRUE(r.out.nevents && ev && strstr(ev, "\"service\":\"web\""), "event JSON");
	free(ev);
	free(a);
	free(b);
	sluice_plan_free(p);
}

static unsigned int health_events(const struct run *r, const char *text)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->out.nevents; i++)
		n += r->out.events[i].type == ENG_EV_HEALTH &&
		     strstr(r->out.events[i].text, text) != NULL;
	return n;
}

static void test_canary_health(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml), *pp;
	static struct run r;
	unsigned int i, seen = 0;
	char *yaml;

	subtest("backend health: a canary backend down holds the step, the whole canary pool down rolls back, the baseline's do not count");
	run_init(&r, 16, 1000, 0.002, 0.002);
	r.sim.obs.nactive[0] = r.sim.obs.nactive[1] = 2;
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start");
	/* a baseline backend down for the whole first step: not held against
	 * the canary, the step advances at the end of its hold */
	r.sim.obs.ndown[SLUICE_BASELINE] = 1;
	for (i = 0; i < 301 + 5; i++) {
		tick(&r, p);
		seen += r.out.nevents && r.out.events[0].type == ENG_EV_HEALTH;
	}
	ASSERT_EQ(r.st.step, 1, "baseline backend down: step 2 reached on time");
	ASSERT_EQ(seen, 0, "no health event for the baseline");
	r.sim.obs.ndown[SLUICE_BASELINE] = 0;
	/* one canary backend down: evidence against the canary, recorded once;
	 * the hold ends but the step does not advance */
	r.sim.obs.ndown[SLUICE_CANARY] = 1;
	tick(&r, p);
	ASSERT_EQ(health_events(&r, "canary backends down (1 of 2): evidence against the canary"), 1,
		  "event: canary backends down (1 of 2)");
	for (i = 0, seen = 0; i < 600; i++) {
		tick(&r, p);
		seen += r.out.nevents && r.out.events[0].type == ENG_EV_HEALTH;
	}
	ASSERT_EQ(seen, 0, "the event is not repeated while nothing changes");
	ASSERT_EQ(r.st.step, 1, "canary backend down: still at step 2 after twice its hold");
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "still progressing (not failed: its other backend serves)");
	ASSERT_TRUE(strstr(r.st.status, "waiting for canary backends down (1 of 2)") != NULL,
		    "status says it waits for the canary backend");
	fprintf(stderr, "  status: %s\n", r.st.status);
	/* back up: the step advances */
	r.sim.obs.ndown[SLUICE_CANARY] = 0;
	tick(&r, p);
	ASSERT_EQ(health_events(&r, "(0 of 2): all back up"), 1, "event: all back up");
	for (i = 0; i < 5 && r.st.step == 1; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.step, 2, "advances once the canary backend is back");
	/* every baseline backend down: still not the canary's fault */
	r.sim.obs.ndown[SLUICE_BASELINE] = 2;
	for (i = 0; i < 10; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "baseline pool down: the rollout goes on");
	r.sim.obs.ndown[SLUICE_BASELINE] = 0;
	/* the whole canary pool down: rolled back, with the reason */
	r.sim.obs.ndown[SLUICE_CANARY] = 2;
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "canary pool down: rolled back on the same tick");
	ASSERT_TRUE(!r.st.by_operator, "by the engine");
	ASSERT_EQ(r.sim.reverts, 1, "through the kill switch");
	ASSERT_TRUE(strstr(r.st.end_reason, "canary backends down (2 of 2)") != NULL,
		    "end reason: canary backends down (2 of 2)");
	ASSERT_TRUE(strstr(r.st.status, "canary backends down (2 of 2)") != NULL,
		    "status: canary backends down (2 of 2)");
	for (i = 0, seen = 0; i < r.out.nevents; i++)
		seen += r.out.events[i].type == ENG_EV_ROLLBACK &&
			strstr(r.out.events[i].text, "canary backends down (2 of 2)");
	ASSERT_EQ(seen, 1, "the rollback event says why");
	fprintf(stderr, "  %s\n", r.st.status);
	/* a retry with the canary pool still down is refused, nothing changes */
	ASSERT_EQ(cmd(&r, p, ENG_CMD_RETRY, false), -EINVAL, "retry with every canary backend down refused");
	ASSERT_TRUE(strstr(r.out.error, "every canary backend is down") != NULL, "says why");
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "still rolled back");

	/* on_failure: pause pauses instead, once */
	yaml = malloc(sizeof(ramp_yaml) + 32);
	sprintf(yaml, "%son_failure: pause\n", ramp_yaml);
	pp = plan_of(yaml);
	run_init(&r, 17, 1000, 0.002, 0.002);
	r.sim.obs.nactive[0] = r.sim.obs.nactive[1] = 2;
	ASSERT_OK(cmd(&r, pp, ENG_CMD_START, false), "start (on_failure: pause)");
	tick(&r, pp);
	r.sim.obs.ndown[SLUICE_CANARY] = 2;
	tick(&r, pp);
	ASSERT_TRUE(r.st.phase == ENG_PAUSED && r.st.pause_reason == ENG_PAUSE_GATE_FAILED,
		    "on_failure: pause: paused as a failed gate");
	ASSERT_TRUE(strstr(r.st.status, "canary backends down (2 of 2)") != NULL, "status says why");
	for (i = 0, seen = 0; i < 60; i++) {
		unsigned int k;

		tick(&r, pp);
		for (k = 0; k < r.out.nevents; k++)
			seen += r.out.events[k].type != ENG_EV_GATE;
	}
	ASSERT_EQ(seen, 0, "paused once, no pause or health event repeated");
	ASSERT_EQ(r.sim.reverts, 0, "no revert");
	free(yaml);
	sluice_plan_free(pp);
	sluice_plan_free(p);
}

static void budget_freeze(struct run *r, bool on)
{
	r->env.service.frozen = on;
	snprintf(r->env.service.reason, sizeof(r->env.service.reason),
		 "budget exhausted: -20.0%% budget left");
	snprintf(r->env.service.who, sizeof(r->env.service.who), "error budget");
	r->env.service.since_ms = r->now;
}

static unsigned int count_events(const struct eng_out *o, enum eng_event_type t)
{
	unsigned int i, n = 0;

	for (i = 0; i < o->nevents; i++)
		n += o->events[i].type == t;
	return n;
}

static void test_budget_freeze(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int i, freezes = 0, unfreezes = 0;
	__u64 held;

	subtest("an exhausted error budget refuses start and retry, holds a running rollout, lifts by itself");
	run_init(&r, 11, 1000, 0.002, 0.002);
	budget_freeze(&r, true);
	ASSERT_EQ(cmd(&r, p, ENG_CMD_START, false), -EAGAIN, "start refused while exhausted");
	ASSERT_TRUE(strstr(r.out.error, "budget exhausted") != NULL, "the refusal names the budget");
	ASSERT_EQ(r.st.phase, ENG_NONE, "nothing started");
	ASSERT_EQ(r.out.nactions, 0, "no map change");
	budget_freeze(&r, false);
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start once the budget is back");
	for (i = 0; i < 30; i++)
		tick(&r, p);
	held = r.st.held_ms;
	budget_freeze(&r, true);
	for (i = 0; i < 1800; i++) {
		tick(&r, p);
		freezes += count_events(&r.out, ENG_EV_FREEZE);
	}
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "still on its step (held, not ended)");
	ASSERT_EQ(r.st.step, 0, "no step advanced in 30 min exhausted");
	ASSERT_EQ(r.st.held_ms, held, "no hold accrued");
	ASSERT_EQ(freezes, 1, "one freeze event, not one per tick");
	ASSERT_TRUE(strstr(r.st.status, "frozen: budget exhausted") != NULL, "status names the budget");
	budget_freeze(&r, false);
	for (i = 0; i < 10; i++) {
		tick(&r, p);
		unfreezes += count_events(&r.out, ENG_EV_UNFREEZE);
	}
	ASSERT_EQ(unfreezes, 1, "one unfreeze event");
	ASSERT_TRUE(r.st.held_ms > held, "hold accrues again");
	run_until_end(&r, p, 4 * 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted after the budget came back");
	/* retry of a rolled-back rollout is refused the same way */
	run_init(&r, 12, 1000, 0.002, 0.5);
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start");
	run_until_end(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "bad canary rolled back");
	budget_freeze(&r, true);
	ASSERT_EQ(cmd(&r, p, ENG_CMD_RETRY, false), -EAGAIN, "retry refused while exhausted");
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "still rolled back");
	sluice_plan_free(p);
}

static const char hook_yaml[] =
	"steps:\n"
	"  - weight: 1%\n    hold: 1m\n"
	"  - weight: 50%\n    hold: 1m\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n"
	"    min_samples: 20\n"
	"pre_step_hook: /bin/true\n"
	"pre_step_timeout: 5s\n";

static void hook_result(struct run *r, enum eng_ext_status s, const char *why)
{
	r->sim.obs.hook.seq = r->st.hook_seq;
	r->sim.obs.hook.status = s;
	snprintf(r->sim.obs.hook.reason, sizeof(r->sim.obs.hook.reason), "%s", why);
}

/* Until the end, every hook run passing. */
static void run_hooks_passing(struct run *r, const struct sluice_plan *p, unsigned int max_s)
{
	unsigned int i;

	for (i = 0; i < max_s && !eng_terminal(r->st.phase); i++) {
		if (r->st.hook_pending)
			hook_result(r, ENG_EXT_OK, "exit status 0");
		tick(r, p);
	}
}

static void test_pre_step_hook(void)
{
	struct sluice_plan *p = plan_of(hook_yaml);
	static struct run r;
	unsigned int i;
	bool seen;
	__u64 seq;

	subtest("the pre-step hook runs before each step's weights; a failure pauses, resume runs it again");
	run_init(&r, 13, 1000, 0.002, 0.002);
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start");
	ASSERT_TRUE(r.st.hook_pending && r.st.step == 0, "step 1 waits for its hook");
	ASSERT_EQ(r.sim.obs.weight[0], 0, "no weight before the hook");
	ASSERT_TRUE(strstr(r.st.status, "pre-step hook") != NULL, "status says so");
	for (i = 0; i < 120; i++)
		tick(&r, p);
	ASSERT_EQ(r.sim.obs.weight[0], 0, "a hook still running holds the weights (2 min)");
	ASSERT_EQ(r.st.held_ms, 0, "no hold accrued while it runs");
	ASSERT_EQ(r.gate_events, 0, "no gate evaluated while it runs");
	/* an outcome of an older run is ignored */
	r.sim.obs.hook.seq = r.st.hook_seq - 1;
	r.sim.obs.hook.status = ENG_EXT_OK;
	tick(&r, p);
	ASSERT_TRUE(r.st.hook_pending, "a stale outcome is ignored");
	hook_result(&r, ENG_EXT_OK, "exit status 0");
	tick(&r, p);
	memset(&r.sim.obs.hook, 0, sizeof(r.sim.obs.hook));
	ASSERT_TRUE(!r.st.hook_pending, "the hook passed");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "step 1's weight written after the hook");
	for (i = 0; i < 200 && r.st.step == 0; i++)
		tick(&r, p);
	ASSERT_TRUE(r.st.step == 1 && r.st.hook_pending, "step 2 waits for its hook");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "step 1's weight stays meanwhile");
	/* promote ends a hold; step 2 has none yet: it would skip the step
	 * its hook guards */
	ASSERT_EQ(cmd(&r, p, ENG_CMD_PROMOTE, false), -EBUSY, "promote refused while step 2's hook runs");
	ASSERT_TRUE(r.st.step == 1 && r.st.hook_pending && r.sim.obs.weight[0] == 100,
		    "and nothing changed");
	seq = r.st.hook_seq;
	hook_result(&r, ENG_EXT_ERROR, "timed out after 5000 ms (killed)");
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "a failed hook pauses");
	ASSERT_EQ(r.st.pause_reason, ENG_PAUSE_HOOK, "pause reason: the hook");
	for (i = 0, seen = false; i < r.out.nevents; i++)
		seen |= r.out.events[i].type == ENG_EV_PAUSE &&
			strstr(r.out.events[i].text, "timed out") != NULL;
	ASSERT_TRUE(seen, "the pause event carries the reason");
	ASSERT_TRUE(strstr(r.st.status, "timed out") != NULL, "status carries the reason");
	ASSERT_EQ(r.sim.obs.weight[0], 100, "weights untouched by the failure");
	for (i = 0; i < 30; i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PAUSED, "stays paused");
	ASSERT_EQ(cmd(&r, p, ENG_CMD_PROMOTE, false), -EBUSY, "promote refused after the hook failed");
	ASSERT_TRUE(r.st.step == 1 && r.st.phase == ENG_PAUSED, "still step 2, paused");
	ASSERT_OK(cmd(&r, p, ENG_CMD_RESUME, false), "resume");
	ASSERT_TRUE(r.st.hook_pending && r.st.hook_seq == seq + 1, "resume asks for a new run");
	tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "the old failure does not pause again");
	/* the state survives a restart with the hook pending */
	{
		char *js = eng_state_to_json(&r.st), err[256];
		struct eng_state back;

		ASSERT_TRUE(js && !eng_state_from_json(js, &back, err, sizeof(err)) &&
			    back.hook_pending && back.hook_seq == r.st.hook_seq,
			    "hook fields round-trip through JSON");
		free(js);
	}
	hook_result(&r, ENG_EXT_OK, "exit status 0");
	tick(&r, p);
	memset(&r.sim.obs.hook, 0, sizeof(r.sim.obs.hook));
	ASSERT_EQ(r.sim.obs.weight[0], 5000, "step 2's weight after the second run passed");
	run_until_end(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted");
	/* a canary going bad while step 2's hook runs: step 1's gates roll back */
	run_init(&r, 15, 1000, 0.002, 0.002);
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start");
	for (i = 0; i < 300 && !(r.st.step == 1 && r.st.hook_pending); i++) {
		if (r.st.hook_pending)
			hook_result(&r, ENG_EXT_OK, "exit status 0");
		tick(&r, p);
	}
	ASSERT_TRUE(r.st.step == 1 && r.st.hook_pending, "step 2's hook running");
	r.sim.rate[SLUICE_CANARY] = 0.5;
	for (i = 0; i < 600 && !eng_terminal(r.st.phase); i++)
		tick(&r, p);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back while the hook hangs");
	/* a retry after a rollback: the revert stands until step 1's hook */
	run_init(&r, 14, 1000, 0.002, 0.5);
	ASSERT_OK(cmd(&r, p, ENG_CMD_START, false), "start a bad canary");
	run_hooks_passing(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_TRUE(r.sim.obs.kill & SLUICE_KILL_REVERT, "kill switch on");
	r.sim.rate[SLUICE_CANARY] = 0.002;
	ASSERT_OK(cmd(&r, p, ENG_CMD_RETRY, false), "retry");
	for (i = 0; i < 20; i++)
		tick(&r, p);
	ASSERT_TRUE(r.st.phase == ENG_PROGRESSING && r.st.hook_pending,
		    "waiting for the hook, not taken for the operator's revert");
	ASSERT_TRUE(r.sim.obs.kill & SLUICE_KILL_REVERT, "the revert stands while the hook runs");
	hook_result(&r, ENG_EXT_OK, "exit status 0");
	tick(&r, p);
	tick(&r, p);
	ASSERT_TRUE(!(r.sim.obs.kill & SLUICE_KILL_REVERT), "kill cleared once step 1 applied");
	run_hooks_passing(&r, p, 3600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "the retry promoted");
	sluice_plan_free(p);
}

static const char two_step_yaml[] =
	"steps:\n"
	"  - weight: 5%\n    hold: 30s\n"
	"  - weight: 25%\n    hold: 5m\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n"
	"    min_samples: 50\n";

static void test_first_interval_counts(void)
{
	struct sluice_plan *p = plan_of(two_step_yaml);
	static struct run r;
	const struct gate_eval *e = &r.st.gates[0].last;
	unsigned int i;

	subtest("a step's first interval counts: its samples and bad events are judged");
	run_init(&r, 21, 1000, 0.05, 0.05);
	cmd(&r, p, ENG_CMD_START, false);
	tick(&r, p);
	fprintf(stderr, "  step 1, first evaluation: %s\n", e->reason);
	ASSERT_TRUE(e->samples_c > 0 && e->samples_b > 0, "step 1: the first interval's flows count");
	ASSERT_TRUE(e->bad_c > 0 && e->bad_b > 0, "step 1: the first interval's bad events count");
	for (i = 0; i < 120 && r.steps_seen < 2; i++)
		tick(&r, p);
	ASSERT_EQ(r.steps_seen, 2, "step 2 began");
	tick(&r, p);
	fprintf(stderr, "  step 2, first evaluation: %s\n", e->reason);
	ASSERT_TRUE(e->samples_c > 100 && e->samples_b > 100,
		    "step 2: the first interval's flows count (25 % of ~1,000)");
	ASSERT_TRUE(e->bad_c > 0 && e->bad_b > 0, "step 2: the first interval's bad events count");
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "an equal canary goes on");
	sluice_plan_free(p);
}

static const char slow_gate_yaml[] =
	"steps:\n"
	"  - weight: 5%\n    hold: 1h\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n"
	"    confidence: 99%\n    interval: 10s\n    min_samples: 100\n";

static void test_burst_evaluates_early(void)
{
	struct sluice_plan *p = plan_of(slow_gate_yaml);
	static struct run r;
	__u64 fault_ms = 0, last_eval = 0;
	unsigned int i, j;

	subtest("a burst of bad events is judged before the interval ends");
	run_init(&r, 22, 1000, 0.01, 0.01);
	r.sim.obs.tick_ms = 100;
	cmd(&r, p, ENG_CMD_START, false);
	/* 100 ms ticks like sluiced's; healthy for 35 s */
	for (i = 0; i < 350; i++)
		tick_ms(&r, p, 100);
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "healthy: progressing");
	ASSERT_EQ(r.gate_events, 4, "healthy: one evaluation per 10 s interval");
	last_eval = r.st.gates[0].last_eval_ms;
	/* the canary refuses every connection from now on */
	r.sim.rate[SLUICE_CANARY] = 1;
	fault_ms = r.now;
	for (j = 0; j < 200 && !eng_terminal(r.st.phase); j++)
		tick_ms(&r, p, 100);
	fprintf(stderr, "  %s after %llu ms of refusals (interval 10 s, last evaluation %llu ms before the fault)\n",
		eng_phase_name(r.st.phase), (unsigned long long)(r.now - fault_ms),
		(unsigned long long)(fault_ms - last_eval));
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_TRUE(r.now < last_eval + 10000 - gate_due_slack(10000),
		    "before the interval's next evaluation was due");
	ASSERT_TRUE(strstr(r.st.end_reason, "early") != NULL, "the reason says it was early");
	fprintf(stderr, "  %s\n", r.st.end_reason);
	sluice_plan_free(p);
}

/*
 * sluiced skips a 100 ms tick when eng_tick_quiet says the engine has
 * nothing due by time and nothing it observes moved since its last tick
 * (sample.c). Two runs of the same traffic, one ticking every 100 ms, one
 * skipping such ticks (and ticking at least once a second, as sluiced):
 * the same transitions and evaluations at the same times, the same end.
 */
struct qlog {
	char text[8192];
	size_t n;
};

static void qlog_out(struct qlog *l, const struct eng_out *out)
{
	unsigned int i;

	for (i = 0; i < out->nevents && l->n < sizeof(l->text) - 64; i++)
		l->n += snprintf(l->text + l->n, sizeof(l->text) - l->n, "%s@%llu ",
				 eng_event_type_name(out->events[i].type),
				 (unsigned long long)(out->events[i].at_ms - T0));
	for (i = 0; i < out->nactions && l->n < sizeof(l->text) - 64; i++)
		l->n += snprintf(l->text + l->n, sizeof(l->text) - l->n, "act%d ",
				 out->actions[i].kind);
}

static void test_quiet_ticks_skipped(void)
{
	static const char yaml[] =
		"steps:\n"
		"  - weight: 5%\n    hold: 20s\n"
		"  - weight: 20%\n    hold: 20s\n"
		"  - weight: 50%\n    hold: 1h\n"
		"gates:\n"
		"  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n"
		"    confidence: 99%\n    interval: 5s\n    min_samples: 5\n";
	struct sluice_plan *p = plan_of(yaml);
	static struct run a, b;
	static struct qlog la, lb;
	static struct eng_obs seen;
	__u64 last_full = 0;
	unsigned int i, skipped = 0, ticked = 0;

	subtest("ticks skipped when quiet and unchanged: the same rollout");
	/* little traffic: most 100 ms see no canary flow */
	run_init(&a, 31, 30, 0.02, 0.02);
	run_init(&b, 31, 30, 0.02, 0.02);
	a.sim.obs.tick_ms = b.sim.obs.tick_ms = 100;
	cmd(&a, p, ENG_CMD_START, false);
	cmd(&b, p, ENG_CMD_START, false);
	seen = b.sim.obs;
	last_full = b.now;
	for (i = 0; i < 1200 && !eng_terminal(a.st.phase); i++) {
		if (i == 900)	/* then the canary refuses every connection */
			a.sim.rate[SLUICE_CANARY] = b.sim.rate[SLUICE_CANARY] = 1;
		tick_ms(&a, p, 100);
		qlog_out(&la, &a.out);
		sim_traffic(&b.sim, 100);
		b.now += 100;
		if (b.now - last_full < 1000 &&
		    eng_tick_quiet(p, &b.st, &b.env, 100, b.now) &&
		    !memcmp(seen.fs[SLUICE_CANARY], b.sim.obs.fs[SLUICE_CANARY],
			    sizeof(seen.fs[SLUICE_CANARY])) &&
		    !memcmp(seen.weight, b.sim.obs.weight, sizeof(seen.weight)) &&
		    seen.kill == b.sim.obs.kill && seen.gen == b.sim.obs.gen) {
			skipped++;
			continue;
		}
		ticked++;
		last_full = b.now;
		if (eng_tick(p, &b.st, &b.sim.obs, &b.env, b.now, &b.out)) {
			fprintf(stderr, "  tick: %s\n", b.out.error);
			exit(1);
		}
		seen = b.sim.obs;
		sim_apply(&b.sim, &b.out);
		note(&b);
		qlog_out(&lb, &b.out);
		for (unsigned int k = 0; k < b.out.nevents; k++)
			if (b.out.events[k].type != ENG_EV_GATE)
				last_full = 0;	/* the next tick sees what it did */
		if (b.out.nactions)
			last_full = 0;
	}
	fprintf(stderr, "  %u ticks, %u skipped; %s at %llu ms: %s\n", ticked + skipped,
		skipped, eng_phase_name(a.st.phase), (unsigned long long)(a.now - T0),
		a.st.end_reason);
	ASSERT_TRUE(skipped > (ticked + skipped) / 3, "a third of the ticks or more were skipped");
	ASSERT_EQ(a.steps_seen, 3, "all three steps entered");
	ASSERT_EQ(a.st.phase, ENG_ROLLED_BACK, "the fault rolled it back");
	ASSERT_EQ(b.st.phase, a.st.phase, "same phase");
	ASSERT_EQ(b.st.step, a.st.step, "same step");
	ASSERT_EQ(b.gate_events, a.gate_events, "same number of gate evaluations");
	ASSERT_EQ(b.st.gates[0].last_eval_ms, a.st.gates[0].last_eval_ms,
		  "the last evaluation at the same time");
	ASSERT_TRUE(!strcmp(la.text, lb.text), "the same events and actions at the same times");
	if (strcmp(la.text, lb.text))
		fprintf(stderr, "  every tick: %s\n  skipping:   %s\n", la.text, lb.text);
	ASSERT_TRUE(!strcmp(a.st.end_reason, b.st.end_reason), "the same reason");
	sluice_plan_free(p);
}

static void test_equal_canary_fast_ticks(void)
{
	struct sluice_plan *p = plan_of(ramp_yaml);
	static struct run r;
	unsigned int seed, i, promoted = 0, early = 0;

	subtest("100 ms ticks: equal canaries are promoted, evaluated once per interval");
	for (seed = 0; seed < 6; seed++) {
		run_init(&r, 100 + seed, 1000, 0.01, 0.01);
		r.sim.obs.tick_ms = 100;
		cmd(&r, p, ENG_CMD_START, false);
		for (i = 0; i < 40 * 600 && !eng_terminal(r.st.phase); i++)
			tick_ms(&r, p, 100);
		promoted += r.st.phase == ENG_PROMOTED;
		/* one per second at most, plus one per step (its first) */
		early += r.gate_events > (r.now - T0) / 1000 + 5;
		if (r.st.phase != ENG_PROMOTED)
			fprintf(stderr, "  seed %u: %s: %s\n", seed, eng_phase_name(r.st.phase),
				r.st.end_reason);
	}
	ASSERT_EQ(promoted, 6, "every equal canary promoted");
	ASSERT_EQ(early, 0, "no evaluation before its interval");
	sluice_plan_free(p);
}

/* ---- the fleet: the leader's engine on the nodes' summed reports ------- */

static const char fleet_yaml[] =
	"steps:\n"
	"  - weight: 10%\n    hold: 30s\n"
	"  - weight: 50%\n    hold: 30s\n"
	"  - weight: 100%\n    hold: 30s\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n"
	"    min_samples: 200\n    on_inconclusive: extend\n";

struct frun {
	struct sim_fleet f;
	struct eng_state st;
	struct eng_env env;
	struct eng_out out;
	__u64 now;
	/* what the leader wrote to etcd at its last transition: the state
	 * document and the fleet's counters (leader.c) */
	char *doc;
	struct sluice_flow_stats total[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	struct sluice_flow_stats last[SIM_FLEET_MAX][SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	bool seen[SIM_FLEET_MAX];
	__u64 step_at[8];		/* when each step began */
	bool monotone;			/* the leader's sums never went back */
};

static void frun_init(struct frun *r, unsigned int n, __u64 seed, double base, double canary)
{
	free(r->doc);	/* the previous run's (r is static) */
	memset(r, 0, sizeof(*r));
	sim_fleet_init(&r->f, n, seed, 200, base, canary);
	eng_state_init(&r->st, "web");
	r->now = T0;
	r->monotone = true;
}

/* Persist like the leader: on transitions only (actions, or events other
 * than gate evaluations). */
static void frun_persist(struct frun *r)
{
	unsigned int i;
	bool sig = r->out.nactions > 0;

	for (i = 0; i < r->out.nevents; i++) {
		sig |= r->out.events[i].type != ENG_EV_GATE;
		if (r->out.events[i].type == ENG_EV_STEP && r->st.step >= 0 && r->st.step < 8)
			r->step_at[r->st.step] = r->now;
	}
	if (!sig)
		return;
	free(r->doc);
	r->doc = eng_state_to_json(&r->st);
	memcpy(r->total, r->f.total, sizeof(r->total));
	memcpy(r->last, r->f.last, sizeof(r->last));
	memcpy(r->seen, r->f.seen, sizeof(r->seen));
}

static void frun_cmd(struct frun *r, const struct sluice_plan *p, enum eng_cmd_kind k)
{
	struct eng_cmd c = { .kind = k, .rollout_id = 9 };

	memset(&r->out, 0, sizeof(r->out));
	if (!ASSERT_EQ(eng_command(p, &r->st, &c, sim_fleet_observe(&r->f), &r->env, r->now,
				   &r->out), 0, "fleet command"))
		exit(1);
	sim_fleet_apply(&r->f, &r->out);
	frun_persist(r);
}

/* One second of the fleet; leader: the leader ticks (else traffic only). */
static void frun_second(struct frun *r, const struct sluice_plan *p, bool leader)
{
	__u64 before = r->f.total[SLUICE_CANARY][0].new_flows + r->f.total[SLUICE_BASELINE][0].new_flows;
	const struct eng_obs *o;

	sim_fleet_traffic(&r->f, 1000);
	r->now += 1000;
	if (!leader)
		return;
	o = sim_fleet_observe(&r->f);
	if (o->fs[SLUICE_CANARY][0].new_flows + o->fs[SLUICE_BASELINE][0].new_flows < before)
		r->monotone = false;
	memset(&r->out, 0, sizeof(r->out));
	if (eng_tick(p, &r->st, o, &r->env, r->now, &r->out)) {
		fprintf(stderr, "  tick: %s\n", r->out.error);
		exit(1);
	}
	sim_fleet_apply(&r->f, &r->out);
	frun_persist(r);
}

static void frun_until_end(struct frun *r, const struct sluice_plan *p, unsigned int max_s)
{
	unsigned int i;

	for (i = 0; i < max_s && !eng_terminal(r->st.phase); i++)
		frun_second(r, p, true);
}

/* Three nodes: an equal canary is promoted, a 3x worse one rolled back in
 * its first step, judged on the fleet's sums. */
static void test_fleet_judged_on_sums(void)
{
	struct sluice_plan *p = plan_of(fleet_yaml);
	static struct frun r;
	unsigned int seed, promoted = 0, rolled = 0;
	subtest("fleet: three nodes judged on the summed counters: equal promoted, 3x worse rolled back");

	for (seed = 1; seed <= 5; seed++) {
		frun_init(&r, 3, seed, 0.01, 0.01);
		frun_cmd(&r, p, ENG_CMD_START);
		frun_until_end(&r, p, 600);
		promoted += r.st.phase == ENG_PROMOTED;
		frun_init(&r, 3, seed, 0.01, 0.03);
		frun_cmd(&r, p, ENG_CMD_START);
		frun_until_end(&r, p, 600);
		rolled += r.st.phase == ENG_ROLLED_BACK && r.st.step == 0 &&
			  (r.f.kill & SLUICE_KILL_REVERT);
	}
	ASSERT_EQ(promoted, 5, "equal canaries on three nodes are promoted");
	ASSERT_EQ(rolled, 5, "3x worse canaries are rolled back in their first step, the kill switch set");
	sluice_plan_free(p);
	free(r.doc);
}

/* The leader is lost 10 s into step 2's 30 s hold; for 4 s nobody leads;
 * a new leader loads the last transition's document and counters: the
 * hold is kept (step 3 begins 30 s after step 2 did, the failover
 * counted), the step's evidence is kept (not dropped), and it promotes. */
static void test_fleet_leader_loss(void)
{
	struct sluice_plan *p = plan_of(fleet_yaml);
	static struct frun r;
	__u64 samples_before, step2_at;
	char err[256];
	int i;
	subtest("fleet: leader lost mid-hold: the next leader keeps the hold and the evidence");

	frun_init(&r, 3, 11, 0.01, 0.01);
	frun_cmd(&r, p, ENG_CMD_START);
	for (i = 0; i < 600 && r.st.step < 1; i++)
		frun_second(&r, p, true);
	ASSERT_EQ(r.st.step, 1, "at step 2");
	step2_at = r.step_at[1];
	for (i = 0; i < 10; i++)
		frun_second(&r, p, true);
	samples_before = r.st.gates[0].last.samples_c;
	ASSERT_TRUE(samples_before > 0, "step 2's gate has canary samples before the loss");
	/* the leader dies: its memory is gone */
	for (i = 0; i < 4; i++)
		frun_second(&r, p, false);
	ASSERT_EQ(eng_state_from_json(r.doc, &r.st, err, sizeof(err)), 0, "the new leader loads the document");
	memcpy(r.f.total, r.total, sizeof(r.total));
	memcpy(r.f.last, r.last, sizeof(r.last));
	memcpy(r.f.seen, r.seen, sizeof(r.seen));
	ASSERT_EQ(r.st.step, 1, "the document is at step 2");
	frun_second(&r, p, true);
	frun_second(&r, p, true);
	ASSERT_TRUE(r.st.gates[0].last.samples_c > samples_before,
		    "the new leader's evidence includes the step's samples before the loss");
	frun_until_end(&r, p, 600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted under the new leader");
	ASSERT_TRUE(r.step_at[2] >= step2_at + 30000 && r.step_at[2] <= step2_at + 32000,
		    "step 3 began 30 s after step 2 (the hold kept across the failover)");
	ASSERT_TRUE(r.monotone, "the leader's sums never went back");
	sluice_plan_free(p);
	free(r.doc);
}

/* A node leaves mid-step (no traffic, no reports): its counts so far stay
 * in the sums, nothing goes back, an equal canary is still promoted; a
 * node whose maps were recreated (counters from 0) adds nothing negative. */
static void test_fleet_node_leaves(void)
{
	struct sluice_plan *p = plan_of(fleet_yaml);
	static struct frun r;
	int i;
	subtest("fleet: a node leaving mid-step, another one's maps recreated: the sums never go back");

	frun_init(&r, 3, 21, 0.01, 0.01);
	frun_cmd(&r, p, ENG_CMD_START);
	for (i = 0; i < 15; i++)
		frun_second(&r, p, true);
	r.f.gone[2] = true;
	for (i = 0; i < 10; i++)
		frun_second(&r, p, true);
	memset(r.f.node[1].obs.fs, 0, sizeof(r.f.node[1].obs.fs));	/* n2's maps recreated */
	frun_until_end(&r, p, 600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "an equal canary is promoted after a node left");
	ASSERT_TRUE(r.monotone, "the sums never went back (a node leaving, maps recreated)");
	sluice_plan_free(p);
	free(r.doc);
}

/* A partition: n3 is cut off for 20 s (its reports do not arrive, it
 * keeps the weights it had); back, its counts since are added once: the
 * fleet's sums equal what the nodes counted, no more, no less. */
static void test_fleet_partition(void)
{
	struct sluice_plan *p = plan_of(fleet_yaml);
	static struct frun r;
	__u64 sum;
	unsigned int n;
	int i, v;
	subtest("fleet: a partitioned node's counts are added once when it is back");

	frun_init(&r, 3, 31, 0.01, 0.01);
	frun_cmd(&r, p, ENG_CMD_START);
	for (i = 0; i < 5; i++)
		frun_second(&r, p, true);
	r.f.cut[2] = true;
	for (i = 0; i < 20; i++)
		frun_second(&r, p, true);
	ASSERT_EQ(r.f.node[2].obs.weight[0], 1000, "the cut node keeps the weight it applied");
	r.f.cut[2] = false;
	frun_second(&r, p, true);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		for (n = 0, sum = 0; n < 3; n++)
			sum += r.f.node[n].obs.fs[v][0].new_flows;
		ASSERT_EQ(r.f.total[v][0].new_flows, sum,
			  v ? "canary: the sums hold every node's flows once" :
			      "baseline: the sums hold every node's flows once");
	}
	frun_until_end(&r, p, 600);
	ASSERT_EQ(r.st.phase, ENG_PROMOTED, "promoted after the partition healed");
	sluice_plan_free(p);
	free(r.doc);
}

/* A weight written by hand into etcd while the fleet rolls out: the
 * leader's engine (env.operator_weight_ends) ends the rollout as rolled
 * back by the operator and writes nothing over it, ever after. */
static void test_fleet_operator_weight(void)
{
	struct sluice_plan *p = plan_of(fleet_yaml);
	static struct frun r;
	unsigned int writes = 0;
	int i;
	subtest("fleet: a weight written by hand ends the rollout, rolled back by the operator");

	frun_init(&r, 3, 41, 0.01, 0.01);
	r.env.operator_weight_ends = true;
	frun_cmd(&r, p, ENG_CMD_START);
	for (i = 0; i < 5; i++)
		frun_second(&r, p, true);
	r.f.weight[0] = 3000;		/* etcdctl put .../weights 3000 */
	frun_second(&r, p, true);
	ASSERT_EQ(r.st.phase, ENG_ROLLED_BACK, "rolled back");
	ASSERT_TRUE(r.st.by_operator, "by the operator");
	ASSERT_EQ(r.out.nactions, 0, "no action of its own (no kill switch)");
	for (i = 0; i < 120; i++) {
		frun_second(&r, p, true);
		writes += r.out.nactions;
	}
	ASSERT_EQ(writes, 0, "nothing written after it");
	ASSERT_EQ(r.f.weight[0], 3000, "the operator's weight stands");
	ASSERT_EQ(r.f.kill, 0, "no kill switch");
	sluice_plan_free(p);
	free(r.doc);
}

/* The plan's budget on the fleet: the leader checks it on the fleet's
 * summed counters with a node's arithmetic (error_budget.h) and hands the
 * freeze to its engine (leader.c: budget_check, env_fill). Three nodes
 * each burning the budget 5x over: frozen on the sums, the step held;
 * nothing advances while exhausted. */
static void test_fleet_budget(void)
{
	struct sluice_plan *p = plan_of(fleet_yaml);
	struct sluice_plan_budget b = { .present = true, .slo = 0.999, .min_events = 100,
					.freeze = true };
	static struct frun r;
	struct budget_left bl;
	unsigned int freezes = 0;
	__u64 bad, total;
	int i, v;
	subtest("fleet: the budget, checked on the fleet's sums, freezes the fleet rollout");

	frun_init(&r, 3, 51, 0.005, 0.005);
	frun_cmd(&r, p, ENG_CMD_START);
	for (i = 0; i < 300; i++) {
		frun_second(&r, p, true);
		freezes += count_events(&r.out, ENG_EV_FREEZE);
		if (i % 10)
			continue;
		for (v = 0, bad = total = 0; v < SLUICE_VARIANTS; v++) {
			total += r.f.total[v][0].new_flows;
			bad += r.f.total[v][0].client_rst;
		}
		budget_from_counts(&b, bad, total, (__u64)(i + 1) * 1000, &bl);
		budget_freeze_update(&r.env.service, &bl, r.now);
	}
	ASSERT_TRUE(r.env.service.frozen, "frozen by the fleet's budget");
	ASSERT_TRUE(strstr(r.env.service.reason, "budget exhausted") != NULL,
		    "the reason names the budget");
	ASSERT_EQ(freezes, 1, "one freeze event");
	ASSERT_EQ(r.st.phase, ENG_PROGRESSING, "held, not ended");
	ASSERT_EQ(r.st.step, 0, "no step advanced while exhausted");
	sluice_plan_free(p);
	free(r.doc);
}

int main(void)
{
	test_healthy_ramp();
	test_bad_canary();
	test_hold_and_restart();
	test_crash_before_write();
	test_freeze();
	test_commands();
	test_operator_wins();
	test_revert_right_after_retry();
	test_low_traffic();
	test_errors_never_pass();
	test_pause_steps_and_cutover();
	test_ring_at_full();
	test_state_json();
	test_canary_change();
	test_undo();
	test_split_check();
	test_canary_health();
	test_budget_freeze();
	test_pre_step_hook();
	test_first_interval_counts();
	test_burst_evaluates_early();
	test_equal_canary_fast_ticks();
	test_quiet_ticks_skipped();
	test_fleet_judged_on_sums();
	test_fleet_leader_loss();
	test_fleet_node_leaves();
	test_fleet_partition();
	test_fleet_operator_weight();
	test_fleet_budget();
	return t_done();
}
