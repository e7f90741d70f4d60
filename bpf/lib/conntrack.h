/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tables (see maps.h, and doc/datapath-flows.md for the costs
 * behind this design). A flow is born in conn_new and is promoted to
 * conn_est by its first confirming packet: for TCP any packet without SYN
 * (the handshake's ACK), for UDP a second packet. conn_est entries are
 * replaced with map updates, never edited in place (but for the UDP seen
 * tick), so a reader on another CPU sees the old entry or the new one whole.
 *
 * conn_new is an array of slots indexed by the key's hash: one lookup, no
 * LRU and no lock, a new flow overwrites its slot's previous occupant.
 * Slots are written in place; a reader copies the entry and accepts it only
 * when its key matches and the check word (sluice_slot_check) agrees with
 * what it copied, so a slot that another CPU is rewriting reads as no entry
 * (the packet is then decided like any flow without one, from the hash).
 * A flow whose slot was taken before it confirmed has lost its entry, as an
 * LRU eviction would have done: its next packet is decided afresh.
 *
 * Mid-connection TCP packets of flows without an entry use conn_door
 * (ct_door) instead of conn_new.
 */
#ifndef SLUICE_BPF_CONNTRACK_H
#define SLUICE_BPF_CONNTRACK_H

#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "sluice_hash.h"

/* set by the loader from the maps' sizes (powers of two) */
const volatile __u32 slot_mask = SLUICE_CONN_MIN - 1;
const volatile __u32 door_mask = SLUICE_DOOR_MIN - 1;

struct ct_hit {
	struct sluice_conn e;	/* a copy: the map value may be replaced */
	struct sluice_conn *live; /* the conn_est value, for the seen tick only */
	__u64 kh;		/* sluice_key_hash of the key (conn_est miss) */
	int found;
	int in_new;		/* found in conn_new and still there */
	int moved;		/* re-decided by revert --reset */
};

static __always_inline int key_eq(const struct sluice_conn_key *a,
				  const struct sluice_conn_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4]) | (x[5] ^ y[5]) | (x[6] ^ y[6]) | (x[7] ^ y[7]) |
		(x[8] ^ y[8]) | (x[9] ^ y[9])) == 0;
}

/*
 * conn_new's slot operations are global functions: the verifier checks
 * each once per program, and its callers see a scalar (as static
 * subprograms they were walked again for every distinct caller state:
 * a third of sluice_tc's processed instructions). 5.10 lets a global
 * function take only scalars, so the key, the entry and the key's hash
 * travel in the per-CPU pcpu_io (maps.h), written right before the call.
 */
static __always_inline struct pcpu_io *ct_io(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pcpu_io, &zero);
}

/*
 * Slots come in sets of two ways (elements 2i and 2i + 1, one 256-byte
 * block): a flow lives in either way of its set. A new flow takes its own
 * old way, else a free one, else the older of the two (first in, first
 * out: way 0's pad[0] says which way goes next). Two ways instead of one
 * keep a handshake's entry far longer against other new flows: an entry
 * goes only after two newer flows landed in its set.
 */
static __always_inline int slot_live(const struct sluice_conn_slot *s)
{
	return *(volatile __u8 *)&s->key.family != 0;
}

static __always_inline struct sluice_conn_slot *slot_way(__u64 kh, __u32 way)
{
	__u32 idx = (((__u32)kh & slot_mask) & ~1u) | way;

	return bpf_map_lookup_elem(&conn_new, &idx);
}

/* io->key: the flow. 1: it has a whole entry (copied to io->conn); 0: it
 * has none; -1: no slots (maps not made by this loader). io->kh: the key's
 * hash. */
__attribute__((noinline)) int sluice_ct_get_g(void)
{
	struct pcpu_io *io = ct_io();
	struct sluice_conn_slot *s0, *s1, *s;
	__u64 h;

	if (!io)
		return -1;
	h = sluice_key_hash(&io->key);
	io->kh = h;
	s0 = slot_way(h, 0);
	s1 = slot_way(h, 1);
	if (!s0 || !s1)
		return -1;
	if (key_eq(&s0->key, &io->key))
		s = s0;
	else if (key_eq(&s1->key, &io->key))
		s = s1;
	else
		return 0;
	io->conn = s->conn;
	return *(volatile __u64 *)&s->check == sluice_slot_check(h, &io->conn);
}

/* Write io->key's entry io->conn into its set (kh: the key's hash).
 * only_if_held: only into a way that holds the key already (an update, not
 * an insert). -1: no slots, or not held. */
__attribute__((noinline)) int sluice_ct_put_g(__u64 kh, int only_if_held)
{
	struct pcpu_io *io = ct_io();
	struct sluice_conn_slot *s0 = slot_way(kh, 0), *s1 = slot_way(kh, 1), *s;

	if (!io || !s0 || !s1)
		return -1;
	if (key_eq(&s0->key, &io->key))
		s = s0;
	else if (key_eq(&s1->key, &io->key))
		s = s1;
	else if (only_if_held)
		return -1;
	else if (!slot_live(s0))
		s = s0;
	else if (!slot_live(s1))
		s = s1;
	else
		s = (*(volatile __u8 *)&s0->pad[0] & 1) ? s1 : s0;
	s->key = io->key;
	s->conn = io->conn;
	*(volatile __u64 *)&s->check = sluice_slot_check(kh, &io->conn);
	if (!only_if_held)	/* the other way is the older one now */
		*(volatile __u8 *)&s0->pad[0] = s == s0;
	return 0;
}

/* Free io->key's way if it still holds the key (the flow was promoted). */
__attribute__((noinline)) int sluice_ct_del_g(__u64 kh)
{
	struct pcpu_io *io = ct_io();
	struct sluice_conn_slot *s0 = slot_way(kh, 0), *s1 = slot_way(kh, 1);

	if (!io)
		return 0;
	if (s0 && key_eq(&s0->key, &io->key))
		s0->key.family = 0;
	else if (s1 && key_eq(&s1->key, &io->key))
		s1->key.family = 0;
	return 0;
}

static __always_inline int ct_new_get(const struct sluice_conn_key *k,
				      struct sluice_conn *out, __u64 *kh)
{
	struct pcpu_io *io = ct_io();
	int rc;

	if (!io)
		return -1;
	io->key = *k;
	rc = sluice_ct_get_g();
	*kh = io->kh;
	if (rc > 0)
		*out = io->conn;
	return rc;
}

static __always_inline int ct_new_put(const struct sluice_conn_key *k,
				      const struct sluice_conn *e,
				      __u64 kh, int only_if_held)
{
	struct pcpu_io *io = ct_io();

	if (!io)
		return -1;
	io->key = *k;
	io->conn = *e;
	return sluice_ct_put_g(kh, only_if_held);
}

static __always_inline int ct_new_del(const struct sluice_conn_key *k,
				      __u64 kh)
{
	struct pcpu_io *io = ct_io();

	if (!io)
		return 0;
	io->key = *k;
	return sluice_ct_del_g(kh);
}

/* -1: no conn_new slot for the flow (not this loader's maps): the caller
 * leaves the packet to the stack. */
static __always_inline int ct_lookup(const struct pkt *pk, struct ct_hit *h)
{
	struct sluice_conn *e;
	int rc;

	h->found = 0;
	h->in_new = 0;
	h->moved = 0;
	h->live = 0;
	e = bpf_map_lookup_elem(&conn_est, &pk->flow);
	if (e) {	/* the hot path: no event counter, stats say enough */
		h->e = *e;
		h->live = e;
		h->found = 1;
		return 0;
	}
	rc = ct_new_get(&pk->flow, &h->e, &h->kh);
	if (rc < 0) {
		event_inc(SLUICE_EV_CONN_INSERT_FAIL);
		return -1;
	}
	if (!rc)
		return 0;	/* counted as a miss once it is known to be a service's */
	h->found = 1;
	h->in_new = 1;
	event_inc(SLUICE_EV_CONN_NEW_HIT);
	return 0;
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
		/* the slot is free again (unless another flow took it) */
		ct_new_del(&pk->flow, h->kh);	/* in_new: h->kh is set */
		event_inc(SLUICE_EV_CONN_PROMOTE);
	}
}

/* After a conn_est miss (h->kh set). */
static __always_inline void ct_insert(const struct pkt *pk, struct ct_hit *h,
				      const struct sluice_conn *e)
{
	if (ct_new_put(&pk->flow, e, h->kh, 0) == 0)
		event_inc(SLUICE_EV_CONN_INSERT);
	else
		event_inc(SLUICE_EV_CONN_INSERT_FAIL);
}

/*
 * Mid-connection TCP packets of flows this node has no entry for (after an
 * ECMP change, or a handshake whose unconfirmed entry was lost): the
 * fleet's common decision forwards them, and the flow is remembered as
 * established once it has shown a second packet. Until then it leaves only
 * a 32-bit tag in conn_door, a direct-mapped array indexed by the key hash
 * (no LRU, no lock: a racing or colliding write only costs a flow one more
 * packet before it is remembered). A spoofed flood of single packets
 * (random tuples) overwrites tags and nothing else: it never reaches
 * conn_est, nor conn_new, so it evicts no flow and no handshake. Returns 1
 * after tagging the flow (its first packet here: a new flow), 0 when the
 * flow was seen before (admit it to conn_est).
 */
static __always_inline int ct_door(const struct pkt *pk, struct ct_hit *h)
{
	__u64 kh = h->kh;	/* a conn_est miss: set */
	__u32 idx = (__u32)kh & door_mask, tag = (__u32)(kh >> 32) | 1;
	__u32 *slot;

	slot = bpf_map_lookup_elem(&conn_door, &idx);
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
static __always_inline void ct_renew(const struct pkt *pk, struct ct_hit *h,
				     const struct sluice_conn *e)
{
	if (!h->in_new)	/* a conn_est hit: no key hash yet */
		h->kh = sluice_key_hash(&pk->flow);
	ct_insert(pk, h, e);
	if (!h->in_new)
		bpf_map_delete_elem(&conn_est, &pk->flow);
}

/* Rewrite the flow's conn_new entry if its slot still holds it. Its own
 * slot lookup: the forwarding tail keeps no slot pointer alive (fewer
 * verifier states). */
static __always_inline void ct_slot_update(const struct pkt *pk,
					   const struct sluice_conn *e)
{
	ct_new_put(&pk->flow, e, sluice_key_hash(&pk->flow), 1);
}

/* Replace a live entry (revert --reset): whichever table holds it. */
static __always_inline void ct_replace(const struct pkt *pk,
				       const struct sluice_conn *e)
{
	if (bpf_map_update_elem(&conn_est, &pk->flow, e, BPF_EXIST) != 0)
		ct_slot_update(pk, e);
}

#endif
