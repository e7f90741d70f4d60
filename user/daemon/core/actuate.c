// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Engine actions -> libsluice, after the state that decided them is
 * durable. Every action is safe to repeat: weights the maps already hold,
 * a kill word already set, a promotion of a generation that moved on all
 * change nothing.
 */
#include <stdio.h>
#include "sluiced.h"

static void weights_str(const struct eng_action *a, char *buf, size_t len)
{
	size_t n = 0;
	int r, first = -1;
	bool same = true;

	buf[0] = '\0';
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		if (a->ring_mask & (1u << r)) {
			if (first < 0)
				first = r;
			else if (a->weight[r] != a->weight[first])
				same = false;
		}
	if (first >= 0 && same) {
		snprintf(buf, len, "weight %u.%02u%% (%s)", a->weight[first] / 100,
			 a->weight[first] % 100,
			 a->ring_mask == (1u << SLUICE_MAX_RINGS) - 1 ? "every ring" : "rings of the step");
		return;
	}
	for (r = 0; r < SLUICE_MAX_RINGS && n < len; r++)
		if (a->ring_mask & (1u << r))
			n += snprintf(buf + n, len - n, "%sring %d %u.%02u%%",
				      n ? ", " : "", r, a->weight[r] / 100,
				      a->weight[r] % 100);
}

/*
 * Before a promotion of gen: the local promotion record (sluice.h), so
 * that re-applying the file it started from, or a reboot's apply, keeps
 * the promoted version. Written first: a crash between the two leaves a
 * record of a promotion that the outbox's replay then performs.
 */
static void promotion_record(struct daemon *d, struct rollout *r, __u32 gen)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	struct sluice_promotion p = { .rollout_id = r->st.rollout_id, .at_ms = wall_ms() };
	int err;

	if (!sp || sluice_service_get(d->s, r->service, sp) || (gen && sp->gen != gen) ||
	    !sp->pool[SLUICE_CANARY].n) {
		sluice_spec_free(sp);	/* nothing to promote: nothing to record */
		return;
	}
	p.from = sluice_promotion_key(sp);
	kept_save(d, r, &sp->pool[SLUICE_BASELINE]);	/* rollback_window */
	sluice_promote_spec(sp);
	p.to = sluice_promotion_key(sp);
	err = sluice_promotion_put(d->s, r->service, &p);
	if (err) {
		char text[600];

		snprintf(text, sizeof(text),
			 "cannot keep the promotion record (a re-apply of the file would undo the promotion): %s",
			 sluice_errmsg(d->s));
		dlog(d, LOG_ERR_, "%s: %s", r->service, text);
		audit_note(d, r->service, r->st.rollout_id, "error", "sluiced", text);
	}
	sluice_spec_free(sp);
}

int actuate(struct daemon *d, struct rollout *r, const struct eng_action *a)
{
	char what[160];
	int err;

	if (!d->s)
		return -ENODEV;
	switch (a->kind) {
	case ENG_ACT_SET_WEIGHTS:
		weights_str(a, what, sizeof(what));
		err = sluice_set_weights(d->s, r->service, a->weight, a->ring_mask);
		break;
	case ENG_ACT_REVERT:
		snprintf(what, sizeof(what), "kill switch (revert to last-known-good)");
		err = sluice_revert(d->s, r->service, false);
		break;
	case ENG_ACT_RESUME_KILL:
		snprintf(what, sizeof(what), "kill switch cleared");
		err = sluice_resume(d->s, r->service);
		break;
	case ENG_ACT_CUTOVER:
		snprintf(what, sizeof(what), "cutover to %s",
			 a->variant == SLUICE_CANARY ? "green (canary)" : "blue (baseline)");
		err = sluice_cutover(d->s, r->service, a->variant);
		break;
	case ENG_ACT_PROMOTE:
		snprintf(what, sizeof(what), "promotion (canary pool becomes the baseline, gen %u)",
			 a->gen);
		promotion_record(d, r, a->gen);
		err = sluice_promote(d->s, r->service, a->gen);
		break;
	case ENG_ACT_UNDO: {
		char why[512];

		snprintf(what, sizeof(what), "undo of the promotion (the previous baseline serves again)");
		err = kept_undo(d, r, why, sizeof(why));
		if (err < 0) {
			char text[700];

			snprintf(text, sizeof(text), "cannot perform %s: %s", what, why);
			dlog(d, LOG_ERR_, "%s: %s", r->service, text);
			audit_note(d, r->service, r->st.rollout_id, "error", "sluiced", text);
			return err;
		}
		break;
	}
	default:
		dlog(d, LOG_ERR_, "%s: unknown action %d", r->service, a->kind);
		return -EINVAL;
	}
	if (err < 0) {
		char text[512];

		snprintf(text, sizeof(text), "cannot perform %s: %s", what,
			 sluice_errmsg(d->s));
		dlog(d, LOG_ERR_, "%s: %s", r->service, text);
		audit_note(d, r->service, r->st.rollout_id, "error", "sluiced", text);
		return err;
	}
	dlog(d, LOG_INFO_, "%s: %s%s", r->service, what, err == 0 &&
	     a->kind != ENG_ACT_SET_WEIGHTS ? " (already so)" : "");
	return 0;
}
