// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's modules (BIRD's struct protocol: start, shutdown,
 * reconfigure, get_status; chrony's Initialise and Finalise): one table
 * in the order they start; the loop's tick runs their ticks in that order
 * (the freezes first, then the fleet's desired state, then the rollouts,
 * ...), and they stop in the reverse order. Each keeps its state in
 * d->mod[its id]; the rest of the daemon reaches a module through the
 * table (modules_status, modules_owner, modules_command), never by its
 * name. Their file handlers and timers are their own, on the scheduler
 * (scheduler.h); the tick is for work on the daemon's clock.
 *
 * With main.c this is the program's top (scripts/check_layers.sh): the
 * one place that names every module, as chrony's main.c does.
 */
#include <string.h>
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

static int fleet_begin(struct daemon *d, char *err, size_t errlen)
{
	return d->o.fleet ? fleet_start(d, d->o.fleet, err, errlen) : 0;
}

static json_t *fleet_status(struct daemon *d, const char *service)
{
	return fleet_on(d) ? fleet_status_json(d) : NULL;
}

static bool fleet_owns(const struct daemon *d, const char *service)
{
	return fleet_has_service(d, service);
}

static void fleet_ctl(struct daemon *d, const struct ctl_args *a, struct ctl_result *res)
{
	if (fleet_command(d, a->action, a->service, a->plan, a->plan_name, a->reason, a->full,
			  res->error, sizeof(res->error))) {
		res->code = fleet_on(d) ? SLUICE_CTL_E_STATE : SLUICE_CTL_E_NO_ROLLOUT;
		return;
	}
	res->data = json_pack("{s:b}", "sent", 1);
}

static int control_start(struct daemon *d, char *err, size_t errlen)
{
	int fd = ctl_listen(d, err, errlen);	/* on d->sched */

	return fd < 0 ? fd : 0;
}

static const struct module modules[MOD_COUNT] = {
	/* httpc, cmdrun, external gates, notifications, pre-step hooks,
	 * the HTTP listener (externals.c) */
	[MOD_EXTERNALS] = { "externals", .start = gs_start, .stop = gs_stop },
	/* error budgets: freezes before anything ticks */
	[MOD_BUDGET] = { "budget", .stop = budget_free, .tick = budget_tick,
			 .status = budget_json },
	/* the fleet's desired state before the rollouts act */
	[MOD_FLEET] = { "fleet", .start = fleet_begin, .stop = fleet_stop,
			.tick = fleet_tick, .status = fleet_status, .owns = fleet_owns,
			.ctl_cmd = SLUICE_CTL_FLEET, .command = fleet_ctl },
	[MOD_ROLLOUTS] = { "rollouts", .tick = rollouts_tick },
	/* a rollback's live canary flows: the drain's reset, the watch */
	[MOD_LIVE] = { "live", .start = live_start, .stop = live_stop,
		       .tick = live_tick },
	[MOD_TRIGGER] = { "trigger", .stop = trigger_free, .tick = trigger_tick },
	/* the rollback window's kept baseline pools (undo.c) */
	[MOD_UNDO] = { "undo", .stop = kept_free, .tick = kept_tick },
	/* /metrics and the status document, once a second */
	[MOD_WEB] = { "web", .tick = gs_metrics },
	[MOD_HEALTH] = { "health", .start = health_start, .stop = health_free,
			 .tick = health_tick, .reload = health_reload,
			 .status = health_json },
	/* VIP routes: after health, each second; stopping withdraws nothing */
	[MOD_ANNOUNCE] = { "announce", .start = announce_start,
			   .stop = announce_stop, .tick = announce_tick },
	/* the control socket: idle clients closed */
	[MOD_CONTROL] = { "control", .start = control_start, .stop = ctl_cleanup,
			  .tick = ctl_expire },
};

int modules_start(struct daemon *d, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < MOD_COUNT; i++) {
		int rc = modules[i].start ? modules[i].start(d, err, errlen) : 0;

		if (rc) {	/* this one and those before it stop */
			for (unsigned int j = i + 1; j-- > 0;)
				if (modules[j].stop)
					modules[j].stop(d);
			return rc;
		}
	}
	return 0;
}

void modules_tick(struct daemon *d, __u64 now)
{
	for (unsigned int i = 0; i < MOD_COUNT && !d->stop; i++)
		if (modules[i].tick)
			modules[i].tick(d, now);
}

void modules_reload(struct daemon *d)
{
	for (unsigned int i = 0; i < MOD_COUNT; i++)
		if (modules[i].reload)
			modules[i].reload(d);
}

void modules_stop(struct daemon *d)
{
	for (unsigned int i = MOD_COUNT; i-- > 0;)
		if (modules[i].stop)
			modules[i].stop(d);
}

json_t *modules_status(struct daemon *d, enum module_id id, const char *service)
{
	return id < MOD_COUNT && modules[id].status ? modules[id].status(d, service) : NULL;
}

const char *modules_owner(const struct daemon *d, const char *service)
{
	for (unsigned int i = 0; i < MOD_COUNT; i++)
		if (modules[i].owns && modules[i].owns(d, service))
			return modules[i].name;
	return NULL;
}

bool modules_command(struct daemon *d, int cmd, const struct ctl_args *a,
		     struct ctl_result *res)
{
	for (unsigned int i = 0; i < MOD_COUNT; i++)
		if (modules[i].command && modules[i].ctl_cmd == cmd) {
			modules[i].command(d, a, res);
			return true;
		}
	return false;
}
