// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice entry points: the same pipeline from XDP and from TC ingress, and
 * the NAT reply path (sluice_reply_*) for the backend-facing device.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lib/core.h"

static __always_inline int xdp_verdict(struct xdp_md *ctx, const struct fwd *f)
{
	switch (f->action) {
	case FWD_DROP:
		return XDP_DROP;
	case FWD_OUT:
		if (!f->ifindex || f->ifindex == ctx->ingress_ifindex)
			return XDP_TX;
		/* devmap for configured devices; a FIB-chosen device that is
		 * not in it goes through the plain redirect */
		if (bpf_redirect_map(&tx_ports, f->ifindex, 0) == XDP_REDIRECT)
			return XDP_REDIRECT;
		if (bpf_redirect(f->ifindex, 0) == XDP_REDIRECT)
			return XDP_REDIRECT;
		event_inc(SLUICE_EV_REDIRECT_FAIL);
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	struct hook hk = { .ctx = ctx, .ifindex = ctx->ingress_ifindex, .xdp = 1 };
	struct fwd f;

	sluice_process(&hk, 0, &f);
	return xdp_verdict(ctx, &f);
}

/* Enough linear bytes for every header the parser reads. */
#define TC_PULL_LEN 256

static __always_inline int tc_verdict(struct __sk_buff *skb, const struct fwd *f)
{
	switch (f->action) {
	case FWD_DROP:
		return TC_ACT_SHOT;
	case FWD_OUT:
		return bpf_redirect(f->ifindex ? f->ifindex : skb->ifindex, 0);
	default:
		return TC_ACT_UNSPEC;	/* let later filters and the stack run */
	}
}

SEC("tc")
int sluice_tc(struct __sk_buff *skb)
{
	__u32 pull = skb->len < TC_PULL_LEN ? skb->len : TC_PULL_LEN;
	struct hook hk = { .ctx = skb, .ifindex = skb->ifindex,
			   .gso = skb->gso_size, .xdp = 0 };
	struct fwd f;

	if (bpf_skb_pull_data(skb, pull) < 0)
		return TC_ACT_UNSPEC;
	sluice_process(&hk, skb->len, &f);
	return tc_verdict(skb, &f);
}

SEC("xdp")
int sluice_reply_xdp(struct xdp_md *ctx)
{
	struct hook hk = { .ctx = ctx, .ifindex = ctx->ingress_ifindex, .xdp = 1 };
	struct fwd f;

	sluice_reply(&hk, &f);
	return xdp_verdict(ctx, &f);
}

SEC("tc")
int sluice_reply_tc(struct __sk_buff *skb)
{
	__u32 pull = skb->len < TC_PULL_LEN ? skb->len : TC_PULL_LEN;
	struct hook hk = { .ctx = skb, .ifindex = skb->ifindex,
			   .gso = skb->gso_size, .xdp = 0 };
	struct fwd f;

	if (bpf_skb_pull_data(skb, pull) < 0)
		return TC_ACT_UNSPEC;
	sluice_reply(&hk, &f);
	return tc_verdict(skb, &f);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
