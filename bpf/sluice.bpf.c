// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice entry points: the same pipeline from XDP and from TC ingress. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lib/core.h"

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct fwd f;

	sluice_process(data, data_end, 0, &f);
	switch (f.action) {
	case FWD_DROP:
		return XDP_DROP;
	case FWD_OUT:
		if (!f.ifindex || f.ifindex == ctx->ingress_ifindex)
			return XDP_TX;
		if (bpf_redirect_map(&tx_ports, f.ifindex, 0) != XDP_REDIRECT) {
			event_inc(SLUICE_EV_REDIRECT_FAIL);
			return XDP_DROP;
		}
		return XDP_REDIRECT;
	default:
		return XDP_PASS;
	}
}

/* Enough linear bytes for every header the parser reads. */
#define TC_PULL_LEN 256

SEC("tc")
int sluice_tc(struct __sk_buff *skb)
{
	__u32 pull = skb->len < TC_PULL_LEN ? skb->len : TC_PULL_LEN;
	void *data, *data_end;
	struct fwd f;

	if (bpf_skb_pull_data(skb, pull) < 0)
		return TC_ACT_UNSPEC;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	sluice_process(data, data_end, skb->len, &f);
	switch (f.action) {
	case FWD_DROP:
		return TC_ACT_SHOT;
	case FWD_OUT:
		return bpf_redirect(f.ifindex ? f.ifindex : skb->ifindex, 0);
	default:
		return TC_ACT_UNSPEC;	/* let later filters and the stack run */
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
