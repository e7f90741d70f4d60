// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark sink and pass-through programs. veth only accepts frames sent
 * with ndo_xdp_xmit (XDP_TX / XDP_REDIRECT from the peer) when an XDP program
 * is attached on the receiving side:
 *  - bench_drop on a sink: drops everything; the veth counts the drops in
 *    `ethtool -S` xdp_drops, which is the delivered-packet counter;
 *  - bench_pass on a kernel-path load balancer's ingress: hands frames to
 *    the stack unchanged.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
