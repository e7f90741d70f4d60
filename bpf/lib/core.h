/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-packet pipeline shared by the XDP and TC entry points: parse,
 * service lookup, connection table, decision, counters, forwarding. It knows
 * nothing about the hook; the entry points turn struct fwd into a verdict.
 */
#ifndef SLUICE_BPF_CORE_H
#define SLUICE_BPF_CORE_H

#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "decide.h"
#include "conntrack.h"
#include "forward.h"

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
				       int is_new, int syn_retrans)
{
	struct sluice_flow_stats *st;

	st = flow_stats_get(e->svc_id, e->variant, e->ring);
	if (!st)
		return;
	st->packets += 1;
	st->bytes += pk->len;
	if (is_new)
		st->new_flows += 1;
	if (syn_retrans)
		st->syn_retrans += 1;
	if (pk->tcp_flags & TCPF_RST)
		st->client_rst += 1;
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
	ct_replace(pk, &h->e);
	st = flow_stats_get(h->e.svc_id, d.variant, h->e.ring);
	if (st)
		st->reset_moves += 1;
}

/*
 * The connection table is consulted before the service index: a hit carries
 * its service id, so the hot path costs one hash lookup, not two. It still
 * checks that the service exists (an array lookup): a deleted service's
 * leftover entries are not used.
 */
static __always_inline int sluice_process(void *data, void *data_end,
					  __u32 frame_len, struct fwd *out)
{
	struct sluice_backend *be;
	struct pkt pk = {};
	struct ct_hit h;
	__u32 kw, be_id;
	int rc, is_new = 0, syn_retrans = 0;

	out->action = FWD_PASS;
	out->ifindex = 0;
	rc = parse_packet(data, data_end, &pk);
	if (rc != PARSE_OK) {
		event_inc(parse_event(rc));
		return 0;
	}
	if (frame_len)
		pk.len = frame_len;

	ct_lookup(&pk, &h);
	if (h.found) {
		__u32 sid = h.e.svc_id;

		if (!bpf_map_lookup_elem(&svc_cfg, &sid)) {
			event_inc(SLUICE_EV_PASS_NO_CONFIG);
			return 0;
		}
		if (pk.tcp_flags & TCPF_SYN && !(pk.tcp_flags & TCPF_ACK))
			syn_retrans = 1;
		kw = kill_word(sid);
		if (kw & SLUICE_KILL_RESET)
			ct_reset_move(&pk, &h);
	} else {
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
		event_inc(SLUICE_EV_CONN_MISS);
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
		h.e.created_ns = 0;	/* set by the modes that time handshakes */
		if (!pk.icmp_err) {
			ct_insert(&pk, &h.e);
			is_new = 1;
		}
	}

	be_id = h.e.backend_id;
	be = bpf_map_lookup_elem(&backends, &be_id);
	if (!be || !be->family) {
		event_inc(SLUICE_EV_PASS_BAD_BACKEND);
		return 0;
	}
	if (forward_dsr(data, data_end, be, out) < 0) {
		event_inc(SLUICE_EV_PASS_TRUNCATED);
		return 0;
	}
	count_flow(&pk, &h.e, is_new, syn_retrans);
	if (pk.icmp_err)
		event_inc(SLUICE_EV_ICMP_STEERED);
	return 0;
}

#endif
