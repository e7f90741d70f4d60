// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Command gates: a finished run turned into a verdict, a value or an error. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "command_gate.h"

static void seterr(struct cmdgate_out *o, int err, const char *what)
{
	o->err = err;
	snprintf(o->reason, sizeof(o->reason), "%s", what);
}

/* Why a run that did not exit cleanly is an error. */
static bool run_failed(const struct cmd_result *r, struct cmdgate_out *o)
{
	if (r->err) {
		seterr(o, r->err, r->reason && *r->reason ? r->reason : strerror(-r->err));
		return true;
	}
	if (!r->exited) {
		o->err = -ECHILD;
		snprintf(o->reason, sizeof(o->reason), "killed by signal %d (%s)",
			 r->signal, strsignal(r->signal));
		return true;
	}
	return false;
}

void cmdgate_interpret(const struct cmd_result *r, enum cmdgate_mode mode,
		       struct cmdgate_out *o)
{
	const char *p;
	char *end;

	memset(o, 0, sizeof(*o));
	if (run_failed(r, o))
		return;
	if (mode == CMDGATE_EXIT) {
		if (r->status == 0 || r->status == 1) {
			o->pass = r->status == 0;
			snprintf(o->reason, sizeof(o->reason), "exit status %d",
				 r->status);
			return;
		}
		o->err = -EPROTO;
		snprintf(o->reason, sizeof(o->reason),
			 "exit status %d (0 = pass, 1 = fail, others = error)",
			 r->status);
		return;
	}
	if (r->status != 0) {
		o->err = -EPROTO;
		snprintf(o->reason, sizeof(o->reason),
			 "exit status %d (a value gate must exit 0)", r->status);
		return;
	}
	if (r->truncated) {
		seterr(o, -EBADMSG, "stdout longer than a number");
		return;
	}
	for (p = r->out; isspace((unsigned char)*p); p++)
		;
	errno = 0;
	o->value = strtod(p, &end);
	if (end == p) {
		o->err = -EBADMSG;
		snprintf(o->reason, sizeof(o->reason),
			 "stdout is not a number: \"%.60s\"", p);
		return;
	}
	for (; isspace((unsigned char)*end); end++)
		;
	if (*end) {
		o->err = -EBADMSG;
		snprintf(o->reason, sizeof(o->reason),
			 "stdout has more than one number: \"%.60s\"", r->out);
		return;
	}
	if (!isfinite(o->value)) {
		o->err = -EDOM;
		snprintf(o->reason, sizeof(o->reason), "stdout is %s, not a finite number",
			 isnan(o->value) ? "NaN" : "infinite");
		return;
	}
	snprintf(o->reason, sizeof(o->reason), "value %g", o->value);
}

void cmdgate_env(char buf[1024], char *env[7], const char *service,
		 const char *variant, const char *ring, int step,
		 const char *gate)
{
	const char *names[] = { "SLUICE_SERVICE", "SLUICE_VARIANT", "SLUICE_RING",
				"SLUICE_GATE" };
	const char *vals[] = { service, variant, ring, gate };
	size_t off = 0;
	int i, k = 0, n;

	for (i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		n = snprintf(buf + off, 1024 - off, "%s=%s", names[i], vals[i]);
		if (n < 0 || off + n + 1 >= 1024)
			break;
		env[k++] = buf + off;
		off += n + 1;
	}
	if (step >= 0) {
		n = snprintf(buf + off, 1024 - off, "SLUICE_STEP=%d", step);
		if (n > 0 && off + n + 1 < 1024)
			env[k++] = buf + off;
	}
	env[k] = NULL;
}
