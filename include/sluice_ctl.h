/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The control protocol between `sluiced` and its clients (`sluice rollout
 * ...`), defined once for both sides (chrony's candm.h is the model).
 *
 * Transport: a unix stream socket (default SLUICE_CTL_SOCKET, mode 0600 or
 * 0660 with a configured group). Framing: one JSON object per line, UTF-8,
 * terminated by '\n', at most SLUICE_CTL_MAX_REQUEST bytes including the
 * newline; the daemon answers every request with exactly one line, in
 * order, and keeps the connection for further requests until the client
 * closes it (or stays silent for SLUICE_CTL_IDLE_MS). A line that is too
 * long is answered with SLUICE_CTL_E_TOO_LONG and the connection closed
 * (the rest of it cannot be framed).
 *
 * The daemon never waits for a client: replies a client has not read yet
 * wait in the daemon (after the socket's own buffer), and a client that
 * keeps sending while more than SLUICE_CTL_MAX_BACKLOG bytes of its
 * replies wait is closed. A connection over the limits (all
 * SLUICE_CTL_MAX_CLIENTS in use, the last SLUICE_CTL_ROOT_SLOTS of them
 * kept for root; SLUICE_CTL_MAX_PER_UID of one user other than root) is
 * sent one SLUICE_CTL_E_BUSY reply naming the limit, then closed.
 *
 * Roles, from the peer's credentials (SO_PEERCRED, SO_PEERGROUPS): anyone
 * who can connect may read (ping, status, history, health); root and the
 * members of the socket's group (--socket-group) may steer rollouts (the
 * other commands); only root may start a plan that runs a command or
 * fetches a URL of its own (sluice_plan_runs_commands: sluiced would run
 * it as root), here or for the fleet, or send the fleet a configuration.
 * The --config file's plan (start without "plan") is root's own. A
 * refusal is SLUICE_CTL_E_PERM naming the role needed.
 *
 * Request: {"v": 1, "cmd": NAME, ...fields}. Every field is checked: an
 * unknown field, a missing required one, a wrong type or a value out of
 * range is an error reply naming the field, and nothing changes.
 *
 * Reply:   {"v": 1, "code": 0, ...data}             success
 *          {"v": 1, "code": N, "error": "message"}  failure (N below)
 * Commands that change something reply "changed": true|false; repeating
 * a command that already took effect is a success with "changed": false
 * and records nothing (idempotent).
 */
#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#define SLUICE_CTL_VERSION	1
#define SLUICE_CTL_SOCKET	"/run/sluice/sluiced.sock"
#define SLUICE_CTL_SOCKET_ENV	"SLUICE_SOCKET"	/* overrides the default */

/* Limits. */
#define SLUICE_CTL_MAX_REQUEST	(256 * 1024)	/* a line, with the plan */
#define SLUICE_CTL_MAX_REPLY	(64 * 1024 * 1024)	/* client's bound */
#define SLUICE_CTL_MAX_PLAN	(192 * 1024)	/* "plan" text */
#define SLUICE_CTL_MAX_REASON	127		/* "reason" characters */
#define SLUICE_CTL_MAX_WHO	63		/* "who" characters */
#define SLUICE_CTL_MAX_NAME	255		/* "plan_name" characters */
#define SLUICE_CTL_MAX_CLIENTS	64		/* connections at once */
#define SLUICE_CTL_ROOT_SLOTS	4		/* of those, only root's */
#define SLUICE_CTL_MAX_PER_UID	8		/* of one user (not root) */
#define SLUICE_CTL_MAX_BACKLOG	(1024 * 1024)	/* replies not yet read */
#define SLUICE_CTL_IDLE_MS	30000		/* a silent client is closed */
#define SLUICE_CTL_HISTORY_DEFAULT 200		/* "limit" of history */
#define SLUICE_CTL_HISTORY_MAX	100000

/*
 * Requests. Fields (all optional unless marked):
 *   ping       -                            {"version", "daemon", "pid"}
 *   status     service                      {"rollouts": [ROLLOUT...],
 *                                            "freeze": FREEZE}
 *   history    service*, limit              {"events": [EVENT...]} oldest first
 *   start      service*, plan, plan_name,   {"changed", "rollout": ROLLOUT}
 *              who, reason                  plan: YAML text of a plan file;
 *                                           absent: the service's rollout:
 *                                           section of sluiced --config
 *   pause      service*, who, reason        {"changed", "rollout"}
 *   resume     service*, who, reason
 *   promote    service*, full, who, reason
 *   abort      service*, who, reason
 *   retry      service*, who, reason
 *   freeze     reason*, who                 {"changed", "freeze"}
 *   unfreeze   who                          {"changed", "freeze"}
 *   health     service                      {"backends": [HEALTH...]}
 *   fleet      action*, service, plan,      {"sent": true} (sluiced --etcd):
 *              reason, who, full            start (plan), pause, resume,
 *                                           promote (full),
 *                                           abort, revert, clear (the kill
 *                                           switch), freeze, unfreeze,
 *                                           config (plan: a config file,
 *                                           reason: its name), written
 *                                           to etcd for the fleet
 * status adds "fleet": {"node", "leader", "leader_here", "etcd" ("ok" |
 *   "unreachable"), "why", "revision", "nodes": {NODE: report},
 *   "services": {SVC: desired and applied}} in fleet mode
 * ROLLOUT: {"service", "rollout_id", "attempt", "phase", "step", "steps",
 *   "weight": [bp per ring], "status" (what it waits for and since when),
 *   "since_ms", "hold_left_ms", "hold_ms" (the step's whole hold),
 *   "pause_reason", "frozen", "by_operator",
 *   "end_reason", "plan_name", "error", "gates": [{"name", "metric",
 *   "outcome", "canary", "baseline", "threshold", "stat", "stat_limit",
 *   "samples_c", "samples_b", "bad_c", "bad_b", "min_samples", "reason"}]}
 * FREEZE: {"frozen", "reason", "who", "since_ms"}
 * HEALTH: one health-checked backend: {"service", "pool", "address",
 *   "port", "check", "down", "flapping", "last" (the latest result),
 *   "ok_run", "fail_run", "checks", "failures", "transitions", "late",
 *   "last_ms", "last_us" (the latest probe's duration)}
 * EVENT: the audit record (sluiced's JSON lines): {"service",
 *   "rollout_id", "attempt", "type", "step", "at_ms", "who", "text",
 *   "gate"...}
 */
#define SLUICE_CTL_CMDS(X)	\
	X(PING, "ping")		\
	X(STATUS, "status")	\
	X(HISTORY, "history")	\
	X(START, "start")	\
	X(PAUSE, "pause")	\
	X(RESUME, "resume")	\
	X(PROMOTE, "promote")	\
	X(ABORT, "abort")	\
	X(RETRY, "retry")	\
	X(UNDO, "undo")		\
	X(FREEZE, "freeze")	\
	X(UNFREEZE, "unfreeze")	\
	X(HEALTH, "health")	\
	X(FLEET, "fleet")

#define SLUICE_CTL_CMD_ENUM(id, name) SLUICE_CTL_##id,
enum sluice_ctl_cmd { SLUICE_CTL_CMDS(SLUICE_CTL_CMD_ENUM) SLUICE_CTL_NCMDS };
#undef SLUICE_CTL_CMD_ENUM

/* Reply codes (numbered: stable across versions; the text is for humans). */
enum sluice_ctl_code {
	SLUICE_CTL_OK = 0,
	/* the request itself */
	SLUICE_CTL_E_SYNTAX = 10,	/* not JSON, not an object */
	SLUICE_CTL_E_VERSION = 11,	/* "v" missing or not ours */
	SLUICE_CTL_E_COMMAND = 12,	/* "cmd" missing or unknown */
	SLUICE_CTL_E_FIELD = 13,	/* a field missing, unknown, mistyped,
					 * out of range */
	SLUICE_CTL_E_TOO_LONG = 14,	/* line over SLUICE_CTL_MAX_REQUEST */
	/* what it names */
	SLUICE_CTL_E_NO_SERVICE = 20,	/* no such service in the maps */
	SLUICE_CTL_E_NO_ROLLOUT = 21,	/* the service has no rollout */
	SLUICE_CTL_E_PLAN = 22,		/* the plan does not parse or fit */
	SLUICE_CTL_E_FROZEN = 23,	/* start/retry during a freeze */
	SLUICE_CTL_E_STATE = 24,	/* does not apply in this phase */
	SLUICE_CTL_E_ALREADY = 25,	/* the rollout already finished */
	SLUICE_CTL_E_ACTIVE = 26,	/* start: another rollout is running */
	/* the daemon */
	SLUICE_CTL_E_INTERNAL = 30,	/* state store or datapath failure */
	SLUICE_CTL_E_BUSY = 31,		/* too many clients */
	SLUICE_CTL_E_NO_INSTANCE = 32,	/* no sluice instance (maps) yet */
	SLUICE_CTL_E_PERM = 33,		/* the peer's role does not allow it */
};

static inline const char *sluice_ctl_code_name(int code)
{
	switch (code) {
	case SLUICE_CTL_OK: return "ok";
	case SLUICE_CTL_E_SYNTAX: return "syntax";
	case SLUICE_CTL_E_VERSION: return "version";
	case SLUICE_CTL_E_COMMAND: return "command";
	case SLUICE_CTL_E_FIELD: return "field";
	case SLUICE_CTL_E_TOO_LONG: return "too-long";
	case SLUICE_CTL_E_NO_SERVICE: return "no-service";
	case SLUICE_CTL_E_NO_ROLLOUT: return "no-rollout";
	case SLUICE_CTL_E_PLAN: return "plan";
	case SLUICE_CTL_E_FROZEN: return "frozen";
	case SLUICE_CTL_E_STATE: return "state";
	case SLUICE_CTL_E_ALREADY: return "already";
	case SLUICE_CTL_E_ACTIVE: return "active";
	case SLUICE_CTL_E_INTERNAL: return "internal";
	case SLUICE_CTL_E_BUSY: return "busy";
	case SLUICE_CTL_E_NO_INSTANCE: return "no-instance";
	case SLUICE_CTL_E_PERM: return "permission";
	}
	return "unknown";
}

/* The wire name of a command, NULL when out of range. */
static inline const char *sluice_ctl_cmd_name(int cmd)
{
#define SLUICE_CTL_CMD_NAME(id, name) name,
	static const char *const names[SLUICE_CTL_NCMDS] = {
		SLUICE_CTL_CMDS(SLUICE_CTL_CMD_NAME)
	};
#undef SLUICE_CTL_CMD_NAME
	return cmd >= 0 && cmd < SLUICE_CTL_NCMDS ? names[cmd] : NULL;
}

#endif /* SLUICE_CTL_H */
