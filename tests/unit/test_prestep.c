// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pre-step hook through the real command runner: the environment the
 * hook sees, exit 0 passes, a non-zero exit fails, a hang is killed at
 * its timeout, each hook_seq runs once, and a rollout that no longer
 * wants it cancels it.
 * sluice-test: host-only
 */
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "sluiced.h"
#include "cmdrun.h"

/* Tick until the hook's outcome is there (or max_ms). */
static void wait_hook(struct prestep *ps, struct cmdrun *cr, struct rollout *r,
		      struct eng_obs *obs, unsigned int max_ms)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;
	__u64 t0 = mono_ms();

	epoll_ctl(ep, EPOLL_CTL_ADD, cmdrun_fd(cr), &ev);
	for (;;) {
		prestep_tick(ps, r, obs);
		if (obs->hook.status != ENG_EXT_NONE || mono_ms() - t0 > max_ms)
			break;
		epoll_wait(ep, &out, 1, 50);
		cmdrun_dispatch(cr);
	}
	close(ep);
}

static struct rollout *rollout_of(const char *hook, const char *timeout, __u64 id)
{
	char yaml[512], err[256];
	struct rollout *r = calloc(1, sizeof(*r));

	snprintf(yaml, sizeof(yaml),
		 "steps:\n  - weight: 5%%\n    hold: 1m\n  - weight: 50%%\n    hold: 1m\n"
		 "gates:\n  - metric: error_ratio\n    max: 1%%\n"
		 "pre_step_hook: '%s'\npre_step_timeout: %s\n", hook, timeout);
	r->plan = sluice_plan_parse_string(yaml, "plan", err, sizeof(err));
	if (!r->plan) {
		fprintf(stderr, "plan: %s\n", err);
		exit(1);
	}
	snprintf(r->service, sizeof(r->service), "web");
	eng_state_init(&r->st, "web");
	r->st.phase = ENG_PROGRESSING;
	r->st.rollout_id = id;
	r->st.attempt = 1;
	r->st.step = 1;
	r->st.hook_pending = true;
	r->st.hook_seq = 1;
	return r;
}

static void test_hook(void)
{
	char out[] = "/tmp/test_prestep.XXXXXX", cmd[256], buf[512] = "";
	struct cmdrun *cr = cmdrun_new();
	struct prestep *ps = prestep_new(cr);
	struct rollout *r;
	struct eng_obs obs;
	FILE *f;
	int fd = mkstemp(out), runs;
	__u64 t0;

	subtest("a passing hook sees the service, rollout, step and weight; each run once");
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "echo \"$SLUICE_SERVICE $SLUICE_ROLLOUT_ID $SLUICE_ATTEMPT $SLUICE_STEP $SLUICE_STEPS "
		 "$SLUICE_WEIGHT $SLUICE_WEIGHT_BP $SLUICE_STEP_KIND\" >> %s", out);
	r = rollout_of(cmd, "5s", 42);
	wait_hook(ps, cr, r, &obs, 5000);
	ASSERT_EQ(obs.hook.status, ENG_EXT_OK, "exit 0 passes");
	ASSERT_EQ(obs.hook.seq, 1, "outcome of run 1");
	wait_hook(ps, cr, r, &obs, 300);	/* the same seq again: no second run */
	f = fopen(out, "r");
	runs = 0;
	while (f && fgets(buf + (runs ? strlen(buf) : 0), 256, f))
		runs++;
	if (f)
		fclose(f);
	ASSERT_EQ(runs, 1, "one run per hook_seq");
	ASSERT_TRUE(!strcmp(buf, "web 42 1 1 2 50.00 5000 weight\n"), "environment");
	if (strcmp(buf, "web 42 1 1 2 50.00 5000 weight\n"))
		fprintf(stderr, "  got '%s'\n", buf);
	sluice_plan_free(r->plan);
	free(r);
	unlink(out);

	subtest("a failing hook fails with its exit status; a hang is killed at the timeout");
	r = rollout_of("echo oops >&2; exit 3", "5s", 43);
	wait_hook(ps, cr, r, &obs, 5000);
	ASSERT_EQ(obs.hook.status, ENG_EXT_ERROR, "exit 3 fails");
	ASSERT_TRUE(strstr(obs.hook.reason, "exit status 3") != NULL, "reason: exit status");
	sluice_plan_free(r->plan);
	free(r);
	r = rollout_of("sleep 60", "1s", 44);
	t0 = mono_ms();
	wait_hook(ps, cr, r, &obs, 10000);
	ASSERT_EQ(obs.hook.status, ENG_EXT_ERROR, "a hang fails");
	ASSERT_TRUE(strstr(obs.hook.reason, "timed out") != NULL, "reason: timed out");
	ASSERT_TRUE(mono_ms() - t0 < 8000, "killed near its timeout, not at the sleep's end");

	subtest("resume (a new hook_seq) runs it again; a rollout that moved on cancels it");
	r->st.hook_seq = 2;
	prestep_tick(ps, r, &obs);
	ASSERT_EQ(obs.hook.status, ENG_EXT_NONE, "run 2 started, no outcome yet");
	ASSERT_EQ(cmdrun_pending(cr), 1, "one command running");
	r->st.hook_pending = false;	/* e.g. aborted */
	prestep_tick(ps, r, &obs);
	cmdrun_dispatch(cr);
	ASSERT_EQ(cmdrun_pending(cr), 0, "cancelled");
	sluice_plan_free(r->plan);
	free(r);
	prestep_free(ps);
	cmdrun_free(cr);
}

int main(void)
{
	test_hook();
	return t_done();
}
