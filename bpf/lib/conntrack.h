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
};

static __always_inline void ct_lookup(const struct pkt *pk, struct ct_hit *h)
{
	struct sluice_conn *e;

	h->found = 0;
	h->in_new = 0;
	h->moved = 0;
	e = bpf_map_lookup_elem(&conn_est, &pk->flow);
	if (e) {	/* the hot path: no event counter, stats say enough */
		h->e = *e;
		h->live = e;
		h->found = 1;
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
