// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's side of VIP announcements (doc/guide/bgp.md): the same
 * level-triggered reconcile as the CLI's (sluice_announce_sync), run at
 * once after a health transition and every SLUICED_ANNOUNCE_MS, with each
 * change in the log and the audit trail and each VIP's state on /metrics.
 * Nothing is withdrawn when sluiced stops or dies: the routes are the
 * kernel's, and they stay right while the datapath forwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"
#include "metrics.h"

#define SLUICED_ANNOUNCE_MS 1000
#define ANN_MAX (2 * SLUICE_MAX_SERVICES)	/* services, and routes they left */

/* the module's state (d->mod[MOD_ANNOUNCE]) */
struct announce {
	/* the last evaluation, for /metrics and the status document */
	struct sluice_announce last[ANN_MAX];
	int nlast;
	__u64 last_ms;
	bool failing;
	struct sluice_announce scratch[ANN_MAX];	/* too big for a stack */
};

int announce_start(struct daemon *d, char *err, size_t errlen)
{
	d->mod[MOD_ANNOUNCE] = calloc(1, sizeof(struct announce));
	if (!d->mod[MOD_ANNOUNCE]) {
		snprintf(err, errlen, "announce: out of memory");
		return -ENOMEM;
	}
	return 0;
}

void announce_stop(struct daemon *d)
{
	free(d->mod[MOD_ANNOUNCE]);
	d->mod[MOD_ANNOUNCE] = NULL;
}

/* the previous evaluation's row for a's service and VIP */
static const struct sluice_announce *previous(const struct announce *A,
					      const struct sluice_announce *a)
{
	for (int i = 0; i < A->nlast; i++)
		if (!strcmp(A->last[i].name, a->name) && A->last[i].family == a->family &&
		    !memcmp(&A->last[i].vip, &a->vip, sizeof(a->vip)))
			return &A->last[i];
	return NULL;
}

/*
 * Reconcile, and report every change of state: those this call made, and
 * those a command made in between (drain, detach: the CLI changes the
 * table itself, so a node without sluiced still withdraws); the trail says
 * which.
 */
void announce_now(struct daemon *d)
{
	struct announce *A = d->mod[MOD_ANNOUNCE];
	struct sluice_announce *a;
	char vip[INET6_ADDRSTRLEN], text[256];
	int n, i;

	if (!d->s || !A)
		return;
	a = A->scratch;
	A->last_ms = steady_ms();
	n = sluice_announce_sync(d->s, a, ANN_MAX);
	if (n < 0) {
		if (!A->failing)
			dlog(d, LOG_ERR_, "announce: %s", sluice_errmsg(d->s));
		A->failing = true;
		return;
	}
	A->failing = false;
	for (i = 0; i < n; i++) {
		const struct sluice_announce *p = previous(A, &a[i]);
		bool moved = p && (p->announced != a[i].announced || p->why != a[i].why);

		if (!a[i].changed && !moved)
			continue;
		sluice_format_addr(&a[i].vip, a[i].family, vip, sizeof(vip));
		snprintf(text, sizeof(text), "VIP %s %s (%s)%s", vip,
			 a[i].announced ? "announced" : "withdrawn",
			 sluice_announce_why_str(a[i].why),
			 a[i].changed ? "" : " by a command");
		dlog(d, a[i].announced ? LOG_INFO_ : LOG_WARN_, "announce: %s%s%s", text,
		     a[i].name[0] ? ", service " : "", a[i].name);
		audit_note(d, a[i].name[0] ? a[i].name : "-", 0,
			   a[i].announced ? "vip_announced" : "vip_withdrawn",
			   a[i].changed ? "sluiced" : "command", text);
	}
	memcpy(A->last, a, n * sizeof(a[0]));
	A->nlast = n;
}

void announce_tick(struct daemon *d, __u64 now)
{
	const struct announce *A = d->mod[MOD_ANNOUNCE];

	if (A && (now - A->last_ms >= SLUICED_ANNOUNCE_MS || !A->last_ms))
		announce_now(d);
}

void announce_metrics(struct daemon *d, struct metrics_snapshot *m)
{
	const struct announce *A = d->mod[MOD_ANNOUNCE];

	for (int i = 0; A && i < A->nlast; i++) {
		const struct sluice_announce *l = &A->last[i];
		struct metrics_vip *v = metrics_snapshot_add_vip(m);

		if (!v)
			return;
		snprintf(v->service, sizeof(v->service), "%.*s",
			 (int)sizeof(v->service) - 1, l->name);
		sluice_format_addr(&l->vip, l->family, v->vip, sizeof(v->vip));
		v->announced = l->announced;
		v->why = sluice_announce_why_str(l->why);
	}
}
