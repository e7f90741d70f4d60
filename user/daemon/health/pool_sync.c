// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health checks to the maps (pool_sync.h). The checker's callback only queues;
 * after each hc_dispatch the queue is applied per service with one
 * sluice_backend_health_set, then reported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "pool_sync.h"

struct hs {
	struct sluice *s;
	struct hc *hc;
	hs_cb cb;
	void *arg;
	struct hs_event *q;		/* transitions of this dispatch */
	unsigned int nq, cap;
};

static void queue(void *arg, const struct hc_target *t, const struct hc_status *st,
		  enum hc_event ev)
{
	struct hs *h = arg;
	struct hs_event *e;

	if (h->nq == h->cap) {
		unsigned int cap = h->cap ? h->cap * 2 : 64;
		struct hs_event *q = realloc(h->q, cap * sizeof(*q));

		if (!q)
			return;	/* the checker repeats it: state is kept there */
		h->q = q;
		h->cap = cap;
	}
	e = &h->q[h->nq++];
	memset(e, 0, sizeof(*e));
	snprintf(e->service, sizeof(e->service), "%s", t->service);
	e->variant = t->variant;
	e->addr = t->be_addr;
	e->family = t->be_family;
	e->port = t->be_port;
	e->ev = ev;
	e->st = *st;
	e->check_type = t->check.type;
	e->interval_ms = t->check.interval_ms;
	e->rise = t->check.rise;
	e->fall = t->check.fall;
}

static void flush(void *arg);

struct hs *hs_new(struct sluice *s, const struct hc_opts *o, hs_cb cb,
		  void *arg, char *err, size_t errlen)
{
	struct hs *h = calloc(1, sizeof(*h));
	struct hc_opts ho = *o;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->s = s;
	h->cb = cb;
	h->arg = arg;
	ho.cb = queue;
	ho.cb_arg = h;
	if (ho.sched)	/* on the daemon's loop: after each of its steps */
		ho.done = flush;
	h->hc = hc_new(&ho, err, errlen);
	if (!h->hc) {
		free(h);
		return NULL;
	}
	return h;
}

void hs_free(struct hs *h)
{
	if (!h)
		return;
	hc_free(h->hc);
	free(h->q);
	free(h);
}

/* The live record's state of backend b in pool v of sp; -1: not live. */
static int live_down(const struct sluice_service_spec *sp, int v,
		     const struct hc_target *t)
{
	unsigned int i;

	for (i = 0; i < sp->pool[v].n; i++) {
		const struct sluice_backend_spec *b = &sp->pool[v].be[i];

		if (b->family == t->be_family &&
		    !memcmp(&b->addr, &t->be_addr, sizeof(b->addr)) &&
		    (b->port ? b->port : sp->port) == t->be_port)
			return b->down;
	}
	return -1;
}

int hs_configure(struct hs *h, const struct sluice_config *cfg)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	struct hc_target *t = NULL;
	unsigned int n = 0, cap = 0, k, i;
	int v, err = 0, d;

	if (!sp)
		return -ENOMEM;
	for (k = 0; cfg && k < cfg->nservices; k++) {
		const struct sluice_cfg_service *cs = &cfg->services[k];

		if (sluice_service_get(h->s, cs->name, sp))
			continue;	/* not live (yet): nothing to check */
		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (i = 0; i < cs->pool[v].n; i++) {
				if (n == cap) {
					struct hc_target *x;

					cap = cap ? cap * 2 : 64;
					x = realloc(t, cap * sizeof(*t));
					if (!x) {
						err = -ENOMEM;
						goto out;
					}
					t = x;
				}
				if (!hc_target_from_cfg(&t[n], cs, v, i))
					continue;
				d = live_down(sp, v, &t[n]);
				if (d < 0)
					continue;	/* in the file, not in the maps */
				t[n++].down = d;
			}
	}
	err = hc_set_targets(h->hc, t, n);
	if (!err)
		err = n;
out:
	free(t);
	sluice_spec_free(sp);
	return err;
}

int hs_fd(const struct hs *h)
{
	return hc_fd(h->hc);
}

int hs_timeout_ms(const struct hs *h)
{
	return hc_timeout_ms(h->hc);
}

const struct hc *hs_checker(const struct hs *h)
{
	return h->hc;
}

static void describe(struct hs_event *e)
{
	static const char *const pool[] = { "baseline", "canary" };
	char a[INET6_ADDRSTRLEN];
	int n;

	inet_ntop(e->family, e->addr.bytes, a, sizeof(a));
	n = snprintf(e->text, sizeof(e->text), "service %s: %s backend %s port %u ",
		     e->service, pool[e->variant & 1], a, e->port);
	switch (e->ev) {
	case HC_EV_DOWN:
		n += snprintf(e->text + n, sizeof(e->text) - n,
			      "is down: %u %s check failures in a row (fall %u), last: %s",
			      e->st.fail_run, hc_type_name(e->check_type), e->fall,
			      e->st.last_reason);
		break;
	case HC_EV_UP:
		n += snprintf(e->text + n, sizeof(e->text) - n,
			      "is up: %u %s check successes in a row (rise %u)",
			      e->st.ok_run, hc_type_name(e->check_type), e->rise);
		break;
	case HC_EV_FLAPPING:
		snprintf(e->text + n, sizeof(e->text) - n,
			 "is flapping: %llu transitions, the latest within the window",
			 (unsigned long long)e->st.transitions);
		return;
	case HC_EV_STABLE:
		snprintf(e->text + n, sizeof(e->text) - n, "is no longer flapping");
		return;
	}
	if (e->err)
		snprintf(e->text + n, sizeof(e->text) - n, "; the maps were not changed: %s",
			 strerror(-e->err));
	else if (e->all_down)
		snprintf(e->text + n, sizeof(e->text) - n,
			 "; EVERY active %s backend of %s is down: all %u kept in the table (health alone never empties a pool)",
			 pool[e->variant & 1], e->service, e->in_table);
	else if (e->applied)
		snprintf(e->text + n, sizeof(e->text) - n, "; %s table now %u backends",
			 pool[e->variant & 1], e->in_table);
}

/* The queued transitions to the maps, then to the callback. */
static void flush(void *arg)
{
	struct hs *h = arg;
	struct sluice_health_mark *m;
	unsigned int i, j, nm;
	bool *done;

	if (!h->nq)
		return;
	m = calloc(h->nq, sizeof(*m));
	done = calloc(h->nq, sizeof(*done));
	for (i = 0; m && done && i < h->nq; i++) {
		struct sluice_health_result res = {};
		int rc;

		if (h->q[i].ev > HC_EV_UP || done[i])
			continue;
		/* every down/up of this service in one publish */
		for (j = i, nm = 0; j < h->nq; j++) {
			struct hs_event *e = &h->q[j];

			if (e->ev > HC_EV_UP || strcmp(e->service, h->q[i].service))
				continue;
			m[nm].addr = e->addr;
			m[nm].family = e->family;
			m[nm].port = e->port;
			m[nm].down = e->ev == HC_EV_DOWN;
			nm++;
		}
		rc = sluice_backend_health_set(h->s, h->q[i].service, m, nm, &res);
		for (j = i; j < h->nq; j++) {
			struct hs_event *e = &h->q[j];

			if (e->ev > HC_EV_UP || strcmp(e->service, h->q[i].service))
				continue;
			done[j] = true;
			e->err = rc < 0 ? rc : 0;
			e->applied = rc > 0;
			e->all_down = rc >= 0 && res.all_down[e->variant & 1];
			e->in_table = res.in_table[e->variant & 1];
		}
	}
	for (i = 0; i < h->nq; i++) {
		if ((!m || !done) && h->q[i].ev <= HC_EV_UP)
			h->q[i].err = -ENOMEM;
		describe(&h->q[i]);
		if (h->cb)
			h->cb(h->arg, &h->q[i]);
	}
	free(m);
	free(done);
	h->nq = 0;
}

int hs_dispatch(struct hs *h)
{
	int err = hc_dispatch(h->hc);

	flush(h);
	return err;
}
