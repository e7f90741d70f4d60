/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The hook under the shared pipeline: XDP or TC. The entry points pass a
 * struct hook whose `xdp` is a constant, so after inlining every branch on
 * it folds away and each program only calls the helpers of its own type.
 * Helpers that move the packet (encapsulation, ICMP replies) invalidate
 * data pointers: callers re-read them with hook_data().
 */
#ifndef SLUICE_BPF_CTX_H
#define SLUICE_BPF_CTX_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct hook {
	void *ctx;		/* struct xdp_md * or struct __sk_buff * */
	__u32 ifindex;		/* ingress device */
	__u32 gso;		/* TC: skb gso_size (0: not GSO) */
	int xdp;		/* 1: XDP, 0: TC (a constant per program) */
};

static __always_inline void *hook_data(const struct hook *hk)
{
	if (hk->xdp)
		return (void *)(long)((struct xdp_md *)hk->ctx)->data;
	return (void *)(long)((struct __sk_buff *)hk->ctx)->data;
}

static __always_inline void *hook_data_end(const struct hook *hk)
{
	if (hk->xdp)
		return (void *)(long)((struct xdp_md *)hk->ctx)->data_end;
	return (void *)(long)((struct __sk_buff *)hk->ctx)->data_end;
}

#endif
