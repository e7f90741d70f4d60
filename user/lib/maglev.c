// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4). Each
 * backend walks its own permutation of the M slots (offset + j * skip mod M,
 * M prime, so every skip generates a full cycle) and backends take turns
 * claiming their next free preferred slot until the table is full. Weights:
 * a backend of weight w takes w / max_weight turns per round, so its share of
 * slots is proportional to w. Backends are ordered by identity key first, so
 * two nodes given the same set in any order build the same table.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

bool sluice_is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return false;
	for (d = 2; (__u64)d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static __u64 mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

struct mg_state {
	__u32 id;
	__u32 weight;
	__u64 key;
	__u32 offset;
	__u32 skip;
	__u32 next;
	__u64 credit;
};

static int by_key(const void *a, const void *b)
{
	const struct mg_state *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int sluice_maglev_build(const struct sluice_maglev_in *in, unsigned int n,
			__u32 size, __u32 *table)
{
	struct mg_state *st;
	__u32 filled = 0, wmax = 0, i;

	if (!sluice_is_prime(size) || size < 3)
		return -EINVAL;
	for (i = 0; i < size; i++)
		table[i] = SLUICE_NO_BACKEND;
	if (!n)
		return 0;
	st = calloc(n, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		st[i].id = in[i].id;
		st[i].weight = in[i].weight;
		st[i].key = in[i].key;
		st[i].offset = mix64(in[i].key ^ 0x6d61676c65763031ull) % size;
		st[i].skip = mix64(in[i].key ^ 0x736b697070657232ull) % (size - 1) + 1;
		if (in[i].weight > wmax)
			wmax = in[i].weight;
	}
	if (!wmax) {
		free(st);
		return -EINVAL;
	}
	qsort(st, n, sizeof(*st), by_key);
	for (;;) {
		for (i = 0; i < n; i++) {
			struct mg_state *b = &st[i];

			b->credit += b->weight;
			while (b->credit >= wmax) {
				__u32 c;

				b->credit -= wmax;
				do {
					c = (__u32)((b->offset +
						     (__u64)b->next * b->skip) % size);
					b->next++;
				} while (table[c] != SLUICE_NO_BACKEND);
				table[c] = b->id;
				if (++filled == size) {
					free(st);
					return 0;
				}
			}
		}
	}
}
