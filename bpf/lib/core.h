/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-packet pipeline shared by the XDP and TC entry points: parse,
 * service lookup, connection table, decision, counters, forwarding. It knows
 * nothing about the hook; the entry points turn struct fwd into a verdict.
 */
#ifndef SLUICE_BPF_CORE_H
#define SLUICE_BPF_CORE_H

#include "ctx.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "decide.h"
#include "conntrack.h"
#include "forward.h"
#include "nexthop.h"
#include "encap.h"
#include "nat.h"
#include "health.h"
#include "reuse.h"

static __always_inline __u32 parse_event(int rc)
{
	switch (rc) {
	case PARSE_NOT_IP:	return SLUICE_EV_PASS_NOT_IP;
	case PARSE_TRUNCATED:	return SLUICE_EV_PASS_TRUNCATED;
	case PARSE_FRAGMENT:	return SLUICE_EV_PASS_FRAGMENT;
	case PARSE_ICMP_OTHER:	return SLUICE_EV_PASS_ICMP_OTHER;
	case PARSE_OTHER_L4:	return SLUICE_EV_PASS_NO_SERVICE;
	default:		return SLUICE_EV_PASS_MALFORMED;
	}
}

static __always_inline void count_flow(const struct pkt *pk,
				       const struct sluice_conn *e,
				       int is_new, int syn_retrans, int hs_to)
{
	struct sluice_flow_stats *st;

	st = flow_stats_get(e->svc_id, e->variant, e->ring);
	if (!st)
		return;
	/* without branches: the flags are constants on most verifier paths,
	 * and a branch on each would keep those paths apart (the program is
	 * near the verifier's 1M-instruction limit) */
	st->packets += 1;
	st->bytes += pk->len;
	st->new_flows += is_new != 0;
	st->syn_retrans += syn_retrans != 0;
	st->client_rst += (pk->tcp_flags & TCPF_RST) != 0;
	st->hs_timeout += hs_to != 0;
}

/* Re-decide a live flow that revert --reset moves to last-known-good. */
static __always_inline void ct_reset_move(const struct pkt *pk,
					  struct ct_hit *h)
{
	struct svc_view v;
	struct decision d;
	struct sluice_flow_stats *st;

	if (svc_view_get(h->e.svc_id, &v) < 0 || h->e.variant == view_lkg(&v))
		return;
	if (decide(&v, &pk->flow, h->e.ring, view_lkg(&v), &d) < 0)
		return;
	h->e.backend_id = d.backend_id;
	h->e.variant = d.variant;
	h->e.gen = v.cfg->gen;
	h->moved = 1;
	ct_replace(pk, &h->e);
	st = flow_stats_get(h->e.svc_id, d.variant, h->e.ring);
	if (st)
		st->reset_moves += 1;
}

/* What a mode's forwarding did with the packet. */
enum fwd_rc {
	FR_SENT = 0,	/* out (or to the stack after a rewrite): count it */
	FR_PASS,	/* untouched, to the stack: an event says why */
	FR_DONE,	/* answered (ICMP) or dropped: not the flow's traffic */
};

/*
 * IP-in-IP: next hop, size check, encapsulation. A missing neighbour sends
 * the encapsulated packet through the stack, which resolves it (and the
 * next packet finds it); a missing route leaves the packet untouched.
 */
static __always_inline int fwd_ipip(const struct hook *hk,
				    const struct pkt *pk, __u32 be_id,
				    const struct sluice_backend *be,
				    struct fwd *out)
{
	struct sluice_nexthop *nh = 0;
	__u32 olen = pk->flow.family == AF_INET ? sizeof(struct iphdr)
						 : sizeof(struct ipv6hdr);
	int rc = nexthop_get(hk, be_id, be, &nh);

	if (rc == NH_FAIL) {
		event_inc(SLUICE_EV_PASS_FIB_FAIL);
		return FR_PASS;
	}
	if (rc == NH_OTHER) {
		event_inc(SLUICE_EV_PASS_FIB_OTHER);
		return FR_PASS;
	}
	if (rc == NH_OK && nh && !hk->gso && pk->ip_len + olen > nh->mtu) {
		if (icmp_too_big(hk, pk, nh->mtu - olen) == 0) {
			event_inc(SLUICE_EV_ICMP_TOO_BIG);
			out->action = FWD_OUT;
			out->ifindex = 0;
			return FR_DONE;
		}
		event_inc(SLUICE_EV_PASS_TOO_BIG);
		return FR_PASS;
	}
	if (encap_ipip(hk, pk, be)) {
		event_inc(SLUICE_EV_PASS_ENCAP_FAIL);
		return FR_PASS;
	}
	if (rc == NH_NO_NEIGH || !nh) {
		event_inc(SLUICE_EV_FIB_NO_NEIGH);
		out->action = FWD_PASS;
		return FR_SENT;
	}
	set_macs(hook_data(hk), hook_data_end(hk), nh->dmac, nh->smac);
	out->action = FWD_OUT;
	out->ifindex = nh->ifindex;
	return FR_SENT;
}

/* A re-decided NAT flow's reverse entry for its old backend, if any. */
static __always_inline void nat_rev_drop(const struct pkt *pk, __u32 be_id)
{
	struct sluice_backend *be = bpf_map_lookup_elem(&backends, &be_id);
	struct sluice_conn_key k;
	void *tbl = nat_rev_table();	/* the inner table, once NAT exists */

	if (!be || !be->family || !tbl)
		return;
	nat_rev_key(pk, be, &k);
	bpf_map_delete_elem(tbl, &k);
}

/* Destination NAT; the reply path's entry is written with the decision. */
static __always_inline int fwd_nat(const struct hook *hk, const struct pkt *pk,
				   const struct ct_hit *h, int rev, __u32 be_id,
				   const struct sluice_backend *be,
				   struct fwd *out)
{
	struct sluice_nexthop *nh = 0;
	int rc;

	if (pk->icmp_err) {
		event_inc(SLUICE_EV_PASS_NAT_ICMP);
		return FR_PASS;
	}
	rc = nexthop_get(hk, be_id, be, &nh);
	if (rc == NH_FAIL) {
		event_inc(SLUICE_EV_PASS_FIB_FAIL);
		return FR_PASS;
	}
	if (rc == NH_OTHER) {
		event_inc(SLUICE_EV_PASS_FIB_OTHER);
		return FR_PASS;
	}
	if (rev) {
		struct sluice_conn_key k;
		struct sluice_nat_rev r = {};
		void *tbl;

		nat_rev_key(pk, be, &k);
		r.vip = pk->flow.dst;
		r.vport = pk->flow.dport;
		r.svc_id = h->e.svc_id;
		r.variant = h->e.variant;
		r.ring = h->e.ring;
		r.syn_ns = h->e.created_ns;
		/* a retransmitted SYN restores an evicted entry, never resets
		 * one (its SYN-ACK may already have been timed) */
		tbl = nat_rev_table();
		if ((!tbl || bpf_map_update_elem(tbl, &k, &r,
						 rev > 1 ? BPF_NOEXIST : BPF_ANY)) &&
		    rev == 1)
			event_inc(SLUICE_EV_NAT_REV_FAIL);
	}
	if (nat_rewrite(hk, pk, 1, &be->addr, be->port)) {
		event_inc(SLUICE_EV_PASS_MALFORMED);
		return FR_PASS;
	}
	if (rc == NH_NO_NEIGH || !nh) {
		event_inc(SLUICE_EV_FIB_NO_NEIGH);
		out->action = FWD_PASS;
		return FR_SENT;
	}
	set_macs(hook_data(hk), hook_data_end(hk), nh->dmac, nh->smac);
	out->action = FWD_OUT;
	out->ifindex = nh->ifindex;
	return FR_SENT;
}

/*
 * The connection table is consulted before the service index: a hit carries
 * its service id, so the hot path costs one hash lookup, not two. It still
 * checks that the service exists (an array lookup): a deleted service's
 * leftover entries are not used. The backend record says the mode; DSR
 * touches nothing else.
 */
static __always_inline int sluice_process(const struct hook *hk,
					  __u32 frame_len, struct fwd *out)
{
	void *data = hook_data(hk), *data_end = hook_data_end(hk);
	struct sluice_backend *be;
	struct pkt pk = {};
	struct ct_hit h;
	__u32 kw, be_id, seq = 0, now = 0, old_be = 0;
	int rc, is_new = 0, syn_retrans = 0, hs_to = 0, rev = 0, fresh = 0;
	int retrans_bad = 0;	/* the flow's first retransmitted SYN */

	out->action = FWD_PASS;
	out->ifindex = 0;
	rc = parse_packet(hk, data, data_end, &pk);
	if (rc != PARSE_OK) {
		event_inc(parse_event(rc));
		return 0;
	}
	if (frame_len)
		pk.len = frame_len;

	if (ct_lookup(&pk, &h) < 0)
		return 0;
	if (h.found) {
		__u32 sid = h.e.svc_id, zero = 0, was_est = !h.in_new;
		struct sluice_svc_cfg *cfg;
		void *inner = bpf_map_lookup_elem(&svc_cfg, &sid);

		if (!inner) {
			event_inc(SLUICE_EV_PASS_NO_CONFIG);
			return 0;
		}
		if (pk.icmp_err) {
			/* an ICMP error follows its flow as it is */
		} else if (pk.flow.proto == IPPROTO_TCP && is_bare_syn(&pk)) {
			if (tcp_seq_of(hk, &pk, &seq) == 0 && syn_is_new(&h.e, seq)) {
				fresh = 1;
			} else {
				syn_retrans = 1;
				/* a client retrying its SYN is one bad event
				 * per flow, not one per retry: marked on the
				 * unconfirmed entry (where a retried SYN
				 * finds its flow; no new branch, the
				 * verifier's budget is tight) */
				retrans_bad = !(h.e.flags & SLUICE_CONN_RETRANS_COUNTED);
				h.e.flags |= SLUICE_CONN_RETRANS_COUNTED;
				ct_slot_update(&pk, &h.e);	/* only if its slot holds it */
			}
		} else if (pk.flow.proto == IPPROTO_UDP) {
			/* any timeout is at least one tick: a flow seen in
			 * this tick or the last cannot be idle, so the hot
			 * path does not read the configuration */
			now = seen_tick();
			cfg = now - h.e.seen > 1 ? bpf_map_lookup_elem(inner, &zero) : 0;
			if (cfg && udp_is_idle(&h.e, now,
					       udp_idle_ticks(cfg->udp_idle_s)))
				fresh = 1;
		}
		if (!fresh) {
			/* TCP keeps the seen tick too (a load of jiffies, a
			 * store once a tick): what counts a flow as live when
			 * a rollback sends live canary flows away
			 * (sluice_live_flows) */
			if (!now)
				now = seen_tick();
			ct_confirm(&pk, &h, now);
			if (now && was_est && !pk.icmp_err && h.live)
				udp_touch(h.live, now);
			kw = kill_word(sid);
			if (kw & SLUICE_KILL_RESET)
				ct_reset_move(&pk, &h);
		} else {
			old_be = h.e.backend_id;
		}
	}
	if (!h.found || fresh) {
		struct sluice_svc_key sk = {};
		struct svc_view v;
		struct decision d;
		__u32 *svc_id, ring;

		sk.vip = pk.flow.dst;
		sk.port = pk.flow.dport;
		sk.proto = pk.flow.proto;
		sk.family = pk.flow.family;
		svc_id = bpf_map_lookup_elem(&svc_index, &sk);
		if (!svc_id) {
			event_inc(SLUICE_EV_PASS_NO_SERVICE);
			return 0;
		}
		event_inc(fresh ? SLUICE_EV_CONN_REDECIDE : SLUICE_EV_CONN_MISS);
		if (svc_view_get(*svc_id, &v) < 0) {
			event_inc(SLUICE_EV_PASS_NO_CONFIG);
			return 0;
		}
		kw = kill_word(*svc_id);
		ring = ring_of(&pk.flow);
		if (decide(&v, &pk.flow, ring,
			   (kw & SLUICE_KILL_REVERT) ? (int)view_lkg(&v) : -1,
			   &d) < 0) {
			event_inc(SLUICE_EV_DROP_NO_BACKEND);
			out->action = FWD_DROP;
			return 0;
		}
		h.e.backend_id = d.backend_id;
		h.e.svc_id = *svc_id;
		h.e.variant = d.variant;
		h.e.ring = d.ring;
		h.e.flags = (pk.tcp_flags & TCPF_SYN) ? SLUICE_CONN_SYN : 0;
		h.e.gen = v.cfg->gen;
		h.e.created_ns = 0;
		h.e.syn_seq = 0;
		h.e.seen = 0;
		if (pk.flow.proto == IPPROTO_TCP && (pk.tcp_flags & TCPF_SYN) &&
		    !pk.icmp_err) {
			if (!fresh && tcp_seq_of(hk, &pk, &seq) < 0)
				seq = 0;
			h.e.syn_seq = seq;
		}
		if (pk.flow.proto == IPPROTO_UDP)
			h.e.seen = now ? now : seen_tick();
		/* NAT times handshakes: SYN -> SYN-ACK, and their timeout */
		if (v.cfg->mode == SLUICE_MODE_NAT && (pk.tcp_flags & TCPF_SYN))
			h.e.created_ns = bpf_ktime_get_ns();
		if (fresh) {
			ct_renew(&pk, &h, &h.e);
			if (v.cfg->mode == SLUICE_MODE_NAT && old_be != d.backend_id)
				nat_rev_drop(&pk, old_be);
			h.in_new = 1;
			is_new = 1;
		} else if (pk.icmp_err) {
			/* an ICMP error follows its flow's decision and
			 * makes no entry */
		} else if (pk.flow.proto == IPPROTO_TCP &&
			   !(pk.tcp_flags & TCPF_SYN)) {
			/* mid-connection, unknown here (ct_door) */
			is_new = ct_door(&pk, &h);
			if (!is_new)
				ct_admit(&pk, &h.e);
		} else {
			ct_insert(&pk, &h, &h.e);
			is_new = 1;
		}
	}

	/*
	 * For the verifier, not the packet: on most paths to here these flags
	 * are constants, and the branches on them below would keep those paths
	 * apart all through the forwarding code (the program was near the
	 * 1M processed-instructions limit). Passed through a per-CPU word,
	 * they are values the verifier does not know, and paths merge
	 * (sluice_tc: 753K instead of 957K on 6.18). A few ns per packet.
	 */
	{
		__u32 k0 = 0, fl = is_new | syn_retrans << 1 | h.in_new << 2 | h.moved << 3;
		__u32 *sc = bpf_map_lookup_elem(&scratch, &k0);

		if (sc) {
			*sc = fl;
			fl = *(volatile __u32 *)sc;
		}
		is_new = fl & 1;
		syn_retrans = (fl >> 1) & 1;
		h.in_new = (fl >> 2) & 1;
		h.moved = (fl >> 3) & 1;
	}
	be_id = h.e.backend_id;
	be = bpf_map_lookup_elem(&backends, &be_id);
	if (!be || !be->family) {
		event_inc(SLUICE_EV_PASS_BAD_BACKEND);
		return 0;
	}
	if (be->mode == SLUICE_MODE_DSR) {
		if (forward_dsr(data, data_end, be, out) < 0) {
			event_inc(SLUICE_EV_PASS_TRUNCATED);
			return 0;
		}
		count_flow(&pk, &h.e, is_new, retrans_bad, 0);
		if (pk.icmp_err)
			event_inc(SLUICE_EV_ICMP_STEERED);
		return 0;
	}
	if (be->mode == SLUICE_MODE_IPIP) {
		rc = fwd_ipip(hk, &pk, be_id, be, out);
	} else {
		if (syn_retrans && h.in_new && h.e.created_ns &&
		    !(h.e.flags & SLUICE_CONN_HS_COUNTED) &&
		    bpf_ktime_get_ns() - h.e.created_ns >= SLUICE_HS_TIMEOUT_NS) {
			hs_to = 1;
			h.e.flags |= SLUICE_CONN_HS_COUNTED;
			ct_slot_update(&pk, &h.e);
		}
		rev = is_new || h.moved ? 1 : (syn_retrans ? 2 : 0);
		rc = fwd_nat(hk, &pk, &h, rev, be_id, be, out);
	}
	if (rc != FR_SENT)
		return 0;
	count_flow(&pk, &h.e, is_new, retrans_bad, hs_to);
	if (pk.icmp_err)
		event_inc(SLUICE_EV_ICMP_STEERED);
	return 0;
}

/*
 * NAT reply path, for the backend-facing device: a reply whose backend-side
 * tuple is in nat_rev gets the VIP and service port back as its source and
 * goes to the client (FIB next hop, or the stack when there is none yet).
 * Everything else passes untouched. Reply-side health signals are taken
 * here: the first SYN-ACK's latency, and backend RSTs.
 */
static __always_inline int sluice_reply(const struct hook *hk,
					struct fwd *out)
{
	void *data = hook_data(hk), *data_end = hook_data_end(hk);
	struct sluice_nat_rev *r, rv;
	struct bpf_fib_lookup p;
	void *tbl;
	struct pkt pk = {};
	int rc;

	out->action = FWD_PASS;
	out->ifindex = 0;
	if (parse_packet(hk, data, data_end, &pk) != PARSE_OK || pk.icmp_err)
		return 0;
	tbl = nat_rev_table();
	r = tbl ? bpf_map_lookup_elem(tbl, &pk.flow) : NULL;
	if (!r) {
		event_inc(SLUICE_EV_NAT_REPLY_MISS);
		return 0;
	}
	rv = *r;
	if (pk.flow.proto == IPPROTO_TCP) {
		if ((pk.tcp_flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK) &&
		    !(rv.flags & SLUICE_REV_ANSWERED)) {
			r->flags = rv.flags | SLUICE_REV_ANSWERED;
			if (rv.syn_ns)
				lat_record(rv.svc_id, rv.variant, rv.ring,
					   bpf_ktime_get_ns() - rv.syn_ns);
		}
		/* once a flow: a refused flow may draw several RSTs (one per
		 * SYN, per segment in flight) but is one bad event */
		if ((pk.tcp_flags & TCPF_RST) && !(rv.flags & SLUICE_REV_RST)) {
			struct sluice_flow_stats *st;

			st = flow_stats_get(rv.svc_id, rv.variant, rv.ring);
			if (st)
				st->backend_rst += 1;
			r->flags = rv.flags | SLUICE_REV_RST;
		}
	}
	if (nat_rewrite(hk, &pk, 0, &rv.vip, rv.vport))
		return 0;
	event_inc(SLUICE_EV_NAT_REPLY);
	rc = fib_to(hk, pk.flow.family, &pk.flow.dst, &p);
	if (rc != NH_OK)
		return 0;	/* translated; the stack finds the way */
	set_macs(hook_data(hk), hook_data_end(hk), p.dmac, p.smac);
	out->action = FWD_OUT;
	out->ifindex = p.ifindex;
	return 0;
}

#endif
