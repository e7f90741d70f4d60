/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's /metrics: a snapshot of what the daemon knows (datapath
 * counters per service, variant and ring; handshake latency; datapath
 * events; each rollout's state, step, weights, last gate verdicts and
 * values, burn rates, budget left; each health-checked backend's state,
 * transitions, checks and last check duration) rendered in the Prometheus text
 * exposition format (version 0.0.4). The loop builds a snapshot each tick
 * and hands it over (metrics_srv_publish); the HTTP thread renders it on a
 * scrape, so a scrape never holds up the loop.
 *
 * Names: `sluice_` prefix, `_total` counters, base units (bytes, seconds,
 * ratios 0..1). Labels: service, variant (baseline|canary), ring (ring
 * name; "default" for ring 0); backends add address and port.
 */
#ifndef SLUICED_METRICS_H
#define SLUICED_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "sluice_abi.h"
#include "burn.h"

/* Exposition buckets of the handshake histogram: le = 2^e us for e =
 * METRICS_LE_MIN_EXP..METRICS_LE_MAX_EXP (16 us .. 33.6 s), then +Inf.
 * They fall on bucket edges of the datapath's log-linear histogram, so the
 * cumulative counts are exact. */
#define METRICS_LE_MIN_EXP	4
#define METRICS_LE_MAX_EXP	25
#define METRICS_LE_N		(METRICS_LE_MAX_EXP - METRICS_LE_MIN_EXP + 1)

struct metrics_hist {
	uint64_t le[METRICS_LE_N];	/* cumulative counts at each le */
	uint64_t count;			/* = the +Inf bucket */
	double sum_s;			/* from bucket midpoints (within 3.2 %) */
};

#define METRICS_MAX_GATES	16
#define METRICS_NAME		64

enum metrics_verdict {
	MV_NONE = 0, MV_PASS, MV_FAIL, MV_INCONCLUSIVE, MV_ERROR, MV_N
};

struct metrics_gate {
	char name[METRICS_NAME];
	enum metrics_verdict verdict;
	bool has_value[SLUICE_VARIANTS];
	double value[SLUICE_VARIANTS];	/* last measured, per variant */
};

struct metrics_rollout {
	bool present;
	const char *state;		/* one of metrics_rollout_states */
	int step;			/* 0-based; -1 before the first */
	uint16_t weight[SLUICE_MAX_RINGS];	/* canary share, basis points */
	unsigned int ngates;
	struct metrics_gate gate[METRICS_MAX_GATES];
	unsigned int nburn;		/* windows with a value */
	struct {
		char window[16];	/* "5m", "1h", ... */
		double burn;
	} burn[2 * BURN_MAX_RULES];
};

struct metrics_service {
	char name[METRICS_NAME];
	uint8_t mode;			/* enum sluice_mode */
	uint16_t weight[SLUICE_MAX_RINGS];	/* the maps' canary share, bp */
	struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	bool has_hist;			/* nat mode: handshakes are timed */
	struct metrics_hist hist[SLUICE_VARIANTS];
	bool frozen;			/* per-service freeze (budget) */
	bool has_budget;
	double budget_remaining;	/* ratio; <= 0 exhausted */
	struct metrics_rollout ro;
};

/* One health-checked backend (health_shell.c). */
struct metrics_backend {
	char service[METRICS_NAME];
	uint8_t variant;
	char address[48];		/* as sluice backend show prints it */
	uint16_t port;
	const char *check;		/* "tcp", "http", "command" */
	bool down, flapping;
	uint64_t checks, failures, transitions;
	bool has_last;
	double last_s;			/* the latest probe's duration */
};

/* a VIP announced over BGP by the routing daemon, or not, and why */
struct metrics_vip {
	char service[METRICS_NAME];	/* "" when no service holds it */
	char vip[48];
	bool announced;
	const char *why;		/* sluice_announce_why_str */
};

struct metrics_snapshot {
	int refs;			/* metrics_srv's business, */
	char *text;			/* and so is the text rendered once */
	size_t text_len;
	bool frozen;			/* the global freeze */
	uint64_t builds;		/* snapshots built so far, this one included */
	char ring[SLUICE_MAX_RINGS][32];	/* names; "" = not configured */
	uint64_t events[SLUICE_EV_MAX];
	unsigned int nsvc, cap;
	struct metrics_service *svc;
	char *status;			/* the status page's JSON (malloc'd,
					 * freed with the snapshot); NULL */
	unsigned int nbe, be_cap;
	struct metrics_backend *be;
	unsigned int nvip, vip_cap;
	struct metrics_vip *vip;
};

extern const char *const metrics_rollout_states[];	/* NULL-terminated */

struct metrics_snapshot *metrics_snapshot_new(unsigned int cap);
void metrics_snapshot_free(struct metrics_snapshot *m);
/* Append a zeroed service record (NULL when full). */
struct metrics_service *metrics_snapshot_add(struct metrics_snapshot *m,
					     const char *name);
/* Append a zeroed backend record (grows; NULL out of memory). */
struct metrics_backend *metrics_snapshot_add_backend(struct metrics_snapshot *m);
struct metrics_vip *metrics_snapshot_add_vip(struct metrics_snapshot *m);
/* The datapath's log-linear histogram as exposition buckets. */
void metrics_hist_from_lat(const uint64_t *lat, struct metrics_hist *h);

/* Render into f; returns 0 or -errno. */
int metrics_render(const struct metrics_snapshot *m, FILE *f);
/* Render into a malloc'd buffer (*text, *len); 0 or -ENOMEM. */
int metrics_render_text(const struct metrics_snapshot *m, char **text, size_t *len);

/* ---- the HTTP endpoint (libmicrohttpd) ----------------------------------- */
struct metrics_srv;
struct sched;

/* Listen on addr ("127.0.0.1:9469", "[::1]:9469"; port 0 = any) and
 * serve /metrics, and the status page: / (with /status.js, /status.css)
 * polling /api/status, the snapshot's status document. Returns NULL with
 * err set. */
struct metrics_srv *metrics_srv_start(const char *addr, char *err, size_t errlen);
/* The same on sluiced's loop (scheduler.h): no thread, requests are
 * answered from the loop's dispatch. metrics_srv_start runs its own
 * polling thread instead (tests, benches). */
struct metrics_srv *metrics_srv_start_on(struct sched *sched, const char *addr, char *err,
					 size_t errlen);
/* Answer requests whose Host is name too (--metrics-host; up to 8). The
 * listener's address, and localhost on loopback, always are; any other
 * Host gets 421. */
#define METRICS_HOST_LEN 253
bool metrics_host_name_ok(const char *name);
int metrics_srv_allow_host(struct metrics_srv *s, const char *name, char *err, size_t errlen);
unsigned short metrics_srv_port(const struct metrics_srv *s);
/* Replace the snapshot served (takes ownership; NULL: serve none). */
void metrics_srv_publish(struct metrics_srv *s, struct metrics_snapshot *m);
/* On the loop only (metrics_srv_start_on): a /metrics request finding the
 * snapshot served older than METRICS_FRESH_MS calls build, which publishes
 * a new one before the answer. A daemon then reads its maps for /metrics
 * once per scrape, not once a second whether scraped or not. */
#define METRICS_FRESH_MS	1000
void metrics_srv_on_demand(struct metrics_srv *s, void (*build)(void *arg), void *arg);
void metrics_srv_stop(struct metrics_srv *s);
/* Has /api/status been asked for in the last METRICS_STATUS_IDLE_MS
 * (realtime ms)? The loop builds the status document only then. */
#define METRICS_STATUS_IDLE_MS	10000
bool metrics_srv_status_wanted(struct metrics_srv *s, uint64_t now_ms);

/* status_page.c: the page's static files (user/daemon/www/) */
struct status_file {
	const char *path, *type;
	const char *data, *end;		/* NUL at end */
};
const struct status_file *status_file_find(const char *url);

#define METRICS_DEFAULT_ADDR	"127.0.0.1:9469"

#endif
