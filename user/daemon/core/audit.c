// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The audit trail: every engine event (transitions and gate evaluations
 * with their numbers) goes to the store, as one JSON line to the audit log
 * (--audit-log FILE, or "-" for stderr) for log shippers, and, for
 * transitions, as a human line to the log.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sluiced.h"

/* Lines of a decision held until its transaction commits (audit_hold). */
static struct {
	bool on;
	char *buf;
	size_t len, cap;
} held;

static void audit_write(struct daemon *d, const char *text, size_t len)
{
	if (!d->audit || !len)
		return;
	fwrite(text, 1, len, d->audit);
	fflush(d->audit);
}

static void audit_line(struct daemon *d, const char *json)
{
	size_t n = strlen(json) + 1;

	if (!held.on) {
		audit_write(d, json, n - 1);
		audit_write(d, "\n", 1);
		return;
	}
	if (held.len + n > held.cap) {
		size_t cap = (held.len + n) * 2;
		char *b = realloc(held.buf, cap);

		if (!b) {	/* a line late is better than none */
			audit_write(d, held.buf, held.len);
			held.len = 0;
			audit_write(d, json, n - 1);
			audit_write(d, "\n", 1);
			return;
		}
		held.buf = b;
		held.cap = cap;
	}
	memcpy(held.buf + held.len, json, n - 1);
	held.buf[held.len + n - 1] = '\n';
	held.len += n;
}

/*
 * The JSON lines of what a transaction records wait for its commit: a
 * decision whose commit fails never reaches the log shippers, as it never
 * reached the store (the human log still says what was tried, and why it
 * failed). audit_release(d, true) after the commit writes them, false
 * after a rollback drops them.
 */
void audit_hold(void)
{
	held.on = true;
}

void audit_release(struct daemon *d, bool commit)
{
	if (commit)
		audit_write(d, held.buf, held.len);
	held.len = 0;
	held.on = false;
}

void audit_free(void)
{
	free(held.buf);
	held.buf = NULL;
	held.len = held.cap = 0;
	held.on = false;
}

/* An evaluation identical to the gate's previous recorded one (same step,
 * verdict and counts) adds nothing to the trail: an idle service would
 * otherwise write the same line every second. */
static bool repeats(struct rollout *r, const struct eng_event *ev)
{
	const struct gate_eval *e = &ev->eval;
	unsigned int g = ev->gate;

	if (ev->type != ENG_EV_GATE || g >= SLUICE_PLAN_MAX_GATES)
		return false;
	if (r->last_eval[g].valid && r->last_eval[g].step == ev->step &&
	    r->last_eval[g].outcome == (int)e->outcome &&
	    r->last_eval[g].samples_c == e->samples_c &&
	    r->last_eval[g].samples_b == e->samples_b &&
	    r->last_eval[g].bad_c == e->bad_c && r->last_eval[g].bad_b == e->bad_b)
		return true;
	r->last_eval[g].valid = true;
	r->last_eval[g].step = ev->step;
	r->last_eval[g].outcome = e->outcome;
	r->last_eval[g].samples_c = e->samples_c;
	r->last_eval[g].samples_b = e->samples_b;
	r->last_eval[g].bad_c = e->bad_c;
	r->last_eval[g].bad_b = e->bad_b;
	return false;
}

int audit_events(struct daemon *d, struct rollout *r, const struct eng_out *out)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < out->nevents; i++) {
		const struct eng_event *ev = &out->events[i];
		char *json;

		if (repeats(r, ev))
			continue;
		json = eng_event_to_json(ev, r->service);

		if (!json) {
			dlog(d, LOG_ERR_, "%s: cannot encode an event", r->service);
			continue;
		}
		if (d->db && !err)
			err = store_event_add(d->db, r->service, ev->rollout_id, ev->at_ms,
					      eng_event_type_name(ev->type), json);
		audit_line(d, json);
		free(json);
		if (ev->type != ENG_EV_GATE)
			dlog(d, LOG_INFO_, "%s: %s", r->service, ev->text);
		else
			dlog(d, ev->eval.outcome == GATE_FAIL ? LOG_INFO_ : LOG_DEBUG_,
			     "%s: %s", r->service, ev->text);
	}
	return err;
}

int audit_note(struct daemon *d, const char *service, __u64 rollout_id,
	       const char *type, const char *who, const char *text)
{
	json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "service", service,
			      "rollout_id", (json_int_t)rollout_id, "type", type,
			      "at_ms", (json_int_t)steady_ms(), "who", who, "text", text);
	char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int err = 0;

	json_decref(o);
	if (!json)
		return -ENOMEM;
	if (d->db)
		err = store_event_add(d->db, service, rollout_id, steady_ms(), type, json);
	audit_line(d, json);
	free(json);
	return err;
}

void audit_reopen(struct daemon *d)
{
	int fd;

	if (!d->o.audit_path)
		return;
	if (!strcmp(d->o.audit_path, "-")) {
		d->audit = stderr;
		return;
	}
	if (d->audit && d->audit != stderr)
		fclose(d->audit);
	/* 0600 whatever the umask: the trail names who did what */
	fd = open(d->o.audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	d->audit = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!d->audit && fd >= 0)
		close(fd);
	if (!d->audit)
		dlog(d, LOG_ERR_, "cannot open the audit log %s: %s", d->o.audit_path,
		     strerror(errno));
}

/* An event already encoded (the fleet leader's, from etcd): the store and
 * the audit log, as audit_events records the node's own. */
int audit_raw(struct daemon *d, const char *service, __u64 rollout_id, __u64 at_ms,
	      const char *type, const char *json)
{
	int err = 0;

	if (d->db)
		err = store_event_add(d->db, service, rollout_id, at_ms, type, json);
	audit_line(d, json);
	return err;
}
