/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The values of the fleet's etcd keys (fleet.h), parsed without a daemon:
 * the kill switch, the weights, the JSON documents (rollout state, node
 * reports), and the record of keys that did not parse ("bad keys": named
 * in status, logged once, not parsed again until their revision changes).
 * Each parser says what is wrong with the value and names its key: the
 * whole key up to FLEET_KEY_SHOWN bytes; a longer one (etcd takes any
 * bytes as a key) cut there and marked "...", so an error line stays short.
 */
#ifndef SLUICED_FLEET_VALUE_H
#define SLUICED_FLEET_VALUE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "sluice_abi.h"

#define FLEET_KEY_SHOWN 300
/* key as an error names it: key itself, or its cut form in buf
 * (FLEET_KEY_SHOWN + 4 bytes) */
const char *fleet_key_shown(const char *key, char *buf);

/* "on" -> 1, "off" -> 0 (the documented values, nothing else); -EINVAL
 * with the reason in err. */
int fleet_parse_killswitch(const char *v, const char *key, char *err, size_t errlen);
/*
 * The live_flows key, written by the leader with a rollback's kill switch
 * (the plan's on_rollback: live_flows:): "keep", "reset" or "drain NNNms"
 * (1 ms to 1 h) -> SLUICE_LIVE_* with *drain_ms; -EINVAL with the reason.
 * fleet_live_text writes the value back (buf: 32 bytes).
 */
int fleet_parse_live(const char *v, const char *key, __u64 *drain_ms, char *err,
		     size_t errlen);
void fleet_live_text(int mode, __u64 drain_ms, char *buf, size_t len);
/* "2500" or "[2500, 0, ...]": bp per ring into w; -EINVAL (w untouched). */
int fleet_parse_weights(const char *v, __u16 w[SLUICE_MAX_RINGS], const char *key,
			char *err, size_t errlen);
/* A JSON object within the size and depth limits (input_limits.h): a new
 * reference, or NULL with the reason. */
json_t *fleet_parse_object(const char *v, const char *key, char *err, size_t errlen);

/*
 * bad: {key: {"revision": N, "error": "..."}}; prev: the record before a
 * resync started (NULL outside one). fleet_bad_set records key as refused
 * at rev and returns true when that is news (log it). fleet_bad_known: was
 * key refused at rev already (then it stays recorded, and is skipped)?
 * Revision 0 never matches: such a key is looked at again every time.
 */
bool fleet_bad_set(json_t *bad, json_t *prev, const char *key, int64_t rev,
		   const char *err);
bool fleet_bad_known(json_t *bad, json_t *prev, const char *key, int64_t rev);

/* One node's counters of svc from its report, [variant][ring]: "fs":
 * [variant][ring] of [new_flows, syn_retrans, client_rst, backend_rst,
 * hs_timeout] (older reports only "new_flows" and "bad" per variant: ring
 * 0, bad counted as client resets). false: the report lacks svc. */
bool fleet_node_fs(json_t *report, const char *svc,
		   struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);
/* The "fs" array of a report, from counters, and back (false: not one). */
json_t *fleet_fs_json(const struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);
bool fleet_fs_parse(json_t *a, struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);
/*
 * The fleet's cumulative counters, as one node's maps would count them:
 * total grows by each node's increase since last (the node's counters
 * when last seen), last becomes now. A counter below its last (the node's
 * maps recreated) adds nothing and counts on from there; a node seen for
 * the first time (last zeroed by the caller to now) adds nothing. The
 * engine then differences total like a node's own counters.
 */
void fleet_acc_add(struct sluice_flow_stats total[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		   struct sluice_flow_stats last[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		   const struct sluice_flow_stats now[SLUICE_VARIANTS][SLUICE_MAX_RINGS]);

/*
 * The handshake-latency histograms of a report ("lat": per variant, the
 * buckets with counts as [bucket, count] pairs), and the fleet's
 * cumulative histograms summed from them the way fleet_acc_add sums the
 * counters: each node's increase since last, a bucket below its last
 * adds nothing. The latency gates judge the summed histogram.
 */
json_t *fleet_lat_json(const __u64 lat[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS]);
bool fleet_lat_parse(json_t *a, __u64 lat[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS]);
void fleet_lat_add(__u64 total[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS],
		   __u64 last[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS],
		   const __u64 now[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS]);

#endif
