/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarding. DSR: the frame keeps its IP packet byte for byte; only the
 * destination MAC (the backend's) and the source MAC (the egress
 * interface's) change. The IP-in-IP and NAT modes plug in here.
 */
#ifndef SLUICE_BPF_FORWARD_H
#define SLUICE_BPF_FORWARD_H

#include <linux/if_ether.h>
#include "sluice_abi.h"

enum fwd_action {
	FWD_PASS = 0,
	FWD_DROP,
	FWD_OUT,	/* send out of ifindex (0: the ingress interface) */
};

struct fwd {
	__u32 action;
	__u32 ifindex;
};

static __always_inline int forward_dsr(void *data, void *data_end,
				       const struct sluice_backend *be,
				       struct fwd *out)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	/* No egress device configured: the frame leaves where it came in,
	 * from the MAC it was sent to. */
	if (be->ifindex)
		__builtin_memcpy(eth->h_source, be->smac, ETH_ALEN);
	else
		__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
	out->action = FWD_OUT;
	out->ifindex = be->ifindex;
	return 0;
}

#endif
