/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* libsluice internals: the instance handle and helpers shared by its files. */
#ifndef SLUICE_INTERNAL_H
#define SLUICE_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include "sluice.h"

struct sluice_bpf;

struct sluice {
	char pin_dir[PATH_MAX];
	char err[512];
	int verbose;
	__u32 conn_entries, conn_new_entries, nat_entries;	/* asked for */
	struct sluice_layout layout;	/* what the pins have (layout.c) */
	int nat_tbl_fd;			/* nat_rev[0], once it exists */
	/* pinned maps */
	int svc_index_fd, svc_cfg_fd, kill_fd, svc_meta_fd, backends_fd;
	int ring_v4_fd, ring_v6_fd, ring_meta_fd, conn_est_fd, conn_new_fd;
	int flow_stats_fd, events_fd, tx_ports_fd, exposure_fd;
	int nat_rev_fd, nexthop_fd, lat_hist_fd, hs_sweep_fd;
	struct sluice_backend *be;	/* backends map, mmapped */
	struct sluice_svc_meta *meta;	/* svc_meta map, mmapped */
	struct sluice_exposure *exp;	/* exposure map, mmapped */
	int lock_fd;			/* flock on the pin dir: one writer */
	struct sluice_bpf *skel;	/* loaded programs, when asked for */
	int ncpus;
	/* observe.c: each service's configuration element as last read,
	 * valid while its gen equals the live one (pollers read it cheaply) */
	struct sluice_svc_cfg *cfg_cache;
	__u32 *cfg_cache_map;		/* the inner map id it was read from */
	void *pcpu_buf;			/* observe.c: batch lookup buffer */
	/* health.c: the datapath's conn_new events at the last handshake
	 * sweep, which left no handshake to time out later (sweep_idle) */
	__u64 sweep_mark;
	bool sweep_idle;
};

/* Record the reason for a failure; returns -err for `return seterr(...)`. */
int sluice_seterr(struct sluice *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Load the BPF object with the instance's pins (creates maps if absent). */
int sluice_load_skel(struct sluice *s, struct sluice_bpf **out);
void sluice_libbpf_verbosity(int verbose);
/* What the kernel lacks, as a sentence, before any load (probe.c). */
int sluice_probe(struct sluice *s);

/* Swap in a service configuration: cfg + the two tables. */
int sluice_cfg_publish(struct sluice *s, __u32 svc_id,
		       const struct sluice_svc_cfg *cfg,
		       const __u32 *tables[SLUICE_VARIANTS]);
void sluice_exposure_sync(struct sluice *s, __u32 svc_id,
			  const struct sluice_svc_cfg *cfg);
/* Read the live configuration; tables may be NULL to skip them. */
/* The message for a failed sluice_cfg_read of service name. */
int sluice_cfg_read_err(struct sluice *s, int err, const char *name);
int sluice_cfg_read(struct sluice *s, __u32 svc_id,
		    struct sluice_svc_cfg *cfg, __u32 **tables);

/* The layout pin (layout.c): 0 and s->layout filled; -ENOENT when the
 * directory has no instance; -EPROTO, with the way to migrate, when the pins
 * have another layout. */
int sluice_layout_check(struct sluice *s);
int sluice_layout_create(struct sluice *s);
int sluice_layout_sizes_match(struct sluice *s);
/* The NAT reverse table's fd; create (under the lock): make it if absent. */
int sluice_nat_table(struct sluice *s, bool create);
/* Each whole entry of conn_new's slots (health.c), through a mapping of
 * the array: cb may edit the slot (then sluice_slot_seal it); a non-zero
 * return stops the walk and is returned. */
int sluice_slots_each(struct sluice *s,
		      int (*cb)(struct sluice_conn_slot *sl, __u32 i, void *arg),
		      void *arg);
void sluice_slot_seal(struct sluice_conn_slot *sl);

/* The i-th pinned map (fd and name), -ENOENT past the last. */
int sluice_map_at(struct sluice *s, int i, const char **name);

/* Serialise read-modify-write changes between processes. */
int sluice_lock(struct sluice *s);
void sluice_unlock(struct sluice *s);

int sluice_iface_mac(const char *ifname, __u8 mac[6]);
void sluice_nexthop_reset(struct sluice *s, __u32 id);

#endif
