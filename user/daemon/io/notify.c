// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Notifications on the exceptions: a command and/or a JSON POST, once each. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "notify.h"

#define RECENT	128

static const char *const kind_names[NOTIFY_KINDS] = {
	[NOTIFY_PAUSE] = "pause", [NOTIFY_INCONCLUSIVE] = "inconclusive",
	[NOTIFY_ROLLBACK] = "rollback", [NOTIFY_ABORT] = "abort",
	[NOTIFY_PROMOTE] = "promote", [NOTIFY_FREEZE] = "freeze",
	[NOTIFY_UNFREEZE] = "unfreeze",
};

struct notify {
	char *command, *url;
	unsigned int timeout_ms;
	uint32_t kinds;
	struct cmdrun *cr;
	struct httpc *hc;
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	uint64_t recent[RECENT];
	unsigned int nrecent, head;
	struct notify_stats st;
};

const char *notify_kind_name(enum notify_kind k)
{
	return k < NOTIFY_KINDS ? kind_names[k] : "?";
}

int notify_parse_kinds(const char *list, uint32_t *mask, char *err, size_t errlen)
{
	char buf[256], *tok, *save;
	unsigned int k;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		for (k = 0; k < NOTIFY_KINDS; k++)
			if (!strcmp(tok, kind_names[k]))
				break;
		if (k == NOTIFY_KINDS) {
			snprintf(err, errlen, "unknown notification event '%s' (known: "
				 "pause, inconclusive, rollback, abort, promote, freeze, "
				 "unfreeze)", tok);
			return -EINVAL;
		}
		*mask |= 1u << k;
	}
	return 0;
}

struct notify *notify_new(const struct notify_cfg *cfg, struct cmdrun *cr,
			  struct httpc *hc)
{
	struct notify *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->command = cfg->command ? strdup(cfg->command) : NULL;
	n->url = cfg->url ? strdup(cfg->url) : NULL;
	n->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
	n->kinds = cfg->kinds ? cfg->kinds : (1u << NOTIFY_KINDS) - 1;
	n->cr = cr;
	n->hc = hc;
	n->log = cfg->log;
	n->log_ctx = cfg->log_ctx;
	return n;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	free(n->command);
	free(n->url);
	free(n);
}

void notify_get_stats(const struct notify *n, struct notify_stats *st)
{
	*st = n->st;
}

static void iso_time(uint64_t ms, char *buf, size_t len)
{
	time_t t = ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned int)(ms % 1000));
}

char *notify_event_json(const struct notify_event *ev)
{
	json_t *o = json_object();
	char ts[64];
	char *s;

	iso_time(ev->at_ms, ts, sizeof(ts));
	json_object_set_new(o, "event", json_string(notify_kind_name(ev->kind)));
	json_object_set_new(o, "service", ev->service ? json_string(ev->service)
						      : json_null());
	if (ev->rollout_id)
		json_object_set_new(o, "rollout_id", json_integer(ev->rollout_id));
	if (ev->attempt)
		json_object_set_new(o, "attempt", json_integer(ev->attempt));
	if (ev->step >= 0)
		json_object_set_new(o, "step", json_integer(ev->step));
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "at_ms", json_integer(ev->at_ms));
	json_object_set_new(o, "who", json_string(ev->who ? ev->who : "sluiced"));
	json_object_set_new(o, "reason", json_string(ev->text ? ev->text : ""));
	if (ev->gate)
		json_object_set_new(o, "gate", json_string(ev->gate));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* FNV-1a over what identifies one event. */
static uint64_t event_key(const struct notify_event *ev)
{
	uint64_t h = 1469598103934665603ull;
	const char *s = ev->service ? ev->service : "";
	uint64_t parts[5] = { ev->kind, ev->rollout_id, ev->attempt,
			      (uint64_t)(int64_t)ev->step, ev->at_ms };
	unsigned int i;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (i = 0; i < 5; i++)
		h = (h ^ parts[i]) * 1099511628211ull;
	return h;
}

static bool seen(struct notify *n, uint64_t key)
{
	unsigned int i;

	for (i = 0; i < n->nrecent; i++)
		if (n->recent[i] == key)
			return true;
	n->recent[n->head] = key;
	n->head = (n->head + 1) % RECENT;
	if (n->nrecent < RECENT)
		n->nrecent++;
	return false;
}

struct delivery {
	struct notify *n;
	char what[96];
};

/* A failed delivery is the daemon's business to log (an error). */
static void __attribute__((format(printf, 2, 3)))
nlog(const struct notify *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n->log)
		n->log(n->log_ctx, 3, msg);
	else
		fprintf(stderr, "sluiced: %s\n", msg);
}

static void on_cmd(const struct cmd_result *r, void *arg)
{
	struct delivery *d = arg;

	if (r->err == -ECANCELED) {
		free(d);
		return;
	}
	if (!r->err && r->exited && r->status == 0) {
		d->n->st.delivered++;
	} else {
		d->n->st.failed++;
		nlog(d->n, "notification command for %s failed: %s",
			d->what, r->err ? r->reason : r->exited ? "non-zero exit" : "killed");
	}
	free(d);
}

static void on_post(const struct httpc_reply *r, void *arg)
{
	struct delivery *d = arg;

	if (r->err == -ECANCELED) {
		free(d);
		return;
	}
	if (!r->err && r->status >= 200 && r->status < 300) {
		d->n->st.delivered++;
	} else {
		d->n->st.failed++;
		if (r->err)
			nlog(d->n, "notification POST for %s failed: %s",
				d->what, r->reason);
		else
			nlog(d->n, "notification POST for %s: HTTP %ld",
				d->what, r->status);
	}
	free(d);
}

static struct delivery *delivery(struct notify *n, const struct notify_event *ev)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d) {
		d->n = n;
		snprintf(d->what, sizeof(d->what), "%s of %s", notify_kind_name(ev->kind),
			 ev->service ? ev->service : "all services");
	}
	return d;
}

int notify_send(struct notify *n, const struct notify_event *ev)
{
	char envbuf[5][300], *env[6], *json;
	char *argv[] = { "/bin/sh", "-c", n->command, NULL };
	struct delivery *d;
	int64_t id;

	if (ev->kind >= NOTIFY_KINDS || !(n->kinds & (1u << ev->kind)))
		return 0;
	if (seen(n, event_key(ev))) {
		n->st.duplicates++;
		return 0;
	}
	json = notify_event_json(ev);
	if (!json)
		return -ENOMEM;
	if (n->command && n->cr && (d = delivery(n, ev))) {
		snprintf(envbuf[0], sizeof(envbuf[0]), "SLUICE_EVENT=%s",
			 notify_kind_name(ev->kind));
		snprintf(envbuf[1], sizeof(envbuf[1]), "SLUICE_SERVICE=%s",
			 ev->service ? ev->service : "");
		snprintf(envbuf[2], sizeof(envbuf[2]), "SLUICE_STEP=%d", ev->step);
		snprintf(envbuf[3], sizeof(envbuf[3]), "SLUICE_ROLLOUT_ID=%llu",
			 (unsigned long long)ev->rollout_id);
		snprintf(envbuf[4], sizeof(envbuf[4]), "SLUICE_REASON=%s",
			 ev->text ? ev->text : "");
		for (int i = 0; i < 5; i++)
			env[i] = envbuf[i];
		env[5] = NULL;
		n->st.sent++;
		id = cmdrun_start(n->cr, argv, env, json, n->timeout_ms, on_cmd, d);
		if (id < 0) {
			n->st.failed++;
			nlog(d->n, "notification command for %s: %s",
				d->what, strerror((int)-id));
			free(d);
		}
	}
	if (n->url && n->hc && (d = delivery(n, ev))) {
		n->st.sent++;
		id = httpc_start(n->hc, n->url, json, "application/json", n->timeout_ms,
				 on_post, d);
		if (id < 0) {
			n->st.failed++;
			nlog(n, "notification POST for %s: %s", d->what,
			     strerror((int)-id));
			free(d);
		}
	}
	free(json);
	return 1;
}
