/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow hash, shared by the datapath and the control plane so that tests
 * and tools can predict every decision. Bob Jenkins' lookup3 mixing over a
 * fixed 10-word flow key; both final words are used (as lookup3's hashword2
 * does): c picks the bucket (canary or baseline), b picks the Maglev slot, so
 * the two choices are independent and cost one pass.
 */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <linux/types.h>
#include "sluice_abi.h"

#define SLUICE_FLOW_WORDS 10

struct sluice_flow_words {
	__u32 w[SLUICE_FLOW_WORDS];
};

#define SLUICE_ROL32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

#define SLUICE_MIX(a, b, c)                                   \
	do {                                                  \
		a -= c; a ^= SLUICE_ROL32(c, 4);  c += b;     \
		b -= a; b ^= SLUICE_ROL32(a, 6);  a += c;     \
		c -= b; c ^= SLUICE_ROL32(b, 8);  b += a;     \
		a -= c; a ^= SLUICE_ROL32(c, 16); c += b;     \
		b -= a; b ^= SLUICE_ROL32(a, 19); a += c;     \
		c -= b; c ^= SLUICE_ROL32(b, 4);  b += a;     \
	} while (0)

#define SLUICE_FINAL(a, b, c)                                 \
	do {                                                  \
		c ^= b; c -= SLUICE_ROL32(b, 14);             \
		a ^= c; a -= SLUICE_ROL32(c, 11);             \
		b ^= a; b -= SLUICE_ROL32(a, 25);             \
		c ^= b; c -= SLUICE_ROL32(b, 16);             \
		a ^= c; a -= SLUICE_ROL32(c, 4);              \
		b ^= a; b -= SLUICE_ROL32(a, 14);             \
		c ^= b; c -= SLUICE_ROL32(b, 24);             \
	} while (0)

/* h_bucket picks canary/baseline, h_slot the Maglev slot. */
static inline __attribute__((always_inline)) void
sluice_hash_flow(const struct sluice_flow_words *k, __u32 seed,
		 __u32 *h_bucket, __u32 *h_slot)
{
	__u32 a, b, c;

	a = b = c = 0xdeadbeef + (SLUICE_FLOW_WORDS << 2) + seed;
	c += seed ^ 0x9e3779b9;
	a += k->w[0]; b += k->w[1]; c += k->w[2];
	SLUICE_MIX(a, b, c);
	a += k->w[3]; b += k->w[4]; c += k->w[5];
	SLUICE_MIX(a, b, c);
	a += k->w[6]; b += k->w[7]; c += k->w[8];
	SLUICE_MIX(a, b, c);
	a += k->w[9];
	SLUICE_FINAL(a, b, c);
	*h_bucket = c;
	*h_slot = b;
}

/*
 * Flow key words. Connection affinity: source, destination, ports,
 * protocol/family. Client affinity: the source address and family only, so
 * every connection of one client takes the same decision.
 */
static inline __attribute__((always_inline)) void
sluice_flow_words(struct sluice_flow_words *k, const union sluice_addr *src,
		  const union sluice_addr *dst, __be16 sport, __be16 dport,
		  __u8 proto, __u8 family, int client_affinity)
{
	k->w[0] = src->v6[0];
	k->w[1] = src->v6[1];
	k->w[2] = src->v6[2];
	k->w[3] = src->v6[3];
	if (client_affinity) {
		k->w[4] = 0; k->w[5] = 0; k->w[6] = 0; k->w[7] = 0;
		k->w[8] = 0;
		k->w[9] = family;
		return;
	}
	k->w[4] = dst->v6[0];
	k->w[5] = dst->v6[1];
	k->w[6] = dst->v6[2];
	k->w[7] = dst->v6[3];
	k->w[8] = ((__u32)sport << 16) | dport;
	k->w[9] = ((__u32)proto << 8) | family;
}

/*
 * The connection tables' own hash of a whole key (not keyed: it only
 * spreads flows over conn_new's slots and conn_door's tags, it decides
 * nothing): a multiply-xorshift over the ten key words.
 */
#define SLUICE_KH_STEP(h, x)                                  \
	do {                                                  \
		(h) = ((h) ^ (x)) * 0xff51afd7ed558ccdull;    \
		(h) ^= (h) >> 29;                             \
	} while (0)

static inline __attribute__((always_inline)) __u64
sluice_key_hash(const struct sluice_conn_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u64 h = 0x9e3779b97f4a7c15ull;

	SLUICE_KH_STEP(h, w[0]); SLUICE_KH_STEP(h, w[1]);
	SLUICE_KH_STEP(h, w[2]); SLUICE_KH_STEP(h, w[3]);
	SLUICE_KH_STEP(h, w[4]); SLUICE_KH_STEP(h, w[5]);
	SLUICE_KH_STEP(h, w[6]); SLUICE_KH_STEP(h, w[7]);
	SLUICE_KH_STEP(h, w[8]); SLUICE_KH_STEP(h, w[9]);
	return h;
}

/* A conn_new slot's check word: its key's hash mixed with the entry. */
static inline __attribute__((always_inline)) __u64
sluice_slot_check(__u64 kh, const struct sluice_conn *c)
{
	const __u64 *w = (const __u64 *)c;
	__u64 h = kh;

	SLUICE_KH_STEP(h, w[0]); SLUICE_KH_STEP(h, w[1]);
	SLUICE_KH_STEP(h, w[2]); SLUICE_KH_STEP(h, w[3]);
	SLUICE_KH_STEP(h, w[4]);
	return h | 1;	/* never 0: a zeroed slot never checks */
}
_Static_assert(sizeof(struct sluice_conn_key) == 40 && sizeof(struct sluice_conn) == 40,
	       "sluice_key_hash and sluice_slot_check read 10 and 5 words");

#endif /* SLUICE_HASH_H */
