/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the sluice datapath (bpf/) and its control plane (user/).
 * One definition for both sides: map keys and values, stats records and
 * constants. Every struct has explicit padding and a size assertion so that
 * the two compilers (clang -target bpf, gcc) cannot lay them out differently.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

#define SLUICE_BUCKETS		10000	/* weight unit: basis points of flows */
#define SLUICE_MAX_SERVICES	4096
#define SLUICE_MAX_BACKENDS	65536
#define SLUICE_MAX_RINGS	8	/* ring 0 is the default ring */
#define SLUICE_MAX_PREFIXES	4096	/* ring prefixes per family, all rings */
#define SLUICE_NAME_LEN		32
#define SLUICE_RING_NAME_LEN	16

/* Maglev lookup table: slots per pool, a prime. */
#define SLUICE_TABLE_DEFAULT	16381
#define SLUICE_TABLE_MAX	65537
/* Slots are packed SLUICE_SLOTS_PER_ELEM to an inner-map element. */
#define SLUICE_SLOTS_PER_ELEM	16
#define SLUICE_NO_BACKEND	0xffffffffu

#define SLUICE_CONN_DEFAULT	(1u << 20)	/* established-flow table */
#define SLUICE_CONN_NEW_DEFAULT	(1u << 18)	/* unconfirmed-flow table */
#define SLUICE_CONN_MIN		1024		/* smallest table an attach takes */
#define SLUICE_CONN_MAX		(1u << 28)
/* conn_door: 32-bit tags of mid-connection flows seen once (bpf/lib/
 * conntrack.h); slots: conn_est's entries rounded up to a power of two,
 * times two, within these bounds. conn_new's slots: conn_new's entries
 * rounded up to a power of two. */
#define SLUICE_DOOR_MIN		(1u << 12)
#define SLUICE_DOOR_MAX		(1u << 26)

/*
 * Layout of the pinned maps. The `layout` pin (an array of one struct
 * sluice_layout) is made first when an instance is created and read first
 * whenever one is opened: a build whose SLUICE_LAYOUT_VERSION differs from
 * the pins' refuses them (it would misread keys or values), naming the way
 * to migrate. Bump the version with any change to a pinned map's key,
 * value, type, flags or meaning. magic and version never move.
 */
#define SLUICE_LAYOUT_MAGIC	0x65636c73u	/* "slce" */
#define SLUICE_LAYOUT_VERSION	3		/* 1: before the layout pin;
						 * 2: 32-byte conn entries, conn_est
						 * with per-CPU LRU lists, conn_new
						 * an LRU hash */

struct sluice_layout {
	__u32 magic;
	__u32 version;
	__u32 conn_entries;	/* conn_est max_entries */
	__u32 conn_new_entries;	/* conn_new max_entries */
	__u32 nat_entries;	/* the NAT reverse table, made on first use */
	__u32 pad[3];
};
_Static_assert(sizeof(struct sluice_layout) == 32, "layout size");

enum sluice_variant {
	SLUICE_BASELINE = 0,	/* also "blue" */
	SLUICE_CANARY = 1,	/* also "green" */
	SLUICE_VARIANTS = 2,
};

enum sluice_affinity {
	SLUICE_AFF_CONNECTION = 0,	/* flow key: 5-tuple */
	SLUICE_AFF_CLIENT = 1,		/* flow key: client address */
};

enum sluice_mode {
	SLUICE_MODE_DSR = 0,	/* L2 direct server return: MAC rewrite */
	SLUICE_MODE_IPIP = 1,	/* IPv4-in-IPv4 / IPv6-in-IPv6 to the backend */
	SLUICE_MODE_NAT = 2,	/* destination NAT; replies translated back */
	SLUICE_MODES = 3,
};

/* Handshakes not answered within this time count as hs_timeout (NAT mode):
 * below Linux's 1 s initial SYN RTO, so the first retransmission of an
 * unanswered SYN is the datapath's evidence (see bpf/lib/health.h). */
#define SLUICE_HS_TIMEOUT_NS	750000000ull

/*
 * SYN -> SYN-ACK latency histogram (NAT mode), log-linear, in microseconds:
 * buckets 0..15 hold 0..15 us exactly; above that each power of two
 * [2^e, 2^(e+1)), e = 4..25, is cut into 16 equal sub-buckets, so a bucket
 * is at most 1/16 = 6.25% of its lower bound wide. Reporting a bucket's
 * midpoint puts any percentile within 3.2% of the true sample value (the
 * issue asks for 5%). Values from 2^26 us (67 s) up land in the last bucket.
 */
#define SLUICE_LAT_SUB_BITS	4
#define SLUICE_LAT_SUB		(1u << SLUICE_LAT_SUB_BITS)
#define SLUICE_LAT_MAX_EXP	25
#define SLUICE_LAT_BUCKETS	(SLUICE_LAT_SUB + \
				 (SLUICE_LAT_MAX_EXP - SLUICE_LAT_SUB_BITS + 1) * SLUICE_LAT_SUB)

struct sluice_lat_hist {
	__u64 b[SLUICE_LAT_BUCKETS];
};
_Static_assert(SLUICE_LAT_BUCKETS == 368, "latency bucket count");

/* Addresses: IPv4 lives in the first word, the rest is zero. */
union sluice_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 bytes[16];
};

/* svc_index key: what identifies a service on the wire. */
struct sluice_svc_key {
	union sluice_addr vip;
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;		/* AF_INET or AF_INET6 */
};
_Static_assert(sizeof(struct sluice_svc_key) == 20, "svc_key size");

/*
 * Element 0 of a service's configuration inner map. The rest of that inner
 * map holds the two Maglev tables (baseline first, then canary), each
 * table_elems elements of struct sluice_slots. An inner map is written once,
 * frozen, and swapped into svc_cfg with one update: a packet sees either the
 * old or the new configuration as a whole.
 */
struct sluice_svc_cfg {
	__u16 weight[SLUICE_MAX_RINGS];	/* canary buckets per ring, 0..10000 */
	__u32 seed;
	__u32 table_size;		/* M: slots per table, prime */
	__u32 table_elems;		/* elements per table */
	__u32 gen;			/* configuration generation */
	__u32 svc_id;
	__u16 nbackends[SLUICE_VARIANTS];
	__u8 affinity;
	__u8 mode;
	__u8 lkg;			/* last-known-good variant for revert */
	__u8 tun_plen;			/* ipip: outer source prefix length */
	union sluice_addr tun_src;	/* ipip: outer source prefix */
	__u32 udp_idle_s;		/* UDP: idle seconds before a re-decision */
};
_Static_assert(sizeof(struct sluice_svc_cfg) == 64, "svc_cfg size");
_Static_assert(__builtin_offsetof(struct sluice_svc_cfg, udp_idle_s) == 60,
	       "svc_cfg udp_idle_s offset");
_Static_assert(__builtin_offsetof(struct sluice_svc_cfg, tun_src) == 44,
	       "svc_cfg tun_src offset");

struct sluice_slots {
	__u32 backend[SLUICE_SLOTS_PER_ELEM];
};
_Static_assert(sizeof(struct sluice_slots) == sizeof(struct sluice_svc_cfg),
	       "a config element and a table element share one value size");

/*
 * Kill switch word, per service (index svc_id) and for all services (index
 * SLUICE_MAX_SERVICES). One aligned 32-bit write flips it.
 */
#define SLUICE_KILL_REVERT	(1u << 0)	/* new flows -> lkg variant */
#define SLUICE_KILL_RESET	(1u << 1)	/* and re-decide live canary flows */
#define SLUICE_KILL_ALL_INDEX	SLUICE_MAX_SERVICES

/* Backend flags (control plane state kept beside the forwarding data). */
#define SLUICE_BE_IN_USE	(1u << 0)
#define SLUICE_BE_DRAINING	(1u << 1)	/* keeps flows, gets no new ones */
/* health check failed (sluiced): out of its pool's table like a draining
 * one, unless every active backend of the pool is down (then all stay) */
#define SLUICE_BE_DOWN		(1u << 2)

/*
 * backends[id]. Forwarding fields are immutable while the id is in use: an
 * edit of address, MAC or interface takes a new id, so a reader never sees a
 * half-written destination. weight/flags are read by the control plane only.
 */
struct sluice_backend {
	union sluice_addr addr;
	__be16 port;
	__u8 family;
	__u8 variant;
	__u8 mac[6];		/* destination MAC (DSR) */
	__u8 smac[6];		/* source MAC: the egress interface's */
	__u32 ifindex;		/* egress interface; 0: the ingress one */
	__u8 mode;		/* enum sluice_mode of the service */
	__u8 tun_plen;		/* ipip: outer source prefix length */
	__u8 pad[2];
	union sluice_addr tun_src;	/* ipip: outer source prefix */
	/* the datapath reads nothing below: control-plane state */
	__u32 svc_id;
	__u32 weight;
	__u32 flags;
	__u32 pad2;
};
_Static_assert(sizeof(struct sluice_backend) == 72, "backend size");
_Static_assert(__builtin_offsetof(struct sluice_backend, tun_src) == 40,
	       "backend tun_src offset");

/* Service names and keys for the control plane, indexed by svc_id. */
#define SLUICE_SVC_IN_USE	(1u << 0)
/* control plane only (the datapath never reads them): announce the VIP
 * over BGP (the service's `bgp:` in YAML), and the operator's drain
 * (`sluice service drain`: withdrawn, still forwarding), which a service
 * put keeps */
#define SLUICE_SVC_ANNOUNCE	(1u << 1)
#define SLUICE_SVC_DRAINED	(1u << 2)
struct sluice_svc_meta {
	char name[SLUICE_NAME_LEN];
	struct sluice_svc_key key;
	__u32 flags;
	__u32 gen;		/* generation of the published configuration */
	__u32 pad;
};
_Static_assert(sizeof(struct sluice_svc_meta) == 64, "svc_meta size");

/*
 * exposure[svc_id]: the fast path for weight and last-known-good changes,
 * which would otherwise cost a configuration swap (an RCU grace period,
 * ~10 ms). The datapath uses these fields only while gen equals the live
 * configuration's gen, and falls back to the configuration's own otherwise.
 * Userspace writes them through mmap with plain aligned stores: a packet
 * reads one weight (one 16-bit load), old or new, both valid for the same
 * tables. Fields are rewritten for a new gen only after that gen was
 * published, and publishing waits out every reader of the previous one.
 */
struct sluice_exposure {
	__u32 gen;
	__u16 weight[SLUICE_MAX_RINGS];
	__u8 lkg;
	__u8 pad[11];
};
_Static_assert(sizeof(struct sluice_exposure) == 32, "exposure size");

struct sluice_ring_meta {
	char name[SLUICE_RING_NAME_LEN];
	__u32 in_use;
	__u32 pad;
};
_Static_assert(sizeof(struct sluice_ring_meta) == 24, "ring_meta size");

/* ring_v4 / ring_v6: longest-prefix match of the source -> ring id. */
struct sluice_lpm_v4 {
	__u32 prefixlen;
	__be32 addr;
};
struct sluice_lpm_v6 {
	__u32 prefixlen;
	__be32 addr[4];
};

/* Connection tables: the client -> VIP 5-tuple. */
struct sluice_conn_key {
	union sluice_addr src;
	union sluice_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct sluice_conn_key) == 40, "conn_key size");

#define SLUICE_CONN_SYN		(1u << 0)	/* first packet was a SYN */
#define SLUICE_CONN_HS_COUNTED	(1u << 1)	/* counted as hs_timeout once */
#define SLUICE_CONN_RETRANS_COUNTED (1u << 2)	/* counted as syn_retrans once */

/*
 * Tuple reuse. A bare SYN (no ACK) on a tuple with an entry is a
 * retransmission when it repeats the entry's syn_seq, and a new connection
 * otherwise: that one is decided afresh. A UDP entry silent for longer than
 * its service's udp_idle_s is decided afresh on its next packet. seen is
 * bpf_ktime_get_ns() >> SLUICE_SEEN_SHIFT (ticks of ~1.07 s, wrapping after
 * ~146 years), rewritten only when the tick changes: the one field the
 * datapath writes in place (an aligned 32-bit store; a reader on another
 * CPU sees the old or the new tick).
 */
#define SLUICE_SEEN_SHIFT	30
#define SLUICE_UDP_IDLE_DEFAULT	30	/* seconds */
#define SLUICE_UDP_IDLE_MAX	86400

struct sluice_conn {
	__u32 backend_id;
	__u16 svc_id;
	__u8 variant;
	__u8 ring;
	__u32 flags;
	__u32 gen;		/* svc config generation that decided it */
	__u64 created_ns;	/* NAT mode: first SYN (bpf_ktime_get_ns) */
	__u32 syn_seq;		/* TCP: the deciding SYN's sequence number */
	__u32 seen;		/* last packet's tick (SLUICE_SEEN_SHIFT); TCP: once
				 * confirmed (live-flow counts) */
	__u64 pad;		/* see below */
};
/*
 * 40 bytes, not 32: the kernel's hash element is a 48-byte header, the
 * 40-byte key and the value, so 40 makes it 128 bytes, two whole cache
 * lines from a page-aligned array (with 32 it was 120 bytes at any 8-byte
 * offset: three lines for most lookups of a cold entry). doc/datapath-flows.md
 */
_Static_assert(sizeof(struct sluice_conn) == 40, "conn size");
_Static_assert(__builtin_offsetof(struct sluice_conn, syn_seq) == 24,
	       "conn syn_seq offset");

/*
 * conn_new: unconfirmed flows (a SYN, or one UDP packet), a direct-mapped
 * array of slots, not a hash table: a flow's slot is its key hash
 * (sluice_key_hash) masked to the array's size (a power of two), and a new
 * flow overwrites whatever its slot held. No LRU lists, no bucket locks, no
 * eviction walk: an insert writes two cache lines and a lookup reads them.
 * Slots are written in place with plain stores, so a reader checks `check`
 * (sluice_slot_check of the key hash and the entry): a torn or empty slot
 * fails it and reads as no entry. bpf/lib/conntrack.h, doc/datapath-flows.md
 */
struct sluice_conn_slot {
	struct sluice_conn_key key;
	struct sluice_conn conn;
	__u64 check;
	__u8 pad[40];		/* 128 bytes: two whole cache lines */
};
_Static_assert(sizeof(struct sluice_conn_slot) == 128, "conn slot size");
_Static_assert(__builtin_offsetof(struct sluice_conn_slot, conn) == 40,
	       "conn slot entry offset");

/*
 * NAT mode reply path: nat_rev is keyed by the backend-side tuple as the
 * reply carries it (src = backend address and port, dst = client address
 * and port; struct sluice_conn_key) and gives what the client expects to
 * see (the VIP and service port) plus the flow's tags for health signals.
 */
#define SLUICE_REV_ANSWERED	(1u << 0)	/* SYN-ACK seen, latency taken */
#define SLUICE_REV_RST		(1u << 1)	/* the backend sent a RST (counted
						 * as backend_rst once a flow) */
struct sluice_nat_rev {
	union sluice_addr vip;
	__be16 vport;
	__u16 svc_id;
	__u8 variant;
	__u8 ring;
	__u8 flags;		/* SLUICE_REV_* (written by the reply path) */
	__u8 pad;
	__u64 syn_ns;		/* first SYN seen by the forward path */
};
_Static_assert(sizeof(struct sluice_nat_rev) == 32, "nat_rev size");

/*
 * nexthop[backend id], per CPU: what bpf_fib_lookup said about the way to
 * a backend (ipip and nat modes), refreshed when older than
 * SLUICE_NH_TTL_NS. Userspace zeroes an id's entry when it writes a record.
 */
#define SLUICE_NH_TTL_NS	1000000000ull
struct sluice_nexthop {
	__u8 dmac[6];
	__u8 smac[6];
	__u32 ifindex;
	__u32 mtu;
	__u32 pad;
	__u64 stamp_ns;		/* bpf_ktime_get_coarse_ns; 0: empty */
};
_Static_assert(sizeof(struct sluice_nexthop) == 32, "nexthop size");

/* Counters per (service, variant, ring), per CPU. */
struct sluice_flow_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
	__u64 reset_moves;	/* live flows re-decided by revert --reset */
	__u64 syn_retrans;	/* flows whose SYN was repeated (same
				 * sequence number): once a flow */
	__u64 client_rst;
	__u64 backend_rst;	/* nat: flows the backend reset, once a
				 * flow */
	__u64 hs_timeout;
};
_Static_assert(sizeof(struct sluice_flow_stats) == 64, "flow_stats size");

#define SLUICE_STATS_INDEX(svc, variant, ring) \
	(((svc) * SLUICE_VARIANTS + (variant)) * SLUICE_MAX_RINGS + (ring))
#define SLUICE_STATS_ENTRIES \
	(SLUICE_MAX_SERVICES * SLUICE_VARIANTS * SLUICE_MAX_RINGS)

/*
 * Global per-CPU event counters: what was passed, dropped, and why, and what
 * the connection tables did. Established-table hits and forwarded packets
 * are not events (the hot path stays lean): they are the flow_stats packets.
 */
enum sluice_event {
	SLUICE_EV_PASS_NOT_IP = 0,	/* not IPv4/IPv6 */
	SLUICE_EV_PASS_NO_SERVICE,	/* IP, but no service matches */
	SLUICE_EV_PASS_TRUNCATED,	/* headers cut short */
	SLUICE_EV_PASS_MALFORMED,	/* header fields inconsistent */
	SLUICE_EV_PASS_FRAGMENT,	/* IP fragment: ports unknown */
	SLUICE_EV_PASS_ICMP_OTHER,	/* ICMP that is not a steerable error */
	SLUICE_EV_PASS_NO_CONFIG,	/* service key without configuration */
	SLUICE_EV_DROP_NO_BACKEND,	/* pool empty: nowhere to send */
	SLUICE_EV_PASS_BAD_BACKEND,	/* backend record unusable */
	SLUICE_EV_REDIRECT_FAIL,	/* devmap has no such port */
	SLUICE_EV_CONN_NEW_HIT,		/* unconfirmed table hit */
	SLUICE_EV_CONN_MISS,		/* no entry: decided from the hash */
	SLUICE_EV_CONN_INSERT,		/* entries written to the new table */
	SLUICE_EV_CONN_INSERT_FAIL,
	SLUICE_EV_CONN_PROMOTE,		/* confirmed: moved to established */
	SLUICE_EV_ICMP_STEERED,		/* ICMP error steered with its flow */
	/* ipip and nat: the next hop from bpf_fib_lookup */
	SLUICE_EV_FIB_NO_NEIGH,		/* no neighbour yet: rewritten, to the stack */
	SLUICE_EV_PASS_FIB_FAIL,	/* no route / blackhole / not forwarded */
	SLUICE_EV_PASS_FIB_OTHER,	/* unsupported (lwt, ...), frag needed */
	SLUICE_EV_ICMP_TOO_BIG,		/* too big for the encap: ICMP sent back */
	SLUICE_EV_PASS_TOO_BIG,		/* too big, ICMP not possible: to the stack */
	SLUICE_EV_PASS_ENCAP_FAIL,	/* head/room adjust failed */
	SLUICE_EV_PASS_NAT_ICMP,	/* ICMP error of a NAT flow: to the stack */
	SLUICE_EV_NAT_REPLY,		/* reply translated back (reverse path) */
	SLUICE_EV_NAT_REPLY_MISS,	/* reply path: no such flow, untouched */
	SLUICE_EV_NAT_REV_FAIL,		/* reverse entry could not be written */
	SLUICE_EV_CONN_REDECIDE,	/* entry replaced: new SYN or idle UDP */
	SLUICE_EV_MAX,
};

#endif /* SLUICE_ABI_H */
