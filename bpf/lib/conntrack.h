/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tables (see maps.h for the two-table design). A flow is born in
 * conn_new and is promoted to conn_est by its first confirming packet: for
 * TCP any packet without SYN (the handshake's ACK), for UDP a second packet.
 * Entries are replaced with map updates, never edited in place, so a reader
 * on another CPU sees the old entry or the new one whole.
 */
#ifndef SLUICE_BPF_CONNTRACK_H
#define SLUICE_BPF_CONNTRACK_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

struct ct_hit {
	struct sluice_conn e;	/* a copy: the map value may be replaced */
	struct sluice_conn *live; /* the map value, for the seen tick only */
	int found;
	int in_new;		/* found in conn_new and still there */
	int moved;		/* re-decided by revert --reset */
	int new_unread;		/* a bare SYN: conn_new not looked up (yet) */
};

/*
 * conn_est, then conn_new. A bare SYN that misses conn_est skips the
 * conn_new lookup: its entry is written with BPF_NOEXIST once decided, and
 * only when that finds an entry (a retransmission, or a new connection on
 * a tuple still unconfirmed: both rare) is conn_new read (ct_syn_insert).
 * A new flow costs one lookup and one insert, not two lookups and an insert.
 */
static __always_inline void ct_lookup(const struct pkt *pk, struct ct_hit *h,
				      int bare_syn)
{
	struct sluice_conn *e;

	h->found = 0;
	h->in_new = 0;
	h->moved = 0;
	h->new_unread = 0;
	e = bpf_map_lookup_elem(&conn_est, &pk->flow);
	if (e) {	/* the hot path: no event counter, stats say enough */
		h->e = *e;
		h->live = e;
		h->found = 1;
		return;
	}
	if (bare_syn) {
		h->new_unread = 1;
		return;
	}
	e = bpf_map_lookup_elem(&conn_new, &pk->flow);
	if (!e)
		return;	/* counted as a miss once it is known to be a service's */
	h->e = *e;
	h->live = e;
	h->found = 1;
	h->in_new = 1;
	event_inc(SLUICE_EV_CONN_NEW_HIT);
}

/*
 * A conn_new entry is promoted to conn_est by a confirming packet. Called
 * once the entry is known to stay (not re-decided). now_tick: the UDP seen
 * tick to carry over (0 for TCP).
 */
static __always_inline void ct_confirm(const struct pkt *pk, struct ct_hit *h,
				       __u32 now_tick)
{
	if (!h->in_new || pk->icmp_err)
		return;
	if (pk->flow.proto == IPPROTO_TCP && (pk->tcp_flags & TCPF_SYN))
		return;	/* still unconfirmed (or a retransmitted SYN) */
	h->in_new = 0;
	if (now_tick)
		h->e.seen = now_tick;
	if (bpf_map_update_elem(&conn_est, &pk->flow, &h->e, BPF_ANY) == 0) {
		bpf_map_delete_elem(&conn_new, &pk->flow);
		event_inc(SLUICE_EV_CONN_PROMOTE);
	}
}

static __always_inline void ct_insert(const struct pkt *pk,
				      const struct sluice_conn *e)
{
	if (bpf_map_update_elem(&conn_new, &pk->flow, e, BPF_ANY) == 0)
		event_inc(SLUICE_EV_CONN_INSERT);
	else
		event_inc(SLUICE_EV_CONN_INSERT_FAIL);
}

/*
 * The entry of a bare SYN that missed conn_est, without reading conn_new
 * first (ct_lookup). 0: inserted (or the insert failed, counted); 1: the
 * tuple already has an unconfirmed entry, copied to *old (and its map value
 * to *live): the caller tells a retransmission from a new connection as it
 * would have after a lookup.
 */
static __always_inline int ct_syn_insert(const struct pkt *pk,
					 const struct sluice_conn *e,
					 struct sluice_conn *old,
					 struct sluice_conn **live)
{
	struct sluice_conn *cur;
	long rc = bpf_map_update_elem(&conn_new, &pk->flow, e, BPF_NOEXIST);

	if (rc == 0) {
		event_inc(SLUICE_EV_CONN_INSERT);
		return 0;
	}
	cur = rc == -17 /* EEXIST */ ? bpf_map_lookup_elem(&conn_new, &pk->flow) : 0;
	if (!cur) {
		event_inc(SLUICE_EV_CONN_INSERT_FAIL);
		return 0;
	}
	*old = *cur;
	*live = cur;
	event_inc(SLUICE_EV_CONN_NEW_HIT);
	return 1;
}

/*
 * Mid-connection TCP packets of flows this node has no entry for (after an
 * ECMP change, or a handshake whose unconfirmed entry was evicted): the
 * fleet's common decision forwards them, and the flow is remembered as
 * established once it has shown a second packet. Until then it leaves only
 * a 32-bit tag in conn_door, a direct-mapped array indexed by a hash of the
 * tuple (no LRU, no lock: a racing or colliding write only costs a flow
 * one more packet before it is remembered). A spoofed flood of single
 * packets (random tuples) overwrites tags and nothing else: it never
 * reaches conn_est, nor conn_new, so it evicts no flow. Returns 1 after
 * tagging the flow (its first packet here: a new flow), 0 when the flow
 * was seen before (admit it to conn_est).
 */
const volatile __u32 door_mask = SLUICE_DOOR_MIN - 1;	/* set by the loader */

static __always_inline __u64 door_hash(const struct sluice_conn_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u64 h = 0x9e3779b97f4a7c15ull;
	int i;

#pragma unroll
	for (i = 0; i < (int)(sizeof(*k) / 4); i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

static __always_inline int ct_door(const struct sluice_conn_key *k)
{
	__u64 h = door_hash(k);
	__u32 idx = (__u32)h & door_mask, tag = (__u32)(h >> 32) | 1;
	__u32 *slot = bpf_map_lookup_elem(&conn_door, &idx);

	if (!slot)
		return 0;	/* no door (not made by this loader): admit */
	if (*(volatile __u32 *)slot == tag) {
		*(volatile __u32 *)slot = 0;	/* the slot is free again */
		return 0;
	}
	*(volatile __u32 *)slot = tag;
	return 1;
}

/* A flow the door let through: straight into conn_est. */
static __always_inline void ct_admit(const struct pkt *pk,
				     const struct sluice_conn *e)
{
	if (bpf_map_update_elem(&conn_est, &pk->flow, e, BPF_ANY) == 0)
		event_inc(SLUICE_EV_CONN_PROMOTE);
	else
		event_inc(SLUICE_EV_CONN_INSERT_FAIL);
}

/*
 * A new flow on a tuple that still had an entry (see reuse.h): the new
 * entry starts unconfirmed in conn_new like any new flow, and the old one
 * leaves conn_est. Insert first, delete second: a packet on another CPU in
 * between still finds the old entry (and, if it is this flow's SYN again,
 * re-decides it the same way), never neither.
 */
static __always_inline void ct_renew(const struct pkt *pk,
				     const struct ct_hit *old,
				     const struct sluice_conn *e)
{
	ct_insert(pk, e);
	if (!old->in_new)
		bpf_map_delete_elem(&conn_est, &pk->flow);
}

/* Replace a live entry (revert --reset): whichever table holds it. */
static __always_inline void ct_replace(const struct pkt *pk,
				       const struct sluice_conn *e)
{
	if (bpf_map_update_elem(&conn_est, &pk->flow, e, BPF_EXIST) != 0)
		bpf_map_update_elem(&conn_new, &pk->flow, e, BPF_EXIST);
}

#endif
