// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Resolved plans shared by the rollouts running them. A parsed plan is
 * ~39 KiB (fixed arrays of steps and gates); 1,000 services started with
 * the same plan file held 1,000 equal copies. A plan is shared once it is
 * resolved against its service (resolution is the last write to it: the
 * engine and the shell only read it after that), and only with a plan
 * equal to it byte for byte: the same text, file name, rings and mode
 * give the same bytes; anything else stays a private copy.
 */
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"

struct plan_ref {
	struct sluice_plan *p;
	unsigned int refs;
	__u64 hash;
};

struct plan_pool {
	struct plan_ref *v;
	unsigned int n, cap;
};

static __u64 hash_of(const struct sluice_plan *p)
{
	const unsigned char *b = (const unsigned char *)p;
	__u64 h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < sizeof(*p); i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

struct sluice_plan *plan_share(struct daemon *d, struct sluice_plan *p)
{
	struct plan_pool *P = d->plans;
	__u64 h;
	unsigned int i;

	if (!P) {
		P = d->plans = calloc(1, sizeof(*P));
		if (!P)
			return p;	/* stays private */
	}
	h = hash_of(p);
	for (i = 0; i < P->n; i++)
		if (P->v[i].p == p) {
			return p;	/* already shared (a second resolve) */
		} else if (P->v[i].hash == h && !memcmp(P->v[i].p, p, sizeof(*p))) {
			P->v[i].refs++;
			sluice_plan_free(p);
			return P->v[i].p;
		}
	if (P->n == P->cap) {
		unsigned int cap = P->cap ? P->cap * 2 : 8;
		struct plan_ref *n = realloc(P->v, cap * sizeof(*n));

		if (!n)
			return p;
		P->v = n;
		P->cap = cap;
	}
	P->v[P->n++] = (struct plan_ref){ .p = p, .refs = 1, .hash = h };
	return p;
}

void plan_put(struct daemon *d, struct sluice_plan *p)
{
	struct plan_pool *P = d->plans;
	unsigned int i;

	for (i = 0; P && p && i < P->n; i++)
		if (P->v[i].p == p) {
			if (--P->v[i].refs)
				return;
			P->v[i] = P->v[--P->n];
			break;
		}
	sluice_plan_free(p);
}

void plan_pool_free(struct daemon *d)
{
	if (d->plans)
		free(d->plans->v);
	free(d->plans);
	d->plans = NULL;
}
