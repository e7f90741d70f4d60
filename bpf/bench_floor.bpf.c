// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark floor: the least an XDP load balancer can do per packet. Rewrite
 * the Ethernet addresses and redirect through a devmap to the interface that
 * leads to the sink. Loaded and configured by tests/bench/xdpload.c.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

const volatile __u8 dmac[6];	/* the sink's address */
const volatile __u8 smac[6];	/* the egress interface's address */

SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *eth = data;
	int i;

	if (data + 14 > data_end)
		return XDP_DROP;
#pragma unroll
	for (i = 0; i < 6; i++) {
		eth[i] = dmac[i];
		eth[6 + i] = smac[i];
	}
	return bpf_redirect_map(&tx_port, 0, XDP_DROP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
