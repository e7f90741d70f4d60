// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's modules (BIRD's struct protocol, chrony's Initialise and
 * Finalise): one table in the order they start; the loop's tick runs
 * their ticks in that order (the freezes first, then the fleet's desired
 * state, then the rollouts, ...), and they stop in the reverse order.
 * Their file handlers and timers are their own, on the scheduler
 * (scheduler.h); the tick is for work on the daemon's clock. Starting
 * stays in main.c: each start takes its own options and says why it
 * refuses in its own words.
 */
#include "sluiced.h"
#include "fleet.h"

/* A round whose decisions cannot be committed ends the daemon cleanly:
 * nothing of it is acted on, and no later module of the round runs. */
static void rollouts_tick(struct daemon *d, __u64 now)
{
	int err = ro_tick(d, now);

	if (err) {
		d->fatal = err;
		d->stop = true;
	}
}

static const struct module modules[] = {
	/* httpc, cmdrun, external gates, notifications, pre-step hooks,
	 * the HTTP listener (externals.c: gs_start) */
	{ "externals", .stop = gs_stop },
	/* error budgets: freezes before anything ticks */
	{ "budget", .stop = budget_free, .tick = budget_tick },
	/* the fleet's desired state before the rollouts act (fleet_start) */
	{ "fleet", .stop = fleet_stop, .tick = fleet_tick },
	{ "rollouts", .tick = rollouts_tick },
	{ "trigger", .stop = trigger_free, .tick = trigger_tick },
	/* /metrics and the status document, once a second */
	{ "web", .tick = gs_metrics },
	{ "health", .stop = health_free, .tick = health_tick },
	/* the control socket (ctl_listen): idle clients closed */
	{ "control", .stop = ctl_cleanup, .tick = ctl_expire },
};

void modules_tick(struct daemon *d, __u64 now)
{
	for (unsigned int i = 0; i < sizeof(modules) / sizeof(modules[0]) && !d->stop; i++)
		if (modules[i].tick)
			modules[i].tick(d, now);
}

void modules_stop(struct daemon *d)
{
	for (unsigned int i = sizeof(modules) / sizeof(modules[0]); i-- > 0;)
		if (modules[i].stop)
			modules[i].stop(d);
}
