// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// sluice-test: host-only (the daemon's look schedule on a simulated clock)
/*
 * sluiced's looks between full ticks (sample.c: sample_back_off) on a
 * simulated clock, with the real engine: a rollout whose canary sees no
 * packet looks 100, then 200, 400 and 800 ms apart, never past the next
 * full tick (a second after the last), and a full tick that finds nothing
 * moved keeps the looks spaced; the end of its hold is still seen
 * within one 100 ms look, and the gate is still evaluated every second.
 */
#include "test.h"
#include "sluiced.h"
#include "sim.h"

#define T0	1764600000000ull

static const char plan_yaml[] =
	"steps:\n"
	"  - weight: 5%\n    hold: 3500ms\n"
	"  - weight: 50%\n    hold: 1h\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    interval: 1s\n"
	"    max_increase: 20%\n    min_samples: 5\n    on_inconclusive: extend\n";

static struct daemon d;
static struct rollout r;
static struct sim sim;
static struct eng_out out;

/* A full tick at now, as tick_one does after a look that was not quiet. */
static void full_tick(__u64 now)
{
	ASSERT_OK(eng_tick(r.plan, &r.st, &sim.obs, &d.env, now, &out), "engine tick");
	sim_apply(&sim, &out);
	r.look.full_ms = now;
	if (r.look.quiet)	/* nothing moved: the streak goes on */
		sample_back_off(&d, &r);
}

int main(void)
{
	char err[512];
	struct eng_cmd c = { .kind = ENG_CMD_START, .rollout_id = 1 };
	__u64 now = T0, hold_end, hold_seen = 0, last_gate = 0;
	unsigned int looks = 0, full = 0, gaps[8] = { 0 }, ng = 0, i;
	bool capped = true;

	r.plan = sluice_plan_parse_string(plan_yaml, "plan", err, sizeof(err));
	if (!ASSERT_TRUE(r.plan != NULL, "plan parses") ||
	    !ASSERT_OK(sluice_plan_resolve(r.plan, SLUICE_MODE_NAT, NULL, NULL, err, sizeof(err)),
		       "plan resolves"))
		return t_done();
	ASSERT_TRUE(gate_bursty(&r.plan->gates[0]), "the gate compares with the baseline (100 ms looks)");
	r.interval_ms = 100;
	eng_state_init(&r.st, "web");
	sim_init(&sim, 1, 0, 0, 0);	/* no traffic at all */
	sim.obs.mode = SLUICE_MODE_NAT;
	sim.obs.tick_ms = r.interval_ms;
	ASSERT_OK(eng_command(r.plan, &r.st, &c, &sim.obs, &d.env, now, &out), "start");
	sim_apply(&sim, &out);
	hold_end = now + 3500;
	r.next_ms = now + r.interval_ms;	/* as tick_one steps it first */
	full_tick(now);

	subtest("no canary packet: the looks space out up to the next full tick");
	while (now < T0 + 6000) {
		now = r.next_ms;
		r.next_ms = now + r.interval_ms;	/* tick_one's own step */
		looks += now < hold_end;
		if (now - r.look.full_ms >= SLUICED_INTERVAL_MS ||
		    !eng_tick_quiet(r.plan, &r.st, &d.env, r.interval_ms, now)) {
			full_tick(now);	/* sample_quiet says no: a full tick */
			full++;
			if (r.st.gates[0].last_eval_ms != last_gate) {
				if (last_gate && now - last_gate > 1100)
					capped = false;
				last_gate = r.st.gates[0].last_eval_ms;
			}
			if (!hold_seen && now >= hold_end)
				hold_seen = now;
			continue;
		}
		sample_back_off(&d, &r);
		if (r.next_ms > r.look.full_ms + SLUICED_INTERVAL_MS)
			capped = false;
		if (now < T0 + 1000 && ng < 8)
			gaps[ng++] = (unsigned int)(r.next_ms - now);
	}
	fprintf(stderr, "  %u wake-ups (looks and full ticks) in the 3.5 s hold, %u full ticks in 6 s; gaps after the start:",
		looks, full);
	for (i = 0; i < ng; i++)
		fprintf(stderr, " %u", gaps[i]);
	fprintf(stderr, " ms; first full tick after the hold's end at +%llu ms (ends at +3500)\n",
		(unsigned long long)(hold_seen - T0));
	ASSERT_TRUE(ng >= 3 && gaps[0] == 100 && gaps[1] == 200 && gaps[2] == 400,
		    "quiet looks 100, 200, 400 ms apart");
	ASSERT_TRUE(capped, "never past the next full tick; the gate evaluated every second");
	ASSERT_TRUE(looks <= 35 / 3, "during the hold, a third of the wake-ups of a 100 ms tick at most");
	ASSERT_TRUE(hold_seen >= hold_end && hold_seen <= hold_end + 100,
		    "the hold's end is seen within one look of its time");

	subtest("a canary packet: 100 ms looks again");
	r.look.quiet = 0;
	r.next_ms = now + r.interval_ms;
	sample_back_off(&d, &r);
	ASSERT_EQ(r.next_ms, now + r.interval_ms, "the first quiet look after it: still 100 ms");
	sluice_plan_free(r.plan);
	return t_done();
}
