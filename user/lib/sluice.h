/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libsluice: the control plane over the pinned maps of one sluice instance.
 * Every call that changes exposure validates first and then changes the
 * datapath with one atomic map update (see bpf/lib/maps.h). Functions return
 * 0 (or a count) on success and a negative errno on failure; sluice_errmsg()
 * then says what was wrong, naming the offending field.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>
#include "sluice_abi.h"

#define SLUICE_PIN_DIR_DEFAULT "/sys/fs/bpf/sluice"
#define SLUICE_POOL_MAX 4096	/* backends per pool */

struct sluice;
struct sluice_plan;	/* plan.h */

struct sluice_open_opts {
	const char *pin_dir;	/* NULL: SLUICE_PIN_DIR_DEFAULT */
	bool create;		/* create and pin the maps if they are absent */
	__u32 conn_entries;	/* established table size, when creating */
	__u32 conn_new_entries;	/* unconfirmed table size, when creating */
	__u32 nat_entries;	/* NAT reverse table size (0: conn + conn_new) */
	int verbose;		/* libbpf debug output on stderr */
};

/* NULL on failure, with errno set and the reason in err (one line, no
 * "Error: " prefix; err may be NULL). Nothing is printed; libbpf's own log
 * goes to its print callback (stderr, more of it with opts->verbose). */
struct sluice *sluice_open(const struct sluice_open_opts *opts, char *err,
			   size_t errlen);
void sluice_close(struct sluice *s);
/* Detach nothing; remove every pin of the instance (tests, `sluice destroy`). */
int sluice_destroy(const char *pin_dir);
const char *sluice_errmsg(const struct sluice *s);
const char *sluice_pin_dir(const struct sluice *s);

enum sluice_attach_mode {
	SLUICE_ATTACH_XDP = 0,		/* native XDP */
	SLUICE_ATTACH_XDP_GENERIC,	/* skb-mode XDP, only when asked */
	SLUICE_ATTACH_TC,		/* clsact ingress */
	/*
	 * The NAT reply path (backend -> client replies get the VIP back), for
	 * the backend-facing device; the forward path stays on the client-
	 * facing one. On a single device, use xdp forward + tc reply.
	 */
	SLUICE_ATTACH_REPLY_XDP,
	SLUICE_ATTACH_REPLY_XDP_GENERIC,
	SLUICE_ATTACH_REPLY_TC,
	SLUICE_ATTACH_MODES,
};

/* Backends of the ipip mode: attach the decapsulation program (TC ingress)
 * to DEV; needs no sluice instance. err gets a message on failure. */
int sluice_decap_attach(const char *ifname, char *err, size_t errlen);
int sluice_decap_detach(const char *ifname, char *err, size_t errlen);

int sluice_attach(struct sluice *s, const char *ifname,
		  enum sluice_attach_mode mode);
int sluice_detach(struct sluice *s, const char *ifname);

struct sluice_attachment {
	char ifname[IF_NAMESIZE];
	int ifindex;
	enum sluice_attach_mode mode;
	__u32 prog_id;
};
/* Where sluice programs of this instance are attached; returns the count. */
int sluice_attachments(struct sluice *s, struct sluice_attachment *out,
		       int max);

/*
 * Hitless upgrade: load this build's programs over the instance's pinned
 * maps (refused when their layout differs) and swap each attached program
 * for its new version in place, atomically (XDP: XDP_FLAGS_REPLACE of the
 * pinned old program; tc: the same filter handle replaced). Established
 * flows keep their entries; no packet meets a missing program. Returns the
 * number of rows in out (skipped: the device is gone).
 */
struct sluice_upgraded {
	struct sluice_attachment at;	/* prog_id: the old program */
	__u32 new_prog_id;
	bool skipped;
};
int sluice_upgrade(struct sluice *s, struct sluice_upgraded *out, int max);

/* Load (without attaching) and return the XDP or TC program fd: tests. */
enum sluice_prog {
	SLUICE_PROG_XDP = 0, SLUICE_PROG_TC,
	SLUICE_PROG_REPLY_XDP, SLUICE_PROG_REPLY_TC,	/* NAT reply path */
};
int sluice_prog_fd(struct sluice *s, enum sluice_prog which);

/* An address prefix (rings, the ipip tunnel source). */
struct sluice_prefix {
	union sluice_addr addr;
	__u8 family;
	__u8 len;
};

/* The desired state of one service. Ports are in host byte order. */
struct sluice_backend_spec {
	union sluice_addr addr;
	__u8 family;
	__u16 port;		/* 0: the service port */
	__u32 weight;		/* relative, 1..65535 */
	bool draining;		/* keeps its flows, takes no new ones */
	bool has_mac;
	__u8 mac[6];		/* DSR: the backend's MAC (ipip/nat: unused) */
	char dev[IF_NAMESIZE];	/* DSR egress device; "": the ingress one.
				 * ipip/nat take device and next hop from
				 * the kernel's FIB (bpf_fib_lookup) */
	/* health (filled by sluice_service_get; sluice_service_put keeps the
	 * live state and only sluice_backend_health_set changes it) */
	bool down;
};

struct sluice_pool_spec {
	/* filled by sluice_service_get: every active backend is down, so all
	 * of them stay in the table (a pool never empties by health alone) */
	bool all_down;
	unsigned int n;
	struct sluice_backend_spec be[SLUICE_POOL_MAX];
};

struct sluice_service_spec {
	char name[SLUICE_NAME_LEN];
	union sluice_addr vip;
	__u8 family;
	__u8 proto;
	__u16 port;
	__u8 mode;		/* enum sluice_mode */
	__u8 affinity;		/* enum sluice_affinity */
	__u8 lkg;		/* last-known-good variant */
	__u32 seed;
	/* ipip: outer source prefix (same family as the VIP), required */
	struct sluice_prefix tunnel_src;
	__u32 table_size;	/* 0: SLUICE_TABLE_DEFAULT */
	/* UDP: seconds of silence after which a flow's next packet is decided
	 * afresh (1..SLUICE_UDP_IDLE_MAX; 0: SLUICE_UDP_IDLE_DEFAULT) */
	__u32 udp_idle_s;
	__u16 weight[SLUICE_MAX_RINGS];	/* canary share per ring, 0..10000 */
	struct sluice_pool_spec pool[SLUICE_VARIANTS];
	/* announce the VIP to the routers (the routing daemon exports the
	 * route sluice keeps for it; see sluice_announce_sync) */
	bool announce;
	/* filled by sluice_service_get */
	bool drained;		/* sluice_service_drain: withdrawn by hand */
	__u32 id;
	__u32 gen;
	__u32 kill;
};

/* Allocate a spec with defaults (seed 0, table 16381, lkg baseline). */
struct sluice_service_spec *sluice_spec_new(void);
void sluice_spec_free(struct sluice_service_spec *spec);

/* Validate without touching anything. */
int sluice_service_check(struct sluice *s,
			 const struct sluice_service_spec *spec);
/* Create or replace a service as one atomic change. */
int sluice_service_put(struct sluice *s,
		       const struct sluice_service_spec *spec);
int sluice_service_get(struct sluice *s, const char *name,
		       struct sluice_service_spec *out);
int sluice_service_get_id(struct sluice *s, __u32 id,
			  struct sluice_service_spec *out);
int sluice_service_del(struct sluice *s, const char *name);
/*
 * The identity of a pool: a hash of the records of its active (not
 * draining) backends: family, address, port, weight, MAC, device. Health
 * is not part of it (the checker changes that). 0: no active backend.
 * nactive (may be NULL): how many were hashed. A rollout fixes its
 * canary's identity when the evidence starts (issue 21): a different one
 * later is another canary.
 */
__u64 sluice_pool_identity(const struct sluice_pool_spec *pool, unsigned int *nactive);
/* Fill ids of services in use, returns the count. */
int sluice_service_ids(struct sluice *s, __u32 *ids, int max);
/* The name of service id (mmapped metadata: no syscall); -ENOENT unused. */
int sluice_service_name(struct sluice *s, __u32 id, char *buf, size_t len);
int sluice_service_lookup(struct sluice *s, const char *name, __u32 *id);

/* Weight in basis points (0..10000); ring -1: every ring. */
int sluice_set_weight(struct sluice *s, const char *name, int ring,
		      unsigned int bp);
/*
 * Backend health, as sluiced's checks decide it. A backend marked down
 * leaves its pool's Maglev table, rebuilt and swapped like any pool edit:
 * established flows keep their entries and its record keeps forwarding
 * them; only its share of new flows moves. Up: it rejoins the same way. A
 * pool whose every active (not draining) backend is down keeps all of
 * them in its table: health alone never empties a pool (the caller says
 * so loudly: all_down below, and sluice_service_get's pool.all_down).
 * Changes to one service go out with one publish. Returns the number of
 * backends whose state changed (0: already so, nothing published).
 */
struct sluice_health_mark {
	union sluice_addr addr;
	__u8 family;
	__u16 port;		/* 0: the service port */
	bool down;
};
struct sluice_health_result {
	bool all_down[SLUICE_VARIANTS];	/* after the change */
	unsigned int in_table[SLUICE_VARIANTS];	/* backends in each table */
};
int sluice_backend_health_set(struct sluice *s, const char *name,
			      const struct sluice_health_mark *m, unsigned int n,
			      struct sluice_health_result *res);
/* Weights of the rings in ring_mask (bit i: ring i) with one locked write;
 * rings outside the mask keep theirs. */
int sluice_set_weights(struct sluice *s, const char *name,
		       const __u16 bp[SLUICE_MAX_RINGS], unsigned int ring_mask);
/* Set the last-known-good variant (what revert falls back to). */
int sluice_set_lkg(struct sluice *s, const char *name, int variant);

/*
 * Kill switch. name NULL: every service, with one map write. Returns 1 when
 * it changed something, 0 when the state already was as asked.
 */
int sluice_revert(struct sluice *s, const char *name, bool reset);
int sluice_resume(struct sluice *s, const char *name);
int sluice_kill_get(struct sluice *s, const char *name, __u32 *word);
/* The canary share new flows get: weight, or under the kill switch (kill:
 * the service's and the global word) all or nothing by last-known-good. */
unsigned int sluice_effective_weight(unsigned int weight, __u32 kill, unsigned int lkg);

/* Rings: ids 1..SLUICE_MAX_RINGS-1; ring 0 is the default ("broad"). */
bool sluice_prefix_overlap(const struct sluice_prefix *a,
			   const struct sluice_prefix *b);
int sluice_ring_set(struct sluice *s, const char *name,
		    const struct sluice_prefix *pfx, unsigned int n);
int sluice_ring_del(struct sluice *s, const char *name);
int sluice_ring_id(struct sluice *s, const char *name);
int sluice_ring_name(struct sluice *s, int id, char *out, size_t len);
/* Prefixes of ring id; returns the count. */
int sluice_ring_prefixes(struct sluice *s, int id, struct sluice_prefix *out,
			 int max);

/*
 * Promotion: the canary pool becomes the baseline, last-known-good the
 * baseline, the canary pool is emptied and every weight is 0, in one
 * atomic service put (established flows keep their backends: retired
 * records keep their forwarding data). Only while the live configuration
 * generation is gen (0: any), so a repeat of the same promotion is a
 * no-op. Returns 1 promoted, 0 nothing to do (gen moved on), -ENOENT when
 * the canary pool has no active backend.
 */
int sluice_promote(struct sluice *s, const char *name, __u32 gen);
/* What a promotion makes of spec (in place): the canary pool as the
 * baseline, no canary, every weight 0, last-known-good the baseline. */
void sluice_promote_spec(struct sluice_service_spec *sp);

/*
 * Local promotion records (issue 21, section 3). The maps forget a
 * promotion with their pins (a reboot), and the file it started from
 * still says "baseline v1, canary v2": re-applying it would undo the
 * promotion without a word. So sluiced, when it promotes, keeps a record
 * outside bpffs, one small file per service and pin directory under
 * $SLUICE_STATE_DIR (default /var/lib/sluice)/promoted/; sluice apply
 * (opts.promotions) consults it: a service whose file is the one that was
 * promoted (same VIP, port, protocol, mode and the same two pools, by
 * sluice_promotion_key; weights are not part of it) is applied as
 * promoted (baseline = the file's canary, no canary), and said so; a
 * service whose file changed since is applied as written and its record
 * dropped. Fleet mode guards the same with the config key's revision.
 */
struct sluice_promotion {
	__u64 from, to;		/* sluice_promotion_key before and after */
	__u64 rollout_id;
	__u64 at_ms;		/* wall clock */
};
__u64 sluice_promotion_key(const struct sluice_service_spec *sp);
/* 0, -ENOENT (none), -errno with sluice_errmsg */
int sluice_promotion_get(struct sluice *s, const char *service,
			 struct sluice_promotion *out);
int sluice_promotion_put(struct sluice *s, const char *service,
			 const struct sluice_promotion *p);
/* 0 also when there was none */
int sluice_promotion_del(struct sluice *s, const char *service);

/*
 * A poller's view of one service (the rollout daemon reads this for every
 * service each second): mmapped metadata and exposure, the configuration
 * element cached per generation, the kill words. No table is read.
 */
struct sluice_service_view {
	__u32 id, gen;
	__u32 kill, kill_all;		/* the service's and the global word */
	__u8 mode, affinity, lkg;
	__u16 weight[SLUICE_MAX_RINGS];
	__u16 nbackends[SLUICE_VARIANTS];	/* active (not draining) */
};
/* *id: a hint (the id of the last call, or SLUICE_MAX_SERVICES). */
int sluice_service_view(struct sluice *s, const char *name,
			struct sluice_service_view *v);
/* The same with the kill words taken from kill_words[0, nwords) and
 * kill_all (sluice_kill_words, read once for many services) where id
 * falls in them: no kill-switch syscall. */
int sluice_service_view_kill(struct sluice *s, const char *name,
			     struct sluice_service_view *v, const __u32 *kill_words,
			     __u32 nwords, __u32 kill_all);
/* Flows of a variant with a packet in the last ~2-3 s (live.c). */
struct sluice_live {
	__u32 tcp, udp;
};
int sluice_live_flows(struct sluice *s, const char *name, int variant,
		      struct sluice_live *out);
/* Rings in use: bit i set for ring i (ring 0 always). */
int sluice_rings_in_use(struct sluice *s, unsigned int *mask);
/* Counters summed over CPUs. */
int sluice_stats_get(struct sluice *s, __u32 svc_id,
		     struct sluice_flow_stats out[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);
int sluice_events_get(struct sluice *s, __u64 out[SLUICE_EV_MAX]);
const char *sluice_event_name(int ev);
/*
 * Health signals of a service per variant (summed over rings and CPUs).
 * Counters are cumulative: take two samples and subtract (sluice_health_sub)
 * for a window's rates and percentiles. In every mode: new_flows,
 * syn_retrans (a SYN again for a flow with an entry), client_rst. NAT mode
 * only (replies cross the node): backend_rst, hs_timeout (handshake not
 * complete SLUICE_HS_TIMEOUT_NS after the first SYN: seen by the datapath on
 * a late SYN retransmission, or by sluice_health_sweep), and the SYN ->
 * SYN-ACK latency histogram lat[] (layout: SLUICE_LAT_* in sluice_abi.h).
 */
struct sluice_health {
	__u64 packets, new_flows, syn_retrans, client_rst, backend_rst;
	__u64 hs_timeout;		/* datapath + sweep */
	__u64 hs_timeout_sweep;		/* of which found by the sweep */
	__u64 hs_samples;		/* handshakes timed (sum of lat[]) */
	__u64 lat[SLUICE_LAT_BUCKETS];	/* microseconds, log-linear */
};
int sluice_health_get(struct sluice *s, __u32 svc_id,
		      struct sluice_health out[SLUICE_VARIANTS]);
/* d = a - b, field by field (a window between two samples). */
void sluice_health_sub(struct sluice_health *d, const struct sluice_health *a,
		       const struct sluice_health *b);
/* Percentile p (0..100) of a latency histogram in microseconds: the
 * midpoint of the bucket holding it, within 3.2% of the true sample;
 * -1 without samples. */
double sluice_lat_percentile(const __u64 lat[SLUICE_LAT_BUCKETS], double p);
/* Bucket i covers [lo, hi) microseconds. */
void sluice_lat_bucket_range(unsigned int i, double *lo, double *hi);
/*
 * Count unconfirmed NAT handshakes older than timeout_ns that the datapath
 * has not counted (clients that gave up without retransmitting; a refused
 * one, answered by a backend RST, is not a timeout) into hs_timeout, once
 * each; delete unconfirmed entries older than expire_ns (0: none). Returns
 * the number newly counted.
 */
int sluice_health_sweep(struct sluice *s, __u64 timeout_ns, __u64 expire_ns);

/*
 * Counters of one service with few syscalls: flow_stats with one batch
 * lookup; the sweep's handshake timeouts (one batch) and the latency
 * histograms of the rings in ring_mask only when nat is true (NAT mode:
 * nothing else has them), the histograms not at all with
 * SLUICE_COUNTERS_NO_LAT in ring_mask. health may be NULL.
 */
#define SLUICE_COUNTERS_NO_LAT	(1u << 31)
int sluice_counters_get(struct sluice *s, __u32 svc_id, bool nat,
			unsigned int ring_mask,
			struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
			struct sluice_health health[SLUICE_VARIANTS]);

/*
 * A poller's check that nothing moved since its last full read (sluiced's
 * 100 ms look between gate evaluations). sluice_service_stamp: no
 * syscall, from the mmapped metadata and exposure: a hash of the
 * configuration generation, weights and last-known-good of service id,
 * -ENOENT when id no longer holds name; an equal stamp, an unchanged view
 * (the kill words aside). sluice_counters_sum: every counter of one variant
 * over the rings up to the highest in ring_mask, summed (one lookup for one
 * ring): it moves when any of them moves. sluice_kill_words: the kill words
 * of services [0, n) in one batch, and the global word.
 */
int sluice_service_stamp(struct sluice *s, __u32 id, const char *name, __u64 *stamp);
int sluice_counters_sum(struct sluice *s, __u32 svc_id, int variant,
			unsigned int ring_mask, __u64 *sum);
int sluice_kill_words(struct sluice *s, __u32 n, __u32 *words, __u32 *all);

/* Entries in the two connection tables (a walk: not for the hot path). */
int sluice_conn_count(struct sluice *s, __u64 *est, __u64 *unconfirmed);

/*
 * Kernel memory of every map of the instance (what the kernel charges it,
 * as /proc/PID/fdinfo's memlock says), one row per pinned map; svc_cfg
 * includes every service's inner map, nat_rev its table (absent until the
 * first NAT service). Returns the row count.
 */
struct sluice_map_mem {
	char name[24];
	__u32 type, max_entries, key_size, value_size, flags;
	__u32 inner;		/* inner maps included */
	bool present;		/* false: nat_rev with no table yet */
	__u64 bytes;
};
int sluice_map_memory(struct sluice *s, struct sluice_map_mem *out, int max);
/* The instance's layout pin: version and table sizes. */
const struct sluice_layout *sluice_layout_of(const struct sluice *s);

/*
 * 0 when the file open at fd (named path in messages) may be trusted: a
 * regular file only its owner (root or us) can write, in a directory others
 * cannot swap it in (or a pipe/terminal); else -EPERM with why in err.
 * sluice_config_parse checks it; the daemon checks plans with it too.
 */
int sluice_file_trusted(int fd, const char *path, char *err, size_t errlen);
/* "needs root, or CAP_BPF and CAP_NET_ADMIN; missing: ...": for EPERM. */
const char *sluice_privilege_hint(void);

/* Maglev (exposed for tests and benchmarks). */
struct sluice_maglev_in {
	__u32 id;		/* what the table slot holds */
	__u32 weight;
	__u64 key;		/* identity: stable across rebuilds */
};
int sluice_maglev_build(const struct sluice_maglev_in *be, unsigned int n,
			__u32 size, __u32 *table);
bool sluice_is_prime(__u32 n);

/* Parsing helpers shared by the CLI, daemon and tests. */
int sluice_parse_addr(const char *str, union sluice_addr *a, __u8 *family);
int sluice_parse_prefix(const char *str, struct sluice_prefix *p);
int sluice_parse_weight(const char *str, unsigned int *bp);
int sluice_parse_mac(const char *str, __u8 mac[6]);
void sluice_format_addr(const union sluice_addr *a, __u8 family, char *buf,
			size_t len);


/* ---- added for the CLI (issue 4) ---------------------------------------- */

/*
 * Blue-green cutover: all rings' weights to 0 (variant SLUICE_BASELINE,
 * "blue") or 100% (SLUICE_CANARY, "green") and the last-known-good to the
 * other variant, with one configuration publish. Fails with ENOENT when the
 * target pool has no active backend. Returns 1 changed, 0 already so.
 */
int sluice_cutover(struct sluice *s, const char *name, int variant);

/*
 * The whole desired configuration, as read from YAML (sluice apply, and the
 * daemon later) or from the live maps (sluice export). Positions are 1-based
 * line:column in the source file (0 when the config came from the maps).
 */
struct sluice_cfg_pos {
	unsigned int line, col;
};

struct sluice_cfg_ring {
	char name[SLUICE_RING_NAME_LEN];
	unsigned int n;
	struct sluice_prefix *pfx;
	struct sluice_cfg_pos pos, *pfx_pos;
};

struct sluice_cfg_weight {
	char ring[SLUICE_RING_NAME_LEN];	/* "default" is ring 0 */
	__u16 bp;
	struct sluice_cfg_pos pos;
};

/*
 * A health check (sluiced runs them; `apply` validates them). In YAML:
 * `health_check:` in a service (both pools), a pool (`baseline:` mapping)
 * or a backend; the nearest one applies whole, and `health_check: none`
 * turns checks off at that level. The target is the backend's own address
 * and port (keepalived's default: for dsr and ipip backends, which hold
 * the VIP on loopback, the server must also accept on its own address, or
 * the check names `port`, and a backend's check may name `address`).
 */
enum sluice_check_type {
	SLUICE_CHECK_NONE = 0,
	SLUICE_CHECK_TCP,	/* a connect completes */
	SLUICE_CHECK_HTTP,	/* GET path answers an expected status */
	SLUICE_CHECK_COMMAND,	/* /bin/sh -c COMMAND exits 0 */
};
#define SLUICE_CHECK_EXPECT_MAX 8

struct sluice_cfg_check {
	struct sluice_cfg_pos pos;
	__u8 type;			/* enum sluice_check_type */
	__u32 interval_ms;		/* default 1000 */
	__u32 timeout_ms;		/* default min(1000, interval) */
	__u16 rise, fall;		/* successes to go up, failures to go down:
					 * defaults 2 and 3 */
	__u16 port;			/* 0: the backend's */
	__u8 family;			/* 0: the backend's address */
	union sluice_addr addr;
	char path[256];			/* http: default "/" */
	char host[256];			/* http Host: default the target */
	unsigned int nexpect;		/* http: default one, 200 */
	__u16 expect[SLUICE_CHECK_EXPECT_MAX];
	char command[512];		/* command: run by /bin/sh -c */
};

struct sluice_cfg_pool {
	unsigned int n;
	struct sluice_backend_spec *be;
	struct sluice_cfg_pos *pos;
	struct sluice_cfg_check *check;		/* the pool's (NULL: service's) */
	struct sluice_cfg_check **be_check;	/* per backend (NULL: pool's) */
};

#define SLUICE_BGP_COMMUNITIES_MAX 8
#define SLUICE_BGP_PREPEND_MAX 8
struct sluice_cfg_service {
	struct sluice_cfg_pos pos;
	char name[SLUICE_NAME_LEN];
	union sluice_addr vip;
	__u8 family, proto, mode, affinity, lkg;
	__u16 port;
	__u32 seed, table_size;
	__u32 udp_idle_s;			/* udp_idle; 0: the default */
	struct sluice_prefix tunnel_src;	/* ipip: tunnel_source */
	/* weight: one value for every ring, or per ring; rings a per-ring
	 * weight does not name take the "default" ring's value (or 0) */
	bool weight_per_ring;
	__u16 weight_all;
	unsigned int nweights;
	struct sluice_cfg_weight weights[SLUICE_MAX_RINGS];
	bool blue_green;		/* the file said blue/green */
	struct sluice_cfg_pool pool[SLUICE_VARIANTS];
	struct sluice_plan *rollout;	/* the `rollout:` section (plan.h),
					 * NULL without one */
	struct sluice_cfg_check *check;		/* both pools' health_check */
	/* `bgp:` (announce the VIP; sluice_announce_sync): the routing
	 * daemon's policy for it, rendered by `sluice bgp config` */
	bool bgp;
	struct sluice_cfg_pos bgp_pos;
	unsigned int ncommunities;
	__u32 communities[SLUICE_BGP_COMMUNITIES_MAX];	/* ASN << 16 | value */
	__u8 prepend;				/* 0..SLUICE_BGP_PREPEND_MAX */
};

/* The check that applies to backend i of pool v; NULL: none. */
const struct sluice_cfg_check *
sluice_cfg_backend_check(const struct sluice_cfg_service *cs, int v,
			 unsigned int i);

struct sluice_config {
	char source[256];		/* file name in messages */
	unsigned int nrings, nservices;
	struct sluice_cfg_ring *rings;
	struct sluice_cfg_service *services;
};

/*
 * Parse and validate a YAML (or JSON) file; path "-" reads stdin. Checks
 * the schema, types, ranges, unknown and duplicate keys, duplicate services
 * and backends, overlapping ring prefixes. On error returns NULL with
 * "file:line:col: message" in err.
 */
struct sluice_config *sluice_config_parse(const char *path, char *err,
					  size_t errlen);
struct sluice_config *sluice_config_parse_string(const char *text,
						 const char *name, char *err,
						 size_t errlen);
void sluice_config_free(struct sluice_config *c);
/* The live configuration of an instance (kill switch words excluded). */
struct sluice_config *sluice_config_export(struct sluice *s);

struct sluice_apply_opts {
	bool keep;	/* keep live services and rings absent from the config */
	bool dry_run;	/* validate and plan only */
	bool promotions;	/* consult the local promotion records */
};

enum sluice_change_op {
	SLUICE_CHANGE_NONE = 0,
	SLUICE_CHANGE_ADD,
	SLUICE_CHANGE_UPDATE,
	SLUICE_CHANGE_DELETE,
};

struct sluice_change {
	bool ring;			/* a ring, else a service */
	enum sluice_change_op op;
	char name[SLUICE_NAME_LEN];
	/* a service applied as promoted (opts.promotions): its record */
	bool promoted;
	struct sluice_promotion promotion;
};

struct sluice_apply_result {
	unsigned int n, changed;	/* entries, and those with an op */
	struct sluice_change *ch;
};

/*
 * Make c the live configuration. Everything is validated first (each
 * service with sluice_service_check, ring overlaps, ring moves, capacity);
 * on a validation error nothing changes and sluice_errmsg() says
 * "file:line:col: message". Then: pruned services are deleted, rings
 * changed, and changed services put one by one (each an atomic swap).
 * Unchanged services are not republished. Returns the number of changes.
 */
int sluice_config_apply(struct sluice *s, const struct sluice_config *c,
			const struct sluice_apply_opts *opts,
			struct sluice_apply_result *res);
void sluice_apply_result_free(struct sluice_apply_result *res);
/* The spec of one configured service, with ring names resolved against
 * the live rings. */
int sluice_config_service_spec(struct sluice *s,
			       const struct sluice_cfg_service *cs,
			       struct sluice_service_spec *out);

/*
 * Announcing VIPs (doc/guide/bgp.md). sluice never speaks BGP: it keeps
 * one host route per announced VIP (/32, /128; `dev lo`, protocol
 * SLUICE_ROUTE_PROTO) in a kernel routing table of its own
 * (SLUICE_ROUTE_TABLE) that no rule points at, and the routing daemon
 * (BIRD's kernel protocol with `learn`, FRR's `redistribute table`)
 * imports that table and exports it over BGP. A route stays until sluice
 * withdraws it, so a restart of sluiced changes nothing.
 *
 * A VIP of a service with `announce` is announced while: a sluice program
 * is attached (forward path) on a device present in this namespace, the
 * service is not drained, and a pool that takes its new flows (the
 * last-known-good one while the kill switch reverts it; else baseline
 * while some ring's weight is below 100 %, canary while some is above
 * 0) has an active backend that is not marked down. Several services on
 * one VIP: announced while any of them qualifies.
 */
#define SLUICE_ROUTE_TABLE	247
#define SLUICE_ROUTE_PROTO	247	/* rtm_protocol of sluice's routes */

enum sluice_announce_why {
	SLUICE_ANN_OK = 0,		/* announced */
	SLUICE_ANN_NOT_ATTACHED,	/* no forward-path program attached */
	SLUICE_ANN_DRAINED,		/* sluice service drain */
	SLUICE_ANN_NO_HEALTHY,		/* the pools taking new flows: none up */
	SLUICE_ANN_GONE,		/* no service with announce holds the VIP */
};
const char *sluice_announce_why_str(int why);

struct sluice_announce {
	char name[SLUICE_NAME_LEN];	/* the service ("" for a GONE VIP) */
	union sluice_addr vip;
	__u8 family;
	__u8 why;			/* enum sluice_announce_why */
	bool announced;			/* the route is (now) in the table */
	bool changed;			/* this call added or removed it */
};

/* What each announcing service's VIP should be (no change); returns the
 * count of rows (services with announce); -ENOSPC, changing nothing, when
 * they do not fit in max. */
int sluice_announce_eval(struct sluice *s, struct sluice_announce *out,
			 int max);
/* Evaluate, then make the table say so: add the routes of VIPs to announce,
 * delete sluice's other routes in the table (one row each, why GONE when
 * no service has that VIP any more). Returns the count of rows. */
int sluice_announce_sync(struct sluice *s, struct sluice_announce *out,
			 int max);
/* Drain (true) or undrain a service, NULL: every service. Returns the
 * number of services whose state changed. */
int sluice_service_drain(struct sluice *s, const char *name, bool drain);

#endif /* SLUICE_H */
