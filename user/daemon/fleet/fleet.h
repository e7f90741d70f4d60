/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fleet mode (sluiced --etcd): etcd holds the desired state of every
 * service of the fleet, under /sluice/CLUSTER/:
 *
 *   leader                       the elected node (under its lease)
 *   nodes/NODE                   each node's report (under its lease):
 *                                applied revision, weights, counters
 *   freeze                       present: no rollout advances
 *   services/SVC/config          the service's configuration: a file of
 *                                the `sluice apply` schema; the node
 *                                applies service SVC (and the file's
 *                                rings) from it; deleted: the service
 *                                is deleted
 *   services/SVC/weights         canary share, bp: one number (every
 *                                ring) or an array per ring
 *   services/SVC/killswitch      "on" (revert to last-known-good) | "off"
 *   services/SVC/plan            the plan, YAML (a rollout: section)
 *   services/SVC/rollout         the fleet rollout (schema 2, leader.c):
 *                                {"schema", "phase", "step", "reason",
 *                                "engine": the engine's state document,
 *                                "acc": the fleet's counters, "events"};
 *                                {"phase": "start"} asks the leader to
 *                                begin; "cmd" and "promote" are requests
 *                                the leader's engine consumes;
 *                                "promoted": every node promotes
 *
 * Every node watches the prefix and applies weights and kill switch to
 * its maps as they change; a node cut off from etcd keeps what it applied
 * last, never advances, and resynchronises when it is back. One node, the
 * leader, advances rollouts: it runs the node's engine (eng_tick) on the
 * sum of every node's counters (leader.c) and writes each transition with a
 * transaction fenced on its leadership and the rollout key's revision, so
 * a step is never written twice nor skipped when leadership moves.
 */
#ifndef SLUICED_FLEET_H
#define SLUICED_FLEET_H

#include <jansson.h>

struct daemon;

struct fleet_opts {
	const char *etcd_url;		/* NULL: fleet mode off */
	const char *cluster;		/* default "default" */
	const char *node;		/* default: the host name */
	unsigned int ttl_s;		/* lease TTL (default 3 s) */
	/* TLS to etcd (PEM files; NULL: none): the CAs to trust, and a
	 * client certificate with its key for etcd's --client-cert-auth */
	const char *cacert, *cert, *key;
};

/* The options alone (endpoints, TLS files): 0, or -EINVAL with the reason;
 * before anything is opened. fleet_start checks them again. */
int fleet_opts_check(const struct fleet_opts *o, char *err, size_t errlen);
int fleet_start(struct daemon *d, const struct fleet_opts *o, char *err,
		size_t errlen);
void fleet_stop(struct daemon *d);
void fleet_tick(struct daemon *d, __u64 now);
bool fleet_on(const struct daemon *d);
/* Does etcd hold desired state for service (weights, kill switch, plan)? */
bool fleet_has_service(const struct daemon *d, const char *service);
json_t *fleet_status_json(struct daemon *d);
/* A fleet command from the control socket: writes to etcd (asynchronous:
 * the reply says it was sent). action: start (plan text), pause, resume
 * (of the rollout), promote (full: to the promotion at once), abort,
 * revert, clear (the kill switch), freeze, unfreeze, config (plan: a
 * config file's text, reason: its name).
 * Returns 0 or -errno with err set. */
int fleet_command(struct daemon *d, const char *action, const char *service,
		  const char *plan, const char *plan_name, const char *reason, bool full,
		  char *err, size_t errlen);

#endif
