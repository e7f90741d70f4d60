/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Notifications: humans handle the exceptions, so they are told. On a
 * pause, an inconclusive verdict (the step paused for lack of samples), a
 * rollback, an abort, a promotion and a freeze (incident or exhausted
 * budget), sluiced runs a command (sh -c, the event as JSON on stdin and
 * SLUICE_EVENT / SLUICE_SERVICE / SLUICE_STEP / SLUICE_ROLLOUT_ID /
 * SLUICE_REASON in its environment) and/or POSTs the same JSON to a URL.
 * Once per event: the engine reports a transition once, and a key of
 * recent events drops a repeat (a tick run again after a restart). Both
 * run asynchronously (cmdrun, httpc); delivery is at most once, failures
 * are logged and counted, never retried into a storm.
 */
#ifndef SLUICED_NOTIFY_H
#define SLUICED_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "cmdrun.h"
#include "httpc.h"

enum notify_kind {
	NOTIFY_PAUSE = 0,
	NOTIFY_INCONCLUSIVE,
	NOTIFY_ROLLBACK,
	NOTIFY_ABORT,
	NOTIFY_PROMOTE,
	NOTIFY_FREEZE,
	NOTIFY_UNFREEZE,
	NOTIFY_KINDS,
};

struct notify_cfg {
	const char *command;		/* sh -c; NULL: none */
	const char *url;		/* POST target; NULL: none */
	unsigned int timeout_ms;	/* per delivery; 0: 10 s */
	uint32_t kinds;			/* 1 << notify_kind; 0: all */
	/* the daemon's logger (level: syslog priority, 3 error); NULL:
	 * lines on stderr */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

struct notify_event {
	enum notify_kind kind;
	const char *service;		/* NULL: global (incident freeze) */
	uint64_t rollout_id;
	unsigned int attempt;
	int step;			/* -1: none */
	uint64_t at_ms;			/* wall clock */
	const char *who;
	const char *text;		/* the reason, with its numbers */
	const char *gate;		/* the gate behind it, or NULL */
};

struct notify_stats {
	unsigned long sent, delivered, failed, duplicates;
};

struct notify;

/* cr and hc are the daemon's runners (both may be NULL if cfg does not
 * use them). The strings of cfg are copied. */
struct notify *notify_new(const struct notify_cfg *cfg, struct cmdrun *cr,
			  struct httpc *hc);
void notify_free(struct notify *n);
/* Deliver ev (unless filtered out or a repeat). Returns 1 sent, 0 not. */
int notify_send(struct notify *n, const struct notify_event *ev);
void notify_get_stats(const struct notify *n, struct notify_stats *st);

const char *notify_kind_name(enum notify_kind k);
/* "pause,rollback" -> mask; -EINVAL with the bad name in err. */
int notify_parse_kinds(const char *list, uint32_t *mask, char *err, size_t errlen);
/* The event as one JSON object (malloc'd). */
char *notify_event_json(const struct notify_event *ev);

#endif
