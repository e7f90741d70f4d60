/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the datapath, pinned by name under the instance's directory. */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sluice_abi.h"
#include "sluice_hash.h"

/* (VIP, port, protocol, family) -> svc_id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_SERVICES);
	__type(key, struct sluice_svc_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svc_index SEC(".maps");

/*
 * svc_id -> that service's whole configuration: element 0 is struct
 * sluice_svc_cfg, then the baseline and canary Maglev tables. Userspace
 * builds a fresh inner map, freezes it and swaps it in with one update, so a
 * reader never sees weights of one generation with tables of another. The
 * kernel keeps a replaced inner map alive until readers are done with it.
 * BPF_F_INNER_MAP lets table sizes differ between services.
 */
struct svc_cfg_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sluice_svc_cfg));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SLUICE_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct svc_cfg_inner);
} svc_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLUICE_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sluice_exposure);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} exposure SEC(".maps");

/* Kill switch words: [svc_id] and [SLUICE_KILL_ALL_INDEX]. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_MAX_SERVICES + 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kill SEC(".maps");

/* Service names for the control plane; the datapath never reads them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLUICE_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sluice_svc_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svc_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLUICE_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sluice_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backends SEC(".maps");

/* Source prefix -> ring id; no match means ring 0 (the default ring). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SLUICE_MAX_PREFIXES);
	__type(key, struct sluice_lpm_v4);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ring_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SLUICE_MAX_PREFIXES);
	__type(key, struct sluice_lpm_v6);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ring_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_MAX_RINGS);
	__type(key, __u32);
	__type(value, struct sluice_ring_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ring_meta SEC(".maps");

/*
 * Connection tables. Shared hash tables: any CPU finds any flow, so a flow
 * that RSS or a generic-XDP path moves to another CPU keeps its backend.
 * Unconfirmed flows (one packet, or only SYNs) live in conn_new; a flow
 * moves to conn_est on its first confirming packet, so a SYN flood churns
 * conn_new only and never evicts established flows. Sizes are set by the
 * loader.
 *
 * conn_est is an LRU hash with the common LRU: the per-CPU LRU
 * (BPF_F_NO_COMMON_LRU) splits a table's capacity evenly between the CPUs
 * for good (one CPU could hold only max_entries / CPUs flows), and the
 * common one takes its global lock only to refill a CPU's free list, 128
 * nodes at a time; conn_est is written once per flow. conn_new is no hash
 * table at all but an array of slots (below): the LRU's eviction walk was
 * the largest cost of a new flow (doc/datapath-flows.md).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_CONN_DEFAULT);
	__type(key, struct sluice_conn_key);
	__type(value, struct sluice_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conn_est SEC(".maps");

/* Unconfirmed flows: slots of struct sluice_conn_slot (sluice_abi.h,
 * conntrack.h); mmapable, so slots start on a page and sit on whole cache
 * lines, and the library sweeps them in memory. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLUICE_CONN_NEW_DEFAULT);
	__type(key, __u32);
	__type(value, struct sluice_conn_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conn_new SEC(".maps");

/* One per-CPU word that hides per-packet flags from the verifier (core.h,
 * before forwarding); not pinned: each loaded object has its own. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} scratch SEC(".maps");

/*
 * Per-CPU inputs and outputs of the global functions (decide.h
 * sluice_flow_hash_g, conntrack.h sluice_ct_*_g): on 5.10 a global
 * function takes no pointer to its caller's stack, only scalars (and the
 * context). Each field is written right before the call that reads it, in
 * the same program run; not pinned.
 */
struct pcpu_io {
	struct sluice_conn_key key;	/* conn_new: the flow */
	struct sluice_conn conn;	/* conn_new: the entry in or out */
	__u64 kh;			/* conn_new: the key's hash (out) */
	struct sluice_flow_words w;	/* the decision hash's words */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcpu_io);
} pcpu_io SEC(".maps");

/* Tags of mid-connection flows seen once (conntrack.h, ct_door); sized by
 * the loader from conn_est's size, a power of two. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_DOOR_MIN);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conn_door SEC(".maps");

/*
 * NAT mode: the reply path's table, keyed by the backend-side tuple (see
 * struct sluice_nat_rev). Written by the forward path when a flow is
 * decided (and again on a retransmitted SYN, so an evicted entry comes
 * back); read by the reverse program on the backend-facing device.
 * nat_rev[0] is empty until the library puts the first NAT service (it
 * creates the table then, sized from the layout's nat_entries, before the
 * service is published): a node without NAT services spends nothing on NAT
 * state. The template's size is irrelevant (hash inner maps may differ).
 */
struct nat_rev_inner {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(struct sluice_conn_key));
	__uint(value_size, sizeof(struct sluice_nat_rev));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct nat_rev_inner);
} nat_rev SEC(".maps");

/* The NAT reverse table, or NULL while no NAT service was ever put. */
static __always_inline void *nat_rev_table(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nat_rev, &zero);
}

/* Next hop per backend id and CPU (ipip, nat): a bpf_fib_lookup cache. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sluice_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nexthop SEC(".maps");

/*
 * SYN -> SYN-ACK latency per (service, variant, ring) (SLUICE_STATS_INDEX),
 * per CPU. Entries are created by the reply path on first use (from
 * lat_zero), so only NAT services with traffic take memory.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct sluice_lat_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lat_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_lat_hist);
} lat_zero SEC(".maps");

/*
 * Handshake timeouts found by the library's sweep of conn_new (flows whose
 * client gave up before retransmitting), per SLUICE_STATS_INDEX. Written by
 * userspace only, under the instance lock; the datapath's own finds are in
 * flow_stats.hs_timeout.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLUICE_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hs_sweep SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct sluice_flow_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_EV_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/*
 * Egress ports for XDP_REDIRECT: ifindex -> ifindex. Pinned by the loader,
 * not by libbpf: the kernel adds BPF_F_RDONLY_PROG to a devmap's flags, which
 * libbpf's pin-reuse check then reports as a mismatch.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

#endif
